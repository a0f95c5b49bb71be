"""Figures of model checks by simulation: the bootstrap LRT's null distribution and SBC ranks.

``lrt_distribution(test)`` takes a :class:`~mlrbayes.selection.BootstrapLRT` (from
``select_components(..., bootstrap_lrt=B, return_lrt=True)``); ``sbc_ranks(result)`` an
:class:`~mlrbayes.sbc.SBCResult`. Both take ``ax=`` and return what they drew on; neither
computes a statistic the result does not already hold (the bins aside).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from .style import axes_grid, new_ax

__all__ = ["lrt_distribution", "sbc_ranks"]


def lrt_distribution(test: Any, *, bins: int | None = None, ax=None):
    """Histogram of the bootstrap statistics LR* with the observed LR and the p-value.

    Parameters
    ----------
    test : BootstrapLRT
        One test of :func:`mlrbayes.select_components` (``return_lrt=True``).
    bins : int, optional
        Default ``min(30, max(5, n_valid // 4))``.
    ax : Axes, optional

    Returns
    -------
    Axes
        Bars: the valid LR* (``null_statistics`` without NaN); a red vertical line at the
        observed LR (labelled with it and the p-value); the title names the test.
    """
    null = np.asarray(test.null_statistics, dtype=float)
    null = null[np.isfinite(null)]
    if null.size == 0:
        raise ValueError(
            f"the test of K={test.k_null} vs {test.k_alt} has no valid bootstrap statistic "
            "(every refit failed); there is nothing to plot."
        )
    ax = new_ax(ax)
    nb = min(30, max(5, null.size // 4)) if bins is None else int(bins)
    top = max(float(null.max()), float(test.statistic) if np.isfinite(test.statistic) else 0.0)
    edges = np.linspace(0.0, top * 1.02 + 1e-12, nb + 1)
    ax.hist(null, bins=edges, color="0.6", label=f"LR* ({null.size} bootstrap sets)")
    if np.isfinite(test.statistic):
        ax.axvline(
            test.statistic,
            color="C3",
            lw=2,
            label=f"observed LR = {test.statistic:.3g}, p = {test.pvalue:.3g}",
        )
    ax.set_xlabel("LR = 2 (loglik K+1 \u2212 loglik K)")
    ax.set_ylabel("bootstrap data sets")
    ax.set_title(f"bootstrap LRT: K={test.k_null} vs K={test.k_alt}")
    ax.legend(fontsize="small")
    return ax


def sbc_ranks(
    result: Any, *, quantities: Sequence[str] | None = None, bins: int | None = None, ax=None
):
    """Rank histograms of simulation-based calibration, one panel per quantity.

    Parameters
    ----------
    result : SBCResult
        From :func:`mlrbayes.sbc.simulation_based_calibration`.
    quantities : sequence of str, optional
        Columns of ``result.ranks`` to show (default all).
    bins : int, optional
        Default ``min(20, n_draws + 1, max(2, n_sims // 5))`` (as the chi-square test).
    ax : sequence of Axes, optional
        One per quantity.

    Returns
    -------
    ndarray of Axes
        Panel ``j``: bars of the ranks per bin (bins of consecutive rank values), a grey band
        holding 99% of the counts of a bin under uniform ranks (binomial quantiles), the
        expected count as a line, and the chi-square p-value in the title.
    """
    ranks = result.ranks
    names = list(ranks.columns) if quantities is None else list(quantities)
    missing = [q for q in names if q not in ranks.columns]
    if missing:
        raise ValueError(f"unknown quantities {missing}; the result has {list(ranks.columns)}.")
    L = int(result.n_draws)
    n_sims = len(ranks)
    nb = min(20, L + 1, max(2, n_sims // 5)) if bins is None else int(bins)
    of_value = np.arange(L + 1) * nb // (L + 1)
    share = np.bincount(of_value, minlength=nb) / (L + 1)
    lo = stats.binom.ppf(0.005, n_sims, share)
    hi = stats.binom.ppf(0.995, n_sims, share)
    pvalues = dict(zip(result.tests["quantity"], result.tests["chi2_pvalue"], strict=True))
    axes = axes_grid(ax, len(names), ncols=min(len(names), 3), panel_size=(3.2, 2.2))
    x = np.arange(nb)
    for a, name in zip(axes, names, strict=True):
        counts = np.bincount(of_value[ranks[name].to_numpy(dtype=int)], minlength=nb)
        a.fill_between(np.append(x, nb) - 0.5, np.append(lo, lo[-1]), np.append(hi, hi[-1]),
                       step="post", color="0.85", lw=0)  # fmt: skip
        a.bar(x, counts, width=0.9, color="C0")
        a.step(np.append(x, nb) - 0.5, np.append(share, share[-1]) * n_sims, where="post",
               color="0.3", lw=1)  # fmt: skip
        p = pvalues.get(name, np.nan)
        a.set_title(f"{name}\nchi-square p = {p:.3g}", fontsize="small")
        a.set_xlabel(f"rank bin (ranks 0..{L})", fontsize="x-small")
        a.tick_params(labelsize="x-small")
    return axes
