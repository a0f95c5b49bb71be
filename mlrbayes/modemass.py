r"""Relative posterior mass of modes: a Laplace approximation from each mode's own draws.

Chains started in the basin of an inferior optimum stay there, so the share of chains (or of
draws) in a mode says where the chains were started, not how much posterior mass the mode
holds. For a mode :math:`m` whose draws :math:`\theta_{m,i}` (in the sampler's unconstrained
space, dimension :math:`d`) are roughly normal with covariance :math:`\Sigma_m`,

.. math::

    \log \int_{\text{mode } m} e^{\ell(\theta)}\, d\theta \approx \overline{\ell}_m + \frac d2
    + \frac12 \log\det\Sigma_m + \frac d2 \log 2\pi,

where :math:`\ell` is the unnormalised log density in that space (log prior + log-likelihood +
log-Jacobian of the transform) and :math:`\overline{\ell}_m` its mean over the mode's draws (for
a normal density the mean of :math:`\ell` lies :math:`d/2` below its maximum). Normalising over
the modes gives each mode's relative mass. A linear change of the unconstrained coordinates
adds the same constant to every mode, so only the transform's non-linear part matters: the
weights are mapped by the additive log-ratio :math:`\log w_k - \log w_K` (PyMC's simplex
transform is a linear map of it) and every sd by its logarithm, as in PyMC.

:func:`log_density` gives :math:`\ell` per draw: the sampler's own log density
(``sample_stats.lp``/``logp``, which includes the Jacobian) when stored, else the mixture
log-likelihood plus the log-Jacobian (a flat prior: a fair approximation when the data dominate
the prior, as they must for a mode to be a mode).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .posterior.draws import PosteriorDraws

__all__ = ["laplace_log_mass", "log_density", "relative_mass", "unconstrained"]


def unconstrained(draws: PosteriorDraws) -> np.ndarray:
    """The draws in unconstrained coordinates, (chain, draw, d).

    Columns: additive log-ratios of the weights (K - 1), intercepts (when fitted), slopes
    (K p), log sigma (1 shared, K per component, none when known).
    """
    w = np.clip(draws.weights, 1e-300, None)
    parts = [np.log(w[..., :-1]) - np.log(w[..., -1:])]
    if draws.fit_intercept:
        parts.append(draws.intercept)
    parts.append(draws.coef.reshape(*draws.coef.shape[:2], -1))
    if draws.sigma_setting == "shared":
        parts.append(np.log(draws.sigma[..., :1]))
    elif draws.sigma_setting == "component":
        parts.append(np.log(draws.sigma))
    return np.concatenate(parts, axis=-1)


def log_density(draws: PosteriorDraws, loglik: np.ndarray) -> tuple[np.ndarray, str]:
    """Unnormalised log density of every draw in the coordinates of :func:`unconstrained`.

    Parameters
    ----------
    draws : PosteriorDraws
    loglik : ndarray of shape (chain, draw)
        Mixture log-likelihood of every draw (used when the sampler stored no log density).

    Returns
    -------
    lp : ndarray of shape (chain, draw)
    source : str
        ``"sampler"`` (the sampler's log density) or ``"loglik"`` (log-likelihood plus
        log-Jacobian, priors left out).
    """
    if draws.log_posterior is not None and np.all(np.isfinite(draws.log_posterior)):
        return np.asarray(draws.log_posterior, dtype=float), "sampler"
    w = np.clip(draws.weights, 1e-300, None)
    jac = np.log(w).sum(axis=-1)  # |d w / d alr| = prod_k w_k
    if draws.sigma_setting == "shared":
        jac = jac + np.log(draws.sigma[..., 0])
    elif draws.sigma_setting == "component":
        jac = jac + np.log(draws.sigma).sum(axis=-1)
    return np.asarray(loglik, dtype=float) + jac, "loglik"


def laplace_log_mass(lp: np.ndarray, theta: np.ndarray) -> float:
    """Laplace estimate of the log mass of one mode from its draws.

    Parameters
    ----------
    lp : ndarray of shape (n,)
        Unnormalised log density of each draw.
    theta : ndarray of shape (n, d)
        The draws in the coordinates of ``lp``.

    Returns
    -------
    float
        ``mean(lp) + d/2 + log det(cov)/2 + d log(2 pi)/2``; ``-inf`` for a singular
        covariance or fewer than ``d + 2`` draws.
    """
    lp = np.asarray(lp, dtype=float).ravel()
    theta = np.asarray(theta, dtype=float).reshape(lp.size, -1)
    d = theta.shape[1]
    if lp.size < d + 2:
        return float("-inf")
    cov = np.atleast_2d(np.cov(theta, rowvar=False))
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0 or not np.isfinite(logdet):
        return float("-inf")
    return float(np.mean(lp) + 0.5 * d + 0.5 * logdet + 0.5 * d * np.log(2 * np.pi))


def relative_mass(log_mass: Any) -> np.ndarray:
    """Normalised masses ``exp(log_mass) / sum(exp(log_mass))``, (M,); NaN when all are -inf."""
    lm = np.asarray(log_mass, dtype=float)
    if not np.any(np.isfinite(lm)):
        return np.full(lm.shape, np.nan)
    e = np.exp(lm - np.max(lm[np.isfinite(lm)]))
    return e / e.sum()
