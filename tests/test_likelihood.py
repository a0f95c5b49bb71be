"""The NumPy likelihood against an independent scipy.stats + logsumexp reference."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from mlrbayes import likelihood as L


def _reference(X, y, w, b, c, s):
    s = np.broadcast_to(s, w.shape)
    comp = np.column_stack(
        [stats.norm.logpdf(y, loc=b[k] + X @ c[k], scale=s[k]) for k in range(w.shape[0])]
    )
    joint = comp + np.log(w)
    point = logsumexp(joint, axis=1)
    return comp, point, np.exp(joint - point[:, None])


@pytest.mark.parametrize("sigma", [0.7, np.array([0.3, 1.1, 2.0])])
def test_matches_scipy_reference(rng, sigma):
    n, p, k = 50, 2, 3
    X = rng.normal(size=(n, p))
    y = rng.normal(size=n) * 3
    w = rng.dirichlet(np.ones(k))
    b = rng.normal(size=k)
    c = rng.normal(size=(k, p))
    comp, point, resp = _reference(X, y, w, b, c, sigma)
    np.testing.assert_allclose(L.component_logpdf(X, y, b, c, sigma), comp, rtol=1e-12)
    np.testing.assert_allclose(L.pointwise_loglik(X, y, w, b, c, sigma), point, rtol=1e-12)
    np.testing.assert_allclose(L.responsibilities(X, y, w, b, c, sigma), resp, atol=1e-12)
    assert L.mixture_loglik(X, y, w, b, c, sigma) == pytest.approx(point.sum(), rel=1e-12)


def test_batches_equal_loop(rng):
    n, p, k, draws = 20, 1, 2, 5
    X = rng.normal(size=(n, p))
    y = rng.normal(size=n)
    w = rng.dirichlet(np.ones(k), size=(3, draws))
    b = rng.normal(size=(3, draws, k))
    c = rng.normal(size=(3, draws, k, p))
    s = rng.uniform(0.5, 2, size=(3, draws, 1))  # shared sd per draw
    batch = L.responsibilities(X, y, w, b, c, s)
    assert batch.shape == (3, draws, n, k)
    for ch in range(3):
        for d in range(draws):
            one = L.responsibilities(X, y, w[ch, d], b[ch, d], c[ch, d], s[ch, d, 0])
            np.testing.assert_allclose(batch[ch, d], one, atol=1e-13)


def test_far_points_do_not_underflow():
    X = np.zeros((3, 1))
    y = np.array([1e6, -1e6, 0.0])
    w = np.array([0.5, 0.5])
    b = np.array([-1.0, 1.0])
    c = np.zeros((2, 1))
    resp = L.responsibilities(X, y, w, b, c, 1.0)
    assert np.all(np.isfinite(resp))
    np.testing.assert_allclose(resp[0], [0.0, 1.0], atol=1e-300)
    np.testing.assert_allclose(resp[1], [1.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(resp[2], [0.5, 0.5])
    assert np.isfinite(L.mixture_loglik(X, y, w, b, c, 1.0))


def test_zero_weight_component(rng):
    X = rng.normal(size=(10, 1))
    y = rng.normal(size=10)
    resp = L.responsibilities(X, y, np.array([1.0, 0.0]), np.zeros(2), np.zeros((2, 1)), 1.0)
    np.testing.assert_array_equal(resp[:, 1], 0.0)
    np.testing.assert_allclose(resp[:, 0], 1.0)
