r"""Is a bad R-hat label switching or genuine multimodality? A diagnosis with its evidence.

:func:`diagnose` takes a posterior DataTree (layout of :mod:`mlrbayes.bayes`) and, optionally,
the EM result of the same data, and answers with a :class:`Diagnosis`:

``none``
    The chains agree on one labelling and sit in one mode.
``label_switching``
    Chains use different labellings of the same mode (or switch labels within a chain); after
    relabelling they agree.
``multimodal``
    After relabelling, chains still sit in distinct modes: different explanations of the data
    that no permutation of the labels turns into one another.

How it decides
--------------
1. **Relabelling.** Every draw is relabelled (:mod:`mlrbayes.relabel`; Stephens by default)
   towards a reference: the EM estimate when ``em`` is given, else the posterior draw with the
   highest log-likelihood.
2. **Label switching.** Per chain, the *dominant permutation* (most frequent relabelling
   permutation) and the fraction of draws whose permutation differs from it; chains whose
   dominant permutations differ "disagree by a permutation". Label switching is flagged when
   chains disagree or some chain switches in more than ``switch_threshold`` of its draws.
   R-hat and bulk/tail ESS (``arviz_stats``) are reported before and after relabelling.
3. **Modes.** Per-component parameters (weight, intercept, slopes, per-component sigma) are
   scaled by their posterior sd *within chains after relabelling* (pooled over chains and
   components, so the scale is not inflated by chains sitting in different places). The
   distance between two parameter sets is the root-mean-square of the scaled differences,
   minimised over permutations of the components. A chain belongs to the nearest EM optimum
   when its (relabelled) posterior mean lies within ``mode_threshold`` (default 3) of it;
   chains near no optimum form "modes not found by EM", grouped with the same threshold. Each
   draw is also assigned to its nearest mode (``draw_mode_fraction``).
4. **Evidence for modes.** R-hat after relabelling above ``rhat_threshold`` with chains split
   between modes; R-hat within each mode; and a nested R-hat (Margossian et al. 2024) with
   chains grouped into superchains by mode (or by starting basin via ``superchain_ids``).
   Each mode reports the mean log-likelihood of its draws, the log-likelihood at its
   posterior mean and, when the sampler stored it (``sample_stats.lp``/``logp``), the mean
   log-posterior density of its draws.

References
----------
Margossian, C. C., Hoffman, M. D., Sountsov, P., Riou-Durand, L., Vehtari, A. and Gelman, A.
(2024). Nested R-hat: assessing the convergence of Markov chain Monte Carlo when running many
short chains. *Bayesian Analysis*. doi:10.1214/24-BA1453.
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. and Bürkner, P.-C. (2021). Rank-normalization,
folding, and localization: an improved R-hat. *Bayesian Analysis* 16(2), 667–718.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import likelihood as _lik
from . import relabel as _rl
from ._json import plain
from ._validation import check_choice, check_positive_float, check_X_y
from .params import flatten, param_names

__all__ = [
    "METHODS",
    "VERDICTS",
    "Diagnosis",
    "LabelSwitching",
    "Mode",
    "Multimodality",
    "convergence_table",
    "diagnose",
    "nested_rhat",
    "posterior_arrays",
]

METHODS = ("stephens", "ecr", "pivot")
VERDICTS = ("none", "label_switching", "multimodal")


# ----------------------------------------------------------------------------- result types
def _jsonable(x: Any) -> Any:
    """Plain Python types for JSON; NaN/inf become None."""
    return plain(x, default=lambda v: v)


@dataclass(frozen=True)
class LabelSwitching:
    """Label-switching evidence.

    Attributes
    ----------
    detected : bool
        Chains disagree by a permutation, or some chain switches in more than the threshold.
    dominant : ndarray of int of shape (chain, K)
        Most frequent relabelling permutation per chain (``relabelled[j] = raw[dominant[j]]``):
        identity means the chain's raw labels already match the reference.
    switch_fraction : ndarray of shape (chain,)
        Fraction of each chain's draws whose permutation differs from the chain's dominant one.
    chain_groups : tuple of tuple of int
        Chains sharing a dominant permutation.
    chains_disagree : bool
        More than one group.
    reference : str
        What the permutations are relative to (``"em"`` or ``"max-loglik draw"``).
    switch_threshold : float
    """

    detected: bool
    dominant: np.ndarray
    switch_fraction: np.ndarray
    chain_groups: tuple[tuple[int, ...], ...]
    chains_disagree: bool
    reference: str
    switch_threshold: float

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "detected": self.detected,
                "reference": self.reference,
                "dominant_permutation": self.dominant,
                "switch_fraction": self.switch_fraction,
                "chain_groups": self.chain_groups,
                "chains_disagree": self.chains_disagree,
                "switch_threshold": self.switch_threshold,
            }
        )


@dataclass(frozen=True)
class Mode:
    """A posterior mode after relabelling.

    Attributes
    ----------
    index : int
    em_optimum : int or None
        Index into ``em.optima`` of the EM optimum this mode sits at; None for a mode not found
        by EM (or when no EM result was given).
    em_loglik : float
        Log-likelihood of that EM optimum (NaN when none).
    distance_to_em : float
        Scaled RMS distance (see module docstring) of the mode's posterior mean to the nearest
        EM optimum (NaN without EM).
    chains : tuple of int
        Chains whose posterior mean lies in this mode.
    share_chains : float
    share_draws : float
        Fraction of all draws nearest to this mode.
    mean_loglik : float
        Mean over the mode's chains' draws of the mixture log-likelihood.
    loglik_at_mean : float
        Mixture log-likelihood at the mode's posterior mean (weights renormalised).
    mean_log_posterior : float
        Mean of the sampler's log-posterior density (``sample_stats.lp``/``logp``) over the
        mode's draws; NaN when the sampler did not store it.
    weights, intercept : ndarray of shape (K,)
        Posterior means over the mode's chains (aligned to its first chain's labels).
    coef : ndarray of shape (K, p)
    sigma : float or ndarray of shape (K,)
    """

    index: int
    em_optimum: int | None
    em_loglik: float
    distance_to_em: float
    chains: tuple[int, ...]
    share_chains: float
    share_draws: float
    mean_loglik: float
    loglik_at_mean: float
    mean_log_posterior: float
    weights: np.ndarray
    intercept: np.ndarray
    coef: np.ndarray
    sigma: float | np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "index": self.index,
                "em_optimum": self.em_optimum,
                "em_loglik": self.em_loglik,
                "distance_to_em": self.distance_to_em,
                "chains": self.chains,
                "share_chains": self.share_chains,
                "share_draws": self.share_draws,
                "mean_loglik": self.mean_loglik,
                "loglik_at_mean": self.loglik_at_mean,
                "mean_log_posterior": self.mean_log_posterior,
                "weights": self.weights,
                "intercept": self.intercept,
                "coef": self.coef,
                "sigma": self.sigma,
            }
        )


@dataclass(frozen=True)
class Multimodality:
    """Evidence about modes beyond label permutation.

    Attributes
    ----------
    detected : bool
        Chains sit in two or more distinct modes after relabelling.
    modes : tuple of Mode
    chain_mode : ndarray of int of shape (chain,)
        Mode index of each chain.
    draw_mode_fraction : ndarray of shape (chain, n_modes)
        Fraction of each chain's draws nearest to each mode.
    chain_em_distance : ndarray of shape (chain, n_optima)
        Scaled RMS distance of each chain's posterior mean to each EM optimum.
    census : pandas.DataFrame
        The EM census, one row per distinct optimum: ``loglik``, ``gap`` (to the best),
        ``count`` (starts reaching it), ``share`` (of all starts), ``degenerate``,
        ``chains`` (how many chains sit there). Empty without EM.
    rhat_nested : pandas.Series
        Nested R-hat per parameter with chains grouped by ``superchain_ids`` (NaN with fewer
        than two superchains).
    rhat_within_mode : pandas.DataFrame
        R-hat per parameter (rows) computed within each mode holding two or more chains
        (columns: mode index).
    superchain_ids : ndarray of int of shape (chain,)
    threshold : float
    """

    detected: bool
    modes: tuple[Mode, ...]
    chain_mode: np.ndarray
    draw_mode_fraction: np.ndarray
    chain_em_distance: np.ndarray
    census: pd.DataFrame
    rhat_nested: pd.Series
    rhat_within_mode: pd.DataFrame
    superchain_ids: np.ndarray
    threshold: float

    @property
    def n_modes(self) -> int:
        return len(self.modes)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "detected": self.detected,
                "n_modes": self.n_modes,
                "threshold": self.threshold,
                "modes": [m.to_dict() for m in self.modes],
                "chain_mode": self.chain_mode,
                "draw_mode_fraction": self.draw_mode_fraction,
                "chain_em_distance": self.chain_em_distance,
                "census": self.census.to_dict(orient="records"),
                "superchain_ids": self.superchain_ids,
                "rhat_nested": self.rhat_nested.to_dict(),
                "rhat_within_mode": {
                    str(c): self.rhat_within_mode[c].to_dict() for c in self.rhat_within_mode
                },
            }
        )


@dataclass(frozen=True)
class Diagnosis:
    """The answer of :func:`diagnose`.

    Attributes
    ----------
    verdict : {"none", "label_switching", "multimodal"}
    reasons : tuple of str
        The evidence in plain English, with numbers.
    method : str
        Relabelling method used.
    label_switching : LabelSwitching
    multimodality : Multimodality
    rhat_before, rhat_after : pandas.DataFrame
        Index: parameter names (:func:`mlrbayes.params.param_names`); columns ``rhat``,
        ``ess_bulk``, ``ess_tail``; on the raw and on the relabelled draws.
    converged_after : bool
        Every R-hat after relabelling is <= the threshold (NaN counts as not converged).
    permutations : ndarray of int of shape (chain, draw, K)
        ``relabelled[..., j] = raw[..., permutations[..., j]]``.
    relabelled : xarray.DataTree
        The posterior with every component-indexed variable permuted.
    rhat_threshold : float
    """

    verdict: str
    reasons: tuple[str, ...]
    method: str
    label_switching: LabelSwitching
    multimodality: Multimodality
    rhat_before: pd.DataFrame
    rhat_after: pd.DataFrame
    converged_after: bool
    permutations: np.ndarray = field(repr=False)
    relabelled: Any = field(repr=False)
    rhat_threshold: float = 1.01

    @property
    def table(self) -> pd.DataFrame:
        """R-hat and bulk/tail ESS before and after relabelling, side by side."""
        return pd.DataFrame(
            {
                "rhat_before": self.rhat_before["rhat"],
                "rhat_after": self.rhat_after["rhat"],
                "ess_bulk_before": self.rhat_before["ess_bulk"],
                "ess_bulk_after": self.rhat_after["ess_bulk"],
                "ess_tail_before": self.rhat_before["ess_tail"],
                "ess_tail_after": self.rhat_after["ess_tail"],
            }
        )

    def summary(self) -> str:
        """Verdict, reasons and the before/after table as plain text."""
        lines = [f"verdict: {self.verdict}", *[f"  - {r}" for r in self.reasons], ""]
        lines.append(self.table.to_string(float_format=lambda v: f"{v:.3f}"))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (NaN becomes None). Permutations and draws are left out."""
        return _jsonable(
            {
                "verdict": self.verdict,
                "reasons": list(self.reasons),
                "method": self.method,
                "converged_after": self.converged_after,
                "rhat_threshold": self.rhat_threshold,
                "label_switching": self.label_switching.to_dict(),
                "multimodality": self.multimodality.to_dict(),
                "rhat_before": self.rhat_before["rhat"].to_dict(),
                "rhat_after": self.rhat_after["rhat"].to_dict(),
                "ess_bulk_before": self.rhat_before["ess_bulk"].to_dict(),
                "ess_bulk_after": self.rhat_after["ess_bulk"].to_dict(),
                "ess_tail_before": self.rhat_before["ess_tail"].to_dict(),
                "ess_tail_after": self.rhat_after["ess_tail"].to_dict(),
            }
        )


# ----------------------------------------------------------------------------- DataTree input
def posterior_dataset(idata: Any):
    """The ``posterior`` group of a DataTree as an ``xarray.Dataset``; a clear error otherwise."""
    import xarray as xr

    if not isinstance(idata, xr.DataTree):
        raise TypeError(
            f"idata must be an xarray.DataTree (ArviZ 1.x) with a 'posterior' group; got "
            f"{type(idata).__name__}. Pass the result of mlrbayes.bayes.sample_posterior, or "
            "load a saved one with mlrbayes.bayes.load_posterior."
        )
    if "posterior" not in idata.children:
        raise ValueError(
            f"idata has no 'posterior' group (groups: {sorted(idata.children)}); pass the "
            "result of sample_posterior or load_posterior."
        )
    return idata["posterior"].to_dataset()


def posterior_arrays(
    idata: Any, X: Any = None, y: Any = None, *, data: bool = True
) -> dict[str, Any]:
    """Posterior draws and data as NumPy arrays, in the layout of :mod:`mlrbayes.bayes`.

    Parameters
    ----------
    idata : xarray.DataTree
        ``posterior`` with ``weights`` (chain, draw, component), ``coef`` (chain, draw,
        component, feature), optional ``intercept`` (chain, draw, component) and ``sigma``
        ((chain, draw) shared or (chain, draw, component)); a known sigma lives in
        ``constant_data.sigma`` (or ``posterior.attrs["sigma"]``).
    X : array-like of shape (n, p), optional
        Default: ``constant_data.X``.
    y : array-like of shape (n,), optional
        Default: ``observed_data.y``.
    data : bool, default True
        Also return (and check) ``X`` and ``y``; with False they are None.

    Returns
    -------
    dict
        ``weights`` (C, D, K), ``intercept`` (C, D, K; zeros without intercept), ``coef``
        (C, D, K, p), ``sigma`` ((C, D) shared, (C, D, K) per component, or the known float /
        (K,) array), ``sigma_k`` (C, D, K), ``sigma_setting``, ``fit_intercept``,
        ``feature_names``, ``X``, ``y``, ``lp`` ((C, D) or None).
    """
    post = posterior_dataset(idata)
    for v in ("weights", "coef"):
        if v not in post:
            raise ValueError(
                f"the posterior has no {v!r} variable (variables: {sorted(post.data_vars)}); "
                "it does not look like a mixture of regressions from mlrbayes.bayes."
            )
    w = post["weights"].transpose("chain", "draw", "component").values.astype(float)
    c, d, k = w.shape
    coef = post["coef"].transpose("chain", "draw", "component", ...).values.astype(float)
    if coef.ndim == 3:
        coef = coef[..., None]
    feats = (
        [str(f) for f in post["feature"].values]
        if "feature" in post.coords
        else [f"x{j}" for j in range(coef.shape[-1])]
    )
    fit_intercept = "intercept" in post
    b = (
        post["intercept"].transpose("chain", "draw", "component").values.astype(float)
        if fit_intercept
        else np.zeros((c, d, k))
    )
    if "sigma" in post:
        s_da = post["sigma"]
        if "component" in s_da.dims:
            sigma = s_da.transpose("chain", "draw", "component").values.astype(float)
            setting = "component"
            sigma_k = sigma
        else:
            sigma = s_da.transpose("chain", "draw").values.astype(float)
            setting = "shared"
            sigma_k = np.broadcast_to(sigma[..., None], (c, d, k))
    else:
        known = None
        if "constant_data" in idata.children and "sigma" in idata["constant_data"].to_dataset():
            known = idata["constant_data"].to_dataset()["sigma"].values
        elif "sigma" in post.attrs:
            known = np.asarray(post.attrs["sigma"])
        if known is None:
            raise ValueError(
                "the posterior has no 'sigma' and no known sigma is stored (constant_data.sigma "
                "or posterior.attrs['sigma']); save the posterior with mlrbayes.bayes."
            )
        known = np.asarray(known, dtype=float)
        sigma = float(known) if known.ndim == 0 else known
        setting = "known"
        sigma_k = np.broadcast_to(known, (c, d, k))
    lp = None
    if "sample_stats" in idata.children:
        ss = idata["sample_stats"].to_dataset()
        for name in ("lp", "logp"):
            if name in ss and set(ss[name].dims) == {"chain", "draw"}:
                lp = ss[name].transpose("chain", "draw").values.astype(float)
                break
    out = {
        "weights": w,
        "intercept": b,
        "coef": coef,
        "sigma": sigma,
        "sigma_k": np.asarray(sigma_k, dtype=float),
        "sigma_setting": setting,
        "fit_intercept": fit_intercept,
        "feature_names": feats,
        "X": None,
        "y": None,
        "lp": lp,
    }
    if not data:
        return out
    if X is None or y is None:
        groups = idata.children
        if X is None:
            if "constant_data" not in groups or "X" not in idata["constant_data"].to_dataset():
                raise ValueError("X was not given and the DataTree has no constant_data.X; pass X.")
            X = idata["constant_data"].to_dataset()["X"].transpose("obs", ...).values
        if y is None:
            if "observed_data" not in groups or "y" not in idata["observed_data"].to_dataset():
                raise ValueError("y was not given and the DataTree has no observed_data.y; pass y.")
            y = idata["observed_data"].to_dataset()["y"].values
    Xa, ya, _, _ = check_X_y(X, y)
    if Xa.shape[1] != coef.shape[-1]:
        raise ValueError(
            f"X has {Xa.shape[1]} columns but the posterior has {coef.shape[-1]} features "
            f"({feats}); pass the data the posterior was fitted to."
        )
    out["X"], out["y"] = Xa, ya
    return out


# ----------------------------------------------------------------------------- R-hat / ESS
def _quiet(func, *args, **kwargs):
    """Call an arviz_stats kernel; constant or too-short inputs give NaN without warnings."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(func(*args, **kwargs), dtype=float)


def _rhat_ess(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R-hat (rank), bulk ESS and tail ESS of (chain, draw, P) draws, each of shape (P,)."""
    from arviz_stats.base import array_stats

    a = np.moveaxis(flat, -1, 0)  # (P, C, D)
    if a.shape[2] < 4:
        nan = np.full(a.shape[0], np.nan)
        return nan, nan.copy(), nan.copy()
    rhat = _quiet(array_stats.rhat, a, chain_axis=-2, draw_axis=-1)
    bulk = _quiet(array_stats.ess, a, chain_axis=-2, draw_axis=-1, method="bulk")
    tail = _quiet(array_stats.ess, a, chain_axis=-2, draw_axis=-1, method="tail", prob=(0.05, 0.95))
    return rhat, bulk, tail


def _table(flat: np.ndarray, names: list[str]) -> pd.DataFrame:
    rhat, bulk, tail = _rhat_ess(flat)
    return pd.DataFrame({"rhat": rhat, "ess_bulk": bulk, "ess_tail": tail}, index=names)


def _flat_params(arrs: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
    k = arrs["weights"].shape[-1]
    names = param_names(
        k, arrs["feature_names"], fit_intercept=arrs["fit_intercept"], sigma=arrs["sigma_setting"]
    )
    flat = flatten(
        arrs["weights"],
        arrs["intercept"],
        arrs["coef"],
        arrs["sigma"],
        fit_intercept=arrs["fit_intercept"],
        sigma_setting=arrs["sigma_setting"],
    )
    return flat, names


def convergence_table(idata: Any) -> pd.DataFrame:
    """R-hat (rank-normalised split R-hat) and bulk/tail ESS of every model parameter.

    Parameters
    ----------
    idata : xarray.DataTree
        Posterior in the layout of :mod:`mlrbayes.bayes` (raw or relabelled).

    Returns
    -------
    pandas.DataFrame
        Index: parameter names (``weights[k]``, ``intercept[k]``, ``coef[k,f]``, ``sigma`` /
        ``sigma[k]``); columns ``rhat``, ``ess_bulk``, ``ess_tail`` (tail ESS at the 5% and 95%
        quantiles). NaN with fewer than 4 draws per chain or for a constant parameter.
    """
    flat, names = _flat_params(posterior_arrays(idata, data=False))
    return _table(flat, names)


def nested_rhat(draws: Any, superchain_ids: Any) -> np.ndarray:
    r"""Nested R-hat (Margossian et al. 2024) on split chains, allowing unequal superchains.

    With superchains :math:`k`, their chains :math:`m` and draws :math:`n`:
    :math:`\hat B_\nu` is the variance of the superchain means (ddof 1),
    :math:`\tilde B_k` the variance of the chain means within superchain :math:`k` (ddof 1; 0
    for a single chain), :math:`\tilde W_k` the mean within-chain variance (ddof 1), and
    :math:`\hat W_\nu` the mean over superchains of :math:`\tilde B_k + \tilde W_k`;
    :math:`\hat R_\nu = \sqrt{1 + \hat B_\nu / \hat W_\nu}`. Each chain is split in half first
    (both halves stay in the chain's superchain), as ``arviz_stats.rhat_nested`` does with
    ``method="split"``; unlike it, superchains may hold different numbers of chains (each
    superchain's mean gets equal weight).

    Parameters
    ----------
    draws : array-like of shape (chain, draw, ...)
    superchain_ids : array-like of int of shape (chain,)

    Returns
    -------
    ndarray of shape (...)
        NaN with fewer than two superchains or fewer than 4 draws.
    """
    a = np.asarray(draws, dtype=float)
    ids = np.asarray(superchain_ids)
    if ids.shape != (a.shape[0],):
        raise ValueError(
            f"superchain_ids must have one entry per chain ({a.shape[0]}); got shape {ids.shape}."
        )
    groups = np.unique(ids)
    if groups.size < 2 or a.shape[1] < 4:
        return np.full(a.shape[2:], np.nan)
    half = a.shape[1] // 2
    split = np.concatenate([a[:, :half], a[:, a.shape[1] - half :]], axis=0)
    sids = np.concatenate([ids, ids])
    chain_mean = split.mean(axis=1)
    chain_var = split.var(axis=1, ddof=1)
    sc_mean, w_tot = [], []
    for g in groups:
        sel = sids == g
        sc_mean.append(chain_mean[sel].mean(axis=0))
        b_k = chain_mean[sel].var(axis=0, ddof=1) if sel.sum() > 1 else 0.0
        w_tot.append(chain_var[sel].mean(axis=0) + b_k)
    b_nu = np.var(np.stack(sc_mean), axis=0, ddof=1)
    w_nu = np.mean(np.stack(w_tot), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(1.0 + b_nu / w_nu)


# ----------------------------------------------------------------------------- modes
def _component_features(arrs_or_opt: dict[str, Any], setting: str) -> np.ndarray:
    """(…, K, F): weight, intercept (if fitted), slopes, per-component sigma."""
    w = np.asarray(arrs_or_opt["weights"], dtype=float)
    parts = [w[..., None]]
    if arrs_or_opt.get("fit_intercept", True):
        parts.append(
            np.broadcast_to(np.asarray(arrs_or_opt["intercept"], float), w.shape)[..., None]
        )
    coef = np.asarray(arrs_or_opt["coef"], dtype=float)
    parts.append(coef.reshape(*w.shape, -1))
    if setting == "component":
        parts.append(np.broadcast_to(np.asarray(arrs_or_opt["sigma"], float), w.shape)[..., None])
    return np.concatenate(parts, axis=-1)


def _perm_distance(a: np.ndarray, b: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scaled RMS distance between (…, K, F) and (M, K, F), minimised over permutations.

    Returns distances (…, M) and the best permutations (…, M, K) with ``a[perm[j]] ~ b[j]``.
    """
    diff = (a[..., None, None, :, :] - b[:, :, None, :]) / sd  # (..., M, j, l, F)
    cost = np.einsum("...f,...f->...", diff, diff)  # (..., M, j, l)
    perms = _rl._best_permutations(cost)
    k = a.shape[-2]
    tot = np.take_along_axis(cost, perms[..., None], axis=-1)[..., 0].sum(-1)
    return np.sqrt(tot / (k * a.shape[-1])), perms


def _census(em: Any, chain_opt: np.ndarray) -> pd.DataFrame:
    cols = ["optimum", "loglik", "gap", "count", "share", "degenerate", "chains"]
    optima = getattr(em, "optima", None) if em is not None else None
    if not optima:
        return pd.DataFrame(columns=cols)
    total = sum(o.count for o in optima)
    best = max(o.loglik for o in optima)
    rows = [
        {
            "optimum": j,
            "loglik": float(o.loglik),
            "gap": float(best - o.loglik),
            "count": int(o.count),
            "share": o.count / total if total else np.nan,
            "degenerate": bool(o.degenerate),
            "chains": int(np.sum(chain_opt == j)),
        }
        for j, o in enumerate(optima)
    ]
    return pd.DataFrame(rows, columns=cols)


def _em_optima(em: Any) -> list[Any]:
    if em is None:
        return []
    optima = getattr(em, "optima", None)
    if optima:
        return list(optima)
    return [em]  # a single parameter set (e.g. an Optimum) stands for itself


# ----------------------------------------------------------------------------- entry point
def diagnose(
    idata: Any,
    X: Any = None,
    y: Any = None,
    *,
    em: Any = None,
    method: str = "stephens",
    mode_threshold: float = 3.0,
    rhat_threshold: float = 1.01,
    switch_threshold: float = 0.02,
    superchain_ids: Any = None,
    chunk_draws: int = 200,
) -> Diagnosis:
    """Label switching or multimodality? Relabel the draws and weigh the evidence.

    Parameters
    ----------
    idata : xarray.DataTree
        Posterior from :func:`mlrbayes.bayes.sample_posterior` (or loaded from NetCDF).
    X : array-like of shape (n, p), optional
        Default: ``constant_data.X`` of ``idata``.
    y : array-like of shape (n,), optional
        Default: ``observed_data.y`` of ``idata``.
    em : EMResult, optional
        The EM fit of the same data: its estimate is the relabelling reference and its census
        (``em.optima``) the list of known modes. Without it the reference is the draw with the
        highest log-likelihood and every mode is "not found by EM".
    method : {"stephens", "ecr", "pivot"}, default "stephens"
        Relabelling method (:mod:`mlrbayes.relabel`).
    mode_threshold : float, default 3.0
        Scaled RMS distance (in within-chain posterior sds) under which a chain's posterior
        mean counts as sitting at an EM optimum or at another chain's mode.
    rhat_threshold : float, default 1.01
    switch_threshold : float, default 0.02
        Fraction of a chain's draws that must switch labelling to flag label switching within
        that chain.
    superchain_ids : array-like of int of shape (chain,), optional
        Groups for the nested R-hat, e.g. the starting basin of each chain. Default: the mode
        each chain is assigned to.
    chunk_draws : int, default 200
        Draws per chunk when computing membership probabilities (bounds the temporaries).

    Returns
    -------
    Diagnosis

    Notes
    -----
    ``"stephens"`` and ``"ecr"`` keep the membership probabilities of every draw in memory,
    ``8 * chains * draws * n * K`` bytes (96 MB for 4 x 1000 draws, n = 1000, K = 3; 1.9 GB at
    n = 20,000); ``"pivot"`` needs only the parameters. Computing the probabilities dominates
    the run time (``benchmarks/RESULTS.md``).

    Examples
    --------
    >>> from mlrbayes.em import fit_em                                     # doctest: +SKIP
    >>> from mlrbayes.bayes import sample_posterior                        # doctest: +SKIP
    >>> em = fit_em(X, y, 3, sigma=0.5, n_init=10, random_state=0)         # doctest: +SKIP
    >>> idata = sample_posterior(X, y, 3, sigma=0.5, init=em)              # doctest: +SKIP
    >>> d = diagnose(idata, em=em)                                         # doctest: +SKIP
    >>> d.verdict, d.table                                                 # doctest: +SKIP
    """
    method = check_choice(method, "method", METHODS)
    mode_threshold = check_positive_float(mode_threshold, "mode_threshold")
    rhat_threshold = check_positive_float(rhat_threshold, "rhat_threshold")
    switch_threshold = check_positive_float(switch_threshold, "switch_threshold")
    arrs = posterior_arrays(idata, X, y)
    Xa, ya = arrs["X"], arrs["y"]
    w, b, coef, sk = arrs["weights"], arrs["intercept"], arrs["coef"], arrs["sigma_k"]
    n_chain, n_draw, k = w.shape
    setting = arrs["sigma_setting"]
    if em is not None:
        em_w = getattr(em, "weights", None)
        if em_w is None or np.shape(em_w) != (k,):
            raise ValueError(
                f"em has weights of shape {np.shape(em_w)} but the posterior has K={k} "
                "components; pass the EM fit with the same number of components."
            )
        if np.shape(em.coef) != coef.shape[-2:]:
            raise ValueError(
                f"em.coef has shape {np.shape(em.coef)} but the posterior's coef is "
                f"{coef.shape[-2:]} per draw; pass the EM fit of the same predictors."
            )

    # membership probabilities and log-likelihood per draw, chunked over draws
    need_probs = method in ("stephens", "ecr")
    probs = np.empty((n_chain, n_draw, Xa.shape[0], k)) if need_probs else None
    loglik = np.empty((n_chain, n_draw))
    step = max(1, int(chunk_draws))
    for s0 in range(0, n_draw, step):
        sl = slice(s0, s0 + step)
        log_r, pointwise = _lik.log_responsibilities(
            Xa, ya, w[:, sl], b[:, sl], coef[:, sl], sk[:, sl]
        )
        loglik[:, sl] = pointwise.sum(-1)
        if need_probs:
            probs[:, sl] = np.exp(log_r)

    # reference
    if em is not None:
        ref_params = {
            "weights": np.asarray(em.weights, float),
            "intercept": np.asarray(em.intercept, float),
            "coef": np.asarray(em.coef, float),
            "sigma": em.sigma,
        }
        reference_name = "em"
    else:
        c0, d0 = np.unravel_index(int(np.argmax(loglik)), loglik.shape)
        ref_params = {
            "weights": w[c0, d0],
            "intercept": b[c0, d0],
            "coef": coef[c0, d0],
            "sigma": sk[c0, d0] if setting == "component" else None,
        }
        reference_name = "max-loglik draw"
    ref_sigma_k = np.broadcast_to(
        np.asarray(ref_params["sigma"] if ref_params["sigma"] is not None else sk[0, 0], float),
        (k,),
    )

    # relabel
    if method == "pivot":
        perms = _rl.pivot(
            w,
            b if arrs["fit_intercept"] else None,
            coef,
            sk if setting == "component" else None,
            reference=ref_params,
        )
    else:
        ref_probs = _lik.responsibilities(
            Xa,
            ya,
            ref_params["weights"],
            ref_params["intercept"],
            ref_params["coef"],
            ref_sigma_k,
        )
        if method == "stephens":
            perms = _rl.stephens(probs, reference=ref_probs)
        else:
            perms = _rl.ecr_iterative(probs, reference=ref_probs)
    relabelled = _rl.apply_permutations(idata, perms)
    r_arrs = dict(arrs)
    r_arrs["weights"] = _rl.permute_array(w, perms, 2)
    r_arrs["intercept"] = _rl.permute_array(b, perms, 2)
    r_arrs["coef"] = _rl.permute_array(coef, perms, 2)
    if setting == "component":
        r_arrs["sigma"] = _rl.permute_array(arrs["sigma"], perms, 2)
        r_arrs["sigma_k"] = r_arrs["sigma"]

    flat_raw, names = _flat_params(arrs)
    flat_rel, _ = _flat_params(r_arrs)
    before = _table(flat_raw, names)
    after = _table(flat_rel, names)

    ls = _label_switching(perms, reference_name, switch_threshold)
    mm = _multimodality(
        r_arrs, em, loglik, arrs["lp"], flat_rel, names, mode_threshold, superchain_ids
    )

    converged_after = bool(np.all(after["rhat"].to_numpy() <= rhat_threshold))
    if mm.detected:
        verdict = "multimodal"
    elif ls.detected:
        verdict = "label_switching"
    else:
        verdict = "none"
    reasons = _reasons(verdict, method, ls, mm, before, after, rhat_threshold, converged_after)
    return Diagnosis(
        verdict=verdict,
        reasons=tuple(reasons),
        method=method,
        label_switching=ls,
        multimodality=mm,
        rhat_before=before,
        rhat_after=after,
        converged_after=converged_after,
        permutations=perms,
        relabelled=relabelled,
        rhat_threshold=rhat_threshold,
    )


def _label_switching(perms: np.ndarray, reference: str, threshold: float) -> LabelSwitching:
    n_chain, n_draw, k = perms.shape
    dominant = np.empty((n_chain, k), dtype=int)
    frac = np.empty(n_chain)
    for c in range(n_chain):
        counts = Counter(map(tuple, perms[c].tolist()))
        # most frequent; ties go to the lexicographically smallest permutation (deterministic)
        top = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        dominant[c] = top
        frac[c] = 1.0 - counts[top] / n_draw
    groups: dict[tuple[int, ...], list[int]] = {}
    for c in range(n_chain):
        groups.setdefault(tuple(dominant[c].tolist()), []).append(c)
    chain_groups = tuple(tuple(g) for g in groups.values())
    disagree = len(chain_groups) > 1
    detected = bool(disagree or np.any(frac > threshold))
    return LabelSwitching(
        detected=detected,
        dominant=dominant,
        switch_fraction=frac,
        chain_groups=chain_groups,
        chains_disagree=disagree,
        reference=reference,
        switch_threshold=threshold,
    )


def _multimodality(
    r: dict[str, Any],
    em: Any,
    loglik: np.ndarray,
    lp: np.ndarray | None,
    flat_rel: np.ndarray,
    names: list[str],
    threshold: float,
    superchain_ids: Any,
) -> Multimodality:
    setting = r["sigma_setting"]
    theta = _component_features(r, setting)  # (C, D, K, F)
    n_chain, n_draw, k, _ = theta.shape
    if n_draw > 1:
        within_var = theta.var(axis=1, ddof=1).mean(axis=(0, 1))  # (F,)
    else:
        within_var = np.full(theta.shape[-1], np.nan)
    sd = np.sqrt(within_var)
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    chain_mean = theta.mean(axis=1)  # (C, K, F)

    optima = _em_optima(em)
    if optima:
        opt_theta = np.stack(
            [
                _component_features(
                    {
                        "weights": o.weights,
                        "intercept": o.intercept,
                        "coef": np.asarray(o.coef, float).reshape(k, -1),
                        "sigma": o.sigma,
                        "fit_intercept": r["fit_intercept"],
                    },
                    setting,
                )
                for o in optima
            ]
        )
        chain_dist, _ = _perm_distance(chain_mean, opt_theta, sd)  # (C, n_opt)
    else:
        opt_theta = np.empty((0, k, theta.shape[-1]))
        chain_dist = np.empty((n_chain, 0))

    # chains -> EM optima, then the rest grouped among themselves
    chain_opt = np.full(n_chain, -1)
    if chain_dist.shape[1]:
        nearest = np.argmin(chain_dist, axis=1)
        ok = chain_dist[np.arange(n_chain), nearest] <= threshold
        chain_opt[ok] = nearest[ok]
    mode_keys: list[tuple[str, int]] = []  # ("em", j) or ("new", first chain)
    chain_mode = np.full(n_chain, -1)
    for j in sorted(set(chain_opt[chain_opt >= 0].tolist())):
        mode_keys.append(("em", j))
        chain_mode[chain_opt == j] = len(mode_keys) - 1
    for c in range(n_chain):
        if chain_mode[c] >= 0:
            continue
        joined = False
        for m, (kind, ref_c) in enumerate(mode_keys):
            if kind != "new":
                continue
            dist, _ = _perm_distance(chain_mean[c], chain_mean[ref_c][None], sd)
            if dist[0] <= threshold:
                chain_mode[c] = m
                joined = True
                break
        if not joined:
            mode_keys.append(("new", c))
            chain_mode[c] = len(mode_keys) - 1

    # mode centres: chain means aligned to the mode's first chain
    centres, aligned_theta = [], theta.copy()
    aligned_flat = flat_rel.copy()
    w, b, coef = r["weights"], r["intercept"], r["coef"]
    for m in range(len(mode_keys)):
        members = np.flatnonzero(chain_mode == m)
        first = chain_mean[members[0]]
        for c in members[1:]:
            _, pm = _perm_distance(chain_mean[c], first[None], sd)
            perm_c = np.broadcast_to(pm[0], (1, n_draw, k))
            aligned_theta[c] = _rl.permute_array(theta[c : c + 1], perm_c, 2)[0]
            aligned = {
                "weights": _rl.permute_array(w[c : c + 1], perm_c, 2),
                "intercept": _rl.permute_array(b[c : c + 1], perm_c, 2),
                "coef": _rl.permute_array(coef[c : c + 1], perm_c, 2),
                "sigma": (
                    _rl.permute_array(r["sigma"][c : c + 1], perm_c, 2)
                    if setting == "component"
                    else (r["sigma"][c : c + 1] if setting == "shared" else r["sigma"])
                ),
            }
            aligned_flat[c] = flatten(
                aligned["weights"],
                aligned["intercept"],
                aligned["coef"],
                aligned["sigma"],
                fit_intercept=r["fit_intercept"],
                sigma_setting=setting,
            )[0]
        centres.append(aligned_theta[members].mean(axis=(0, 1)))
    centre_arr = np.stack(centres)  # (M, K, F)

    # draws -> nearest mode
    d_dist, _ = _perm_distance(theta, centre_arr, sd)  # (C, D, M)
    draw_mode = np.argmin(d_dist, axis=-1)
    n_modes = len(mode_keys)
    draw_frac = np.stack([(draw_mode == m).mean(axis=1) for m in range(n_modes)], axis=1)

    # nested and within-mode R-hat
    sc = chain_mode if superchain_ids is None else np.asarray(superchain_ids)
    if sc.shape != (n_chain,) or sc.dtype.kind not in "iu":
        raise ValueError(
            f"superchain_ids must give one integer group per chain ({n_chain} chains); got "
            f"{sc.tolist()!r}."
        )
    rn = pd.Series(nested_rhat(aligned_flat, sc), index=names, name="rhat_nested")
    within = {}
    for m in range(n_modes):
        members = np.flatnonzero(chain_mode == m)
        if members.size >= 2:
            within[m] = _rhat_ess(aligned_flat[members])[0]
    rw = pd.DataFrame(within, index=names)

    # per-mode summaries
    feats = r["feature_names"]
    modes = []
    p = len(feats)
    for m, (kind, ref) in enumerate(mode_keys):
        members = np.flatnonzero(chain_mode == m)
        cen = centre_arr[m]
        col = 1
        wts = cen[:, 0] / cen[:, 0].sum()
        icpt = cen[:, col] if r["fit_intercept"] else np.zeros(k)
        col += 1 if r["fit_intercept"] else 0
        cf = cen[:, col : col + p]
        col += p
        if setting == "component":
            sig: float | np.ndarray = cen[:, col]
        elif setting == "shared":
            sig = float(np.mean(r["sigma"][members]))
        else:
            sig = r["sigma"]
        sig_k = np.broadcast_to(np.asarray(sig, float), (k,))
        ll_mean = float(_lik.mixture_loglik(r["X"], r["y"], wts, icpt, cf, sig_k))
        em_idx = ref if kind == "em" else None
        if optima:
            dist_em = float(_perm_distance(cen, opt_theta, sd)[0].min())
        else:
            dist_em = np.nan
        modes.append(
            Mode(
                index=m,
                em_optimum=em_idx,
                em_loglik=float(optima[em_idx].loglik)
                if em_idx is not None and hasattr(optima[em_idx], "loglik")
                else np.nan,
                distance_to_em=dist_em,
                chains=tuple(int(c) for c in members),
                share_chains=members.size / n_chain,
                share_draws=float((draw_mode == m).mean()),
                mean_loglik=float(loglik[members].mean()),
                loglik_at_mean=ll_mean,
                mean_log_posterior=float(lp[members].mean()) if lp is not None else np.nan,
                weights=wts,
                intercept=icpt,
                coef=cf,
                sigma=sig,
            )
        )
    return Multimodality(
        detected=n_modes >= 2,
        modes=tuple(modes),
        chain_mode=chain_mode,
        draw_mode_fraction=draw_frac,
        chain_em_distance=chain_dist,
        census=_census(em, chain_opt),
        rhat_nested=rn,
        rhat_within_mode=rw,
        superchain_ids=sc,
        threshold=threshold,
    )


def _fmt_chains(chains: Any) -> str:
    chains = list(chains)
    return ("chain " if len(chains) == 1 else "chains ") + ", ".join(map(str, chains))


def _max_with_name(s: pd.Series) -> tuple[float, str]:
    if s.isna().all():
        return float("nan"), "-"
    name = s.idxmax(skipna=True)
    return float(s[name]), str(name)


def _reasons(
    verdict: str,
    method: str,
    ls: LabelSwitching,
    mm: Multimodality,
    before: pd.DataFrame,
    after: pd.DataFrame,
    rhat_threshold: float,
    converged_after: bool,
) -> list[str]:
    out = []
    rb, rb_name = _max_with_name(before["rhat"])
    ra, ra_name = _max_with_name(after["rhat"])
    eb = float(before["ess_bulk"].min()) if before["ess_bulk"].notna().any() else float("nan")
    ea = float(after["ess_bulk"].min()) if after["ess_bulk"].notna().any() else float("nan")
    out.append(
        f"R-hat before relabelling: max {rb:.3f} ({rb_name}), min bulk ESS {eb:.0f}; after "
        f"{method} relabelling: max {ra:.3f} ({ra_name}), min bulk ESS {ea:.0f}."
    )
    ref = "the EM estimate" if ls.reference == "em" else "the highest-likelihood draw"
    if ls.chains_disagree:
        parts = [
            f"{_fmt_chains(g)} use{'s' if len(g) == 1 else ''} labelling "
            f"{ls.dominant[g[0]].tolist()}"
            for g in ls.chain_groups
        ]
        out.append(
            f"Relative to {ref}, " + "; ".join(parts) + ": the chains disagree by a permutation."
        )
    else:
        out.append(f"All chains use one labelling ({ls.dominant[0].tolist()} relative to {ref}).")
    worst = int(np.argmax(ls.switch_fraction))
    out.append(
        f"Within chains, at most {100 * ls.switch_fraction[worst]:.1f}% of draws switch labels "
        f"(chain {worst}; threshold {100 * ls.switch_threshold:.0f}%)."
    )
    census = mm.census
    if len(census):
        total = int(census["count"].sum())
        opts = ", ".join(
            f"#{int(row.optimum)} log-lik {row.loglik:.2f} (gap {row.gap:.2f}, {int(row.count)} "
            f"start{'s' if row.count != 1 else ''}{', degenerate' if row.degenerate else ''})"
            for row in census.itertuples()
        )
        noun = "optimum" if len(census) == 1 else "optima"
        out.append(f"EM census: {len(census)} distinct {noun} from {total} starts: {opts}.")
        unvisited = census[(census["chains"] == 0) & ~census["degenerate"].astype(bool)]
        near = unvisited[unvisited["gap"] < 2.0]
        if len(near) and not mm.detected:
            out.append(
                "EM optima "
                + ", ".join(f"#{int(j)}" for j in near["optimum"])
                + " are within 2 log-likelihood units of the best but no chain visited them; "
                "start chains there (init=) to check whether the posterior has those modes too."
            )
    else:
        out.append("No EM census was given: every mode is reported as not found by EM.")
    mode_desc = []
    for m in mm.modes:
        if m.em_optimum is not None:
            where = f"EM optimum #{m.em_optimum}"
        else:
            where = "a mode not found by EM" if len(census) else "a mode (no EM to compare with)"
        lp_txt = (
            f", mean log-posterior {m.mean_log_posterior:.2f}"
            if np.isfinite(m.mean_log_posterior)
            else ""
        )
        mode_desc.append(
            f"mode {m.index} at {where} ({_fmt_chains(m.chains)}, {100 * m.share_chains:.0f}% of "
            f"chains, {100 * m.share_draws:.0f}% of draws; mean log-lik {m.mean_loglik:.2f}, "
            f"log-lik at its mean {m.loglik_at_mean:.2f}{lp_txt})"
        )
    if mm.detected:
        out.append(
            f"After relabelling, the chains sit in {mm.n_modes} distinct modes (scaled distance "
            f"> {mm.threshold:g} posterior sd apart): " + "; ".join(mode_desc) + "."
        )
        rn, rn_name = _max_with_name(mm.rhat_nested)
        out.append(
            f"Nested R-hat with chains grouped by "
            f"{'mode' if np.array_equal(mm.superchain_ids, mm.chain_mode) else 'superchain_ids'}"
            f": max {rn:.3f} ({rn_name})."
        )
        if mm.rhat_within_mode.shape[1]:
            wmax = mm.rhat_within_mode.max(axis=0)
            out.append(
                "R-hat within each mode: "
                + ", ".join(f"mode {int(m)} max {v:.3f}" for m, v in wmax.items())
                + "."
            )
    else:
        out.append("After relabelling all chains sit in one mode: " + mode_desc[0] + ".")
    if not converged_after and after["rhat"].isna().all():
        out.append(
            "R-hat and ESS are undefined (they need at least 2 chains and 4 draws per chain); "
            "run more chains to check convergence."
        )
    elif not converged_after:
        bad = after.index[~(after["rhat"] <= rhat_threshold)].tolist()
        if verdict == "multimodal":
            out.append(
                f"R-hat after relabelling stays above {rhat_threshold} for {len(bad)} "
                "parameter(s) because the chains are split between modes."
            )
        else:
            out.append(
                f"R-hat after relabelling is still above {rhat_threshold} (or undefined) for "
                f"{', '.join(bad)} although the chains share one mode: they have not converged; "
                "run longer chains."
            )
    verdict_text = {
        "none": "Verdict none: one labelling, one mode.",
        "label_switching": "Verdict label_switching: the chains differ only by a relabelling of "
        f"the components, which {method} relabelling resolves"
        + (f" (R-hat after <= {rhat_threshold})." if converged_after else "."),
        "multimodal": "Verdict multimodal: distinct explanations of the data remain after "
        "relabelling; report each mode, not one estimate.",
    }
    out.append(verdict_text[verdict])
    return out
