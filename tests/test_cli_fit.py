"""`mlrbayes fit` end to end: JSON equals fit_em's, exit codes, no output file on error."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_cli

from mlrbayes import simulate
from mlrbayes.cli import main
from mlrbayes.em import fit_em
from mlrbayes.serialize import em_from_dict

REQUIRED = [
    "weights",
    "intercept",
    "coef",
    "sigma",
    "loglik",
    "n_iter",
    "converged",
    "aic",
    "bic",
    "icl",
    "standard_errors",
    "census",
    "columns",
]


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    X, y, _ = simulate(200, [0.4, 0.6], [0.0, 5.0], [[1.0, 0.5], [-1.0, 0.2]], 0.5, random_state=0)
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"size": X[:, 0], "age": X[:, 1], "noise": rng.normal(size=200), "y": y})
    path = tmp_path_factory.mktemp("data") / "data.csv"
    df.to_csv(path, index=False)
    return path, df


_run = run_cli


def test_fit_writes_json_equal_to_fit_em(csv, tmp_path, capsys):
    path, df = csv
    out_json = tmp_path / "sub" / "em.json"
    argv = ["fit", path, "--y", "y", "--x", "size", "age", "-k", "2", "--sigma", "shared"]
    rc, out, err = _run([*argv, "--n-init", "5", "--seed", "3", "--json", out_json], capsys)
    assert rc == 0, err
    assert err == ""
    d = json.loads(out_json.read_text())
    for key in REQUIRED:
        assert key in d, key
    ref = fit_em(df[["size", "age"]], df["y"], 2, sigma="shared", n_init=5, random_state=3)
    assert d["weights"] == ref.weights.tolist()
    assert d["intercept"] == ref.intercept.tolist()
    assert d["coef"] == ref.coef.tolist()
    assert d["sigma"] == ref.sigma
    assert d["loglik"] == ref.loglik and d["n_iter"] == ref.n_iter
    assert d["converged"] is True
    assert (d["aic"], d["bic"], d["icl"]) == (ref.aic, ref.bic, ref.icl)
    assert d["standard_errors"]["coef"] == ref.standard_errors["coef"].tolist()
    assert d["standard_errors"]["sigma"] == ref.standard_errors["sigma"]
    assert d["columns"] == {"y": "y", "x": ["size", "age"]}
    assert [(c["loglik"], c["count"], c["degenerate"]) for c in d["census"]] == [
        (o.loglik, o.count, o.degenerate) for o in ref.optima
    ]
    assert sum(c["count"] for c in d["census"]) == 5
    # the JSON reads back into a full result
    back = em_from_dict(d)
    np.testing.assert_array_equal(back.responsibilities, ref.responsibilities)
    # the human summary: EMResult.summary() of the same fit, then where the JSON went
    assert out == f"{ref.summary()}\nwrote {out_json}\n"
    assert f"log-likelihood {ref.loglik:.4f}" in out
    assert f"converged in {ref.n_iter} iterations" in out and "census: " in out
    assert re.search(rf"intercept +{re.escape(f'{ref.intercept[0]:.4g}')}", out)
    assert not list(out_json.parent.glob(".em.json.*"))  # no temporary left behind


def test_all_other_columns_are_predictors_and_known_sigma(csv, tmp_path, capsys):
    path, df = csv
    out_json = tmp_path / "em.json"
    rc, out, err = _run(
        ["fit", path, "--y", "y", "-k", "2", "--sigma", "0.5", "--seed", "0", "--json", out_json],
        capsys,
    )
    assert rc == 0, err
    d = json.loads(out_json.read_text())
    assert d["columns"]["x"] == ["size", "age", "noise"]
    ref = fit_em(df[["size", "age", "noise"]], df["y"], 2, sigma=0.5, random_state=0)
    assert d["loglik"] == ref.loglik and d["coef"] == ref.coef.tolist()
    assert d["sigma"] == 0.5 and d["sigma_setting"] == "known"
    assert "sigma" not in d["standard_errors"]
    assert np.shape(d["coef"]) == (2, 3)
    assert "sigma (known): 0.5" in out


def test_without_json_prints_only(csv, tmp_path, capsys, monkeypatch):
    path, _ = csv
    monkeypatch.chdir(tmp_path)
    rc, out, _ = _run(["fit", path, "--y", "y", "-k", "1", "--seed", "0"], capsys)
    assert rc == 0 and out.startswith("Mixture of 1 linear regressions, fitted by EM")
    assert list(tmp_path.iterdir()) == []


def test_warnings_are_single_lines(csv, tmp_path, capsys):
    path, _ = csv
    out_json = tmp_path / "em.json"
    rc, _, err = _run(
        [
            "fit",
            path,
            "--y",
            "y",
            "-k",
            "2",
            "--max-iter",
            "2",
            "--n-init",
            "2",
            "--seed",
            "0",
            "--json",
            out_json,
        ],
        capsys,
    )
    assert rc == 0
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("mlrbayes fit: warning: ") for line in lines)
    assert any("ConvergenceWarning: EM did not converge in max_iter=2" in x for x in lines)
    assert "Traceback" not in err
    assert json.loads(out_json.read_text())["converged"] is False


@pytest.fixture
def bad_csv(tmp_path):
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "y": [1.0, 2.0, np.nan, 4, 5, 6]})
    path = tmp_path / "nan.csv"
    df.to_csv(path, index=False)
    text = tmp_path / "text.csv"
    text.write_text("x,y\n1,a\n2,b\n3,c\n")
    return path, text


@pytest.mark.parametrize(
    ("case", "args", "match"),
    [
        ("nan", ["--y", "y", "-k", "1"], r"y contains a non-finite value \(nan\) at row 2"),
        ("text", ["--y", "y", "-k", "1"], "'y'.*numeric response"),
        ("good", ["--y", "price", "-k", "2"], "--y 'price' is not a column"),
        ("good", ["--y", "y", "--x", "size", "height", "-k", "2"], r"--x \['height'\] not found"),
        ("good", ["--y", "y", "-k", "0"], "-k must be >= 1; got 0"),
        ("good", ["--y", "y", "-k", "two"], "-k 'two' is not an integer"),
        ("good", ["--y", "y", "-k", "500"], "n_components=500 is more than the data support"),
        ("good", ["--y", "y", "-k", "2", "--sigma", "-1"], "positive finite number; got -1.0"),
        ("good", ["--y", "y", "-k", "2", "--sigma", "0"], "got 0.0"),
        ("good", ["--y", "y", "-k", "2", "--sigma", "foo"], "--sigma 'foo' is not a number"),
        ("good", ["--y", "y", "-k", "2", "--sigma", "nan"], "got nan"),
        ("good", ["--y", "y", "-k", "2", "--n-init", "0"], "--n-init must be >= 1; got 0"),
        ("good", ["--y", "y", "-k", "2", "--init", "kmeans"], "init='kmeans' is not one of"),
        ("missing", ["--y", "y", "-k", "2"], "does not exist"),
    ],
)
def test_errors_exit_2_with_one_line_and_no_file(csv, bad_csv, tmp_path, capsys, case, args, match):
    path = {
        "good": csv[0],
        "nan": bad_csv[0],
        "text": bad_csv[1],
        "missing": tmp_path / "nope.csv",
    }[case]
    out_json = tmp_path / "out" / "em.json"
    rc, out, err = _run(["fit", path, *args, "--seed", "0", "--json", out_json], capsys)
    assert rc == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlrbayes fit: error: ")
    assert re.search(match, lines[0]), lines[0]
    assert not out_json.exists()
    assert not out_json.parent.exists() or not list(out_json.parent.iterdir())


def test_json_path_that_is_a_directory(csv, tmp_path, capsys):
    rc, out, err = _run(["fit", csv[0], "--y", "y", "-k", "1", "--json", tmp_path], capsys)
    assert rc == 2 and out == ""
    assert err.startswith("mlrbayes fit: error: --json") and "is a directory" in err
    assert list(tmp_path.iterdir()) == []


def test_help_shows_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--json em.json" in out
    assert "--sigma SIGMA" in out and "(default: shared)" in " ".join(out.split())
    assert "--seed S" in out and "(default: drawn at random" in out


def test_console_script_subprocess(csv, tmp_path):
    path, df = csv
    exe = Path(sys.executable).parent / "mlrbayes"
    if not exe.exists():
        exe = shutil.which("mlrbayes")
    assert exe is not None, "the mlrbayes console script is not installed (pip install -e .)"
    out_json = tmp_path / "em.json"
    argv = [str(exe), "fit", str(path), "--y", "y", "--x", "size", "age", "-k", "2"]
    proc = subprocess.run(
        [*argv, "--sigma", "component", "--n-init", "3", "--seed", "7", "--json", str(out_json)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    d = json.loads(out_json.read_text())
    ref = fit_em(df[["size", "age"]], df["y"], 2, sigma="component", n_init=3, random_state=7)
    assert d["loglik"] == ref.loglik
    assert d["sigma"] == ref.sigma.tolist()
    assert d["standard_errors"]["sigma"] == ref.standard_errors["sigma"].tolist()
    bad = subprocess.run(
        [*argv, "--sigma", "-1", "--json", str(tmp_path / "bad.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad.json").exists()
