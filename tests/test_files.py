"""What the command line reads and writes: file modes, strict JSON, path and table errors.

Every error here must be one line ``mlrbayes <command>: error: ...`` on stderr, exit code 2,
naming the user's path or column, and leave no output file (issue 9).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlrbayes import _io
from mlrbayes.cli import main
from mlrbayes.simulate import simulate


def _strict_loads(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def csv(tmp_path):
    X, y, _ = simulate(120, [0.5, 0.5], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=2)
    path = tmp_path / "data.csv"
    pd.DataFrame({"x": X[:, 0], "y": y}).to_csv(path, index=False)
    return path


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line_error(rc, err, command):
    assert rc == 2, err
    assert err.startswith(f"mlrbayes {command}: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def _files(d):
    return sorted(str(p.relative_to(d)) for p in Path(d).rglob("*"))


# ----------------------------------------------------------------------------- file modes
@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_respect_the_umask(csv, tmp_path, capsys, umask, mask, mode):
    umask(mask)
    out = tmp_path / "out"
    assert _run(capsys, "fit", csv, "--y", "y", "-k", "2", "--json", out / "em.json")[0] == 0
    assert _run(capsys, "simulate", "--out", out / "sim.csv", "-n", "50")[0] == 0
    for name in ("em.json", "sim.csv", "sim.truth.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == mode, name


def test_overwriting_keeps_the_existing_mode(csv, tmp_path, capsys, umask):
    umask(0o022)
    target = tmp_path / "em.json"
    target.write_text("{}")
    target.chmod(0o640)
    assert _run(capsys, "fit", csv, "--y", "y", "-k", "2", "--json", target)[0] == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _strict_loads(target.read_text())["n_components"] == 2


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.json"
    with pytest.raises(KeyboardInterrupt), _io.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- strict JSON
def test_write_json_atomic_is_strict_json(tmp_path):
    obj = {
        "a": float("nan"),
        "b": [1.0, float("inf"), -np.inf],
        "c": np.array([[1.0, np.nan]]),
        "d": np.float64(2.5),
        "e": np.int64(3),
        "f": {"g": (np.nan, "text")},
    }
    path = _io.write_json_atomic(tmp_path / "x.json", obj)
    got = _strict_loads(path.read_text())
    assert got == {
        "a": None,
        "b": [1.0, None, None],
        "c": [[1.0, None]],
        "d": 2.5,
        "e": 3,
        "f": {"g": [None, "text"]},
    }


def test_cli_json_outputs_are_strict(csv, tmp_path, capsys):
    assert _run(capsys, "fit", csv, "--y", "y", "-k", "2", "--json", tmp_path / "em.json")[0] == 0
    assert _run(capsys, "simulate", "--out", tmp_path / "s.csv", "-n", "40")[0] == 0
    for name in ("em.json", "s.truth.json"):
        _strict_loads((tmp_path / name).read_text())


# ----------------------------------------------------------------------------- output paths
def test_output_under_a_regular_file(csv, tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    cases = [
        ("fit", [csv, "--y", "y", "-k", "2", "--json", blocker / "em.json"]),
        ("validate", [csv, "--y", "y", "-k", "2", "--sigma", "shared", "--out", blocker / "d"]),
        ("simulate", ["--out", blocker / "x.csv"]),
        ("sample", [csv, "--y", "y", "-k", "2", "--out", blocker / "p.nc"]),
    ]
    for command, argv in cases:
        rc, _, err = _run(capsys, command, *argv)
        _one_line_error(rc, err, command)
        assert f"{str(blocker)!r} is a file, not a directory" in err
    assert _files(tmp_path) == ["afile", "data.csv"]


def test_simulate_out_naming_a_directory(tmp_path, capsys):
    (tmp_path / "d.csv").mkdir()
    rc, _, err = _run(capsys, "simulate", "--out", tmp_path / "d.csv")
    _one_line_error(rc, err, "simulate")
    assert "is a directory; pass a file name" in err


def test_simulate_too_many_rows_is_refused_before_trying(tmp_path, capsys):
    for n in ("100000000000000", "1e14"):
        rc, _, err = _run(capsys, "simulate", "--out", tmp_path / "big.csv", "-n", n)
        _one_line_error(rc, err, "simulate")
        assert "-n 100000000000000 needs about" in err and "pass a smaller -n" in err
    assert list(tmp_path.iterdir()) == []


def test_seed_out_of_range_fails_before_work(csv, tmp_path, capsys):
    for command in ("sample", "fit", "validate"):
        extra = {"sample": ["--out", tmp_path / "p.nc"], "fit": [], "validate": []}[command]
        if command == "validate":
            extra = ["--sigma", "shared", "--out", tmp_path / "v"]
        rc, _, err = _run(
            capsys, command, csv, "--y", "y", "-k", "2", "--seed", "18446744073709551616", *extra
        )
        _one_line_error(rc, err, command)
        assert "--seed must be <= 4294967295" in err
    assert _files(tmp_path) == ["data.csv"]


def test_directories_are_not_called_missing(csv, tmp_path, capsys):
    d = tmp_path / "adir"
    d.mkdir()
    rc, _, err = _run(capsys, "fit", d, "--y", "y", "-k", "2")
    _one_line_error(rc, err, "fit")
    assert "is a directory, not a file" in err and "does not exist" not in err


# ----------------------------------------------------------------------------- diagnose
def _posterior_file(path, chains=2, nan=False):
    """A small posterior file written by the package's own writer."""
    import xarray as xr

    from mlrbayes.bayes import save_posterior

    rng = np.random.default_rng(0)
    c, d, k = chains, 30, 2
    post = xr.Dataset(
        {
            "weights": (("chain", "draw", "component"), rng.dirichlet([20, 20], size=(c, d))),
            "intercept": (("chain", "draw", "component"), rng.normal([0, 4], 0.05, (c, d, k))),
            "coef": (
                ("chain", "draw", "component", "feature"),
                rng.normal([[1.5], [-1.5]], 0.05, (c, d, k, 1)),
            ),
            "sigma": (("chain", "draw"), rng.normal(0.4, 0.01, (c, d))),
        },
        coords={"feature": ["x"]},
        attrs={"sigma_setting": "shared", "fit_intercept": 1, "n_components": k},
    )
    if nan:
        post["intercept"].values[-1, 5, 0] = np.nan
    tree = xr.DataTree.from_dict({"posterior": post})
    return save_posterior(tree, path)


@pytest.fixture
def fake_posterior(csv, tmp_path):
    return _posterior_file(tmp_path / "post.nc")


def test_diagnose_nan_draws_and_one_chain(csv, tmp_path, capsys):
    path = _posterior_file(tmp_path / "nan.nc", nan=True)
    rc, _, err = _run(capsys, "diagnose", path, "--data", csv, "--y", "y")
    _one_line_error(rc, err, "diagnose")
    assert "1 non-finite (NaN/inf) values of 'intercept' (first in chain 1)" in err
    path = _posterior_file(tmp_path / "one.nc", chains=1)
    out = tmp_path / "one.json"
    rc, _, err = _run(capsys, "diagnose", path, "--data", csv, "--y", "y", "--json", out)
    assert rc == 0
    assert "Warning" not in err and "Traceback" not in err  # no Python warning text
    _strict_loads(out.read_text())  # NaN R-hat written as null


def test_diagnose_path_errors(csv, tmp_path, capsys, fake_posterior):
    adir = tmp_path / "adir"
    adir.mkdir()
    cases = [
        (["--json", "."], "--json '.' is a directory"),
        (["--em", adir], f"--em {str(adir)!r} is a directory, not a file"),
        (["--em", tmp_path / "none.json"], "does not exist"),
    ]
    for extra, message in cases:
        rc, _, err = _run(capsys, "diagnose", fake_posterior, "--data", csv, "--y", "y", *extra)
        _one_line_error(rc, err, "diagnose")
        assert message in err, err


@pytest.mark.parametrize("damage", ["truncate", "middle", "garbage", "empty"])
def test_diagnose_corrupted_posterior(csv, tmp_path, capsys, fake_posterior, damage):
    raw = fake_posterior.read_bytes()
    bad = tmp_path / "bad.nc"
    if damage == "truncate":
        bad.write_bytes(raw[: len(raw) // 3])
    elif damage == "middle":
        mid = len(raw) // 2
        bad.write_bytes(raw[:mid] + bytes(4096) + raw[mid + 4096 :])
    elif damage == "garbage":
        bad.write_bytes(b"not a netcdf file\n")
    else:
        bad.write_bytes(b"")
    out = tmp_path / "diag.json"
    rc, _, err = _run(capsys, "diagnose", bad, "--data", csv, "--y", "y", "--json", out)
    if rc == 0:  # damage in unused bytes can leave a readable file; then all is well
        assert out.exists()
        return
    _one_line_error(rc, err, "diagnose")
    assert str(bad) in err and not out.exists()


# ----------------------------------------------------------------------------- the data table
def _table_error(capsys, tmp_path, text, *argv, write=True):
    path = tmp_path / "t.csv"
    if write:
        path.write_text(text)
    rc, _, err = _run(capsys, "fit", path, "--y", "y", "-k", "1", *argv)
    _one_line_error(rc, err, "fit")
    return err


def test_pandas_index_column_is_not_a_silent_predictor(tmp_path, capsys):
    df = pd.DataFrame({"x": np.linspace(0, 1, 30), "y": np.sin(np.arange(30.0))})
    path = tmp_path / "t.csv"
    df.to_csv(path)  # index=True: a first column without a header
    rc, _, err = _run(capsys, "fit", path, "--y", "y", "-k", "1")
    _one_line_error(rc, err, "fit")
    assert "'Unnamed: 0'" in err and "--x" in err and "index=False" in err
    rc, out, err = _run(capsys, "fit", path, "--y", "y", "--x", "x", "-k", "1")
    assert rc == 0 and "fitted by EM: y ~ x\n" in out


def test_duplicated_header_and_repeated_x(tmp_path, capsys):
    rows = "\n".join(f"{i},{i * 2 % 7},{i % 5}" for i in range(30))
    err = _table_error(capsys, tmp_path, "x,x,y\n" + rows + "\n")
    assert "['x'] more than once" in err
    err = _table_error(capsys, tmp_path, "x,z,y\n" + rows + "\n", "--x", "x", "x")
    assert "--x names ['x'] more than once" in err


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (["1+2j", "3-1j"], "not numeric"),
        (["2024-01-01", "2024-02-03"], "not numeric (e.g. '2024-01-01' on line 2)"),
        (["True", "False"], "is boolean"),
        (["a", "b"], "not numeric (e.g. 'a' on line 2)"),
    ],
)
def test_non_numeric_predictors(tmp_path, capsys, column, message):
    lines = [f"{column[i % 2]},{i * 0.5}" for i in range(20)]
    err = _table_error(capsys, tmp_path, "x,y\n" + "\n".join(lines) + "\n")
    assert "predictor column 'x'" in err and message in err


@pytest.mark.parametrize(("sep", "name"), [(";", "';'"), ("\t", "tab")])
def test_other_delimiters_get_a_hint(tmp_path, capsys, sep, name):
    lines = [f"{i}{sep}{i * 0.5}" for i in range(20)]
    err = _table_error(capsys, tmp_path, f"x{sep}y\n" + "\n".join(lines) + "\n")
    assert f"looks {name}-separated" in err


def test_constant_predictor_is_named(tmp_path, capsys):
    lines = [f"{i},3,{i * 0.5 + (i % 3)}" for i in range(30)]
    path = tmp_path / "t.csv"
    path.write_text("x,c,y\n" + "\n".join(lines) + "\n")
    for command in ("fit", "sample"):
        extra = ["--out", tmp_path / "p.nc"] if command == "sample" else []
        rc, _, err = _run(capsys, command, path, "--y", "y", "-k", "2", *extra)
        _one_line_error(rc, err, command)
        assert "predictor column 'c'" in err and "is constant" in err
    rc, _, _ = _run(capsys, "fit", path, "--y", "y", "-k", "1", "--no-intercept")
    assert rc == 0


# ----------------------------------------------------------------------------- usage errors
@pytest.mark.parametrize(
    ("argv", "command", "message"),
    [
        (["fit"], "fit", "the following arguments are required"),
        (["fit", "d.csv", "--y", "y", "-k", "2", "--bogus"], "fit", "unrecognized arguments"),
        (["sample", "d.csv", "--y", "y", "-k", "2", "--out", "p.nc", "--sampler", "x"], "sample",
         "invalid choice"),
        (["nonsense"], None, "invalid choice"),
        ([], None, "the following arguments are required"),
    ],
)  # fmt: skip
def test_argparse_errors_are_one_line(capsys, argv, command, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    prog = "mlrbayes" + (f" {command}" if command else "")
    assert err.count("\n") == 1, err
    assert err.startswith(f"{prog}: error: ") and message in err
    assert err.rstrip().endswith(f"(see {prog} --help)")
