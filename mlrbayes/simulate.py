"""Synthetic data with a known truth, for tests, examples and ``mlrbayes simulate``."""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

from ._validation import check_random_state

__all__ = ["simulate"]


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
