"""Shared figure helpers: component colours, new Axes/Figures, equation text, input checks.

Everything here is used by more than one plotting module; none of it computes statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "MINUS",
    "axes_grid",
    "component_color",
    "line_equation",
    "new_ax",
    "new_fig",
    "one_predictor",
    "signed",
]

#: The minus sign used in every label (U+2212, not the hyphen).
MINUS = "\u2212"


def component_color(k: int) -> str:
    """Matplotlib colour of component ``k`` (``"C0"``, ``"C1"``, ...)."""
    return f"C{int(k) % 10}"


def new_ax(ax, figsize: tuple[float, float] = (6.4, 4.4)):
    """``ax`` itself, or the Axes of a new constrained-layout Figure."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def new_fig(fig, figsize: tuple[float, float]):
    """``fig`` cleared, or a new constrained-layout Figure of size ``figsize``."""
    if fig is not None:
        fig.clear()
        return fig
    return plt.figure(figsize=figsize, layout="constrained")


def axes_grid(ax, n_panels: int, *, ncols: int, panel_size: tuple[float, float], sharex=False):
    """``n_panels`` Axes: the ones given in ``ax`` (a sequence), or a new grid.

    Unused cells of a new grid are hidden. Returns a 1-d object array of the Axes to draw on.
    """
    if ax is not None:
        axes = np.ravel(np.asarray(ax, dtype=object))
        if axes.size < n_panels:
            raise ValueError(
                f"this figure needs {n_panels} Axes (one per panel); got {axes.size}. "
                "Pass ax=None to create them."
            )
        return axes[:n_panels]
    nrows = max(1, int(np.ceil(n_panels / ncols)))
    fig = plt.figure(
        figsize=(panel_size[0] * ncols, panel_size[1] * nrows + 0.6), layout="constrained"
    )
    grid = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex).ravel()
    for extra in grid[n_panels:]:
        extra.set_visible(False)
    return grid[:n_panels]


def signed(value: float, digits: int = 3) -> tuple[str, str]:
    """Sign and magnitude of a coefficient for an equation: ``("−", "1.01")`` for -1.01."""
    v = float(value)
    return (MINUS if v < 0 else "+"), f"{abs(v):.{digits}g}"


def line_equation(
    intercept: float,
    coef: Sequence[float] | np.ndarray,
    features: Sequence[str],
    target: str,
    *,
    digits: int = 3,
) -> str:
    """``"y = 0.0426 − 1.01·x"``: a fitted line with proper signs.

    Parameters
    ----------
    intercept : float
    coef : sequence of float, length p
    features : sequence of str, length p
    target : str
    digits : int
        Significant digits.

    Returns
    -------
    str
    """
    b = float(intercept)
    text = f"{target} = {MINUS if b < 0 else ''}{abs(b):.{digits}g}"
    for c, name in zip(np.ravel(np.asarray(coef, dtype=float)), features, strict=True):
        sign, mag = signed(c, digits)
        text += f" {sign} {mag}·{name}"
    return text


def one_predictor(x: Any, y: Any, who: str, hint: str = "") -> tuple[np.ndarray, np.ndarray]:
    """``x`` as a 1-d array of shape (n,) and ``y`` as float, checking there is one predictor."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    if x.shape[1] != 1:
        raise ValueError(f"{who} draws one predictor; got {x.shape[1]} columns.{hint}")
    return x[:, 0], y
