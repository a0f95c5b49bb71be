r"""Predictions of a fitted *extended* model (gating, fixed coefficients, groups) for new data.

For a new row with predictors :math:`x`, fixed-coefficient predictors :math:`u` and gating
covariates :math:`w`:

.. math::

    p(y \mid x, u, w) = \sum_k \pi_k(w)\, \mathcal N(y \mid b_k + c_k^\top x + \delta^\top u,
    \ \sigma_k^2), \qquad \pi_k(w) = \mathrm{softmax}_k(w^\top \gamma_k).

A model fitted with gating covariates needs them for every prediction that uses the prior
membership, and a model with fixed coefficients needs ``u`` for every mean: leaving them out
raises a ValueError naming the missing argument (nothing is silently ignored). New groups are
optional: with them, :func:`membership` gives each observation its group's membership.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import likelihood as lik
from .._validation import check_X
from ..spec import Dataset, as_dataset

__all__ = ["check_new_data", "component_means", "mean_loglik", "membership", "prior"]


def _sds(fit) -> np.ndarray:
    return np.broadcast_to(np.asarray(fit.sigma, dtype=float), (len(fit.weights),)).copy()


def check_new_data(
    fit, X: Any, y: Any = None, *, concomitant: Any = None, fixed: Any = None,
    groups: Any = None, weights: Any = None, need: tuple[str, ...] = ("concomitant", "fixed"),
) -> Dataset:  # fmt: skip
    """New data as a Dataset, checked against the parts the fitted model has.

    ``y`` may be omitted (a placeholder of zeros is used) for predictions that do not read it.
    ``need`` names the parts the prediction uses (a missing one that the model has raises).
    """
    if isinstance(X, Dataset):
        data = as_dataset(
            X, y, concomitant=concomitant, fixed=fixed, groups=groups, sample_weight=weights
        )
    else:
        if y is None:
            y = np.zeros(check_X(X)[0].shape[0])
        data = as_dataset(
            X, y, concomitant=concomitant, fixed=fixed, groups=groups, sample_weight=weights
        )
    if data.n_features != fit.n_features:
        raise ValueError(
            f"X has {data.n_features} columns but the model was fitted with {fit.n_features} "
            f"({fit.feature_names}); pass the same predictors."
        )
    if "concomitant" in need or data.concomitant is not None:
        _check_part(data.concomitant, fit.gating_coef, "concomitant", fit.concomitant_names, 1)
    if "fixed" in need or data.fixed is not None:
        _check_part(data.fixed, fit.fixed_coef, "fixed", fit.fixed_names, 0)
    return data


def _check_part(arr, coef, name: str, names, offset: int) -> None:
    if coef is None and arr is not None:
        raise ValueError(
            f"the model was fitted without {name} predictors; drop {name}= (or refit with it)."
        )
    if coef is None:
        return
    if arr is None:
        raise ValueError(
            f"the model was fitted with {name} predictors {list(names)[offset:]}; pass "
            f"{name}= with one row per observation and {len(names) - offset} column(s)."
        )
    if arr.shape[1] != coef.shape[-1]:
        raise ValueError(
            f"{name} has {arr.shape[1] - offset} column(s) but the model was fitted with "
            f"{len(names) - offset} ({list(names)[offset:]}); pass the same columns."
        )


def prior(fit, data: Dataset) -> np.ndarray:
    """Prior membership of each new row, shape (n, K) (rows: observations, not groups)."""
    n, k = data.n_samples, len(fit.weights)
    if fit.gating_coef is None:
        return np.broadcast_to(np.asarray(fit.weights, dtype=float), (n, k)).copy()
    eta = data.concomitant @ fit.gating_coef.T
    return np.exp(eta - lik.logsumexp_lastaxis(eta)[:, None])


def component_means(fit, data: Dataset) -> np.ndarray:
    """``b_k + c_k^T x_i + delta^T u_i``, shape (n, K)."""
    mu = lik.component_means(data.X, fit.intercept, fit.coef)
    if fit.fixed_coef is not None:
        mu += (data.fixed @ fit.fixed_coef)[:, None]
    return mu


def _log_joint(fit, data: Dataset) -> np.ndarray:
    return lik.log_joint(
        data,
        fit.intercept,
        fit.coef,
        _sds(fit),
        weights=fit.weights,
        gating=fit.gating_coef,
        fixed=fit.fixed_coef,
    )


def membership(fit, data: Dataset) -> np.ndarray:
    """Membership given the response, shape (n, K): with new groups, each observation gets its
    group's membership (from the group's summed log-densities)."""
    lj = _log_joint(fit, data)
    tau = np.exp(lj - lik.logsumexp_lastaxis(lj)[:, None])
    return tau if data.groups is None else tau[data.groups]


def mean_loglik(fit, data: Dataset) -> float:
    """Weighted log-likelihood of the new data per unit of weight (per observation without
    weights; with groups the groups' log-likelihoods over the number of observations)."""
    lse = lik.logsumexp_lastaxis(_log_joint(fit, data))
    v = lik.unit_weights(data)
    total = lse.sum() if v is None else lse @ v
    n = data.n_samples if data.sample_weight is None else float(data.sample_weight.sum())
    return float(total / n)
