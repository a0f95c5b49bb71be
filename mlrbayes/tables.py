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
from .params import flatten
from .posterior.convergence import rhat_ess_table
from .posterior.draws import PosteriorDraws

__all__ = [
    "TABLE_COLUMNS",
    "ModeComparison",
    "em_vector",
    "flatten_as",
    "mode_comparisons",
    "parameter_table",
    "row_flag",
    "summaries",
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
    """Parameters flattened in the order of ``em.param_names()``."""
    return flatten(
        weights,
        intercept,
        coef,
        sigma,
        fit_intercept=em.fit_intercept,
        sigma_setting=em.sigma_setting,
    )


def em_vector(em: EMResult) -> tuple[np.ndarray, np.ndarray]:
    """EM estimate and standard errors in the order of ``em.param_names()`` (NaN if no SE)."""
    est = flatten_as(em, em.weights, em.intercept, em.coef, em.sigma)
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
    return est, se_vec


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
    names = em.param_names()
    est, se = em_vector(em)
    if optimum is not None and optimum is not em:
        est = flatten_as(em, optimum.weights, optimum.intercept, optimum.coef, optimum.sigma)
        se = np.full_like(est, np.nan)
    draws.check_matches(em)
    flat = flatten_as(em, draws.weights, draws.intercept, draws.coef, draws.sigma_param)
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
