r"""Log-densities of the mixture of linear regressions, in NumPy only.

The model, for observation :math:`i` with predictors :math:`x_i \in \mathbb{R}^p`:

.. math::

    y_i \sim \sum_{k=1}^K \pi_k \, \mathcal{N}(b_k + c_k^\top x_i,\ \sigma_k^2)

with weights :math:`\pi` (``weights``, shape (K,)), intercepts :math:`b` (``intercept``,
shape (K,)), slopes :math:`c` (``coef``, shape (K, p)) and noise sd :math:`\sigma` (a scalar,
shared, or shape (K,)).

Every function here also accepts *batches* of parameters, so that the same code serves the EM
fit (one parameter set) and posterior draws (``(chain, draw)`` leading axes): ``weights`` and
``intercept`` of shape (..., K), ``coef`` of shape (..., K, p), and ``sigma`` broadcastable to
(..., K) (a scalar, shape (..., 1) for a shared sd per draw, or (..., K)). Results carry the
same leading axes: (..., n, K) per component, (..., n) per observation, (...) in total.

Responsibilities are computed with the log-sum-exp trick, so points far from every line do not
underflow to 0/0.
"""

from __future__ import annotations

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))

__all__ = [
    "LOG_2PI",
    "component_logpdf",
    "component_means",
    "joint_logpdf",
    "log_responsibilities",
    "logsumexp_lastaxis",
    "mixture_loglik",
    "pointwise_loglik",
    "responsibilities",
]


def component_means(X: np.ndarray, intercept: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Regression means of every component.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    intercept : ndarray of shape (..., K)
    coef : ndarray of shape (..., K, n_features)

    Returns
    -------
    mu : ndarray of shape (..., n_samples, K)
    """
    X = np.asarray(X, dtype=float)
    coef = np.asarray(coef, dtype=float)
    intercept = np.asarray(intercept, dtype=float)
    mu = X @ np.swapaxes(coef, -1, -2)  # (..., n, K)
    mu += intercept[..., None, :]
    return mu


def component_logpdf(
    X: np.ndarray, y: np.ndarray, intercept: np.ndarray, coef: np.ndarray, sigma
) -> np.ndarray:
    """Normal log-density of each observation under each component's regression line.

    Returns
    -------
    logpdf : ndarray of shape (..., n_samples, K)
        ``log N(y_i | intercept_k + coef_k @ x_i, sigma_k^2)``.
    """
    sigma = np.asarray(sigma, dtype=float)
    if sigma.ndim:  # (..., K) or (..., 1) -> broadcast over observations
        sigma = sigma[..., None, :]
    z = np.asarray(y, dtype=float)[:, None] - component_means(X, intercept, coef)
    z /= sigma
    z *= z
    z *= -0.5
    z -= 0.5 * LOG_2PI
    z -= np.log(sigma)
    return z


def joint_logpdf(X, y, weights, intercept, coef, sigma) -> np.ndarray:
    """``log pi_k + log N(y_i | ...)``, shape (..., n_samples, K)."""
    out = component_logpdf(X, y, intercept, coef, sigma)
    with np.errstate(divide="ignore"):  # an emptied component has weight 0: log 0 = -inf
        out += np.log(np.asarray(weights, dtype=float))[..., None, :]
    return out


def logsumexp_lastaxis(a: np.ndarray) -> np.ndarray:
    """Stable ``log(sum(exp(a), axis=-1))``; rows that are all ``-inf`` give ``-inf``."""
    m = np.max(a, axis=-1)
    m_safe = np.where(np.isfinite(m), m, 0.0)
    s = np.sum(np.exp(a - m_safe[..., None]), axis=-1)
    with np.errstate(divide="ignore"):
        return np.log(s) + m_safe


def pointwise_loglik(X, y, weights, intercept, coef, sigma) -> np.ndarray:
    """Marginal log-likelihood of each observation, shape (..., n_samples)."""
    return logsumexp_lastaxis(joint_logpdf(X, y, weights, intercept, coef, sigma))


def mixture_loglik(X, y, weights, intercept, coef, sigma) -> np.ndarray | float:
    """Total marginal log-likelihood, shape (...) (a float for one parameter set)."""
    ll = pointwise_loglik(X, y, weights, intercept, coef, sigma).sum(axis=-1)
    return float(ll) if np.ndim(ll) == 0 else ll


def log_responsibilities(X, y, weights, intercept, coef, sigma) -> tuple[np.ndarray, np.ndarray]:
    """Log membership probabilities and pointwise log-likelihood.

    Returns
    -------
    log_resp : ndarray of shape (..., n_samples, K)
        ``log gamma_ik``; each row's exponentials sum to 1.
    pointwise : ndarray of shape (..., n_samples)
        ``log sum_k pi_k N(y_i | ...)``.
    """
    lj = joint_logpdf(X, y, weights, intercept, coef, sigma)
    lse = logsumexp_lastaxis(lj)
    lj -= lse[..., None]
    return lj, lse


def responsibilities(X, y, weights, intercept, coef, sigma) -> np.ndarray:
    """Membership probabilities ``gamma_ik``, shape (..., n_samples, K); rows sum to 1."""
    log_resp, _ = log_responsibilities(X, y, weights, intercept, coef, sigma)
    return np.exp(log_resp, out=log_resp)
