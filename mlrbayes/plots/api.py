"""Plot helpers on mlrbayes objects: ``mb.plots.fit(em, X, y)``, ``mb.plots.forest(comparison)``.

Each takes the fitted object (an :class:`~mlrbayes.em.EMResult` or a
:class:`~mlrbayes.compare.Comparison`) and ``ax=``: one Axes for single-panel figures, a sequence
of Axes (one per panel) for multi-panel ones. Without ``ax`` a new Figure is made. Each returns
what it drew on: the Axes, or a 1-d array of Axes. Costs are capped for large data and many
parameters (:data:`MAX_PARAMS` panels, :data:`MAX_DRAWS` draws per chain, :data:`N_REPLICATES`
replicated data sets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..compare import parameter_draws
from ..likelihood import responsibilities
from ..priors import default_priors
from ..tables import table_names
from . import checks
from . import posterior as post
from .em import (
    OPACITY_NOTE,
    membership_alpha,
    plot_census,
    plot_fitted_lines,
    plot_loglik_trace,
    plot_mode_lines,
    shaded_colors,
)
from .style import axes_grid, new_ax

__all__ = [
    "MAX_DRAWS",
    "MAX_PARAMS",
    "N_REPLICATES",
    "census",
    "energy",
    "energy_draws",
    "fit",
    "forest",
    "loglik_trace",
    "mode_lines",
    "modes_for_plot",
    "ppc",
    "prior_posterior",
    "rank",
    "residuals",
    "thinned_draws",
    "trace",
]

#: Parameters shown in per-parameter figures (the tables list them all).
MAX_PARAMS = 16
#: Draws per chain drawn in per-draw figures (thinned evenly above this).
MAX_DRAWS = 500
#: Replicated data sets in the posterior predictive check.
N_REPLICATES = 40
#: Observations used by the predictive check and residual figures (evenly spaced above this).
MAX_OBS = 20_000


def _data(comparison) -> tuple[np.ndarray, np.ndarray]:
    if comparison.X is None or comparison.y is None:
        raise ValueError(
            "this figure needs the data; the comparison holds none (pass X and y to compare())."
        )
    X = np.asarray(comparison.X, dtype=float)
    return (X if X.ndim == 2 else X[:, None]), np.asarray(comparison.y, dtype=float)


def thinned_draws(comparison, *, relabelled: bool = True) -> tuple[np.ndarray, list[str]]:
    """Parameter draws (chain, draw, P) thinned to :data:`MAX_DRAWS` and their names.

    At most :data:`MAX_PARAMS` parameters, in the order of the comparison table
    (:func:`mlrbayes.tables.table_names`: gating and fixed coefficients after the others).
    """
    d = comparison.draws if relabelled else comparison.draws_raw
    flat = parameter_draws(d, comparison.em)
    keep = checks.even_index(flat.shape[1], MAX_DRAWS)
    return flat[:, keep, :MAX_PARAMS], table_names(comparison.em)[:MAX_PARAMS]


def fit(em, X: Any, y: Any, *, ax=None):
    """Data and EM fit; points shaded by membership probability.

    Parameters
    ----------
    em : EMResult
    X : array-like of shape (n, p)
    y : array-like of shape (n,)
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One predictor: the data and one line per component (:func:`plot_fitted_lines`).
        Several: residual against fitted value of each point's most probable component,
        one scatter collection per component.
    """
    X = np.asarray(X, dtype=float)
    X = X if X.ndim == 2 else X[:, None]
    y = np.asarray(y, dtype=float)
    r = responsibilities(X, y, em.weights, em.intercept, em.coef, em.sigma)
    if X.shape[1] == 1:
        return plot_fitted_lines(
            X,
            y,
            em.intercept,
            em.coef,
            responsibilities=r,
            weights=em.weights,
            feature_name=em.feature_names[0],
            target_name=em.target_name,
            ax=ax,
        )
    ax = new_ax(ax)
    member, alpha = np.argmax(r, axis=1), membership_alpha(r)
    for k in range(em.n_components):
        sel = member == k
        fitted = em.intercept[k] + X[sel] @ np.asarray(em.coef)[k]
        ax.scatter(
            fitted,
            y[sel] - fitted,
            s=12,
            c=shaded_colors(k, alpha[sel]),
            edgecolors="none",
            label=f"component {k}",
        )
    ax.axhline(0.0, color="0.3", lw=1)
    ax.set_xlabel(f"fitted {em.target_name} (most probable component)")
    ax.set_ylabel("residual")
    ax.legend(fontsize="small", title=OPACITY_NOTE, title_fontsize="x-small")
    return ax


def loglik_trace(em, *, ax=None):
    """EM log-likelihood per iteration of the best start (:func:`plot_loglik_trace`)."""
    return plot_loglik_trace(em.loglik_trace, ax=ax)


def census(em, *, ax=None):
    """Distinct EM optima and how many starts reached each (:func:`plot_census`)."""
    return plot_census(
        [o.loglik for o in em.optima],
        [o.count for o in em.optima],
        degenerate=[o.degenerate for o in em.optima],
        ax=ax,
    )


def forest(comparison, *, ax=None):
    """EM ± z·SE against the posterior HDI at the comparison's ``hdi_prob`` (:func:`plot_forest`).

    Returns
    -------
    ndarray of Axes
        One per parameter kind (weights, intercept, coef, sigma) present.
    """
    t = comparison.table
    fig = post.plot_forest(
        t["name"],
        t["em"],
        t["em_se"],
        t["post_mean"],
        t["hdi_low"],
        t["hdi_high"],
        hdi_prob=comparison.hdi_prob,
        ax=ax,
    )
    return np.asarray(ax if ax is not None else fig.axes, dtype=object).ravel()


def trace(comparison, *, relabelled: bool = True, ax=None):
    """Trace per parameter, one line per chain, of the relabelled (or raw) draws.

    Returns
    -------
    ndarray of Axes, shape (n_params,)
    """
    d, names = thinned_draws(comparison, relabelled=relabelled)
    axes = axes_grid(ax, len(names), ncols=2, panel_size=(4.0, 1.6), sharex=True)
    post.trace_on(axes, d, names)
    return axes


def rank(comparison, *, relabelled: bool = True, ax=None):
    """Rank histograms per parameter, one line per chain (:func:`plot_rank`)."""
    d, names = thinned_draws(comparison, relabelled=relabelled)
    return post.plot_rank(checks.ranks(d), names, ax=ax)


def ppc(comparison, *, ax=None, seed: int = 0):
    """Posterior predictive check: observed density against :data:`N_REPLICATES` replicates.

    Replicates are simulated in NumPy from evenly spaced relabelled draws
    (:func:`mlrbayes.plots.checks.replicate_y`) at the observed predictors.
    """
    X, y = _data(comparison)
    obs = checks.even_index(y.shape[0], MAX_OBS)
    X, y = X[obs], y[obs]
    d = comparison.draws
    w, b, c, s = (
        np.reshape(a, (-1, *a.shape[2:])) for a in (d.weights, d.intercept, d.coef, d.sigma)
    )
    pick = checks.even_index(w.shape[0], N_REPLICATES)
    y_rep = checks.replicate_y(X, w[pick], b[pick], c[pick], s[pick], seed=seed)
    lo, hi = np.percentile(np.r_[y, y_rep.ravel()], [0.5, 99.5])
    edges = np.linspace(lo, hi, 41)
    return post.plot_ppc(y, y_rep, edges, target_name=comparison.em.target_name, ax=ax)


def residuals(comparison, *, ax=None):
    """Standardised residuals per component at the posterior means, membership-weighted.

    Returns
    -------
    ndarray of Axes, shape (K,)
    """
    X, y = _data(comparison)
    obs = checks.even_index(y.shape[0], MAX_OBS)
    X, y = X[obs], y[obs]
    d = comparison.draws
    w, b, c, s = (np.mean(a, axis=(0, 1)) for a in (d.weights, d.intercept, d.coef, d.sigma))
    r = responsibilities(X, y, w, b, c, s)
    return post.plot_component_residuals(checks.standardized_residuals(X, y, b, c, s), r, ax=ax)


def energy_draws(comparison) -> np.ndarray | None:
    """``sample_stats.energy`` (chain, draw) of the sampled tree, or None when not stored."""
    tree = comparison.idata_raw
    if tree is None or "sample_stats" not in tree.children:
        return None
    ss = tree["sample_stats"]
    if "energy" not in ss.data_vars:
        return None
    return np.asarray(ss["energy"].values, dtype=float)


def energy(comparison, *, ax=None):
    """Energy plot with the BFMI per chain (:func:`plot_energy`).

    Raises
    ------
    ValueError
        When the sampler stored no ``energy`` (e.g. a tree without ``sample_stats``).
    """
    e = energy_draws(comparison)
    if e is None:
        raise ValueError(
            "the posterior has no sample_stats.energy (the sampler did not store it); "
            "no energy plot."
        )
    return post.plot_energy(e, checks.bfmi(e), ax=ax)


def _prior_index(name: str, features: list[str]) -> tuple[str, tuple[int, ...]]:
    """``("coef", (k, j))`` for ``coef[k,<feature j>]``, ``("sigma", ())`` for ``sigma``."""
    kind, _, rest = name.partition("[")
    if not rest:
        return kind, ()
    k, _, feature = rest[:-1].partition(",")
    return kind, ((int(k), features.index(feature)) if kind == "coef" else (int(k),))


def prior_posterior(comparison, *, priors: Mapping[str, Any] | None = None, ax=None):
    """Posterior density against the prior density for each parameter.

    Parameters
    ----------
    comparison : Comparison
    priors : mapping, optional
        Resolved priors (:func:`mlrbayes.priors.resolve_priors`); by default those recorded in
        ``comparison.settings["priors"]``, else the defaults for the comparison's data.
    ax : sequence of Axes, optional

    Returns
    -------
    ndarray of Axes, shape (n_params,)
        At most :data:`MAX_PARAMS`. The prior is drawn over the posterior's range widened
        by half its width each side: a flat prior line there means the data dominate.
    """
    em = comparison.em
    pri = priors or comparison.settings.get("priors")
    if not pri:
        pri = default_priors(*_data(comparison))
    d, names = thinned_draws(comparison)
    pooled = d.reshape(-1, d.shape[2])
    lo, hi = pooled.min(axis=0), pooled.max(axis=0)
    pad = 0.5 * np.maximum(hi - lo, 1e-12)
    grids = np.linspace(lo - pad, hi + pad, 200).T
    dens = []
    for j, name in enumerate(names):
        if name.startswith(("gating[", "fixed[")) or name.partition("[")[0] not in pri:
            # extended model: gating / fixed priors are not drawn here, and a gating model's
            # weights are derived (no prior of their own)
            dens.append(np.full(grids.shape[1], np.nan))
            continue
        kind, idx = _prior_index(name, list(em.feature_names))
        if kind in ("sigma", "weights"):
            grids[j] = np.clip(grids[j], 0.0, 1.0 if kind == "weights" else None)
        dens.append(checks.prior_density(kind, idx, pri, em.n_components, grids[j]))
    return post.plot_prior_posterior(pooled, names, grids, np.asarray(dens), ax=ax)


def modes_for_plot(comparison) -> list[dict[str, Any]]:
    """The modes' lines and share of chains, as :func:`plot_mode_lines` takes them."""
    return [
        {
            "intercept": m.intercept,
            "coef": m.coef,
            "share_chains": m.share_chains,
            "label": f"mode {m.index}" + (" (EM)" if m.contains_em else ""),
        }
        for m in comparison.diagnosis.multimodality.modes
    ]


def mode_lines(comparison, *, ax=None):
    """Lines implied by each posterior mode over the data (one predictor)."""
    X, y = _data(comparison)
    return plot_mode_lines(
        X,
        y,
        modes_for_plot(comparison),
        feature_name=comparison.em.feature_names[0],
        target_name=comparison.em.target_name,
        ax=ax,
    )
