"""Standardisation of the data, and the way back to the user's units.

EM runs on ``(y - y_mean) / y_scale`` against the kept columns of ``(X - x_mean) / x_scale``, so
very large or very small scales give finite log-likelihoods and well-conditioned normal
equations; :class:`Scaling` converts parameters between those units and the original ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Scaling", "standardise"]


@dataclass(frozen=True)
class Scaling:
    """Affine standardisation of the data; EM runs on ``(y - y_mean) / y_scale`` against the
    kept columns of ``(X - x_mean) / x_scale``. Dropped columns (constant with an intercept, all
    zero without) get coefficient 0: the intercept absorbs a constant."""

    x_mean: np.ndarray  # (p,)
    x_scale: np.ndarray  # (p,)
    y_mean: float
    y_scale: float
    kept: np.ndarray  # (p,) bool
    fit_intercept: bool

    def to_std(self, intercept: np.ndarray, coef: np.ndarray, sigma: np.ndarray):
        """Original-unit parameters -> (B (K, d), sigma (K,)) in standardised units."""
        cs = coef * self.x_scale / self.y_scale  # (K, p)
        parts = []
        if self.fit_intercept:
            parts.append(((intercept - self.y_mean + coef @ self.x_mean) / self.y_scale)[:, None])
        parts.append(cs[:, self.kept])
        return np.concatenate(parts, axis=1), np.asarray(sigma, dtype=float) / self.y_scale

    def from_std(self, B: np.ndarray, sigma_std: np.ndarray):
        """Standardised (B, sigma) -> (intercept (K,), coef (K, p), sigma (K,))."""
        k = B.shape[0]
        coef = np.zeros((k, self.kept.shape[0]))
        fi = int(self.fit_intercept)
        coef[:, self.kept] = B[:, fi:] * self.y_scale / self.x_scale[self.kept]
        if self.fit_intercept:
            intercept = self.y_mean + self.y_scale * B[:, 0] - coef @ self.x_mean
        else:
            intercept = np.zeros(k)
        return intercept, coef, sigma_std * self.y_scale


def standardise(X: np.ndarray, y: np.ndarray, fit_intercept: bool):
    """Return ``(Z, ys, scaling)``: the design matrix (intercept column first) in standard units.

    y is centred at its mean and scaled by its root mean square, or, when it has extreme
    values (:func:`extreme_rows`), centred at its median and scaled by ``1.4826 * MAD``, so
    the other rows keep their digits.
    """
    n, p = X.shape
    if fit_intercept:
        kept = np.ptp(X, axis=0) > 0
        x_mean = X.mean(axis=0)
    else:
        kept = np.any(X != 0, axis=0)
        x_mean = np.zeros(p)
    fi = int(fit_intercept)
    Z = np.empty((n, fi + int(kept.sum())))
    if fi:
        Z[:, 0] = 1.0
    Zx = Z[:, fi:]
    Zx[...] = X if kept.all() else X[:, kept]
    Zx -= x_mean[kept]
    x_scale = np.ones(p)
    if Zx.shape[1]:
        rms = np.sqrt(np.einsum("ij,ij->j", Zx, Zx) / n)
        rms[~(np.isfinite(rms) & (rms > 0))] = 1.0
        x_scale[kept] = rms
        Zx /= rms
    extreme = extreme_rows(y)
    if extreme.any():  # robust: the mean and sd of y would hold the extreme values only
        y_mean = float(np.median(y)) if fit_intercept else 0.0
        ys = y - y_mean
        y_scale = 1.4826 * float(np.median(np.abs(y - np.median(y)))) or 1.0
    else:
        y_mean = float(np.mean(y)) if fit_intercept else 0.0
        ys = y - y_mean
        top = float(np.max(np.abs(ys)))
        y_scale = top * float(np.sqrt(np.mean((ys / top) ** 2))) if top > 0 else 1.0
    ys /= y_scale
    return Z, ys, Scaling(x_mean, x_scale, y_mean, y_scale, kept, bool(fit_intercept))


#: Values above this overflow float64 once squared against a comparable scale (1e154 squared
#: is the largest double); the fit refuses them.
MAX_ABS_VALUE = 1e150
#: An observation more than this many median absolute deviations from the median of y leaves
#: the rest of y with fewer than about 4 significant digits in float64 arithmetic together
#: with it (16 - 12), and dominates every variance: the fit warns.
MAX_ROBUST_DISTANCE = 1e12


def extreme_rows(y: np.ndarray) -> np.ndarray:
    """Rows of y more than ``MAX_ROBUST_DISTANCE`` median absolute deviations from its
    median (the mean absolute deviation when the MAD is 0), as a boolean mask of shape (n,)."""
    dev = np.abs(y - np.median(y))
    spread = float(np.median(dev)) or float(np.mean(dev))
    if spread == 0.0:
        return np.zeros(y.shape, dtype=bool)
    return dev > MAX_ROBUST_DISTANCE * spread


def check_scale(X: np.ndarray, y: np.ndarray, feature_names, target_name: str) -> tuple[str, ...]:
    """Refuse values whose squares overflow; describe extreme observations of y.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    y : ndarray of shape (n,)
    feature_names : sequence of str
    target_name : str

    Returns
    -------
    tuple of str
        A note naming the rows of y that lie more than ``MAX_ROBUST_DISTANCE`` median
        absolute deviations from its median (empty when there are none).

    Raises
    ------
    ValueError
        When ``|y|`` or ``|X|`` exceeds ``MAX_ABS_VALUE``.
    """
    top = np.abs(y)
    i = int(np.argmax(top))
    if top[i] > MAX_ABS_VALUE:
        raise ValueError(
            f"{target_name} has a value of {y[i]:.3g} (row {i}): above {MAX_ABS_VALUE:.0e} the "
            "squares in the fit overflow float64. Rescale it (e.g. divide by a power of 10, or "
            "take logs) before fitting."
        )
    if X.size:
        r, c = np.unravel_index(int(np.argmax(np.abs(X))), X.shape)
        if abs(X[r, c]) > MAX_ABS_VALUE:
            raise ValueError(
                f"predictor '{feature_names[c]}' has a value of {X[r, c]:.3g} (row {r}): above "
                f"{MAX_ABS_VALUE:.0e} the squares in the fit overflow float64. Rescale it "
                "before fitting."
            )
    dev = np.abs(y - np.median(y))
    spread = float(np.median(dev)) or float(np.mean(dev))
    if spread == 0.0 or not np.max(dev) > MAX_ROBUST_DISTANCE * spread:
        return ()
    rows = np.flatnonzero(dev > MAX_ROBUST_DISTANCE * spread)
    shown = ", ".join(f"row {j} ({target_name} = {y[j]:.3g})" for j in rows[:5])
    more = f" and {rows.size - 5} more" if rows.size > 5 else ""
    return (
        f"{target_name} has {rows.size} extreme value(s), up to {np.max(dev) / spread:.2g} "
        f"median absolute deviations ({spread:.3g}) from its median: {shown}{more}. They "
        "dominate every variance and leave the other observations with few significant digits, "
        "so the fit is unreliable; check them for data errors or leave them out",
    )
