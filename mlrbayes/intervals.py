"""Confidence intervals for the parameters of an EM fit, one table per interval type.

:func:`confidence_intervals` is the one entry point: ``kind`` names the interval type and the
table says which type each row is, so tables of several types concatenate into one long table
(the shape :func:`mlrbayes.calibrate` and the report read).

Interval types (``INTERVAL_KINDS``):

* ``"wald"`` — estimate ± z·SE with the exact observed-information (Louis 1982) SEs of the fit.

Later types (sandwich, parametric bootstrap, profile likelihood) register here with the same
table shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .params import flatten

__all__ = ["INTERVAL_COLUMNS", "INTERVAL_KINDS", "confidence_intervals"]

#: Columns of every interval table, in order.
INTERVAL_COLUMNS = ("parameter", "interval", "level", "estimate", "lower", "upper")

#: Interval types :func:`confidence_intervals` offers.
INTERVAL_KINDS = ("wald",)


def _check_level(level: Any) -> float:
    lv = float(level)
    if not 0.0 < lv < 1.0:
        raise ValueError(f"level={level!r} is not in (0, 1); pass e.g. 0.95.")
    return lv


def _estimates(em) -> np.ndarray:
    return flatten(
        em.weights,
        em.intercept,
        em.coef,
        em.sigma,
        fit_intercept=em.fit_intercept,
        sigma_setting=em.sigma_setting,
    )


def _wald(em, level: float) -> pd.DataFrame:
    se = em.standard_errors
    se_flat = flatten(
        se["weights"],
        se.get("intercept", np.zeros(em.n_components)),
        se["coef"],
        se.get("sigma", 0.0),
        fit_intercept=em.fit_intercept,
        sigma_setting=em.sigma_setting,
    )
    est = _estimates(em)
    z = stats.norm.ppf(0.5 + level / 2.0)
    return _table(em.param_names(), "wald", level, est, est - z * se_flat, est + z * se_flat)


def _table(names, kind, level, est, lower, upper) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "parameter": list(names),
            "interval": kind,
            "level": level,
            "estimate": np.asarray(est, dtype=float),
            "lower": np.asarray(lower, dtype=float),
            "upper": np.asarray(upper, dtype=float),
        },
        columns=list(INTERVAL_COLUMNS),
    )


def confidence_intervals(em, X: Any = None, y: Any = None, *, kind: str = "wald",
                         level: float = 0.95, **options: Any) -> pd.DataFrame:  # fmt: skip
    """Confidence intervals for every parameter of ``em``.

    Parameters
    ----------
    em : EMResult
        The fit.
    X, y : array-like or Dataset, optional
        The data ``em`` was fitted to (needed by the types that refit or re-evaluate the
        likelihood; the Wald type reads the fit's SEs only).
    kind : str
        One of :data:`INTERVAL_KINDS`.
    level : float
        Nominal coverage, in (0, 1).
    **options
        Options of the interval type (e.g. the number of bootstrap replications).

    Returns
    -------
    pandas.DataFrame
        One row per parameter (in :meth:`EMResult.param_names` order) with the columns of
        :data:`INTERVAL_COLUMNS`. Bounds are NaN where the SE is unavailable.
    """
    lv = _check_level(level)
    if kind not in INTERVAL_KINDS:
        raise ValueError(f"kind={kind!r} is not one of {list(INTERVAL_KINDS)}.")
    if options:
        raise TypeError(f"kind={kind!r} takes no options; got {sorted(options)}.")
    return _wald(em, lv)
