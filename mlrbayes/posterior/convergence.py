"""R-hat and effective sample sizes of posterior draws: one path, through arviz_stats.

:func:`rhat_ess` runs the array kernels of ``arviz_stats`` (rank-normalised split R-hat,
bulk and tail ESS; Vehtari et al. 2021) on (chain, draw, P) arrays. The diagnosis' before/after
tables (:func:`convergence_table`) and the sampler check of :mod:`mlrbayes.bayes`
(:func:`sampling_diagnostics`) both call it. ``arviz_stats`` is imported when these run, so
``import mlrbayes`` does not load ArviZ.

References
----------
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. and Bürkner, P.-C. (2021). Rank-normalization,
folding, and localization: an improved R-hat. *Bayesian Analysis* 16(2), 667–718.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..params import COMPONENT_VARS
from .draws import PosteriorDraws, posterior_dataset

__all__ = [
    "SamplingDiagnostics",
    "convergence_table",
    "rhat_ess",
    "sampling_diagnostics",
]


def _quiet(func, *args, **kwargs):
    """Call an arviz_stats kernel; constant or too-short inputs give NaN without warnings."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(func(*args, **kwargs), dtype=float)


def rhat_ess(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R-hat (rank), bulk ESS and tail ESS (5% and 95% quantiles) of draws.

    Parameters
    ----------
    flat : ndarray of shape (chain, draw, P)

    Returns
    -------
    rhat, ess_bulk, ess_tail : ndarray of shape (P,)
        NaN with fewer than 4 draws per chain or for a constant parameter.
    """
    from arviz_stats.base import array_stats  # ArviZ stays out of `import mlrbayes`

    a = np.moveaxis(np.asarray(flat, dtype=float), -1, 0)  # (P, C, D)
    if a.shape[2] < 4:
        nan = np.full(a.shape[0], np.nan)
        return nan, nan.copy(), nan.copy()
    rhat = _quiet(array_stats.rhat, a, chain_axis=-2, draw_axis=-1)
    bulk = _quiet(array_stats.ess, a, chain_axis=-2, draw_axis=-1, method="bulk")
    tail = _quiet(array_stats.ess, a, chain_axis=-2, draw_axis=-1, method="tail", prob=(0.05, 0.95))
    return rhat, bulk, tail


def rhat_ess_table(flat: np.ndarray, names: list[str]) -> pd.DataFrame:
    """:func:`rhat_ess` as a DataFrame: index ``names``, columns ``rhat, ess_bulk, ess_tail``."""
    rhat, bulk, tail = rhat_ess(flat)
    return pd.DataFrame({"rhat": rhat, "ess_bulk": bulk, "ess_tail": tail}, index=names)


def convergence_table(draws: Any) -> pd.DataFrame:
    """R-hat (rank-normalised split R-hat) and bulk/tail ESS of every model parameter.

    Parameters
    ----------
    draws : PosteriorDraws or xarray.DataTree
        Raw or relabelled draws.

    Returns
    -------
    pandas.DataFrame
        Index: parameter names (``weights[k]``, ``intercept[k]``, ``coef[k,f]``, ``sigma`` /
        ``sigma[k]``); columns ``rhat``, ``ess_bulk``, ``ess_tail`` (tail ESS at the 5% and 95%
        quantiles). NaN with fewer than 4 draws per chain or for a constant parameter.
    """
    if not isinstance(draws, PosteriorDraws):
        draws = PosteriorDraws.from_datatree(draws)
    return rhat_ess_table(draws.flat(), draws.names())


@dataclass(frozen=True)
class SamplingDiagnostics:
    """Divergences and convergence of a posterior sample.

    Attributes
    ----------
    n_divergent : int
        Divergent transitions after tuning, over all chains.
    divergent_per_chain : ndarray of shape (chains,)
    max_rhat : float
        Largest rank-normalised split R-hat (Vehtari et al. 2021) over all posterior
        parameters; NaN with too few draws.
    min_ess_bulk, min_ess_tail : float
        Smallest bulk / tail effective sample size.
    converged : bool
        ``max_rhat <= rhat_threshold`` (and no NaN).
    rhat_threshold : float
    """

    n_divergent: int
    divergent_per_chain: np.ndarray
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    converged: bool
    rhat_threshold: float = 1.01

    def messages(self) -> list[str]:
        """Plain-language problems, empty when there are none."""
        msgs = []
        if self.n_divergent:
            msgs.append(
                f"{self.n_divergent} divergent transitions (per chain "
                f"{self.divergent_per_chain.tolist()}); the sampler may miss parts of the "
                "posterior. Increase target_accept or check for collapsing components."
            )
        if not self.converged:
            msgs.append(
                f"chains have not converged: max R-hat {self.max_rhat:.4f} > "
                f"{self.rhat_threshold} (min bulk ESS {self.min_ess_bulk:.0f}). Without an "
                "ordering this is expected under label switching (relabel the draws, "
                "mlrbayes.relabel); otherwise draw more samples or start from EM optima."
            )
        return msgs


def _parameter_columns(idata: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every model variable present in ``posterior`` as (chain, draw, P) columns, and the
    divergences (chain, draw); works on partial posteriors (e.g. weights only)."""
    post = posterior_dataset(idata)
    cols = []
    # the extended model's gating and fixed coefficients too (once, should COMPONENT_VARS
    # come to list gating)
    for name in dict.fromkeys((*COMPONENT_VARS, "gating", "fixed")):
        if name in post.data_vars:
            da = post[name].transpose("chain", "draw", ...)
            cols.append(np.asarray(da.values, dtype=float).reshape(*da.shape[:2], -1))
    shape = (post.sizes["chain"], post.sizes["draw"])
    div = np.zeros(shape, dtype=bool)
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"].data_vars:
        div = np.asarray(idata["sample_stats"]["diverging"].values, dtype=bool)
    flat = np.concatenate(cols, axis=-1) if cols else np.empty((*shape, 0))
    return flat, div


def sampling_diagnostics(idata: Any, *, rhat_threshold: float = 1.01) -> SamplingDiagnostics:
    """Count divergences and compute R-hat / ESS of a posterior from ``sample_posterior``.

    Parameters
    ----------
    idata : xarray.DataTree or PosteriorDraws
        With ``posterior`` and ``sample_stats`` (``diverging``) groups; a tree may hold only
        some of the model's variables.
    rhat_threshold : float, default 1.01

    Returns
    -------
    SamplingDiagnostics
    """
    if isinstance(idata, PosteriorDraws):
        flat, div_draws = idata.flat(), idata.divergences
    else:
        flat, div_draws = _parameter_columns(idata)
    div = div_draws.sum(axis=1)
    rh, eb, et = rhat_ess(flat)

    def _finite_min(vals: np.ndarray) -> float:
        vals = vals[np.isfinite(vals)]
        return float(np.min(vals)) if vals.size else float("nan")

    max_rhat = float(np.max(rh)) if rh.size else float("nan")
    return SamplingDiagnostics(
        n_divergent=int(div.sum()),
        divergent_per_chain=np.asarray(div, dtype=int),
        max_rhat=max_rhat,
        min_ess_bulk=_finite_min(eb),
        min_ess_tail=_finite_min(et),
        converged=bool(np.isfinite(max_rhat) and max_rhat <= rhat_threshold),
        rhat_threshold=float(rhat_threshold),
    )
