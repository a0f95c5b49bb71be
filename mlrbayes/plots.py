"""Figures for EM fits, posteriors and their comparison (matplotlib only).

Every function takes plain arrays (already computed elsewhere: this module does no statistics)
and draws onto a given ``ax=`` (returning the Axes) or ``fig=`` (returning the Figure); when none
is given a new one is created. Components keep one colour everywhere (matplotlib's ``tab10``
cycle, component ``k`` -> ``C{k}``), so a line in one figure matches the same component in the
next.

Functions
---------
plot_fitted_lines   data and one fitted line per component, points coloured by membership (p = 1)
plot_residuals      residual panels per component for several predictors
plot_fit            one of the two above, chosen by the number of predictors
plot_loglik_trace   EM log-likelihood per iteration
plot_census         distinct EM optima: log-likelihood and how many starts reached each
plot_trace          MCMC trace per parameter, one line per chain
plot_forest         EM estimate +/- 2 SE against the posterior HDI, grouped by parameter kind
plot_mode_lines     the regression lines each posterior mode implies (p = 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "component_color",
    "plot_census",
    "plot_fit",
    "plot_fitted_lines",
    "plot_forest",
    "plot_loglik_trace",
    "plot_mode_lines",
    "plot_residuals",
    "plot_trace",
]

_MODE_STYLES = ("-", "--", ":", "-.")


def component_color(k: int) -> str:
    """Matplotlib colour of component ``k`` (``"C0"``, ``"C1"``, ...)."""
    return f"C{int(k) % 10}"


def _new_ax(ax):
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    return ax


def _new_fig(fig, figsize):
    if fig is not None:
        fig.clear()
        return fig
    return plt.figure(figsize=figsize, layout="constrained")


def _membership(responsibilities: np.ndarray | None, n: int, k: int) -> np.ndarray | None:
    if responsibilities is None:
        return None
    r = np.asarray(responsibilities, dtype=float)
    if r.shape != (n, k):
        raise ValueError(
            f"responsibilities must have shape (n_samples, K) = ({n}, {k}); got {r.shape}."
        )
    return np.argmax(r, axis=1)


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
        Points are coloured by the component with the largest responsibility; without it all
        points are grey.
    weights : array-like of shape (K,), optional
        Shown in the legend.
    feature_name, target_name : str
        Axis labels.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line per component (``ax.lines[k]``), one scatter collection per component that has
        points (or one grey collection without responsibilities).
    """
    ax = _new_ax(ax)
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    if x.shape[1] != 1:
        raise ValueError(
            f"plot_fitted_lines draws one predictor; got {x.shape[1]} columns. "
            "Use plot_residuals (or plot_fit) for several predictors."
        )
    x = x[:, 0]
    y = np.asarray(y, dtype=float)
    b = np.asarray(intercept, dtype=float)
    c = np.asarray(coef, dtype=float).reshape(b.shape[0], -1)[:, 0]
    k_count = b.shape[0]
    member = _membership(responsibilities, x.shape[0], k_count)
    if member is None:
        ax.scatter(x, y, s=14, color="0.5", alpha=0.7, label="data")
    else:
        for k in range(k_count):
            sel = member == k
            if np.any(sel):
                ax.scatter(
                    x[sel],
                    y[sel],
                    s=14,
                    color=component_color(k),
                    alpha=0.7,
                    label=f"assigned to component {k} (n={int(sel.sum())})",
                )
    grid = np.linspace(x.min(), x.max(), 200)
    for k in range(k_count):
        w = "" if weights is None else f", weight {float(np.asarray(weights)[k]):.2f}"
        ax.plot(
            grid,
            b[k] + c[k] * grid,
            color=component_color(k),
            lw=2,
            label=f"component {k}: {target_name} = {b[k]:.3g} + {c[k]:.3g}·{feature_name}{w}",
        )
    ax.set_xlabel(feature_name)
    ax.set_ylabel(target_name)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small", loc="best")
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

    Panel ``k`` shows the observations assigned to component ``k`` (largest responsibility):
    residual ``y - (b_k + c_k . x)`` against the fitted value ``b_k + c_k . x``.

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
    member = _membership(responsibilities, X.shape[0], k_count)
    fig = _new_fig(fig, (3.6 * k_count, 3.4))
    axes = fig.subplots(1, k_count, squeeze=False)[0]
    for k, ax in enumerate(axes):
        sel = member == k
        fitted = b[k] + X[sel] @ c[k]
        ax.scatter(fitted, y[sel] - fitted, s=12, color=component_color(k), alpha=0.7)
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
        fig = _new_fig(fig, (6.4, 4.4))
        ax = fig.subplots()
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
            ax=ax,
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
    ax = _new_ax(ax)
    tr = np.asarray(loglik_trace, dtype=float)
    ax.plot(np.arange(tr.shape[0]), tr, marker="o", ms=3, color="C0", label="best start")
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("log-likelihood")
    ax.set_title(title or "EM log-likelihood by iteration")
    ax.legend(fontsize="small", loc="lower right")
    return ax


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
    """
    ax = _new_ax(ax)
    ll = np.asarray(logliks, dtype=float)
    cnt = np.asarray(counts, dtype=int)
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
    ax.set_title(
        title
        or f"EM census: {int(cnt.sum())} starts, {ll.shape[0]} distinct "
        + ("optimum" if ll.shape[0] == 1 else "optima")
    )
    ax.legend(fontsize="small", loc="lower left")
    span = float(np.ptp(ll)) if ll.size > 1 else 1.0
    ax.set_xlim(ll.min() - 0.1 * span - 1e-9, ll.max() + 0.35 * span + 1e-9)
    return ax


def plot_trace(
    draws: Any,
    names: Sequence[str],
    *,
    title: str | None = None,
    fig=None,
):
    """Trace plot: one panel per parameter, one line per chain.

    Parameters
    ----------
    draws : array-like of shape (n_chains, n_draws, n_params)
    names : sequence of str, length n_params
    title : str, optional
        Figure title (e.g. "before relabelling").
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.figure.Figure
        With ``n_params`` axes (titled by name), each holding ``n_chains`` lines whose y data
        are that chain's draws.
    """
    d = np.asarray(draws, dtype=float)
    if d.ndim != 3 or d.shape[2] != len(names):
        raise ValueError(
            f"draws must have shape (n_chains, n_draws, {len(names)}) to match names; "
            f"got {d.shape}."
        )
    n_par = d.shape[2]
    ncols = 2 if n_par > 3 else 1
    nrows = int(np.ceil(n_par / ncols))
    fig = _new_fig(fig, (5.0 * ncols, 1.7 * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True).ravel()
    it = np.arange(d.shape[1])
    for j, ax in enumerate(axes):
        if j >= n_par:
            ax.set_visible(False)
            continue
        for c in range(d.shape[0]):
            ax.plot(it, d[c, :, j], lw=0.6, alpha=0.8, color=f"C{c % 10}", label=f"chain {c}")
        ax.set_title(names[j], fontsize="small")
        ax.set_ylabel("value", fontsize="small")
    for ax in axes[-ncols:]:
        ax.set_xlabel("draw")
    if d.shape[0] <= 10 and n_par:
        axes[0].legend(fontsize="x-small", ncols=min(d.shape[0], 4), loc="upper right")
    if title:
        fig.suptitle(title)
    return fig


def _kind(name: str) -> str:
    return name.split("[", 1)[0]


def plot_forest(
    names: Sequence[str],
    em: Any,
    em_se: Any,
    post_mean: Any,
    hdi_low: Any,
    hdi_high: Any,
    *,
    hdi_prob: float = 0.94,
    title: str | None = None,
    fig=None,
):
    """EM estimate ± 2 SE against the posterior mean and HDI, one row per parameter.

    Parameters are grouped by kind (weights, intercept, coef, sigma), one panel each, so each
    panel has its own scale.

    Parameters
    ----------
    names : sequence of str, length n_params
        Package-wide parameter names (``weights[0]``, ``coef[1,x]``, ...).
    em, em_se, post_mean, hdi_low, hdi_high : array-like of shape (n_params,)
        ``em_se`` may hold NaN (no error bar is drawn then).
    hdi_prob : float
        Shown in the legend.
    title : str, optional
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes per kind present. In each, row ``i`` (top first) shows the HDI as a horizontal
        line, the posterior mean as a dot and the EM estimate with its ± 2 SE error bar; the
        y tick labels are the parameter names.
    """
    names = list(names)
    em, se, pm, lo, hi = (
        np.asarray(a, dtype=float) for a in (em, em_se, post_mean, hdi_low, hdi_high)
    )
    kinds: list[str] = []
    for nm in names:
        if _kind(nm) not in kinds:
            kinds.append(_kind(nm))
    rows = [sum(_kind(nm) == kd for nm in names) for kd in kinds]
    fig = _new_fig(fig, (6.4, 0.9 + 0.42 * sum(rows) + 0.5 * len(kinds)))
    axes = fig.subplots(len(kinds), 1, squeeze=False, height_ratios=[r + 0.8 for r in rows])[:, 0]
    for ax, kd in zip(axes, kinds, strict=True):
        idx = [i for i, nm in enumerate(names) if _kind(nm) == kd]
        pos = np.arange(len(idx))[::-1].astype(float)
        for row, i in zip(pos, idx, strict=True):
            ax.plot(
                [lo[i], hi[i]],
                [row + 0.12] * 2,
                color="C0",
                lw=3,
                solid_capstyle="butt",
                label=f"posterior {hdi_prob:.0%} HDI" if row == pos[0] else None,
            )
        ax.scatter(
            pm[idx], pos + 0.12, color="C0", marker="o", s=22, zorder=3, label="posterior mean"
        )
        err = np.where(np.isfinite(se[idx]), 2.0 * se[idx], 0.0)
        ax.errorbar(
            em[idx],
            pos - 0.12,
            xerr=err,
            fmt="s",
            color="C1",
            ms=5,
            capsize=3,
            label="EM estimate ± 2 SE",
        )
        ax.set_yticks(pos, [names[i] for i in idx])
        ax.set_ylim(-0.7, len(idx) - 0.3)
        ax.set_xlabel(f"{kd} (data units)" if kd != "weights" else "mixing weight")
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(fontsize="x-small", loc="best")
    fig.suptitle(title or "EM vs posterior")
    return fig


def plot_mode_lines(
    x: Any,
    y: Any,
    modes: Sequence[Mapping[str, Any]],
    *,
    feature_name: str = "x",
    target_name: str = "y",
    title: str | None = None,
    ax=None,
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
    ax = _new_ax(ax)
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    if x.shape[1] != 1:
        raise ValueError(f"plot_mode_lines draws one predictor; got {x.shape[1]} columns.")
    x = x[:, 0]
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
