"""SQUAREM acceleration (mlrbayes.em.squarem) inside the EM loop."""

import numpy as np
import pytest

from mlrbayes import simulate
from mlrbayes.em import fit_em
from mlrbayes.em.engine import InMemoryEngine
from mlrbayes.em.loop import LoopSettings, run_start
from mlrbayes.em.scaling import standardise
from mlrbayes.em.squarem import StepLength, check_accelerate, extrapolate
from mlrbayes.em.starts import init_binned, init_random


def _overlapping(n=20_000, seed=1):
    """Two lines 0.6 sd apart in intercept, slopes 1.0 and 0.7: heavy overlap, slow EM."""
    X, y, _ = simulate(n, [0.5, 0.5], [0.0, 0.6], [[1.0], [0.7]], 0.5, random_state=seed)
    return X, y


@pytest.mark.parametrize("mode", ["shared", "component"])
def test_squarem_same_optimum_fewer_passes_monotone(mode):
    """From the same binned start on an overlapping design, SQUAREM reaches the plain-EM
    optimum (parameters within 1e-4 in standardised units, log-likelihood within 1e-6 per
    observation: both stop on a gain below tol=1e-10 per observation) in fewer than half the
    passes, and its trace never decreases (by more than 1e-9 absolute)."""
    X, y = _overlapping()
    Z, ys, _ = standardise(X, y, True)
    eng = InMemoryEngine(Z, ys, 2)
    cfg = LoopSettings(mode, 1e-10, 5000, 1e-8, 1e-4)
    start = init_binned(Z, ys, 2, None, mode, None)
    plain = run_start(eng, *start, cfg, accelerate=None)
    fast = run_start(eng, *start, cfg, accelerate="squarem")
    assert plain.converged and fast.converged
    assert fast.n_passes < 0.5 * plain.n_passes, (fast.n_passes, plain.n_passes)
    assert np.all(np.diff(fast.trace) >= -1e-9)
    assert abs(fast.loglik - plain.loglik) <= 1e-6 * len(y)
    np.testing.assert_allclose(fast.B, plain.B, atol=1e-4)
    np.testing.assert_allclose(fast.weights, plain.weights, atol=1e-4)
    np.testing.assert_allclose(fast.sigma, plain.sigma, atol=1e-4)


def test_squarem_never_decreases_from_random_starts():
    """20 random (Dirichlet) starts, K = 3 on overlapping data: every SQUAREM trace is
    non-decreasing (rejected extrapolations are not kept) and no start is flagged
    decreased."""
    X, y, _ = simulate(3000, [0.3, 0.3, 0.4], [0.0, 0.5, 1.0], [[1.0], [0.6], [0.8]], 0.5,
                       random_state=4)  # fmt: skip
    Z, ys, _ = standardise(X, y, True)
    eng = InMemoryEngine(Z, ys, 3)
    cfg = LoopSettings("component", 1e-9, 3000, 1e-8, 1e-4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        start = init_random(Z, ys, 3, rng, "component", None)
        fast = run_start(eng, *start, cfg, accelerate="squarem")
        assert np.all(np.diff(fast.trace) >= -1e-9 * len(y))
        assert not fast.decreased


def test_extrapolate_solves_a_linear_fixed_point():
    """Iterates of a linear map ``theta_k = theta* + c^k delta`` (c = 0.9, in the
    extrapolation's coordinates: coefficients, log weights, log sds): the S3 step length is
    1 / (1 - c) = 10 and the extrapolated point is theta* exactly (to 1e-10); with the bound
    at 1 it returns None (the caller keeps the plain EM step). Weights stay on the simplex."""
    rng = np.random.default_rng(1)
    B_star, d_B = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    lw_star, d_w = np.log([0.4, 0.6]), np.array([0.3, -0.2])
    ls_star, d_s = np.log([1.0, 2.0]), np.array([-0.1, 0.25])

    def it(k):
        c = 0.9**k
        w = np.exp(lw_star + c * d_w)
        return B_star + c * d_B, w, np.exp(ls_star + c * d_s)

    th = [it(k) for k in range(3)]
    theta, alpha = extrapolate(*th, StepLength(step_max=1.0))
    assert theta is None and alpha == 1.0
    steps = StepLength(step_max=64.0)
    theta, alpha = extrapolate(*th, steps)
    assert np.isclose(alpha, 10.0, rtol=1e-10)
    B, w, s = theta
    np.testing.assert_allclose(B, B_star, atol=1e-10)
    np.testing.assert_allclose(w, np.exp(lw_star) / np.exp(lw_star).sum(), atol=1e-10)
    np.testing.assert_allclose(s, np.exp(ls_star), rtol=1e-10)
    steps.accepted(64.0)
    assert steps.step_max == 256.0
    steps.rejected(256.0)
    assert steps.step_max == 64.0
    steps.rejected(2.0)  # below the bound: unchanged
    assert steps.step_max == 64.0


def test_fit_em_accelerate_keyword():
    """fit_em(accelerate='squarem') gives the plain fit's optimum (coefficients within 1e-3,
    log-likelihood within 1e-6 per observation) with fewer iterations; a bad value is one
    ValueError naming the choices."""
    X, y = _overlapping(5000, seed=2)
    a = fit_em(X, y, 2, sigma="shared", n_init=2, random_state=0, tol=1e-10, accelerate=None)
    b = fit_em(X, y, 2, sigma="shared", n_init=2, random_state=0, tol=1e-10,
               accelerate="squarem")  # fmt: skip
    assert abs(a.loglik - b.loglik) <= 1e-6 * len(y)
    np.testing.assert_allclose(b.coef, a.coef, atol=1e-3)
    assert b.n_iter < a.n_iter
    with pytest.raises(ValueError, match="accelerate must be 'auto', 'squarem' or None"):
        fit_em(X, y, 2, sigma="shared", accelerate="fast")
    assert check_accelerate(None) is None
