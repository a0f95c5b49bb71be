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
#: Same fitted density: max over rows of |delta log mixture density| at most this. EM crawls
#: along the flat ridge of a duplicated component's weight split and stops (gain below tol)
#: with the duplicated lines still ~0.01 sd apart: densities then differ by up to ~1e-2.
DENSITY_TOL = 5e-2
#: Lines compared by the density grouping: a component of smaller weight on the ridge of a
#: duplicated line drifts slowly and is not compared.
_LINE_MIN_WEIGHT = 0.02


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


def _covers(va: np.ndarray, vb: np.ndarray) -> bool:
    """Every line of ``va`` with weight >= ``_LINE_MIN_WEIGHT`` has a line of ``vb`` within
    ``_CENSUS_PARAM_TOL`` (coefficients and sd; the weights are free to split)."""
    big = va[va[:, 0] >= _LINE_MIN_WEIGHT, 1:]
    if big.shape[0] == 0:
        return True
    cost = np.max(np.abs(big[:, None, :] - vb[None, :, 1:]), axis=2)
    return bool(np.all(np.min(cost, axis=1) <= _CENSUS_PARAM_TOL))


def _same_density(va, vb, da, db) -> bool:
    """Same log mixture density at every row and the same lines (each line of weight
    >= ``_LINE_MIN_WEIGHT`` of one fit is a line of the other): a duplicated component's
    weight split aside, the same fit."""
    if not np.max(np.abs(da - db)) <= DENSITY_TOL:
        return False
    return _covers(va, vb) and _covers(vb, va)


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
    every row and whose lines match (each line of weight >= 0.02 of one is a line of the
    other, whatever the weight split) are merged (``n_variants`` counts them). The density
    alone is not enough: on symmetric data different lines can give the same density at
    every row. Groups are
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

    merged: list[list[list[int]]] = []  # optima, each a list of parameter groups
    for g in groups:
        a = states[g[0]]
        for m in merged:
            b = states[m[0][0]]
            if (
                _kind(a) == _kind(b)
                and _close_loglik(a.loglik, b.loglik, n)
                and any(
                    _same_density(vec[g[0]], vec[v[0]], density(g[0]), density(v[0])) for v in m
                )
            ):
                m.append(g)
                break
        else:
            merged.append([g])
    out = []
    for variants in merged:
        starts = sorted((i for v in variants for i in v), key=lambda i: (-states[i].loglik, i))
        out.append(CensusGroup(starts, len(variants)))
    return out
