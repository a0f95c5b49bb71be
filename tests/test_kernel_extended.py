"""The fused kernel of the extended model (issue 14) against two independent references.

For each part of the extended model alone and all together (gating covariates, coefficients
fixed across components, groups sharing one component, replication weights), the kernel's
log-likelihood must equal the NumPy reference :func:`mlrbayes.likelihood.extended_loglik` and
the textbook PyTensor graph (:func:`mlrbayes.kernel.textbook_logp_tensor`) to 1e-10 relative,
and its gradient must equal PyTensor's autodiff of the textbook graph (1e-9 relative) and
central finite differences of the NumPy reference (1e-6 relative).
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from mlrbayes import bayes, likelihood
from mlrbayes import kernel as K_
from mlrbayes.spec import as_dataset

FEATURES = {
    "gating": {"concomitant"},
    "fixed": {"fixed"},
    "groups": {"groups"},
    "weights": {"weights"},
    "all": {"concomitant", "fixed", "groups", "weights"},
    "groups+gating": {"concomitant", "groups"},
    "all but groups": {"concomitant", "fixed", "weights"},  # the kernel's one-row-per-unit path
}


def _data(features, n=240, n_groups=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = rng.normal(size=n) * 2.0 + X[:, 0]
    g = rng.integers(0, n_groups, n) if "groups" in features else np.arange(n)
    per_unit = g.max() + 1
    kw = {}
    if "concomitant" in features:
        kw["concomitant"] = rng.normal(size=(per_unit, 2))[g]
    if "fixed" in features:
        kw["fixed"] = rng.normal(size=(n, 2))
    if "groups" in features:
        kw["groups"] = g
    if "weights" in features:
        kw["sample_weight"] = rng.uniform(0.3, 3.0, per_unit)[g]
    return as_dataset(X, y, **kw)


def _params(data, k=3, seed=1):
    rng = np.random.default_rng(seed)
    q = 0 if data.concomitant is None else data.concomitant.shape[1]
    r = 0 if data.fixed is None else data.fixed.shape[1]
    gam = rng.normal(size=(k, q))
    gam -= gam.mean(axis=0)
    return {
        "w": np.array([0.2, 0.3, 0.5])[:k],
        "gam": gam,
        "b": rng.normal(size=k),
        "c": rng.normal(size=(k, data.n_features)),
        "s": np.array([0.8, 1.1, 1.6])[:k],
        "delta": rng.normal(size=r),
    }


def _kernel(data, p):
    U, W, rows, starts, v = K_.extended_inputs(data)
    return K_.extended_logp_grad(
        data.X, data.y, U, W, rows, starts, v, p["w"], p["gam"], p["b"], p["c"], p["s"], p["delta"]
    )


def _numpy_ll(data, p):
    return likelihood.extended_loglik(
        data,
        p["b"],
        p["c"],
        p["s"],
        weights=p["w"],
        gating=p["gam"] if data.concomitant is not None else None,
        fixed=p["delta"] if data.fixed is not None else None,
    )


def _textbook(data):
    """Compiled (loglik, gradient) of the textbook PyTensor graph."""
    w, b, s, d = pt.dvector("w"), pt.dvector("b"), pt.dvector("s"), pt.dvector("d")
    g, c = pt.dmatrix("g"), pt.dmatrix("c")
    ll = K_.textbook_logp_tensor(data, pt.as_tensor(data.X), pt.as_tensor(data.y), w, g, b, c, s, d)
    ins = [w, g, b, c, s, d]
    grads = pytensor.grad(ll, ins, disconnected_inputs="ignore")
    fn = pytensor.function(ins, [ll, *grads], on_unused_input="ignore")
    return lambda p: fn(p["w"], p["gam"], p["b"], p["c"], p["s"], p["delta"])


@pytest.mark.parametrize("name", list(FEATURES))
def test_kernel_equals_numpy_and_textbook(name):
    data = _data(FEATURES[name])
    p = _params(data)
    out = _kernel(data, p)
    ll_np = _numpy_ll(data, p)
    tb = _textbook(data)(p)
    assert np.isfinite(out[0])
    np.testing.assert_allclose(out[0], ll_np, rtol=1e-10)
    np.testing.assert_allclose(out[0], tb[0], rtol=1e-10)
    # gradient: w (only without gating), gating, intercept, coef, sigma, fixed
    gating = data.concomitant is not None
    pairs = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)]
    for i_k, i_t in pairs:
        if i_k == 1 and gating:  # weights are not a parameter of the gating model
            np.testing.assert_array_equal(out[1], 0.0)
            continue
        np.testing.assert_allclose(out[i_k], tb[i_t], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["all", "groups+gating", "all but groups"])
def test_kernel_gradient_equals_finite_differences(name):
    data = _data(FEATURES[name])
    p = _params(data)
    out = _kernel(data, p)
    h = 1e-6
    for key, idx in (("gam", 2), ("b", 3), ("c", 4), ("s", 5), ("delta", 6)):
        fd = np.zeros_like(p[key])
        for j in np.ndindex(p[key].shape):
            hi = {**p, key: p[key].copy()}
            lo = {**p, key: p[key].copy()}
            hi[key][j] += h
            lo[key][j] -= h
            fd[j] = (_numpy_ll(data, hi) - _numpy_ll(data, lo)) / (2 * h)
        np.testing.assert_allclose(out[idx], fd, rtol=1e-6, atol=1e-5, err_msg=key)


def test_plain_data_through_the_extended_kernel_equals_the_plain_kernel():
    data = _data(set())
    p = _params(data)
    plain = K_.mixreg_logp_grad(data.X, data.y, p["w"], p["b"], p["c"], p["s"])
    ext = _kernel(data, p)
    np.testing.assert_allclose(ext[0], plain[0], rtol=1e-12)
    for i_e, i_p in ((1, 1), (3, 2), (4, 3), (5, 4)):
        np.testing.assert_allclose(ext[i_e], plain[i_p], rtol=1e-10)


def test_replication_weight_two_equals_a_repeated_group():
    """Weight 2 on a group gives the log-likelihood of the data with that group twice."""
    rng = np.random.default_rng(3)
    n = 60
    X, y = rng.normal(size=(n, 1)), rng.normal(size=n)
    g = np.repeat(np.arange(20), 3)
    v = np.ones(n)
    v[g == 4] = 2.0
    weighted = as_dataset(X, y, groups=g, sample_weight=v)
    dup = np.concatenate([np.arange(n), np.flatnonzero(g == 4)])
    g2 = np.concatenate([g, np.full(3, 20)])
    repeated = as_dataset(X[dup], y[dup], groups=g2)
    p = _params(weighted, k=2)
    np.testing.assert_allclose(_kernel(weighted, p)[0], _kernel(repeated, p)[0], rtol=1e-12)


EXTREMES = {
    "sigma 0": ({"s": np.array([0.0, 1.1, 1.6])}, "-inf"),
    "gating inf": ({"gam": np.array([[np.inf, 0.0, 0.0], [0.0] * 3, [0.0] * 3])}, "-inf"),
    "fixed nan": ({"delta": np.array([np.nan, 0.0])}, "-inf"),
    "gating 1e300": ({"gam": np.array([[1e300, 0, 0], [-1e300, 0, 0], [0.0] * 3])}, "finite"),
    "all components underflow": ({"b": np.array([1e160, -1e160, 1e160])}, "-inf"),
    "sigma 1e-300 in one component": ({"s": np.array([1e-300, 1.1, 1.6])}, "finite"),
}


@pytest.mark.parametrize("features", ["all", "all but groups"])
@pytest.mark.parametrize("name", list(EXTREMES))
def test_extended_kernel_is_finite_or_minus_inf(name, features):
    data = _data(FEATURES[features])
    p = _params(data)
    p.update({k: np.asarray(v, dtype=float) for k, v in EXTREMES[name][0].items()})
    out = _kernel(data, p)
    grads = np.concatenate([np.ravel(o) for o in out[1:]])
    if EXTREMES[name][1] == "-inf":
        assert out[0] == -np.inf
        np.testing.assert_array_equal(grads, 0.0)
    else:
        assert np.isfinite(out[0])
        assert np.all(np.isfinite(grads))
        with np.errstate(all="ignore"):
            ref = _numpy_ll(data, p)
        if np.isfinite(ref):
            np.testing.assert_allclose(out[0], ref, rtol=1e-10)


@pytest.mark.parametrize("name", ["gating", "all"])
def test_model_fast_equals_textbook(name):
    """The PyMC model with the fused Op and with the textbook graph: same logp and gradient
    (priors included) at a random point of the unconstrained space."""
    data = _data(FEATURES[name])
    models = {
        lk: bayes.build_model(data, None, 3, sigma="component", likelihood=lk)
        for lk in ("fast", "textbook")
    }
    rng = np.random.default_rng(5)
    point = {
        k: v + 0.3 * rng.normal(size=np.shape(v))
        for k, v in models["fast"].initial_point(random_seed=0).items()
    }
    vals = {lk: m.compile_logp()(point) for lk, m in models.items()}
    grads = {lk: m.compile_dlogp()(point) for lk, m in models.items()}
    np.testing.assert_allclose(vals["fast"], vals["textbook"], rtol=1e-10)
    np.testing.assert_allclose(grads["fast"], grads["textbook"], rtol=1e-9, atol=1e-9)
    # and the likelihood term equals the NumPy reference at the point's parameters
    m = models["fast"]
    ll = float(m.compile_fn(m.observedlogp, inputs=m.value_vars, on_unused_input="ignore")(point))
    unobserved = m.unobserved_value_vars
    vals = m.compile_fn(unobserved, inputs=m.value_vars, on_unused_input="ignore")(point)
    par = {v.name: val for v, val in zip(unobserved, vals, strict=True)}
    ref = likelihood.extended_loglik(
        data,
        par["intercept"],
        par["coef"],
        par["sigma"],
        weights=par["weights"],
        gating=par.get("gating"),
        fixed=par.get("fixed"),
    )
    np.testing.assert_allclose(ll, ref, rtol=1e-10)
    if data.concomitant is not None:  # centred, and weights = mean prior membership
        np.testing.assert_allclose(par["gating"].sum(axis=0), 0.0, atol=1e-12)
        lp = likelihood.log_prior_membership(data, gating=par["gating"])
        v = likelihood.unit_weights(data)
        v = np.ones(lp.shape[0]) if v is None else v
        np.testing.assert_allclose(par["weights"], v @ np.exp(lp) / v.sum(), rtol=1e-12)


def test_unit_layout():
    rows, starts = K_.unit_layout(np.array([1, 0, 1, 2, 0]), 5)
    np.testing.assert_array_equal(rows, [1, 4, 0, 2, 3])
    np.testing.assert_array_equal(starts, [0, 2, 4, 5])
    rows, starts = K_.unit_layout(None, 3)
    np.testing.assert_array_equal(rows, [0, 1, 2])
    np.testing.assert_array_equal(starts, [0, 1, 2, 3])
