"""`mlrbayes calibrate` end to end (JSON equals the API's, report files, exit codes, Ctrl-C) and
the calibration section of a validation report."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import draws_around, posterior_tree, run_cli

from mlrbayes import simulate
from mlrbayes.calibration import calibrate
from mlrbayes.cli import main
from mlrbayes.compare import compare
from mlrbayes.em import fit_em
from mlrbayes.report import write_report

ROW_KEYS = {"parameter", "interval", "level", "coverage", "mc_error", "bias", "se_over_sd"}


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    X, y, _ = simulate(120, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=2)
    path = tmp_path_factory.mktemp("data") / "data.csv"
    pd.DataFrame({"x": X[:, 0], "y": y}).to_csv(path, index=False)
    return path


_run = run_cli


BASE = ["--y", "y", "-k", "2", "--n-init", "3", "--seed", "4", "--replications", "6"]


def test_json_equals_the_api_and_the_report_is_written(csv, tmp_path, capsys):
    out_json, out_dir = tmp_path / "c.json", tmp_path / "rep"
    argv = ["calibrate", csv, *BASE, "--jobs", "1", "--json", out_json, "--out", out_dir]
    rc, out, err = _run(argv, capsys)
    assert rc == 0, err
    d = json.loads(out_json.read_text())
    assert {"rows", "recommended", "reason", "seed", "settings", "replications"} <= set(d)
    assert all(ROW_KEYS <= set(r) for r in d["rows"])
    assert d["seed"] == 4 and d["n"] == 120 and d["replications"]["requested"] == 6
    # the same study through the API: fit with the CLI's settings, calibrate with its seed
    df = pd.read_csv(csv)
    em = fit_em(df[["x"]], df["y"], 2, sigma="shared", n_init=3, random_state=4)
    res = calibrate(em, df[["x"]], df["y"], replications=6, random_state=4, progressbar=False)
    api = res.to_dict()
    assert d["rows"] == api["rows"] and d["recommended"] == api["recommended"]
    assert "recommended interval" in out and "coverage" in out
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["calibration.html", "calibration.json", "calibration.md", "calibration_files"]
    html = (out_dir / "calibration.html").read_text()
    md = (out_dir / "calibration.md").read_text()
    assert "Calibration of the intervals at this n" in html and 'id="calibration-table"' in html
    assert "data:image/png;base64," in html
    assert "| `intercept[0]` | `wald` |" in md and "calibration_files/coverage.png" in md
    assert (out_dir / "calibration_files" / "coverage.png").read_bytes()[:4] == b"\x89PNG"
    assert res.headline() in html.replace("&#39;", "'")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--replications", "1"], "--replications"),
        (["--level", "1.5"], "--level"),
        (["--intervals", "nope"], "--intervals nope"),
        (["--jobs", "0"], "--jobs 0"),
        (["--posterior", "-1"], "--posterior"),
        (["-k", "0"], "-k"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(csv, tmp_path, capsys, extra, message):
    out_json = tmp_path / "c.json"
    argv = ["calibrate", csv, *BASE, *extra, "--json", out_json, "--out", tmp_path / "rep"]
    rc, _, err = _run(argv, capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlrbayes calibrate: error:") and message in err
    assert not out_json.exists() and not (tmp_path / "rep").exists()


def test_out_that_is_a_file_is_refused_before_any_work(csv, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, err = _run(["calibrate", csv, *BASE, "--out", blocker], capsys)
    assert rc == 2 and "not a directory" in err


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_during_the_replications_exits_130_and_writes_nothing(csv, tmp_path, jobs):
    out_json = tmp_path / "c.json"
    argv = [sys.executable, "-c", "import sys; from mlrbayes.cli import main; sys.exit(main())",
            "calibrate", str(csv), "--y", "y", "-k", "2", "--seed", "1", "--replications",
            "5000", "--jobs", jobs, "--json", str(out_json)]  # fmt: skip
    errfile = tmp_path / "err.txt"
    with open(errfile, "w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ))
    deadline = time.monotonic() + 120
    while "calibration:" not in errfile.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3.0)  # well inside the replications
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(timeout=60)
    text = errfile.read_text()
    assert rc == 130, text
    assert "interrupted" in text.lower() or "SIGINT" in text, text
    assert "nothing written" in text
    assert not out_json.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_validation_report_carries_the_calibration_section(tmp_path):
    """write_report(..., calibration=) adds the section, its figure and the JSON entry (a
    hand-built posterior stands in for sampling; `validate --calibrate` passes the same)."""
    rng = np.random.default_rng(5)
    X, y, _ = simulate(150, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=4)
    em = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0)
    cmp = compare(em, posterior_tree(X, y, *draws_around(em, rng), features=["x0"]))
    res = calibrate(em, X, y, replications=5, random_state=2, progressbar=False)
    paths = write_report(cmp, tmp_path, calibration=res)
    html = paths["html"].read_text()
    md = paths["md"].read_text()
    d = json.loads(paths["json"].read_text())
    assert d["calibration"]["rows"] == res.to_dict()["rows"]
    assert "Calibration of the intervals at this n" in html and "fig-calibration" in html
    assert "## Calibration of the intervals at this n" in md
    assert (tmp_path / "report_files" / "calibration.png").is_file()
    n_rows = len(res.table)
    assert html.split('id="calibration-table"')[1].split("</table>")[0].count("<tr") == n_rows + 1
    # without a calibration there is no section
    plain = write_report(cmp, tmp_path / "plain")
    assert "Calibration of the intervals" not in plain["html"].read_text()
    assert "calibration" not in json.loads(plain["json"].read_text())


def test_validate_declares_calibrate(capsys):
    with pytest.raises(SystemExit):
        main(["validate", "--help"])
    out = capsys.readouterr().out
    assert "--calibrate [R]" in out and "--jobs" in out


@pytest.mark.slow
def test_validate_with_calibrate_adds_the_section(csv, tmp_path, capsys):
    out = tmp_path / "val"
    argv = ["validate", csv, "--y", "y", "-k", "2", "--n-init", "3", "--draws", "200", "--tune",
            "200", "--chains", "2", "--seed", "1", "--calibrate", "4", "--jobs", "1",
            "--out", out]  # fmt: skip
    rc, _, err = _run(argv, capsys)
    assert rc == 0, err
    d = json.loads((out / "report.json").read_text())
    cal = d["calibration"]
    assert cal["replications"]["requested"] == 4 and cal["seed"] == 1
    assert cal["level"] == pytest.approx(0.94)  # the report's --hdi-prob
    assert all(ROW_KEYS <= set(r) for r in cal["rows"])
    html = (out / "report.html").read_text()
    assert "Calibration of the intervals at this n" in html
    assert (out / "report_files" / "calibration.png").is_file()
