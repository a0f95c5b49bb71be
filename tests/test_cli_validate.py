"""`mlrbayes simulate`, `validate` and `demo`: outputs, exit codes, one-line errors, atomicity."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import draws_around as _draws_around
from helpers import posterior_tree as _tree

from mlrbayes import cli
from mlrbayes.simulate import simulate

REPORT = ("report.html", "report.md", "report.json")


def _run(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ----------------------------------------------------------------------------- simulate
def test_simulate_writes_csv_and_truth(tmp_path, capsys):
    path = tmp_path / "d.csv"
    rc, out, _ = _run(capsys, "simulate", "--out", str(path), "-n", "150", "--seed", "7")
    assert rc == 0 and "wrote" in out
    df = pd.read_csv(path)
    truth = json.loads((tmp_path / "d.truth.json").read_text())
    assert list(df.columns) == ["x", "y"] and len(df) == 150
    p = cli.SIMULATE_PRESETS["separated"]
    X, y, z = simulate(150, p["weights"], p["intercept"], p["coef"], p["sigma"], random_state=7)
    np.testing.assert_allclose(df["x"], X[:, 0], rtol=1e-15)
    np.testing.assert_allclose(df["y"], y, rtol=1e-15)
    assert truth["labels"] == z.tolist()
    assert truth["intercept"] == p["intercept"] and truth["sigma"] == p["sigma"]


def test_simulate_custom_and_presets(tmp_path, capsys):
    path = tmp_path / "two.csv"
    rc, _, _ = _run(
        capsys, "simulate", "--out", str(path), "--weights", "0.5", "0.5",
        "--intercept", "0", "3", "--coef", "1,2;-1,0", "--sigma", "0.3,0.4",
    )  # fmt: skip
    assert rc == 0
    assert list(pd.read_csv(path).columns) == ["x1", "x2", "y"]
    truth = json.loads((tmp_path / "two.truth.json").read_text())
    assert truth["coef"] == [[1.0, 2.0], [-1.0, 0.0]] and truth["sigma"] == [0.3, 0.4]
    rc, _, _ = _run(capsys, "simulate", "--out", str(tmp_path / "c.csv"), "--preset", "four-clouds")
    assert rc == 0
    assert set(pd.read_csv(tmp_path / "c.csv")["x"]) == {-1.0, 1.0}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--weights", "0.5", "0.6"], "sum to 1; got [0.5, 0.6]"),
        (["--coef", "1"], "--coef has 1 values but there are 2 weights"),
        (["--sigma", "-1"], "sigma must be positive"),
        (["-n", "zero"], "-n 'zero' is not an integer"),
        (["--intercept", "a", "b"], "--intercept 'a' is not a number"),
    ],
)
def test_simulate_errors_are_one_line(tmp_path, capsys, argv, message):
    path = tmp_path / "bad.csv"
    rc, out, err = _run(capsys, "simulate", "--out", str(path), *argv)
    assert rc == 2 and out == ""
    assert err.startswith("mlrbayes simulate: error: ") and err.count("\n") == 1
    assert message in err
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- validate
def test_help_shows_examples(capsys):
    for command in ("validate", "demo", "simulate"):
        with pytest.raises(SystemExit) as exc:
            cli.main([command, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "examples:" in out and f"mlrbayes {command} " in out


@pytest.fixture
def data_csv(tmp_path):
    X, y, _ = simulate(150, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=1)
    path = tmp_path / "data.csv"
    pd.DataFrame({"x": X[:, 0], "y": y, "noise": np.arange(150)}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--y", "nope", "-k", "2", "--sigma", "shared"], "--y 'nope' is not a column"),
        (["--y", "y", "--x", "x", "-k", "2", "--sigma", "wide"], "--sigma 'wide' is not a"),
        (["--y", "y", "--x", "x", "-k", "0", "--sigma", "shared"], "-k must be >= 1"),
        (["--y", "y", "--x", "x", "-k", "2", "--sigma", "-2"], "sigma must be a positive"),
        (["--y", "y", "--x", "x", "-k", "2", "--sigma", "shared", "--draws", "0"], "--draws"),
        (["--y", "y", "-k", "2", "--sigma", "shared", "--sampler", "nutpie"], "--sampler nutpie"),
        (["--y", "y", "-k", "2", "--sigma", "shared", "--seed", "-1"], "--seed must be >= 0"),
    ],
)
def test_validate_errors_are_one_line(data_csv, tmp_path, capsys, argv, message):
    out_dir = tmp_path / "out"
    rc, out, err = _run(capsys, "validate", str(data_csv), *argv, "--out", str(out_dir))
    assert rc == 2 and out == ""
    assert err.startswith("mlrbayes validate: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_validate_missing_file(tmp_path, capsys):
    rc, _, err = _run(
        capsys, "validate", str(tmp_path / "none.csv"), "--y", "y", "-k", "2",
        "--sigma", "shared", "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert rc == 2 and "does not exist" in err and err.count("\n") == 1


def _fake_sampler(monkeypatch):
    """Replace PyMC sampling by draws around the EM estimate (fast, deterministic)."""
    from mlrbayes import bayes

    def fake(X, y, n_components, *, sigma, init, random_state, **kwargs):
        from mlrbayes.em import EMResult

        em = init[0]
        assert isinstance(em, EMResult)
        rng = np.random.default_rng(random_state)
        w, b, c, s = _draws_around(em, rng)
        return _tree(np.asarray(X), np.asarray(y), w, b, c, s, features=list(em.feature_names))

    monkeypatch.setattr(bayes, "sample_posterior", fake)


def test_interrupt_in_report_keeps_em_and_posterior(data_csv, tmp_path, capsys, monkeypatch):
    from mlrbayes.report import render

    _fake_sampler(monkeypatch)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "render_markdown", interrupted)
    out_dir = tmp_path / "out"
    rc, _, err = _run(
        capsys, "validate", str(data_csv), "--y", "y", "--x", "x", "-k", "2",
        "--sigma", "shared", "--out", str(out_dir), "--quiet",
    )  # fmt: skip
    assert rc == 130 and "interrupted" in err
    assert sorted(p.name for p in out_dir.iterdir()) == ["em.json", "posterior.nc"]
    from mlrbayes.bayes import load_posterior
    from mlrbayes.serialize import em_from_dict

    em = em_from_dict(json.loads((out_dir / "em.json").read_text()))
    assert em.n_components == 2 and em.feature_names == ["x"]
    post = load_posterior(out_dir / "posterior.nc")["posterior"]
    assert post["weights"].shape[:2] == (4, 300)


def test_failure_in_report_keeps_em_and_posterior(data_csv, tmp_path, capsys, monkeypatch):
    from mlrbayes.report import render

    _fake_sampler(monkeypatch)

    def broken(*args, **kwargs):
        raise ValueError("figure could not be drawn")

    monkeypatch.setattr(render, "_png", broken)
    out_dir = tmp_path / "out"
    rc, _, err = _run(
        capsys, "validate", str(data_csv), "--y", "y", "--x", "x", "-k", "2",
        "--sigma", "shared", "--out", str(out_dir), "--quiet",
    )  # fmt: skip
    assert rc == 2 and err.strip() == "mlrbayes validate: error: figure could not be drawn"
    assert sorted(p.name for p in out_dir.iterdir()) == ["em.json", "posterior.nc"]


def test_validate_with_fake_sampler_writes_everything(data_csv, tmp_path, capsys, monkeypatch):
    _fake_sampler(monkeypatch)
    out_dir = tmp_path / "out"
    rc, out, err = _run(
        capsys, "validate", str(data_csv), "--y", "y", "--x", "x", "-k", "2",
        "--sigma", "shared", "--out", str(out_dir), "--seed", "4",
    )  # fmt: skip
    assert rc == 0, err
    names = {p.name for p in out_dir.iterdir()}
    assert names == {*REPORT, "em.json", "posterior.nc", "report_files"}
    d = json.loads((out_dir / "report.json").read_text())
    assert out.startswith(f"verdict: {d['verdict']}\n")
    assert f"report: {out_dir / 'report.html'}" in out
    assert "EM with 10 starts" in err and "wrote" in err


def test_em_json_follows_a_repaired_em(data_csv, tmp_path, capsys, monkeypatch):
    """When validate's EM repair fires (MCMC found a better optimum), em.json on disk is the
    repaired fit, not the one written before sampling."""
    import dataclasses

    from mlrbayes import workflow

    _fake_sampler(monkeypatch)
    real = workflow.validate

    def repaired(*args, **kwargs):
        cmp = real(*args, **kwargs)
        em2 = dataclasses.replace(cmp.em, loglik=cmp.em.loglik + 5.0)
        settings = {**cmp.settings, "em_repaired": "MCMC found a better optimum (test)"}
        return dataclasses.replace(cmp, em=em2, settings=settings)

    monkeypatch.setattr(workflow, "validate", repaired)
    out_dir = tmp_path / "out"
    rc, _out, err = _run(
        capsys, "validate", str(data_csv), "--y", "y", "--x", "x", "-k", "2",
        "--out", str(out_dir), "--seed", "4",
    )  # fmt: skip
    assert rc == 0, err
    first = float(err.split("EM: log-likelihood ")[1].split(",")[0])
    d = json.loads((out_dir / "em.json").read_text())
    assert d["loglik"] == pytest.approx(first + 5.0, abs=1e-3)
    assert f"rewrote {out_dir / 'em.json'}: MCMC found a better optimum (test)" in err


# ----------------------------------------------------------------------------- sampling
@pytest.mark.slow
def test_validate_end_to_end(data_csv, tmp_path, capsys):
    out_dir = tmp_path / "out"
    rc, out, err = _run(
        capsys, "validate", str(data_csv), "--y", "y", "--x", "x", "-k", "2",
        "--sigma", "shared", "--draws", "500", "--tune", "500", "--seed", "1",
        "--out", str(out_dir),
    )  # fmt: skip
    # 500 draws per chain: with 200 the R-hat <= 1.01 rule sat at its edge (1.01 for one
    # intercept), where a change of 1e-6 in the EM start decides the verdict.
    assert rc == 0, err
    d = json.loads((out_dir / "report.json").read_text())
    assert d["verdict"] == "agree", d["reasons"]
    assert out.splitlines()[0] == "verdict: agree"
    names = [r["name"] for r in d["parameters"]]
    assert names == [
        "weights[0]", "weights[1]", "intercept[0]", "intercept[1]",
        "coef[0,x]", "coef[1,x]", "sigma",
    ]  # fmt: skip
    for r in d["parameters"]:
        assert set(r) >= {"em", "em_se", "post_mean", "post_sd", "hdi_low", "hdi_high", "z"}
        assert r["hdi_low"] <= r["post_mean"] <= r["hdi_high"]
    assert d["sampler"]["chains"] == 4 and d["sampler"]["draws"] == 500
    from mlrbayes.bayes import load_posterior

    post = load_posterior(out_dir / "posterior.nc")["posterior"]
    assert post["coef"].shape == (4, 500, 2, 1)


@pytest.mark.slow
def test_demo_runs_on_the_bundled_data(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    rc, out, err = _run(
        capsys, "demo", "--out", str(out_dir), "--draws", "200", "--tune", "200", "--quiet"
    )
    assert rc == 0, err
    assert f"report: {out_dir / 'report.html'}" in out
    d = json.loads((out_dir / "report.json").read_text())
    assert d["settings"]["n"] == 150 and d["settings"]["features"] == ["stretchratio"]
    assert d["settings"]["target"] == "tuned"
    html = (out_dir / "report.html").read_text()
    assert "tone perception" in html and "σ handling" in html
    # the classic fit: one line near tuned = 2 (flat), one near tuned = stretchratio
    em = d["em"]
    slopes = sorted(np.ravel(em["coef"]))
    assert slopes[0] == pytest.approx(0.0, abs=0.1) and slopes[1] == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_validate_files_respect_the_umask(data_csv, tmp_path, capsys, monkeypatch, mask, mode):
    """em.json, posterior.nc and the report files get the mode an ordinary write gives."""
    import os
    import stat

    _fake_sampler(monkeypatch)
    out_dir = tmp_path / "out"
    old = os.umask(mask)
    try:
        rc, _, err = _run(
            capsys, "validate", str(data_csv), "--y", "y", "--x", "x", "-k", "2",
            "--sigma", "shared", "--out", str(out_dir), "--quiet",
        )  # fmt: skip
    finally:
        os.umask(old)
    assert rc == 0, err
    files = [p for p in out_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {*REPORT, "em.json", "posterior.nc"}
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == mode, p
    assert not [p for p in out_dir.rglob(".*")]


@pytest.mark.slow
def test_validate_at_n_1e5_does_not_crash(tmp_path, capsys):
    """Issue 9: at n = 10^5 a dispersed chain hit 'division by zero' in the fused likelihood
    kernel (these exact commands crashed before the kernel was guarded; ~15 s now)."""
    data = tmp_path / "big.csv"
    rc, _, _ = _run(capsys, "simulate", "--preset", "separated", "-n", "100000", "--seed", "1",
                    "--out", str(data))  # fmt: skip
    assert rc == 0
    out_dir = tmp_path / "out"
    rc, out, err = _run(
        capsys, "validate", str(data), "--y", "y", "-k", "2", "--sigma", "shared", "--seed", "1",
        "--draws", "30", "--tune", "60", "--chains", "4", "--out", str(out_dir), "--quiet",
    )  # fmt: skip
    assert rc == 0, err
    assert "division by zero" not in err and "Traceback" not in err
    assert (out_dir / "report.html").exists() and out.startswith("verdict: ")
