"""One set of CLI defaults and list conventions; --version, --quiet, --verbose, the seed rule;
the options the advice refers to (--target-accept, --hdi-prob, --relabel-method, --order-by,
--init, --n-init, --tol) reach the library; `mlrbayes select`."""

import argparse
import json
import re

import numpy as np
import pandas as pd
import pytest
from helpers import draws_around, posterior_tree

from mlrbayes import __version__, bayes, simulate
from mlrbayes.cli import build_parser, main
from mlrbayes.cli.common import Console
from mlrbayes.em import fit_em
from mlrbayes.selection import select_components

SEED_LINE = re.compile(r"^seed (\d+) \(drawn at random; --seed \1 repeats this run\)$")


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    X, y, _ = simulate(160, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=1)
    path = tmp_path_factory.mktemp("data") / "data.csv"
    pd.DataFrame({"x": X[:, 0], "y": y}).to_csv(path, index=False)
    return path


def _subparsers():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, sub.choices


# ----------------------------------------------------------------------------- conventions
def test_version_and_top_level_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out == f"mlrbayes {__version__}\n"
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "--sigma shared" in out and "drawn at random when not given" in out
    assert "130 interrupted (Ctrl-C), 143 terminated (SIGTERM)" in out
    for command in ("fit", "select", "simulate", "sample", "diagnose", "validate", "demo"):
        assert f"    {command} " in out


def test_one_default_per_option():
    """--sigma shared and no fixed seed everywhere; a shared option has one default and one
    help text (a command may add a note at its end)."""
    _, commands = _subparsers()
    seen: dict[str, tuple] = {}
    exceptions = {("demo", "--draws"), ("demo", "--tune"), ("diagnose", "--relabel-method")}
    exceptions |= {("select", "--components")}  # -k 1 2 3: several K
    for name, p in commands.items():
        for action in p._actions:
            flag = max(action.option_strings, key=len, default=action.dest)
            if flag == "--sigma" and name != "simulate":
                assert action.default == "shared" and not action.required, name
            if flag == "--seed":
                assert action.default is None, name
            if (name, flag) in exceptions or flag in ("--out", "--json", "--em", "--help"):
                continue
            key = (action.default, action.nargs, action.choices, (action.help or "")[:30])
            if name == "simulate" and flag in ("--sigma", "--weights"):
                continue  # the true sd / mixing weights of simulated data, not model settings
            assert seen.setdefault(flag, key) == key, (name, flag)
    assert {"--target-accept", "--hdi-prob", "--relabel-method", "--order-by"} <= set(seen)
    assert {"--init", "--n-init", "--tol", "--max-iter", "--quiet", "--verbose"} <= set(seen)


def test_every_list_option_is_space_separated():
    _, commands = _subparsers()
    lists = set()
    for name, p in commands.items():
        for action in p._actions:
            says = "space-separated" in (action.help or "")
            assert says == (action.nargs == "+"), (name, action.option_strings)
            if says:
                lists.add((name, action.option_strings[0]))
    assert {("simulate", "--sigma"), ("simulate", "--weights"), ("select", "-k")} <= lists
    assert {("fit", "--x"), ("validate", "--x"), ("diagnose", "--x")} <= lists


def test_options_that_the_advice_names_exist_where_they_apply():
    _, commands = _subparsers()

    def flags(name):
        return {f for a in commands[name]._actions for f in a.option_strings}

    for name in ("sample", "validate", "demo"):
        assert {"--target-accept", "--tune", "--draws", "--chains", "--order-by"} <= flags(name)
    for name in ("validate", "demo"):
        assert {"--hdi-prob", "--relabel-method", "--keep-partial"} <= flags(name)
    for name in ("fit", "select", "validate", "demo", "diagnose"):
        assert {"--init", "--n-init", "--tol", "--max-iter", "--seed"} <= flags(name)
    assert {"--relabel-method", "--method"} <= flags("diagnose")


# ----------------------------------------------------------------------------- seed, quiet, verbose
def test_drawn_seed_is_printed_recorded_and_repeats_the_run(csv, tmp_path, capsys):
    a = tmp_path / "a.json"
    rc, _, err = _run(capsys, "fit", csv, "--y", "y", "-k", "2", "--n-init", "3", "--json", a)
    assert rc == 0, err
    m = SEED_LINE.match(err.strip())
    assert m, err
    seed = int(m[1])
    first = json.loads(a.read_text())
    assert first["seed"] == seed
    b = tmp_path / "b.json"
    rc, _, err = _run(capsys, "fit", csv, "--y", "y", "-k", "2", "--n-init", "3", "--seed",
                      seed, "--json", b)  # fmt: skip
    assert rc == 0 and err == ""  # a given seed is not announced
    second = json.loads(b.read_text())
    assert {k: v for k, v in first.items() if k != "data"} == {
        k: v for k, v in second.items() if k != "data"
    }
    ref = fit_em(pd.read_csv(csv)[["x"]], pd.read_csv(csv)["y"], 2, sigma="shared", n_init=3,
                 random_state=seed)  # fmt: skip
    assert first["loglik"] == ref.loglik


def test_quiet_and_verbose(csv, tmp_path, capsys):
    rc, out_q, err = _run(capsys, "fit", csv, "--y", "y", "-k", "2", "--n-init", "4", "--quiet")
    assert rc == 0 and err == "" and out_q.startswith("Mixture of 2 linear regressions")
    rc, out_v, err = _run(capsys, "fit", csv, "--y", "y", "-k", "2", "--n-init", "4", "--seed",
                          "5", "--verbose")  # fmt: skip
    assert rc == 0
    lines = err.splitlines()
    assert lines[0] == "EM starts (start, strategy, log-likelihood, iterations, state, optimum):"
    em = fit_em(pd.read_csv(csv)[["x"]], pd.read_csv(csv)["y"], 2, sigma="shared", n_init=4,
                random_state=5)  # fmt: skip
    for st, line in zip(em.starts, lines[1:5], strict=True):
        assert f"{st.loglik:.6f}" in line and f"#{st.optimum}" in line and st.init in line
    assert lines[5] == "seed 5"
    assert re.match(r"^timings: .*EM \d+\.\d\d s.*; total \d+\.\d\d s$", lines[-1]), lines[-1]
    assert out_v == em.summary() + "\n"
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(csv), "--y", "y", "-k", "2", "--quiet", "--verbose"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "not allowed with argument" in err and err.count("\n") == 1


def test_console_progress_only_on_a_terminal(monkeypatch):
    import io
    import sys

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert Console().progress is False  # piped / redirected
    monkeypatch.setattr(sys, "stderr", Tty())
    assert Console().progress is True
    assert Console(quiet=True).progress is False


# ----------------------------------------------------------------------------- simulate lists
def test_simulate_lists_are_space_separated(tmp_path, capsys):
    path = tmp_path / "three.csv"
    rc, _, err = _run(
        capsys, "simulate", "--out", path, "--weights", "0.3", "0.4", "0.3", "--intercept",
        "-2", "0", "2", "--coef", "1", "0", "-1", "--sigma", "0.3", "0.6", "0.3", "--seed", "4",
    )  # fmt: skip
    assert rc == 0, err
    truth = json.loads((tmp_path / "three.truth.json").read_text())
    assert truth["sigma"] == [0.3, 0.6, 0.3] and truth["seed"] == 4
    _, y, _ = simulate(200, [0.3, 0.4, 0.3], [-2, 0, 2], [[1], [0], [-1]], [0.3, 0.6, 0.3],
                       random_state=4)  # fmt: skip
    np.testing.assert_array_equal(pd.read_csv(path)["y"], y)
    # p = 2: each component's slopes joined by commas, components space-separated
    rc, _, err = _run(capsys, "simulate", "--out", tmp_path / "two.csv", "--weights", "0.5",
                      "0.5", "--intercept", "0", "3", "--coef", "1,2", "-1,0",
                      "--seed", "1")  # fmt: skip
    assert rc == 0, err
    assert json.loads((tmp_path / "two.truth.json").read_text())["coef"] == [[1, 2], [-1, 0]]
    rc, _, err = _run(capsys, "simulate", "--out", tmp_path / "bad3.csv", "--sigma", "1", "2",
                      "3", "--seed", "1")  # fmt: skip
    assert rc == 2 and "--sigma needs 1 or 2 values; got 3" in err


def test_simulate_without_seed_draws_one(tmp_path, capsys):
    rc, out, err = _run(capsys, "simulate", "--out", tmp_path / "d.csv", "-n", "20")
    assert rc == 0
    seed = int(SEED_LINE.match(err.strip())[1])
    assert json.loads((tmp_path / "d.truth.json").read_text())["seed"] == seed
    assert f"seed {seed})" in out


# ----------------------------------------------------------------------------- select
def test_select_table_matches_select_components(csv, tmp_path, capsys):
    out_json = tmp_path / "sel.json"
    rc, out, err = _run(capsys, "select", csv, "--y", "y", "-k", "1", "2", "3", "--n-init", "4",
                        "--seed", "2", "--json", out_json)  # fmt: skip
    assert rc == 0, err
    df = pd.read_csv(csv)
    table, results = select_components(df[["x"]], df["y"], [1, 2, 3], n_init=4,
                                       random_state=2, return_results=True)  # fmt: skip
    d = json.loads(out_json.read_text())
    assert d["seed"] == 2 and d["sigma"] == "shared"
    assert [r["k"] for r in d["rows"]] == [1, 2, 3]
    for r, (_, ref) in zip(d["rows"], table.iterrows(), strict=True):
        for col in ("loglik", "aic", "bic", "icl"):
            assert r[col] == ref[col]
        assert r["n_optima"] == ref["n_optima"] and r["n_starts"] == 4
        assert r["n_best"] == results[r["k"]].optima[0].count
    assert d["best"] == {c: int(table.loc[table[f"best_{c}"], "k"].iloc[0]) for c in
                         ("aic", "bic", "icl")}  # fmt: skip
    assert d["best"]["bic"] == 2  # two well-separated lines
    lines = out.splitlines()
    assert lines[0].split() == ["K", "loglik", "params", "AIC", "BIC", "ICL", "optima",
                                "best/starts", "state"]  # fmt: skip
    row2 = lines[2].split()
    assert row2[0] == "2" and row2[1] == f"{table.loc[1, 'loglik']:.3f}"
    assert row2[4] == f"{table.loc[1, 'bic']:.3f}*"
    assert "best (* above): AIC K=" in out and "BIC K=2" in out
    assert out.rstrip().endswith(f"wrote {out_json}")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-k", "1", "1"], "give each number of components once"),
        (["-k", "0", "2"], "-k must be >= 1; got 0"),
        (["-k", "2", "--sigma", "wide"], "--sigma 'wide' is not a number"),
    ],
)
def test_select_errors(csv, capsys, argv, message):
    rc, out, err = _run(capsys, "select", csv, "--y", "y", *argv)
    assert rc == 2 and out == "" and err.count("\n") == 1 and message in err


# ----------------------------------------------------------------------------- options used
def _capture_sampler(monkeypatch, seen):
    def fake(X, y, n_components, *, sigma, init, random_state, **kwargs):
        seen.append(kwargs)
        em = init[0] if isinstance(init, list) else init
        if em is None:
            em = fit_em(X, y, n_components, sigma=sigma, random_state=0, n_init=2)
        w, b, c, s = draws_around(em, np.random.default_rng(random_state))
        return posterior_tree(np.asarray(X), np.asarray(y), w, b, c, s, features=["x"])

    monkeypatch.setattr(bayes, "sample_posterior", fake)


def test_validate_passes_the_options(csv, tmp_path, capsys, monkeypatch):
    seen = []
    _capture_sampler(monkeypatch, seen)
    out_dir = tmp_path / "v"
    rc, out, err = _run(
        capsys, "validate", csv, "--y", "y", "-k", "2", "--out", out_dir, "--seed", "3",
        "--target-accept", "0.95", "--order-by", "intercept", "--hdi-prob", "0.9",
        "--relabel-method", "pivot", "--init", "random", "--n-init", "3", "--tol", "1e-6",
        "--tune", "50", "--draws", "40", "--quiet",
    )  # fmt: skip
    assert rc == 0, err
    assert err == ""  # --quiet: no info lines
    kw = seen[0]
    assert kw["target_accept"] == 0.95 and kw["order_by"] == "intercept"
    assert kw["tune"] == 50 and kw["draws"] == 40 and kw["progressbar"] is False
    d = json.loads((out_dir / "report.json").read_text())
    assert d["hdi_prob"] == 0.9 and d["diagnosis"]["method"] == "pivot"
    assert d["settings"]["seed"] == 3 and d["settings"]["n_init"] == 3
    em = json.loads((out_dir / "em.json").read_text())
    assert em["seed"] == 3 and len(em["census"]) >= 1
    assert sum(c["count"] for c in em["census"]) == 3
    assert out.startswith(f"verdict: {d['verdict']}\n")


def test_sample_passes_target_accept(csv, tmp_path, capsys, monkeypatch):
    seen = []
    _capture_sampler(monkeypatch, seen)
    monkeypatch.setattr("mlrbayes.cli.sample._sample_summary", lambda idata, path: "summary")
    out = tmp_path / "p.nc"
    rc, _, err = _run(capsys, "sample", csv, "--y", "y", "-k", "2", "--out", out,
                           "--target-accept", "0.9", "--seed", "1")  # fmt: skip
    assert rc == 0, err
    assert seen[0]["target_accept"] == 0.9 and seen[0]["progressbar"] is False
    assert "sampling 4 chains x 1000 draws (tune 1000) ..." in err
    rc, _, err = _run(capsys, "sample", csv, "--y", "y", "-k", "2", "--out", tmp_path / "q.nc",
                      "--target-accept", "1.5")  # fmt: skip
    assert rc == 2 and "--target-accept must be between 0 and 1" in err
    assert not (tmp_path / "q.nc").exists()


def test_validate_defaults_sigma_shared(csv, tmp_path, capsys, monkeypatch):
    """validate no longer requires --sigma: the same default as fit and sample."""
    seen = []
    _capture_sampler(monkeypatch, seen)
    rc, _, err = _run(capsys, "validate", csv, "--y", "y", "-k", "2", "--out",
                      tmp_path / "v", "--draws", "30", "--tune", "30")  # fmt: skip
    assert rc == 0, err
    d = json.loads((tmp_path / "v" / "report.json").read_text())
    assert d["em"]["sigma_setting"] == "shared"
    seed = d["settings"]["seed"]
    assert SEED_LINE.match(err.splitlines()[0]) and f"seed {seed} " in err
    assert "EM with 10 starts ..." in err and "sampling 4 chains x 30 draws (tune 30)" in err
