"""The numbers behind the posterior-check figures, in NumPy (no PyMC, no ArviZ).

Replicated responses for the posterior predictive check, standardised residuals per component,
rank-normalised draws for rank plots, histogram densities on a shared grid, the energy BFMI and
the prior densities of the model's parameters. The figures of :mod:`mlrbayes.plots.posterior`
draw what these return.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "bfmi",
    "even_index",
    "histogram_density",
    "prior_density",
    "ranks",
    "replicate_y",
    "standardized_residuals",
]


def even_index(n: int, at_most: int) -> np.ndarray:
    """At most ``at_most`` indices into ``range(n)``, evenly spaced (all of them when fewer)."""
    if n <= at_most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, at_most).round().astype(int))


def replicate_y(
    X: np.ndarray,
    weights: np.ndarray,
    intercept: np.ndarray,
    coef: np.ndarray,
    sigma: np.ndarray,
    *,
    seed: int = 0,
) -> np.ndarray:
    """Responses simulated from posterior draws at the observed predictors.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    weights, intercept, sigma : ndarray of shape (S, K)
        One row per posterior draw used.
    coef : ndarray of shape (S, K, p)
    seed : int
        Seed of the NumPy generator (the figure is reproducible).

    Returns
    -------
    ndarray of shape (S, n)
        Row ``s``: each observation's component drawn from ``weights[s]``, then
        ``intercept[s, z] + X @ coef[s, z] + sigma[s, z] * e`` with ``e ~ N(0, 1)``.
    """
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    out = np.empty((weights.shape[0], n))
    for s in range(weights.shape[0]):
        w = np.clip(weights[s], 0.0, None)
        z = rng.choice(w.shape[0], size=n, p=w / w.sum())
        mean = intercept[s, z] + np.einsum("ij,ij->i", X, coef[s, z])
        out[s] = mean + sigma[s, z] * rng.standard_normal(n)
    return out


def histogram_density(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Density histogram of each row of ``values`` on shared bin ``edges``.

    Parameters
    ----------
    values : ndarray of shape (m, n) or (n,)
    edges : ndarray of shape (B + 1,)

    Returns
    -------
    ndarray of shape (m, B) (or (B,) for 1-d input); values outside the edges are dropped
    from the counts but not from the normalisation, so areas compare honestly.
    """
    v = np.atleast_2d(values)
    width = np.diff(edges)
    out = np.empty((v.shape[0], width.shape[0]))
    for i, row in enumerate(v):
        counts, _ = np.histogram(row, bins=edges)
        out[i] = counts / (row.shape[0] * width)
    return out if np.ndim(values) == 2 else out[0]


def standardized_residuals(
    X: np.ndarray, y: np.ndarray, intercept: np.ndarray, coef: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """``(y - intercept_k - X @ coef_k) / sigma_k`` for every observation and component.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    y : ndarray of shape (n,)
    intercept, sigma : ndarray of shape (K,)
    coef : ndarray of shape (K, p)

    Returns
    -------
    ndarray of shape (n, K)
    """
    return (y[:, None] - intercept[None, :] - X @ coef.T) / sigma[None, :]


def ranks(draws: np.ndarray) -> np.ndarray:
    """Ranks of each parameter's draws pooled over chains (0 … chains·draws − 1).

    Parameters
    ----------
    draws : ndarray of shape (chain, draw, P)

    Returns
    -------
    ndarray of int, shape (chain, draw, P)
    """
    c, d, p = draws.shape
    flat = draws.reshape(c * d, p)
    order = np.argsort(flat, axis=0, kind="stable")
    r = np.empty_like(order)
    np.put_along_axis(r, order, np.arange(c * d)[:, None], axis=0)
    return r.reshape(c, d, p)


def bfmi(energy: np.ndarray) -> np.ndarray:
    """Energy Bayesian fraction of missing information per chain (Betancourt 2016):
    ``mean(diff(E)**2) / var(E)`` for the energy ``E`` of shape (chain, draw).

    Returns
    -------
    ndarray of shape (chain,)
        Values below 0.3 suggest the sampler explores the
        tails poorly.
    """
    e = np.asarray(energy, dtype=float)
    return np.mean(np.diff(e, axis=1) ** 2, axis=1) / np.var(e, axis=1)


def prior_density(
    kind: str, index: tuple[int, ...], priors: Mapping[str, Any], n_components: int, grid: Any
) -> np.ndarray:
    """Marginal prior density of one parameter of the model on ``grid``.

    Parameters
    ----------
    kind : {"weights", "intercept", "coef", "sigma"}
    index : tuple of int
        ``(k,)`` for a component's weight, intercept or sigma, ``(k, j)`` for ``coef[k, j]``,
        ``()`` for a shared sigma.
    priors : mapping
        As :func:`mlrbayes.priors.resolve_priors` returns: weights ~ Dirichlet(alpha),
        intercept ~ Normal(mu, sigma), coef ~ Normal(mu, sigma) (per feature), sigma ~
        HalfNormal(sigma).
    n_components : int
    grid : array-like of shape (G,)

    Returns
    -------
    ndarray of shape (G,)
        The Dirichlet's marginal for a weight is Beta(alpha_k, sum(alpha) - alpha_k).
    """
    g = np.asarray(grid, dtype=float)
    spec = priors[kind]

    def pick(key: str, pos: int) -> float:
        v = np.ravel(np.asarray(spec[key], dtype=float))
        return float(v[pos] if v.size > 1 else v[0])

    if kind == "weights":
        alpha = np.broadcast_to(np.ravel(np.asarray(spec["alpha"], dtype=float)), (n_components,))
        k = index[0]
        return stats.beta.pdf(g, alpha[k], alpha.sum() - alpha[k])
    if kind == "sigma":
        return stats.halfnorm.pdf(g, scale=pick("sigma", index[0] if index else 0))
    pos = index[-1] if kind == "coef" else 0
    return stats.norm.pdf(g, loc=pick("mu", pos), scale=pick("sigma", pos))
