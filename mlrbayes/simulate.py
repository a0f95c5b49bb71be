"""Synthetic data with a known truth, for tests, examples and ``mlrbayes simulate``."""

from __future__ import annotations

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
        Number of observations (ignored when ``X`` is given).
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
    w = np.asarray(weights, dtype=float)
    b = np.asarray(intercept, dtype=float)
    c = np.asarray(coef, dtype=float)
    if c.ndim == 1:
        c = c[:, None]
    k = w.shape[0]
    if w.ndim != 1 or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"weights must be non-negative and sum to 1; got {w.tolist()}.")
    if b.shape != (k,) or c.shape[0] != k:
        raise ValueError(
            f"intercept must have shape ({k},) and coef ({k}, p) to match {k} weights; got "
            f"{b.shape} and {c.shape}."
        )
    s = np.broadcast_to(np.asarray(sigma, dtype=float), (k,))
    if np.any(~np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"sigma must be positive and finite; got {np.asarray(sigma).tolist()}.")
    if X is None:
        if int(n) < 1:
            raise ValueError(f"n must be >= 1; got {n}.")
        X = rng.uniform(x_low, x_high, size=(int(n), c.shape[1]))
    else:
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        if X.shape[1] != c.shape[1]:
            raise ValueError(f"X has {X.shape[1]} columns but coef has {c.shape[1]}.")
    labels = rng.choice(k, size=X.shape[0], p=w)
    mean = b[labels] + np.einsum("ij,ij->i", X, c[labels])
    y = mean + s[labels] * rng.standard_normal(X.shape[0])
    return X, y, labels
