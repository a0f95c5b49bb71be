"""The fused likelihood kernel at extreme parameter values (issue 9: crash at n = 10^5).

The contract (``mlrbayes.kernel.mixreg_logp_grad``): for every parameter value the kernel
returns either a finite log-likelihood with a finite gradient, or ``-inf`` (a divergence to
NUTS) with a zero gradient; never an exception, never NaN. Where an independent NumPy/SciPy
evaluation (``scipy.special.logsumexp`` of the component log-densities; the gradient from the
softmax responsibilities) is finite, the kernel must agree with it.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from mlrbayes import bayes
from mlrbayes import kernel as mlrbayes_kernel
from mlrbayes.simulate import simulate

kernel = mlrbayes_kernel.mixreg_logp_grad  # the kernel under test


def reference(X, y, w, b, c, s):
    """log-likelihood and gradient (d_w, d_b, d_c, d_s) by NumPy/SciPy, in float64."""
    with np.errstate(all="ignore"):
        z = (y[:, None] - b - X @ c.T) / s  # (n, K)
        logd = np.log(w) - np.log(s) - 0.5 * np.log(2 * np.pi) - 0.5 * z * z
        ll = float(logsumexp(logd, axis=1).sum())
        g = softmax(logd, axis=1)  # responsibilities
        gz = np.where(g > 0, g * z, 0.0)
        d_w = g.sum(0) / w
        d_b = gz.sum(0) / s
        d_c = (gz / s).T @ X
        d_s = np.where(g > 0, g * (z * z - 1.0), 0.0).sum(0) / s
    return ll, d_w, d_b, d_c, d_s


def _data(n, seed=0):
    X, y, _ = simulate(
        n, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=seed
    )  # the "separated" preset of `mlrbayes simulate`
    return np.ascontiguousarray(X), np.ascontiguousarray(y)


BASE = {
    "w": np.array([0.4, 0.6]),
    "b": np.array([0.0, 4.0]),
    "c": np.array([[1.5], [-1.5]]),
    "s": np.array([0.4, 0.4]),
}

# name -> (overrides, expected outcome: "finite" or "-inf")
EXTREMES = {
    "truth": ({}, "finite"),
    "means 1e6 sd away": ({"b": np.array([4e5, -4e5])}, "finite"),
    "one mean 1e200 away": ({"b": np.array([0.0, 1e200])}, "finite"),
    "slopes 1e8": ({"c": np.array([[1e8], [-1e8]])}, "finite"),
    "sigma 1e300": ({"s": np.array([1e300, 1e300])}, "finite"),
    "sigma 1e-300 in one component": ({"s": np.array([1e-300, 0.4])}, "finite"),
    "sigma 1e-300 everywhere": ({"s": np.array([1e-300, 1e-300])}, "-inf"),
    "sigma 1e-170 everywhere": ({"s": np.array([1e-170, 1e-170])}, "-inf"),
    "sigma 1e-3": ({"s": np.array([1e-3, 1e-3])}, "finite"),
    "weight 1e-300": ({"w": np.array([1e-300, 1.0])}, "finite"),
    "weights 1e-300 and sigma 1e-300": (
        {"w": np.array([1e-300, 1.0]), "s": np.array([1e-300, 0.4])},
        "finite",
    ),
    "all components underflow": (
        {"b": np.array([1e160, -1e160]), "s": np.array([1e-3, 1e-3])},
        "-inf",
    ),
    "weight 0": ({"w": np.array([0.0, 1.0])}, "-inf"),
    "sigma 0": ({"s": np.array([0.0, 0.4])}, "-inf"),
    "sigma inf": ({"s": np.array([np.inf, 0.4])}, "-inf"),
    "intercept nan": ({"b": np.array([np.nan, 4.0])}, "-inf"),
    "coef inf": ({"c": np.array([[np.inf], [1.0]])}, "-inf"),
    "negative weight": ({"w": np.array([-0.1, 1.1])}, "-inf"),
}


def _check(X, y, w, b, c, s, expected):
    ll, *grads = kernel(X, y, w, b, c, s)
    assert not np.isnan(ll)
    if expected == "-inf":
        assert ll == -np.inf
        for g in grads:
            assert np.all(g == 0.0)
        return
    assert np.isfinite(ll), ll
    for g in grads:
        assert np.all(np.isfinite(g))
    ref = reference(X, y, w, b, c, s)
    assert np.isfinite(ref[0])
    assert ll == pytest.approx(ref[0], rel=1e-12)
    for got, want in zip(grads, ref[1:], strict=True):
        scale = np.max(np.abs(want)) + 1e-300
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale)


@pytest.mark.parametrize("name", list(EXTREMES))
def test_kernel_at_extreme_points(name):
    X, y = _data(500)
    over, expected = EXTREMES[name]
    p = {**BASE, **over}
    _check(X, y, p["w"], p["b"], p["c"], p["s"], expected)


def test_kernel_random_extreme_points_never_nan(rng):
    """Log-uniform parameters over the whole double range: finite and matching, or -inf."""
    X, y = _data(300, seed=1)
    n_finite = 0
    for _ in range(400):
        k = int(rng.integers(1, 4))
        w = 10.0 ** rng.uniform(-300, 0, size=k)
        w /= w.sum()
        b = rng.choice([-1, 1], size=k) * 10.0 ** rng.uniform(-3, 200, size=k)
        c = rng.choice([-1, 1], size=(k, 1)) * 10.0 ** rng.uniform(-3, 10, size=(k, 1))
        s = 10.0 ** rng.uniform(-300, 300, size=k)
        ll, *grads = kernel(X, y, w, b, c, s)
        assert not np.isnan(ll)
        ref = reference(X, y, w, b, c, s)
        if np.isfinite(ll):
            n_finite += 1
            assert all(np.all(np.isfinite(g)) for g in grads)
            assert ll == pytest.approx(ref[0], rel=1e-10)
        else:
            assert ll == -np.inf
            assert all(np.all(g == 0.0) for g in grads)
            # -inf only where the reference log-density or its gradient is not finite, or
            # where the square of a residual overflows (|y - mu| > 1.3e154 with sigma in
            # [1e-150, 1e150]; documented)
            ref_ok = np.isfinite(ref[0]) and all(np.all(np.isfinite(g)) for g in ref[1:])
            r2_overflows = np.any(np.abs(y[:, None] - b - X @ c.T) > 1.3e154)
            assert not ref_ok or r2_overflows
    assert n_finite > 40  # the draw covers the finite region too


def test_kernel_at_n_1e5_dispersed_points():
    """n = 10^5, the size where `mlrbayes validate` crashed: points far from the data."""
    X, y = _data(100_000, seed=2)
    points = [
        (BASE["w"], BASE["b"], BASE["c"], BASE["s"], "finite"),
        (
            np.array([0.5, 0.5]),
            np.array([-30.0, 30.0]),
            np.array([[9.0], [-9.0]]),
            np.array([0.05, 0.05]),
            "finite",
        ),
        (
            np.array([1e-12, 1 - 1e-12]),
            np.array([0.0, 4.0]),
            BASE["c"],
            np.array([2e-4, 50.0]),
            "finite",
        ),
        (BASE["w"], BASE["b"], BASE["c"], np.array([1e-200, 1e-200]), "-inf"),
        (BASE["w"], np.array([1e170, 1e170]), BASE["c"], BASE["s"], "-inf"),
    ]
    for w, b, c, s, expected in points:
        _check(X, y, w, b, c, s, expected)


def test_kernel_blocks_and_rows_not_a_multiple_of_the_block():
    """Row counts around the 256-row block and the 32-row log batches agree with the reference."""
    X, y = _data(1100, seed=3)
    for n in (1, 31, 32, 33, 255, 256, 257, 1100):
        ll, *_ = kernel(X[:n], y[:n], BASE["w"], BASE["b"], BASE["c"], BASE["s"])
        ref = reference(X[:n], y[:n], BASE["w"], BASE["b"], BASE["c"], BASE["s"])
        assert ll == pytest.approx(ref[0], rel=1e-12)


@pytest.mark.parametrize("sigma", ["shared", "component"])
def test_model_logp_and_gradient_at_extreme_unconstrained_points(sigma):
    """The compiled PyMC log-density and gradient (what NUTS evaluates) at extreme points."""
    X, y = _data(2000, seed=4)
    model = bayes.build_model(X, y, 2, sigma=sigma)
    logp = model.compile_logp()
    dlogp = model.compile_dlogp()
    start = model.initial_point()
    base = {k: np.asarray(v, dtype=float) for k, v in start.items()}
    sig_key = next(k for k in base if k.startswith("sigma"))
    w_key = next(k for k in base if k.startswith("weights"))
    cases = [
        ({}, True),
        ({sig_key: np.full_like(base[sig_key], -700.0)}, False),  # sigma ~ 1e-304
        ({sig_key: np.full_like(base[sig_key], 60.0)}, True),  # sigma ~ 1e26
        ({sig_key: np.full_like(base[sig_key], 690.0)}, None),  # the prior says -inf
        ({sig_key: np.full_like(base[sig_key], -2.0)}, True),
        ({"intercept": np.array([4e5, -4e5])}, True),  # 1e6 sd of the noise away
        ({"intercept": np.array([1e170, -1e170])}, False),  # every component underflows
        ({w_key: np.full_like(base[w_key], 700.0)}, None),  # a weight ~ 1e-300 or 0
        ({w_key: np.full_like(base[w_key], -700.0)}, None),
    ]
    for over, finite in cases:
        point = {**base, **over}
        lp = float(logp(point))
        assert not np.isnan(lp), over
        if finite is not None:
            assert np.isfinite(lp) == finite, (over, lp)
        if np.isfinite(lp):
            assert np.all(np.isfinite(dlogp(point))), over
        else:
            assert lp == -np.inf
