"""fit_em: the EM fit from several starts, as a short sequence of small steps.

checks -> standardise -> one :func:`~mlrbayes.em.loop.run_start` per start -> census ->
original units -> warnings -> responsibilities and standard errors -> :class:`EMResult`.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._validation import (
    check_n_components,
    check_positive_float,
    check_positive_int,
    check_random_state,
    check_sigma,
)
from ..formula import formula_intercept
from ..progress import StartsProgress, resolve_progressbar
from ..spec import Dataset, ModelSpec, resolve_dataset, sigma_setting
from ..uncertainty import free_param_names, nan_standard_errors, standard_errors
from .census import census
from .engine import InMemoryEngine
from .kernels import ROW_BLOCK
from .loop import SADDLE_NOTE, LoopSettings, StartState
from .multistart import order_state, run_starts
from .order import check_order
from .result import (
    CensusWarning,
    ConvergenceWarning,
    EMResult,
    NumericalWarning,
    Optimum,
    StartResult,
)
from .scaling import Scaling, check_scale, extreme_rows, standardise
from .squarem import check_accelerate
from .starts import check_init

__all__ = ["fit_em"]


def fit_em(
    X: Any,
    y: Any = None,
    n_components: int | None = None,
    *,
    sigma: float | str | np.ndarray,
    fit_intercept: bool = True,
    n_init: int = 10,
    init: str | Mapping[str, Any] | EMResult | Optimum | StartResult = "auto",
    tol: float = 1e-8,
    max_iter: int = 1000,
    random_state: int | np.random.Generator | None = None,
    min_weight: float = 1e-8,
    min_sigma_ratio: float = 1e-4,
    chunk_size: int = ROW_BLOCK,
    compute_se: bool = True,
    order: str = "weight",
    progressbar: bool | None = None,
    data: Any = None, concomitant: Any = None, fixed: Any = None, groups: Any = None,
    weights: Any = None, accelerate: str | None = "auto",
) -> EMResult:  # fmt: skip
    """Fit a mixture of linear regressions by EM from several starts.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or Dataset
        Predictors (a pandas DataFrame keeps its column names as ``feature_names``), or a
        checked :class:`mlrbayes.spec.Dataset` (then ``y`` is None and nothing is re-checked).
    y : array-like of shape (n_samples,) or None
        Response (a named pandas Series gives ``target_name``); None with a ``Dataset``.
    n_components : int
        K >= 1, with d = n_features (+ 1 with an intercept) coefficients per line: known
        sigma needs K * d <= n_samples, shared sigma K * d < n_samples (at equality the lines
        interpolate every point and sigma -> 0), per-component sigma K * (d + 1) <= n_samples.
    sigma : float, ndarray of shape (K,), "shared" or "component"
        Required. A positive number (or K numbers) is the known, fixed noise sd; ``"shared"``
        estimates one sd by maximum likelihood; ``"component"`` one per component (the
        likelihood is then unbounded; collapsing starts are stopped and flagged degenerate).
    fit_intercept : bool, default True
    n_init : int, default 10
        Number of EM starts (runs to convergence; the census counts these).
    init : {"auto", "random", "binned", "subset", "split"}, dict or a fitted result, default "auto"
        ``"random"``: responsibilities drawn from a flat Dirichlet, then an M-step.
        ``"binned"``: sort by y into K contiguous groups and fit each (as mixtools'
        ``regmix.init``); start 0 uses equal groups, later starts random group sizes.
        ``"subset"``: random minimal subsets: each line through ``d`` random rows, every row
        assigned to its nearest line, weights from the assignment (at least 0.05), each sd the
        robust scale ``1.4826 * median |r|`` of its rows' residuals (floored at 1e-3 sd(y)).
        ``"split"``: a K-1 fit (best of a binned and two subset starts) plus one line through
        its worst-fitted rows (the ``max(d, n / 2K)`` rows of lowest mixture density; later
        starts: ``d`` random rows among twice as many), refined by two rounds of
        nearest-line assignment; it also lets one component take an isolated cluster or
        outlier. ``"auto"``: a mixture (Biernacki, Celeux & Govaert 2003's emEM for the
        subset part): start 0 binned (equal groups); start 1 split (K >= 2); then
        ``max(1, n_init // 5)`` random starts; the remaining ``m`` starts are subset starts,
        each the survivor of a screening: ``10 m`` subset candidates run 5 EM iterations each
        and the best ``m`` (non-degenerate first, by log-likelihood) are run to convergence.
        Screening runs are not starts (``EMResult.n_screened`` counts them). Explicit
        parameters (``weights``, ``intercept``, ``coef`` and optionally ``sigma``, which is
        ignored when sigma is known; a fitted result works) are start 0; the other
        ``n_init - 1`` starts are random.
    tol : float, default 1e-8
        Convergence when the log-likelihood gain of an iteration, per observation, is below
        ``tol`` (an absolute criterion on the mean log-likelihood, so it does not depend on
        the units of y). A drop larger than rounding error (``1e-10 * (|loglik| + n)``) is
        never convergence: the start stops at the iterate before the drop, which it keeps,
        and is flagged ``decreased`` (not converged), with a warning.
    max_iter : int, default 1000
        Iterations per start.
    random_state : int, Generator or None
        Seeds one generator per start (``Generator.spawn``), so results are reproducible.
    min_weight : float, default 1e-8
        A component whose weight falls to ``min_weight`` or below is emptied: kept with weight
        0 and its last coefficients (and sd), flagged degenerate, with a warning.
    min_sigma_ratio : float, default 1e-4
        Per-component sigma: a component with ``sigma_k < min_sigma_ratio * max_j sigma_j`` is
        collapsing (the start is stopped, degenerate); one that ends with fewer than
        ``n_features + 2`` effective observations is flagged degenerate.
    chunk_size : int, default 16384
        Rows per block of the fused pass (memory O(chunk_size)).
    compute_se : bool, default True
        Compute Louis (1982) standard errors at the estimate. On very large data this costs
        about as much as ten EM iterations; with False, ``covariance`` is None and every
        standard error is NaN (same keys and ``se_names``).
    order : {"weight", "intercept", "none"}, default "weight"
        Order of the components in the result, every start and optimum, the columns of
        ``responsibilities`` and the standard-error names: ``"weight"`` decreasing weight (ties
        by increasing intercept, then coefficients; stable), ``"intercept"`` increasing
        intercept, ``"none"`` as EM ended (see :mod:`mlrbayes.em.order`). The same data with
        rows permuted, or the same starts in another order, give the same order. Distinct
        known sds per component label the components themselves: then the order is theirs
        (``"none"``).
    progressbar : bool, optional
        A one-line bar over the starts on stderr, shown once they have taken more than two
        seconds. Default: when someone is watching (stderr is a terminal, or a notebook; see
        :mod:`mlrbayes.progress`).
    data : pandas.DataFrame, optional
        Where a formula ``X = "y ~ x1 + x2"`` and column names of the arguments below are
        looked up (:func:`mlrbayes.spec.resolve_dataset`).
    concomitant : array-like of shape (n_samples, q0), str or None
        Gating covariates: prior membership ``softmax_k(w^T gamma_k)`` with ``w`` these
        columns after a constant 1. The gating M-step is a few Newton steps of the
        multinomial logit with a small ridge on the non-intercept coefficients
        (:mod:`mlrbayes.em.gating`: ``1e-4 * N * Var(w_j)``, which keeps them finite when a
        covariate separates the components).
    fixed : array-like of shape (n_samples, r), str or None
        Predictors whose coefficients ``delta`` are the same in every component (solved
        jointly with the component lines in one weighted least-squares M-step).
    groups : array-like of shape (n_samples,), str or None
        Group labels: all observations of a group share one component (memberships from the
        group's summed log-densities).
    weights : array-like of shape (n_samples,), str or None
        Positive replication weights: each observation's (group's) log-likelihood term is
        multiplied by its weight (weight 2 == the row twice), in the E- and the M-step.

        With any of these four the extended EM of :mod:`mlrbayes.em.extended_fit` runs
        (starts from the plain fit's optima plus random starts); without them, the plain
        model below, unchanged.
    accelerate : {"auto", "squarem", None}, default "auto"
        ``"squarem"``: SQUAREM extrapolation of the EM map (Varadhan & Roland 2008, scheme S3,
        see :mod:`mlrbayes.em.squarem`) with the monotonicity fallback to the plain EM step:
        the same optimum in about a third of the passes when components overlap
        (benchmarks/RESULTS.md). None: plain EM. ``"auto"``: SQUAREM on Dask input (every
        pass re-reads the data), plain EM in memory: an extrapolation can land next to a
        saddle between optima and stop there (seen on symmetric four-cloud data), which
        costs a start, and in memory passes are cheap.

    Returns
    -------
    EMResult
        The best non-degenerate start (the best degenerate one, with a warning, if all are),
        with ``starts`` (every start) and ``optima`` (distinct optima: same log-likelihood
        within ``1e-4 * n`` and parameters within 0.02 in standardised units after optimal
        relabelling, or the same fitted density: log-likelihood as before, log mixture density
        within 0.05 at every row and the same lines whatever the weight split, then
        ``Optimum.n_variants > 1``; saddles last, non-degenerate first, each by decreasing
        log-likelihood; ``optima[0]`` is the returned one), the census completeness
        (``n_best_starts``, ``n_singleton_optima``, ``p_new_optimum``: the Good-Turing chance
        that one more start finds a new optimum) and observed-information standard errors
        (:func:`mlrbayes.uncertainty.standard_errors`; a constant predictor's coefficient is
        fixed at 0, has SE NaN and is left out of ``covariance``/``se_names``).

        A start is *degenerate* when a component emptied (weight <= ``min_weight``), a
        per-component sd collapsed (see ``min_sigma_ratio``), or an estimated sd fell to the
        rounding level of y (``16 * eps * max|y|``: the lines fit the data exactly). The
        likelihood is unbounded or meaningless there, so such starts are stopped, flagged,
        kept in the census, and not chosen while a non-degenerate start exists.

        A start that stops with all components equal (the symmetric point, a saddle) is
        perturbed and continued up to 3 times; if it stays there it is flagged ``saddle``.

    Warns
    -----
    ConvergenceWarning
        The returned start stopped at ``max_iter``.
    CensusWarning
        At least 5 starts and the best optimum reached by fewer than ``max(2, 10%)`` of them:
        more starts may find a better optimum.
    NumericalWarning
        Constant or all-zero predictors (coefficient set to 0), singular weighted least squares
        (minimum-norm solution), emptied components, all starts degenerate, a log-likelihood
        drop, values of y more than 1e12 median absolute deviations from its median (the
        rows are named: they dominate the fit).

    Raises
    ------
    ValueError
        Bad settings or data (messages quote the value), too many components for the data,
        or a value of ``|y|`` or ``|X|`` above 1e150 (its square overflows: rescale).

    Notes
    -----
    Data are standardised internally (y and the columns of X centred and scaled), so very
    large or very small scales give finite log-likelihoods; estimates are transformed back.
    Each iteration is one pass over the rows in blocks of ``chunk_size``: E-step by
    log-sum-exp and accumulation of ``sum gamma``, ``Z^T diag(gamma_k) Z``, ``Z^T (gamma_k r_k)``
    and ``sum gamma_k r_k^2``; the M-step solves each component's weighted normal equations by
    Cholesky of the unit-diagonal Gram matrix (minimum-norm fallback when singular).

    Examples
    --------
    >>> from mlrbayes import simulate
    >>> X, y, _ = simulate(300, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=1)
    >>> res = fit_em(X, y, 2, sigma="shared", random_state=0)
    >>> np.sort(res.coef[:, 0]).round(1).tolist(), round(res.sigma, 1), res.converged
    ([-1.0, 1.0], 0.5, True)
    >>> [(round(o.loglik, 1), o.count) for o in res.optima]  # census: all 10 starts agree
    [(-406.3, 10)]
    """
    if is_dask_input(X, y):  # Dask arrays/DataFrames: the out-of-core engine (plain model:
        # it refuses data=, concomitant=, fixed=, groups= and weights= with one line)
        kw = {k: v for k, v in locals().items() if k not in ("X", "y", "n_components")}
        from .dask_engine import fit_em_dask

        return fit_em_dask(X, y, n_components, **kw)
    data = resolve_dataset(
        X, y, data=data, concomitant=concomitant, fixed=fixed, groups=groups, weights=weights
    )
    if n_components is None:
        raise TypeError("n_components is required: pass the number of components K >= 1.")
    fit_intercept = formula_intercept(data, fit_intercept)
    spec = _check_model(data, n_components, sigma, fit_intercept)
    if not data.is_plain:
        return _fit_extended(
            data, spec, n_init, init, tol, max_iter, random_state, min_weight,
            min_sigma_ratio, compute_se, order,
        )  # fmt: skip
    accelerate = check_accelerate(None if accelerate == "auto" else accelerate)
    n_init = check_positive_int(n_init, "n_init")
    cfg = _loop_settings(tol, max_iter, min_weight, min_sigma_ratio, spec.sigma_setting)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    strategy, given = check_init(init, spec.n_components, data.n_features, spec.fit_intercept)
    order = check_order(order)
    rngs = check_random_state(random_state).spawn(n_init + 1)

    data_notes = check_scale(data.X, data.y, data.feature_names, data.target_name)
    for note in data_notes:
        warnings.warn(note + ".", NumericalWarning, stacklevel=2)
    Z, ys, scaling = _standardised(data, spec)
    cfg = _with_scale(cfg, data, scaling)
    engine = InMemoryEngine(Z, ys, spec.n_components, chunk_size)
    known = spec.sigma_known
    s_known = None if known is None else known / scaling.y_scale
    with StartsProgress(n_init, enabled=resolve_progressbar(progressbar)) as bar:
        states, n_screened = run_starts(
            engine, Z, ys, strategy, given, cfg, s_known, scaling, rngs, bar.update, accelerate
        )
    if spec.sigma_setting == "known" and np.ptp(np.atleast_1d(spec.sigma)) > 0:
        order = "none"  # distinct known sds label the components: they keep their order
    states = [order_state(st, scaling, order) for st in states]
    groups = census(states, data.n_samples, cfg.mode, engine)
    starts, optima = _census_results(states, groups, scaling, spec, data.n_samples)
    best, bs = states[groups[0].starts[0]], starts[groups[0].starts[0]]
    _warn_outcome(best, n_init, cfg, data.n_samples)
    _warn_census(optima, n_init)
    resp = engine.responsibilities(best.B, best.weights, best.sigma)
    del engine, Z, ys
    covariance, se_names, se = _standard_errors(data, bs, scaling, spec, compute_se)
    return EMResult(
        **{name: getattr(bs, name) for name in _FROM_BEST_START},
        sigma_setting=cfg.mode,
        responsibilities=resp,
        starts=starts,
        optima=optima,
        fit_intercept=spec.fit_intercept,
        feature_names=list(data.feature_names),
        target_name=data.target_name,
        n_samples=data.n_samples,
        covariance=covariance,
        se_names=list(se_names),
        standard_errors=se,
        notes=data_notes + best.notes,
        n_screened=n_screened,
        order=order,
    )


#: Fields of the result taken from the best start as they are.
_FROM_BEST_START = (
    "weights intercept coef sigma loglik loglik_trace n_iter converged degenerate".split()
)


def _fit_extended(data, spec, n_init, init, tol, max_iter, random_state, min_weight,
                  min_sigma_ratio, compute_se, order) -> EMResult:  # fmt: skip
    """The extended model (gating, fixed, groups, weights): :mod:`mlrbayes.em.extended_fit`."""
    from .extended import LoopConfig
    from .extended_fit import fit_extended

    n_init = check_positive_int(n_init, "n_init")
    cfg = _loop_settings(tol, max_iter, min_weight, min_sigma_ratio, spec.sigma_setting)
    order = check_order(order)
    if isinstance(init, str):
        check_init(init, spec.n_components, data.n_features, spec.fit_intercept)
    rngs = check_random_state(random_state).spawn(n_init + 1)
    data_notes = check_scale(data.X, data.y, data.feature_names, data.target_name)
    for note in data_notes:
        warnings.warn(note + ".", NumericalWarning, stacklevel=3)
    usual = data.y[~extreme_rows(data.y)]
    top = float(np.max(np.abs(usual if usual.size else data.y)))
    ext_cfg = LoopConfig(
        cfg.mode, cfg.tol, cfg.max_iter, cfg.min_weight, cfg.min_sigma_ratio,
        sigma_floor=16.0 * np.finfo(float).eps * top,
    )  # fmt: skip
    res = fit_extended(
        data, spec, ext_cfg, n_init=n_init, init=init, rngs=rngs, compute_se=compute_se,
        order=order, notes=data_notes,
    )  # fmt: skip
    _warn_census(res.optima, n_init)
    return res


# ----------------------------------------------------------------------------- checks
def _check_model(data: Dataset, n_components: Any, sigma: Any, fit_intercept: Any) -> ModelSpec:
    """K, sigma and the intercept, checked against the size of the data."""
    if not isinstance(fit_intercept, bool | np.bool_):
        raise TypeError(f"fit_intercept must be True or False; got {fit_intercept!r}.")
    mode = sigma_setting(check_sigma(sigma, None))
    d_full = data.n_features + int(fit_intercept)
    k = check_n_components(n_components, data.n_samples, d_full, sigma_setting=mode)
    return ModelSpec(k, sigma, bool(fit_intercept))


def _loop_settings(tol, max_iter, min_weight, min_sigma_ratio, mode: str) -> LoopSettings:
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_positive_float(tol, "tol")
    min_weight = float(min_weight)
    if not 0.0 <= min_weight < 1.0:
        raise ValueError(f"min_weight must be in [0, 1); got {min_weight!r}.")
    min_sigma_ratio = float(min_sigma_ratio)
    if not 0.0 <= min_sigma_ratio < 1.0:
        raise ValueError(f"min_sigma_ratio must be in [0, 1); got {min_sigma_ratio!r}.")
    return LoopSettings(mode, tol, max_iter, min_weight, min_sigma_ratio)


def _with_scale(cfg: LoopSettings, data: Dataset, scaling: Scaling) -> LoopSettings:
    """Add the units: sigma below a few ulps of the largest |y| is rounding error, not noise."""
    usual = data.y[~extreme_rows(data.y)]  # an extreme row does not set the others' rounding
    top = float(np.max(np.abs(usual if usual.size else data.y)))
    floor = 16.0 * np.finfo(float).eps * top / scaling.y_scale
    return dataclasses.replace(cfg, sigma_floor=floor, y_scale=scaling.y_scale)


def _standardised(data: Dataset, spec: ModelSpec):
    """``(Z, ys, scaling)``; warns about constant (or all-zero) predictors left out."""
    Z, ys, scaling = standardise(data.X, data.y, spec.fit_intercept)
    dropped = [data.feature_names[j] for j in np.flatnonzero(~scaling.kept)]
    if dropped:
        what = "constant" if spec.fit_intercept else "all zero"
        warnings.warn(
            f"predictor(s) {dropped} are {what}; their coefficients are set to 0"
            + (" (the intercept absorbs a constant)" if spec.fit_intercept else "")
            + ". Drop them to silence this warning.",
            NumericalWarning,
            stacklevel=3,
        )
    if Z.shape[1] == 0:
        raise ValueError(
            "no usable predictor: every column of X is zero and fit_intercept=False; pass "
            "non-zero predictors or set fit_intercept=True."
        )
    return Z, ys, scaling


# ----------------------------------------------------------------------------- results
def _original_units(state: StartState, scaling: Scaling, spec: ModelSpec):
    """``(weights, intercept, coef, sigma)`` of a start in the user's units."""
    b, c, s = scaling.from_std(state.B, state.sigma)
    if spec.sigma_setting == "known":
        s_out: float | np.ndarray = (
            float(spec.sigma) if np.ndim(spec.sigma) == 0 else np.array(spec.sigma, dtype=float)
        )
    elif spec.sigma_setting == "shared":
        s_out = float(s[0])
    else:
        s_out = s
    return state.weights.copy(), b, c, s_out


def _census_results(states, groups, scaling: Scaling, spec: ModelSpec, n: int):
    """Every start as a :class:`StartResult` and every group as an :class:`Optimum`."""
    log_sy = n * math.log(scaling.y_scale)  # log-likelihood of y vs of standardised y
    optimum_of = {i: g_idx for g_idx, g in enumerate(groups) for i in g.starts}
    starts = []
    for i, st in enumerate(states):
        w, b, c, s_out = _original_units(st, scaling, spec)
        starts.append(
            StartResult(
                start=i,
                init=st.init,
                loglik=float(st.loglik - log_sy),
                weights=w,
                intercept=b,
                coef=c,
                sigma=s_out,
                n_iter=st.n_iter,
                converged=bool(st.converged),
                degenerate=bool(st.degenerate),
                optimum=optimum_of[i],
                loglik_trace=st.trace - log_sy,
                notes=st.notes,
                decreased=st.decreased,
                saddle=st.saddle,
            )
        )
    optima = tuple(
        Optimum(
            loglik=starts[g.starts[0]].loglik,
            weights=starts[g.starts[0]].weights,
            intercept=starts[g.starts[0]].intercept,
            coef=starts[g.starts[0]].coef,
            sigma=starts[g.starts[0]].sigma,
            count=len(g.starts),
            starts=tuple(sorted(g.starts)),
            degenerate=starts[g.starts[0]].degenerate,
            n_variants=g.n_variants,
            saddle=starts[g.starts[0]].saddle,
        )
        for g in groups
    )
    return tuple(starts), optima


_DEGENERACY_HINT = {
    "component": "Try fewer components, more starts, or sigma='shared' (one sd for all "
    "components keeps the likelihood bounded).",
    "shared": "Try fewer components or more starts; a shared sd near 0 means the lines pass "
    "through (almost) every point: check for duplicated rows or too few observations.",
    "known": "Try fewer components or more starts; with a known sigma a component empties "
    "when no observations lie near its line: check that sigma is on the scale of y.",
}


def _warn_outcome(best: StartState, n_init: int, cfg: LoopSettings, n: int) -> None:
    """The returned start's notes, and whether it is degenerate or unconverged."""
    for note in best.notes:
        if not note.startswith(SADDLE_NOTE):  # handled: the start moved on to an optimum
            warnings.warn(note + ".", NumericalWarning, stacklevel=3)
    if best.degenerate:
        warnings.warn(
            f"all {n_init} EM starts ended degenerate (a component emptied or collapsed); the "
            f"best of them is returned. {_DEGENERACY_HINT[cfg.mode]}",
            NumericalWarning,
            stacklevel=3,
        )
    elif not best.converged and not best.decreased:  # a drop was warned about in its note
        tr = best.trace
        gain = (tr[-1] - tr[-2]) / n if tr.shape[0] > 1 else float("nan")
        warnings.warn(
            f"EM did not converge in max_iter={cfg.max_iter} iterations (last log-likelihood "
            f"gain per observation {gain:.3g} > tol={cfg.tol:g}); increase max_iter or loosen "
            "tol.",
            ConvergenceWarning,
            stacklevel=3,
        )


#: CensusWarning: at least this many starts, and the best optimum reached by fewer than
#: ``max(2, CENSUS_MIN_SHARE * starts)`` of them.
CENSUS_MIN_STARTS = 5
CENSUS_MIN_SHARE = 0.1


def _warn_census(optima, n_init: int) -> None:
    best = optima[0]
    if n_init < CENSUS_MIN_STARTS or best.count >= max(2.0, CENSUS_MIN_SHARE * n_init):
        return
    singles = sum(o.count == 1 for o in optima)
    warnings.warn(
        f"the best optimum (log-likelihood {best.loglik:.6g}) was reached by {best.count} of "
        f"{n_init} starts and {singles} optima were reached only once (Good-Turing chance that "
        f"one more start finds a new optimum: {singles / n_init:.2g}); the census is thin: "
        "increase n_init.",
        CensusWarning,
        stacklevel=3,
    )


def _standard_errors(data: Dataset, bs: StartResult, scaling: Scaling, spec, compute_se: bool):
    """Louis standard errors at the estimate; a dropped predictor's coefficient has SE NaN."""
    k, p = spec.n_components, data.n_features
    mode = spec.sigma_setting
    if not compute_se:
        names = free_param_names(
            k, data.feature_names, fit_intercept=spec.fit_intercept, sigma_setting=mode
        )
        return None, names, nan_standard_errors(k, p, spec.fit_intercept, mode)
    kept = scaling.kept
    sub = (
        data
        if kept.all()
        else Dataset(
            np.ascontiguousarray(data.X[:, kept]),
            data.y,
            tuple(f for f, keep in zip(data.feature_names, kept, strict=True) if keep),
            data.target_name,
        )
    )
    covariance, se_names, se = standard_errors(
        sub,
        None,
        bs.weights,
        bs.intercept,
        bs.coef[:, kept],
        bs.sigma,
        fit_intercept=spec.fit_intercept,
        sigma_setting=mode,
        feature_names=list(sub.feature_names),
    )
    if not kept.all():  # dropped (constant) predictors: coefficient fixed at 0, no SE
        se = dict(se)
        full = np.full((k, p), np.nan)
        full[:, kept] = se["coef"]
        se["coef"] = full
    return covariance, se_names, se


# ----------------------------------------------------------------------------- Dask routing
def is_dask_input(X: Any, y: Any) -> bool:
    """Whether ``X`` or ``y`` is a Dask collection (checked without importing Dask: a Dask
    collection exists only once Dask is imported)."""
    import sys

    if "dask" not in sys.modules:
        return False
    from dask import is_dask_collection

    return is_dask_collection(X) or is_dask_collection(y)


#: The steps of :func:`fit_em` the Dask engine (:mod:`mlrbayes.em.dask_engine`) shares.
check_model = _check_model
loop_settings = _loop_settings
census_results = _census_results
warn_outcome = _warn_outcome
warn_census = _warn_census
FROM_BEST_START = _FROM_BEST_START
