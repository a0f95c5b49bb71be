r"""Modes of a relabelled posterior: which chains sit where, and how they relate to EM's optima.

After relabelling, the per-component parameters (weight, intercept, slopes, per-component
sigma) are scaled by their posterior sd *within chains* (pooled over chains and components, so
the scale is not inflated by chains sitting in different places). The distance between two
parameter sets is the root-mean-square of the scaled differences, minimised over permutations
of the components. A chain belongs to the nearest EM optimum when its posterior mean lies
within ``threshold`` of it; chains near no optimum form "modes not found by EM", grouped with
the same threshold. Each draw is also assigned to its nearest mode. The evidence reported for
the modes: R-hat within each mode and a nested R-hat (Margossian et al. 2024) with chains
grouped into superchains by mode.

References
----------
Margossian, C. C., Hoffman, M. D., Sountsov, P., Riou-Durand, L., Vehtari, A. and Gelman, A.
(2024). Nested R-hat: assessing the convergence of Markov chain Monte Carlo when running many
short chains. *Bayesian Analysis*. doi:10.1214/24-BA1453.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from . import likelihood
from ._json import plain
from .findings import MINOR_MODE_MASS, line_distance
from .modemass import laplace_log_mass, log_density, relative_mass, unconstrained
from .permutations import best_permutations
from .posterior.convergence import rhat_ess
from .posterior.draws import PosteriorDraws
from .spec import Dataset

__all__ = ["Mode", "Multimodality", "align_to", "find_modes", "nested_rhat"]


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
        Fraction of the chains whose posterior mean lies in this mode.
    share_draws : float
        Fraction of all draws nearest to this mode (whichever chain they come from).
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
    log_mass : float
        Laplace estimate of the log posterior mass of the mode (:mod:`mlrbayes.modemass`; up
        to a constant shared by all modes).
    mass : float
        Relative posterior mass (the modes' masses sum to 1); NaN when it cannot be estimated.
    rhat_max : float
        Largest R-hat of a parameter within the mode (split R-hat of the one chain for a
        single-chain mode).
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
    log_mass: float = float("nan")
    mass: float = float("nan")
    rhat_max: float = float("nan")

    @property
    def is_minor(self) -> bool:
        """The mode holds less than :data:`mlrbayes.findings.MINOR_MODE_MASS` of the mass."""
        return bool(np.isfinite(self.mass) and self.mass < MINOR_MODE_MASS)

    @property
    def contains_em(self) -> bool:
        """The mode sits at the EM estimate (the best optimum, ``em.optima[0]``)."""
        return self.em_optimum == 0

    def to_dict(self) -> dict[str, Any]:
        """Every field, plus ``contains_em`` and ``is_minor`` (JSON-able; NaN becomes None)."""
        own = {f.name: getattr(self, f.name) for f in fields(self)}
        return plain({**own, "contains_em": self.contains_em, "is_minor": self.is_minor})


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
    mass_source : str
        What the mode masses rest on: ``"sampler"`` (the sampler's log density) or
        ``"loglik"`` (log-likelihood plus log-Jacobian, priors left out).
    line_distance : ndarray of shape (n_modes, n_modes)
        :func:`mlrbayes.findings.line_distance` between the modes' posterior means.
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
    mass_source: str = "sampler"
    line_distance: np.ndarray = field(default_factory=lambda: np.zeros((1, 1)))

    @property
    def n_modes(self) -> int:
        return len(self.modes)

    def to_dict(self) -> dict[str, Any]:
        return plain(
            {
                "detected": self.detected,
                "n_modes": self.n_modes,
                "threshold": self.threshold,
                "mass_source": self.mass_source,
                "line_distance": self.line_distance,
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


# ----------------------------------------------------------------------------- distances
def _component_features(draws: Any, setting: str, fit_intercept: bool) -> np.ndarray:
    """(…, K, F): weight, intercept (if fitted), slopes, per-component sigma.

    ``draws`` is a :class:`PosteriorDraws` or anything with ``weights`` (…, K), ``intercept``,
    ``coef`` (…, K, p) and ``sigma`` (e.g. an EM optimum).
    """
    w = np.asarray(draws.weights, dtype=float)
    parts = [w[..., None]]
    if fit_intercept:
        parts.append(np.broadcast_to(np.asarray(draws.intercept, float), w.shape)[..., None])
    parts.append(np.asarray(draws.coef, dtype=float).reshape(*w.shape, -1))
    if setting == "component":
        parts.append(np.broadcast_to(np.asarray(draws.sigma, float), w.shape)[..., None])
    return np.concatenate(parts, axis=-1)


def _perm_distance(a: np.ndarray, b: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scaled RMS distance between (…, K, F) and (M, K, F), minimised over permutations.

    Returns distances (…, M) and the best permutations (…, M, K) with ``a[perm[j]] ~ b[j]``.
    """
    diff = (a[..., None, None, :, :] - b[:, :, None, :]) / sd  # (..., M, j, l, F)
    cost = np.einsum("...f,...f->...", diff, diff)  # (..., M, j, l)
    perms = best_permutations(cost)
    k = a.shape[-2]
    tot = np.take_along_axis(cost, perms[..., None], axis=-1)[..., 0].sum(-1)
    return np.sqrt(tot / (k * a.shape[-1])), perms


def _census(em: Any, chain_opt: np.ndarray) -> pd.DataFrame:
    """The EM census as a table, with how many chains sit at each optimum."""
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
    """The distinct EM optima, or ``[em]`` for a single parameter set, or ``[]``."""
    if em is None:
        return []
    optima = getattr(em, "optima", None)
    if optima:
        return list(optima)
    return [em]  # a single parameter set (e.g. an Optimum) stands for itself


# ----------------------------------------------------------------------------- modes
@dataclass(frozen=True)
class _Geometry:
    """Scaled per-component features of the draws and the EM optima."""

    theta: np.ndarray  # (C, D, K, F)
    sd: np.ndarray  # (F,)
    chain_mean: np.ndarray  # (C, K, F)
    opt_theta: np.ndarray  # (n_opt, K, F)
    chain_dist: np.ndarray  # (C, n_opt)


def _geometry(draws: PosteriorDraws, optima: list[Any]) -> _Geometry:
    setting, fit = draws.sigma_setting, draws.fit_intercept
    theta = _component_features(draws, setting, fit)
    n_chain, n_draw, k, n_feat = theta.shape
    if n_draw > 1:
        within_var = theta.var(axis=1, ddof=1).mean(axis=(0, 1))  # (F,)
    else:
        within_var = np.full(n_feat, np.nan)
    sd = np.sqrt(within_var)
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    chain_mean = theta.mean(axis=1)
    if optima:
        opt_theta = np.stack([_component_features(o, setting, fit) for o in optima])
        chain_dist, _ = _perm_distance(chain_mean, opt_theta, sd)
    else:
        opt_theta = np.empty((0, k, n_feat))
        chain_dist = np.empty((n_chain, 0))
    return _Geometry(theta, sd, chain_mean, opt_theta, chain_dist)


def _assign_chains(g: _Geometry, threshold: float):
    """Chains to EM optima, the rest grouped among themselves.

    Returns ``chain_opt`` (C,) (-1: near no optimum), ``mode_keys`` (``("em", j)`` or
    ``("new", first chain)`` per mode) and ``chain_mode`` (C,).
    """
    n_chain = g.chain_mean.shape[0]
    chain_opt = np.full(n_chain, -1)
    if g.chain_dist.shape[1]:
        nearest = np.argmin(g.chain_dist, axis=1)
        ok = g.chain_dist[np.arange(n_chain), nearest] <= threshold
        chain_opt[ok] = nearest[ok]
    mode_keys: list[tuple[str, int]] = []
    chain_mode = np.full(n_chain, -1)
    for j in sorted(set(chain_opt[chain_opt >= 0].tolist())):
        mode_keys.append(("em", j))
        chain_mode[chain_opt == j] = len(mode_keys) - 1
    for c in range(n_chain):
        if chain_mode[c] >= 0:
            continue
        for m, (kind, ref_c) in enumerate(mode_keys):
            if kind != "new":
                continue
            dist, _ = _perm_distance(g.chain_mean[c], g.chain_mean[ref_c][None], g.sd)
            if dist[0] <= threshold:
                chain_mode[c] = m
                break
        else:
            mode_keys.append(("new", c))
            chain_mode[c] = len(mode_keys) - 1
    return chain_opt, mode_keys, chain_mode


def _align_modes(draws: PosteriorDraws, g: _Geometry, chain_mode: np.ndarray, n_modes: int):
    """Each mode's chains relabelled to the mode's first chain.

    Returns the aligned draws and the mode centres (M, K, F) (mean of the aligned features).
    """
    n_chain, n_draw, k = draws.weights.shape
    perms = np.broadcast_to(np.arange(k), (n_chain, n_draw, k)).copy()
    for m in range(n_modes):
        members = np.flatnonzero(chain_mode == m)
        first = g.chain_mean[members[0]]
        for c in members[1:]:
            _, pm = _perm_distance(g.chain_mean[c], first[None], g.sd)
            perms[c] = pm[0]
    aligned = draws.relabel(perms)
    theta = _component_features(aligned, draws.sigma_setting, draws.fit_intercept)
    centres = np.stack(
        [theta[np.flatnonzero(chain_mode == m)].mean(axis=(0, 1)) for m in range(n_modes)]
    )
    return aligned, centres


def _mode(
    m: int,
    key: tuple[str, int],
    members: np.ndarray,
    centre: np.ndarray,
    draws: PosteriorDraws,
    ctx: dict[str, Any],
) -> Mode:
    """Summary of mode ``m`` (its chains ``members``, its centre (K, F))."""
    k, p = draws.n_components, draws.n_features
    col = 1
    wts = centre[:, 0] / centre[:, 0].sum()
    icpt = centre[:, col] if draws.fit_intercept else np.zeros(k)
    col += 1 if draws.fit_intercept else 0
    cf = centre[:, col : col + p]
    col += p
    if draws.sigma_setting == "component":
        sig: float | np.ndarray = centre[:, col]
    elif draws.sigma_setting == "shared":
        sig = float(np.mean(draws.sigma[members][..., 0]))
    else:
        sig = draws.sigma_known
    sig_k = np.broadcast_to(np.asarray(sig, float), (k,))
    data, optima, g = ctx["data"], ctx["optima"], ctx["geometry"]
    em_idx = key[1] if key[0] == "em" else None
    lp = draws.log_posterior
    return Mode(
        index=m,
        em_optimum=em_idx,
        em_loglik=float(optima[em_idx].loglik)
        if em_idx is not None and hasattr(optima[em_idx], "loglik")
        else np.nan,
        distance_to_em=float(_perm_distance(centre, g.opt_theta, g.sd)[0].min())
        if optima
        else np.nan,
        chains=tuple(int(c) for c in members),
        share_chains=members.size / draws.n_chains,
        share_draws=float((ctx["draw_mode"] == m).mean()),
        mean_loglik=float(ctx["loglik"][members].mean()),
        loglik_at_mean=_loglik_at_mean(data, ctx.get("aligned"), members, wts, icpt, cf, sig_k),
        mean_log_posterior=float(lp[members].mean()) if lp is not None else np.nan,
        weights=wts,
        intercept=icpt,
        coef=cf,
        sigma=sig,
    )


def _loglik_at_mean(data, aligned, members, wts, icpt, cf, sig_k) -> float:
    """The log-likelihood at a mode's mean; in the extended model (issue 14) with the mean of
    its aligned draws' gating and fixed coefficients."""
    if data.is_plain:
        return float(likelihood.mixture_loglik(data.X, data.y, wts, icpt, cf, sig_k))
    gating = None if aligned.gating is None else aligned.gating[members].mean(axis=(0, 1))
    fixed = None if aligned.fixed is None else aligned.fixed[members].mean(axis=(0, 1))
    return float(
        likelihood.extended_loglik(data, icpt, cf, sig_k, weights=wts, gating=gating, fixed=fixed)
    )


def find_modes(
    draws: PosteriorDraws,
    data: Dataset,
    loglik: np.ndarray,
    *,
    em: Any = None,
    threshold: float = 3.0,
    superchain_ids: Any = None,
) -> Multimodality:
    """Group the chains of relabelled draws into modes and weigh the evidence.

    Parameters
    ----------
    draws : PosteriorDraws
        Relabelled draws (chain, draw, ...).
    data : Dataset
        The data of the posterior (for the log-likelihood at each mode's mean).
    loglik : ndarray of shape (chain, draw)
        Mixture log-likelihood of every draw.
    em : EMResult, Optimum or None
        Its optima (``em.optima``) are the known modes.
    threshold : float, default 3.0
        Scaled RMS distance under which a chain sits at an optimum or another chain's mode.
    superchain_ids : array-like of int of shape (chain,), optional
        Groups for the nested R-hat; default: the mode of each chain.

    Returns
    -------
    Multimodality
    """
    optima = _em_optima(em)
    g = _geometry(draws, optima)
    chain_opt, mode_keys, chain_mode = _assign_chains(g, threshold)
    n_chain, n_modes = draws.n_chains, len(mode_keys)
    aligned, centres = _align_modes(draws, g, chain_mode, n_modes)
    d_dist, _ = _perm_distance(g.theta, centres, g.sd)  # (C, D, M)
    draw_mode = np.argmin(d_dist, axis=-1)
    draw_frac = np.stack([(draw_mode == m).mean(axis=1) for m in range(n_modes)], axis=1)

    sc = chain_mode if superchain_ids is None else np.asarray(superchain_ids)
    if sc.shape != (n_chain,) or sc.dtype.kind not in "iu":
        raise ValueError(
            f"superchain_ids must give one integer group per chain ({n_chain} chains); got "
            f"{sc.tolist()!r}."
        )
    names, aligned_flat = draws.names(), aligned.flat()
    rn = pd.Series(nested_rhat(aligned_flat, sc), index=names, name="rhat_nested")
    within, rhat_max = _within_mode_rhat(aligned_flat, chain_mode, n_modes)
    log_mass, source = _log_masses(aligned, loglik, chain_mode, n_modes)
    mass = relative_mass(log_mass)
    ctx = {"data": data, "optima": optima, "geometry": g, "draw_mode": draw_mode, "loglik": loglik}
    ctx["aligned"] = aligned
    modes = tuple(
        replace(
            _mode(m, key, np.flatnonzero(chain_mode == m), centres[m], draws, ctx),
            log_mass=float(log_mass[m]),
            mass=float(mass[m]),
            rhat_max=float(rhat_max[m]),
        )
        for m, key in enumerate(mode_keys)
    )
    dist = np.array([[line_distance(data.X, data.y, a, b) for b in modes] for a in modes])
    return Multimodality(
        detected=n_modes >= 2,
        modes=modes,
        chain_mode=chain_mode,
        draw_mode_fraction=draw_frac,
        chain_em_distance=g.chain_dist,
        census=_census(em, chain_opt),
        rhat_nested=rn,
        rhat_within_mode=pd.DataFrame(within, index=names),
        superchain_ids=sc,
        threshold=threshold,
        mass_source=source,
        line_distance=dist,
    )


def _within_mode_rhat(flat: np.ndarray, chain_mode: np.ndarray, n_modes: int):
    """R-hat per parameter within each mode of two or more chains ({mode: (P,)}) and the
    largest R-hat of every mode (M,): a single-chain mode gets the R-hat of its chain's two
    halves (NaN with fewer than 8 draws)."""
    within, worst = {}, np.full(n_modes, np.nan)
    for m in range(n_modes):
        members = np.flatnonzero(chain_mode == m)
        if members.size >= 2:
            within[m] = rhat_ess(flat[members])[0]
            r = within[m]
        else:
            one = flat[members[0]]
            half = one.shape[0] // 2
            r = rhat_ess(np.stack([one[:half], one[half : 2 * half]]))[0]
        if np.any(np.isfinite(r)):
            worst[m] = float(np.nanmax(r))
    return within, worst


def _log_masses(aligned: PosteriorDraws, loglik: np.ndarray, chain_mode: np.ndarray, n: int):
    """Laplace log mass of each mode from its chains' draws (:mod:`mlrbayes.modemass`)."""
    lp, source = log_density(aligned, loglik)
    theta = unconstrained(aligned)
    out = np.empty(n)
    for m in range(n):
        members = np.flatnonzero(chain_mode == m)
        out[m] = laplace_log_mass(lp[members].ravel(), theta[members].reshape(-1, theta.shape[-1]))
    return out, source


def align_to(draws: PosteriorDraws, target: Any) -> PosteriorDraws:
    """``draws`` relabelled by the one permutation that brings their mean nearest ``target``.

    Parameters
    ----------
    draws : PosteriorDraws
        Draws of one mode, already in one labelling (e.g. the chains of a :class:`Mode`).
    target : object with ``weights`` (K,), ``intercept``, ``coef`` (K, p), ``sigma``
        E.g. an EM optimum.

    Returns
    -------
    PosteriorDraws
        In the labels of ``target``.
    """
    g = _geometry(draws, [target])
    _, perm = _perm_distance(g.theta.mean(axis=(0, 1)), g.opt_theta, g.sd)
    return draws.relabel(np.broadcast_to(perm[0], draws.weights.shape).copy())
