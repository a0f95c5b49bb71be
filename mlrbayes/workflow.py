"""The validation workflow: EM → chain starts → sampling → diagnosis → comparison.

:func:`validate` checks the data once (:func:`mlrbayes.spec.as_dataset`) and passes the
checked :class:`~mlrbayes.spec.Dataset` down; the posterior DataTree is read once, by
:func:`mlrbayes.compare.compare`. :func:`dispersed_starts` gives the chains that do not start
at an EM optimum their starting points. PyMC is imported when sampling starts, so
``import mlrbayes`` stays PyMC-free.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from ._validation import check_positive_int, check_random_state, check_sigma
from .compare import Comparison, compare
from .em import EMResult, fit_em
from .priors import resolve_priors
from .progress import resolve_progressbar
from .spec import Dataset, as_dataset

__all__ = ["SamplingOptions", "dispersed_starts", "validate"]


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
    of ``y`` (so the lines pass through the data), slopes from N(0, (0.5 s_y / s_x)^2), and,
    when sigma is estimated, sd(y) / K times a factor in [0.5, 1.5].

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
        if sigma == "shared":
            start["sigma"] = sy / k * rng.uniform(0.5, 1.5)
        elif sigma == "component":
            start["sigma"] = sy / k * rng.uniform(0.5, 1.5, size=k)
        out.append(start)
    return out


def validate(
    X: Any,
    y: Any,
    n_components: int,
    *,
    sigma: Any,
    n_init: int = 10,
    random_state: Any = None,
    hdi_prob: float = 0.94,
    method: str = "auto",
    sampling: SamplingOptions | None = None,
    on_em: Callable[[EMResult], Any] | None = None,
    on_posterior: Callable[[Any], Any] | None = None,
    em_kwargs: dict[str, Any] | None = None,
    compare_kwargs: dict[str, Any] | None = None,
    **sampling_options: Any,
) -> Comparison:
    """Fit by EM, sample the posterior from the EM optima and dispersed points, and compare.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    n_components : int
    sigma : float, array-like of shape (K,), "shared" or "component"
        The same setting is used for EM and the posterior.
    n_init : int, default 10
        EM starts.
    random_state : int or None
        Seeds EM, the dispersed starts and the sampler (each from its own child seed).
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
    data = as_dataset(X, y)
    sig = check_sigma(sigma, n_components if isinstance(n_components, int) else None)
    opts = _sampling_options(sampling, sampling_options)
    if isinstance(random_state, np.random.Generator):
        raise TypeError(
            "validate needs an int seed (or None) so the report can record it; got a Generator."
        )
    seeds = np.random.SeedSequence(random_state).spawn(3)
    em_seed, start_seed, sample_seed = (int(sq.generate_state(1)[0]) for sq in seeds)
    opts = replace(opts, progressbar=resolve_progressbar(opts.progressbar))
    em = fit_em(
        *_frames(data),
        n_components,
        sigma=sig,
        n_init=n_init,
        random_state=em_seed,
        **{"progressbar": opts.progressbar, **(em_kwargs or {})},
    )
    if on_em is not None:
        on_em(em)
    init, init_text = _chain_starts(em, data, sig, opts, check_random_state(start_seed))
    idata, sampler_warnings = _sample(data, em, sig, init, opts, sample_seed)
    if on_posterior is not None:
        on_posterior(idata)
    return compare(
        em,
        idata,
        X=data,
        hdi_prob=hdi_prob,
        method=method,
        settings={
            "priors": resolve_priors(data, opts.priors),
            "tune": opts.tune,
            "init": init_text,
            "sampler_warnings": sampler_warnings,
            "seed": random_state,
            "em_seed": em_seed,
            "sampler_seed": sample_seed,
            "n_init": n_init,
        },
        **(compare_kwargs or {}),
    )


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
            *_frames(data),
            em.n_components,
            sigma=sigma,
            fit_intercept=em.fit_intercept,
            priors=opts.priors,
            draws=opts.draws,
            tune=opts.tune,
            chains=opts.chains,
            sampler=opts.sampler,
            init=init,
            random_state=seed,
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
