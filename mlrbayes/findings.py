"""Typed findings of the diagnosis and the comparison, and every threshold they use.

A :class:`Finding` is one statement about the posterior or about EM against it: a ``code``, a
``message`` in words and the ``numbers`` behind it. :func:`mlrbayes.diagnostics.diagnose` makes
the findings about the posterior's structure and :func:`mlrbayes.compare.compare` adds those
that need the EM standard errors; both keep them in order in ``findings``.

Codes
-----
``partial``
    The draws are marked partial (``posterior.attrs["partial"]``, an interrupted run kept with
    ``--keep-partial``): no verdict of agreement can rest on them.
``single_chain``
    One chain: R-hat, chain agreement and modes need at least 2 chains.
``label_switching``
    Chains use different labellings (or switch within a chain); relabelling resolves it.
``distinct_modes``
    At least two modes each holding at least ``MINOR_MODE_MASS`` of the posterior mass, each
    internally converged (within-mode R-hat <= ``MODE_RHAT_MAX``), whose fitted lines differ by
    at least ``LINE_DISTANCE_MIN`` component sds at the data (see :func:`line_distance`).
``minor_mode``
    A mode holding less than ``MINOR_MODE_MASS`` of the mass (a minor local mode): the chains
    there were started there; it is reported, not compared.
``poor_mixing``
    The chains disagree after relabelling but not as distinct modes: the groups are not
    internally converged, or imply nearly the same lines, or one group's R-hat exceeds
    ``MODE_RHAT_MAX``.
``weak_component``
    A component's weight has its ``WEAK_WEIGHT_QUANTILE`` quantile below ``WEAK_WEIGHT_MIN``, or
    the component owns fewer than p + 2 effective observations (n times its weight).
``sampler_problem``
    Divergent transitions, or a bulk ESS below ``ESS_MIN_PER_CHAIN`` per chain.
``em_missed_mode``
    A posterior mode's log-likelihood at its mean exceeds every EM optimum's by more than
    ``EM_MISSED_MARGIN``: EM's census missed a better optimum.
``wald_too_narrow``
    Some posterior sd exceeds the EM standard error by more than ``WALD_SD_RATIO`` (SE ratio
    below ``1 / WALD_SD_RATIO``), or the mean normalised entropy of the EM responsibilities
    exceeds ``ENTROPY_MAX``: the Wald intervals are likely too narrow; prefer the posterior
    intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import likelihood
from ._json import plain
from .permutations import best_permutations

__all__ = [
    "CODES",
    "EM_MISSED_MARGIN",
    "ENTROPY_MAX",
    "ESS_MIN_PER_CHAIN",
    "LINE_DISTANCE_MIN",
    "MINOR_MODE_MASS",
    "MODE_RHAT_MAX",
    "WALD_SD_RATIO",
    "WEAK_WEIGHT_MIN",
    "WEAK_WEIGHT_QUANTILE",
    "Finding",
    "line_distance",
    "mean_entropy",
    "posterior_findings",
    "wald_findings",
]

#: A mode with less relative posterior mass than this is a minor local mode.
MINOR_MODE_MASS = 0.01
#: A mode is internally converged when the R-hat of every parameter within it is at most this.
MODE_RHAT_MAX = 1.05
#: Two modes imply different lines when some matched component's means differ by at least this
#: many component sds (responsibility-weighted RMS over the observations).
LINE_DISTANCE_MIN = 1.0
#: A component is weak when this quantile of its weight's posterior ...
WEAK_WEIGHT_QUANTILE = 0.01
#: ... lies below this value.
WEAK_WEIGHT_MIN = 0.01
#: Bulk ESS per chain below this is a sampler problem (Vehtari et al. 2021).
ESS_MIN_PER_CHAIN = 100.0
#: Log-likelihood units by which a mode must beat every EM optimum for ``em_missed_mode``.
EM_MISSED_MARGIN = 0.01
#: Posterior sd larger than the EM SE by this factor: the Wald intervals are likely too narrow.
WALD_SD_RATIO = 1.5
#: Mean entropy of the EM responsibilities (divided by log K) above which membership is
#: uncertain.
ENTROPY_MAX = 0.3

CODES = (
    "partial",
    "single_chain",
    "label_switching",
    "distinct_modes",
    "minor_mode",
    "poor_mixing",
    "weak_component",
    "sampler_problem",
    "em_missed_mode",
    "wald_too_narrow",
)


@dataclass(frozen=True)
class Finding:
    """One finding: a code from :data:`CODES`, the message in words and its numbers."""

    code: str
    message: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}; codes are {CODES}.")

    def to_dict(self) -> dict[str, Any]:
        return plain({"code": self.code, "message": self.message, "numbers": self.numbers})


def _means_and_resp(X: np.ndarray, y: np.ndarray, mode: Any) -> tuple[np.ndarray, ...]:
    k = len(mode.weights)
    sig = np.broadcast_to(np.asarray(mode.sigma, dtype=float), (k,))
    mu = np.asarray(mode.intercept, float) + X @ np.asarray(mode.coef, float).T  # (n, K)
    resp = likelihood.responsibilities(X, y, mode.weights, mode.intercept, mode.coef, sig)
    return mu, resp, sig


def line_distance(X: np.ndarray, y: np.ndarray, a: Any, b: Any) -> float:
    """How far apart the lines of two parameter sets are at the data, in component sds.

    Components are matched by the permutation minimising the total cost; for a matched pair
    (j of ``a``, l of ``b``) the cost is the RMS over the observations of the difference of the
    component means, weighted by the average of the two responsibilities and divided by the
    average of the two sds. The result is the largest matched cost: 0 for identical lines.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    y : ndarray of shape (n,)
    a, b : objects with ``weights`` (K,), ``intercept`` (K,), ``coef`` (K, p), ``sigma``

    Returns
    -------
    float
    """
    mu_a, r_a, s_a = _means_and_resp(X, y, a)
    mu_b, r_b, s_b = _means_and_resp(X, y, b)
    wts = 0.5 * (r_a[:, None, :] + r_b[:, :, None])  # (n, j of b, l of a)
    diff2 = (mu_a[:, None, :] - mu_b[:, :, None]) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        msd = (wts * diff2).sum(0) / np.maximum(wts.sum(0), 1e-300)
        cost = msd / (0.5 * (s_a[None, :] + s_b[:, None])) ** 2  # (j, l)
    perm = best_permutations(cost)
    matched = cost[np.arange(cost.shape[0]), perm]
    return float(np.sqrt(np.max(matched)))


def mean_entropy(resp: np.ndarray) -> float:
    """Mean over observations of the entropy of the responsibilities (n, K), over log K."""
    r = np.clip(np.asarray(resp, dtype=float), 1e-300, 1.0)
    k = r.shape[1]
    if k < 2:
        return 0.0
    return float(np.mean(-(r * np.log(r)).sum(axis=1)) / np.log(k))


# ----------------------------------------------------------------------------- the posterior
def posterior_findings(
    draws: Any,
    relabelled: Any,
    n_samples: int,
    ls: Any,
    mm: Any,
    after: Any,
    em: Any = None,
) -> list[Finding]:
    """The findings about the posterior's structure (everything but ``wald_too_narrow``).

    Parameters
    ----------
    draws, relabelled : PosteriorDraws
        As sampled and relabelled.
    n_samples : int
        Observations in the data.
    ls : LabelSwitching
    mm : Multimodality
    after : pandas.DataFrame
        R-hat / ESS per parameter after relabelling (columns ``rhat``, ``ess_bulk``).
    em : EMResult, Optimum or None

    Returns
    -------
    list of Finding
    """
    out: list[Finding] = []
    if draws.attrs.get("partial"):
        done, asked = draws.attrs.get("draws_completed"), draws.attrs.get("draws_requested")
        txt = f" ({done} of {asked} draws per chain)" if done is not None else ""
        out.append(
            Finding(
                "partial",
                f"the draws are partial{txt}: the run was interrupted and kept with "
                "--keep-partial; nothing here can confirm EM",
                {"draws_completed": done, "draws_requested": asked},
            )
        )
    if draws.n_chains < 2:
        out.append(
            Finding(
                "single_chain",
                "one chain only: R-hat needs >= 2 chains, and label switching between chains "
                "and distinct modes cannot be checked; run 4 chains",
                {"chains": draws.n_chains},
            )
        )
    if ls.detected:
        out.append(
            Finding(
                "label_switching",
                f"label switching: {len(ls.chain_groups)} labelling(s) across chains, at most "
                f"{100 * float(np.max(ls.switch_fraction)):.1f}% of a chain's draws switch; "
                "relabelling resolves it",
                {
                    "labellings": len(ls.chain_groups),
                    "max_switch_fraction": float(np.max(ls.switch_fraction)),
                },
            )
        )
    out += _mode_findings(mm, after)
    out += _weak_findings(relabelled, n_samples)
    out += _sampler_findings(draws, after, bool(mm.detected))
    out += _missed_findings(mm, em)
    return out


def _mode_numbers(m: Any) -> dict[str, Any]:
    return {
        "mode": m.index,
        "mass": m.mass,
        "share_chains": m.share_chains,
        "share_draws": m.share_draws,
        "rhat_max": m.rhat_max,
        "loglik_at_mean": m.loglik_at_mean,
    }


def _mode_findings(mm: Any, after: Any) -> list[Finding]:
    """``distinct_modes``, ``minor_mode`` and ``poor_mixing``."""
    out: list[Finding] = []
    if not mm.detected:
        rh = after["rhat"].to_numpy(dtype=float)
        if np.any(rh > MODE_RHAT_MAX):
            out.append(
                Finding(
                    "poor_mixing",
                    f"the chains share one mode but mix poorly: max R-hat {np.nanmax(rh):.3f} "
                    f"> {MODE_RHAT_MAX} after relabelling; run longer chains",
                    {"rhat_max": float(np.nanmax(rh)), "threshold": MODE_RHAT_MAX},
                )
            )
        return out
    major = [m for m in mm.modes if not m.is_minor]
    for m in mm.modes:
        if m.is_minor:
            out.append(
                Finding(
                    "minor_mode",
                    f"mode {m.index} is a minor local mode: relative posterior mass "
                    f"{m.mass:.2g} < {MINOR_MODE_MASS:g} (Laplace, {mm.mass_source}), though it "
                    f"holds {100 * m.share_chains:.0f}% of chains and {100 * m.share_draws:.0f}% "
                    "of draws: chains started there stayed there",
                    {**_mode_numbers(m), "threshold": MINOR_MODE_MASS},
                )
            )
    if len(major) < 2:
        return out
    idx = [m.index for m in major]
    sub = mm.line_distance[np.ix_(idx, idx)]
    closest = float(np.min(sub[~np.eye(len(idx), dtype=bool)]))
    rhats = [m.rhat_max for m in major]
    converged = all(np.isfinite(r) and r <= MODE_RHAT_MAX for r in rhats)
    numbers = {
        "modes": idx,
        "mass": [m.mass for m in major],
        "rhat_within_max": rhats,
        "rhat_threshold": MODE_RHAT_MAX,
        "min_line_distance": closest,
        "line_distance_threshold": LINE_DISTANCE_MIN,
    }
    rtxt = ", ".join(f"{r:.3f}" for r in rhats)
    if converged and closest >= LINE_DISTANCE_MIN:
        out.append(
            Finding(
                "distinct_modes",
                f"{len(major)} distinct modes carry the mass (masses "
                + ", ".join(f"{m.mass:.2f}" for m in major)
                + f"): each converged within (R-hat {rtxt} <= {MODE_RHAT_MAX}) and their lines "
                f"differ by >= {closest:.2f} component sds at the data",
                numbers,
            )
        )
        return out
    why = []
    if not converged:
        why.append(f"within-group R-hat {rtxt} (threshold {MODE_RHAT_MAX})")
    if closest < LINE_DISTANCE_MIN:
        why.append(
            f"the groups imply nearly the same lines ({closest:.2f} < {LINE_DISTANCE_MIN:g} "
            "component sds apart at the data)"
        )
    out.append(
        Finding(
            "poor_mixing",
            f"the chains fall into {len(major)} groups that are not distinct modes: "
            + " and ".join(why)
            + "; this is poor mixing (often of a weakly identified model), not multimodality",
            numbers,
        )
    )
    return out


def _weak_findings(relabelled: Any, n: int) -> list[Finding]:
    out = []
    w = relabelled.weights
    p = relabelled.n_features
    for k in range(w.shape[-1]):
        q = float(np.quantile(w[..., k], WEAK_WEIGHT_QUANTILE))
        n_eff = float(n * np.mean(w[..., k]))
        if q < WEAK_WEIGHT_MIN or n_eff < p + 2:
            out.append(
                Finding(
                    "weak_component",
                    f"component {k} is weakly supported: the {100 * WEAK_WEIGHT_QUANTILE:g}% "
                    f"quantile of its weight is {q:.2g} (threshold {WEAK_WEIGHT_MIN:g}) and it "
                    f"owns {n_eff:.1f} effective observations (p + 2 = {p + 2}); consider "
                    f"K = {w.shape[-1] - 1}",
                    {
                        "component": k,
                        "weight_quantile": q,
                        "quantile": WEAK_WEIGHT_QUANTILE,
                        "weight_threshold": WEAK_WEIGHT_MIN,
                        "effective_n": n_eff,
                        "min_effective_n": p + 2,
                    },
                )
            )
    return out


def _sampler_findings(draws: Any, after: Any, split: bool) -> list[Finding]:
    """Divergences; low bulk ESS unless the chains are split between modes (``split``: the
    pooled ESS then measures the split, which the mode findings report)."""
    parts: list[str] = []
    numbers: dict[str, Any] = {}
    if draws.n_divergent:
        parts.append(f"{draws.n_divergent} divergent transitions")
        numbers["n_divergent"] = draws.n_divergent
    ess = after["ess_bulk"].to_numpy(dtype=float)
    ess_min = ESS_MIN_PER_CHAIN * draws.n_chains
    if not split and np.any(np.isfinite(ess)) and np.nanmin(ess) < ess_min:
        parts.append(f"min bulk ESS {np.nanmin(ess):.0f} < {ess_min:g}")
        numbers.update({"ess_bulk_min": float(np.nanmin(ess)), "ess_threshold": ess_min})
    if not parts:
        return []
    return [Finding("sampler_problem", "sampler problem: " + "; ".join(parts), numbers)]


def _missed_findings(mm: Any, em: Any) -> list[Finding]:
    optima = getattr(em, "optima", None) or ([em] if em is not None else [])
    logliks = [float(o.loglik) for o in optima if hasattr(o, "loglik")]
    if not logliks:
        return []
    best = max(logliks)
    out = []
    for m in mm.modes:
        if m.loglik_at_mean > best + EM_MISSED_MARGIN:
            out.append(
                Finding(
                    "em_missed_mode",
                    f"MCMC found a better optimum than EM: mode {m.index} has log-likelihood "
                    f"{m.loglik_at_mean:.3f} at its mean > {best:.3f}, the best EM optimum",
                    {"mode": m.index, "loglik_at_mean": m.loglik_at_mean, "em_best": best},
                )
            )
    return out


def wald_findings(responsibilities: np.ndarray | None, table: Any) -> list[Finding]:
    """``wald_too_narrow``: posterior sd well above the EM SE, or uncertain membership.

    ``responsibilities`` (n, K) of the EM fit; ``table`` the comparison table (columns
    ``name`` and ``se_ratio``).
    """
    ratio = table["se_ratio"].to_numpy(dtype=float)
    low = np.isfinite(ratio) & (ratio < 1.0 / WALD_SD_RATIO)
    ent = mean_entropy(responsibilities) if responsibilities is not None else 0.0
    if not low.any() and not ent > ENTROPY_MAX:
        return []
    parts = []
    if low.any():
        worst = int(np.argmin(np.where(low, ratio, np.inf)))
        parts.append(
            f"the posterior sd exceeds the EM standard error by more than {WALD_SD_RATIO:g}x "
            f"for {int(low.sum())} parameter(s) (worst {table['name'].iloc[worst]}: SE ratio "
            f"{ratio[worst]:.2f})"
        )
    if ent > ENTROPY_MAX:
        parts.append(
            f"membership is uncertain (mean normalised entropy of the responsibilities "
            f"{ent:.2f} > {ENTROPY_MAX:g})"
        )
    return [
        Finding(
            "wald_too_narrow",
            " and ".join(parts) + ": the Wald intervals (EM estimate +- z SE) are likely too "
            "narrow; use the posterior intervals (HDI) instead",
            {
                "se_ratio_min": float(np.nanmin(ratio)) if np.isfinite(ratio).any() else None,
                "se_ratio_threshold": 1.0 / WALD_SD_RATIO,
                "n_low": int(low.sum()),
                "mean_entropy": ent,
                "entropy_threshold": ENTROPY_MAX,
            },
        )
    ]
