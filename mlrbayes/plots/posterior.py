"""Figures of posterior draws from plain arrays: traces, rank plots, forest, predictive checks,
energy and prior against posterior.

Each function takes arrays (computed elsewhere, e.g. by :mod:`mlrbayes.plots.checks`) and
draws onto ``ax=`` (one Axes, or a sequence of Axes for multi-panel figures) or ``fig=``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from .checks import histogram_density
from .style import axes_grid, component_color, new_ax, new_fig

__all__ = [
    "plot_component_residuals",
    "plot_energy",
    "plot_forest",
    "plot_ppc",
    "plot_prior_posterior",
    "plot_rank",
    "plot_trace",
    "trace_on",
]


def _check_draws(draws: Any, names: Sequence[str]) -> np.ndarray:
    d = np.asarray(draws, dtype=float)
    if d.ndim != 3 or d.shape[2] != len(names):
        raise ValueError(
            f"draws must have shape (n_chains, n_draws, {len(names)}) to match names; "
            f"got {d.shape}."
        )
    return d


def plot_trace(draws: Any, names: Sequence[str], *, title: str | None = None, fig=None):
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
    d = _check_draws(draws, names)
    n_par = d.shape[2]
    ncols = 2 if n_par > 3 else 1
    nrows = int(np.ceil(n_par / ncols))
    fig = new_fig(fig, (5.0 * ncols, 1.7 * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True).ravel()
    for ax in axes[n_par:]:
        ax.set_visible(False)
    trace_on(axes[:n_par], d, names)
    for ax in axes[-ncols:]:
        ax.set_xlabel("draw")
    if title:
        fig.suptitle(title)
    return fig


def trace_on(axes: Sequence[Any], draws: np.ndarray, names: Sequence[str]) -> None:
    """Draw the traces of ``draws`` (chain, draw, P) onto ``axes`` (P of them)."""
    it = np.arange(draws.shape[1])
    for j, ax in enumerate(axes):
        for c in range(draws.shape[0]):
            ax.plot(it, draws[c, :, j], lw=0.6, alpha=0.8, color=f"C{c % 10}", label=f"chain {c}")
        ax.set_title(names[j], fontsize="small")
        ax.set_ylabel("value", fontsize="small")
    if draws.shape[0] <= 10 and len(axes):
        axes[0].legend(fontsize="x-small", ncols=min(draws.shape[0], 4), loc="upper right")


def plot_rank(ranks: Any, names: Sequence[str], *, bins: int = 20, ax=None):
    """Rank histograms: per parameter, the ranks of each chain's draws among all draws.

    When the chains mix, every chain's histogram is flat (Vehtari et al. 2021); a chain stuck
    in one region piles up at one end.

    Parameters
    ----------
    ranks : array-like of int, shape (n_chains, n_draws, n_params)
        From :func:`mlrbayes.plots.checks.ranks`.
    names : sequence of str, length n_params
    bins : int
    ax : sequence of Axes, optional
        One per parameter; a new grid when omitted.

    Returns
    -------
    ndarray of Axes, shape (n_params,)
        Axes ``j`` holds one step line per chain (density of its ranks) and a grey band for
        the uniform expectation ± 2 binomial sd.
    """
    r = _check_draws(ranks, names)
    c, d, p = r.shape
    axes = axes_grid(ax, p, ncols=min(p, 3), panel_size=(3.2, 2.0))
    edges = np.linspace(0, c * d, bins + 1)
    expected = d / bins
    sd = np.sqrt(d * (1 / bins) * (1 - 1 / bins))
    for j, a in enumerate(axes):
        a.axhspan(expected - 2 * sd, expected + 2 * sd, color="0.85", lw=0)
        for ch in range(c):
            counts, _ = np.histogram(r[ch, :, j], bins=edges)
            a.stairs(counts, edges, color=f"C{ch % 10}", lw=1)
        a.set_title(names[j], fontsize="small")
        a.set_yticks([])
        a.set_xlabel("rank (all chains)", fontsize="x-small")
        a.tick_params(labelsize="x-small")
    return axes


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
    ax=None,
):
    """EM estimate ± z·SE against the posterior mean and HDI, both at level ``hdi_prob``.

    The EM interval is the normal interval ``em ± z_{(1+p)/2} · se`` with ``p = hdi_prob``
    (1.881 for 94%), so both intervals have the same nominal coverage. Parameters are grouped
    by kind (weights, intercept, coef, sigma), one panel each, so each panel has its own scale.

    Parameters
    ----------
    names : sequence of str, length n_params
        Package-wide parameter names (``weights[0]``, ``coef[1,x]``, ...).
    em, em_se, post_mean, hdi_low, hdi_high : array-like of shape (n_params,)
        ``em_se`` may hold NaN (no error bar is drawn then).
    hdi_prob : float
        The level of both intervals, shown in the legend.
    title : str, optional
    fig : matplotlib Figure, optional
    ax : sequence of Axes, optional
        One per kind present, drawn on instead of a new (or cleared) Figure; no title is set.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per kind present. In each, row ``i`` (top first) shows the HDI as a horizontal
        line, the posterior mean as a dot and the EM estimate with its error bar; the y tick
        labels are the parameter names.
    """
    names = list(names)
    em, se, pm, lo, hi = (
        np.asarray(a, dtype=float) for a in (em, em_se, post_mean, hdi_low, hdi_high)
    )
    z = float(stats.norm.ppf((1.0 + hdi_prob) / 2.0))
    kinds: list[str] = []
    for nm in names:
        if _kind(nm) not in kinds:
            kinds.append(_kind(nm))
    rows = [sum(_kind(nm) == kd for nm in names) for kd in kinds]
    if ax is not None:
        axes = axes_grid(ax, len(kinds), ncols=1, panel_size=(6.4, 2.0))
        fig = axes[0].figure
    else:
        fig = new_fig(fig, (6.4, 0.9 + 0.42 * sum(rows) + 0.5 * len(kinds)))
        grid = fig.subplots(len(kinds), 1, squeeze=False, height_ratios=[r + 0.8 for r in rows])
        axes = grid[:, 0]
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
        err = np.where(np.isfinite(se[idx]), z * se[idx], 0.0)
        ax.errorbar(
            em[idx],
            pos - 0.12,
            xerr=err,
            fmt="s",
            color="C1",
            ms=5,
            capsize=3,
            label=f"EM estimate ± {z:.3g} SE ({hdi_prob:.0%})",
        )
        ax.set_yticks(pos, [names[i] for i in idx])
        ax.set_ylim(-0.7, len(idx) - 0.3)
        ax.set_xlabel(f"{kd} (data units)" if kd != "weights" else "mixing weight")
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(fontsize="x-small", loc="best")
    if ax is None or title:
        fig.suptitle(title or "EM vs posterior")
    return fig


def _kind(name: str) -> str:
    return name.split("[", 1)[0]


def plot_ppc(
    y: Any, y_rep: Any, edges: Any, *, target_name: str = "y", title: str | None = None, ax=None
):
    """Posterior predictive check: density of the observed response against replicated ones.

    Parameters
    ----------
    y : array-like of shape (n,)
    y_rep : array-like of shape (S, n)
        Responses simulated from S posterior draws (:func:`mlrbayes.plots.checks.replicate_y`).
    edges : array-like of shape (B + 1,)
        Histogram bins shared by all densities.
    target_name, title : str
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        S thin blue lines (one per replicate: histogram density at the bin centres), then one
        thick black line for the data.
    """
    ax = new_ax(ax)
    e = np.asarray(edges, dtype=float)
    mid = 0.5 * (e[1:] + e[:-1])
    rep = histogram_density(np.asarray(y_rep, dtype=float), e)
    for s, dens in enumerate(rep):
        ax.plot(mid, dens, color="C0", alpha=0.3, lw=0.8, label="replicated" if s == 0 else None)
    obs = histogram_density(np.asarray(y, dtype=float), e)
    ax.plot(mid, obs, color="k", lw=2, label="observed")
    ax.set_xlabel(target_name)
    ax.set_ylabel("density")
    ax.set_title(title or "Posterior predictive check")
    ax.legend(fontsize="small", loc="best")
    return ax


def plot_component_residuals(resid: Any, responsibilities: Any, *, bins: int = 30, ax=None):
    """Standardised residuals per component, weighted by membership, against N(0, 1).

    Parameters
    ----------
    resid : array-like of shape (n, K)
        ``(y - mean_k) / sigma_k`` (:func:`mlrbayes.plots.checks.standardized_residuals`).
    responsibilities : array-like of shape (n, K)
        Weights of the observations in each component's histogram.
    bins : int
    ax : sequence of K Axes, optional

    Returns
    -------
    ndarray of Axes, shape (K,)
        Axes ``k``: one weighted density histogram (a step line) and the standard normal
        density (a dashed line).
    """
    res = np.asarray(resid, dtype=float)
    r = np.asarray(responsibilities, dtype=float)
    k_count = res.shape[1]
    axes = axes_grid(ax, k_count, ncols=min(k_count, 3), panel_size=(3.2, 2.4))
    edges = np.linspace(-4.0, 4.0, bins + 1)
    grid = np.linspace(-4.0, 4.0, 200)
    for k, a in enumerate(axes):
        w = r[:, k]
        counts, _ = np.histogram(res[:, k], bins=edges, weights=w)
        a.stairs(counts / (max(w.sum(), 1e-300) * np.diff(edges)), edges, color=component_color(k))
        a.plot(grid, stats.norm.pdf(grid), color="0.3", ls="--", lw=1)
        a.set_title(f"component {k} (Σ membership {w.sum():.1f})", fontsize="small")
        a.set_xlabel("standardised residual", fontsize="small")
        a.tick_params(labelsize="x-small")
    return axes


def plot_energy(energy: Any, bfmi: Any, *, bins: int = 30, ax=None):
    """Energy plot: marginal energy against energy transitions, with the BFMI per chain.

    Parameters
    ----------
    energy : array-like of shape (n_chains, n_draws)
        The sampler's Hamiltonian energy (``sample_stats.energy``).
    bfmi : array-like of shape (n_chains,)
    bins : int
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Two step lines (centred marginal energy, energy transitions); the title lists the BFMI.
    """
    ax = new_ax(ax, (6.4, 3.4))
    e = np.asarray(energy, dtype=float)
    marginal = (e - e.mean(axis=1, keepdims=True)).ravel()
    trans = np.diff(e, axis=1).ravel()
    lim = float(np.nanmax(np.abs(np.r_[marginal, trans]))) or 1.0
    edges = np.linspace(-lim, lim, bins + 1)
    for vals, label, color in ((marginal, "marginal energy", "C0"), (trans, "transition", "C1")):
        dens, _ = np.histogram(vals, bins=edges, density=True)
        ax.stairs(dens, edges, color=color, lw=1.5, label=label)
    txt = ", ".join(f"{v:.2f}" for v in np.ravel(np.asarray(bfmi, dtype=float)))
    ax.set_title(f"Energy (BFMI per chain: {txt})", fontsize="medium")
    ax.set_xlabel("energy − chain mean")
    ax.set_yticks([])
    ax.legend(fontsize="small")
    return ax


def plot_prior_posterior(
    draws: Any, names: Sequence[str], grids: Any, prior_densities: Any, *, bins: int = 30, ax=None
):
    """Prior against posterior density for each parameter (prior sensitivity at a glance).

    Parameters
    ----------
    draws : array-like of shape (n_draws_total, n_params)
        Posterior draws, chains pooled.
    names : sequence of str, length n_params
    grids, prior_densities : array-like of shape (n_params, G)
        The prior density of parameter ``j`` evaluated on ``grids[j]``.
    bins : int
    ax : sequence of Axes, optional

    Returns
    -------
    ndarray of Axes, shape (n_params,)
        Axes ``j``: the posterior density histogram (a step line, ``C0``) and the prior
        density (a dashed grey line whose data are ``grids[j]``, ``prior_densities[j]``).
    """
    d = np.asarray(draws, dtype=float)
    g = np.asarray(grids, dtype=float)
    pd_ = np.asarray(prior_densities, dtype=float)
    axes = axes_grid(ax, len(names), ncols=min(len(names), 3), panel_size=(3.2, 2.0))
    for j, a in enumerate(axes):
        dens, edges = np.histogram(d[:, j], bins=bins, density=True)
        a.stairs(dens, edges, color="C0", lw=1.2, label="posterior")
        a.plot(g[j], pd_[j], color="0.35", ls="--", lw=1.2, label="prior")
        a.set_title(names[j], fontsize="small")
        a.set_yticks([])
        a.tick_params(labelsize="x-small")
    axes[0].legend(fontsize="x-small")
    return axes
