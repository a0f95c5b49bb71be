"""The EM-against-posterior table, for the whole posterior and for each mode.

:func:`parameter_table` gives one row per parameter (EM estimate and standard error against the
posterior mean, median, sd and HDI, z, SE ratio, R-hat/ESS and a flag); :func:`mode_comparisons`
compares each posterior mode with the EM optimum nearest to it, in that optimum's labels, so EM
is never compared with the pooled draws of several modes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from ._json import plain
from .em import EMResult
from .modes import align_to
from .params import flatten, param_names
from .posterior.convergence import rhat_ess_table
from .posterior.draws import PosteriorDraws

__all__ = [
    "TABLE_COLUMNS",
    "ModeComparison",
    "em_vector",
    "extended_names",
    "flat_draws",
    "flatten_as",
    "mode_comparisons",
    "parameter_table",
    "row_flag",
    "summaries",
    "table_names",
]

TABLE_COLUMNS = (
    "name",
    "em",
    "em_se",
    "post_mean",
    "post_median",
    "post_sd",
    "hdi_low",
    "hdi_high",
    "z",
    "in_hdi",
    "se_ratio",
    "rhat",
    "ess_bulk",
    "ess_tail",
    "flag",
)


def flatten_as(em: EMResult, weights: Any, intercept: Any, coef: Any, sigma: Any) -> np.ndarray:
    """The plain model's parameters flattened in the order of ``em.param_names()``."""
    return flatten(
        weights,
        intercept,
        coef,
        sigma,
        fit_intercept=em.fit_intercept,
        sigma_setting=em.sigma_setting,
    )


def extended_names(em: Any) -> list[str]:
    """Names of the extended model's parameters of ``em``, in the order of
    :mod:`mlrbayes.params`: ``gating[k,<name>]`` (k outer), then ``fixed[<name>]``; empty for
    the plain model."""
    names: list[str] = []
    if getattr(em, "gating_coef", None) is not None:
        names += [f"gating[{k},{c}]" for k in range(em.n_components) for c in em.concomitant_names]
    if getattr(em, "fixed_coef", None) is not None:
        names += [f"fixed[{c}]" for c in em.fixed_names]
    return names


def table_names(em: EMResult) -> list[str]:
    """Every parameter of the table: the plain model's, then gating and fixed ones."""
    plain = param_names(
        em.n_components, em.feature_names, fit_intercept=em.fit_intercept, sigma=em.sigma_setting
    )
    return plain + extended_names(em)


def _extended_values(em: Any, gating: Any, fixed: Any, batch: tuple[int, ...]) -> list:
    """Gating (..., K, q) and fixed (..., r) values flattened; NaN where they are missing."""
    parts = []
    if getattr(em, "gating_coef", None) is not None:
        size = em.n_components * len(em.concomitant_names)
        parts.append(
            np.full((*batch, size), np.nan)
            if gating is None
            else np.asarray(gating, dtype=float).reshape(*batch, size)
        )
    if getattr(em, "fixed_coef", None) is not None:
        size = len(em.fixed_names)
        parts.append(
            np.full((*batch, size), np.nan)
            if fixed is None
            else np.asarray(fixed, dtype=float).reshape(*batch, size)
        )
    return parts


def flat_draws(em: EMResult, draws: PosteriorDraws) -> np.ndarray:
    """Draws of every parameter of :func:`table_names`, shape (chain, draw, P).

    Gating and fixed draws come from ``draws.gating`` / ``draws.fixed``; they are NaN when the
    draws lack them (a posterior of the plain model compared with an extended fit).
    """
    plain = flatten_as(em, draws.weights, draws.intercept, draws.coef, draws.sigma_param)
    extra = _extended_values(
        em, getattr(draws, "gating", None), getattr(draws, "fixed", None), plain.shape[:2]
    )
    return np.concatenate([plain, *extra], axis=-1) if extra else plain


def _estimate(em: EMResult, source: Any) -> np.ndarray:
    """The estimate of ``source`` (the fit or one of its optima) in :func:`table_names` order."""
    plain = flatten_as(em, source.weights, source.intercept, source.coef, source.sigma)
    extra = _extended_values(
        em, getattr(source, "gating_coef", None), getattr(source, "fixed_coef", None), ()
    )
    return np.concatenate([plain, *extra]) if extra else plain


def em_vector(em: EMResult) -> tuple[np.ndarray, np.ndarray]:
    """EM estimate and standard errors in the order of :func:`table_names` (NaN if no SE;
    the gating and fixed standard errors are ``standard_errors["gating"]`` (K, q) and
    ``["fixed"]`` (r,))."""
    est = _estimate(em, em)
    se = em.standard_errors or {}
    k, p = em.n_components, em.n_features

    def get(name, shape):
        v = se.get(name)
        if v is None:
            return np.full(shape, np.nan)
        return np.broadcast_to(np.asarray(v, dtype=float), shape)

    se_vec = flatten_as(
        em,
        get("weights", (k,)),
        get("intercept", (k,)),
        get("coef", (k, p)),
        get("sigma", (k,) if em.sigma_setting == "component" else ()),
    )
    extra = _extended_values(
        em,
        get("gating", (k, len(getattr(em, "concomitant_names", ()) or ()))),
        get("fixed", (len(getattr(em, "fixed_names", ()) or ()),)),
        (),
    )
    return est, np.concatenate([se_vec, *extra]) if extra else se_vec


def summaries(draws: np.ndarray, hdi_prob: float) -> dict[str, np.ndarray]:
    """Posterior mean, median, sd and HDI of (chain, draw, P) draws, each of shape (P,)."""
    import arviz_stats as azs  # ArviZ stays out of `import mlrbayes`

    d = draws.shape[-1]
    flat = draws.reshape(-1, d)
    hdi = np.asarray(azs.hdi(np.ascontiguousarray(flat.T), prob=hdi_prob), dtype=float)
    return {
        "post_mean": flat.mean(axis=0),
        "post_median": np.median(flat, axis=0),
        "post_sd": flat.std(axis=0, ddof=1) if flat.shape[0] > 1 else np.full(d, np.nan),
        "hdi_low": hdi[:, 0],
        "hdi_high": hdi[:, 1],
    }


def parameter_table(
    em: EMResult,
    draws: PosteriorDraws,
    rhat: pd.DataFrame,
    hdi_prob: float,
    thresholds: dict[str, float],
    optimum: Any = None,
) -> pd.DataFrame:
    """EM against posterior draws, one row per parameter (columns :data:`TABLE_COLUMNS`).

    Parameters
    ----------
    em : EMResult
        Names, settings and (for its own estimate) the standard errors.
    draws : PosteriorDraws
        Draws in the labels of the estimate compared with.
    rhat : pandas.DataFrame
        R-hat / ESS of the draws per parameter name (``rhat``, ``ess_bulk``, ``ess_tail``).
    hdi_prob : float
    thresholds : dict
        ``z_max`` and ``se_ratio_max``.
    optimum : Optimum, optional
        Another EM optimum to compare with instead of the estimate (no standard errors).
    """
    names = table_names(em)
    est, se = em_vector(em)
    if optimum is not None and optimum is not em:
        est = _estimate(em, optimum)
        se = np.full_like(est, np.nan)
    draws.check_matches(em)
    flat = flat_draws(em, draws)
    s = summaries(flat, hdi_prob)
    after = rhat.reindex(names)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (est - s["post_mean"]) / s["post_sd"]
        se_ratio = se / s["post_sd"]
    in_hdi = (est >= s["hdi_low"]) & (est <= s["hdi_high"])
    return pd.DataFrame(
        {
            "name": names,
            "em": est,
            "em_se": se,
            **s,
            "z": z,
            "in_hdi": in_hdi,
            "se_ratio": se_ratio,
            "rhat": after["rhat"].to_numpy(dtype=float),
            "ess_bulk": after["ess_bulk"].to_numpy(dtype=float),
            "ess_tail": after["ess_tail"].to_numpy(dtype=float),
            "flag": [
                row_flag(*v, hdi_prob, thresholds) for v in zip(z, in_hdi, se_ratio, strict=True)
            ],
        },
        columns=list(TABLE_COLUMNS),
    )


def row_flag(z: float, in_hdi: bool, ratio: float, hdi_prob: float, thr: dict[str, float]) -> str:
    """Why a row disagrees ("" when it does not)."""
    f = []
    if np.isfinite(z) and abs(z) > thr["z_max"]:
        f.append(f"|z| = {abs(z):.2f} > {thr['z_max']:g}")
    if not in_hdi:
        f.append(f"EM outside the {hdi_prob:.0%} HDI")
    lim = thr["se_ratio_max"]
    if np.isfinite(ratio) and not (1.0 / lim <= ratio <= lim):
        f.append(f"SE ratio {ratio:.2f} outside [{1 / lim:.2g}, {lim:g}]")
    return "; ".join(f)


@dataclass(frozen=True)
class ModeComparison:
    """One posterior mode against the EM optimum nearest to it.

    Attributes
    ----------
    mode : int
        Index into ``Diagnosis.multimodality.modes``.
    em_optimum : int
        Index into ``em.optima`` of the optimum compared with (the nearest one).
    share_draws, share_chains, mass : float
        Share of all draws nearest the mode, share of the chains sitting in it, and its
        relative posterior mass (:mod:`mlrbayes.modemass`).
    minor : bool
        A minor local mode (mass below :data:`mlrbayes.findings.MINOR_MODE_MASS`).
    table : pandas.DataFrame
        :func:`parameter_table` of the mode's draws (in the optimum's labels) against it.
    line : str
        The verdict line of the mode, in words.
    """

    mode: int
    em_optimum: int
    share_draws: float
    share_chains: float
    mass: float
    minor: bool
    table: pd.DataFrame
    line: str

    @property
    def agrees(self) -> bool:
        """No row of the table is flagged."""
        return bool((self.table["flag"] == "").all())

    def to_dict(self) -> dict[str, Any]:
        """Every field but the table, ``agrees``, and the table's rows as ``parameters``."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "table"}
        rows = self.table.to_dict(orient="records")
        return plain({**own, "agrees": self.agrees, "parameters": rows}, default=str)


def mode_comparisons(
    em: EMResult, diagnosis: Any, hdi_prob: float, thresholds: dict[str, float]
) -> list[ModeComparison]:
    """Each mode of the diagnosis against its nearest EM optimum (empty with one mode).

    The mode's chains (relabelled draws) are brought to the optimum's labels
    (:func:`mlrbayes.modes.align_to`); shares of draws and of chains and the mode's mass are
    stated, each as what it is.
    """
    mm = diagnosis.multimodality
    if not mm.detected:
        return []
    optima = list(em.optima) or [em]
    out = []
    for m in mm.modes:
        members = np.asarray(m.chains, dtype=int)
        j = m.em_optimum
        if j is None:
            j = int(np.argmin(mm.chain_em_distance[members].mean(axis=0)))
        target = em if j == 0 else optima[j]
        sub = align_to(diagnosis.relabelled_draws.select_chains(members), target)
        table = parameter_table(
            em, sub, rhat_ess_table(sub.flat(), sub.names()), hdi_prob, thresholds, target
        )
        shares = (
            f"mode {m.index} ({100 * m.share_draws:.0f}% of draws, {100 * m.share_chains:.0f}% "
            f"of chains, relative posterior mass {m.mass:.2g})"
        )
        flagged = int((table["flag"] != "").sum())
        near = "" if m.em_optimum is not None else " (nearest; the mode is not at it)"
        if m.is_minor:
            line = f"{shares} is a minor local mode near EM optimum #{j}{near}; not compared"
        elif flagged:
            line = (
                f"{shares} disagrees with EM optimum #{j}{near} on {flagged} of {len(table)} "
                "parameters"
            )
        else:
            line = f"{shares} agrees with EM optimum #{j}{near}"
        out.append(
            ModeComparison(
                m.index, j, m.share_draws, m.share_chains, m.mass, m.is_minor, table, line
            )
        )
    return out
