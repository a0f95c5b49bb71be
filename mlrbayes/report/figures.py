"""The report's figures and the numbers shown beside them (MCSE, BFMI).

:func:`make_figures` draws every figure of a comparison with :mod:`mlrbayes.plots`; the rank
plot is arviz-plots' (``arviz_plots.plot_rank``, matplotlib backend). :func:`png_bytes` saves a
figure without the metadata that would change from run to run, so reports of seeded runs are
byte-reproducible.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

from .. import plots
from ..compare import Comparison, parameter_draws
from ..plots import checks
from ..plots.api import MAX_DRAWS, MAX_PARAMS, energy_draws, modes_for_plot, thinned_draws
from ..tables import table_names
from .spec_figures import gating_figure, groups_figure

__all__ = [
    "FIGURE_NAMES",
    "MAX_TRACE_DRAWS",
    "MAX_TRACE_PARAMS",
    "energy_summary",
    "make_figures",
    "mcse_mean",
    "png_bytes",
]

#: Parameters shown in per-parameter figures (the rest are summarised in the tables).
MAX_TRACE_PARAMS = MAX_PARAMS
#: Draws per chain drawn in trace and rank plots (thinned evenly above this).
MAX_TRACE_DRAWS = MAX_DRAWS

#: Every figure a report can hold, in page order.
FIGURE_NAMES = (
    "loglik_trace",
    "census",
    "fit",
    "gating",
    "groups",
    "trace_before",
    "trace_after",
    "rank",
    "energy",
    "ppc",
    "residuals",
    "prior_posterior",
    "modes",
    "forest",
)


def _figure_of(axes: Any):
    return np.ravel(np.asarray(axes, dtype=object))[0].figure


def _rank_figure(comparison: Comparison):
    """arviz-plots' rank plot (fractional-rank ECDF differences) of the relabelled draws."""
    import arviz_base as azb
    import arviz_plots as azp

    d, names = thinned_draws(comparison)
    tree = azb.from_dict({"posterior": {nm: d[:, :, j] for j, nm in enumerate(names)}})
    ncols = min(len(names), 4)
    nrows = int(np.ceil(len(names) / ncols))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = azp.plot_rank(
            tree,
            backend="matplotlib",
            col_wrap=ncols,
            figure_kwargs={"figsize": (2.6 * ncols, 1.9 * nrows + 0.4), "layout": "constrained"},
        )
    return pc.viz["figure"].item()


def _rank_or_fallback(comparison: Comparison):
    try:
        return _rank_figure(comparison), "arviz-plots"
    except Exception:
        fig = _figure_of(plots.rank(comparison))
        fig.suptitle("Rank histograms (arviz-plots' rank plot failed)", fontsize="small")
        return fig, "rank histograms"


def make_figures(comparison: Comparison) -> dict[str, Any]:
    """All report figures of a comparison, as matplotlib Figures keyed by name.

    Keys (in :data:`FIGURE_NAMES`): ``loglik_trace``, ``census`` (only with more than one
    distinct optimum; one optimum is a sentence in the page), ``fit``, ``gating`` and
    ``groups`` (models with gating covariates / groups), ``ppc`` and
    ``residuals`` (when the comparison holds the data), ``trace_before``, ``trace_after``,
    ``rank``, ``energy`` (when the sampler stored ``energy``), ``prior_posterior``, ``forest``
    and, with multimodality and one predictor, ``modes``. The caller closes them.
    """
    em = comparison.em
    has_data = comparison.X is not None and comparison.y is not None
    figs: dict[str, Any] = {"loglik_trace": plots.loglik_trace(em).figure}
    if len(em.optima) > 1:
        figs["census"] = plots.census(em).figure
    if has_data:
        figs["fit"] = plots.plot_fit(
            comparison.X,
            comparison.y,
            em.intercept,
            em.coef,
            em.responsibilities,
            weights=em.weights,
            feature_names=em.feature_names,
            target_name=em.target_name,
            title="EM fit",
        )
    for key, make in (("gating", gating_figure), ("groups", groups_figure)):
        fig = make(comparison)  # None for a model without gating covariates / groups
        if fig is not None:
            figs[key] = fig
    names = table_names(em)[:MAX_TRACE_PARAMS]
    for key, raw, title in (
        ("trace_before", True, "Before relabelling"),
        ("trace_after", False, "After relabelling to the EM labels"),
    ):
        d, _ = thinned_draws(comparison, relabelled=not raw)
        figs[key] = plots.plot_trace(d, names, title=title)
    figs["rank"], _ = _rank_or_fallback(comparison)
    if energy_draws(comparison) is not None:
        figs["energy"] = plots.energy(comparison).figure
    if has_data:
        figs["ppc"] = plots.ppc(comparison).figure
        figs["residuals"] = _figure_of(plots.residuals(comparison))
    figs["prior_posterior"] = _figure_of(plots.prior_posterior(comparison))
    if (
        comparison.diagnosis.multimodality.detected
        and modes_for_plot(comparison)
        and em.n_features == 1
        and has_data
    ):
        figs["modes"] = plots.mode_lines(comparison).figure
    figs["forest"] = _figure_of(plots.forest(comparison))
    return figs


def png_bytes(fig, dpi: int) -> bytes:
    """PNG of ``fig`` without the ``Software`` entry (no run-to-run differences)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def mcse_mean(comparison: Comparison) -> np.ndarray:
    """Monte Carlo standard error of each posterior mean (relabelled draws), shape (P,).

    ``arviz_stats`` (``array_stats.mcse``, method ``"mean"``); NaN below 4 draws per chain.
    """
    from arviz_stats.base import array_stats  # ArviZ stays out of `import mlrbayes`

    flat = parameter_draws(comparison.draws, comparison.em)
    a = np.moveaxis(flat, -1, 0)
    if a.shape[2] < 4:
        return np.full(a.shape[0], np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(
            array_stats.mcse(a, chain_axis=-2, draw_axis=-1, method="mean"), dtype=float
        )


def energy_summary(comparison: Comparison) -> dict[str, Any]:
    """``{"available": bool, "bfmi": [per chain], "low": bool}`` for the report text.

    ``low`` is True when some chain's BFMI is below 0.3 (Betancourt 2016).
    """
    e = energy_draws(comparison)
    if e is None:
        return {"available": False, "bfmi": [], "low": False}
    b = checks.bfmi(e)
    return {"available": True, "bfmi": [float(v) for v in b], "low": bool(np.any(b < 0.3))}
