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
    "extended_loglik",
    "joint_logpdf",
    "log_joint",
    "log_prior_membership",
    "log_responsibilities",
    "logsumexp_lastaxis",
    "mixture_loglik",
    "pointwise_loglik",
    "responsibilities",
    "unit_logpdf",
    "unit_weights",
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

    ``y`` is (n_samples,) or, for a response that differs per parameter set (e.g. offset by
    fixed coefficients), (..., n_samples) with the parameters' leading axes.

    Returns
    -------
    logpdf : ndarray of shape (..., n_samples, K)
        ``log N(y_i | intercept_k + coef_k @ x_i, sigma_k^2)``.
    """
    sigma = np.asarray(sigma, dtype=float)
    if sigma.ndim:  # (..., K) or (..., 1) -> broadcast over observations
        sigma = sigma[..., None, :]
    z = np.asarray(y, dtype=float)[..., :, None] - component_means(X, intercept, coef)
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


# ---------------------------------------------------------------------------- extended model
# Gating (concomitant) covariates, coefficients fixed across components, groups sharing one
# component and observation weights (see :class:`mlrbayes.spec.Dataset`). With none of them
# present these functions give exactly the plain model's values above.


def log_prior_membership(data, weights=None, gating=None) -> np.ndarray:
    """``log P(z = k | w)`` per unit, shape (..., n_units, K).

    Units are the groups when ``data.groups`` is set (one row per group, the group's first
    observation's gating covariates), else the observations. ``gating`` (..., K, q) gives
    ``softmax_k(w^T gamma_k)``; without it the ``weights`` (..., K) are repeated per unit.
    """
    W = data.concomitant
    if W is not None and gating is None:
        raise ValueError("data has concomitant covariates: pass gating of shape (K, q).")
    if W is None:
        w = np.asarray(weights, dtype=float)
        n_units = data.n_samples if data.groups is None else data.n_groups
        with np.errstate(divide="ignore"):
            lw = np.log(w)[..., None, :]
        return np.broadcast_to(lw, (*lw.shape[:-2], n_units, lw.shape[-1])).copy()
    if data.groups is not None:
        first = np.zeros(data.n_groups, dtype=np.intp)
        first[data.groups[::-1]] = np.arange(data.n_samples)[::-1]
        W = W[first]
    eta = W @ np.swapaxes(np.asarray(gating, dtype=float), -1, -2)  # (..., n_units, K)
    return eta - logsumexp_lastaxis(eta)[..., None]


def unit_logpdf(data, intercept, coef, sigma, fixed=None) -> np.ndarray:
    """Log-density of each unit under each component, shape (..., n_units, K).

    ``sum_{i in unit} log N(y_i | intercept_k + coef_k^T x_i + fixed^T u_i, sigma_k^2)``; a
    unit is a group or an observation. Observation weights do not enter here (see
    :func:`unit_weights`).
    """
    y = data.y
    if data.fixed is not None:
        if fixed is None:
            raise ValueError("data has fixed predictors: pass fixed of shape (r,).")
        offset = np.asarray(fixed, dtype=float) @ data.fixed.T  # (..., n)
        y = y - offset
        lp = component_logpdf(data.X, y, intercept, coef, sigma)  # y: (..., n)
    else:
        lp = component_logpdf(data.X, y, intercept, coef, sigma)
    if data.groups is None:
        return lp
    out = np.zeros((*lp.shape[:-2], data.n_groups, lp.shape[-1]))
    np.add.at(out, (..., data.groups, slice(None)), lp)
    return out


def unit_weights(data) -> np.ndarray | None:
    """Each unit's weight, shape (n_units,), or ``None`` for unit weights.

    Observation weights are replication (frequency) weights: a weight of 2 counts an
    observation twice. They multiply each unit's *marginal* log-likelihood, so an integer weight
    is exactly a repeated row, and they do not change a unit's membership probabilities. With
    groups, the weights must be constant within a group (checked in :mod:`mlrbayes.spec`) and
    the group's weight is that of its observations.
    """
    v = data.sample_weight
    if v is None or data.groups is None:
        return v
    out = np.empty(data.n_groups)
    out[data.groups] = v
    return out


def log_joint(data, intercept, coef, sigma, *, weights=None, gating=None, fixed=None):
    """``log P(z_u = k | w_u) + log f(y_u | z_u = k)`` per unit, shape (..., n_units, K).

    The extended model's counterpart of :func:`joint_logpdf`: a unit is a group (when
    ``data.groups`` is set) or an observation. Its log-sum-exp over K is each unit's marginal
    log-likelihood (multiplied by :func:`unit_weights` in the total) and its softmax the unit's
    membership probabilities.

    Parameters
    ----------
    data : Dataset
    intercept : ndarray of shape (..., K)
    coef : ndarray of shape (..., K, p)
    sigma : float or ndarray broadcastable to (..., K)
    weights : ndarray of shape (..., K), optional
        Mixing weights (models without gating covariates).
    gating : ndarray of shape (..., K, q), optional
        Gating coefficients (models with ``data.concomitant``).
    fixed : ndarray of shape (..., r), optional
        Coefficients shared by all components (models with ``data.fixed``).
    """
    out = unit_logpdf(data, intercept, coef, sigma, fixed)
    out += log_prior_membership(data, weights, gating)
    return out


def extended_loglik(data, intercept, coef, sigma, *, weights=None, gating=None, fixed=None):
    """Total (weighted) marginal log-likelihood of the extended model, shape (...)."""
    lse = logsumexp_lastaxis(
        log_joint(data, intercept, coef, sigma, weights=weights, gating=gating, fixed=fixed)
    )
    v = unit_weights(data)
    ll = lse.sum(axis=-1) if v is None else lse @ v
    return float(ll) if np.ndim(ll) == 0 else ll
