"""EM iterations from one start: pass -> check -> M-step, until the gain falls below ``tol``.

The loop sees the data only through an engine (:mod:`mlrbayes.em.engine`) and works in
standardised units (:mod:`mlrbayes.em.scaling`). What a start ends with is a
:class:`StartState`. The iterations are written as a generator (:func:`start_steps`) that
yields the parameters of each pass it needs, so one start can be driven alone
(:func:`run_start`) or many in lockstep, one pass over the data serving every start
(:func:`run_batch`, used by the Dask engine). SQUAREM acceleration
(:mod:`mlrbayes.em.squarem`) is a hook inside the generator.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .kernels import emptied_note, m_step_from_stats, singular_note, update_sigma
from .squarem import StepLength, check_accelerate, extrapolate

__all__ = [
    "LoopSettings",
    "StartState",
    "checked_steps",
    "drive",
    "is_saddle",
    "run_batch",
    "run_checked",
    "run_start",
    "start_steps",
]

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
    n_passes : int
        Passes over the data the start used (with SQUAREM, more than ``n_iter + 1`` when
        extrapolations were rejected; the trace keeps only accepted iterates).
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
    n_passes: int = 0

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


def _extrapolated(hist, steps: StepLength, cfg: LoopSettings):
    """The SQUAREM point from ``hist = [theta0, theta1, theta2]``, or None (then the plain EM
    step ``theta2`` is used): step length 1 (counted as an accepted step at the bound, so the
    bound grows), or a point with a weight at or below ``min_weight`` or an sd that trips the
    collapse or exact-fit checks (counted as a failed step)."""
    theta, alpha = extrapolate(*hist, steps)
    if theta is None:
        if alpha == 1.0:
            steps.accepted(alpha)
        else:
            steps.rejected(alpha)
        return None, alpha
    _, w, s = theta
    scratch: dict[str, None] = {}
    k = w.shape[0]
    if (
        np.any(w <= cfg.min_weight)
        or _exact_fit(s, cfg, scratch)
        or (cfg.mode == "component" and _collapsed(s, np.full(k, np.nan), [], cfg, scratch))
    ):
        steps.rejected(alpha)
        return None, alpha
    return theta, alpha


def start_steps(engine, B, w, s, cfg: LoopSettings, init: str = "", accelerate=None):
    """EM iterations from one start, as a generator of the passes it needs.

    It yields the parameters ``(B, w, s)`` at which it needs a pass and is sent the
    :class:`~mlrbayes.em.engine.SufficientStats` of that pass; it returns the
    :class:`StartState` (``StopIteration.value``). :func:`run_start` drives one with an
    engine; :func:`run_batch` drives several in lockstep, so an engine can serve every start
    in one pass over the data. ``accelerate="squarem"`` interleaves SQUAREM extrapolations
    (:mod:`mlrbayes.em.squarem`); a rejected one costs a pass and is not in the trace. See
    :func:`run_start` for the stopping rules.
    """
    n = engine.n_samples
    trace: list[float] = []
    notes: dict[str, None] = {}
    converged = decreased = False
    degenerate = stop_next = _exact_fit(s, cfg, notes)
    last = None  # the parameters of trace[-1]
    passes = 0
    accel = check_accelerate(accelerate) == "squarem"
    steps = StepLength()
    hist: list = []  # EM iterates since the last extrapolation: theta0, F(theta0), ...
    pending = None  # an extrapolated point under evaluation: (theta1, theta2, alpha)
    while True:
        stats = yield (B, w, s)
        passes += 1
        ll = stats.loglik
        if pending is not None:  # the pass at an extrapolated point: accept or fall back
            theta1, theta2, alpha = pending
            pending = None
            if not ll >= trace[-1]:
                steps.rejected(alpha)
                if passes > cfg.max_iter:
                    B, w, s = theta1
                    break
                B, w, s = theta2
                hist = [theta2]
                continue
            steps.accepted(alpha)
            trace.append(ll)
        elif ll == -math.inf:
            notes[
                "the log-likelihood became -inf (a component collapsed); stopped at the "
                "previous parameters"
            ] = None
            degenerate = True
            if last is not None:
                B, w, s = last
            if not trace:
                trace.append(ll)
            break
        else:
            trace.append(ll)
            if stop_next:
                break
            if len(trace) > 1:
                gain = ll - trace[-2]
                if gain < -_DECREASE_RTOL * (abs(ll) + n):
                    notes[_decrease_note(gain, len(trace) - 1)] = None
                    decreased = True
                    trace.pop()  # keep the best iterate: the parameters before the drop
                    B, w, s = last
                    break
                if gain < cfg.tol * n:
                    converged = True
                    break
        if passes > cfg.max_iter:
            break
        last = (B, w, s)
        B, w, s, degen, stop = _m_update(engine, stats, B, w, s, cfg, notes)
        degenerate = degenerate or degen
        stop_next = stop_next or stop
        accel = accel and not degen and not stop_next and bool(np.all(w > 0))
        if not accel:
            continue
        hist = [*(hist or [last]), (B, w, s)]
        if len(hist) == 3:
            theta, alpha = _extrapolated(hist, steps, cfg)
            if theta is not None:
                pending = (hist[1], hist[2], alpha)
                B, w, s = theta
            hist = [theta] if theta is not None else [hist[2]]
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
        n_passes=passes,
    )


def drive(engine, steps) -> StartState:
    """Run a :func:`start_steps` (or :func:`checked_steps`) generator to its end, one
    ``engine.accumulate`` per pass it asks for."""
    try:
        params = next(steps)
        while True:
            params = steps.send(engine.accumulate(*params))
    except StopIteration as stop:
        return stop.value


def run_batch(engine, runs: list, on_done=None) -> list[StartState]:
    """Drive several generators in lockstep: each round, one ``engine.accumulate_batch`` (a
    single pass over the data for every active start) or, for an engine without it, one
    ``accumulate`` per start. Returns the states in the order of ``runs``; ``on_done(m)`` is
    called with the number finished so far whenever a start finishes."""
    results: list = [None] * len(runs)
    pending: dict[int, tuple] = {}
    done = 0

    def advance(i, value):
        nonlocal done
        try:
            pending[i] = runs[i].send(value) if value is not None else next(runs[i])
        except StopIteration as stop:
            pending.pop(i, None)
            results[i] = stop.value
            done += 1
            if on_done is not None:
                on_done(done)

    for i in range(len(runs)):
        advance(i, None)
    batch = getattr(engine, "accumulate_batch", None)
    while pending:
        idx = list(pending)
        params = [pending[i] for i in idx]
        stats = batch(params) if batch is not None else [engine.accumulate(*p) for p in params]
        for i, st in zip(idx, stats, strict=True):
            advance(i, st)
    return results


def run_start(
    engine,
    B: np.ndarray,
    w: np.ndarray,
    s: np.ndarray,
    cfg: LoopSettings,
    init: str = "",
    accelerate: str | None = None,
) -> StartState:
    """EM iterations from one start (standardised units).

    Convergence: the log-likelihood gain per observation of an EM step is below ``tol`` and
    the gain is not a drop beyond rounding error. A drop beyond rounding (``_DECREASE_RTOL``)
    is never convergence: the start stops, keeps the parameters before the drop (the best
    iterate) and is flagged ``decreased`` with a note. Per-component sigma:
    a component whose sd falls below ``min_sigma_ratio`` times the largest is *collapsing*; the
    start stops after evaluating those parameters and is flagged degenerate (its likelihood is
    unbounded there). A start that ends with a component of fewer than ``d + 1`` effective
    observations is flagged degenerate too (not stopped). Estimated sigma (shared or per
    component) below ``sigma_floor`` (the rounding level of y) means the lines fit exactly to
    rounding error: also degenerate, also stopped. ``max_iter`` bounds the passes after the
    first. With ``accelerate="squarem"`` every two EM steps are followed by a SQUAREM
    extrapolation (:mod:`mlrbayes.em.squarem`), kept only when its log-likelihood is at least
    that of the iterate before; after a degenerate M-step the start continues as plain EM.

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
    accelerate : {"squarem", None}

    Returns
    -------
    StartState
    """
    return drive(engine, start_steps(engine, B, w, s, cfg, init, accelerate))


def is_saddle(st: StartState) -> bool:
    """All K >= 2 components equal (coefficients and sd within ``SADDLE_TOL``)."""
    if st.B.shape[0] < 2 or st.degenerate:
        return False
    same_b = np.max(np.abs(st.B - st.B[0])) <= SADDLE_TOL
    return bool(same_b and np.max(np.abs(st.sigma - st.sigma[0])) <= SADDLE_TOL * st.sigma[0])


def checked_steps(engine, B, w, s, cfg: LoopSettings, init: str, rng, accelerate=None):
    """:func:`start_steps`, then away from the symmetric point: a start that ends with all
    components equal is perturbed (each line moved by about half its sd, equal weights) and
    continued, up to ``SADDLE_TRIES`` times; if it still ends there it is flagged ``saddle``.
    The notes are joined; the trace is the last run's. A generator like :func:`start_steps`."""
    st = yield from start_steps(engine, B, w, s, cfg, init, accelerate)
    tries = 0
    while is_saddle(st) and tries < SADDLE_TRIES:
        tries += 1
        k, d = st.B.shape
        B1 = st.B + 0.5 * st.sigma[:, None] * rng.standard_normal((k, d))
        nxt = yield from start_steps(
            engine, B1, np.full(k, 1.0 / k), st.sigma.copy(), cfg, init, accelerate
        )
        note = (
            f"{SADDLE_NOTE} where all components are equal (a saddle, "
            f"not an optimum) after {st.n_iter} iterations; perturbed and continued (try "
            f"{tries}; the trace is that of the continued run)"
        )
        notes = tuple(dict.fromkeys((*st.notes, note, *nxt.notes)))
        st = dataclasses.replace(nxt, notes=notes, n_passes=st.n_passes + nxt.n_passes)
    if is_saddle(st):
        st = dataclasses.replace(st, saddle=True)
    return st


def run_checked(engine, B, w, s, cfg: LoopSettings, init: str, rng, accelerate=None):
    """:func:`checked_steps` driven by ``engine`` (see there); returns the StartState."""
    return drive(engine, checked_steps(engine, B, w, s, cfg, init, rng, accelerate))
