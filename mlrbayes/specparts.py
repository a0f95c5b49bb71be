"""The extended model's parts of a comparison, as plain numbers for the report and the JSON.

:func:`specification_parts` gathers, from an EM fit, its comparison table, the posterior draws
and the data:

* ``gating`` — the gating coefficients γ (centred: they sum to 0 over the components), one row
  per component and gating covariate with the EM estimate and standard error beside the
  posterior mean, sd and HDI;
* ``fixed`` — the coefficients shared by all components, the same columns;
* ``groups`` — every group's label, size and membership probabilities: EM's (the E-step at the
  estimate) and the posterior mean over (thinned) draws of the group's membership;
* ``weighted`` — whether observation weights were used.

:func:`prior_membership_curves` gives the figure of the gating model its numbers: the prior
membership probability ``softmax_k(w^T γ_k)`` along each gating covariate (the others at their
means), at the EM estimate and as a pointwise band over the posterior draws.

Everything here is NumPy over arrays already computed; the membership of a group per draw is
:func:`mlrbayes.likelihood.log_joint`, chunked over draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import likelihood

__all__ = ["MAX_MEMBERSHIP_DRAWS", "prior_membership_curves", "specification_parts"]

#: Draws (evenly spaced over all chains) used for posterior group memberships and gating bands.
MAX_MEMBERSHIP_DRAWS = 400
_ROW_KEYS = ("em", "em_se", "post_mean", "post_sd", "hdi_low", "hdi_high", "z", "flag")


def _rows(table: Any, prefix: str) -> list[dict[str, Any]]:
    """Rows of the comparison table whose name starts with ``prefix``."""
    if table is None:
        return []
    sub = table[table["name"].str.startswith(prefix)]
    return [{"name": r["name"], **{k: r[k] for k in _ROW_KEYS}} for _, r in sub.iterrows()]


def _thin(draws: Any, max_draws: int = MAX_MEMBERSHIP_DRAWS) -> dict[str, np.ndarray | None]:
    """Evenly spaced draws pooled over chains: intercept, coef, sigma, weights, gating, fixed
    with one leading draw axis."""
    n_total = draws.n_chains * draws.n_draws
    keep = np.unique(np.linspace(0, n_total - 1, min(max_draws, n_total)).round().astype(int))

    def pick(a: Any) -> np.ndarray | None:
        if a is None:
            return None
        a = np.asarray(a, dtype=float)
        return a.reshape(n_total, *a.shape[2:])[keep]

    return {
        "intercept": pick(draws.intercept),
        "coef": pick(draws.coef),
        "sigma": pick(draws.sigma),
        "weights": pick(draws.weights),
        "gating": pick(getattr(draws, "gating", None)),
        "fixed": pick(getattr(draws, "fixed", None)),
    }


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def em_unit_memberships(em: Any, data: Any) -> np.ndarray:
    """EM's membership probabilities per unit (group or observation), shape (n_units, K)."""
    n_units = None if data is None or data.groups is None else data.n_groups
    unit = getattr(em, "unit_responsibilities", None)
    if unit is not None and (n_units is None or len(unit) == n_units):
        return np.asarray(unit, dtype=float)
    resp = np.asarray(em.responsibilities, dtype=float)
    if data is None or data.groups is None:
        return resp
    first = np.zeros(data.n_groups, dtype=np.intp)
    first[data.groups[::-1]] = np.arange(data.n_samples)[::-1]
    return resp[first]


def posterior_unit_memberships(draws: Any, data: Any, *, chunk: int = 50) -> np.ndarray | None:
    """Posterior mean of each unit's membership probabilities, (n_units, K), from at most
    :data:`MAX_MEMBERSHIP_DRAWS` draws; None when the draws lack a part the data need."""
    t = _thin(draws)
    if (data.concomitant is not None and t["gating"] is None) or (
        data.fixed is not None and t["fixed"] is None
    ):
        return None
    total = None
    for i in range(0, t["intercept"].shape[0], chunk):
        sl = slice(i, i + chunk)
        lj = likelihood.log_joint(
            data,
            t["intercept"][sl],
            t["coef"][sl],
            t["sigma"][sl],
            weights=t["weights"][sl],
            gating=None if data.concomitant is None else t["gating"][sl],
            fixed=None if data.fixed is None else t["fixed"][sl],
        )
        part = _softmax(lj).sum(axis=0)
        total = part if total is None else total + part
    return total / t["intercept"].shape[0]


def _groups_part(em: Any, draws: Any, data: Any) -> dict[str, Any] | None:
    if data is None or data.groups is None:
        return None
    em_m = em_unit_memberships(em, data)
    post = None if draws is None else posterior_unit_memberships(draws, data)
    return {
        "n_groups": int(data.n_groups),
        "labels": list(data.group_labels),
        "sizes": np.bincount(data.groups, minlength=data.n_groups).tolist(),
        "em_membership": em_m.tolist(),
        "post_membership": None if post is None else post.tolist(),
        "assigned": np.argmax(em_m, axis=1).tolist(),
    }


def specification_parts(em: Any, table: Any, draws: Any, data: Any) -> dict[str, Any]:
    """The gating, fixed and group parts of a comparison (``None`` where absent).

    Parameters
    ----------
    em : EMResult
    table : pandas.DataFrame or None
        The comparison table (rows named ``gating[k,<name>]`` and ``fixed[<name>]``).
    draws : PosteriorDraws or None
        Relabelled to the EM labels.
    data : Dataset or None

    Returns
    -------
    dict
        ``{"gating", "fixed", "groups", "weighted"}``, see the module docstring.
    """
    gating = None
    if getattr(em, "gating_coef", None) is not None:
        gating = {
            "names": list(em.concomitant_names),
            "em": np.asarray(em.gating_coef, dtype=float).tolist(),
            "rows": _rows(table, "gating["),
        }
    fixed = None
    if getattr(em, "fixed_coef", None) is not None:
        fixed = {"names": list(em.fixed_names), "rows": _rows(table, "fixed[")}
    weighted = bool(getattr(em, "weighted", False)) or (
        data is not None and data.sample_weight is not None
    )
    return {
        "gating": gating,
        "fixed": fixed,
        "groups": _groups_part(em, draws, data),
        "weighted": weighted,
    }


def prior_membership_curves(
    em: Any, draws: Any, data: Any, *, n_grid: int = 60, prob: float = 0.94
) -> list[dict[str, Any]]:
    """Prior membership probability along each gating covariate (the others at their means).

    Returns
    -------
    list of dict
        One per non-intercept gating covariate: ``name``, ``grid`` (n_grid,), ``values`` (the
        units' covariate values), ``em`` (n_grid, K) and, with gating draws, ``low``/``high``
        (n_grid, K): the pointwise central ``prob`` band over the draws (else None).
    """
    gamma = getattr(em, "gating_coef", None)
    if gamma is None or data is None or data.concomitant is None:
        return []
    W = data.concomitant
    if data.groups is not None:
        W = W[np.unique(data.groups, return_index=True)[1]]
    mean = W.mean(axis=0)
    band = None if draws is None else _thin(draws)["gating"]
    out = []
    for j in range(1, W.shape[1]):
        grid = np.linspace(W[:, j].min(), W[:, j].max(), n_grid)
        G = np.tile(mean, (n_grid, 1))
        G[:, j] = grid
        curve = {
            "name": data.concomitant_names[j],
            "grid": grid,
            "values": W[:, j],
            "em": _softmax(G @ np.asarray(gamma, dtype=float).T),
            "low": None,
            "high": None,
        }
        if band is not None:
            p = _softmax(np.einsum("gq,dkq->dgk", G, band))
            curve["low"], curve["high"] = np.quantile(p, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
        out.append(curve)
    return out
