"""Synthetic data with a known truth, for tests, examples and ``mlrbayes simulate``."""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

from ._validation import check_random_state

__all__ = ["simulate", "simulate_extended"]


def simulate(
    n: int,
    weights: Any,
    intercept: Any,
    coef: Any,
    sigma: Any,
    *,
    x_low: float = -3.0,
    x_high: float = 3.0,
    X: Any = None,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw data from a mixture of linear regressions.

    Parameters
    ----------
    n : int
        Number of observations (ignored when ``X`` is given); a request whose arrays would
        not fit in the free memory is refused with a ValueError that gives the size.
    weights : array-like of shape (K,)
        Mixing proportions, non-negative, summing to 1.
    intercept : array-like of shape (K,)
    coef : array-like of shape (K, p) or (K,) for one predictor
    sigma : float or array-like of shape (K,)
        Noise sd, shared or per component.
    x_low, x_high : float
        Predictors are drawn uniformly on ``[x_low, x_high]`` when ``X`` is not given.
    X : array-like of shape (n, p), optional
        Fixed predictors to use instead of uniform draws.
    random_state : int, Generator or None

    Returns
    -------
    X : ndarray of shape (n, p)
    y : ndarray of shape (n,)
    labels : ndarray of shape (n,)
        The component each observation was drawn from.

    Examples
    --------
    >>> X, y, z = simulate(100, [0.5, 0.5], [0.0, 3.0], [[1.0], [-1.0]], 0.5, random_state=0)
    >>> X.shape, y.shape, sorted(set(z.tolist()))
    ((100, 1), (100,), [0, 1])
    """
    rng = check_random_state(random_state)
    w = _finite_array(weights, "weights")
    if w.ndim != 1 or w.size == 0 or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"weights must be non-negative and sum to 1; got {w.tolist()}.")
    k = w.shape[0]
    b = _finite_array(intercept, "intercept")
    c = _finite_array(coef, "coef")
    if c.ndim == 1:
        c = c[:, None]
    if b.shape != (k,) or c.ndim != 2 or c.shape[0] != k:
        raise ValueError(
            f"intercept must have shape ({k},) and coef ({k}, p) to match {k} weights; got "
            f"{b.shape} and {c.shape}."
        )
    s = _finite_array(sigma, "sigma")
    if s.shape not in ((), (1,), (k,)) or np.any(s <= 0):
        raise ValueError(f"sigma must be positive and finite, one number or {k}; got {s.tolist()}.")
    s = np.broadcast_to(s.reshape(-1) if s.ndim else s, (k,))
    X = _design(n, X, c.shape[1], x_low, x_high, rng)
    labels = rng.choice(k, size=X.shape[0], p=w / w.sum())
    with np.errstate(over="ignore", invalid="ignore"):
        mean = b[labels] + np.einsum("ij,ij->i", X, c[labels])
        y = mean + s[labels] * rng.standard_normal(X.shape[0])
    if not np.all(np.isfinite(y)):
        raise ValueError(
            "the simulated y overflows float64 (intercept, coef, sigma or X too large); use "
            "smaller values."
        )
    return X, y, labels


def _finite_array(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numbers; got {value!r}.") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {arr.tolist()}.")
    return arr


def _n_rows(n: Any) -> int:
    """``n`` as a row count: an integer (or a float with an integer value) >= 1."""
    if isinstance(n, bool) or not isinstance(n, numbers.Real):
        raise TypeError(f"n must be an integer >= 1; got {n!r}.")
    if not math.isfinite(n) or n != int(n) or int(n) < 1:
        raise ValueError(f"n must be a whole number >= 1; got {n!r}.")
    return int(n)


def _free_bytes() -> float:
    """Free physical memory in bytes (infinite where the system does not say)."""
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def _check_size(rows: int, p: int) -> None:
    """Refuse a request whose arrays (X, its per-row coefficients, y and temporaries:
    about ``(2 p + 4) * 8`` bytes a row) would not fit in the free memory."""
    need = rows * (2 * p + 4) * 8.0
    if need > _free_bytes():
        raise ValueError(
            f"n={rows:,} rows of {p} predictor(s) need about {need / 1e9:.3g} GB, more than "
            f"the {_free_bytes() / 1e9:.3g} GB of free memory; simulate fewer rows."
        )


def _design(n, X, p, x_low, x_high, rng) -> np.ndarray:
    """Uniform predictors on [x_low, x_high], or the given X checked against p columns."""
    if X is not None:
        X = _finite_array(X, "X")
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] != p:
            raise ValueError(f"X must have shape (n, {p}) to match coef; got {X.shape}.")
        return X
    rows = _n_rows(n)
    _check_size(rows, p)
    lo, hi = _finite_array(x_low, "x_low"), _finite_array(x_high, "x_high")
    if lo.ndim or hi.ndim or not lo < hi:
        raise ValueError(f"x_low must be a number below x_high; got {x_low!r} and {x_high!r}.")
    return rng.uniform(float(lo), float(hi), size=(rows, p))


def simulate_extended(
    n: int, intercept: Any, coef: Any, sigma: Any, *, weights: Any = None,
    gating: Any = None, concomitant: Any = None, fixed: Any = None, U: Any = None,
    group_size: int | None = None, x_low: float = -3.0, x_high: float = 3.0, X: Any = None,
    random_state: Any = None,
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """Draw data from the extended model with a known truth.

    ``P(z_u = k) = weights_k`` or ``softmax_k(w_u^T gamma_k)``; ``y_i | z_u = k ~ N(b_k +
    c_k^T x_i + delta^T u_i, sigma_k^2)`` for every observation i of unit u (a group of
    ``group_size`` consecutive rows, or the row itself).

    Parameters
    ----------
    n : int
        Number of observations (ignored when ``X`` is given).
    intercept : array-like of shape (K,)
    coef : array-like of shape (K, p) or (K,)
    sigma : float or array-like of shape (K,)
    weights : array-like of shape (K,), optional
        Mixing weights (without ``gating``; default equal).
    gating : array-like of shape (K, q), optional
        Gating coefficients, first column the intercept (reported centred in the truth).
    concomitant : array-like of shape (n, q-1), optional
        Gating covariates (without the constant); default standard normal per unit (constant
        within a group).
    fixed : array-like of shape (r,), optional
        Coefficients shared by all components.
    U : array-like of shape (n, r), optional
        Their predictors; default standard normal.
    group_size : int, optional
        Rows ``g*i .. g*i + g - 1`` form group i (the last may be smaller); all share a label.
    x_low, x_high, X, random_state
        As in :func:`simulate`.

    Returns
    -------
    data : Dataset
        With ``concomitant``, ``fixed`` and ``groups`` when requested.
    truth : dict
        ``weights`` (K,) (with gating: the average prior membership over units), ``intercept``,
        ``coef`` (K, p), ``sigma`` (K,), ``gating`` (K, q) centred or None, ``fixed`` (r,) or
        None, ``labels`` (n,) the component of each observation.

    Examples
    --------
    >>> data, truth = simulate_extended(200, [0.0, 4.0], [[1.0], [-1.0]], 0.5,
    ...                                 gating=[[0.0, 1.0], [0.0, -1.0]], random_state=0)
    >>> data.concomitant_names, truth["gating"].sum(axis=0).tolist()
    (('(Intercept)', 'concomitant_x0'), [0.0, 0.0])
    """
    from .spec import as_dataset

    rng = check_random_state(random_state)
    b = _finite_array(intercept, "intercept")
    k = b.shape[0]
    c = _finite_array(coef, "coef")
    c = c[:, None] if c.ndim == 1 else c
    s = np.broadcast_to(_finite_array(sigma, "sigma"), (k,)).astype(float)
    if c.shape[0] != k or np.any(s <= 0):
        raise ValueError(f"coef must have {k} rows and sigma be positive; got {c.shape}, {s}.")
    Xa = _design(n, X, c.shape[1], x_low, x_high, rng)
    rows = Xa.shape[0]
    units = np.arange(rows) if group_size is None else np.arange(rows) // int(group_size)
    n_units = int(units[-1]) + 1
    parts: dict[str, Any] = {}
    if gating is not None:
        g = _finite_array(gating, "gating")
        if g.ndim != 2 or g.shape[0] != k:
            raise ValueError(f"gating must have shape ({k}, q); got {g.shape}.")
        if concomitant is None:
            W0 = rng.standard_normal((n_units, g.shape[1] - 1))[units]
        else:
            W0 = _finite_array(concomitant, "concomitant").reshape(rows, -1)
        eta = np.column_stack([np.ones(rows), W0]) @ g.T
        prior = np.exp(eta - eta.max(axis=1, keepdims=True))
        prior /= prior.sum(axis=1, keepdims=True)
        parts["concomitant"] = W0
        g = g - g.mean(axis=0)
    else:
        w = np.full(k, 1.0 / k) if weights is None else _finite_array(weights, "weights")
        if w.shape != (k,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise ValueError(f"weights must be {k} non-negative numbers summing to 1; got {w}.")
        prior = np.broadcast_to(w, (rows, k))
    first = np.unique(units, return_index=True)[1]
    cdf = np.cumsum(prior[first], axis=1)
    z_unit = np.minimum(np.sum(cdf <= rng.random(n_units)[:, None], axis=1), k - 1)
    labels = z_unit[units]
    y = b[labels] + np.einsum("ij,ij->i", Xa, c[labels]) + s[labels] * rng.standard_normal(rows)
    delta = None
    if fixed is not None:
        delta = _finite_array(fixed, "fixed").reshape(-1)
        Ua = rng.standard_normal((rows, delta.size)) if U is None else _finite_array(U, "U")
        Ua = Ua.reshape(rows, delta.size)
        y = y + Ua @ delta
        parts["fixed"] = Ua
    if group_size is not None:
        parts["groups"] = units
    data = as_dataset(Xa, y, **parts)
    truth = {
        "weights": prior[first].mean(axis=0),
        "intercept": b,
        "coef": c,
        "sigma": s,
        "gating": g if gating is not None else None,
        "fixed": delta,
        "labels": labels,
    }
    return data, truth
