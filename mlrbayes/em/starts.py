"""Starting points of the EM starts: random, binned by y, or given parameters."""

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
    "start_parameters",
]

INIT_CHOICES = ("auto", "random", "binned")


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
    i: int, strategy: str, given, Z, ys, k, rng, mode, s_known, scaling: Scaling
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Parameters ``(B (K, d), w (K,), s (K,))`` of start ``i`` (standardised) and its kind.

    ``"auto"``: start 0 binned with equal groups, the others random; ``"binned"``: start 0
    equal groups, later starts random group sizes; ``"given"``: start 0 the given parameters,
    the others random.
    """
    if strategy == "given" and i == 0:
        gw, gb, gc, gs = given
        B0, s0 = scaling.to_std(gb, gc, np.ones(k) if gs is None else gs)
        if gs is None:
            s0 = np.ones(k)  # standardised sd of y: a neutral start
        if mode == "known":
            s0 = s_known.copy()
        elif mode == "shared":
            s0 = np.full(k, float(np.mean(s0)))
        return B0, gw.copy(), np.broadcast_to(s0, (k,)).astype(float), "given"
    if strategy == "binned" or (strategy == "auto" and i == 0):
        return (*init_binned(Z, ys, k, None if i == 0 else rng, mode, s_known), "binned")
    return (*init_random(Z, ys, k, rng, mode, s_known), "random")


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
