r"""Predictions of a fitted mixture of linear regressions for new predictors.

The fitted model says, for a new row :math:`x`,

.. math::

    p(y \mid x) = \sum_{k=1}^K \pi_k(x)\, \mathcal N(y \mid b_k + c_k^\top x,\ \sigma_k^2),

with prior membership probabilities :math:`\pi_k(x)`: the weights :math:`\pi_k`, the same for
every row (a gating model, when the package gets one, makes them depend on :math:`x`; every
function here reads them through :func:`prior_membership`, so that is the one place to change).

Two kinds of membership probabilities, one rule for their names:

* **prior membership** — :func:`prior_membership`, ``predict_proba(X)`` on the estimator and on
  :class:`~mlrbayes.em.EMResult`: which component a new observation at ``x`` will come from,
  before its response is seen; shape (n, K).
* **membership given the response** — :func:`membership`, ``membership(X, y)``: the posterior
  probability that the observation ``(x, y)`` came from each component (the E-step's
  responsibilities); shape (n, K).

The functions take the fitted parameters as any object with ``weights`` (K,), ``intercept``
(K,), ``coef`` (K, p) and ``sigma`` (float or (K,)) attributes — an ``EMResult`` — and arrays
that are already checked (``EMResult``'s methods and the estimator check them first).
"""

from __future__ import annotations

import numbers
from typing import Any, Protocol

import numpy as np
from scipy.special import ndtr, ndtri

from .. import likelihood as lik
from .._validation import check_random_state

__all__ = [
    "MEMBERSHIP_RENAMED",
    "check_component",
    "component_means",
    "component_sds",
    "interval_from",
    "mean_loglik",
    "membership",
    "mixture_cdf",
    "mixture_mean",
    "mixture_quantiles",
    "predict_interval",
    "prior_membership",
    "sample",
    "sample_from",
]


MEMBERSHIP_RENAMED = (
    "predict_proba(X, y) returning membership given the response is deprecated and will change "
    "in the next release; call membership(X, y) instead. predict_proba(X) gives prior "
    "membership probabilities for new X."
)
"""The FutureWarning of the old call ``predict_proba(X, y)`` (EMResult and the estimator)."""


class FittedMixture(Protocol):
    """What the functions here read from a fit (an :class:`~mlrbayes.em.EMResult` has it)."""

    weights: np.ndarray
    intercept: np.ndarray
    coef: np.ndarray
    sigma: float | np.ndarray


def component_sds(fit: FittedMixture) -> np.ndarray:
    """The noise sd of every component, shape (K,) (a shared or known sd repeated)."""
    k = len(fit.weights)
    return np.broadcast_to(np.asarray(fit.sigma, dtype=float), (k,)).copy()


def prior_membership(fit: FittedMixture, X: np.ndarray) -> np.ndarray:
    """Prior membership probabilities of new rows, shape (n, K): the weights at every row.

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Checked predictors.
    """
    w = np.asarray(fit.weights, dtype=float)
    return np.broadcast_to(w, (X.shape[0], w.shape[0])).copy()


def membership(fit: FittedMixture, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Membership probabilities given the response, shape (n, K); rows sum to 1.

    ``gamma_ik = pi_k N(y_i | mu_ik, s_k^2) / sum_j pi_j N(y_i | mu_ij, s_j^2)``.
    """
    return lik.responsibilities(X, y, fit.weights, fit.intercept, fit.coef, component_sds(fit))


def component_means(fit: FittedMixture, X: np.ndarray) -> np.ndarray:
    """Each component's regression line at each row, ``b_k + c_k^T x_i``, shape (n, K)."""
    return lik.component_means(X, fit.intercept, fit.coef)


def mixture_mean(fit: FittedMixture, X: np.ndarray, component: Any = None) -> np.ndarray:
    """Mixture mean ``sum_k pi_k(x) mu_k(x)``, or one component's line; shape (n,).

    Parameters
    ----------
    component : int or None
        ``None`` for the mixture mean; ``k`` (0 <= k < K) for line k.
    """
    mu = component_means(fit, X)
    if component is None:
        return np.einsum("nk,nk->n", mu, prior_membership(fit, X))
    k = check_component(component, mu.shape[1])
    return mu[:, k].copy()


def check_component(component: Any, n_components: int) -> int:
    if (
        isinstance(component, bool)
        or not isinstance(component, numbers.Integral)
        or not 0 <= component < n_components
    ):
        raise ValueError(
            f"component must be an integer from 0 to {n_components - 1} (or None for the mixture "
            f"mean); got {component!r}."
        )
    return int(component)


def mixture_cdf(
    t: np.ndarray, means: np.ndarray, sds: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """CDF of a normal mixture, ``sum_k w_k Phi((t - m_k) / s_k)``.

    Parameters
    ----------
    t : ndarray of shape (...)
    means, weights : ndarray of shape (..., K)
    sds : ndarray broadcastable to (..., K)
        A zero sd is a point mass (its CDF steps to 1 at the mean).

    Returns
    -------
    F : ndarray of shape (...)
    """
    d = np.asarray(t, dtype=float)[..., None] - means
    with np.errstate(divide="ignore", invalid="ignore"):
        z = d / sds
    z = np.where(np.isnan(z), np.inf, z)  # 0/0: t at the mean of a point mass
    return np.einsum("...k,...k->...", ndtr(z), weights)


def mixture_quantiles(
    means: np.ndarray,
    sds: np.ndarray,
    weights: np.ndarray,
    probs: Any,
    *,
    rtol: float = 1e-12,
    max_iter: int = 200,
) -> np.ndarray:
    """Quantiles of a normal mixture per row, by vectorised bisection of its CDF.

    The q-quantile of a mixture lies between the smallest and the largest of its components'
    q-quantiles (the mixture CDF is a weighted average of theirs), so that bracket is halved
    until its width is below ``rtol`` relative to the quantile's size (about 45 halvings).

    Parameters
    ----------
    means : ndarray of shape (n, K)
    sds : ndarray of shape (K,) or (n, K)
    weights : ndarray of shape (n, K)
        Rows sum to 1.
    probs : array-like of shape (m,)
        Probabilities strictly between 0 and 1.

    Returns
    -------
    q : ndarray of shape (n, m)
    """
    probs = np.atleast_1d(np.asarray(probs, dtype=float))
    means = np.asarray(means, dtype=float)[:, None, :]  # (n, 1, K)
    sds = np.broadcast_to(np.asarray(sds, dtype=float), means.shape[::2])[:, None, :]
    weights = np.asarray(weights, dtype=float)[:, None, :]
    comp_q = means + sds * ndtri(probs)[None, :, None]  # (n, m, K)
    # components with no weight do not move the quantile: leave them out of the bracket
    live = np.broadcast_to(weights > 0, comp_q.shape)
    lo = np.min(np.where(live, comp_q, np.inf), axis=-1)
    hi = np.max(np.where(live, comp_q, -np.inf), axis=-1)
    for _ in range(max_iter):
        mid = 0.5 * (lo + hi)
        below = mixture_cdf(mid, means, sds, weights) < probs
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
        if np.all(hi - lo <= rtol * np.maximum(1.0, np.abs(mid))):
            break
    return 0.5 * (lo + hi)


def predict_interval(fit: FittedMixture, X: np.ndarray, level: Any = 0.95) -> np.ndarray:
    """Central predictive interval of a new response at each row, shape (n, 2).

    The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the fitted mixture at ``x``
    (parameters treated as known: estimation uncertainty is not included).
    """
    return interval_from(
        component_means(fit, X), component_sds(fit), prior_membership(fit, X), level
    )


def interval_from(means: np.ndarray, sds: np.ndarray, prior: np.ndarray, level: Any) -> np.ndarray:
    """:func:`predict_interval` from each row's component means (n, K), the sds (K,) and the
    prior membership (n, K) (the extended model supplies its own)."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level must be a number strictly between 0 and 1; got {level!r}.")
    probs = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    return mixture_quantiles(means, sds, prior, probs)


def sample(
    fit: FittedMixture, X: np.ndarray, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one response per row from the fitted mixture: ``(y, labels)``, each of shape (n,).

    Labels are drawn by inverting each row's cumulative prior membership with one uniform per
    row (with constant weights, the same draws as ``rng.choice(K, n, p=weights)``), then
    ``y = mu_label + s_label * N(0, 1)``.
    """
    return sample_from(
        component_means(fit, X), component_sds(fit), prior_membership(fit, X), random_state
    )


def sample_from(
    means: np.ndarray, sds: np.ndarray, prior: np.ndarray, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sample` from each row's component means (n, K), sds (K,) and prior (n, K)."""
    rng = check_random_state(random_state)
    n = means.shape[0]
    cdf = np.cumsum(prior, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(n)
    labels = np.minimum(np.sum(cdf <= u[:, None], axis=1), cdf.shape[1] - 1)
    mu = means[np.arange(n), labels]
    y = mu + sds[labels] * rng.standard_normal(n)
    return y, labels


def mean_loglik(fit: FittedMixture, X: np.ndarray, y: np.ndarray) -> float:
    """Mean log-likelihood per observation, ``mean_i log sum_k pi_k N(y_i | mu_ik, s_k^2)``."""
    ll = lik.pointwise_loglik(X, y, fit.weights, fit.intercept, fit.coef, component_sds(fit))
    return float(np.mean(ll))
