"""Choosing the number of components: AIC, BIC and ICL side by side, and a bootstrap LRT.

:func:`select_components` fits one EM per K and tabulates the criteria; with
``bootstrap_lrt=B`` it adds, for every pair of consecutive K in ``ks``, the parametric
bootstrap likelihood-ratio test of K against K+1 components (McLachlan 1987), the test of
mixtools' ``boot.comp`` and flexmix's ``LR_test``:

1. the observed statistic ``LR = 2 (l_{K+1} - l_K)`` from the maximised log-likelihoods;
2. ``B`` data sets simulated from the K-component fit at the user's design;
3. K and K+1 refitted to each with the same EM settings, giving ``LR*_1 .. LR*_B``;
4. ``p = (1 + #{LR*_b >= LR}) / (B + 1)``.

Under the null the statistic has an atom at 0 (the K+1 fit falls back onto the K fit) and
ties count against the null's rejection, so the test is slightly conservative
(``P(p <= a) <= a``); ``benchmarks/bench_lrt.py`` measures its level.

The K+1 model contains every K-component fit (a component duplicated, its weight split), so
its maximised log-likelihood is at least ``l_K``. Every K+1 fit here (observed and bootstrap)
therefore also runs one start from a *split* of the K fit (a component duplicated with its
weight halved and the two copies nudged apart), and the better K+1 fit is kept; a statistic
that still comes out negative (a local optimum) is set to 0, counted, and reported.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .em import EMResult, fit_em
from .em.fit import is_dask_input
from .em.result import NumericalWarning
from .progress import StartsProgress, resolve_progressbar
from .resample import simulate_response
from .spec import Dataset, as_dataset

__all__ = ["ICL_NOTE", "BootstrapLRT", "select_components", "split_start"]

_CRITERIA = ("aic", "bic", "icl")

#: What the table's ICL column means for the choice of K (printed by ``mlrbayes select``).
ICL_NOTE = (
    "ICL = BIC + 2 x (entropy of the memberships) penalises overlapping components: it "
    "estimates the number of well-separated clusters, not the number of mixture components, "
    "and picks fewer components than BIC when lines overlap (Biernacki, Celeux & Govaert "
    "2000; Baudry et al. 2010). Use BIC or the bootstrap LRT to choose the number of "
    "components of the density."
)

#: Spawn-key tag of the bootstrap's seeds ("LRT"): its streams differ from fit_em's (which
#: spawns children 0 .. n_init of the same seed).
_LRT_TAG = 0x4C5254
#: A negative LR larger than ``2 n max(_CLAMP_TOL, _CLAMP_TOL_FACTOR * tol)`` counts as a
#: refit that fell short of the K fit; smaller ones are convergence noise (EM stops when an
#: iteration gains less than ``tol`` per observation, and on an over-fitted K+1 it converges
#: slowly, so it stops well short of the optimum). Both are set to 0.
_CLAMP_TOL = 1e-6
_CLAMP_TOL_FACTOR = 100.0
#: How far apart the two copies of a split component start, in units of its sd.
_SPLIT_NUDGE = 0.5


def _check_ks(ks: Any) -> list[int]:
    if isinstance(ks, numbers.Integral) and not isinstance(ks, bool):
        ks = [ks]
    if isinstance(ks, str) or not isinstance(ks, Iterable):
        raise TypeError(f"ks must be a sequence of integers >= 1, e.g. range(1, 5); got {ks!r}.")
    out = []
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or int(k) < 1:
            raise ValueError(f"ks must hold integers >= 1; got {k!r} in {ks!r}.")
        out.append(int(k))
    if not out:
        raise ValueError("ks is empty; pass the numbers of components to compare, e.g. [1, 2, 3].")
    if len(set(out)) != len(out):
        raise ValueError(f"ks has repeated values {out}; pass each number of components once.")
    return out


@dataclass(frozen=True, eq=False)
class BootstrapLRT:
    """The parametric bootstrap likelihood-ratio test of ``k_null`` against ``k_null + 1``.

    Attributes
    ----------
    k_null, k_alt : int
        K under the null hypothesis and K + 1.
    statistic : float
        Observed ``LR = 2 (l_{K+1} - l_K)`` (NaN when a fit to the data is degenerate).
    pvalue : float
        ``(1 + #{LR* >= LR}) / (n_valid + 1)`` over the valid replications.
    null_statistics : ndarray of shape (n_boot,)
        The bootstrap statistics ``LR*`` in replication order (NaN where a refit failed).
    n_boot, n_valid, n_clamped, n_failed : int
        Replications asked for; with a usable statistic; whose K+1 refit ended below the K
        refit by more than convergence noise (set to 0); whose refits were degenerate (NaN).
    level : float
        The level of :attr:`reject`.
    warnings : dict of str to int
        Replications in which EM issued each warning class (e.g. ``ConvergenceWarning``).
    seconds : float
        Wall time of the bootstrap.
    """

    k_null: int
    k_alt: int
    statistic: float
    pvalue: float
    null_statistics: np.ndarray
    n_boot: int
    n_valid: int
    n_clamped: int
    n_failed: int
    level: float
    warnings: dict[str, int]
    seconds: float

    @property
    def reject(self) -> bool:
        """True when ``pvalue < level``: K+1 fits significantly better than K."""
        return bool(self.pvalue < self.level)

    def notes(self) -> list[str]:
        """One line per event a reader should know of (clamped or failed refits, warnings)."""
        out = []
        head = f"K={self.k_null} vs {self.k_alt}:"
        if self.n_clamped:
            out.append(
                f"{head} {self.n_clamped} of {self.n_boot} bootstrap K+1 refits ended below the "
                "K refit (a local optimum); their LR* was set to 0. Raise n_init."
            )
        if self.n_failed:
            out.append(
                f"{head} {self.n_failed} of {self.n_boot} bootstrap replications had a "
                "degenerate refit and were left out of the p-value."
            )
        for name, count in sorted(self.warnings.items()):
            out.append(f"{head} EM issued {name} in {count} of {self.n_boot} replications.")
        return out


def split_start(em: EMResult, component: int | None = None) -> dict[str, np.ndarray]:
    """Starting parameters with K + 1 components made from a K-component fit.

    Component ``component`` (default: the one with the largest weight) is duplicated, each
    copy with half its weight, and the two copies' intercepts (their lines, without an
    intercept) are moved apart by ``0.5`` of its sd, so EM can separate them. The start's
    log-likelihood is within ``O(0.25 n)`` of ``em.loglik`` and equals it without the nudge.

    Returns
    -------
    dict
        ``weights`` (K+1,), ``intercept`` (K+1,), ``coef`` (K+1, p) and ``sigma`` (float or
        (K+1,)), for the ``init`` argument of :func:`mlrbayes.fit_em`.
    """
    j = int(np.argmax(em.weights)) if component is None else int(component)
    sig = np.broadcast_to(np.asarray(em.sigma, dtype=float), (em.n_components,))
    nudge = _SPLIT_NUDGE * float(sig[j])
    w = np.append(np.asarray(em.weights, dtype=float), 0.0)
    w[j] = w[-1] = w[j] / 2.0
    b = np.append(np.asarray(em.intercept, dtype=float), em.intercept[j])
    c = np.vstack([np.asarray(em.coef, dtype=float), em.coef[j][None, :]])
    if em.fit_intercept:
        b[j] -= nudge / 2.0
        b[-1] += nudge / 2.0
    else:  # no intercept: turn the two copies' slopes apart on the first predictor
        c[j, 0] -= nudge / 2.0
        c[-1, 0] += nudge / 2.0
    out = {"weights": w, "intercept": b, "coef": c}
    if em.sigma_setting != "known":
        out["sigma"] = np.append(sig, sig[j]) if np.ndim(em.sigma) else float(em.sigma)
    return out


def _better(a: EMResult, b: EMResult) -> EMResult:
    """The non-degenerate fit if only one is, else the one with the higher log-likelihood."""
    if a.degenerate != b.degenerate:
        return b if a.degenerate else a
    return b if b.loglik > a.loglik else a


def _split_fit(data: Dataset, em: EMResult, fit_kw: dict[str, Any], rng) -> EMResult | None:
    """One EM start from :func:`split_start` (None when K + 1 is too many for the data)."""
    kw = {key: v for key, v in fit_kw.items() if key not in ("n_init", "init", "random_state")}
    kw.update(compute_se=False, progressbar=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the better fit's events are judged by its caller
            return fit_em(data, None, em.n_components + 1, init=split_start(em), n_init=1,
                          random_state=rng, **kw)  # fmt: skip
    except ValueError:
        return None


def _statistic(fit0: EMResult, fit1: EMResult, n: int, tol: float) -> tuple[float, str]:
    """``(LR, status)``: status "ok", "clamped" (a negative LR set to 0) or "failed"."""
    if fit0.degenerate or fit1.degenerate:
        return math.nan, "failed"
    lr = 2.0 * (fit1.loglik - fit0.loglik)
    if lr >= 0.0:
        return lr, "ok"
    noise = 2.0 * n * max(_CLAMP_TOL, _CLAMP_TOL_FACTOR * tol)
    return 0.0, ("clamped" if lr < -noise else "ok")


def _replicate(em: EMResult, data: Dataset, fit_kw: dict[str, Any], seed) -> tuple:
    """One bootstrap replication: simulate from ``em``, refit K and K+1, return LR*."""
    rng = np.random.default_rng(seed)
    new = data.with_response(simulate_response(em, data, rng))
    kw = {**fit_kw, "compute_se": False, "progressbar": False}
    k = em.n_components
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit0 = fit_em(new, None, k, random_state=rng, **kw)
        fit1 = fit_em(new, None, k + 1, random_state=rng, **kw)
    split = _split_fit(new, fit0, fit_kw, rng)
    if split is not None:
        fit1 = _better(fit1, split)
    lr, status = _statistic(fit0, fit1, data.n_samples, fit_kw.get("tol", 1e-8))
    return lr, status, sorted({w.category.__name__ for w in caught})


def _lrt_seeds(random_state: Any, k: int, n_boot: int) -> list[np.random.SeedSequence]:
    """One SeedSequence per replication of the test of ``k``: the same for any ``n_jobs``
    and whatever other K are compared."""
    if isinstance(random_state, np.random.SeedSequence):
        entropy, key = random_state.entropy, tuple(random_state.spawn_key)
    elif isinstance(random_state, np.random.Generator):
        entropy, key = int(random_state.integers(2**63)), ()
    elif random_state is None:
        entropy, key = np.random.SeedSequence().entropy, ()
    else:
        entropy, key = int(random_state), ()
    root = np.random.SeedSequence(entropy, spawn_key=(*key, _LRT_TAG, k))
    return root.spawn(n_boot)


def _run_replications(em, data, fit_kw, seeds, n_jobs, bar) -> list[tuple]:
    """The replications in order, over ``n_jobs`` processes (joblib), updating ``bar``."""
    if n_jobs == 1:
        out = []
        for seed in seeds:
            out.append(_replicate(em, data, fit_kw, seed))
            bar.update(bar.done + 1)
        return out
    from joblib import Parallel, delayed

    out = []
    jobs = Parallel(n_jobs=n_jobs, return_as="generator")
    for res in jobs(delayed(_replicate)(em, data, fit_kw, s) for s in seeds):
        out.append(res)
        bar.update(bar.done + 1)
    return out


def _bootstrap_lrt(fits, data, k, n_boot, level, fit_kw, random_state, n_jobs, bar):
    """:class:`BootstrapLRT` of ``k`` vs ``k + 1`` from the observed fits ``fits[k]``,
    ``fits[k + 1]``."""
    t0 = time.perf_counter()
    seeds = _lrt_seeds(random_state, k, n_boot + 1)  # [0]: the observed split start
    fit0 = fits[k]
    split = _split_fit(data, fit0, fit_kw, np.random.default_rng(seeds[0]))
    fit1 = fits[k + 1] if split is None else _better(fits[k + 1], split)
    stat, _ = _statistic(fit0, fit1, data.n_samples, fit_kw.get("tol", 1e-8))
    reps = _run_replications(fit0, data, fit_kw, seeds[1:], n_jobs, bar)
    null = np.array([r[0] for r in reps], dtype=float)
    status = Counter(r[1] for r in reps)
    named = Counter(name for r in reps for name in r[2])
    valid = null[np.isfinite(null)]
    if math.isfinite(stat) and valid.size:
        pvalue = (1.0 + np.count_nonzero(valid >= stat)) / (valid.size + 1.0)
    else:
        pvalue = math.nan
    return BootstrapLRT(
        k_null=k,
        k_alt=k + 1,
        statistic=float(stat),
        pvalue=float(pvalue),
        null_statistics=null,
        n_boot=n_boot,
        n_valid=int(valid.size),
        n_clamped=status["clamped"],
        n_failed=status["failed"],
        level=level,
        warnings=dict(named),
        seconds=time.perf_counter() - t0,
    )


def _check_lrt_args(bootstrap_lrt: Any, lrt_level: Any, n_jobs: Any) -> tuple[int, float, int]:
    if isinstance(bootstrap_lrt, bool) or not isinstance(bootstrap_lrt, numbers.Integral):
        raise TypeError(
            f"bootstrap_lrt must be an integer number of bootstrap data sets (0: no test, "
            f"e.g. 99); got {bootstrap_lrt!r}."
        )
    if bootstrap_lrt < 0:
        raise ValueError(f"bootstrap_lrt must be >= 0 (0: no test, e.g. 99); got {bootstrap_lrt}.")
    try:
        level = float(lrt_level)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"lrt_level must be a number in (0, 1); got {lrt_level!r}.") from exc
    if not 0.0 < level < 1.0:
        raise ValueError(f"lrt_level must be in (0, 1), e.g. 0.05; got {lrt_level!r}.")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all cores); got {n_jobs!r}.")
    if n_jobs < 0:
        import os

        n_jobs = max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    return int(bootstrap_lrt), level, int(n_jobs)


def _lrt_columns(table: pd.DataFrame, tests: Mapping[int, BootstrapLRT], level: float) -> None:
    """Add ``lrt_stat``, ``lrt_pvalue`` (on the row of the null K) and ``best_lrt``."""
    stat = [tests[k].statistic if k in tests else math.nan for k in table["k"]]
    pval = [tests[k].pvalue if k in tests else math.nan for k in table["k"]]
    table.insert(table.columns.get_loc("n_starts") + 1, "lrt_stat", stat)
    table.insert(table.columns.get_loc("lrt_stat") + 1, "lrt_pvalue", pval)
    best = np.zeros(len(table), dtype=bool)
    if tests:
        k = min(table["k"])
        while k in tests and tests[k].pvalue < level:
            k += 1
        best[int(np.flatnonzero(table["k"].to_numpy() == k)[0])] = True
    table["best_lrt"] = best


def select_components(
    X: Any,
    y: Any,
    ks: Iterable[int],
    *,
    sigma: Any = "shared",
    return_results: bool = False,
    bootstrap_lrt: int = 0,
    lrt_level: float = 0.05,
    n_jobs: int = 1,
    random_state: Any = None,
    progressbar: bool | None = None,
    return_lrt: bool = False,
    **fit_kwargs: Any,
):
    """Fit one EM per number of components; tabulate AIC, BIC, ICL and a bootstrap LRT.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or Dataset
    y : array-like of shape (n_samples,), or None with a :class:`mlrbayes.spec.Dataset`
    ks : iterable of int
        Numbers of components to compare, e.g. ``range(1, 5)``.
    sigma : float, "shared" or "component", default "shared"
        Passed to :func:`~mlrbayes.em.fit_em` for every K (a per-component array of known sds
        only makes sense for a single K).
    return_results : bool, default False
        Also return the :class:`~mlrbayes.em.EMResult` of every K.
    bootstrap_lrt : int, default 0
        ``B > 0``: for every K with K+1 also in ``ks``, the parametric bootstrap
        likelihood-ratio test of K against K+1 components with ``B`` bootstrap data sets
        (McLachlan 1987; mixtools ``boot.comp``, flexmix ``LR_test``; see the module
        docstring). Costs ``B`` times three EM fits per pair; ``B = 99`` is usual (the
        smallest attainable p-value is ``1 / (B + 1)``).
    lrt_level : float, default 0.05
        Level of the tests: ``best_lrt`` marks the first K, from the smallest, whose test
        against K+1 is not rejected at this level (sequential testing as in ``boot.comp``).
    n_jobs : int, default 1
        Processes for the bootstrap replications (joblib; -1: every core). The result is the
        same for any ``n_jobs``: each replication has its own seed.
    random_state : int, Generator, SeedSequence or None
        Seeds every fit (an integer gives every K the same seed, so the table is
        reproducible) and, through separate streams, the bootstrap.
    progressbar : bool, optional
        A bar over the EM starts and one over the bootstrap replications, on stderr. Default:
        when someone is watching (see :mod:`mlrbayes.progress`).
    return_lrt : bool, default False
        Also return the tests: a dict mapping the null K to its :class:`BootstrapLRT`
        (observed statistic, p-value and the bootstrap statistics, e.g. for
        :func:`mlrbayes.plots.lrt_distribution`).
    **fit_kwargs
        Further arguments of :func:`~mlrbayes.em.fit_em` (``fit_intercept``, ``n_init``,
        ``init``, ``tol``, ``max_iter``); the bootstrap refits use the same.

    Returns
    -------
    table : pandas.DataFrame
        One row per K, in the order of ``ks``, with columns ``k``, ``loglik``,
        ``n_parameters``, ``aic``, ``bic``, ``icl``, ``converged``, ``degenerate``,
        ``n_optima`` (distinct optima in the census, grouped by fitted density: a duplicated
        component's weight splits count once), ``n_starts``, and ``best_aic``,
        ``best_bic``, ``best_icl`` (True on the row with the smallest value of that criterion).
        Degenerate fits (a collapsed component: unbounded likelihood) are not eligible as best
        unless every fit is degenerate. With ``bootstrap_lrt > 0`` also ``lrt_stat`` and
        ``lrt_pvalue`` (the test of this row's K against K+1; NaN where K+1 is not in ``ks``)
        after ``n_starts``, and ``best_lrt`` at the end.
    results : dict of int to EMResult
        Only when ``return_results=True``.
    tests : dict of int to BootstrapLRT
        Only when ``return_lrt=True`` (empty without ``bootstrap_lrt``).

    Warns
    -----
    NumericalWarning
        Bootstrap refits that ended below the K fit (their LR* set to 0) or were degenerate
        (left out of the p-value); :meth:`BootstrapLRT.notes` says how many.

    Notes
    -----
    AIC and BIC estimate the number of components of the density. ICL (Biernacki, Celeux &
    Govaert 2000) adds twice the entropy of the memberships to BIC, so it penalises
    overlapping components and estimates the number of *well-separated* clusters; on
    overlapping lines it picks fewer components than BIC (Baudry et al. 2010): in the
    simulations reported in the project's issue 11 (overlapping lines, n=150), ICL chose K=1
    in all 40 replications with a true K of 2 or 3, where BIC chose right in 37. The bootstrap
    LRT calibrates the likelihood ratio by simulation, because its chi-square limit does not
    hold for mixtures (a component's weight at 0 is on the boundary of the parameter space).

    References
    ----------
    McLachlan, G. J. (1987). On bootstrapping the likelihood ratio test statistic for the
    number of components in a normal mixture. *Applied Statistics* 36, 318-324.
    Biernacki, C., Celeux, G., Govaert, G. (2000). Assessing a mixture model for clustering
    with the integrated completed likelihood. *IEEE TPAMI* 22, 719-725.
    Baudry, J.-P., Raftery, A. E., Celeux, G., Lo, K., Gottardo, R. (2010). Combining mixture
    components for clustering. *JCGS* 19, 332-353.

    Examples
    --------
    >>> from mlrbayes import simulate
    >>> X, y, _ = simulate(300, [0.5, 0.5], [0.0, 6.0], [[1.0], [-1.0]], 0.5, random_state=0)
    >>> table = select_components(X, y, [1, 2, 3], n_init=3, random_state=0)
    >>> int(table.loc[table["best_bic"], "k"].iloc[0])
    2
    """
    if "n_components" in fit_kwargs:
        raise TypeError("pass the numbers of components as ks, not n_components.")
    kvals = _check_ks(ks)
    n_boot, level, n_jobs = _check_lrt_args(bootstrap_lrt, lrt_level, n_jobs)
    show = resolve_progressbar(progressbar)
    if is_dask_input(X, y):
        if n_boot:
            raise ValueError(
                f"bootstrap_lrt={n_boot} needs the data in memory (each bootstrap data set is "
                "refitted); pass NumPy/pandas data, or bootstrap_lrt=0 for Dask input."
            )
        data, y_fit = X, y
    else:
        data, y_fit = as_dataset(X, y), None  # checked once for every K
    results: dict[int, EMResult] = {}
    rows = []
    for k in kvals:
        res = fit_em(
            data, y_fit, k, sigma=sigma, random_state=random_state, progressbar=show, **fit_kwargs
        )
        results[k] = res
        rows.append(
            {
                "k": k,
                "loglik": float(res.loglik),
                "n_parameters": int(res.n_parameters),
                "aic": float(res.aic),
                "bic": float(res.bic),
                "icl": float(res.icl),
                "converged": bool(res.converged),
                "degenerate": bool(res.degenerate),
                "n_optima": len(res.optima),
                "n_starts": len(res.starts),
            }
        )
    table = pd.DataFrame(rows)
    eligible = ~table["degenerate"].to_numpy()
    if not eligible.any():
        eligible[:] = True
    for crit in _CRITERIA:
        values = np.where(eligible, table[crit].to_numpy(), np.inf)
        best = np.zeros(len(table), dtype=bool)
        if np.isfinite(values).any():
            best[int(np.argmin(values))] = True
        table[f"best_{crit}"] = best
    tests: dict[int, BootstrapLRT] = {}
    if n_boot:
        pairs = sorted(k for k in kvals if k + 1 in results)
        fit_kw = {"sigma": sigma, **fit_kwargs}
        label = "bootstrap LRT"
        with StartsProgress(n_boot * len(pairs), enabled=show, label=label) as bar:
            for k in pairs:
                tests[k] = _bootstrap_lrt(
                    results, data, k, n_boot, level, fit_kw, random_state, n_jobs, bar
                )
        _lrt_columns(table, tests, level)
        _warn_lrt(tests)
    out: tuple = (table,)
    if return_results:
        out += (results,)
    if return_lrt:
        out += (tests,)
    return out[0] if len(out) == 1 else out


def _warn_lrt(tests: Mapping[int, BootstrapLRT]) -> None:
    """One warning for the refits that fell short or failed (EM's own warnings are counted
    in :attr:`BootstrapLRT.warnings` and listed by :meth:`BootstrapLRT.notes`)."""
    lines = []
    for t in tests.values():
        if t.n_clamped or t.n_failed:
            lines += [line for line in t.notes() if "EM issued" not in line]
    if lines:
        warnings.warn(" ".join(lines), NumericalWarning, stacklevel=3)
