"""Simulation-based calibration: the rank and uniformity machinery (NumPy, against exact
references and a deliberately miscalibrated sampler), the label-invariant quantities, and a
tiny PyMC run (slow)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlrbayes.likelihood import mixture_loglik
from mlrbayes.sbc import (
    rank_statistics,
    sbc_priors,
    sbc_quantities,
    simulation_based_calibration,
    uniformity_tests,
)


def test_rank_statistics_counts_draws_below_and_breaks_ties():
    truth = np.array([[0.5, 2.0]])
    draws = np.array([[[0.1, 2.0], [0.2, 2.0], [0.9, 1.0]]])  # (1, L=3, 2)
    ranks = rank_statistics(truth, draws, random_state=0)
    assert ranks[0, 0] == 2
    # second quantity: one draw below, two ties -> 1 + U{0, 1, 2}, all values reached
    seen = {int(rank_statistics(truth, draws, random_state=s)[0, 1]) for s in range(40)}
    assert seen == {1, 2, 3}
    with pytest.raises(ValueError, match="truth must have shape"):
        rank_statistics(truth[0], draws)


def test_chi_square_equals_scipy_reference():
    rng = np.random.default_rng(1)
    ranks = rng.integers(0, 100, size=(200, 2))  # L = 99: 100 values, 20 bins of 5
    table = uniformity_tests(ranks, 99, bins=20, random_state=0)
    for j in range(2):
        observed = np.bincount(ranks[:, j] // 5, minlength=20)
        ref = stats.chisquare(observed)
        assert table.loc[j, "chi2"] == pytest.approx(ref.statistic, rel=1e-12)
        assert table.loc[j, "chi2_pvalue"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert table["df"].tolist() == [19, 19]
    # unequal bins (L + 1 = 10 values in 3 bins of 4, 3, 3 values): expected from the counts
    r = rng.integers(0, 10, size=(90, 1))
    row = uniformity_tests(r, 9, bins=3).iloc[0]
    obs = np.bincount(np.arange(10)[r[:, 0]] * 3 // 10, minlength=3)
    exp = 90 * np.array([4, 3, 3]) / 10
    assert row["chi2"] == pytest.approx(np.sum((obs - exp) ** 2 / exp), rel=1e-12)


def test_exact_uniform_ranks_are_accepted_at_the_stated_rate():
    """200 SBC runs of 100 ranks uniform on 0..99: each test rejects at 5% in about 5% of runs
    (MC sd 0.0154); asserted within 3 MC sd: at most 19 of 200 (and at least 1)."""
    rng = np.random.default_rng(2)
    pvals = np.array(
        [
            uniformity_tests(rng.integers(0, 100, size=(100, 1)), 99, random_state=rng)
            .loc[0, ["chi2_pvalue", "ks_pvalue"]]
            .to_numpy(dtype=float)
            for _ in range(200)
        ]
    )
    rejections = np.sum(pvals < 0.05, axis=0)
    assert np.all((rejections >= 1) & (rejections <= 19)), rejections


def _conjugate_ranks(posterior_sd_factor, n_sims=200, L=99, seed=3):
    """SBC of the normal mean (theta ~ N(0, 1), 10 obs ~ N(theta, 1)) with a 'sampler' drawing
    from N(post mean, (factor * post sd)^2): exact when factor = 1."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(n_sims)
    ybar = theta + rng.standard_normal(n_sims) / np.sqrt(10)
    mean, sd = 10 * ybar / 11, np.sqrt(1 / 11)
    draws = mean[:, None] + posterior_sd_factor * sd * rng.standard_normal((n_sims, L))
    return rank_statistics(theta[:, None], draws[:, :, None], random_state=rng)


def test_a_miscalibrated_sampler_is_rejected_and_the_exact_one_is_not():
    exact = uniformity_tests(_conjugate_ranks(1.0), 99, random_state=0).iloc[0]
    assert exact["chi2_pvalue"] > 0.01 and exact["ks_pvalue"] > 0.01
    # posterior too narrow (the sd of a model with the wrong sigma): ranks pile at the ends
    narrow = _conjugate_ranks(0.5)
    res = uniformity_tests(narrow, 99, random_state=0).iloc[0]
    assert res["chi2_pvalue"] < 1e-6 and res["ks_pvalue"] < 1e-3
    assert np.mean((narrow < 10) | (narrow > 89)) > 0.35  # U shape (0.2 when uniform)
    wide = uniformity_tests(_conjugate_ranks(2.0), 99, random_state=0).iloc[0]
    assert wide["chi2_pvalue"] < 1e-6


def test_quantities_are_label_invariant_and_match_the_likelihood(rng):
    X = rng.standard_normal((30, 2))
    y = rng.standard_normal(30)
    w, b = np.array([0.2, 0.5, 0.3]), np.array([1.0, -1.0, 0.0])
    c = rng.standard_normal((3, 2))
    s = np.array([0.5, 1.0, 2.0])
    q = sbc_quantities(X, y, w, b, c, s, sigma_mode="component")
    perm = [2, 0, 1]
    q2 = sbc_quantities(X, y, w[perm], b[perm], c[perm], s[perm], sigma_mode="component")
    assert list(q) == list(q2) and all(np.allclose(q[k], q2[k], rtol=1e-12) for k in q)
    assert q["loglik"] == pytest.approx(mixture_loglik(X, y, w, b, c, s), rel=1e-12)
    assert q["mean at mean x"] == pytest.approx(np.sum(w * (b + c @ X.mean(axis=0))))
    assert [q[f"intercept (sorted) {j}"] for j in range(3)] == [-1.0, 0.0, 1.0]
    assert "sigma (sorted) 2" in q and "sigma" not in q
    # batched: a leading (S,) axis gives (S,) per quantity; known sigma: no sigma quantity
    qb = sbc_quantities(X, y, np.stack([w, w]), np.stack([b, b]), np.stack([c, c]),
                        np.stack([s, s]), sigma_mode="known")  # fmt: skip
    assert qb["loglik"].shape == (2,) and not any(k.startswith("sigma") for k in qb)


def test_sbc_priors_are_fixed_by_the_design_and_take_overrides():
    X = np.column_stack([np.linspace(0, 10, 11)])
    pri = sbc_priors(X, {"weights": {"alpha": 3.0}})
    assert float(pri["weights"]["alpha"]) == 3.0
    assert pri["sigma"]["sigma"] == 1.0
    assert pri["intercept"]["sigma"] == pytest.approx(5.0 * (1 + 5.0 / np.std(X)))
    with pytest.raises(ValueError, match="unknown entry"):
        sbc_priors(X, {"slope": {}})


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_sims must be an integer >= 1"):
        simulation_based_calibration(0)
    with pytest.raises(ValueError, match="n=10 but the design has 5 rows"):
        simulation_based_calibration(2, 10, 2, np.zeros((5, 1)))
    with pytest.raises(ValueError, match="n_draws=500 is more than"):
        simulation_based_calibration(2, n_draws=500)
    with pytest.raises(ValueError, match="ranks must be a non-empty"):
        uniformity_tests(np.array([[0, 12]]), 10)


@pytest.mark.slow
def test_tiny_sbc_run_shapes_and_rank_range():
    """10 simulations of 30 rows, one short chain each (compile-bound: ~5 s per simulation)."""
    res = simulation_based_calibration(
        10, 30, 2, draws=40, tune=60, chains=1, n_draws=39, random_state=0, progressbar=False
    )
    names = ["weights (sorted) 0", "weights (sorted) 1", "intercept (sorted) 0",
             "intercept (sorted) 1", "coef[0] (sorted) 0", "coef[0] (sorted) 1", "sigma",
             "loglik", "mean at mean x"]  # fmt: skip
    assert list(res.ranks.columns) == names and res.ranks.shape == (10, 9)
    assert res.n_draws == 39
    r = res.ranks.to_numpy()
    assert r.dtype.kind == "i" and r.min() >= 0 and r.max() <= 39
    assert res.tests["quantity"].tolist() == names
    assert res.tests[["chi2_pvalue", "ks_pvalue"]].stack().between(0, 1).all()
    assert res.truths.shape == (10, 9) and res.n_divergent.shape == (10,)
    # prior draws are label-sorted quantities: sorted columns increase
    t = res.truths
    assert np.all(t["intercept (sorted) 0"] <= t["intercept (sorted) 1"])
    assert np.allclose(t["weights (sorted) 0"] + t["weights (sorted) 1"], 1.0, atol=1e-9)
    assert "SBC: 10 simulations, ranks over 39 posterior draws" in res.summary()
    assert res.max_rhat.shape == (10,) and "R-hat above 1.01" in res.summary()
    assert isinstance(res.tests, pd.DataFrame)


def test_sbc_ranks_plot_counts_and_band():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import mlrbayes as mb
    from mlrbayes.sbc import SBCResult

    rng = np.random.default_rng(5)
    ranks = pd.DataFrame({"a": rng.integers(0, 10, 40), "b": np.zeros(40, dtype=int)})
    tests = uniformity_tests(ranks, 9, bins=5, random_state=0)
    res = SBCResult(ranks, 9, tests, ranks.astype(float), np.zeros(40), {})
    axes = mb.plots.sbc_ranks(res, bins=5)
    assert len(axes) == 2
    heights = [p.get_height() for p in axes[0].patches]
    assert heights == np.bincount(ranks["a"] // 2, minlength=5).tolist()
    assert [p.get_height() for p in axes[1].patches] == [40, 0, 0, 0, 0]
    assert f"chi-square p = {tests.loc[1, 'chi2_pvalue']:.3g}" in axes[1].get_title()
    assert tests.loc[1, "chi2_pvalue"] < 1e-10  # all ranks 0: far from uniform
    with pytest.raises(ValueError, match=r"unknown quantities \['c'\]"):
        mb.plots.sbc_ranks(res, quantities=["c"])
    plt.close("all")
