"""Starting points of the EM starts.

* ``random``: responsibilities from a flat Dirichlet, then an M-step;
* ``binned``: sort by y into K contiguous groups and fit each (mixtools' ``regmix.init``);
* ``subset``: each line through ``d`` random rows (a random minimal subset, as in RANSAC),
  then every row assigned to its nearest line (:func:`hard_start`);
* ``split``: a K-1 fit plus one line through its worst-fitted rows (lowest mixture density),
  refined by two rounds of nearest-line assignment;
* ``given``: explicit parameters.

:func:`plan_starts` says which strategy each start of ``init="auto"`` (or a named strategy) uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._validation import check_choice
from .kernels import reference_m_step
from .result import EMResult, Optimum, StartResult
from .scaling import Scaling

__all__ = [
    "INIT_CHOICES",
    "check_init",
    "given_params",
    "init_binned",
    "init_random",
    "init_split",
    "init_subset",
    "plan_starts",
    "start_parameters",
]

INIT_CHOICES = ("auto", "random", "binned", "subset", "split")
#: Weights of a hard-assignment start are clipped from below at this (then renormalised), so
#: a line that owns no row still gets a chance.
START_MIN_WEIGHT = 0.05
#: Floor of a start's robust sd, in standardised units (sd of y = 1).
START_SIGMA_FLOOR = 1e-3
#: ``init="auto"``: subset candidates screened per subset start kept.
SCREEN_FACTOR = 10
#: ``init="auto"``: EM iterations of each screening run.
SCREEN_ITER = 5


def check_init(init: Any, k: int, p: int, fit_intercept: bool):
    """``(strategy, given)``: the strategy name and parsed explicit parameters (or None)."""
    if isinstance(init, str):
        return check_choice(init, "init", INIT_CHOICES), None
    if isinstance(init, Mapping | EMResult | Optimum | StartResult):
        return "given", given_params(init, k, p, fit_intercept)
    raise TypeError(
        f"init must be one of {list(INIT_CHOICES)}, a dict of starting parameters or a "
        f"fitted result; got {type(init).__name__}."
    )


def start_parameters(
    i: int, kind: str, given, Z, ys, k, rng, mode, s_known, scaling: Scaling
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Parameters ``(B (K, d), w (K,), s (K,))`` of start ``i`` (standardised) and its kind.

    ``kind`` is one of ``"given"`` (the parsed explicit parameters), ``"binned"`` (equal
    groups for start 0, random group sizes after), ``"random"`` or ``"subset"``.
    """
    if kind == "given":
        gw, gb, gc, gs = given
        B0, s0 = scaling.to_std(gb, gc, np.ones(k) if gs is None else gs)
        if gs is None:
            s0 = np.ones(k)  # standardised sd of y: a neutral start
        if mode == "known":
            s0 = s_known.copy()
        elif mode == "shared":
            s0 = np.full(k, float(np.mean(s0)))
        return B0, gw.copy(), np.broadcast_to(s0, (k,)).astype(float), "given"
    if kind == "binned":
        return (*init_binned(Z, ys, k, None if i == 0 else rng, mode, s_known), "binned")
    if kind == "subset":
        return (*init_subset(Z, ys, k, rng, mode, s_known), "subset")
    return (*init_random(Z, ys, k, rng, mode, s_known), "random")


def plan_starts(strategy: str, n_init: int, k: int) -> list[str]:
    """The strategy of each of the ``n_init`` starts run to convergence.

    ``"auto"``: start 0 ``binned`` (equal groups); start 1 ``split`` when K >= 2; then
    ``max(1, n_init // 5)`` ``random``; the rest ``subset`` (each the best of
    ``SCREEN_FACTOR`` screened candidates, see :func:`mlrbayes.em.fit_em`). A named strategy:
    every start uses it (``split`` with K = 1 is ``binned``); ``"given"``: start 0 given, the
    others random.
    """
    if strategy == "given":
        return ["given"] + ["random"] * (n_init - 1)
    if strategy == "split" and k == 1:
        return ["binned"] * n_init
    if strategy != "auto":
        return [strategy] * n_init
    plan = ["binned"]
    if k >= 2 and n_init > 1:
        plan.append("split")
    n_random = min(max(1, n_init // 5), n_init - len(plan))
    plan += ["random"] * n_random
    return plan + ["subset"] * (n_init - len(plan))


def _robust_scale(r: np.ndarray) -> float:
    """``1.4826 * median |r|`` (the normal-consistent MAD about 0), floored."""
    return max(1.4826 * float(np.median(r)), START_SIGMA_FLOOR) if r.size else 1.0


def hard_start(Z, ys, B, mode, s_known):
    """Weights and sds of the lines ``B (K, d)`` from assigning every row to its nearest line.

    Weights are the shares of rows assigned (clipped below at ``START_MIN_WEIGHT``); a sd is
    the robust scale (``1.4826 * median |r|``) of the residuals of the rows assigned (all rows
    pooled when shared; 1 for a line with fewer than ``d + 1`` rows), floored at
    ``START_SIGMA_FLOOR``. Returns ``(B, w (K,), s (K,))``.
    """
    n, d = Z.shape
    k = B.shape[0]
    R = np.abs(ys[:, None] - Z @ B.T)
    lab = np.argmin(R, axis=1)
    counts = np.bincount(lab, minlength=k)
    w = np.maximum(counts / n, START_MIN_WEIGHT)
    w /= w.sum()
    own = R[np.arange(n), lab]
    if mode == "known":
        s = np.array(s_known, dtype=float)
    elif mode == "shared":
        s = np.full(k, _robust_scale(own))
    else:
        s = np.array([_robust_scale(own[lab == j]) if counts[j] > d else 1.0 for j in range(k)])
    return B, w, s


def _line_through(Z, ys, rows) -> np.ndarray:
    return np.linalg.lstsq(Z[rows], ys[rows], rcond=None)[0]


def init_subset(Z, ys, k, rng, mode, s_known):
    """Each line through ``d`` random rows (a random minimal subset), then :func:`hard_start`."""
    n, d = Z.shape
    B = np.array([_line_through(Z, ys, rng.choice(n, size=min(d, n), replace=False))
                  for _ in range(k)])  # fmt: skip
    return hard_start(Z, ys, B, mode, s_known)


def init_split(Z, ys, k, rng, mode, s_known, parent_B, logdens):
    """A K-1 fit plus one line on its worst-fitted rows.

    Parameters
    ----------
    parent_B : ndarray of shape (K-1, d)
        Lines of the K-1 fit (standardised units).
    logdens : ndarray of shape (n,)
        Log mixture density of every row at the K-1 fit.
    rng : Generator or None
        None: the new line is the least-squares line of the ``max(d, n / (2K))`` rows of lowest
        density; else through ``d`` random rows among twice as many of the worst.

    Returns ``(B (K, d), w (K,), s (K,))``: every line refitted twice on the rows nearest to
    it (a line nearest to fewer than ``d`` rows becomes the level of their mean, when there is
    an intercept: one isolated outlier gets a component of its own that fits it exactly), then
    :func:`hard_start`.
    """
    n, d = Z.shape
    m = min(n, max(d, int(np.ceil(n / (2 * k)))))
    worst = np.argsort(logdens, kind="stable")
    if rng is None:
        rows = worst[:m]
    else:
        rows = rng.choice(worst[: min(n, 2 * m)], size=min(d, n), replace=False)
    B = np.vstack([parent_B, _line_through(Z, ys, rows)[None, :]])
    intercept = bool(np.all(Z[:, 0] == 1.0))
    for _ in range(2):
        lab = np.argmin(np.abs(ys[:, None] - Z @ B.T), axis=1)
        for j in range(k):
            own = lab == j
            if np.count_nonzero(own) >= d:
                B[j] = _line_through(Z, ys, own)
            elif intercept and own.any():  # too few rows for a line: a level through them
                B[j] = 0.0
                B[j, 0] = float(np.mean(ys[own]))
    return hard_start(Z, ys, B, mode, s_known)


def init_random(Z, ys, k, rng, mode, s_known):
    resp = rng.dirichlet(np.ones(k), size=Z.shape[0])
    B, w, s, _, _ = reference_m_step(Z, ys, resp, mode=mode, sigma_known=s_known, min_weight=0.0)
    return B, w, s


def init_binned(Z, ys, k, rng, mode, s_known):
    """Sort by y, cut into K contiguous groups, fit each (mixtools' ``regmix.init``). Equal
    groups when ``rng`` is None, else group sizes drawn from Dirichlet(2, ..., 2)."""
    n, d = Z.shape
    order = np.argsort(ys, kind="stable")
    if rng is None:
        cuts = np.round(np.linspace(0, n, k + 1)).astype(int)
    else:
        m0 = min(d + 1, n // k)
        sizes = m0 + np.floor(rng.dirichlet(np.full(k, 2.0)) * (n - k * m0)).astype(int)
        sizes[-1] = n - sizes[:-1].sum()
        cuts = np.concatenate([[0], np.cumsum(sizes)])
    resp = np.zeros((n, k))
    for j in range(k):
        resp[order[cuts[j] : cuts[j + 1]], j] = 1.0
    B, w, s, _, _ = reference_m_step(Z, ys, resp, mode=mode, sigma_known=s_known, min_weight=0.0)
    return B, w, s


def given_params(init, k: int, p: int, fit_intercept: bool):
    """Parse explicit starting parameters (dict or result object) in original units."""
    if isinstance(init, Mapping):
        get = init.get
        unknown = set(init) - {"weights", "intercept", "coef", "sigma"}
        if unknown:
            raise ValueError(
                f"init has unknown keys {sorted(unknown)}; use 'weights', 'intercept', 'coef' "
                "and optionally 'sigma'."
            )
    else:

        def get(name, default=None):
            return getattr(init, name, default)

    try:
        w = np.asarray(get("weights"), dtype=float)
        coef = np.asarray(get("coef"), dtype=float)
        b_raw = get("intercept")
        intercept = np.zeros(k) if b_raw is None else np.asarray(b_raw, dtype=float)
        s_raw = get("sigma")
        sigma = None if s_raw is None else np.asarray(s_raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"init parameters must be numeric arrays ({exc}).") from exc
    if coef.ndim == 1 and p == 1:
        coef = coef[:, None]
    if w.shape != (k,) or coef.shape != (k, p) or intercept.shape != (k,):
        raise ValueError(
            f"init parameters have shapes weights {w.shape}, intercept {intercept.shape}, coef "
            f"{coef.shape}; expected ({k},), ({k},) and ({k}, {p}) for n_components={k} and "
            f"{p} predictors."
        )
    if sigma is not None and sigma.shape not in ((), (k,)):
        raise ValueError(f"init sigma has shape {sigma.shape}; expected a number or ({k},).")
    arrays = [w, coef, intercept] + ([sigma] if sigma is not None else [])
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError("init parameters contain NaN or infinite values; pass finite numbers.")
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"init weights must be non-negative with a positive sum; got {w}.")
    if sigma is not None and np.any(sigma <= 0):
        raise ValueError(f"init sigma must be positive; got {sigma}.")
    if not fit_intercept and np.any(intercept != 0):
        raise ValueError(
            f"init has intercepts {intercept} but fit_intercept=False; drop them or set "
            "fit_intercept=True."
        )
    return w / w.sum(), intercept, coef, sigma
