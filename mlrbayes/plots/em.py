"""Figures of an EM fit from plain arrays: data and lines, residuals, log-likelihood, census.

Each function takes arrays (computed elsewhere) and draws onto ``ax=`` (returning the Axes) or
``fig=`` (returning the Figure); a new one is created when none is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.colors import to_rgba

from .style import component_color, line_equation, new_ax, new_fig, one_predictor

__all__ = [
    "OPACITY_NOTE",
    "census_sentence",
    "membership_alpha",
    "plot_census",
    "plot_fit",
    "plot_fitted_lines",
    "plot_loglik_trace",
    "plot_mode_lines",
    "plot_residuals",
    "shaded_colors",
]

_MODE_STYLES = ("-", "--", ":", "-.")
#: Opacity of a point whose membership is as uncertain as it can be (probability 1/K).
MIN_ALPHA = 0.12
#: Legend title explaining the shading of the points.
OPACITY_NOTE = "colour: most probable component; opacity: its probability (1/K faint, 1 solid)"


def _responsibilities(responsibilities: Any, n: int, k: int) -> np.ndarray | None:
    if responsibilities is None:
        return None
    r = np.asarray(responsibilities, dtype=float)
    if r.shape != (n, k):
        raise ValueError(
            f"responsibilities must have shape (n_samples, K) = ({n}, {k}); got {r.shape}."
        )
    return r


def membership_alpha(r: np.ndarray) -> np.ndarray:
    """Opacity of each point from its membership probabilities.

    Parameters
    ----------
    r : ndarray of shape (n_samples, K)

    Returns
    -------
    ndarray of shape (n_samples,)
        ``MIN_ALPHA`` at the largest probability ``1/K`` (no information), 1 at probability 1,
        linear in between.
    """
    k = r.shape[1]
    top = r.max(axis=1)
    if k == 1:
        return np.ones_like(top)
    share = np.clip((top - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
    return MIN_ALPHA + (1.0 - MIN_ALPHA) * share


def shaded_colors(k: int, alpha: np.ndarray) -> np.ndarray:
    """RGBA rows of component ``k``'s colour with opacities ``alpha`` (shape (n,) -> (n, 4))."""
    rgba = np.tile(np.asarray(to_rgba(component_color(k))), (alpha.shape[0], 1))
    rgba[:, 3] = alpha
    return rgba


def plot_fitted_lines(
    x: Any,
    y: Any,
    intercept: Any,
    coef: Any,
    *,
    responsibilities: Any = None,
    weights: Any = None,
    feature_name: str = "x",
    target_name: str = "y",
    title: str | None = None,
    ax=None,
):
    """Scatter the data and draw one fitted line per component (one predictor).

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, 1)
    y : array-like of shape (n_samples,)
    intercept : array-like of shape (K,)
    coef : array-like of shape (K,) or (K, 1)
    responsibilities : array-like of shape (n_samples, K), optional
        Each point takes the colour of its most probable component and an opacity that grows
        with that probability (:func:`membership_alpha`), so uncertain points fade instead of
        being counted for one component; without it all points are grey.
    weights : array-like of shape (K,), optional
        Shown in the legend.
    feature_name, target_name : str
        Axis labels.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line per component (``ax.lines[k]``), one scatter collection per component that is
        the most probable for some point (or one grey collection without responsibilities).
        The legend gives, per component, the number of points it is most probable for and its
        expected count (the sum of its membership probabilities).
    """
    ax = new_ax(ax)
    x, y = one_predictor(
        x, y, "plot_fitted_lines", " Use plot_residuals (or plot_fit) for several predictors."
    )
    b = np.asarray(intercept, dtype=float)
    c = np.asarray(coef, dtype=float).reshape(b.shape[0], -1)[:, 0]
    k_count = b.shape[0]
    r = _responsibilities(responsibilities, x.shape[0], k_count)
    if r is None:
        ax.scatter(x, y, s=14, color="0.5", alpha=0.7, label="data")
    else:
        member = np.argmax(r, axis=1)
        alpha = membership_alpha(r)
        for k in range(k_count):
            sel = member == k
            if np.any(sel):
                ax.scatter(
                    x[sel],
                    y[sel],
                    s=16,
                    c=shaded_colors(k, alpha[sel]),
                    edgecolors="none",
                    label=f"most probable: component {k} (n={int(sel.sum())}, "
                    f"expected {r[:, k].sum():.1f})",
                )
    grid = np.linspace(x.min(), x.max(), 200)
    for k in range(k_count):
        w = "" if weights is None else f", weight {float(np.asarray(weights)[k]):.2f}"
        eq = line_equation(b[k], [c[k]], [feature_name], target_name)
        ax.plot(
            grid,
            b[k] + c[k] * grid,
            color=component_color(k),
            lw=2,
            label=f"component {k}: {eq}{w}",
        )
    ax.set_xlabel(feature_name)
    ax.set_ylabel(target_name)
    if title:
        ax.set_title(title)
    legend = ax.legend(fontsize="small", loc="best")
    if r is not None:
        legend.set_title(OPACITY_NOTE, prop={"size": "x-small"})
    return ax


def plot_residuals(
    X: Any,
    y: Any,
    intercept: Any,
    coef: Any,
    responsibilities: Any,
    *,
    target_name: str = "y",
    fig=None,
):
    """Residual panels, one per component, for several predictors.

    Panel ``k`` shows the observations whose most probable component is ``k``: residual
    ``y - (b_k + c_k . x)`` against the fitted value ``b_k + c_k . x``, shaded by that
    probability as in :func:`plot_fitted_lines`.

    Parameters
    ----------
    X : array-like of shape (n_samples, p)
    y : array-like of shape (n_samples,)
    intercept : array-like of shape (K,)
    coef : array-like of shape (K, p)
    responsibilities : array-like of shape (n_samples, K)
    target_name : str
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.figure.Figure
        With K axes; axes ``k`` holds one scatter collection (empty if nothing is assigned).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    b = np.asarray(intercept, dtype=float)
    c = np.asarray(coef, dtype=float).reshape(b.shape[0], X.shape[1])
    k_count = b.shape[0]
    r = _responsibilities(responsibilities, X.shape[0], k_count)
    member = np.argmax(r, axis=1)
    alpha = membership_alpha(r)
    fig = new_fig(fig, (3.6 * k_count, 3.4))
    axes = fig.subplots(1, k_count, squeeze=False)[0]
    for k, ax in enumerate(axes):
        sel = member == k
        fitted = b[k] + X[sel] @ c[k]
        ax.scatter(fitted, y[sel] - fitted, s=12, c=shaded_colors(k, alpha[sel]), edgecolors="none")
        ax.axhline(0.0, color="0.3", lw=1)
        ax.set_title(f"component {k} (n={int(sel.sum())})")
        ax.set_xlabel(f"fitted {target_name}")
        ax.set_ylabel(f"residual {target_name} − fitted")
    return fig


def plot_fit(
    X: Any,
    y: Any,
    intercept: Any,
    coef: Any,
    responsibilities: Any,
    *,
    weights: Any = None,
    feature_names: Sequence[str] | None = None,
    target_name: str = "y",
    title: str | None = None,
    fig=None,
):
    """Fitted lines over the data for one predictor, residual panels for several.

    Parameters are as in :func:`plot_fitted_lines` / :func:`plot_residuals`; ``X`` has shape
    (n_samples, p). Returns the Figure.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.shape[1] == 1:
        fig = new_fig(fig, (6.4, 4.6))
        plot_fitted_lines(
            X,
            y,
            intercept,
            coef,
            responsibilities=responsibilities,
            weights=weights,
            feature_name=(feature_names or ["x"])[0],
            target_name=target_name,
            title=title,
            ax=fig.subplots(),
        )
        return fig
    fig = plot_residuals(X, y, intercept, coef, responsibilities, target_name=target_name, fig=fig)
    if title:
        fig.suptitle(title)
    return fig


def plot_loglik_trace(loglik_trace: Any, *, title: str | None = None, ax=None):
    """EM log-likelihood after each iteration (iteration 0 is the starting point).

    Parameters
    ----------
    loglik_trace : array-like of shape (n_iter + 1,)
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line whose y data is ``loglik_trace``.
    """
    ax = new_ax(ax)
    tr = np.asarray(loglik_trace, dtype=float)
    ax.plot(np.arange(tr.shape[0]), tr, marker="o", ms=3, color="C0", label="best start")
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("log-likelihood")
    ax.set_title(title or "EM log-likelihood by iteration")
    ax.legend(fontsize="small", loc="lower right")
    return ax


def census_sentence(loglik: float, count: int) -> str:
    """The census of a single optimum in words (shown instead of a one-point figure)."""
    starts = f"{count} start{'s' if count != 1 else ''}"
    every = "The only start" if count == 1 else f"All {starts}"
    return f"{every} reached the same optimum (log-likelihood {loglik:.6g})."


def plot_census(
    logliks: Any,
    counts: Any,
    *,
    degenerate: Any = None,
    title: str | None = None,
    ax=None,
):
    """Distinct EM optima: log-likelihood of each and how many starts reached it.

    Parameters
    ----------
    logliks : array-like of shape (n_optima,)
        Best first (as in ``EMResult.optima``).
    counts : array-like of shape (n_optima,)
        Number of starts that ended at each optimum.
    degenerate : array-like of bool, shape (n_optima,), optional
        Optima where a component collapsed, drawn as red crosses.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Optimum ``i`` is drawn at ``(logliks[i], i)`` (best at the top) and annotated with
        ``"<count> starts"``; one scatter collection for regular, one for degenerate optima.
        With a single optimum the Axes holds one line of text (:func:`census_sentence`) and
        no axes frame instead of an almost empty panel.
    """
    ll = np.asarray(logliks, dtype=float)
    cnt = np.asarray(counts, dtype=int)
    ax = new_ax(ax, (6.4, 0.5) if ll.shape[0] == 1 else (6.4, 4.4))  # one line of text
    if ll.shape[0] == 1:
        ax.set_axis_off()
        ax.text(0.5, 0.5, census_sentence(ll[0], int(cnt[0])), ha="center", va="center")
        return ax
    deg = np.zeros(ll.shape, bool) if degenerate is None else np.asarray(degenerate, bool)
    idx = np.arange(ll.shape[0])
    size = 30 + 170 * cnt / max(int(cnt.max()), 1)
    ok = ~deg
    ax.scatter(ll[ok], idx[ok], s=size[ok], color="C0", zorder=3, label="optimum")
    if np.any(deg):
        ax.scatter(
            ll[deg], idx[deg], s=size[deg], color="C3", marker="X", zorder=3, label="degenerate"
        )
    for i in idx:
        ax.annotate(
            f"{cnt[i]} start{'s' if cnt[i] != 1 else ''}",
            (ll[i], i),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
        )
    ax.set_yticks(idx, [f"#{i}" for i in idx])
    ax.set_ylim(idx[-1] + 0.6 if idx.size else 0.6, -0.6)
    ax.set_xlabel("log-likelihood at optimum")
    ax.set_ylabel("distinct optimum (best first)")
    ax.set_title(title or f"EM census: {int(cnt.sum())} starts, {ll.shape[0]} distinct optima")
    ax.legend(fontsize="small", loc="lower left")
    span = float(np.ptp(ll)) if ll.size > 1 else 1.0
    ax.set_xlim(ll.min() - 0.1 * span - 1e-9, ll.max() + 0.35 * span + 1e-9)
    return ax


def plot_mode_lines(
    x: Any,
    y: Any,
    modes: Sequence[Mapping[str, Any]],
    *,
    title: str | None = None,
    ax=None,
    feature_name: str = "x",
    target_name: str = "y",
):
    """The regression lines implied by each posterior mode, over the data (one predictor).

    Parameters
    ----------
    x, y
        As in :func:`plot_fitted_lines`.
    modes : sequence of mappings
        Each with ``intercept`` (K,), ``coef`` (K,) or (K, 1), and optionally ``share_chains``
        (the fraction of chains in the mode, as in :class:`mlrbayes.diagnostics.Mode`; the
        older key ``share`` is read the same way) and ``label``.
    feature_name, target_name, title : str
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One grey scatter for the data, then K lines per mode (mode ``m`` in line style
        ``["-", "--", ":", "-."][m % 4]``), with one legend entry per mode.
    """
    ax = new_ax(ax)
    x, y = one_predictor(x, y, "plot_mode_lines")
    ax.scatter(x, y, s=12, color="0.6", alpha=0.7, label="data")
    grid = np.linspace(x.min(), x.max(), 200)
    for m, mode in enumerate(modes):
        b = np.asarray(mode["intercept"], dtype=float)
        c = np.asarray(mode["coef"], dtype=float).reshape(b.shape[0], -1)[:, 0]
        label = mode.get("label") or f"mode {m}"
        share = mode.get("share_chains", mode.get("share"))
        if share is not None:
            label += f" ({float(share):.0%} of chains)"
        for k in range(b.shape[0]):
            ax.plot(
                grid,
                b[k] + c[k] * grid,
                color=f"C{(m + 2) % 10}",
                ls=_MODE_STYLES[m % len(_MODE_STYLES)],
                lw=2,
                label=label if k == 0 else None,
            )
    ax.set_xlabel(feature_name)
    ax.set_ylabel(target_name)
    ax.set_title(title or "Lines implied by each posterior mode")
    ax.legend(fontsize="small", loc="best")
    return ax
