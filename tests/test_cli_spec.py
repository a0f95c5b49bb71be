"""The model-specification flags of fit / sample / validate: --formula, --concomitant, --group,
--fixed, --weights. Bad columns or values: one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from helpers import run_cli
from spec_helpers import extended_frame

import mlrbayes.em
from mlrbayes.cli import main
from mlrbayes.spec import Dataset


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    df = extended_frame(n_groups=50, size=3, seed=5).drop(columns="z")
    df["site"] = np.where(df["x"] > 0, "north", "south")
    path = tmp_path_factory.mktemp("spec") / "data.csv"
    df.to_csv(path, index=False)
    return path, df


_run = run_cli


@pytest.fixture
def captured(monkeypatch):
    """fit_em replaced by a recorder that fits the plain model (the CLI wiring is tested, not
    the extended EM)."""
    seen: dict = {}
    real = mlrbayes.em.fit_em

    def record(X, y, k, **kwargs):
        seen["X"], seen["y"], seen["kwargs"] = X, y, kwargs
        if isinstance(X, Dataset):
            X = dataclasses.replace(X, concomitant=None, concomitant_names=(), fixed=None,
                                    fixed_names=(), groups=None, group_labels=(),
                                    sample_weight=None)  # fmt: skip
        return real(X, y, k, **{**kwargs, "n_init": 1})

    monkeypatch.setattr(mlrbayes.em, "fit_em", record)
    return seen


def test_formula_fit_equals_the_columns_fit(csv, tmp_path, capsys):
    path, _ = csv
    common = ["-k", 2, "--n-init", 3, "--seed", 4]
    rc, _, err = _run(["fit", path, "--y", "y", "--x", "x", *common, "--json", tmp_path / "a.json"],
                      capsys)  # fmt: skip
    assert rc == 0, err
    rc, _, err = _run(["fit", path, "--formula", "y ~ x", *common, "--json", tmp_path / "b.json"],
                      capsys)  # fmt: skip
    assert rc == 0, err
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert b["model"] == {"formula": "y ~ x"} and "model" not in a
    for key in ("weights", "intercept", "coef", "sigma", "loglik"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-12, atol=1e-12)
    assert b["columns"] == {"y": "y", "x": ["x"]}


def test_formula_without_intercept_and_dummies(csv, tmp_path, capsys, captured):
    path, _ = csv
    out = tmp_path / "em.json"
    rc, _, err = _run(
        ["fit", path, "--formula", "y ~ x + site - 1", "-k", 2, "--seed", 1, "--json", out], capsys
    )
    assert rc == 0, err
    data = captured["X"]
    assert data.feature_names == ("x", "site=north", "site=south")
    assert captured["kwargs"]["fit_intercept"] is False
    d = json.loads(out.read_text())
    assert d["fit_intercept"] is False and d["columns"]["x"] == ["x", "site=north", "site=south"]


def test_spec_columns_reach_the_dataset_and_are_not_predictors(csv, tmp_path, capsys, captured):
    _, df = csv
    path = tmp_path / "numeric.csv"
    df.drop(columns="site").to_csv(path, index=False)
    argv = ["fit", path, "--y", "y", "-k", 2, "--seed", 1, "--concomitant", "w", "--group", "id",
            "--fixed", "u", "--weights", "v", "--json", tmp_path / "em.json"]  # fmt: skip
    rc, _, err = _run(argv, capsys)
    assert rc == 0, err
    data = captured["X"]
    assert isinstance(data, Dataset) and captured["y"] is None
    assert data.feature_names == ("x",)  # w, u, id, v are not predictors
    assert data.concomitant_names == ("(Intercept)", "w")
    np.testing.assert_array_equal(data.concomitant[:, 1], df["w"].to_numpy())
    assert data.fixed_names == ("u",)
    assert data.n_groups == 50
    np.testing.assert_array_equal(data.sample_weight, df["v"].to_numpy())
    payload = json.loads((tmp_path / "em.json").read_text())
    assert payload["model"] == {"concomitant": ["w"], "group": "id", "fixed": ["u"],
                                "weights": "v"}  # fmt: skip


def test_one_sided_formula_in_concomitant(csv, tmp_path, capsys, captured):
    path, df = csv
    rc, _, err = _run(["fit", path, "--formula", "y ~ x", "-k", 2, "--seed", 1,
                       "--concomitant", "~ w + I(w**2)", "--group", "id"], capsys)  # fmt: skip
    assert rc == 0, err
    data = captured["X"]
    assert data.concomitant_names == ("(Intercept)", "w", "I(w ** 2)")
    np.testing.assert_allclose(data.concomitant[:, 2], df["w"].to_numpy() ** 2)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--y", "y", "--concomitant", "nope"], "--concomitant ['nope'] not found in"),
        (["--y", "y", "--group", "nope"], "--group ['nope'] not found in"),
        (["--y", "y", "--fixed", "u", "nope"], "--fixed ['nope'] not found in"),
        (["--y", "y", "--weights", "nope"], "--weights ['nope'] not found in"),
        (["--formula", "y ~ nope"], "'y ~ nope' could not be used"),
        (["--formula", "y ~ x", "--y", "y"], "--formula names the response and the predictors"),
        (["-q"], "pass the response column with --y COL (or a model with --formula)"),
        (["--formula", "y ~ x", "--no-intercept"], "--no-intercept contradicts the formula"),
        (["--y", "y", "--x", "x", "--concomitant", "x", "--group", "id"], "varies within group"),
        (["--y", "y", "--x", "x", "--weights", "x"], "is not positive"),
        (["--y", "y", "--x", "x", "--group", "gap"], "column 'gap' has a missing value at row 3"),
        (["--formula", "y ~ x", "--weights", "site"], "sample_weight"),
    ],
)
@pytest.mark.parametrize("command", ["fit", "sample", "validate"])
def test_bad_columns_and_values_exit_2_with_one_line_and_no_output(
    csv, tmp_path, capsys, command, extra, message
):
    path, df = csv
    gap = tmp_path / "gap.csv"
    df.assign(gap=df["id"].where(df.index != 3)).to_csv(gap, index=False)
    source = gap if "gap" in extra else path
    out = {"fit": ["--json", tmp_path / "o.json"], "sample": ["--out", tmp_path / "o.nc"],
           "validate": ["--out", tmp_path / "dir"]}[command]  # fmt: skip
    rc, stdout, err = _run([command, source, "-k", 2, "--seed", 1, *extra, *out], capsys)
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith(f"mlrbayes {command}: error:"), err
    assert message in err
    assert stdout == ""
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "o.nc").exists()
    assert not (tmp_path / "dir" / "em.json").exists()


def test_help_lists_the_flags_on_fit_sample_validate(capsys):
    for command in ("fit", "sample", "validate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        for flag in ("--formula", "--concomitant", "--group", "--fixed", "--weights"):
            assert flag in text, (command, flag)


def test_extended_fit_end_to_end(csv, tmp_path, capsys):
    path, _ = csv
    out = tmp_path / "em.json"
    rc, _, err = _run(["fit", path, "--formula", "y ~ x", "-k", 2, "--seed", 2,
                          "--concomitant", "w", "--group", "id", "--fixed", "u",
                          "--weights", "v", "--json", out], capsys)  # fmt: skip
    assert rc == 0, err
    d = json.loads(out.read_text())
    assert d["concomitant_names"] == ["(Intercept)", "w"] and d["fixed_names"] == ["u"]
    assert d["n_groups"] == 50 and d["weighted"] is True
    assert np.allclose(np.sum(d["gating_coef"], axis=0), 0.0, atol=1e-8)  # centred
