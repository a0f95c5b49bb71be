"""The report's figures of the extended model: the gating model and the groups' memberships.

``gating``: per gating covariate, the prior membership probability ``P(z = k | w)`` of each
component along the covariate (the other covariates at their means) at the EM estimate, with
the posterior's pointwise band, over a rug of the units' covariate values.
``groups``: each group's membership probabilities (EM as bars, the posterior mean as dots),
groups sorted by their probability of the first component.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..plots.style import component_color
from ..specparts import em_unit_memberships, posterior_unit_memberships, prior_membership_curves

__all__ = ["MAX_GROUP_BARS", "gating_figure", "groups_figure"]

#: Groups drawn in the membership figure (evenly spaced in the sorted order above this).
MAX_GROUP_BARS = 80


def gating_figure(comparison: Any, prob: float | None = None):
    """Prior membership probability against each gating covariate; None without gating."""
    prob = comparison.hdi_prob if prob is None else prob
    curves = prior_membership_curves(comparison.em, comparison.draws, comparison.dataset, prob=prob)
    if not curves:
        return None
    k = comparison.em.n_components
    colors = [component_color(j) for j in range(k)]
    ncols = min(len(curves), 3)
    nrows = int(np.ceil(len(curves) / ncols))
    width = max(6.4, 4.2 * ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, 3.4 * nrows + 0.4), squeeze=False, layout="constrained"
    )
    for ax, c in zip(axes.ravel(), curves, strict=False):
        for j in range(k):
            if c["low"] is not None:
                ax.fill_between(c["grid"], c["low"][:, j], c["high"][:, j], color=colors[j],
                                alpha=0.2, linewidth=0)  # fmt: skip
            ax.plot(c["grid"], c["em"][:, j], color=colors[j], label=f"component {j} (EM)")
        ax.plot(c["values"], np.full_like(c["values"], -0.03), "|", color="0.4", ms=6,
                alpha=0.5)  # fmt: skip
        ax.set_ylim(-0.06, 1.02)
        ax.set_xlabel(c["name"])
        ax.set_ylabel("prior membership probability")
    for ax in axes.ravel()[len(curves) :]:
        ax.set_visible(False)
    band = f"\nbands: posterior {prob:.0%} pointwise" if curves[0]["low"] is not None else ""
    axes[0, 0].legend(fontsize="small", loc="best")
    fig.suptitle(f"Gating model: P(component | covariates), others at their means{band}",
                 fontsize="small")  # fmt: skip
    return fig


def groups_figure(comparison: Any):
    """Membership probabilities of each group (EM bars, posterior-mean dots); None without
    groups."""
    data = comparison.dataset
    if data is None or data.groups is None:
        return None
    em_m = em_unit_memberships(comparison.em, data)
    post = posterior_unit_memberships(comparison.draws, data)
    order = np.argsort(-em_m[:, 0], kind="stable")
    if order.size > MAX_GROUP_BARS:
        order = order[np.unique(np.linspace(0, order.size - 1, MAX_GROUP_BARS).round().astype(int))]
    k = em_m.shape[1]
    colors = [component_color(j) for j in range(k)]
    fig, ax = plt.subplots(figsize=(max(6.4, 0.12 * order.size + 2), 3.6), layout="constrained")
    pos = np.arange(order.size)
    bottom = np.zeros(order.size)
    for j in range(k):
        ax.bar(pos, em_m[order, j], bottom=bottom, color=colors[j], width=0.85, alpha=0.75,
               label=f"component {j} (EM)")  # fmt: skip
        bottom += em_m[order, j]
    if post is not None:
        ax.plot(pos, post[order, 0], "o", color="black", ms=3,
                label="posterior mean P(component 0)")  # fmt: skip
    ax.set_xlim(-0.6, order.size - 0.4)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel(
        f"group (sorted by EM membership of component 0; {order.size} of {em_m.shape[0]} shown)"
    )
    ax.set_ylabel("membership probability")
    ax.set_xticks([])
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=k + 1,
              frameon=False)  # fmt: skip
    ax.set_title("Group memberships", fontsize="medium")
    return fig
