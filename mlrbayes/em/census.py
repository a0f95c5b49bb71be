"""The census: grouping the starts into distinct local optima, up to relabelling.

Starts are grouped first by parameters (after the best matching of components), then groups
whose *fitted densities* agree are merged: two parameter groups with the same log-likelihood
and the same log mixture density at every row (within ``DENSITY_TOL``) are one optimum of the
likelihood, reached by several parameter *variants* (a duplicated component whose weight split
is free, so the parameters are not identified).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .loop import StartState

__all__ = ["CensusGroup", "census"]

_CENSUS_LL_TOL = 1e-4  # per observation: same optimum needs |delta loglik| <= this * n ...
_CENSUS_PARAM_TOL = 2e-2  # ... and parameters within this (standardised units) after matching
#: Same fitted density: max over rows of |delta log mixture density| at most this.
DENSITY_TOL = 1e-4


@dataclass(frozen=True)
class CensusGroup:
    """One distinct optimum: its starts (best first) and the number of parameter variants."""

    starts: list[int]
    n_variants: int = 1


def _component_vectors(B, w, s, mode):
    cols = [w[:, None], B]
    if mode == "component":
        cols.append(s[:, None])
    elif mode == "shared":
        cols.append(np.repeat(s[:1, None], len(w), axis=0))
    return np.concatenate(cols, axis=1)


def _close_loglik(lla, llb, n) -> bool:
    if not (math.isfinite(lla) and math.isfinite(llb)):
        return lla == llb
    return abs(lla - llb) <= _CENSUS_LL_TOL * n


def _same_optimum(va, vb, lla, llb, n) -> bool:
    if abs(lla - llb) > _CENSUS_LL_TOL * n or not (math.isfinite(lla) and math.isfinite(llb)):
        return lla == llb
    cost = np.max(np.abs(va[:, None, :] - vb[None, :, :]), axis=2)
    rows, cols = linear_sum_assignment(cost)
    return bool(np.max(cost[rows, cols]) <= _CENSUS_PARAM_TOL)


def _distinct_lines(v: np.ndarray) -> np.ndarray:
    """Component vectors (weight first) with duplicated components merged, weights summed."""
    out: list[np.ndarray] = []
    for row in v:
        for o in out:
            if np.max(np.abs(o[1:] - row[1:])) <= _CENSUS_PARAM_TOL:
                o[0] += row[0]
                break
        else:
            out.append(row.copy())
    return np.array(out)


def _same_density(va, vb, da, db) -> bool:
    """Same log mixture density at every row and the same distinct lines (a duplicated
    component's weight split aside)."""
    if not np.max(np.abs(da - db)) <= DENSITY_TOL:
        return False
    ua, ub = _distinct_lines(va), _distinct_lines(vb)
    if ua.shape != ub.shape:
        return False
    cost = np.max(np.abs(ua[:, None, :] - ub[None, :, :]), axis=2)
    rows, cols = linear_sum_assignment(cost)
    return bool(np.max(cost[rows, cols]) <= _CENSUS_PARAM_TOL)


def _kind(st: StartState):
    return (st.saddle, st.degenerate)


def _by_parameters(states, n, mode) -> list[list[int]]:
    order = sorted(range(len(states)), key=lambda i: (*_kind(states[i]), -states[i].loglik, i))
    vectors = [_component_vectors(st.B, st.weights, st.sigma, mode) for st in states]
    groups: list[list[int]] = []
    for i in order:
        for g in groups:
            a, b = states[g[0]], states[i]
            if _kind(a) == _kind(b) and _same_optimum(
                vectors[g[0]], vectors[i], a.loglik, b.loglik, n
            ):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def census(states: list[StartState], n: int, mode: str, engine=None) -> list[CensusGroup]:
    """Group start indices into distinct optima, best first.

    Two starts reach the same optimum when their log-likelihoods differ by at most
    ``1e-4 * n`` and their parameters (standardised units) by at most 0.02 after the best
    matching of components; with an ``engine``, parameter groups of the same kind whose
    log-likelihoods agree, whose log mixture densities differ by at most ``DENSITY_TOL`` at
    every row and whose distinct lines (duplicated components merged, their weights summed)
    match are merged (``n_variants`` counts them). The density alone is not enough: on
    symmetric data different lines can give the same density at every row. Groups are
    ordered: not saddle before saddle, non-degenerate before degenerate, then by
    log-likelihood; each lists its starts best first.

    Parameters
    ----------
    states : list of StartState
    n : int
        Number of observations.
    mode : {"known", "shared", "component"}
    engine : InMemoryEngine, optional
        For the fitted densities (``pointwise_loglik``).

    Returns
    -------
    list of CensusGroup
    """
    groups = _by_parameters(states, n, mode)
    if engine is None or len(groups) < 2:
        return [CensusGroup(g) for g in groups]
    dens: dict[int, np.ndarray] = {}
    vec = {g[0]: _component_vectors(states[g[0]].B, states[g[0]].weights, states[g[0]].sigma,
                                    mode) for g in groups}  # fmt: skip

    def density(i):
        if i not in dens:
            st = states[i]
            dens[i] = engine.pointwise_loglik(st.B, st.weights, st.sigma)
        return dens[i]

    merged: list[tuple[list[int], list[int]]] = []
    for g in groups:
        a = states[g[0]]
        for m in merged:
            b = states[m[0][0]]
            if (
                _kind(a) == _kind(b)
                and _close_loglik(a.loglik, b.loglik, n)
                and _same_density(vec[g[0]], vec[m[0][0]], density(g[0]), density(m[0][0]))
            ):
                m[0].extend(g)
                m[1].append(1)
                break
        else:
            merged.append((list(g), [1]))
    out = []
    for starts, variants in merged:
        starts.sort(key=lambda i: (-states[i].loglik, i))
        out.append(CensusGroup(starts, len(variants)))
    return out
