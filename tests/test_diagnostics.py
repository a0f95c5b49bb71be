"""Diagnosis of label switching vs multimodality.

Fast tests use posterior DataTrees built by hand around known parameter sets; the ``slow``
tests sample with PyMC (one compiled model per (K, p, sigma) shape: K=3 for cases 2 and 4,
K=2 for case 3) and start chains from EM optima so that where each chain sits is known.
"""

from __future__ import annotations

import json

import arviz_base
import numpy as np
import pytest
from arviz_stats.base import array_stats

from mlrbayes import relabel
from mlrbayes.diagnostics import convergence_table, diagnose, nested_rhat, posterior_arrays
from mlrbayes.em import fit_em
from mlrbayes.params import param_names

FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"


# ----------------------------------------------------------------------------- builders
def four_clouds(rng, per_cloud: int = 10, sd: float = 0.25):
    """10 points at each of (+-1, +-1): y = +-1 (parallel) and y = +-x (crossing) fit alike."""
    x = np.repeat([-1.0, -1.0, 1.0, 1.0], per_cloud)
    y = np.repeat([-1.0, 1.0, -1.0, 1.0], per_cloud) + sd * rng.standard_normal(4 * per_cloud)
    return x[:, None], y


def draws_near(rng, opt, chains: int, ndraw: int, scale: float = 0.05):
    """Gaussian cloud of draws around one parameter set: weights, intercept, coef."""
    k = len(opt.weights)
    w = np.clip(opt.weights + 0.03 * rng.standard_normal((chains, ndraw, k)), 0.02, None)
    w /= w.sum(-1, keepdims=True)
    b = opt.intercept + scale * rng.standard_normal((chains, ndraw, k))
    c = opt.coef + scale * rng.standard_normal((chains, ndraw, *np.shape(opt.coef)))
    return w, b, c


def tree(X, y, w, b, c, sigma, *, sigma_mode="known"):
    post = {"weights": w, "intercept": b, "coef": c}
    dims = {
        "weights": ["component"],
        "intercept": ["component"],
        "coef": ["component", "feature"],
        "X": ["obs", "feature"],
        "y": ["obs"],
    }
    const = {"X": X}
    if sigma_mode == "known":
        const["sigma"] = np.asarray(sigma)
    else:
        post["sigma"] = sigma
        if sigma_mode == "component":
            dims["sigma"] = ["component"]
    return arviz_base.from_dict(
        {"posterior": post, "constant_data": const, "observed_data": {"y": y}},
        dims=dims,
        coords={
            "component": np.arange(w.shape[-1]),
            "feature": [f"x{j}" for j in range(X.shape[1])],
        },
    )


@pytest.fixture(scope="module")
def clouds():
    rng = np.random.default_rng(42)
    X, y = four_clouds(rng)
    em = fit_em(X, y, 2, sigma=0.25, n_init=20, random_state=0)
    return X, y, em


def _parallel_and_crossing(em):
    """Indices of the parallel-lines and crossing-lines optima in the EM census."""
    kinds = {}
    for j, o in enumerate(em.optima):
        if np.all(np.abs(o.coef) < 0.3) and np.all(np.abs(np.abs(o.intercept) - 1) < 0.3):
            kinds["parallel"] = j
        if np.all(np.abs(o.intercept) < 0.3) and np.all(np.abs(np.abs(o.coef) - 1) < 0.3):
            kinds["crossing"] = j
    return kinds


# ----------------------------------------------------------------------------- hand-built cases
def test_em_census_finds_parallel_and_crossing_lines(clouds):
    _, _, em = clouds
    kinds = _parallel_and_crossing(em)
    assert set(kinds) == {"parallel", "crossing"}
    par, cro = em.optima[kinds["parallel"]], em.optima[kinds["crossing"]]
    assert not par.degenerate and not cro.degenerate
    # equally good explanations: with x = +-1 exactly, both give the same fitted values
    assert par.loglik == pytest.approx(cro.loglik, abs=1e-6)
    assert np.sort(np.sign(par.intercept)).tolist() == [-1, 1]
    assert np.sort(np.sign(cro.coef.ravel())).tolist() == [-1, 1]


def test_hand_built_multimodal(clouds):
    X, y, em = clouds
    rng = np.random.default_rng(1)
    kinds = _parallel_and_crossing(em)
    opt_of_chain = [kinds["parallel"], kinds["crossing"]] * 2
    parts = [draws_near(rng, em.optima[j], 1, 300) for j in opt_of_chain]
    w, b, c = (np.concatenate(a) for a in zip(*parts, strict=True))
    d = diagnose(tree(X, y, w, b, c, 0.25), em=em)
    assert d.verdict == "multimodal"
    mm = d.multimodality
    assert mm.n_modes == 2
    assert {m.em_optimum for m in mm.modes} == {kinds["parallel"], kinds["crossing"]}
    for m in mm.modes:
        assert m.share_chains == 0.5
        assert m.share_draws == pytest.approx(0.5)
        expected = (0, 2) if m.em_optimum == kinds["parallel"] else (1, 3)
        assert m.chains == expected
        # log-lik at the mode's posterior mean is close to that of its EM optimum
        assert m.loglik_at_mean == pytest.approx(em.optima[m.em_optimum].loglik, abs=2.0)
    np.testing.assert_array_equal(
        mm.chain_mode, [0, 1, 0, 1] if mm.modes[0].chains[0] == 0 else [1, 0, 1, 0]
    )
    assert mm.rhat_nested.filter(like="intercept").min() > 1.5  # superchains = modes: apart
    assert (mm.rhat_within_mode.to_numpy() < 1.01).all()  # each mode is converged
    assert d.rhat_after.loc["intercept[0]", "rhat"] > 1.5
    assert not d.converged_after
    assert any("2 distinct modes" in r for r in d.reasons)
    assert list(mm.census["chains"]) == [2, 2]
    # superchains given as starting basins (what the sampler was told) give the same nested R-hat
    basins = np.array([0, 1, 0, 1])
    d2 = diagnose(tree(X, y, w, b, c, 0.25), em=em, superchain_ids=basins)
    np.testing.assert_allclose(d2.multimodality.rhat_nested, mm.rhat_nested)
    with pytest.raises(ValueError, match="one integer group per chain"):
        diagnose(tree(X, y, w, b, c, 0.25), em=em, superchain_ids=[0, 1])


def test_mode_not_found_by_em(clouds):
    X, y, em = clouds
    rng = np.random.default_rng(2)
    kinds = _parallel_and_crossing(em)
    par, cro = em.optima[kinds["parallel"]], em.optima[kinds["crossing"]]
    parts = [draws_near(rng, o, 2, 200) for o in (par, cro)]
    w, b, c = (np.concatenate(a) for a in zip(*parts, strict=True))
    # Only the parallel optimum is known (a single Optimum as "em"): the crossing chains form a
    # mode not found by EM.
    d = diagnose(tree(X, y, w, b, c, 0.25), em=par)
    assert d.verdict == "multimodal"
    found = {m.em_optimum: m for m in d.multimodality.modes}
    assert set(found) == {0, None}
    assert found[None].chains == (2, 3)
    assert found[None].distance_to_em > d.multimodality.threshold
    assert np.all(np.abs(np.sort(np.abs(found[None].coef.ravel())) - 1) < 0.2)


def test_hand_built_label_switching_and_none(clouds):
    X, y, em = clouds
    rng = np.random.default_rng(3)
    best = em.optima[0]  # the EM estimate, in the same labelling
    np.testing.assert_array_equal(best.intercept, em.intercept)
    w, b, c = draws_near(rng, best, 4, 300)
    d_none = diagnose(tree(X, y, w, b, c, 0.25), em=em)
    assert d_none.verdict == "none"
    assert d_none.label_switching.switch_fraction.max() == 0.0
    assert (d_none.rhat_before["rhat"] < 1.01).all()
    np.testing.assert_array_equal(d_none.permutations, np.tile([0, 1], (4, 300, 1)))
    # swap the labels of chains 1 and 3 wholesale
    swap = np.tile([0, 1], (4, 300, 1))
    swap[[1, 3]] = [1, 0]
    sw = [relabel.permute_array(a, swap, 2) for a in (w, b, c)]
    for method in ("stephens", "ecr", "pivot"):
        d = diagnose(tree(X, y, *sw, 0.25), em=em, method=method)
        assert d.verdict == "label_switching", method
        ls = d.label_switching
        assert ls.chains_disagree and ls.chain_groups == ((0, 2), (1, 3))
        np.testing.assert_array_equal(ls.dominant, [[0, 1], [1, 0], [0, 1], [1, 0]])
        assert d.rhat_before["rhat"].max() > 1.5
        assert (d.rhat_after["rhat"] <= 1.01).all() and d.converged_after
        # relabelled posterior equals the unswapped draws exactly
        np.testing.assert_array_equal(d.relabelled.posterior["intercept"].values, b)


def test_switching_within_a_chain(clouds):
    X, y, em = clouds
    rng = np.random.default_rng(4)
    w, b, c = draws_near(rng, em.optima[0], 2, 400)
    swap = np.tile([0, 1], (2, 400, 1))
    swap[1, 100:] = [1, 0]  # chain 1 switches after 100 draws
    sw = [relabel.permute_array(a, swap, 2) for a in (w, b, c)]
    d = diagnose(tree(X, y, *sw, 0.25), em=em)
    assert d.verdict == "label_switching"
    np.testing.assert_allclose(d.label_switching.switch_fraction, [0.0, 0.25])
    np.testing.assert_array_equal(d.label_switching.dominant, [[0, 1], [1, 0]])


def test_to_dict_is_strict_json(clouds):
    X, y, em = clouds
    rng = np.random.default_rng(5)
    w, b, c = draws_near(rng, em.optima[0], 2, 3)  # 3 draws: R-hat/ESS undefined -> NaN
    d = diagnose(tree(X, y, w, b, c, 0.25), em=em)
    assert d.rhat_before["rhat"].isna().all()
    assert not d.converged_after
    assert any("undefined" in r for r in d.reasons)
    out = json.loads(json.dumps(d.to_dict(), allow_nan=False))
    for key in ("verdict", "label_switching", "multimodality", "rhat_before", "rhat_after"):
        assert key in out
    assert out["rhat_before"]["weights[0]"] is None
    assert out["verdict"] in ("none", "label_switching", "multimodal")
    assert out["multimodality"]["census"][0]["count"] == em.optima[0].count


@pytest.mark.parametrize("mode", ["shared", "component"])
def test_estimated_sigma_layouts(rng, mode):
    X = rng.uniform(-2, 2, size=(60, 1))
    z = np.arange(60) % 2
    y = np.array([-3.0, 3.0])[z] + 0.5 * rng.standard_normal(60)
    em = fit_em(X, y, 2, sigma=mode, n_init=3, random_state=0)
    w, b, c = draws_near(rng, em, 3, 100)
    shape = (3, 100) if mode == "shared" else (3, 100, 2)
    s = np.broadcast_to(np.asarray(em.sigma), shape) * np.exp(0.02 * rng.standard_normal(shape))
    dt = tree(X, y, w, b, c, s, sigma_mode=mode)
    arrs = posterior_arrays(dt)
    assert arrs["sigma_setting"] == mode and arrs["sigma_k"].shape == (3, 100, 2)
    d = diagnose(dt, em=em, method="pivot")
    assert d.verdict == "none"
    names = param_names(2, ["x0"], sigma=mode)
    assert list(d.rhat_after.index) == names
    assert list(convergence_table(dt).index) == names
    np.testing.assert_allclose(convergence_table(dt)["rhat"], d.rhat_before["rhat"])


def test_nested_rhat_matches_arviz_on_equal_superchains(rng):
    a = rng.standard_normal((4, 200, 3))
    a[2:] += 0.5
    ids = np.array([0, 0, 1, 1])
    ours = nested_rhat(a, ids)
    ref = array_stats.rhat_nested(np.moveaxis(a, -1, 0), superchain_ids=ids, method="split")
    np.testing.assert_allclose(ours, ref, rtol=1e-10)
    # unequal superchains are allowed; a single superchain gives NaN
    assert np.all(nested_rhat(a[:3], [0, 0, 1]) > 1.0)
    assert np.isnan(nested_rhat(a, [0, 0, 0, 0])).all()


def test_bad_input(clouds):
    X, y, em = clouds
    rng = np.random.default_rng(6)
    w, b, c = draws_near(rng, em.optima[0], 2, 20)
    dt = tree(X, y, w, b, c, 0.25)
    with pytest.raises(ValueError, match="method='foo'"):
        diagnose(dt, method="foo")
    with pytest.raises(TypeError, match="DataTree"):
        diagnose({"posterior": None})
    em3 = fit_em(X, y, 3, sigma=0.25, n_init=2, random_state=0, compute_se=False)
    with pytest.raises(ValueError, match="K=2 components"):
        diagnose(dt, em=em3)
    with pytest.raises(ValueError, match="X has 2 columns"):
        diagnose(dt, X=np.hstack([X, X]), y=y)
    with pytest.raises(ValueError, match="mode_threshold"):
        diagnose(dt, mode_threshold=-1)
    no_sigma = arviz_base.from_dict(
        {"posterior": {"weights": w, "coef": c}},
        dims={"weights": ["component"], "coef": ["component", "feature"]},
    )
    with pytest.raises(ValueError, match="no known sigma"):
        diagnose(no_sigma, X, y)


# ----------------------------------------------------------------------------- sampling cases
@pytest.fixture(scope="module")
def three_lines():
    """K=3 well separated lines, small n; the EM estimate of them (sigma known)."""
    rng = np.random.default_rng(11)
    n = 60
    X = rng.uniform(-2, 2, size=(n, 1))
    z = np.arange(n) % 3
    b, c = np.array([-4.0, 0.0, 4.0]), np.array([1.0, -1.0, 0.5])
    y = b[z] + c[z] * X[:, 0] + 0.5 * rng.standard_normal(n)
    em = fit_em(X, y, 3, sigma=0.5, n_init=5, random_state=0)
    return X, y, em


def _permuted_start(em, perm):
    p = np.asarray(perm)
    return {
        "weights": em.weights[p],
        "intercept": em.intercept[p],
        "coef": em.coef[p],
        "sigma": 0.5,
    }


INIT_PERMS = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1]]


@pytest.mark.slow
@pytest.mark.filterwarnings(FORK_WARNING)
def test_case2_chains_in_different_labellings(three_lines):
    from mlrbayes.bayes import SamplingWarning, sample_posterior

    X, y, em = three_lines
    init = [_permuted_start(em, p) for p in INIT_PERMS]
    with pytest.warns(SamplingWarning, match="not converged"):
        idata = sample_posterior(
            X, y, 3, sigma=0.5, draws=1000, tune=500, chains=4, init=init,
            sampler="pymc", random_state=1, progressbar=False,
        )  # fmt: skip
    d = diagnose(idata, em=em)
    assert d.verdict == "label_switching"
    ls = d.label_switching
    assert ls.chains_disagree and len(ls.chain_groups) == 4
    # chain c started in labelling INIT_PERMS[c]; relabelling must undo exactly that
    np.testing.assert_array_equal(ls.dominant, relabel.invert_permutations(np.array(INIT_PERMS)))
    assert ls.switch_fraction.max() == 0.0
    assert d.rhat_before["rhat"].max() > 1.5
    assert (d.rhat_after["rhat"] <= 1.01).all(), d.rhat_after
    assert d.multimodality.n_modes == 1 and d.multimodality.modes[0].em_optimum == 0
    # the other relabelling methods agree on this clean case
    for method in ("ecr", "pivot"):
        np.testing.assert_array_equal(
            diagnose(idata, em=em, method=method).permutations, d.permutations
        )


@pytest.mark.slow
@pytest.mark.filterwarnings(FORK_WARNING)
def test_case4_consistent_labelling_is_none(three_lines):
    from mlrbayes.bayes import sample_posterior

    X, y, em = three_lines
    idata = sample_posterior(
        X, y, 3, sigma=0.5, draws=1000, tune=500, chains=4, init=[_permuted_start(em, [0, 1, 2])],
        sampler="pymc", random_state=2, progressbar=False,
    )  # fmt: skip
    d = diagnose(idata, em=em)
    assert d.verdict == "none", d.reasons
    assert not d.label_switching.detected
    assert (d.rhat_before["rhat"] <= 1.01).all()
    np.testing.assert_array_equal(d.table["rhat_before"], d.table["rhat_after"])


@pytest.mark.slow
@pytest.mark.filterwarnings(FORK_WARNING)
def test_case3_parallel_vs_crossing_lines_is_multimodal(clouds):
    from mlrbayes.bayes import SamplingWarning, sample_posterior

    X, y, em = clouds
    kinds = _parallel_and_crossing(em)
    par, cro = em.optima[kinds["parallel"]], em.optima[kinds["crossing"]]
    with pytest.warns(SamplingWarning, match="not converged"):
        idata = sample_posterior(
            X, y, 2, sigma=0.25, draws=300, tune=300, chains=4, init=[par, cro],
            sampler="pymc", random_state=3, progressbar=False,
        )  # fmt: skip
    d = diagnose(idata, em=em)
    assert d.verdict == "multimodal", d.reasons
    mm = d.multimodality
    by_opt = {m.em_optimum: m for m in mm.modes}
    assert set(by_opt) == {kinds["parallel"], kinds["crossing"]}
    assert by_opt[kinds["parallel"]].chains == (0, 2)  # init list is cycled over chains
    assert by_opt[kinds["crossing"]].chains == (1, 3)
    # chains stay in their basin: every draw is nearest its own chain's mode
    np.testing.assert_array_equal(mm.draw_mode_fraction.max(axis=1), 1.0)
    for m in mm.modes:
        assert m.share_chains == 0.5
        assert np.isfinite(m.mean_log_posterior)
        assert m.mean_loglik == pytest.approx(em.optima[m.em_optimum].loglik, abs=5.0)
    assert mm.rhat_nested.max() > 1.5
    assert (mm.rhat_within_mode.to_numpy() <= 1.05).all()
    assert d.rhat_after["rhat"].max() > 1.01
