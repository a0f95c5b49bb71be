"""Membership probabilities and log-likelihoods of every posterior draw, a chunk at a time.

One function, :func:`draw_memberships`, evaluates :func:`mlrbayes.likelihood.log_responsibilities`
(the EM E-step) for all draws, ``chunk_draws`` draws at a time so that the temporaries stay at
``chains * chunk_draws * n * K`` floats. Relabelling (Stephens, ECR), the diagnosis, the
pointwise log-likelihood group of a sample and :func:`posterior_responsibilities` all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import likelihood
from .._validation import check_positive_int
from ..spec import Dataset, as_dataset
from .draws import PosteriorDraws, check_data, data_from_datatree

__all__ = ["DrawMemberships", "draw_memberships", "posterior_responsibilities"]


@dataclass(frozen=True, eq=False)
class DrawMemberships:
    """Per-draw quantities of :func:`draw_memberships`.

    Attributes
    ----------
    loglik : ndarray of shape (chain, draw)
        Mixture log-likelihood of each draw.
    probabilities : ndarray of shape (chain, draw, n, K) or None
        Membership probabilities (rows sum to 1), when asked for.
    pointwise : ndarray of shape (chain, draw, n) or None
        Log-likelihood of each observation, when asked for.
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
        ``X`` (n, p) with the draws' ``p`` predictors and ``y`` (n,).
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
