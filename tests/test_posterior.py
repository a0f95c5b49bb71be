"""The posterior array layer: DataTree round trips, relabelling, memberships, R-hat/ESS."""

import numpy as np
import pytest
from helpers import posterior_tree
from scipy.stats import norm

from mlrbayes import relabel
from mlrbayes.posterior import (
    PosteriorDraws,
    convergence_table,
    draw_memberships,
    posterior_responsibilities,
    rhat_ess,
    sampling_diagnostics,
)
from mlrbayes.spec import as_dataset

C, D, K = 3, 40, 2


def _draws(rng, setting="shared"):
    w0 = rng.uniform(0.3, 0.7, size=(C, D))
    sigma = {
        "shared": np.repeat(rng.uniform(0.4, 0.6, size=(C, D, 1)), K, axis=-1),
        "component": rng.uniform(0.4, 0.6, size=(C, D, K)),
        "known": np.full((C, D, K), 0.5),
    }[setting]
    return PosteriorDraws(
        weights=np.stack([w0, 1 - w0], axis=-1),
        intercept=rng.normal([0.0, 4.0], 0.1, size=(C, D, K)),
        coef=rng.normal([[1.0], [-1.0]], 0.1, size=(C, D, K, 1)),
        sigma=sigma,
        sigma_setting=setting,
        feature_names=("x",),
        sigma_known=0.5 if setting == "known" else None,
    )


@pytest.mark.parametrize("setting", ["shared", "component", "known"])
def test_datatree_round_trip(rng, setting):
    d = _draws(rng, setting)
    back = PosteriorDraws.from_datatree(d.to_datatree())
    for name in ("weights", "intercept", "coef", "sigma", "divergences"):
        np.testing.assert_array_equal(getattr(back, name), getattr(d, name))
    assert back.sigma_setting == setting and back.feature_names == ("x",)
    assert back.names() == d.names()
    np.testing.assert_array_equal(back.flat(), d.flat())
    # the parameter as stored: (C, D) shared, (C, D, K) per component, the known value
    expected = {"shared": (C, D), "component": (C, D, K), "known": ()}[setting]
    assert np.shape(back.sigma_param) == expected


def test_reads_the_layout_of_sample_posterior(rng):
    X = rng.uniform(-1, 1, size=(30, 1))
    y = rng.normal(size=30)
    w = rng.dirichlet([1, 1], size=(C, D))
    b, c, s = rng.normal(size=(C, D, K)), rng.normal(size=(C, D, K, 1)), rng.uniform(1, 2, (C, D))
    div = np.zeros((C, D), bool)
    div[1, 5] = True
    d = PosteriorDraws.from_datatree(posterior_tree(X, y, w, b, c, s, diverging=div))
    np.testing.assert_array_equal(d.sigma, np.repeat(s[..., None], K, axis=-1))
    np.testing.assert_array_equal(d.coef, c)
    assert d.n_divergent == 1 and d.attrs["sampler"] == "hand-built"
    assert d.flat().shape == (C, D, len(d.names()))


def test_relabel_composes_and_undoes(rng):
    d = _draws(rng, "component")
    p1 = np.array([rng.permutation(K) for _ in range(C * D)]).reshape(C, D, K)
    p2 = np.array([rng.permutation(K) for _ in range(C * D)]).reshape(C, D, K)
    once = d.relabel(p1)
    np.testing.assert_array_equal(once.intercept, relabel.permute_array(d.intercept, p1, 2))
    np.testing.assert_array_equal(once.sigma, relabel.permute_array(d.sigma, p1, 2))
    twice = once.relabel(p2)
    # the recorded permutations map the draws as read onto the twice-relabelled ones
    np.testing.assert_array_equal(twice.coef, relabel.permute_array(d.coef, twice.permutations, 2))
    back = once.relabel(relabel.invert_permutations(p1))
    np.testing.assert_array_equal(back.weights, d.weights)
    np.testing.assert_array_equal(back.permutations, np.broadcast_to(np.arange(K), (C, D, K)))


def test_relabelled_tree_keeps_other_groups(rng):
    X = rng.uniform(-1, 1, size=(20, 1))
    y = rng.normal(size=20)
    w = rng.dirichlet([1, 1], size=(C, D))
    tree = posterior_tree(
        X, y, w, rng.normal(size=(C, D, K)), rng.normal(size=(C, D, K, 1)), np.ones((C, D))
    )
    perms = np.tile([1, 0], (C, D, 1))
    out = PosteriorDraws.from_datatree(tree).relabel(perms).to_datatree()
    np.testing.assert_array_equal(out["posterior"]["weights"].values, w[..., ::-1])
    assert out["posterior"].attrs["relabelled"] == 1
    np.testing.assert_array_equal(out["constant_data"]["X"].values, X)
    with pytest.raises(ValueError, match="not a permutation"):
        PosteriorDraws.from_datatree(tree).relabel(np.zeros((C, D, K), dtype=int))


def test_memberships_match_scipy_and_do_not_depend_on_chunks(rng):
    d = _draws(rng, "component")
    X = rng.uniform(-2, 2, size=(25, 1))
    y = rng.normal(size=25)
    data = as_dataset(X, y)
    m = draw_memberships(d, data, chunk_draws=7, pointwise=True)
    for c, k in [(0, 0), (2, 39), (1, 17)]:
        dens = np.array(
            [
                d.weights[c, k, j]
                * norm.pdf(y, d.intercept[c, k, j] + X[:, 0] * d.coef[c, k, j, 0], d.sigma[c, k, j])
                for j in range(K)
            ]
        ).T  # (n, K)
        np.testing.assert_allclose(
            m.probabilities[c, k], dens / dens.sum(1, keepdims=True), rtol=1e-10
        )
        np.testing.assert_allclose(m.pointwise[c, k], np.log(dens.sum(1)), rtol=1e-12)
        assert m.loglik[c, k] == pytest.approx(np.log(dens.sum(1)).sum(), rel=1e-12)
    whole = draw_memberships(d, data, chunk_draws=1000)
    np.testing.assert_array_equal(whole.probabilities, m.probabilities)
    assert whole.pointwise is None
    np.testing.assert_array_equal(
        posterior_responsibilities(d.to_datatree(), X, y, chunk_draws=3), m.probabilities
    )


def test_one_rhat_path_for_tables_and_sampler_check(rng):
    d = _draws(rng, "shared")
    r, bulk, _ = rhat_ess(d.flat())
    table = convergence_table(d)
    np.testing.assert_array_equal(table["rhat"], r)
    np.testing.assert_array_equal(table["ess_bulk"], bulk)
    np.testing.assert_array_equal(convergence_table(d.to_datatree())["rhat"], r)
    diag = sampling_diagnostics(d)
    assert diag.max_rhat == pytest.approx(np.max(r), rel=1e-12)
    assert diag.max_rhat == pytest.approx(sampling_diagnostics(d.to_datatree()).max_rhat, rel=1e-12)
    # iid draws: R-hat near 1
    assert diag.max_rhat < 1.1
    short = rhat_ess(d.flat()[:, :3])
    assert all(np.isnan(a).all() for a in short)


def test_check_matches_names_the_mismatch(rng):
    from mlrbayes.em import fit_em

    X = rng.uniform(-1, 1, size=(60, 1))
    y = np.where(np.arange(60) % 2, 3.0, -3.0) + 0.3 * rng.standard_normal(60)
    em = fit_em(X, y, 2, sigma="component", n_init=2, random_state=0)
    with pytest.raises(ValueError, match="features"):
        _draws(rng, "component").check_matches(em)  # feature "x" vs the fit's "x0"
    with pytest.raises(ValueError, match="same sigma setting"):
        PosteriorDraws.from_datatree(
            posterior_tree(
                X,
                y,
                *[np.zeros((C, D, K))] * 2,
                np.zeros((C, D, K, 1)),
                np.ones((C, D)),
                features=["x0"],
            )
        ).check_matches(em)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_save_posterior_follows_the_umask(rng, tmp_path, mask, mode):
    import os
    import stat

    from mlrbayes.posterior.io import load_posterior, save_posterior

    d = _draws(rng, "shared")
    old = os.umask(mask)
    try:
        path = save_posterior(d.to_datatree(), tmp_path / "post.nc")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind
    np.testing.assert_array_equal(load_posterior(path)["posterior"]["weights"].values, d.weights)
