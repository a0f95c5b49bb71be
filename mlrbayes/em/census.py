"""The census: grouping the starts into distinct local optima, up to relabelling."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from .loop import StartState

__all__ = ["census"]

_CENSUS_LL_TOL = 1e-4  # per observation: same optimum needs |delta loglik| <= this * n ...
_CENSUS_PARAM_TOL = 2e-2  # ... and parameters within this (standardised units) after matching


def _component_vectors(B, w, s, mode):
    cols = [w[:, None], B]
    if mode == "component":
        cols.append(s[:, None])
    elif mode == "shared":
        cols.append(np.repeat(s[:1, None], len(w), axis=0))
    return np.concatenate(cols, axis=1)


def _same_optimum(va, vb, lla, llb, n) -> bool:
    if abs(lla - llb) > _CENSUS_LL_TOL * n or not (math.isfinite(lla) and math.isfinite(llb)):
        return lla == llb
    cost = np.max(np.abs(va[:, None, :] - vb[None, :, :]), axis=2)
    rows, cols = linear_sum_assignment(cost)
    return bool(np.max(cost[rows, cols]) <= _CENSUS_PARAM_TOL)


def census(states: list[StartState], n: int, mode: str) -> list[list[int]]:
    """Group start indices into distinct optima, best first.

    Two starts reach the same optimum when their log-likelihoods differ by at most
    ``1e-4 * n`` and their parameters (standardised units) by at most 0.02 after the best
    matching of components. Groups are ordered non-degenerate before degenerate, then by
    log-likelihood; each group lists its starts best first.

    Parameters
    ----------
    states : list of StartState
    n : int
        Number of observations.
    mode : {"known", "shared", "component"}

    Returns
    -------
    list of list of int
    """
    order = sorted(range(len(states)), key=lambda i: (states[i].degenerate, -states[i].loglik, i))
    vectors = [_component_vectors(st.B, st.weights, st.sigma, mode) for st in states]
    groups: list[list[int]] = []
    for i in order:
        for g in groups:
            a, b = states[g[0]], states[i]
            if a.degenerate == b.degenerate and _same_optimum(
                vectors[g[0]], vectors[i], a.loglik, b.loglik, n
            ):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups
