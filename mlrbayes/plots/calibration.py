"""The coverage figure of a calibration study (:func:`mlrbayes.calibrate`)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..calibration import calibration_tolerance

__all__ = ["plot_coverage"]


def plot_coverage(table: pd.DataFrame, level: float, ax: Any = None):
    """Coverage per parameter, one marker per interval type, with ±2 Monte Carlo error bars.

    Parameters
    ----------
    table : pandas.DataFrame
        :attr:`mlrbayes.calibration.CalibrationResult.table` (columns ``parameter``,
        ``interval``, ``coverage``, ``mc_error``, ``n_used``).
    level : float
        Nominal level: a solid line, and the calibration tolerance band around it (shaded).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, 0.7 * table["parameter"].nunique() + 2), 3.6))
    params = list(dict.fromkeys(table["parameter"]))
    kinds = list(dict.fromkeys(table["interval"]))
    width = 0.7 / max(1, len(kinds))
    for j, kind in enumerate(kinds):
        part = table[table["interval"] == kind].set_index("parameter").reindex(params)
        x = np.arange(len(params)) - 0.35 + width * (j + 0.5)
        ax.errorbar(
            x, part["coverage"], yerr=2.0 * part["mc_error"].fillna(0.0), fmt="o", ms=4,
            capsize=2, label=kind, color=f"C{j}",
        )  # fmt: skip
    tol = float(np.max(calibration_tolerance(level, max(1, int(table["n_used"].min())))))
    ax.axhspan(level - tol, level + tol, color="0.85", zorder=0, label=f"{level:g} ± {tol:.3g}")
    ax.axhline(level, color="k", lw=1)
    ax.set_xticks(np.arange(len(params)), params, rotation=45, ha="right")
    ax.set_ylabel("coverage")
    lowest = float(np.nanmin(table["coverage"] - 2 * table["mc_error"].fillna(0)))
    ax.set_ylim(min(level - 0.1, lowest - 0.02), 1.005)
    ax.legend(fontsize="small", loc="lower left")
    ax.set_title("Coverage of the true value (bars: ±2 Monte Carlo errors)")
    ax.figure.tight_layout()
    return ax
