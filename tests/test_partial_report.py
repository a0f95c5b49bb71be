"""``validate --keep-partial``: an interrupted run keeps the partial draws and a report of them
that says they are partial; the verdict is never agree and the exit code stays 130/143."""

from __future__ import annotations

import json
import signal

import pytest
from test_interrupt import (  # the real-process helpers of the interruption suite
    Proc,
    _interrupt_line,
    _no_hidden,
    _validate_argv,
    _when_workers_run,
    data_csv,  # noqa: F401  (fixture)
)


@pytest.mark.slow
def test_validate_keep_partial_writes_a_partial_report(data_csv, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    argv = _validate_argv(data_csv, out, "--sampler", "pymc", "--keep-partial")
    argv[argv.index("--draws") + 1] = "1000000"
    proc = Proc(argv, tmp_path)
    _when_workers_run(proc, seconds=10.0)  # past tuning, into the draws
    proc.signal(signal.SIGTERM)
    assert proc.finish() == 143, proc.err
    line = _interrupt_line(proc, signal.SIGTERM, "validate")
    assert "posterior.nc (partial: " in line, proc.err
    assert "report.html (of partial draws)" in line
    names = sorted(p.name for p in out.iterdir())
    assert names[:3] == ["em.json", "posterior.nc", "report.html"]
    rep = json.loads((out / "report.json").read_text())
    assert rep["verdict"] != "agree"
    codes = [f["code"] for f in rep["diagnosis"]["findings"]]
    assert "partial" in codes
    assert any("partial" in r for r in rep["reasons"])
    assert "verdict: " in proc.out
    _no_hidden(tmp_path)
