"""select_components: the table's numbers are fit_em's, and BIC finds the true K."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import mlrbayes.selection as S
from mlrbayes import simulate
from mlrbayes.em import fit_em
from mlrbayes.selection import select_components

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
