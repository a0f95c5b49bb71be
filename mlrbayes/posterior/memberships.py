"""Membership probabilities and log-likelihoods of every posterior draw, a chunk at a time.

One function, :func:`draw_memberships`, evaluates :func:`mlrbayes.likelihood.log_responsibilities`
(the EM E-step) for all draws, ``chunk_draws`` draws at a time so that the temporaries stay at
``chains * chunk_draws * n * K`` floats. Relabelling (Stephens, ECR), the diagnosis, the
pointwise log-likelihood group of a sample and :func:`posterior_responsibilities` all use it.

For the extended model (gating covariates, fixed coefficients, groups, weights) it evaluates
:func:`mlrbayes.likelihood.log_joint` per unit (a group, or an observation) instead: the
membership probabilities of a unit are those of each of its observations, and the
log-likelihood weights each unit's term by its observation weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import likelihood
from .._validation import check_positive_int
from ..spec import Dataset, as_dataset
from .draws import PosteriorDraws, check_data, data_from_datatree

__all__ = [
    "DrawMemberships",
    "check_parts",
    "draw_memberships",
    "posterior_responsibilities",
    "reference_memberships",
]


@dataclass(frozen=True, eq=False)
class DrawMemberships:
    """Per-draw quantities of :func:`draw_memberships`.

    Attributes
    ----------
    loglik : ndarray of shape (chain, draw)
        Mixture log-likelihood of each draw.
    probabilities : ndarray of shape (chain, draw, n, K) or None
        Membership probabilities (rows sum to 1), when asked for.
    pointwise : ndarray of shape (chain, draw, n) or (chain, draw, G) or None
        Log-likelihood of each observation (of each group, with groups; times its weight,
        with weights), when asked for; they sum to ``loglik``.
    """

    loglik: np.ndarray
    probabilities: np.ndarray | None = None
    pointwise: np.ndarray | None = None


def draw_memberships(
    draws: PosteriorDraws,
    data: Dataset,
    *,
    chunk_draws: int = 100,
    probabilities: bool = True,
    pointwise: bool = False,
) -> DrawMemberships:
    """Membership probabilities and log-likelihoods of all draws, chunked over draws.

    Parameters
    ----------
    draws : PosteriorDraws
    data : Dataset
        ``X`` (n, p) with the draws' ``p`` predictors and ``y`` (n,), and the extended
        model's parts the draws have (gating covariates, fixed predictors, groups, weights).
    chunk_draws : int, default 100
        Draws per chunk (per chain).
    probabilities, pointwise : bool
        Which of the large outputs to keep ((chain, draw, n, K) and (chain, draw, n) floats).

    Returns
    -------
    DrawMemberships
    """
    chunk_draws = check_positive_int(chunk_draws, "chunk_draws")
    check_data(draws, data)
    n_chain, n_draw, k = draws.weights.shape
    n = data.n_samples
    probs = np.empty((n_chain, n_draw, n, k)) if probabilities else None
    point = np.empty((n_chain, n_draw, n)) if pointwise else None
    loglik = np.empty((n_chain, n_draw))
    if not data.is_plain:
        return _extended_memberships(draws, data, chunk_draws, probabilities, pointwise)
    for lo in range(0, n_draw, chunk_draws):
        sl = slice(lo, min(lo + chunk_draws, n_draw))
        log_r, pw = likelihood.log_responsibilities(
            data.X,
            data.y,
            draws.weights[:, sl],
            draws.intercept[:, sl],
            draws.coef[:, sl],
            draws.sigma[:, sl],
        )
        loglik[:, sl] = pw.sum(-1)
        if probs is not None:
            probs[:, sl] = np.exp(log_r, out=log_r)
        if point is not None:
            point[:, sl] = pw
    return DrawMemberships(loglik=loglik, probabilities=probs, pointwise=point)


def reference_memberships(
    data: Dataset, weights, intercept, coef, sigma, *, gating=None, fixed=None
) -> np.ndarray:
    """Membership probabilities of every observation under one parameter set (e.g. the EM
    estimate), shape (n_samples, K); with groups each observation gets its group's.

    Parameters
    ----------
    data : Dataset
    weights, intercept : ndarray of shape (K,)
    coef : ndarray of shape (K, p)
    sigma : float or ndarray of shape (K,)
    gating : ndarray of shape (K, q), optional
        Needed when ``data`` has concomitant covariates.
    fixed : ndarray of shape (r,), optional
        Needed when ``data`` has fixed predictors.
    """
    if data.is_plain:
        return likelihood.responsibilities(data.X, data.y, weights, intercept, coef, sigma)
    lj = likelihood.log_joint(
        data, intercept, coef, sigma, weights=weights, gating=gating, fixed=fixed
    )
    lj -= likelihood.logsumexp_lastaxis(lj)[..., None]
    p = np.exp(lj)
    return p if data.groups is None else p[data.groups]


def check_parts(draws: PosteriorDraws, data: Dataset) -> None:
    """Raise ``ValueError`` unless the draws and the data have the same gating covariates and
    fixed predictors."""
    for part, arr, names in (
        ("gating", draws.gating, "concomitant_names"),
        ("fixed", draws.fixed, "fixed_names"),
    ):
        attr = "concomitant" if part == "gating" else "fixed"
        has_data = getattr(data, attr) is not None
        if (arr is not None) != has_data or (
            has_data and list(getattr(draws, names)) != list(getattr(data, names))
        ):
            raise ValueError(
                f"the draws have {part} coefficients for {list(getattr(draws, names))} but the "
                f"data have {attr} columns {list(getattr(data, names))}; pass the data the "
                "posterior was sampled from."
            )


def _extended_memberships(
    draws: PosteriorDraws, data: Dataset, chunk_draws: int, probabilities: bool, pointwise: bool
) -> DrawMemberships:
    """:func:`draw_memberships` of the extended model, through ``likelihood.log_joint``."""
    check_parts(draws, data)
    n_chain, n_draw, k = draws.weights.shape
    n_units = data.n_samples if data.groups is None else data.n_groups
    v = likelihood.unit_weights(data)
    probs = np.empty((n_chain, n_draw, data.n_samples, k)) if probabilities else None
    point = np.empty((n_chain, n_draw, n_units)) if pointwise else None
    loglik = np.empty((n_chain, n_draw))
    for lo in range(0, n_draw, chunk_draws):
        sl = slice(lo, min(lo + chunk_draws, n_draw))
        lj = likelihood.log_joint(
            data,
            draws.intercept[:, sl],
            draws.coef[:, sl],
            draws.sigma[:, sl],
            weights=draws.weights[:, sl],
            gating=None if draws.gating is None else draws.gating[:, sl],
            fixed=None if draws.fixed is None else draws.fixed[:, sl],
        )  # (chain, chunk, n_units, K)
        lse = likelihood.logsumexp_lastaxis(lj)
        pw = lse if v is None else lse * v
        loglik[:, sl] = pw.sum(-1)
        if point is not None:
            point[:, sl] = pw
        if probs is not None:
            lj -= lse[..., None]
            np.exp(lj, out=lj)
            probs[:, sl] = lj if data.groups is None else lj[..., data.groups, :]
    return DrawMemberships(loglik=loglik, probabilities=probs, pointwise=point)


def posterior_responsibilities(idata: Any, X=None, y=None, *, chunk_draws: int = 100) -> np.ndarray:
    """Membership probabilities of every observation under every posterior draw.

    Computed with :func:`mlrbayes.likelihood.responsibilities` (the EM E-step), a chunk of
    draws at a time so that temporaries stay at ``chains * chunk_draws * n * K`` floats.

    Parameters
    ----------
    idata : xarray.DataTree or PosteriorDraws
        From :func:`mlrbayes.bayes.sample_posterior` (or :func:`mlrbayes.bayes.load_posterior`).
    X : array-like of shape (n_samples, n_features), optional
        Defaults to ``constant_data.X``.
    y : array-like of shape (n_samples,), optional
        Defaults to ``observed_data.y``.
    chunk_draws : int, default 100

    Returns
    -------
    ndarray of shape (chain, draw, n_samples, K)
        Rows sum to 1. The output itself takes ``chain * draw * n * K * 8`` bytes.
    """
    chunk_draws = check_positive_int(chunk_draws, "chunk_draws")
    if isinstance(idata, PosteriorDraws):
        draws, source = idata, idata.source
    else:
        draws, source = PosteriorDraws.from_datatree(idata), idata
    data = as_dataset(X, y) if source is None else data_from_datatree(source, X, y)
    return draw_memberships(draws, data, chunk_draws=chunk_draws).probabilities
