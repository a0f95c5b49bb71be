"""Refitting the model to data simulated from a fit: the step the bootstrap and calibration share.

A parametric bootstrap and a calibration study both (1) simulate a response from a fitted
model at the user's own design, (2) refit the model with the user's settings and (3) give the
refit's components the labels of the reference fit, so that "component 0" means the same line
in every replication. This module does those three steps and nothing else; the loops over
replications (and their seeding, parallelism and progress) belong to the callers.

Labels are aligned by the permutation that minimises the squared distance between the refit's
and the reference's component parameters (intercept, slopes, σ and weight), each parameter
scaled by the reference's standard error of it (so that no single parameter's units dominate,
and a parameter the components share nearly equally, e.g. weights near 0.5/0.5, does not
decide the labels on its noise); where the SE is unavailable, by the reference's spread of that
parameter across components, floored (:func:`align_to`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .em.fit import fit_em
from .permutations import best_permutations
from .spec import Dataset

__all__ = ["align_to", "fit_settings", "permute_result", "refit", "simulate_response"]


def fit_settings(em) -> dict[str, Any]:
    """The keyword arguments of :func:`mlrbayes.fit_em` that reproduce ``em``'s model.

    The σ setting (a known σ is passed as its value), the intercept and the order of the
    components.
    """
    sigma = np.copy(em.sigma) if em.sigma_setting == "known" else em.sigma_setting
    return {"sigma": sigma, "fit_intercept": em.fit_intercept, "order": em.order}


def simulate_response(em, data: Dataset, random_state: Any = None) -> np.ndarray:
    """One response (n_samples,) drawn from the fitted model ``em`` at ``data``'s design."""
    y, _ = em.sample(data, random_state=random_state)
    return y


def _component_matrix(em) -> np.ndarray:
    """(K, m): each component's intercept, slopes, σ and weight side by side."""
    k = em.n_components
    sig = np.broadcast_to(np.asarray(em.sigma, dtype=float), (k,))
    cols = [np.asarray(em.intercept, float)[:, None], np.asarray(em.coef, float), sig[:, None]]
    cols.append(np.asarray(em.weights, float)[:, None])
    return np.hstack(cols)


def _component_se(em, shape: tuple[int, int]) -> np.ndarray:
    """(K, m): the standard errors of :func:`_component_matrix`'s columns (NaN if missing)."""
    se = getattr(em, "standard_errors", None) or {}
    k = em.n_components
    try:
        cols = [
            np.broadcast_to(np.asarray(se.get("intercept", np.nan), float), (k,))[:, None],
            np.broadcast_to(np.asarray(se.get("coef", np.nan), float), (k, shape[1] - 3)),
            np.broadcast_to(np.asarray(se.get("sigma", np.nan), float), (k,))[:, None],
            np.broadcast_to(np.asarray(se.get("weights", np.nan), float), (k,))[:, None],
        ]
    except ValueError:  # SEs of another shape (e.g. a dropped predictor): not used
        return np.full(shape, np.nan)
    return np.hstack(cols)


def align_to(result, reference) -> np.ndarray:
    """The permutation ``perm`` (K,) giving ``result``'s components ``reference``'s labels.

    ``perm[j]`` is the component of ``result`` that becomes component ``j`` (the convention of
    :mod:`mlrbayes.permutations`).
    """
    ref = _component_matrix(reference)
    new = _component_matrix(result)
    spread = ref.std(axis=0)
    floor = 0.1 * np.max(np.abs(ref), axis=0)  # a near-tie across components is not a unit
    scale = np.maximum(spread, floor)
    se = _component_se(reference, ref.shape)
    scale = np.where(np.isfinite(se) & (se > 0), se, scale)
    scale = np.where(scale > 0, scale, 1.0)
    diff = (ref[:, None, :] - new[None, :, :]) / scale[:, None, :]  # reference j's scale
    cost = np.sum(diff**2, axis=-1)  # cost[j, l]: new component l labelled j
    return best_permutations(cost)


def permute_result(result, perm: np.ndarray):
    """``result`` with its components reordered by ``perm`` (parameters and responsibilities).

    The standard errors and the covariance are recomputed by the caller if needed; here they
    are permuted where they are per component and dropped (set to ``None``) otherwise.
    """
    perm = np.asarray(perm, dtype=np.intp)
    sig = result.sigma
    if np.ndim(sig) == 1:
        sig = np.asarray(sig)[perm]
    se = dict(result.standard_errors)
    for key in ("weights", "intercept", "coef"):
        if key in se:
            se[key] = np.asarray(se[key])[perm]
    if "sigma" in se and np.ndim(se["sigma"]) == 1:
        se["sigma"] = np.asarray(se["sigma"])[perm]
    return replace(
        result,
        weights=np.asarray(result.weights)[perm],
        intercept=np.asarray(result.intercept)[perm],
        coef=np.asarray(result.coef)[perm],
        sigma=sig,
        responsibilities=np.asarray(result.responsibilities)[:, perm],
        standard_errors=se,
        covariance=None,
    )


def refit(em, data: Dataset, y: np.ndarray, *, n_init: int = 3, random_state: Any = None,
          **fit_kwargs: Any):  # fmt: skip
    """Refit ``em``'s model to ``data`` with response ``y`` and align the labels to ``em``.

    The first start is ``em`` itself (the truth, in a simulation from ``em``); the other
    ``n_init - 1`` starts follow ``fit_em``'s default strategy, so a refit can find a better
    optimum than the one near the truth. Extra keywords go to :func:`mlrbayes.fit_em`
    (``compute_se``, ``tol``, ...).

    Returns
    -------
    EMResult
        With components in ``em``'s labels; its ``covariance`` is ``None`` (per-component SEs
        are permuted).
    """
    settings = fit_settings(em)
    settings.update(fit_kwargs)
    settings.setdefault("progressbar", False)
    new = data.with_response(y)
    res = fit_em(new, None, em.n_components, init=em, n_init=n_init, random_state=random_state,
                 **settings)  # fmt: skip
    return permute_result(res, align_to(res, em))
