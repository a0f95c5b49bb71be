"""The compiled EM pass (mlrbayes.em.fused) against the NumPy reference path of the engine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlrbayes import simulate
from mlrbayes.em import engine as engine_mod
from mlrbayes.em import fit_em
from mlrbayes.em.engine import InMemoryEngine
from mlrbayes.em.fused import CHUNK_ROWS, exp_nonpositive


def _stats_close(a, b, rtol=1e-12):
    assert a.loglik == pytest.approx(b.loglik, rel=rtol)
    for name in ("N", "G", "H", "S"):
        x, y = getattr(a, name), getattr(b, name)
        scale = np.maximum(np.abs(y), 1.0)
        assert np.max(np.abs(x - y) / scale) < rtol, name


def _problem(n, d, k, seed):
    rng = np.random.default_rng(seed)
    Z = np.column_stack([np.ones(n), rng.normal(size=(n, d - 1))])
    y = rng.normal(size=n) * 3
    B = rng.normal(size=(k, d))
    w = rng.dirichlet(np.ones(k))
    s = rng.uniform(0.3, 2.0, size=k)
    return Z, y, B, w, s


@pytest.mark.parametrize(
    ("n", "d", "k"), [(1, 1, 1), (CHUNK_ROWS + 7, 6, 3), (3 * CHUNK_ROWS, 2, 5), (500, 4, 2)]
)
def test_compiled_pass_equals_numpy_pass(n, d, k):
    Z, y, B, w, s = _problem(n, d, k, seed=n + d + k)
    eng = InMemoryEngine(Z, y, k, compiled=True)
    _stats_close(eng.accumulate(B, w, s), eng.accumulate_numpy(B, w, s))


def test_compiled_pass_keeps_an_emptied_component_empty_and_far_rows_finite():
    Z, y, B, w, s = _problem(2000, 3, 3, seed=1)
    w = np.array([0.5, 0.5, 0.0])  # an emptied component: log weight -inf
    y[:10] += 1e4  # far from every line: the log-sum-exp must not underflow to 0/0
    eng = InMemoryEngine(Z, y, 3, compiled=True)
    a, b = eng.accumulate(B, w, s), eng.accumulate_numpy(B, w, s)
    assert a.N[2] == 0.0 and np.all(a.G[2] == 0.0)
    assert np.isfinite(a.loglik)
    _stats_close(a, b)


def test_compiled_pass_reports_minus_inf_like_the_numpy_pass():
    Z, y, B, _, s = _problem(300, 2, 2, seed=2)
    eng = InMemoryEngine(Z, y, 2, compiled=True)
    w0 = np.zeros(2)  # no component can generate anything
    with np.errstate(all="ignore"):
        assert eng.accumulate(B, w0, s).loglik == -np.inf
        assert eng.accumulate_numpy(B, w0, s).loglik == -np.inf


def test_exp_is_within_an_ulp_of_libm_and_zero_far_below():
    rng = np.random.default_rng(3)
    x = np.concatenate([-rng.random(200_000) * 700.0, -rng.random(1000) * 1e-9, [0.0, -0.5]])
    rel = np.abs(exp_nonpositive(x) / np.exp(x) - 1.0)
    assert rel.max() <= 2.3e-16
    far = exp_nonpositive(np.array([-700.5, -745.0, -1e6, -np.inf]))
    np.testing.assert_array_equal(far, 0.0)


def test_fit_em_reaches_the_same_optimum_with_either_pass(monkeypatch):
    X, y, _ = simulate(3000, [0.6, 0.4], [0.0, 1.2], [[1.0], [0.5]], 1.0, random_state=4)
    ref = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0, compute_se=False)
    monkeypatch.setattr(engine_mod, "FUSED_MIN_ROWS", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0, compute_se=False)
    assert new.loglik == pytest.approx(ref.loglik, rel=1e-12, abs=1e-9)
    np.testing.assert_allclose(new.coef, ref.coef, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(new.intercept, ref.intercept, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(new.weights, ref.weights, rtol=1e-7, atol=1e-8)
