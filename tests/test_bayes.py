"""Tests of mlrbayes.bayes: the PyMC model's likelihood, sampling, responsibilities, storage.

Compiling dominates the cost, so the sampling tests share a few small posteriors (module-scoped
fixtures) and run chains in one process (``cores=1``).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.special import logsumexp
from scipy.stats import norm

from mlrbayes import bayes
from mlrbayes.likelihood import mixture_loglik
from mlrbayes.simulate import simulate

TRUTH2 = {
    "weights": np.array([0.4, 0.6]),
    "intercept": np.array([-2.0, 3.0]),
    "coef": np.array([[1.0], [-1.0]]),
    "sigma": 0.6,
}


def _data2(n=200, seed=3):
    t = TRUTH2
    X, y, _ = simulate(n, t["weights"], t["intercept"], t["coef"], t["sigma"], random_state=seed)
    return X, y


def _value_point(model, w, b, c, s):
    """Model value-space point for natural-scale parameters."""
    point = {}
    for rv in model.free_RVs:
        value = {"weights": w, "intercept": b, "coef": c, "sigma": s}[rv.name]
        tr = model.rvs_to_transforms.get(rv)
        vv = model.rvs_to_values[rv]
        if tr is None:
            point[vv.name] = np.asarray(value, dtype=float)
        else:
            point[vv.name] = tr.forward(np.asarray(value, dtype=float), *rv.owner.inputs).eval()
    return point


# ----------------------------------------------------------------------------- model logp
@pytest.mark.parametrize(
    ("sigma", "fit_intercept", "order_by", "check_grad"),
    [
        (0.8, True, None, False),
        (np.array([0.5, 1.2, 0.9]), True, None, True),
        (0.8, False, None, False),
        ("shared", True, "intercept", True),
        ("shared", False, None, False),
        ("component", True, None, False),
        ("component", False, None, True),
    ],
)
def test_model_loglik_equals_numpy(sigma, fit_intercept, order_by, check_grad, rng):
    k = 3
    X = rng.normal(size=(40, 2))
    y = rng.normal(scale=3.0, size=40)
    model = bayes.build_model(X, y, k, sigma=sigma, fit_intercept=fit_intercept, order_by=order_by)
    loglik = model.compile_logp(vars=[model["y"]], jacobian=False)
    if check_grad:  # compiling costs seconds: check the gradient in three settings
        dlogp = model.compile_dlogp()
        logp = model.compile_logp()
    for _ in range(3):
        w = rng.dirichlet(np.ones(k))
        b = np.sort(rng.normal(scale=2.0, size=k))
        c = rng.normal(size=(k, 2))
        if isinstance(sigma, str):
            s = rng.uniform(0.5, 2.0, size=k if sigma == "component" else None)
            s_k = np.broadcast_to(s, (k,))
        else:
            s, s_k = None, np.broadcast_to(sigma, (k,))
        point = _value_point(model, w, b, c, s)
        ref = mixture_loglik(X, y, w, b if fit_intercept else np.zeros(k), c, s_k)
        # independent reference: scipy densities + logsumexp
        mu = (b if fit_intercept else np.zeros(k)) + X @ c.T
        ref2 = logsumexp(np.log(w) + norm.logpdf(y[:, None], mu, s_k), axis=1).sum()
        assert loglik(point) == pytest.approx(ref, rel=1e-10, abs=1e-9)
        assert ref == pytest.approx(ref2, rel=1e-10)
        if not check_grad:
            continue
        # the gradient of the full log-density agrees with central finite differences
        names = list(point)
        flat = np.concatenate([np.ravel(point[v]) for v in names])
        sizes = [np.size(point[v]) for v in names]
        shapes = [np.shape(point[v]) for v in names]

        def unflat(x, names=names, sizes=sizes, shapes=shapes):
            parts = np.split(x, np.cumsum(sizes)[:-1])
            return {v: p.reshape(sh) for v, p, sh in zip(names, parts, shapes, strict=True)}

        grad = np.concatenate([np.ravel(g) for g in np.atleast_1d(*[dlogp(point)])])
        h = 1e-6
        fd = np.array(
            [
                (logp(unflat(flat + h * e)) - logp(unflat(flat - h * e))) / (2 * h)
                for e in np.eye(flat.size)
            ]
        )
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    ("sigma", "order_by"), [(0.8, None), ("shared", "intercept"), ("component", None)]
)
def test_fast_model_equals_pymc_normal_mixture(sigma, order_by, rng):
    """The whole model (priors, transforms, likelihood) against PyMC's own NormalMixture."""
    k = 3
    X = rng.normal(size=(30, 2))
    y = rng.normal(scale=3.0, size=30)
    fast = bayes.build_model(X, y, k, sigma=sigma, order_by=order_by)
    ref = bayes.build_model(X, y, k, sigma=sigma, order_by=order_by, likelihood="normal_mixture")
    assert "Mixture" in type(ref["y"].owner.op).__name__  # the reference really is PyMC's
    logp_fast, logp_ref = fast.compile_logp(), ref.compile_logp()
    for _ in range(3):
        w = rng.dirichlet(np.ones(k))
        b = np.sort(rng.normal(scale=2.0, size=k))
        c = rng.normal(size=(k, 2))
        s = None if not isinstance(sigma, str) else rng.uniform(0.5, 2.0, size=k)
        s = s if sigma == "component" else (None if s is None else s[0])
        point = _value_point(fast, w, b, c, s)
        assert logp_fast(point) == pytest.approx(logp_ref(point), rel=1e-10)


def test_model_structure_and_coords():
    X, y = _data2(50)
    import pandas as pd

    model = bayes.build_model(pd.DataFrame({"dose": X[:, 0]}), y, 2, sigma="component")
    assert model.coords["component"] == (0, 1)
    assert model.coords["feature"] == ("dose",)
    assert len(model.coords["obs"]) == 50
    assert {"weights", "intercept", "coef", "sigma", "y", "X"} <= set(model.named_vars)
    assert model.named_vars_to_dims["coef"] == ("component", "feature")
    assert model.named_vars_to_dims["sigma"] == ("component",)
    # ordered start is valid (finite log-density at the initial point)
    ordered = bayes.build_model(X, y, 2, sigma="shared", order_by="intercept")
    assert np.isfinite(ordered.compile_logp()(ordered.initial_point()))


def test_default_priors_scale_with_data():
    X, y = _data2(100)
    p1 = bayes.default_priors(X, y)
    p10 = bayes.default_priors(X, 10 * y)
    assert p10["sigma"]["sigma"] == pytest.approx(10 * p1["sigma"]["sigma"])
    assert np.allclose(p10["coef"]["sigma"], 10 * p1["coef"]["sigma"])
    assert p1["sigma"]["sigma"] == pytest.approx(np.std(y))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"sigma": -1.0}, ValueError, "sigma must be a positive finite"),
        ({"sigma": "free"}, ValueError, "not understood"),
        ({"sigma": 1.0, "order_by": "slope"}, ValueError, "order_by='slope'"),
        ({"sigma": 1.0, "order_by": "intercept", "fit_intercept": False}, ValueError, "needs"),
        ({"sigma": 1.0, "priors": {"beta": {}}}, ValueError, "unknown entry 'beta'"),
        ({"sigma": 1.0, "priors": {"coef": {"sigma": -2}}}, ValueError, "positive"),
        ({"sigma": 1.0, "priors": {"coef": {"scale": 1}}}, ValueError, "'scale'"),
    ],
)
def test_build_model_bad_input(kwargs, exc, match):
    X, y = _data2(30)
    with pytest.raises(exc, match=match):
        bayes.build_model(X, y, 2, **kwargs)


def test_sample_posterior_bad_input():
    X, y = _data2(30)
    with pytest.raises(ValueError, match="sampler='hmc'"):
        bayes.sample_posterior(X, y, 2, sigma=1.0, sampler="hmc")
    with pytest.raises(ValueError, match="draws must be"):
        bayes.sample_posterior(X, y, 2, sigma=1.0, draws=0)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        bayes.sample_posterior(X, y, 3, sigma=1.0, init=TRUTH2)
    with pytest.raises(ValueError, match="nutpie"):
        perm = {**TRUTH2, "intercept": TRUTH2["intercept"][::-1]}
        bayes.sample_posterior(X, y, 2, sigma=1.0, init=[TRUTH2, perm], sampler="nutpie")


def test_sampling_diagnostics_counts_divergences():
    rng = np.random.default_rng(0)
    post = xr.Dataset(
        {"weights": (("chain", "draw", "component"), rng.dirichlet([1, 1], size=(2, 100)))},
        coords={"chain": [0, 1], "draw": np.arange(100), "component": [0, 1]},
    )
    div = np.zeros((2, 100), dtype=bool)
    div[0, [3, 50]] = True
    div[1, 7] = True
    dt = xr.DataTree.from_dict(
        {"posterior": post, "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), div)})}
    )
    d = bayes.sampling_diagnostics(dt)
    assert d.n_divergent == 3
    assert d.divergent_per_chain.tolist() == [2, 1]
    assert any("3 divergent" in m for m in d.messages())
    assert d.max_rhat < 1.05  # iid draws


# ----------------------------------------------------------------------------- sampling
@pytest.fixture(scope="module")
def ordered_posterior():
    X, y = _data2(200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        idata = bayes.sample_posterior(
            X, y, 2, sigma="shared", order_by="intercept", draws=500, tune=500, chains=4,
            cores=1, sampler="pymc", random_state=11, progressbar=False,
        )  # fmt: skip
    return X, y, idata


@pytest.mark.slow
def test_posterior_recovery_ordered(ordered_posterior):
    X, y, idata = ordered_posterior
    post = idata["posterior"]
    assert set(idata.children) >= {
        "posterior",
        "sample_stats",
        "observed_data",
        "constant_data",
        "log_likelihood",
    }
    assert post["weights"].dims == ("chain", "draw", "component")
    assert post["coef"].dims == ("chain", "draw", "component", "feature")
    assert post["sigma"].dims == ("chain", "draw")
    assert "diverging" in idata["sample_stats"]
    assert post.attrs["sampler"] == "pymc" and post.attrs["random_state"] == 11
    assert post.attrs["sigma_setting"] == "shared" and post.attrs["order_by"] == "intercept"
    diag = bayes.sampling_diagnostics(idata)
    assert diag.max_rhat <= 1.01
    assert diag.n_divergent == 0
    assert post.attrs["max_rhat"] == pytest.approx(diag.max_rhat)
    # draws are ordered, and the means are within 4 posterior sds of the truth
    b = post["intercept"].values
    assert np.all(b[..., 0] < b[..., 1])
    for name in ("weights", "intercept", "coef"):
        m = post[name].mean(("chain", "draw")).values
        sd = post[name].std(("chain", "draw")).values
        truth = TRUTH2[name].reshape(m.shape)
        # up to permutation: pick the component order closest to the truth
        best = min(
            itertools.permutations(range(2)),
            key=lambda p, m=m, truth=truth: np.sum((m[list(p)] - truth) ** 2),
        )
        assert np.all(np.abs(m[list(best)] - truth) <= 4 * sd[list(best)]), name
    s = post["sigma"].values
    assert abs(s.mean() - TRUTH2["sigma"]) <= 4 * s.std()
    # pointwise log-likelihood equals the NumPy likelihood of each draw
    ll = idata["log_likelihood"]["y"].values
    c, d = 1, 17
    ref = mixture_loglik(
        X, y, post["weights"].values[c, d], b[c, d], post["coef"].values[c, d], s[c, d]
    )
    assert ll[c, d].sum() == pytest.approx(ref, rel=1e-12)


@pytest.mark.slow
def test_posterior_responsibilities_vs_loop(ordered_posterior):
    X, y, idata = ordered_posterior
    post = idata["posterior"]
    gamma = bayes.posterior_responsibilities(idata, chunk_draws=37)
    assert gamma.shape == (4, 500, 200, 2)
    np.testing.assert_allclose(gamma.sum(-1), 1.0, atol=1e-12)
    for c, d in [(0, 0), (2, 123), (3, 499)]:
        w = post["weights"].values[c, d]
        b = post["intercept"].values[c, d]
        coef = post["coef"].values[c, d]
        s = float(post["sigma"].values[c, d])
        for i in (0, 5, 199):
            dens = [w[k] * norm.pdf(y[i], b[k] + coef[k] @ X[i], s) for k in range(2)]
            np.testing.assert_allclose(gamma[c, d, i], np.array(dens) / sum(dens), rtol=1e-10)
    # new data, passed explicitly
    g2 = bayes.posterior_responsibilities(idata, X[:10], y[:10])
    np.testing.assert_allclose(g2, gamma[:, :, :10], rtol=1e-12)
    with pytest.raises(ValueError, match="columns"):
        bayes.posterior_responsibilities(idata, np.ones((10, 2)), y[:10])


@pytest.mark.slow
def test_netcdf_round_trip(ordered_posterior, tmp_path):
    _, _, idata = ordered_posterior
    path = bayes.save_posterior(idata, tmp_path / "sub" / "post.nc")
    assert [p.name for p in path.parent.iterdir()] == ["post.nc"]  # no temporary left
    back = bayes.load_posterior(path)
    for group in ("posterior", "sample_stats", "observed_data", "constant_data", "log_likelihood"):
        xr.testing.assert_allclose(idata[group].to_dataset(), back[group].to_dataset())
    assert back["posterior"].attrs["sigma_setting"] == "shared"
    np.testing.assert_array_equal(
        bayes.posterior_responsibilities(back)[:, :5],
        bayes.posterior_responsibilities(idata)[:, :5],
    )
    with pytest.raises(FileNotFoundError, match="does not exist"):
        bayes.load_posterior(tmp_path / "missing.nc")


@pytest.mark.slow
def test_same_seed_same_draws():
    X, y = _data2(200)  # the ordered_posterior model: its compiled code is cached
    kw = dict(sigma="shared", order_by="intercept", draws=60, tune=60, chains=2, cores=1)
    runs = []
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bayes.SamplingWarning)  # few draws: R-hat may exceed
            runs.append(
                bayes.sample_posterior(X, y, 2, sampler="pymc", random_state=4, **kw)["posterior"]
            )
    xr.testing.assert_equal(runs[0].to_dataset()["coef"], runs[1].to_dataset()["coef"])
    xr.testing.assert_equal(runs[0].to_dataset()["sigma"], runs[1].to_dataset()["sigma"])


@pytest.mark.slow
def test_label_switching_between_chains_k3():
    """Without ordering the posterior is symmetric: chains started at permuted labellings of
    the same (well-separated) solution stay in their labelling. Starting the chains from
    permutations makes this deterministic; with random starts it happens by chance. R-hat of
    the raw draws is then far above 1.01 and the sampler says so.
    """
    truth = {
        "weights": np.array([0.3, 0.3, 0.4]),
        "intercept": np.array([-6.0, 0.0, 6.0]),
        "coef": np.array([[1.0], [0.0], [-1.0]]),
        "sigma": 0.5,
    }
    X, y, _ = simulate(60, truth["weights"], truth["intercept"], truth["coef"], 0.5, random_state=8)
    perms = [np.array([0, 1, 2]), np.array([1, 2, 0]), np.array([2, 0, 1])]
    inits = [{k: (v[p] if k != "sigma" else v) for k, v in truth.items()} for p in perms]
    with pytest.warns(bayes.SamplingWarning, match="not converged"):
        idata = bayes.sample_posterior(
            X, y, 3, sigma=0.5, draws=150, tune=150, chains=3, cores=1, init=inits,
            random_state=2, progressbar=False,
        )  # fmt: skip
    assert idata["posterior"].attrs["sampler"] == "pymc"  # per-chain starts need PyMC's NUTS
    assert "sigma" not in idata["posterior"].data_vars  # known: stored as constant data
    assert float(idata["constant_data"]["sigma"]) == 0.5
    b = idata["posterior"]["intercept"].mean("draw").values  # (chain, component)
    labellings = {tuple(np.argsort(row)) for row in b}
    assert len(labellings) == 3  # every chain has its own labelling
    for row in b:  # ... of the same solution
        np.testing.assert_allclose(np.sort(row), truth["intercept"], atol=0.5)
    assert bayes.sampling_diagnostics(idata).max_rhat > 1.5


@pytest.mark.slow
def test_nutpie_layout_without_intercept_component_sigma():
    rng = np.random.default_rng(1)
    X = rng.uniform(1.0, 4.0, size=(80, 1))
    z = rng.random(80) < 0.5
    y = np.where(z, 2.0 * X[:, 0], -1.0 * X[:, 0]) + rng.normal(scale=0.3, size=80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bayes.SamplingWarning)
        idata = bayes.sample_posterior(
            X, y, 2, sigma="component", fit_intercept=False, draws=100, tune=100, chains=2,
            sampler="nutpie", random_state=3, progressbar=False,
        )  # fmt: skip
    post = idata["posterior"]
    assert post.attrs["sampler"] == "nutpie"
    assert "intercept" not in post.data_vars
    assert post["sigma"].dims == ("chain", "draw", "component")
    assert "diverging" in idata["sample_stats"]
    for chain_means in post["coef"].mean("draw").values[..., 0]:  # up to label switching
        np.testing.assert_allclose(np.sort(chain_means), [-1.0, 2.0], atol=0.15)
    gamma = bayes.posterior_responsibilities(idata)
    c, d = 1, 42
    w, coef, s = (post[v].values[c, d] for v in ("weights", "coef", "sigma"))
    dens = w * norm.pdf(y[3], X[3, 0] * coef[:, 0], s)
    np.testing.assert_allclose(gamma[c, d, 3], dens / dens.sum(), rtol=1e-10)


def test_auto_sampler_rule():
    """'auto' follows the benchmark: nutpie only from n*K >= 50,000 and with one start."""
    choose = bayes._choose_sampler
    assert choose("auto", 2000, 3, False) == "pymc"
    assert choose("auto", 20000, 2, False) == "pymc"
    assert choose("auto", 20000, 3, False) == "nutpie"
    assert choose("auto", 20000, 3, True) == "pymc"  # chains started in different basins
    assert choose("nutpie", 10, 2, False) == "nutpie"
    with pytest.raises(ValueError, match="cannot start chains from different EM optima"):
        choose("nutpie", 10, 2, True)
    with pytest.raises(ValueError, match="'gibbs'"):
        choose("gibbs", 10, 2, False)
