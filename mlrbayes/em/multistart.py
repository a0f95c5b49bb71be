"""The starts of a fit: screening, the K-1 parent of the split start, and running each start.

:func:`run_starts` turns a plan (:func:`mlrbayes.em.starts.plan_starts`) into finished
:class:`~mlrbayes.em.loop.StartState` objects. Every run goes through the engine interface
(:mod:`mlrbayes.em.engine`): the screening runs are ordinary short runs, so an engine that
batches passes can batch them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from .engine import InMemoryEngine
from .loop import LoopSettings, StartState, checked_steps, run_batch, run_checked, run_start
from .order import component_order
from .scaling import Scaling
from .starts import (
    SCREEN_FACTOR,
    SCREEN_ITER,
    init_binned,
    init_split,
    init_subset,
    plan_starts,
    start_parameters,
)

__all__ = ["order_state", "run_starts"]


def _rank(st: StartState):
    return (st.saddle, st.degenerate, -st.loglik)


#: Screening runs on a random subsample of this many rows when the data are larger (the
#: survivors then run on all rows).
SCREEN_ROWS = 10_000


def _screen(engine, Z, ys, k, n_keep, cfg: LoopSettings, s_known, rng):
    """``SCREEN_FACTOR * n_keep`` subset candidates, ``SCREEN_ITER`` iterations each; the
    parameters of the best ``n_keep`` (non-degenerate first, then by log-likelihood). On more
    than ``SCREEN_ROWS`` rows the candidates are drawn and screened on a random subsample."""
    if Z.shape[0] > SCREEN_ROWS:
        rows = np.sort(rng.choice(Z.shape[0], size=SCREEN_ROWS, replace=False))
        Z, ys = Z[rows], ys[rows]
        engine = InMemoryEngine(Z, ys, k, engine.chunk)
    elif not isinstance(engine, InMemoryEngine):  # e.g. Dask: screen on the rows in memory
        engine = InMemoryEngine(Z, ys, k, engine.chunk)
    short = dataclasses.replace(cfg, max_iter=SCREEN_ITER)
    cands = []
    for _ in range(SCREEN_FACTOR * n_keep):
        B, w, s = init_subset(Z, ys, k, rng, cfg.mode, s_known)
        cands.append(run_start(engine, B, w, s, short, init="subset"))
    cands.sort(key=_rank)
    return [(c.B, c.weights, c.sigma) for c in cands[:n_keep]], len(cands)


def _parent(Z, ys, k, cfg: LoopSettings, s_known, chunk, rng, accelerate=None):
    """The K-1 fit of the split start: the best of a binned and two subset starts; returns its
    lines (K-1, d) and the log mixture density of every row there."""
    eng = InMemoryEngine(Z, ys, k - 1, chunk)
    sk = None if s_known is None else s_known[: k - 1]
    inits = [init_binned(Z, ys, k - 1, None, cfg.mode, sk)]
    if k - 1 > 1:
        inits += [init_subset(Z, ys, k - 1, rng, cfg.mode, sk) for _ in range(2)]
    best = min((run_checked(eng, *p, cfg, "parent", rng, accelerate) for p in inits), key=_rank)
    return best.B, eng.pointwise_loglik(best.B, best.weights, best.sigma)


def run_starts(
    engine,
    Z,
    ys,
    strategy: str,
    given,
    cfg: LoopSettings,
    s_known,
    scaling: Scaling,
    rngs: list[np.random.Generator],
    on_start: Callable[[int], Any] | None = None,
    accelerate: str | None = None,
) -> tuple[list[StartState], int]:
    """Run every start of the plan to convergence.

    Parameters
    ----------
    engine : InMemoryEngine or an object with the same methods
    Z, ys : ndarray
        Standardised data (the start strategies read them directly).
    strategy : str
        ``"auto"``, a named strategy or ``"given"``.
    given : tuple or None
        Parsed explicit parameters.
    cfg : LoopSettings
    s_known : ndarray of shape (K,) or None
    scaling : Scaling
    rngs : list of Generator
        One per start, plus one more for the screening and the K-1 parent.
    on_start : callable, optional
        Called with the number of starts run so far after each one (a progress bar).
    accelerate : {"squarem", None}
        SQUAREM acceleration of the runs (:mod:`mlrbayes.em.squarem`).

    Notes
    -----
    ``Z, ys`` are the rows the start strategies see; the runs go through ``engine``. An
    engine with ``accumulate_batch`` (the Dask engine) runs every start in lockstep, one pass
    per round for all of them (:func:`~mlrbayes.em.loop.run_batch`); then ``Z, ys`` may be a
    sample of the rows.

    Returns
    -------
    states : list of StartState
        One per start, in plan order.
    n_screened : int
        Screening runs made (not counted as starts).
    """
    k = engine.n_components
    plan = plan_starts(strategy, len(rngs) - 1, k)
    extra = rngs[-1]
    parent = None
    if "split" in plan:
        parent = _parent(Z, ys, k, cfg, s_known, engine.chunk, extra, accelerate)
    screened: list = []
    n_screened = 0
    if strategy == "auto" and "subset" in plan:
        screened, n_screened = _screen(engine, Z, ys, k, plan.count("subset"), cfg, s_known, extra)
    starts = []
    first_split = True
    for i, kind in enumerate(plan):
        if kind == "split":
            start = init_split(Z, ys, k, None if first_split else rngs[i], cfg.mode, s_known,
                               *parent)  # fmt: skip
            first_split = False
        elif kind == "subset" and screened:
            start = screened.pop(0)
        else:
            *start, kind = start_parameters(i, kind, given, Z, ys, k, rngs[i], cfg.mode,
                                            s_known, scaling)  # fmt: skip
        if hasattr(engine, "accumulate_batch"):
            starts.append((start, kind))
            continue
        starts.append(run_checked(engine, *start, cfg, kind, rngs[i], accelerate))
        if on_start is not None:
            on_start(i + 1)
    if hasattr(engine, "accumulate_batch"):
        runs = [checked_steps(engine, *start, cfg, kind, rngs[i], accelerate)
                for i, (start, kind) in enumerate(starts)]  # fmt: skip
        starts = run_batch(engine, runs, on_done=on_start)
    return starts, n_screened


def order_state(st: StartState, scaling: Scaling, order: str) -> StartState:
    """The state with its components in ``order`` (judged in the user's units)."""
    b, c, _ = scaling.from_std(st.B, st.sigma)
    perm = component_order(st.weights, b, c, order)
    if np.array_equal(perm, np.arange(perm.shape[0])):
        return st
    return dataclasses.replace(st, B=st.B[perm], weights=st.weights[perm], sigma=st.sigma[perm])
