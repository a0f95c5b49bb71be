"""fit_em for the extended model: starts, iterations, census, order and the result.

:func:`mlrbayes.em.fit_em` routes here when the :class:`~mlrbayes.spec.Dataset` has gating
covariates, fixed predictors, groups or observation weights (``Dataset.is_plain`` False).

Starts (``n_init`` in all):

1. ``n_init - n_init // 5`` starts from the plain model: it is fitted first (on ``X`` with
   the fixed predictors ``U`` as extra columns, ignoring groups and weights; that many
   starts of the ``init`` strategy) and where each of its starts ended becomes a start:
   component lines from its lines, ``delta`` the weight-averaged ``U`` coefficients, the
   gating intercepts ``log pi_k`` (centred) and the other gating coefficients 0;
2. the remaining ``n_init // 5`` starts are random: units binned by their residual from a
   pooled fit at random cut points (memberships 70 % bin, 30 % flat Dirichlet), then an
   M-step.

Explicit parameters (``init`` a dict or a fitted result, with ``gating_coef``/``gating`` and
``fixed_coef``/``fixed`` when the model has them) are start 0; the other starts are random.

Each start runs the ECM iterations of :mod:`mlrbayes.em.extended`; the census groups starts
whose log-likelihoods agree within ``1e-4 * n`` and whose parameters agree (after the best
relabelling) within 0.02 in units of sd(y) (lines, sigma) and 0.02 (gating).
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..spec import Dataset, ModelSpec
from ..uncertainty_extended import extended_standard_errors, nan_extended_standard_errors
from .extended import Design, ExtState, LoopConfig, Params, m_step, residuals, run_extended
from .result import ConvergenceWarning, EMResult, NumericalWarning, Optimum, StartResult

__all__ = ["fit_extended"]


def _from_fit(fit, design: Design, p: int, fit_intercept: bool) -> Params:
    """Start parameters from a plain fit on ``[X, U]`` (an Optimum or StartResult)."""
    k = len(fit.weights)
    coef = np.asarray(fit.coef, dtype=float)
    B = np.column_stack([fit.intercept, coef[:, :p]]) if fit_intercept else coef[:, :p].copy()
    w = np.maximum(np.asarray(fit.weights, dtype=float), 1e-3)
    w /= w.sum()
    delta = None if design.U is None else w @ coef[:, p:]
    sigma = np.broadcast_to(np.asarray(fit.sigma, dtype=float), (k,)).copy()
    gamma = None
    if design.W is not None:
        gamma = np.zeros((k, design.W.shape[1]))
        gamma[:, 0] = np.log(w) - np.log(w).mean()
    return Params(B=B, sigma=sigma, weights=w, delta=delta, gamma=gamma)


def _given(init: Any, design: Design, p: int, fit_intercept: bool, sigma0: np.ndarray) -> Params:
    """Start parameters from ``init`` (a dict or a fitted result with the extended parts)."""
    if isinstance(init, Mapping):
        _check_given_keys(init, design)
    get = init.get if isinstance(init, Mapping) else lambda n, d=None: getattr(init, n, d)
    k = len(get("weights"))
    fake = SimpleNamespace(
        weights=np.asarray(get("weights"), dtype=float),
        intercept=np.zeros(k) if get("intercept") is None else get("intercept"),
        coef=np.asarray(get("coef"), dtype=float).reshape(k, -1),
        sigma=sigma0 if get("sigma") is None else get("sigma"),
    )
    if fake.coef.shape[1] != p:
        raise ValueError(
            f"init's coef must have shape (K, n_features) = ({k}, {p}); got "
            f"{np.shape(get('coef'))}."
        )
    p0 = _from_fit(fake, dataclasses.replace(design, U=None), p, fit_intercept)
    fixed = get("fixed_coef", get("fixed"))
    gating = get("gating_coef", get("gating"))
    if design.U is not None:
        fixed = np.zeros(design.U.shape[1]) if fixed is None else np.asarray(fixed, dtype=float)
        p0 = dataclasses.replace(p0, delta=fixed)
    if design.W is not None and gating is not None:
        g = np.asarray(gating, dtype=float)
        if g.shape != (k, design.W.shape[1]):
            raise ValueError(
                f"init's gating must have shape (K, q) = ({k}, {design.W.shape[1]}) (the gating "
                f"intercept first); got {g.shape}."
            )
        p0 = dataclasses.replace(p0, gamma=g - g.mean(axis=0))
    return p0


_GIVEN_KEYS = {"weights", "intercept", "coef", "sigma", "gating", "fixed"}


def _check_given_keys(init: Mapping, design: Design) -> None:
    unknown = sorted(set(init) - _GIVEN_KEYS)
    if unknown:
        raise ValueError(
            f"init has unknown keys {unknown}; use 'weights', 'intercept', 'coef' and optionally "
            "'sigma', 'gating' (K, q) and 'fixed' (r,)."
        )
    for key, part in (("gating", design.W), ("fixed", design.U)):
        if key in init and part is None:
            raise ValueError(f"init has {key!r} but the model has no {key} part; drop it.")
    if "fixed" in init and np.shape(init["fixed"]) != (design.U.shape[1],):
        raise ValueError(
            f"init's fixed must have shape ({design.U.shape[1]},); got {np.shape(init['fixed'])}."
        )


def _random(design: Design, k: int, mode: str, sigma0: np.ndarray, rng) -> Params:
    """Random binned memberships, then one M-step.

    The units are sorted by their mean residual from one pooled least-squares fit and cut
    into K bins at random sizes (flat Dirichlet); each unit's membership is its bin's
    indicator mixed 30 % with a flat-Dirichlet draw. Random memberships that ignore the data
    would give K copies of the pooled line (the symmetric point); binning by residual does not.
    """
    d = design.Z.shape[1]
    gamma = None if design.W is None else np.zeros((k, design.W.shape[1]))
    delta = None if design.U is None else np.zeros(design.U.shape[1])
    p0 = Params(np.zeros((k, d)), sigma0.copy(), np.full(k, 1.0 / k), delta, gamma)
    pooled = m_step(design, np.ones((design.n_units, 1)), _one(p0), "shared")[0]
    res = design.unit_sum(residuals(design, pooled)[:, 0])
    res = res / design.unit_sum(np.ones(design.y.shape[0]))
    cuts = np.cumsum(rng.dirichlet(np.ones(k)))[:-1]
    rank = np.argsort(np.argsort(res)) / max(design.n_units - 1, 1)
    hard = np.eye(k)[np.searchsorted(cuts, rank)]
    tau = 0.7 * hard + 0.3 * rng.dirichlet(np.ones(k), size=design.n_units)
    return m_step(design, tau, p0, mode)[0]


def _one(p: Params) -> Params:
    """One component with the shapes of ``p`` (for the pooled fit)."""
    g = None if p.gamma is None else p.gamma[:1]
    return Params(p.B[:1], p.sigma[:1], np.ones(1), p.delta, g)


def _plain_starts(data: Dataset, spec: ModelSpec, n_init: int, init, rng) -> list:
    """Where the plain model's starts ended (best first), fitted on ``[X, U]``."""
    from .fit import fit_em

    X = data.X if data.fixed is None else np.column_stack([data.X, data.fixed])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the plain fit is only a start
        res = fit_em(
            X,
            data.y,
            spec.n_components,
            sigma=spec.sigma,
            fit_intercept=spec.fit_intercept,
            n_init=n_init,
            init=init,
            random_state=rng,
            compute_se=False,
            progressbar=False,
            order="none",
        )
    ranked = sorted(res.starts, key=lambda st: (st.saddle, st.degenerate, -st.loglik))
    return ranked[:n_init]


def _component_vectors(st: ExtState, sy: float) -> np.ndarray:
    p = st.params
    parts = [p.B / sy, p.sigma[:, None] / sy]
    if p.gamma is not None:
        parts.append(p.gamma)
    return np.column_stack(parts)


def _same(a: ExtState, b: ExtState, n: float, sy: float) -> bool:
    if abs(a.loglik - b.loglik) > 1e-4 * n:
        return False
    va, vb = _component_vectors(a, sy), _component_vectors(b, sy)
    k = va.shape[0]
    perms = itertools.permutations(range(k)) if k <= 6 else [tuple(range(k))]
    return any(np.max(np.abs(va - vb[list(pm)])) <= 0.02 for pm in perms)


def _census(states: list[ExtState], n: float, sy: float) -> list[list[int]]:
    """Indices of the starts of each distinct optimum: non-saddle, non-degenerate first, each
    by decreasing log-likelihood."""
    rank = sorted(range(len(states)), key=lambda i: _rank(states[i]))
    groups: list[list[int]] = []
    for i in rank:
        for g in groups:
            if _rank(states[g[0]])[:2] == _rank(states[i])[:2] and _same(
                states[g[0]], states[i], n, sy
            ):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def _rank(st: ExtState):
    return (st.saddle, st.degenerate, -st.loglik if np.isfinite(st.loglik) else np.inf)


def _ordered(st: ExtState, order: str) -> ExtState:
    """Components in the canonical order (decreasing weight, or increasing intercept)."""
    p = st.params
    if order == "none":
        return st
    b0 = p.B[:, 0]
    perm = np.lexsort((b0, -p.weights)) if order == "weight" else np.argsort(b0, kind="stable")
    gamma = None if p.gamma is None else p.gamma[perm]
    new = Params(p.B[perm], p.sigma[perm], p.weights[perm], p.delta, gamma)
    return dataclasses.replace(st, params=new, tau=None if st.tau is None else st.tau[:, perm])


def _user(st: ExtState, spec: ModelSpec, fit_intercept: bool):
    """``(weights, intercept, coef, sigma)`` as the result reports them."""
    p = st.params
    b = p.B[:, 0].copy() if fit_intercept else np.zeros(p.B.shape[0])
    c = p.B[:, 1:].copy() if fit_intercept else p.B.copy()
    mode = spec.sigma_setting
    if mode == "known":
        s: Any = float(spec.sigma) if np.ndim(spec.sigma) == 0 else np.array(spec.sigma)
    else:
        s = float(p.sigma[0]) if mode == "shared" else p.sigma.copy()
    return p.weights.copy(), b, c, s


def _results(states, groups, spec: ModelSpec):
    optimum_of = {i: g_idx for g_idx, g in enumerate(groups) for i in g}
    starts = []
    for i, st in enumerate(states):
        w, b, c, s = _user(st, spec, spec.fit_intercept)
        starts.append(
            StartResult(
                start=i, init=st.init, loglik=st.loglik, weights=w, intercept=b, coef=c,
                sigma=s, n_iter=st.n_iter, converged=st.converged, degenerate=st.degenerate,
                optimum=optimum_of[i], loglik_trace=st.trace, notes=st.notes,
                decreased=st.decreased, saddle=st.saddle,
                gating_coef=st.params.gamma, fixed_coef=st.params.delta,
            )
        )  # fmt: skip
    optima = tuple(
        Optimum(
            loglik=starts[g[0]].loglik, weights=starts[g[0]].weights,
            intercept=starts[g[0]].intercept, coef=starts[g[0]].coef, sigma=starts[g[0]].sigma,
            count=len(g), starts=tuple(sorted(g)), degenerate=starts[g[0]].degenerate,
            saddle=starts[g[0]].saddle, gating_coef=starts[g[0]].gating_coef,
            fixed_coef=starts[g[0]].fixed_coef,
        )
        for g in groups
    )  # fmt: skip
    return tuple(starts), optima


def _warn(best: ExtState, n_init: int, cfg: LoopConfig) -> None:
    for note in best.notes:
        warnings.warn(note + ".", NumericalWarning, stacklevel=4)
    if best.degenerate:
        warnings.warn(
            f"all {n_init} EM starts ended degenerate (a component emptied or collapsed); the "
            "best of them is returned. Try fewer components or more starts.",
            NumericalWarning,
            stacklevel=4,
        )
    elif not best.converged and not best.decreased:
        warnings.warn(
            f"EM did not converge in max_iter={cfg.max_iter} iterations; increase max_iter or "
            "loosen tol.",
            ConvergenceWarning,
            stacklevel=4,
        )


def fit_extended(
    data: Dataset,
    spec: ModelSpec,
    cfg: LoopConfig,
    *,
    n_init: int,
    init: Any,
    rngs: list,
    compute_se: bool,
    order: str,
    notes: tuple[str, ...] = (),
) -> EMResult:
    """EM of the extended model (see the module docstring); the caller checked everything."""
    design = Design.from_dataset(data, spec.fit_intercept)
    k, p = spec.n_components, data.n_features
    sy = float(np.std(data.y)) or 1.0
    known = spec.sigma_known
    sigma0 = np.full(k, sy) if known is None else known
    if isinstance(init, str):
        n_plain = n_init - n_init // 5  # a fifth of the starts are random
        plain = _plain_starts(data, spec, n_plain, init, rngs[-1])
        starts = [(_from_fit(o, design, p, spec.fit_intercept), "plain") for o in plain]
    else:
        starts = [(_given(init, design, p, spec.fit_intercept, sigma0), "given")]
    for i in range(len(starts), n_init):
        starts.append((_random(design, k, cfg.mode, sigma0, rngs[i]), "random"))
    if known is not None:
        starts = [(dataclasses.replace(s, sigma=known.copy()), how) for s, how in starts]
    states = [run_extended(design, s, cfg, how) for s, how in starts]
    if spec.sigma_setting == "known" and np.ptp(np.atleast_1d(spec.sigma)) > 0:
        order = "none"
    states = [_ordered(st, order) for st in states]
    groups = _census(states, design.total_weight, sy)
    starts_r, optima = _results(states, groups, spec)
    best = states[groups[0][0]]
    _warn(best, n_init, cfg)
    bs = starts_r[groups[0][0]]
    names_c = list(data.concomitant_names) if data.concomitant is not None else []
    if compute_se:
        cov, se_names, se = extended_standard_errors(
            data, bs, fit_intercept=spec.fit_intercept, sigma_setting=spec.sigma_setting
        )
    else:
        cov, se_names, se = nan_extended_standard_errors(
            data, k, fit_intercept=spec.fit_intercept, sigma_setting=spec.sigma_setting
        )
    return EMResult(
        weights=bs.weights, intercept=bs.intercept, coef=bs.coef, sigma=bs.sigma,
        sigma_setting=spec.sigma_setting, loglik=bs.loglik, loglik_trace=bs.loglik_trace,
        n_iter=bs.n_iter, converged=bs.converged, degenerate=bs.degenerate,
        responsibilities=design.expand(best.tau), starts=starts_r, optima=optima,
        fit_intercept=spec.fit_intercept, feature_names=list(data.feature_names),
        target_name=data.target_name, n_samples=data.n_samples, covariance=cov,
        se_names=list(se_names), standard_errors=se, notes=notes + best.notes, order=order,
        gating_coef=bs.gating_coef, concomitant_names=names_c, fixed_coef=bs.fixed_coef,
        fixed_names=list(data.fixed_names), n_groups=data.n_groups,
        group_labels=list(data.group_labels), weighted=data.sample_weight is not None,
        group_codes=data.groups,
        unit_weights=None if data.sample_weight is None else design.v_unit.copy(),
    )  # fmt: skip
