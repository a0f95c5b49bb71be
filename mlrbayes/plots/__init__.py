"""Figures for EM fits, posteriors and their comparison (matplotlib).

Not imported by ``import mlrbayes``; ``mlrbayes.plots`` (or ``mb.plots``) loads it.

Plot helpers on mlrbayes objects (documented API; each takes ``ax=`` and returns what it drew
on: an Axes, or an array of Axes for multi-panel figures):

==========================  ===============================================================
``fit(em, X, y)``           data and fitted lines, points shaded by membership probability
``loglik_trace(em)``        EM log-likelihood per iteration
``census(em)``              distinct EM optima and how many starts reached each
``forest(comparison)``      EM ± z·SE against the posterior HDI, both at ``hdi_prob``
``trace(comparison)``       MCMC traces per parameter (relabelled, or raw with
                            ``relabelled=False``)
``rank(comparison)``        rank histograms per parameter, one line per chain
``ppc(comparison)``         posterior predictive check: observed vs replicated densities
``residuals(comparison)``   standardised residuals per component against N(0, 1)
``energy(comparison)``      NUTS energy and BFMI
``prior_posterior(c)``      prior against posterior density per parameter
``mode_lines(c)``           lines implied by each posterior mode
``lrt_distribution(t)``     bootstrap LRT: LR* histogram with the observed LR and p-value
``sbc_ranks(result)``       simulation-based calibration rank histograms per quantity
==========================  ===============================================================

Array-level functions (the ``plot_*`` names of v0.1, kept): :func:`plot_fitted_lines`,
:func:`plot_residuals`, :func:`plot_fit`, :func:`plot_loglik_trace`, :func:`plot_census`,
:func:`plot_trace`, :func:`plot_rank`, :func:`plot_forest`, :func:`plot_ppc`,
:func:`plot_component_residuals`, :func:`plot_energy`, :func:`plot_prior_posterior`,
:func:`plot_mode_lines`. Components keep one colour everywhere (``tab10``, component ``k`` ->
``C{k}``).
"""

from __future__ import annotations

from . import checks
from .api import (
    census,
    energy,
    fit,
    forest,
    loglik_trace,
    mode_lines,
    ppc,
    prior_posterior,
    rank,
    residuals,
    trace,
)
from .em import (
    plot_census,
    plot_fit,
    plot_fitted_lines,
    plot_loglik_trace,
    plot_mode_lines,
    plot_residuals,
)
from .posterior import (
    plot_component_residuals,
    plot_energy,
    plot_forest,
    plot_ppc,
    plot_prior_posterior,
    plot_rank,
    plot_trace,
)
from .selection import lrt_distribution, sbc_ranks
from .style import component_color, line_equation

__all__ = [
    "census",
    "checks",
    "component_color",
    "energy",
    "fit",
    "forest",
    "line_equation",
    "loglik_trace",
    "lrt_distribution",
    "mode_lines",
    "plot_census",
    "plot_component_residuals",
    "plot_energy",
    "plot_fit",
    "plot_fitted_lines",
    "plot_forest",
    "plot_loglik_trace",
    "plot_mode_lines",
    "plot_ppc",
    "plot_prior_posterior",
    "plot_rank",
    "plot_residuals",
    "plot_trace",
    "ppc",
    "prior_posterior",
    "rank",
    "residuals",
    "sbc_ranks",
    "trace",
]
