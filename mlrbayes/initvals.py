"""Starting points for the sampler's chains from EM results, optima or plain dicts.

PyMC-free: turns ``init`` (an EMResult, an Optimum, a dict of parameters, or a list of them)
into one dict of initial values per chain that the model of :func:`mlrbayes.bayes.build_model`
accepts (interior weights; strictly increasing intercepts when ordered). In an extended model
the starts include the centred gating coefficients (``EMResult.gating_coef``, or the log of
the weights as a gating intercept when the start has none) and the fixed coefficients
(``EMResult.fixed_coef``, or zeros).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .spec import ModelSpec

__all__ = ["GATING_VAR", "as_start", "chain_initvals", "initvals"]

#: Name of the model's free gating variable: the centred coefficients stored transposed,
#: (concomitant, component), so that PyMC's ZeroSumNormal sums to zero over the components.
GATING_VAR = "gating_zerosum"


def as_start(obj: Any, k: int, p: int, q: int = 0, r: int = 0) -> dict[str, np.ndarray]:
    """Parameters of an EM result / optimum / mapping as plain arrays: ``weights`` (K,),
    ``intercept`` (K,) (zeros when absent), ``coef`` (K, p), ``sigma`` (array or None), and
    for ``q`` gating covariates / ``r`` fixed predictors ``gating`` (K, q) centred and
    ``fixed`` (r,) (None when the start has none: :func:`initvals` fills them in)."""
    if isinstance(obj, Mapping):
        get = obj.get
    elif all(hasattr(obj, a) for a in ("weights", "coef")):

        def get(name, default=None):
            return getattr(obj, name, default)

    else:
        raise TypeError(
            "init entries must be an EMResult, an Optimum/StartResult of one, or a dict with "
            f"'weights', 'intercept', 'coef' and 'sigma'; got {type(obj).__name__}."
        )
    out = {}
    w = np.asarray(get("weights"), dtype=float)
    c = np.asarray(get("coef"), dtype=float)
    if c.ndim == 1 and p == 1:
        c = c[:, None]
    b = get("intercept", None)
    b = np.zeros(k) if b is None else np.asarray(b, dtype=float)
    if w.shape != (k,) or b.shape != (k,) or c.shape != (k, p):
        raise ValueError(
            f"init has weights {w.shape}, intercept {b.shape}, coef {c.shape}; the model needs "
            f"({k},), ({k},) and ({k}, {p}). Pass an EM fit with the same K and predictors."
        )
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b)) and np.all(np.isfinite(c))):
        raise ValueError("init contains non-finite parameters; pass a finished EM fit.")
    out["weights"], out["intercept"], out["coef"] = w, b, c
    s = get("sigma", None)
    out["sigma"] = None if s is None else np.asarray(s, dtype=float)
    # EMResult names them gating_coef / fixed_coef; a dict may use the posterior's names.
    out["gating"] = _optional(get, ("gating_coef", "gating"), (k, q)) if q else None
    if out["gating"] is not None:
        out["gating"] = out["gating"] - out["gating"].mean(axis=0)
    out["fixed"] = _optional(get, ("fixed_coef", "fixed"), (r,)) if r else None
    out["n_gating"], out["n_fixed"] = q, r
    return out


def _optional(get, names: tuple[str, ...], shape: tuple[int, ...]) -> np.ndarray | None:
    """The first of ``names`` the start has, checked against ``shape``; None if it has none."""
    for name in names:
        val = get(name, None)
        if val is None:
            continue
        arr = np.asarray(val, dtype=float)
        if arr.shape != shape or not np.all(np.isfinite(arr)):
            raise ValueError(
                f"init has {name} of shape {arr.shape} (finite: {bool(np.all(np.isfinite(arr)))})"
                f"; the model needs finite values of shape {shape}. Pass an EM fit of the same "
                "model specification."
            )
        return arr
    return None


def initvals(start: dict, spec: ModelSpec, order_by: str | None) -> dict[str, Any]:
    """Valid PyMC initial values from EM parameters (sorted when ordered, interior weights)."""
    k = spec.n_components
    perm = np.arange(k)
    if order_by == "intercept":
        perm = np.argsort(start["intercept"], kind="stable")
    w = np.clip(start["weights"][perm], 1e-6, None)
    w = w / w.sum()
    iv: dict[str, Any] = {"coef": start["coef"][perm]}
    q = start.get("n_gating", 0)
    if q:
        g = start.get("gating")
        if g is None:  # a start without gating: its weights as a constant gating
            g = np.zeros((k, q))
            g[:, 0] = np.log(w) - np.mean(np.log(w))
        else:
            g = g[perm]
        iv[GATING_VAR] = np.ascontiguousarray(g.T)
    else:
        iv["weights"] = w
    if start.get("n_fixed", 0):
        f = start.get("fixed")
        iv["fixed"] = np.zeros(start["n_fixed"]) if f is None else f.copy()
    if spec.fit_intercept:
        b = start["intercept"][perm].copy()
        if order_by == "intercept":
            gap = 1e-6 * max(1.0, float(np.max(np.abs(b))))
            for j in range(1, k):  # strictly increasing
                b[j] = max(b[j], b[j - 1] + gap)
        iv["intercept"] = b
    mode = spec.sigma_setting
    s = start["sigma"]
    if mode in ("shared", "component"):
        if s is None or not np.all(np.asarray(s) > 0):
            raise ValueError(
                "init has no positive sigma but sigma is estimated; pass an EM fit with sigma."
            )
        sk = np.broadcast_to(s, (k,))[perm]
        iv["sigma"] = float(np.mean(sk)) if mode == "shared" else sk.copy()
    return iv


def chain_initvals(
    init: Any,
    chains: int,
    spec: ModelSpec,
    n_features: int,
    order_by: str | None = None,
    *,
    n_gating: int = 0,
    n_fixed: int = 0,
) -> list[dict[str, Any]] | None:
    """One dict of initial values per chain (None without ``init``); a list is cycled over
    the chains and a single EMResult with several optima becomes ``[best, other optima...]``.
    ``n_gating`` (q, with the gating intercept) and ``n_fixed`` (r) are the extended model's
    sizes (0 when absent)."""
    if init is None:
        return None
    if isinstance(init, Mapping) or not isinstance(init, Sequence):
        items = [init]
        optima = getattr(init, "optima", None)
    else:
        items = list(init)
        optima = None
        if not items:
            raise ValueError("init is an empty list; pass EM optima or None.")
    k = spec.n_components
    if optima is not None and len(optima) > 1 and len(items) == 1:
        # An EMResult: its best optimum first, then the other optima of the census.
        items = [init, *list(optima[1:])]
    starts = [as_start(obj, k, n_features, n_gating, n_fixed) for obj in items]
    return [initvals(starts[c % len(starts)], spec, order_by) for c in range(chains)]
