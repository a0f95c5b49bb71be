"""select_components: the table's numbers are fit_em's, and BIC finds the true K."""

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import mlrbayes.selection as S
from mlrbayes import simulate
from mlrbayes.em import fit_em
from mlrbayes.em.result import ConvergenceWarning, NumericalWarning
from mlrbayes.likelihood import mixture_loglik
from mlrbayes.selection import select_components, split_start

COLUMNS = [
    "k",
    "loglik",
    "n_parameters",
    "aic",
    "bic",
    "icl",
    "converged",
    "degenerate",
    "n_optima",
    "n_starts",
    "best_aic",
    "best_bic",
    "best_icl",
]


@pytest.mark.parametrize(
    ("weights", "intercept", "coef"),
    [
        ([0.5, 0.5], [0.0, 6.0], [[1.0], [-1.0]]),
        ([0.3, 0.3, 0.4], [-6.0, 0.0, 6.0], [[1.0], [-1.0], [0.5]]),
    ],
)
def test_bic_picks_the_true_k_on_separated_data(weights, intercept, coef):
    X, y, _ = simulate(300, weights, intercept, coef, 0.5, random_state=11)
    table = select_components(X, y, range(1, 5), n_init=4, random_state=0)
    assert list(table.columns) == COLUMNS
    assert table["k"].tolist() == [1, 2, 3, 4]
    true_k = len(weights)
    assert table.loc[table["best_bic"], "k"].tolist() == [true_k]
    assert table.loc[table["best_icl"], "k"].tolist() == [true_k]
    # AIC is allowed to overfit, but exactly one row is best under each criterion
    for crit in ("aic", "bic", "icl"):
        assert table[f"best_{crit}"].sum() == 1
        assert table.loc[table[f"best_{crit}"], crit].iloc[0] == table[crit].min()
    # d = (K-1) + K intercepts + K slopes + 1 shared sigma
    assert table["n_parameters"].tolist() == [3 * k for k in range(1, 5)]


def test_rows_equal_fit_em_with_the_same_arguments():
    X, y, _ = simulate(200, [0.5, 0.5], [0.0, 5.0], [[1.0], [-1.0]], 0.5, random_state=12)
    table, results = select_components(
        X, y, [2, 1], sigma=0.5, n_init=3, random_state=4, return_results=True
    )
    assert table["k"].tolist() == [2, 1]
    for k in (1, 2):
        ref = fit_em(X, y, k, sigma=0.5, n_init=3, random_state=4)
        row = table.loc[table["k"] == k].iloc[0]
        assert row["loglik"] == ref.loglik == results[k].loglik
        assert row["aic"] == pytest.approx(-2 * ref.loglik + 2 * ref.n_parameters, rel=1e-12)
        assert row["bic"] == ref.bic and row["icl"] == ref.icl
        assert row["n_optima"] == len(ref.optima) and row["n_starts"] == 3
        assert bool(row["converged"]) == ref.converged
        assert bool(row["degenerate"]) == ref.degenerate
    # known sigma: no sigma parameter
    assert table["n_parameters"].tolist() == [1 + 2 + 2, 2]


def _fake(k, bic, degenerate):
    return SimpleNamespace(
        loglik=-bic / 2,
        n_parameters=k,
        aic=bic,
        bic=bic,
        icl=bic,
        converged=True,
        degenerate=degenerate,
        optima=(None,),
        starts=(None,),
    )


def test_degenerate_fits_are_not_best_unless_all_are(monkeypatch):
    """The marking rule alone, with stand-in fit results (unbounded likelihood at k=3)."""
    fakes = {1: _fake(1, 100.0, False), 2: _fake(2, 90.0, False), 3: _fake(3, -1e9, True)}
    monkeypatch.setattr(S, "fit_em", lambda X, y, k, **kw: fakes[k])
    table = select_components(np.zeros((5, 1)), np.zeros(5), [1, 2, 3])
    assert table.loc[table["best_bic"], "k"].tolist() == [2]
    fakes = {1: _fake(1, 5.0, True), 2: _fake(2, 3.0, True)}
    table = select_components(np.zeros((5, 1)), np.zeros(5), [1, 2])
    assert table.loc[table["best_bic"], "k"].tolist() == [2]


@pytest.mark.parametrize(
    ("ks", "exc", "match"),
    [
        ([], ValueError, "ks is empty"),
        ([1, 0], ValueError, r"got 0 in \[1, 0\]"),
        ([1, 2.5], ValueError, "got 2.5"),
        ([2, 2], ValueError, r"repeated values \[2, 2\]"),
        ("12", TypeError, "got '12'"),
        (None, TypeError, "got None"),
    ],
)
def test_bad_ks_are_named(ks, exc, match):
    X, y, _ = simulate(50, [1.0], [0.0], [[1.0]], 0.5, random_state=1)
    with pytest.raises(exc, match=match):
        select_components(X, y, ks)


def test_too_many_components_and_n_components_argument():
    X, y, _ = simulate(10, [1.0], [0.0], [[1.0]], 0.5, random_state=1)
    with pytest.raises(ValueError, match="n_components=6 is more than the data support"):
        select_components(X, y, [1, 6])
    with pytest.raises(TypeError, match="not n_components"):
        select_components(X, y, [1], n_components=2)


def test_dataset_is_checked_once(monkeypatch):
    import mlrbayes.spec as spec

    X, y, _ = simulate(200, [0.5, 0.5], [0.0, 6.0], [[1.0], [-1.0]], 0.5, random_state=0)
    ref = select_components(X, y, [1, 2], n_init=2, random_state=0)
    data = spec.as_dataset(X, y)

    def fail(*args):
        raise AssertionError("a Dataset was checked again")

    monkeypatch.setattr(spec, "check_X_y", fail)
    table = select_components(data, None, [1, 2], n_init=2, random_state=0)
    pd.testing.assert_frame_equal(table, ref)


def test_alternatives_are_counted_by_fitted_density():
    """K = 3 on two lines: the two-line density with a duplicated line is reached with four
    weight splits (seed 5 / seed 0); they count as one alternative."""
    X, y, _ = simulate(300, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=5)
    table, results = select_components(
        X, y, [2, 3], n_init=20, random_state=0, return_results=True, order="intercept"
    )
    k3 = results[3]
    assert int(table.loc[table["k"] == 3, "n_optima"].iloc[0]) == len(k3.optima) == 3
    dup = [o for o in k3.optima if not o.identified]
    assert len(dup) == 1 and dup[0].n_variants == 4
    assert dup[0].loglik == pytest.approx(results[2].loglik, abs=1e-3)
    assert np.all(np.diff(results[2].intercept) > 0)  # order= passed through


# ----------------------------------------------------------------------------- bootstrap LRT
#: Settings that keep the null-hypothesis simulations fast: EM on data from one line, fitted
#: with two, converges slowly (a flat likelihood), so the iterations are capped; the
#: bootstrap refits use the same settings, so the test calibrates the procedure as run.
FAST = {"n_init": 2, "tol": 1e-5, "max_iter": 150, "compute_se": False}


def test_lrt_statistic_pvalue_and_table_columns():
    X, y, _ = simulate(120, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=3)
    table, results, tests = select_components(
        X, y, [1, 2], n_init=3, random_state=1, bootstrap_lrt=9, return_results=True,
        return_lrt=True,
    )  # fmt: skip
    assert list(table.columns) == [*COLUMNS[:10], "lrt_stat", "lrt_pvalue", *COLUMNS[10:],
                                   "best_lrt"]  # fmt: skip
    t = tests[1]
    assert (t.k_null, t.k_alt, t.n_boot) == (1, 2, 9)
    # the observed statistic is the table's log-likelihoods (or better, from the split start)
    assert t.statistic >= 2 * (results[2].loglik - results[1].loglik) - 1e-9
    assert t.statistic == table.loc[0, "lrt_stat"]
    assert np.isnan(table.loc[1, "lrt_stat"]) and np.isnan(table.loc[1, "lrt_pvalue"])
    # p-value by its definition, from the returned bootstrap statistics
    null = t.null_statistics
    assert null.shape == (9,) and np.all(null >= 0) and t.n_valid == 9
    assert t.pvalue == (1 + np.sum(null >= t.statistic)) / 10 == table.loc[0, "lrt_pvalue"]
    # two lines 4 sds apart: LR is huge, no bootstrap replicate from one line comes near it
    assert t.statistic > 100 and t.pvalue == pytest.approx(0.1) and t.reject is False
    assert table["best_lrt"].tolist() == [True, False]  # 0.1 is not < 0.05 with B = 9


def test_lrt_reproducible_and_the_same_for_any_n_jobs():
    X, y, _ = simulate(60, [1.0], [0.0], [[1.0]], 1.0, random_state=4)
    kw = {"sigma": 1.0, "random_state": 7, "bootstrap_lrt": 6, "return_lrt": True, **FAST}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t1 = select_components(X, y, [1, 2], n_jobs=1, **kw)[1][1]
        t2 = select_components(X, y, [1, 2], n_jobs=2, **kw)[1][1]
        t3 = select_components(X, y, [1, 2, 3], n_jobs=1, **kw)[1][1]
        other = select_components(X, y, [1, 2], n_jobs=1, **{**kw, "random_state": 8})[1][1]
    np.testing.assert_array_equal(t1.null_statistics, t2.null_statistics)
    np.testing.assert_array_equal(t1.null_statistics, t3.null_statistics)  # other K: same test
    assert t1.pvalue == t2.pvalue and t1.statistic == t2.statistic
    assert not np.array_equal(t1.null_statistics, other.null_statistics)


def test_split_start_has_the_k_fit_density_without_the_nudge():
    X, y, _ = simulate(150, [0.3, 0.7], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=5)
    em = fit_em(X, y, 2, sigma="component", n_init=3, random_state=0)
    start = split_start(em)
    j = int(np.argmax(em.weights))
    assert start["weights"].sum() == pytest.approx(1.0)
    assert start["weights"][j] == start["weights"][2] == pytest.approx(em.weights[j] / 2)
    assert start["intercept"][2] - start["intercept"][j] == pytest.approx(0.5 * em.sigma[j])
    # undo the nudge: the 3-component density equals the 2-component one at every row
    ref = mixture_loglik(X, y, em.weights, em.intercept, em.coef, em.sigma)
    b = start["intercept"].copy()
    b[j] = b[2] = em.intercept[j]
    three = mixture_loglik(X, y, start["weights"], b, start["coef"], start["sigma"])
    assert three == pytest.approx(ref, rel=1e-12)
    assert ref == pytest.approx(em.loglik, rel=1e-9)


def test_lrt_holds_its_level_under_the_null():
    """True K=1 (n=60, known sigma): R=40 outer data sets, each tested with B=9 bootstrap
    sets. Under H0 the p-value is (close to) uniform on {0.1, ..., 1}: mean 0.55, sd 0.287;
    the rejection rate at 0.1 (the smallest level B=9 attains) is 0.1 with MC sd 0.047.
    Asserted: mean p within 3 MC sd (0.136) of 0.55, rejections at most 10 of 40 (P(X >= 11)
    = 0.0015 for Binomial(40, 0.1)). LR has an atom at 0 (the K+1 fit falls back onto the K
    fit) and ties count as ``LR* >= LR``, so the test is slightly conservative (mean p above
    0.55). The 5% level with R=200, B=19 is in benchmarks/bench_lrt.py (RESULTS.md)."""
    R, B = 40, 9
    pvalues = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for r in range(R):
            X, y, _ = simulate(60, [1.0], [0.0], [[1.0]], 1.0, random_state=1000 + r)
            _, tests = select_components(X, y, [1, 2], sigma=1.0, random_state=r,
                                         bootstrap_lrt=B, return_lrt=True, **FAST)  # fmt: skip
            pvalues.append(tests[1].pvalue)
    p = np.array(pvalues)
    assert np.all((p >= 1 / (B + 1)) & (p <= 1))
    sd_mean = np.sqrt(((B + 1) ** 2 - 1) / 12 / (B + 1) ** 2 / R)
    assert abs(p.mean() - 0.55) < 3 * sd_mean, p
    assert np.sum(p <= 0.1 + 1e-12) <= 10, p


def test_lrt_detects_three_components_against_two():
    X, y, _ = simulate(150, [0.3, 0.3, 0.4], [-6.0, 0.0, 6.0], [[1.0], [-1.0], [0.5]], 0.5,
                       random_state=6)  # fmt: skip
    table, tests = select_components(X, y, [2, 3], n_init=3, random_state=0, bootstrap_lrt=29,
                                     return_lrt=True)  # fmt: skip
    t = tests[2]
    assert t.pvalue == pytest.approx(1 / 30) and t.pvalue < 0.05 and t.reject
    assert t.statistic > np.nanmax(t.null_statistics)
    assert table["best_lrt"].tolist() == [False, True]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"bootstrap_lrt": -1}, ValueError, "bootstrap_lrt must be >= 0"),
        ({"bootstrap_lrt": 9.5}, TypeError, "got 9.5"),
        ({"bootstrap_lrt": 9, "lrt_level": 1.5}, ValueError, "lrt_level must be in"),
        ({"bootstrap_lrt": 9, "n_jobs": 0}, ValueError, "n_jobs must be"),
    ],
)
def test_bad_lrt_arguments_are_named(kwargs, exc, match):
    X, y, _ = simulate(50, [1.0], [0.0], [[1.0]], 0.5, random_state=1)
    with pytest.raises(exc, match=match):
        select_components(X, y, [1, 2], **kwargs)


def test_clamped_and_failed_replications_are_reported(monkeypatch):
    """A stand-in replication reports a K+1 refit below the K refit and a degenerate one: the
    statistics become 0 and NaN, the p-value leaves the NaN out, and one warning says so."""
    X, y, _ = simulate(80, [1.0], [0.0], [[1.0]], 1.0, random_state=2)
    outcomes = iter([(0.0, "clamped", []), (np.nan, "failed", []), (3.0, "ok", ["X"])] * 2)
    monkeypatch.setattr(S, "_replicate", lambda *a: next(outcomes))
    with pytest.warns(NumericalWarning, match=r"1 of 3 bootstrap K\+1 refits ended below"):
        _, tests = select_components(
            X, y, [1, 2], sigma=1.0, n_init=2, random_state=0, bootstrap_lrt=3, return_lrt=True
        )
    t = tests[1]
    assert (t.n_clamped, t.n_failed, t.n_valid) == (1, 1, 2)
    assert t.warnings == {"X": 1}
    assert t.pvalue == (1 + np.sum(np.array([0.0, 3.0]) >= t.statistic)) / 3
    assert any("EM issued X in 1 of 3" in line for line in t.notes())


def test_lrt_distribution_plot_draws_the_bootstrap_statistics_and_the_observed_lr():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import mlrbayes as mb

    null = np.array([0.5, 1.0, 2.0, 3.5, np.nan, 0.0, 1.2, 0.7])
    t = S.BootstrapLRT(1, 2, 2.5, 2 / 8, null, 8, 7, 0, 1, 0.05, {}, 0.1)
    fig, ax = plt.subplots()
    assert mb.plots.lrt_distribution(t, bins=5, ax=ax) is ax
    heights = [p.get_height() for p in ax.patches]
    edges = np.linspace(0.0, 3.5 * 1.02 + 1e-12, 6)
    assert heights == np.histogram(null[np.isfinite(null)], bins=edges)[0].tolist()
    line = ax.lines[0]
    assert line.get_xdata()[0] == 2.5
    labels = [txt.get_text() for txt in ax.get_legend().get_texts()]
    assert labels == ["LR* (7 bootstrap sets)", "observed LR = 2.5, p = 0.25"]
    assert ax.get_title() == "bootstrap LRT: K=1 vs K=2"
    plt.close(fig)
    empty = S.BootstrapLRT(1, 2, 2.5, np.nan, np.full(3, np.nan), 3, 0, 0, 3, 0.05, {}, 0.1)
    with pytest.raises(ValueError, match="no valid bootstrap statistic"):
        mb.plots.lrt_distribution(empty)
