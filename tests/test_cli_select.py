"""`mlrbayes select --bootstrap B`: the bootstrap LRT in the table and the JSON, equal to
select_components with the same seed; bad options are one line and exit 2."""

import json

import numpy as np
import pandas as pd
import pytest

from mlrbayes import simulate
from mlrbayes.cli import main
from mlrbayes.selection import ICL_NOTE, select_components


def _select(capsys, csv, *argv):
    """``mlrbayes select CSV --y y ARGV``: (exit code, stdout, stderr)."""
    rc = main(["select", str(csv), "--y", "y", *map(str, argv)])
    return (rc, *capsys.readouterr())


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    """Two lines, n = 100, columns x and y."""
    X, y, _ = simulate(100, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=1)
    frame = pd.DataFrame(np.column_stack([X, y]), columns=["x", "y"])
    path = tmp_path_factory.mktemp("select") / "two_lines.csv"
    frame.to_csv(path, index=False)
    return path


def test_bootstrap_table_and_json_match_select_components(csv, tmp_path, capsys):
    out_json = tmp_path / "sel.json"
    argv = ["-k", "1", "2", "3", "--n-init", "2", "--bootstrap", "4", "--jobs", "1", "--seed", "3"]
    rc, out, err = _select(capsys, csv, *argv, "--json", out_json)
    assert rc == 0, err
    df = pd.read_csv(csv)
    table, tests = select_components(df[["x"]], df["y"], [1, 2, 3], n_init=2, random_state=3,
                                     bootstrap_lrt=4, return_lrt=True)  # fmt: skip
    d = json.loads(out_json.read_text())
    assert d["bootstrap"] == 4 and d["seed"] == 3 and d["icl_note"] == ICL_NOTE
    assert [t["k_null"] for t in d["lrt"]] == [1, 2]
    for t in d["lrt"]:
        ref = tests[t["k_null"]]
        assert t["statistic"] == ref.statistic and t["pvalue"] == ref.pvalue
        assert t["null_statistics"] == ref.null_statistics.tolist()
        assert t["n_boot"] == 4 and t["reject"] == ref.reject
    assert [r["lrt_pvalue"] for r in d["rows"]] == [tests[1].pvalue, tests[2].pvalue, None]
    assert d["best"]["lrt"] == int(table.loc[table["best_lrt"], "k"].iloc[0])
    lines = out.splitlines()
    assert lines[0].split()[6:8] == ["LR(K,K+1)", "p"]
    row1 = lines[1].split()
    assert (
        row1[6] == f"{tests[1].statistic:.3f}" and row1[7].rstrip("*") == f"{tests[1].pvalue:.3f}"
    )
    assert lines[3].split()[6:8] == ["-", "-"]  # K=3: no K=4 to test against
    assert f"bootstrap LRT K=1 vs 2: LR = {tests[1].statistic:.4g}" in out
    assert "the smallest p-value is 0.2, so no test can reject at 0.05" in out
    assert "note: ICL = BIC + 2 x (entropy" in out and "Biernacki" in out


def test_without_bootstrap_the_table_is_unchanged_but_notes_icl(csv, capsys):
    rc, out, err = _select(capsys, csv, "-k", "1", "2", "--n-init", "2",
                        "--seed", "1")  # fmt: skip
    assert rc == 0, err
    assert "LR(K,K+1)" not in out and "bootstrap LRT K=" not in out
    assert out.splitlines()[-1] == "note: " + ICL_NOTE


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-k", "1", "2", "--bootstrap", "-1"], "--bootstrap must be >= 0; got -1"),
        (["-k", "1", "2", "--bootstrap", "x"], "--bootstrap"),
        (["-k", "1", "2", "--bootstrap", "9", "--jobs", "0"], "--jobs must be a positive"),
        (["-k", "1", "3", "--bootstrap", "9"], "no consecutive pair"),
    ],
)
def test_bad_bootstrap_options(csv, capsys, argv, message, tmp_path):
    out_json = tmp_path / "x.json"
    rc, out, err = _select(capsys, csv, *argv, "--json", out_json)
    assert rc == 2 and out == "" and err.count("\n") == 1 and message in err, err
    assert not out_json.exists()


def test_jobs_two_gives_the_same_json(csv, tmp_path, capsys):
    paths = []
    for jobs in ("1", "2"):
        path = tmp_path / f"j{jobs}.json"
        argv = ["-k", "1", "2", "--n-init", "2", "--bootstrap", "3", "--jobs", jobs, "--seed", "5"]
        rc, _, err = _select(capsys, csv, *argv, "--json", path)
        assert rc == 0, err
        paths.append(json.loads(path.read_text()))
    for d in paths:
        assert d["lrt"][0].pop("seconds") > 0  # wall time: the one field that may differ
    assert paths[0]["lrt"] == paths[1]["lrt"]
    assert np.isfinite(paths[0]["lrt"][0]["statistic"])
