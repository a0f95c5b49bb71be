"""EM iterations from one start: pass -> check -> M-step, until the gain falls below ``tol``.

The loop sees the data only through an engine (:mod:`mlrbayes.em.engine`) and works in
standardised units (:mod:`mlrbayes.em.scaling`). What a start ends with is a
:class:`StartState`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .kernels import emptied_note, m_step_from_stats, singular_note, update_sigma

__all__ = ["LoopSettings", "StartState", "is_saddle", "run_checked", "run_start"]

#: A start is at the symmetric point when every component's coefficients and sd equal the first
#: one's within this (standardised units: sd of y and of each predictor 1). Random Dirichlet
#: responsibilities on large data start within ~1e-3 of it, and the first EM step there gains
#: less than ``tol``: such a start "converges" at the saddle after one iteration.
SADDLE_TOL = 1e-3
#: Perturbations tried from a symmetric point before the start is flagged ``saddle``.
SADDLE_TRIES = 3
#: How a note about a perturbation away from the symmetric point begins (kept in the start's
#: notes, not warned about: the start went on to an optimum).
SADDLE_NOTE = "the start reached the symmetric point"

#: A log-likelihood drop larger than ``_DECREASE_RTOL * (|loglik| + n)`` is more than rounding
#: error (the pass sums n terms of size ~|loglik|/n + 1): EM's monotonicity failed there.
_DECREASE_RTOL = 1e-10


@dataclass(frozen=True)
class LoopSettings:
    """The settings of the EM loop (see :func:`mlrbayes.em.fit_em` for their meaning).

    ``sigma_floor`` is the rounding level of y in standardised units; ``y_scale`` converts sds
    back to the user's units for messages.
    """

    mode: str
    tol: float
    max_iter: int
    min_weight: float
    min_sigma_ratio: float
    sigma_floor: float = 0.0
    y_scale: float = 1.0


@dataclass(frozen=True, eq=False)
class StartState:
    """Where one start ended, in standardised units.

    Attributes
    ----------
    B : ndarray of shape (K, d)
        Coefficients (intercept first when fitted) of the standardised design matrix.
    weights : ndarray of shape (K,)
    sigma : ndarray of shape (K,)
    loglik : float
        Log-likelihood of the standardised data at these parameters.
    trace : ndarray of shape (n_iter + 1,)
        Log-likelihood at the start and after each iteration.
    converged, degenerate : bool
    decreased : bool
        The log-likelihood dropped by more than rounding error; the start was stopped at the
        iterate before the drop (kept as its result) and is not converged.
    notes : tuple of str
        Numerical events, in words.
    init : str
        Initialisation strategy of the start.
    saddle : bool
        The start ended at the symmetric point (all components equal: the K = 1 fit, a saddle
        of the K-component likelihood) and stayed there after ``SADDLE_TRIES`` perturbations.
    """

    B: np.ndarray
    weights: np.ndarray
    sigma: np.ndarray
    loglik: float
    trace: np.ndarray
    converged: bool
    degenerate: bool
    decreased: bool = False
    notes: tuple[str, ...] = ()
    init: str = ""
    saddle: bool = False

    @property
    def n_iter(self) -> int:
        return int(self.trace.shape[0]) - 1


def _exact_fit(s: np.ndarray, cfg: LoopSettings, notes: dict[str, None]) -> bool:
    """An estimated sd below the rounding level of y: the lines fit the data exactly."""
    if cfg.mode == "known" or not np.any(s < cfg.sigma_floor):
        return False
    notes[
        f"estimated sigma {float(np.min(s)) * cfg.y_scale:.3g} is at the rounding level of y: "
        "the lines fit the data exactly (the likelihood is unbounded there); start stopped "
        "and flagged degenerate"
    ] = None
    return True


def _collapsed(s, N, emptied, cfg: LoopSettings, notes: dict[str, None]) -> bool:
    """Per-component sd: a component whose sd fell below ``min_sigma_ratio`` of the largest."""
    live = np.setdiff1d(np.arange(s.shape[0]), emptied)
    smax = s[live].max() if live.size else 0.0
    found = False
    for j in live:
        if s[j] < cfg.min_sigma_ratio * smax:
            notes[
                f"component {j} collapsed (sd ratio {s[j] / smax:.3g} < "
                f"min_sigma_ratio={cfg.min_sigma_ratio:g}, effective count {N[j]:.3g}): the "
                "likelihood is unbounded there; start stopped and flagged degenerate"
            ] = None
            found = True
    return found


def _m_update(engine, stats, B, w, s, cfg: LoopSettings, notes: dict[str, None]):
    """One M-step from the statistics of a pass; returns ``(B, w, s, degenerate, stop)``."""
    B_new, w_new, rss, singular, emptied, cancel = m_step_from_stats(
        stats, B, w, min_weight=cfg.min_weight
    )
    if cancel and cfg.mode != "known":
        direct = engine.residual_sums(B, w, s, B_new)
        rss = np.where(np.isin(np.arange(len(rss)), emptied), rss, direct)
    s_new = update_sigma(cfg.mode, rss, stats.N, stats.n_samples, s, emptied)
    for j in singular:
        notes[singular_note(j)] = None
    for j in emptied:
        notes[emptied_note(j)] = None
    degenerate = bool(emptied)  # an emptied component stops a per-component-sd start
    stop = degenerate and cfg.mode == "component"
    if cfg.mode == "component" and _collapsed(s_new, stats.N, emptied, cfg, notes):
        degenerate = stop = True
    if _exact_fit(s_new, cfg, notes):
        degenerate = stop = True
    return B_new, w_new, s_new, degenerate, stop


def _decrease_note(gain: float, it: int) -> str:
    return (
        f"the log-likelihood decreased by {-gain:.3g} at iteration {it} (more than rounding "
        "error: EM's monotonicity failed, typically at a near-singular fit); the start was "
        "stopped, is not converged, and keeps the parameters before the drop"
    )


def _thin_components(w: np.ndarray, n: int, d: int, notes: dict[str, None]) -> bool:
    """Per-component sd: a component with fewer than ``d + 1`` effective observations."""
    thin = np.flatnonzero((w > 0) & (w * n < d + 1))
    for j in thin:
        notes[
            f"component {j} is supported by {w[j] * n:.3g} effective observations, fewer "
            f"than its {d} regression coefficients + 1: its sd is not estimable (flagged "
            "degenerate)"
        ] = None
    return bool(thin.size)


def run_start(
    engine, B: np.ndarray, w: np.ndarray, s: np.ndarray, cfg: LoopSettings, init: str = ""
) -> StartState:
    """EM iterations from one start (standardised units).

    Convergence: the log-likelihood gain per observation is below ``tol`` and the gain is not a
    drop beyond rounding error. A drop beyond rounding (``_DECREASE_RTOL``) is never
    convergence: the start stops, keeps the parameters before the drop (the best iterate) and
    is flagged ``decreased`` with a note. Per-component sigma:
    a component whose sd falls below ``min_sigma_ratio`` times the largest is *collapsing*; the
    start stops after evaluating those parameters and is flagged degenerate (its likelihood is
    unbounded there). A start that ends with a component of fewer than ``d + 1`` effective
    observations is flagged degenerate too (not stopped). Estimated sigma (shared or per
    component) below ``sigma_floor`` (the rounding level of y) means the lines fit exactly to
    rounding error: also degenerate, also stopped.

    Parameters
    ----------
    engine : InMemoryEngine or an object with the same methods
    B : ndarray of shape (K, d)
    w : ndarray of shape (K,)
    s : ndarray of shape (K,)
        The start's parameters.
    cfg : LoopSettings
    init : str
        Name of the initialisation strategy, stored in the result.

    Returns
    -------
    StartState
    """
    n = engine.n_samples
    trace: list[float] = []
    notes: dict[str, None] = {}
    converged = decreased = False
    degenerate = stop_next = _exact_fit(s, cfg, notes)
    prev = None
    for it in range(cfg.max_iter + 1):
        stats = engine.accumulate(B, w, s)
        ll = stats.loglik
        if ll == -math.inf:
            notes[
                "the log-likelihood became -inf (a component collapsed); stopped at the "
                "previous parameters"
            ] = None
            degenerate = True
            if prev is not None:
                B, w, s = prev
            if not trace:
                trace.append(ll)
            break
        trace.append(ll)
        if stop_next:
            break
        if it > 0:
            gain = ll - trace[-2]
            if gain < -_DECREASE_RTOL * (abs(ll) + n):
                notes[_decrease_note(gain, it)] = None
                decreased = True
                trace.pop()  # keep the best iterate: the parameters before the drop
                B, w, s = prev
                break
            if gain < cfg.tol * n:
                converged = True
                break
        if it == cfg.max_iter:
            break
        prev = (B, w, s)
        B, w, s, degen, stop = _m_update(engine, stats, B, w, s, cfg, notes)
        degenerate = degenerate or degen
        stop_next = stop_next or stop
    if cfg.mode == "component" and _thin_components(w, n, engine.n_coef, notes):
        degenerate = True
    return StartState(
        B=B,
        weights=w,
        sigma=s,
        loglik=trace[-1],
        trace=np.asarray(trace),
        converged=converged and not degenerate if cfg.mode == "component" else converged,
        degenerate=degenerate,
        decreased=decreased,
        notes=tuple(notes),
        init=init,
    )


def is_saddle(st: StartState) -> bool:
    """All K >= 2 components equal (coefficients and sd within ``SADDLE_TOL``)."""
    if st.B.shape[0] < 2 or st.degenerate:
        return False
    same_b = np.max(np.abs(st.B - st.B[0])) <= SADDLE_TOL
    return bool(same_b and np.max(np.abs(st.sigma - st.sigma[0])) <= SADDLE_TOL * st.sigma[0])


def run_checked(engine, B, w, s, cfg: LoopSettings, init: str, rng) -> StartState:
    """:func:`run_start`, then away from the symmetric point: a start that ends with all
    components equal is perturbed (each line moved by about half its sd, equal weights) and
    continued, up to ``SADDLE_TRIES`` times; if it still ends there it is flagged ``saddle``.
    The notes are joined; the trace is the last run's."""
    st = run_start(engine, B, w, s, cfg, init=init)
    tries = 0
    while is_saddle(st) and tries < SADDLE_TRIES:
        tries += 1
        k, d = st.B.shape
        B1 = st.B + 0.5 * st.sigma[:, None] * rng.standard_normal((k, d))
        nxt = run_start(engine, B1, np.full(k, 1.0 / k), st.sigma.copy(), cfg, init=init)
        note = (
            f"{SADDLE_NOTE} where all components are equal (a saddle, "
            f"not an optimum) after {st.n_iter} iterations; perturbed and continued (try "
            f"{tries}; the trace is that of the continued run)"
        )
        st = dataclasses.replace(nxt, notes=tuple(dict.fromkeys((*st.notes, note, *nxt.notes))))
    if is_saddle(st):
        st = dataclasses.replace(st, saddle=True)
    return st
