"""End-to-end tests of ``mlrbayes sample``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlrbayes import bayes
from mlrbayes.cli import main
from mlrbayes.simulate import simulate


@pytest.fixture
def data_csv(tmp_path):
    X, y, _ = simulate(120, [0.5, 0.5], [-2.0, 3.0], [[1.0], [-1.0]], 0.5, random_state=4)
    path = tmp_path / "data.csv"
    pd.DataFrame({"dose": X[:, 0], "resp": y}).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_sample_writes_posterior(data_csv, tmp_path, capsys):
    out = tmp_path / "res" / "post.nc"
    argv = [
        "sample", str(data_csv), "--y", "resp", "-k", "2", "--sigma", "shared",
        "--order-by", "intercept", "--draws", "150", "--tune", "150", "--chains", "2",
        "--seed", "7", "--sampler", "pymc", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert f"wrote {out}" in captured.out
    assert "divergences 0" in captured.out
    assert "coef[0,dose]" in captured.out
    idata = bayes.load_posterior(out)
    post = idata["posterior"]
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 150
    assert list(post["feature"].values) == ["dose"]
    assert post.attrs["random_state"] == 7 and post.attrs["sampler"] == "pymc"
    np.testing.assert_allclose(
        np.sort(post["intercept"].mean(("chain", "draw")).values), [-2.0, 3.0], atol=0.3
    )
    # the summary's numbers are the stored posterior's
    mean_b0 = float(post["intercept"].values[..., 0].mean())
    assert f"intercept[0] {mean_b0:.6g}" in captured.out


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["-k", "0"], "-k must be >= 1"),
        (["-k", "two"], "not an integer"),
        (["-k", "2", "--y", "nope"], "--y 'nope' is not a column"),
        (["-k", "2", "--sigma", "-1"], "sigma must be a positive finite"),
        (["-k", "2", "--sigma", "wide"], "--sigma"),
        (["-k", "2", "--draws", "0"], "--draws must be >= 1"),
        (["-k", "2", "--em", "missing.json"], "does not exist"),
        (["-k", "200"], "n_components=200"),
    ],
)
def test_sample_bad_input_exit_2(data_csv, tmp_path, capsys, extra, match):
    out = tmp_path / "post.nc"
    argv = ["sample", str(data_csv), "--y", "resp", "--out", str(out), "--quiet"]
    if "--y" in extra:
        argv = ["sample", str(data_csv), "--out", str(out), "--quiet"]
    assert main(argv + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlrbayes sample: error:")
    assert match in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.glob(".post.nc*")) == []


def test_sample_missing_file(tmp_path, capsys):
    out = tmp_path / "post.nc"
    assert main(["sample", str(tmp_path / "no.csv"), "--y", "y", "-k", "2", "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()
