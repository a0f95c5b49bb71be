"""The validation workflow: EM → chain starts → sampling → diagnosis → comparison.

:func:`validate` checks the data once (:func:`mlrbayes.spec.resolve_dataset`: arrays, a
Dataset or a formula) and passes the checked :class:`~mlrbayes.spec.Dataset` down; the
posterior DataTree is read once, by :func:`mlrbayes.compare.compare`.
:func:`dispersed_starts` gives the chains that do not start at an EM optimum their starting
points. PyMC is imported when sampling starts, so ``import mlrbayes`` stays PyMC-free.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from ._validation import check_positive_int, check_random_state, check_seed, check_sigma
from .compare import Comparison, compare
from .em import EMResult, fit_em
from .findings import Finding
from .formula import formula_intercept
from .priors import resolve_priors
from .progress import resolve_progressbar
from .spec import Dataset, resolve_dataset

__all__ = [
    "POSTERIOR_MAX_ROWS",
    "SamplingOptions",
    "dispersed_starts",
    "em_on_rows",
    "subsample_size",
    "validate",
]


@dataclass(frozen=True)
class SamplingOptions:
    """How :func:`validate` samples the posterior.

    Attributes
    ----------
    draws, tune : int
        Per chain (defaults 1000 and 1000).
    chains : int, default 4
    n_em_chains : int, optional
        Chains started at EM optima (best first, then the other non-degenerate optima of the
        census, cycled); the remaining chains start from :func:`dispersed_starts`. Default:
        half of the chains, rounded up.
    sampler : {"auto", "pymc", "nutpie"}
    priors : dict, optional
        Passed to :func:`mlrbayes.bayes.sample_posterior`.
    progressbar : bool, optional
        Progress of the EM starts and PyMC's (or nutpie's) sampling bars. Default: shown when
        someone is watching (stderr is a terminal, or a notebook; :mod:`mlrbayes.progress`).
    sample_kwargs : dict
        Further arguments of :func:`mlrbayes.bayes.sample_posterior`.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    n_em_chains: int | None = None
    sampler: str = "auto"
    priors: Mapping[str, Any] | None = None
    progressbar: bool | None = None
    sample_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_em(self) -> int:
        """Chains started at EM optima (checked against ``chains``)."""
        n_em = (self.chains + 1) // 2 if self.n_em_chains is None else int(self.n_em_chains)
        if not 0 <= n_em <= self.chains:
            raise ValueError(
                f"n_em_chains must be between 0 and chains={self.chains}; got {self.n_em_chains}."
            )
        return n_em


def _sampling_options(sampling: SamplingOptions | None, options: dict[str, Any]) -> SamplingOptions:
    """``sampling`` (or the defaults) with the keyword options applied; chains checked."""
    known = {f.name for f in fields(SamplingOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(
            f"validate() got unexpected keyword argument(s) {unknown}; sampling options are "
            f"{sorted(known)}."
        )
    opts = replace(sampling or SamplingOptions(), **options)
    opts = replace(opts, chains=check_positive_int(opts.chains, "chains"))
    _ = opts.n_em  # checked before any work is done
    return opts


def dispersed_starts(
    X: np.ndarray, y: np.ndarray, n_components: int, n_starts: int, *, sigma: Any, rng
) -> list[dict[str, Any]]:
    """Starting points spread over the data, for chains not started at an EM optimum.

    Each start draws its weights from Dirichlet(2, ..., 2), its intercepts at random quantiles
    of ``y`` (so the lines pass through the data) and its slopes from N(0, (0.5 s_y / s_x)^2).
    When sigma is estimated it is set from the data, not from a fixed fraction of sd(y): each
    point goes to its nearest line, and a component's sd is the RMS residual of its points
    (the RMS over all points for an empty component, and over all points to the nearest line
    when sigma is shared), times a factor in [0.75, 1.5]. The start's log-likelihood is then of
    the order of the data's own (about ``-n log sd``), never astronomically low, whatever n.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    n_components : int
    n_starts : int
    sigma : float, ndarray, "shared" or "component"
    rng : numpy.random.Generator

    Returns
    -------
    list of dict
        ``{"weights", "intercept", "coef", "sigma"}`` per start (``sigma`` only when estimated).
    """
    k = int(n_components)
    sy = float(np.std(y)) or 1.0
    sx = np.std(X, axis=0)
    sx = np.where(sx > 0, sx, 1.0)
    xbar = X.mean(axis=0)
    out = []
    for _ in range(int(n_starts)):
        coef = rng.normal(0.0, 0.5 * sy / sx, size=(k, X.shape[1]))
        level = np.quantile(y, rng.uniform(0.05, 0.95, size=k))
        start: dict[str, Any] = {
            "weights": rng.dirichlet(np.full(k, 2.0)),
            "intercept": level - coef @ xbar,
            "coef": coef,
        }
        if sigma in ("shared", "component"):
            start["sigma"] = _start_sigma(X, y, start, sigma, sy, rng)
        out.append(start)
    return out


def _start_sigma(X, y, start, sigma, sy, rng) -> float | np.ndarray:
    """Residual-based sd(s) of a dispersed start (see :func:`dispersed_starts`)."""
    resid = y[:, None] - start["intercept"] - X @ start["coef"].T  # (n, K)
    nearest = np.argmin(np.abs(resid), axis=1)
    r_near = resid[np.arange(len(y)), nearest]
    floor = 1e-3 * sy
    if sigma == "shared":
        return max(float(np.sqrt(np.mean(r_near**2))), floor) * rng.uniform(0.75, 1.5)
    k = resid.shape[1]
    sd = np.empty(k)
    for j in range(k):
        r = r_near[nearest == j]
        sd[j] = np.sqrt(np.mean(r**2 if r.size >= 2 else resid[:, j] ** 2))
    return np.maximum(sd, floor) * rng.uniform(0.75, 1.5, size=k)


def validate(
    X: Any,
    y: Any = None,
    n_components: int | None = None,
    *,
    sigma: Any,
    data: Any = None, concomitant: Any = None, fixed: Any = None, groups: Any = None,
    weights: Any = None,
    n_init: int = 10,
    random_state: Any = None,
    order: str = "weight",
    hdi_prob: float = 0.94,
    method: str = "auto",
    sampling: SamplingOptions | None = None,
    on_em: Callable[[EMResult], Any] | None = None,
    on_posterior: Callable[[Any], Any] | None = None,
    em_kwargs: dict[str, Any] | None = None,
    compare_kwargs: dict[str, Any] | None = None,
    posterior_subsample: int | str | None = "auto",
    **sampling_options: Any,
) -> Comparison:  # fmt: skip
    """Fit by EM, sample the posterior from the EM optima and dispersed points, and compare.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), Dataset, or str
        Predictors, a checked :class:`~mlrbayes.spec.Dataset`, or a model formula
        ``"y ~ x1 + C(g)"`` over the DataFrame ``data`` (:mod:`mlrbayes.formula`).
    y : array-like of shape (n_samples,), optional
        The response (array input only).
    n_components : int
        K (required; a keyword when ``y`` is left out).
    sigma : float, array-like of shape (K,), "shared" or "component"
        The same setting is used for EM and the posterior.
    data : pandas.DataFrame, optional
        Where the formula and the column names below are looked up.
    concomitant, fixed : array-like, str or list of str, optional
        Gating covariates (the mixing weights depend on them through a softmax) and
        predictors whose coefficients all components share: arrays, or with ``data`` a
        one-sided formula (``"~ z"``) or column names.
    groups, weights : array-like or str, optional
        Group labels (a group's observations share one component) and positive observation
        (replication) weights: arrays, or column names of ``data``.
    n_init : int, default 10
        EM starts.
    random_state : int or None
        Seeds EM, the dispersed starts and the sampler (each from its own child seed).
    order : {"weight", "intercept", "none"}, default "weight"
        Component order of the EM fit (:func:`mlrbayes.em.fit_em`); the posterior is relabelled
        to the EM labels, so the comparison follows it.
    hdi_prob, method
        As in :func:`mlrbayes.compare.compare`.
    sampling : SamplingOptions, optional
        How to sample (draws, tune, chains, chains at EM optima, sampler, priors, progress
        bar, extra ``sample_posterior`` arguments).
    on_em : callable, optional
        Called with the EMResult as soon as EM is done (e.g. to save it).
    on_posterior : callable, optional
        Called with the posterior DataTree as soon as sampling is done.
    em_kwargs, compare_kwargs : dict, optional
        Extra arguments for :func:`mlrbayes.em.fit_em` and :func:`mlrbayes.compare.compare`.
    posterior_subsample : int, "auto" or None, default "auto"
        Large data: EM always fits every row, but the posterior (sampling, diagnosis and the
        comparison) uses a uniform random subsample of this many rows when the data have more
        (``"auto"``: ``POSTERIOR_MAX_ROWS`` = 100,000; None: every row, however many). The
        EM estimate is then shown with its log-likelihood, memberships and Louis SEs
        evaluated on the subsample's rows, so that it is compared with a posterior of the
        same data size; ``Comparison.settings["posterior_subsample"]`` (JSON and report) says
        so, with the rows, the total and the seed of the draw. See benchmarks/RESULTS.md for
        the time of ``validate`` at n = 10^6 on every row.
    **sampling_options
        The fields of :class:`SamplingOptions` as keywords (``draws``, ``tune``, ``chains``,
        ``n_em_chains``, ``sampler``, ``priors``, ``progressbar``, ``sample_kwargs``); they
        override those of ``sampling``.

    Returns
    -------
    Comparison
        Sampler warnings (divergences, R-hat) are not raised: they are recorded in
        ``Comparison.sampler["warnings"]`` and drive the verdict.
    """
    if not isinstance(random_state, np.random.Generator):
        check_seed(random_state)  # validate(random_state=-5): the seed's message, not NumPy's
    if n_components is None:
        raise TypeError("validate() needs n_components (K), e.g. validate(X, y, 2, ...).")
    data = resolve_dataset(
        X, y, data=data, concomitant=concomitant, fixed=fixed, groups=groups, weights=weights
    )
    em_kwargs = {**(em_kwargs or {})}
    em_kwargs["fit_intercept"] = formula_intercept(data, em_kwargs.get("fit_intercept", True))
    n_sub = subsample_size(posterior_subsample, data.n_samples)
    if n_sub is not None and not data.is_plain:
        if posterior_subsample != "auto":
            raise ValueError(
                f"posterior_subsample={posterior_subsample!r} is for the plain model; a model "
                "with gating, fixed coefficients, groups or weights samples every row (pass "
                "posterior_subsample=None)."
            )
        warnings.warn(
            f"{data.n_samples} rows: the posterior of a model with gating, fixed coefficients, "
            "groups or weights is sampled on every row (the row subsample is for the plain "
            "model only); this can take long.",
            UserWarning,
            stacklevel=2,
        )
        n_sub = None
    sig = check_sigma(sigma, n_components if isinstance(n_components, int) else None)
    opts = _sampling_options(sampling, sampling_options)
    if isinstance(random_state, np.random.Generator):
        raise TypeError(
            "validate needs an int seed (or None) so the report can record it; got a Generator."
        )
    seeds = np.random.SeedSequence(random_state).spawn(4)  # the first 3 as before
    em_seed, start_seed, sample_seed, rows_seed = (int(sq.generate_state(1)[0]) for sq in seeds)
    opts = replace(opts, progressbar=resolve_progressbar(opts.progressbar))
    em = fit_em(
        *_em_data(data),
        n_components,
        sigma=sig,
        n_init=n_init,
        random_state=em_seed,
        order=order,
        **{"progressbar": opts.progressbar, **(em_kwargs or {})},
    )
    if on_em is not None:
        on_em(em)
    full = data
    data, em, sub_info, view = _posterior_rows(full, em, n_sub, rows_seed)
    init, init_text = _chain_starts(em, data, sig, opts, check_random_state(start_seed))
    idata, sampler_warnings = _sample(data, em, sig, init, opts, sample_seed)
    if on_posterior is not None:
        on_posterior(idata)
    settings = {
        "priors": resolve_priors(data, opts.priors),
        "tune": opts.tune,
        "init": init_text,
        "sampler_warnings": sampler_warnings,
        "seed": random_state,
        "em_seed": em_seed,
        "sampler_seed": sample_seed,
        "n_init": n_init,
    }
    if sub_info is not None:
        settings["posterior_subsample"] = sub_info
    kw = {"X": data, "hdi_prob": hdi_prob, "method": method, **(compare_kwargs or {})}
    cmp = compare(em, idata, settings=settings, **kw)
    fit_kw = {"sigma": sig, "n_init": n_init, "random_state": em_seed, **(em_kwargs or {})}
    cmp = _repair_em(cmp, full, idata, settings, kw, fit_kw, view)
    return _with_smaller_k(cmp, full, fit_kw, view)


#: ``validate(posterior_subsample="auto")``: above this many rows the posterior is sampled on
#: a uniform random subsample of this size (EM still fits every row); see benchmarks/RESULTS.md.
POSTERIOR_MAX_ROWS = 100_000


def subsample_size(setting: Any, n: int) -> int | None:
    """Rows of the posterior's subsample for ``validate(posterior_subsample=setting)`` on
    ``n`` rows, or None for every row."""
    if isinstance(setting, str) and setting == "auto":
        return POSTERIOR_MAX_ROWS if n > POSTERIOR_MAX_ROWS else None
    if setting is None:
        return None
    if isinstance(setting, str):
        raise ValueError(
            f"posterior_subsample must be 'auto', a number of rows or None; got {setting!r}."
        )
    m = check_positive_int(setting, "posterior_subsample")
    return m if m < n else None


def _posterior_rows(data: Dataset, em: EMResult, m: int | None, seed: int):
    """``(data, em, info, view)`` for the posterior: all rows (info and view None), or a
    random subsample of ``m`` rows with the EM estimate evaluated on it (``view`` does that
    to any fit)."""
    n = data.n_samples
    if m is None:
        return data, em, None, None
    rows = np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))
    sub = Dataset(np.ascontiguousarray(data.X[rows]), data.y[rows], data.feature_names,
                  data.target_name)  # fmt: skip
    text = (
        f"EM fitted all {n} rows; the posterior, its diagnosis and this comparison use a "
        f"uniform random subsample of {m} rows (seed {seed}), with the EM estimate's "
        "log-likelihood, memberships and standard errors evaluated on those rows"
    )
    info = {"rows": m, "of": n, "seed": seed, "text": text}

    def view(fit: EMResult) -> EMResult:
        return em_on_rows(fit, sub, text)

    return sub, view(em), info, view


def em_on_rows(em: EMResult, data: Dataset, note: str = "") -> EMResult:
    """The EM estimate as seen on other rows (e.g. a subsample): the same parameters, with the
    log-likelihood (of the estimate and of every optimum), memberships, ``n_samples`` and
    Louis standard errors of ``data``; ``note`` is added to the notes."""
    from .em.predict import mean_loglik, membership
    from .uncertainty import standard_errors

    m = data.n_samples
    cov, names, se = standard_errors(data, None, em)
    optima = tuple(replace(o, loglik=m * mean_loglik(o, data.X, data.y)) for o in em.optima)
    return replace(
        em,
        loglik=m * mean_loglik(em, data.X, data.y),
        responsibilities=membership(em, data.X, data.y),
        n_samples=m,
        covariance=cov,
        se_names=list(names),
        standard_errors=se,
        optima=optima,
        notes=(*em.notes, note) if note else em.notes,
    )


def _repair_em(
    cmp: Comparison, data: Dataset, idata: Any, settings: dict, kw: dict, fit_kw: dict, view=None
) -> Comparison:
    """``em_missed_mode``: run EM from the better mode's mean; when it beats the census, add
    the optimum to it, compare again with it as the EM estimate and say so."""
    missed = [f for f in cmp.findings if f.code == "em_missed_mode"]
    if not missed or not data.is_plain:  # a mode's mean has no gating/fixed start (yet)
        return cmp
    best = max(missed, key=lambda f: f.numbers["loglik_at_mean"])
    mode = cmp.diagnosis.multimodality.modes[best.numbers["mode"]]
    start = {"weights": mode.weights, "intercept": mode.intercept, "coef": mode.coef}
    if cmp.em.sigma_setting != "known":
        start["sigma"] = mode.sigma
    old = cmp.em
    new = fit_em(*_em_data(data), old.n_components, **{**fit_kw, "init": start, "n_init": 1})
    new = new if view is None else view(new)  # on the posterior's rows, like old
    if not new.loglik > old.loglik:
        return cmp
    text = (
        f"MCMC found a better optimum: EM started at mode {mode.index}'s mean reaches log-lik "
        f"{new.loglik:.3f} > {old.loglik:.3f}, the best of the EM census; it was added to the "
        "census as optimum #0 and the comparison uses it as the EM estimate"
    )
    em2 = replace(new, optima=(*new.optima[:1], *old.optima), notes=(*old.notes, text))
    cmp2 = compare(em2, idata, settings={**settings, "em_repaired": text}, **kw)
    numbers = {**best.numbers, "loglik_repaired": float(new.loglik), "em_best": old.loglik}
    finding = Finding("em_missed_mode", text, numbers)
    return replace(cmp2, reasons=(*cmp2.reasons, text), findings=(*cmp2.findings, finding))


def _with_smaller_k(cmp: Comparison, data: Dataset, fit_kw: dict, view=None) -> Comparison:
    """``weak_component``: fit K - 1 and show its BIC beside K's in the finding."""
    k = cmp.em.n_components
    if k < 2 or "weak_component" not in cmp.codes:
        return cmp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        smaller = fit_em(*_em_data(data), k - 1, **fit_kw)
        smaller = smaller if view is None else view(smaller)  # on the posterior's rows
    bic = {"bic_K": float(cmp.em.bic), "bic_K_minus_1": float(smaller.bic), "K": k}
    better = "lower, so K - 1 is preferred" if smaller.bic < cmp.em.bic else "not lower"
    note = f" (BIC at K = {k - 1}: {smaller.bic:.1f}, {better}; at K = {k}: {cmp.em.bic:.1f})"
    findings = tuple(
        replace(f, message=f.message + note, numbers={**f.numbers, **bic})
        if f.code == "weak_component"
        else f
        for f in cmp.findings
    )
    reasons = tuple(r + note if r.startswith("[weak_component]") else r for r in cmp.reasons)
    return replace(cmp, findings=findings, reasons=reasons)


def _em_data(data: Dataset) -> tuple[Any, Any]:
    """What ``fit_em`` and ``sample_posterior`` get: the named frames for the plain model (as
    before), the :class:`~mlrbayes.spec.Dataset` itself for the extended one."""
    return _frames(data) if data.is_plain and data.design is None else (data, None)


def _frames(data: Dataset) -> tuple[pd.DataFrame, pd.Series]:
    """The checked data with their names, for ``fit_em`` and ``sample_posterior``.

    Both accept a :class:`~mlrbayes.spec.Dataset` once every layer reads the model
    specification; until then the named frames keep the feature and target names.
    """
    return pd.DataFrame(data.X, columns=list(data.feature_names)), pd.Series(
        data.y, name=data.target_name
    )


def _chain_starts(
    em: EMResult, data: Dataset, sigma: Any, opts: SamplingOptions, rng: np.random.Generator
) -> tuple[list[Any], str]:
    """One start per chain (EM optima first, then dispersed points) and a description."""
    n_em = opts.n_em
    good = [o for o in em.optima if not o.degenerate] or list(em.optima[:1])
    em_starts: list[Any] = [em if i == 0 else good[i] for i in range(min(len(good), n_em))]
    while em_starts and len(em_starts) < n_em:
        em_starts.append(em_starts[len(em_starts) % max(len(good), 1)])
    disp = dispersed_starts(
        data.X, data.y, em.n_components, opts.chains - n_em, sigma=sigma, rng=rng
    )
    text = (
        f"{len(em_starts)} chain(s) at EM optima "
        f"({', '.join('#' + str(good.index(o)) if o is not em else '#0' for o in em_starts)}), "
        f"{len(disp)} at dispersed points"
    )
    return [*em_starts, *disp], text


def _sample(
    data: Dataset, em: EMResult, sigma: Any, init: list[Any], opts: SamplingOptions, seed: int
) -> tuple[Any, list[str]]:
    """Sample the posterior; sampler warnings are collected as text, others passed on."""
    from . import bayes  # PyMC is loaded here, not by `import mlrbayes`

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bayes.SamplingWarning)
        idata = bayes.sample_posterior(
            *_em_data(data),
            em.n_components,
            init=init,
            random_state=seed,
            sigma=sigma,
            fit_intercept=em.fit_intercept,
            **{f: getattr(opts, f) for f in ("priors", "draws", "tune", "chains", "sampler")},
            progressbar=opts.progressbar,
            **dict(opts.sample_kwargs),
        )
    sampler_warnings = []
    for w in caught:
        if issubclass(w.category, bayes.SamplingWarning):
            sampler_warnings.append(" ".join(str(w.message).split()))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return idata, sampler_warnings
