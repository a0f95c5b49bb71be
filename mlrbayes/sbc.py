r"""Simulation-based calibration of the PyMC model (Talts et al. 2018).

If parameters :math:`\tilde\theta` are drawn from the prior, data :math:`\tilde y` from the
model given :math:`\tilde\theta`, and :math:`L` draws :math:`\theta_1..\theta_L` from the
posterior given :math:`\tilde y`, then for any scalar :math:`f` the rank
:math:`\#\{l : f(\theta_l) < f(\tilde\theta)\}` is uniform on :math:`0..L` — when the sampler
draws from the exact posterior of the model that generated the data. Ranks piled at the ends
mean a posterior too narrow, in the middle too wide, to one side biased.

A mixture's labels are not identified, so only label-invariant quantities are ranked: the
sorted weights, intercepts and slopes (each predictor's slopes sorted separately), the sorted
sds (one sd when shared; none when known), the log-likelihood of the simulated data and the
mean response at the mean of the design, :math:`\sum_k \pi_k (b_k + c_k^\top \bar x)`.

:func:`simulation_based_calibration` runs the loop (PyMC, imported on first use);
:func:`rank_statistics` and :func:`uniformity_tests` are the NumPy/SciPy parts, usable with any
sampler. The default run is small (20 simulations of 50 rows, 2 chains of 100 draws): enough
to see gross miscalibration; ``benchmarks/bench_sbc.py`` runs a fuller one.

Reference: Talts, S., Betancourt, M., Simpson, D., Vehtari, A., Gelman, A. (2018).
Validating Bayesian inference algorithms with simulation-based calibration. arXiv:1804.06788.
"""

from __future__ import annotations

import numbers
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._validation import check_positive_int
from .likelihood import mixture_loglik
from .progress import StartsProgress, resolve_progressbar
from .spec import sigma_setting

__all__ = [
    "SBCResult",
    "rank_statistics",
    "sbc_priors",
    "sbc_quantities",
    "simulation_based_calibration",
    "uniformity_tests",
]


@dataclass(frozen=True, eq=False)
class SBCResult:
    """What :func:`simulation_based_calibration` returns.

    Attributes
    ----------
    ranks : pandas.DataFrame of shape (n_sims, n_quantities)
        Rank of each quantity's true value among the ``n_draws`` posterior draws, in
        ``0 .. n_draws``.
    n_draws : int
        Posterior draws each rank is taken over (L).
    tests : pandas.DataFrame
        :func:`uniformity_tests` of the ranks, one row per quantity.
    truths : pandas.DataFrame of shape (n_sims, n_quantities)
        The quantities at the parameters drawn from the prior.
    n_divergent : ndarray of shape (n_sims,)
        Divergent transitions of each posterior sample.
    max_rhat : ndarray of shape (n_sims,)
        Largest R-hat of each posterior sample (NaN with one chain).
    priors : dict
        The (fixed) priors used.
    settings : dict
        ``n``, ``K``, ``sigma``, ``draws``, ``tune``, ``chains``, ``random_state``.
    seconds : float
    """

    ranks: pd.DataFrame
    n_draws: int
    tests: pd.DataFrame
    truths: pd.DataFrame
    n_divergent: np.ndarray
    priors: dict
    max_rhat: np.ndarray | None = None
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        """The tests as text, with the run's size, the divergences and high R-hats."""
        head = (
            f"SBC: {len(self.ranks)} simulations, ranks over {self.n_draws} posterior draws; "
            f"{int(np.sum(self.n_divergent > 0))} posterior samples had divergences"
        )
        if self.max_rhat is not None:
            high = int(np.sum(np.asarray(self.max_rhat) > 1.01))
            head += f", {high} an R-hat above 1.01 (their ranks may be off)"
        return head + "\n" + self.tests.to_string(index=False, float_format=lambda v: f"{v:.3g}")


# ----------------------------------------------------------------------------- NumPy parts
def sbc_quantities(
    X: np.ndarray, y: np.ndarray, weights, intercept, coef, sigma, *, sigma_mode: str = "shared"
) -> dict[str, np.ndarray]:
    """Label-invariant quantities of parameter sets (a leading batch shape ``S`` allowed).

    Parameters
    ----------
    X : ndarray of shape (n, p)
    y : ndarray of shape (n,)
        The data the log-likelihood is evaluated at.
    weights, intercept : ndarray of shape (S..., K)
    coef : ndarray of shape (S..., K, p)
    sigma : ndarray of shape (S..., K)
        Each component's sd.
    sigma_mode : {"shared", "component", "known"}, default "shared"
        One quantity ``sigma`` when shared, the sorted sds per component, none when known.

    Returns
    -------
    dict of str to ndarray of shape (S...)
        ``weights (sorted) j``, ``intercept (sorted) j``, ``coef[f] (sorted) j``, ``sigma``
        or ``sigma (sorted) j``, ``loglik``, ``mean at mean x``.
    """
    w = np.asarray(weights, dtype=float)
    b = np.asarray(intercept, dtype=float)
    c = np.asarray(coef, dtype=float)
    s = np.asarray(sigma, dtype=float)
    k, p = c.shape[-2], c.shape[-1]
    out: dict[str, np.ndarray] = {}
    for j, v in enumerate(np.moveaxis(np.sort(w, axis=-1), -1, 0)):
        out[f"weights (sorted) {j}"] = v
    for j, v in enumerate(np.moveaxis(np.sort(b, axis=-1), -1, 0)):
        out[f"intercept (sorted) {j}"] = v
    cs = np.sort(c, axis=-2)
    for f in range(p):
        for j in range(k):
            out[f"coef[{f}] (sorted) {j}"] = cs[..., j, f]
    if sigma_mode == "shared":
        out["sigma"] = s[..., 0]
    elif sigma_mode == "component":
        for j, v in enumerate(np.moveaxis(np.sort(s, axis=-1), -1, 0)):
            out[f"sigma (sorted) {j}"] = v
    out["loglik"] = np.asarray(mixture_loglik(X, y, w, b, c, s), dtype=float)
    xbar = np.asarray(X, dtype=float).mean(axis=0)
    out["mean at mean x"] = np.sum(w * (b + c @ xbar), axis=-1)
    return out


def rank_statistics(truth: Any, draws: Any, random_state: Any = None) -> np.ndarray:
    """Ranks of true values among posterior draws, ties broken at random.

    Parameters
    ----------
    truth : array-like of shape (n_sims, q)
    draws : array-like of shape (n_sims, L, q)
    random_state : int, Generator or None
        For the ties (a draw equal to the truth).

    Returns
    -------
    ndarray of int of shape (n_sims, q)
        ``#{l : draw_l < truth} + U{0 .. #{l : draw_l == truth}}``, in ``0 .. L``.
    """
    t = np.asarray(truth, dtype=float)
    d = np.asarray(draws, dtype=float)
    if d.ndim != 3 or t.shape != (d.shape[0], d.shape[2]):
        raise ValueError(
            f"truth must have shape (n_sims, q) and draws (n_sims, L, q); got {t.shape} and "
            f"{d.shape}."
        )
    below = np.sum(d < t[:, None, :], axis=1)
    ties = np.sum(d == t[:, None, :], axis=1)
    rng = np.random.default_rng(random_state)
    return below + rng.integers(0, ties + 1)


def uniformity_tests(
    ranks: Any, n_draws: int, *, bins: int | None = None, random_state: Any = None
) -> pd.DataFrame:
    """Tests that ranks are uniform on the integers 0 to ``n_draws``, per quantity (column).

    Two tests: Pearson's chi-square on the ranks binned into ``bins`` groups of consecutive
    values (expected counts from the number of rank values in each bin), and Kolmogorov-Smirnov
    on the normalised ranks ``(rank + U) / (n_draws + 1)``, ``U ~ Uniform(0, 1)``, which are
    exactly Uniform(0, 1) when the ranks are uniform.

    Parameters
    ----------
    ranks : array-like of shape (n_sims, q), or DataFrame (its columns name the quantities)
    n_draws : int
        L; ranks lie in ``0 .. L``.
    bins : int, optional
        Default ``min(20, L + 1, max(2, n_sims // 5))`` (about 5 expected per bin, at least).
    random_state : int, Generator or None
        For the jitter of the normalised ranks.

    Returns
    -------
    pandas.DataFrame
        Columns ``quantity``, ``chi2``, ``df``, ``chi2_pvalue``, ``ks_stat``, ``ks_pvalue``.
    """
    names = list(ranks.columns) if isinstance(ranks, pd.DataFrame) else None
    r = np.asarray(ranks)
    if r.ndim == 1:
        r = r[:, None]
    n_draws = check_positive_int(n_draws, "n_draws")
    if r.ndim != 2 or r.size == 0 or np.any(r < 0) or np.any(r > n_draws):
        raise ValueError(
            f"ranks must be a non-empty (n_sims, q) array of integers in 0..{n_draws}; got "
            f"shape {r.shape}, range [{r.min() if r.size else None}, "
            f"{r.max() if r.size else None}]."
        )
    names = names or [str(j) for j in range(r.shape[1])]
    n_sims = r.shape[0]
    bins = min(20, n_draws + 1, max(2, n_sims // 5)) if bins is None else int(bins)
    if not 2 <= bins <= n_draws + 1:
        raise ValueError(f"bins must be in 2..{n_draws + 1} (n_draws + 1); got {bins}.")
    of_value = np.arange(n_draws + 1) * bins // (n_draws + 1)  # bin of each rank value
    expected = n_sims * np.bincount(of_value, minlength=bins) / (n_draws + 1)
    rng = np.random.default_rng(random_state)
    rows = []
    for j, name in enumerate(names):
        observed = np.bincount(of_value[r[:, j].astype(int)], minlength=bins)
        chi2 = float(np.sum((observed - expected) ** 2 / expected))
        u = (r[:, j] + rng.random(n_sims)) / (n_draws + 1)
        ks = stats.kstest(u, "uniform")
        rows.append(
            {
                "quantity": name,
                "chi2": chi2,
                "df": bins - 1,
                "chi2_pvalue": float(stats.chi2.sf(chi2, bins - 1)),
                "ks_stat": float(ks.statistic),
                "ks_pvalue": float(ks.pvalue),
            }
        )
    return pd.DataFrame(rows)


def sbc_priors(X: Any, priors: Mapping | None = None) -> dict:
    """Fixed priors for SBC: the model's defaults (:func:`mlrbayes.priors.default_priors`)
    for a response of mean 0 and sd 1 at design ``X``, with ``priors`` merged over them.

    The package's default priors are scaled to the observed ``y``; SBC needs priors that do not
    depend on the simulated data, so they are fixed here once, from the design only.
    """
    from .priors import merge_priors

    Xa = np.asarray(X, dtype=float)
    sx = np.std(Xa, axis=0)
    sx = np.where(sx > 0, sx, 1.0)
    xbar = np.mean(Xa, axis=0)
    base = {
        "weights": {"alpha": 1.0},
        "intercept": {"mu": 0.0, "sigma": 5.0 * (1.0 + float(np.sum(np.abs(xbar) / sx)))},
        "coef": {"mu": 0.0, "sigma": 5.0 / sx},
        "sigma": {"sigma": 1.0},
    }
    return merge_priors(base, priors)


# ----------------------------------------------------------------------------- the loop
def _simulate_y(X, w, b, c, s, rng) -> np.ndarray:
    """One response from the mixture with parameters (K,), (K,), (K, p), (K,)."""
    z = rng.choice(len(w), size=X.shape[0], p=w / w.sum())
    return b[z] + np.sum(X * c[z], axis=1) + s[z] * rng.standard_normal(X.shape[0])


def _prior_draws(X, k, sigma, fit_intercept, priors, n_sims, seed) -> dict[str, np.ndarray]:
    """``n_sims`` parameter sets from the PyMC model's prior (``pm.sample_prior_predictive``):
    ``weights`` (S, K), ``intercept`` (S, K), ``coef`` (S, K, p), ``sigma`` (S, K)."""
    import pymc as pm

    from .bayes import build_model

    dummy = np.random.default_rng(seed).standard_normal(X.shape[0])  # priors are all given
    model = build_model(X, dummy, k, sigma=sigma, fit_intercept=fit_intercept, priors=priors)
    names = [v for v in ("weights", "intercept", "coef", "sigma") if v in model.named_vars]
    free = [v for v in names if v in {rv.name for rv in model.free_RVs}]
    prior = pm.sample_prior_predictive(draws=n_sims, model=model, var_names=free,
                                       random_seed=seed)["prior"]  # fmt: skip
    get = {v: np.asarray(prior[v]).reshape((n_sims, *np.shape(prior[v])[2:])) for v in free}
    out = {"weights": get["weights"], "coef": get["coef"]}
    out["intercept"] = get.get("intercept", np.zeros((n_sims, k)))
    if "sigma" in get:
        out["sigma"] = np.broadcast_to(get["sigma"].reshape(n_sims, -1), (n_sims, k)).copy()
    else:
        out["sigma"] = np.broadcast_to(np.asarray(sigma, dtype=float), (n_sims, k)).copy()
    return out


def _one_simulation(X, theta, k, sigma, fit_intercept, priors, opts, seed):
    """Simulate y from ``theta``, sample its posterior, return (truth, thinned draws, ndiv)."""
    from .bayes import sample_posterior
    from .posterior import PosteriorDraws

    rng = np.random.default_rng(seed)
    w, b, c, s = (theta[v] for v in ("weights", "intercept", "coef", "sigma"))
    y = _simulate_y(X, w, b, c, s, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # divergences are counted below
        tree = sample_posterior(
            X, y, k, sigma=sigma, fit_intercept=fit_intercept, priors=priors,
            draws=opts["draws"], tune=opts["tune"], chains=opts["chains"], cores=1,
            sampler="pymc", random_state=int(rng.integers(2**31 - 1)), progressbar=False,
            log_likelihood=False,
        )  # fmt: skip
    d = PosteriorDraws.from_datatree(tree)
    flat = [np.reshape(a, (-1, *a.shape[2:])) for a in (d.weights, d.intercept, d.coef, d.sigma)]
    keep = np.unique(np.linspace(0, flat[0].shape[0] - 1, opts["n_draws"]).round().astype(int))
    mode = opts["sigma_mode"]
    post = sbc_quantities(X, y, *(a[keep] for a in flat), sigma_mode=mode)
    truth = sbc_quantities(X, y, w, b, c, s, sigma_mode=mode)
    names = list(truth)
    draws = np.stack([np.broadcast_to(post[q], (keep.size,)) for q in names], axis=-1)
    ndiv = int(np.asarray(tree["sample_stats"]["diverging"]).sum())
    rhat = float(tree["posterior"].attrs.get("max_rhat", np.nan))
    return names, np.array([truth[q] for q in names], dtype=float), draws, ndiv, rhat


def _check_design(design: Any, n: int | None, rng) -> np.ndarray:
    if design is None:
        n = check_positive_int(n, "n")
        return rng.standard_normal((n, 1))
    X = np.asarray(design, dtype=float)
    X = X[:, None] if X.ndim == 1 else X
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"design must be a finite (n, p) array; got shape {X.shape}.")
    if n is not None and n != X.shape[0]:
        raise ValueError(f"n={n} but the design has {X.shape[0]} rows; pass one of them.")
    return X


def simulation_based_calibration(
    n_sims: int = 20,
    n: int | None = 50,
    K: int = 2,
    design: Any = None,
    *,
    sigma: Any = "shared",
    fit_intercept: bool = True,
    priors: Mapping | None = None,
    draws: int = 100,
    tune: int = 200,
    chains: int = 2,
    n_draws: int | None = None,
    bins: int | None = None,
    n_jobs: int = 1,
    random_state: Any = None,
    progressbar: bool | None = None,
) -> SBCResult:
    """Simulation-based calibration (Talts et al. 2018) of the PyMC model.

    For each of ``n_sims`` simulations: parameters from the model's prior
    (``pm.sample_prior_predictive`` of :func:`mlrbayes.bayes.build_model`), a response at
    the design from them, the posterior sampled by NUTS
    (:func:`mlrbayes.bayes.sample_posterior`, PyMC's sampler), thinned evenly to
    ``n_draws`` draws, and the rank of each label-invariant quantity
    (:func:`sbc_quantities`) of the true parameters among the draws.

    Parameters
    ----------
    n_sims : int, default 20
        Simulations. Small by default (a few minutes); 100-200 to see moderate problems.
    n : int or None, default 50
        Rows of the default design (one predictor, standard normal, drawn once).
    K : int, default 2
    design : array-like of shape (n, p), optional
        The predictors of every simulated data set (e.g. a user's X).
    sigma : "shared", "component" or a positive number, default "shared"
    fit_intercept : bool, default True
    priors : dict, optional
        Overrides of :func:`sbc_priors` (fixed priors; the package's data-scaled defaults
        cannot be used, as they would depend on the simulated data).
    draws, tune, chains : int, default 100, 200, 2
        Per posterior sample (small: SBC needs many samples, not long ones).
    n_draws : int, optional
        L, the draws ranks are taken over; default ``min(chains * draws, 99)``, thinned
        evenly (the ranks assume roughly independent draws; thin more if the chains mix
        slowly).
    bins : int, optional
        Chi-square bins of :func:`uniformity_tests`.
    n_jobs : int, default 1
        Processes over simulations (joblib); the result does not depend on it.
    random_state : int, Generator or None
    progressbar : bool, optional
        A bar over the simulations (stderr).

    Returns
    -------
    SBCResult
        Ranks, their uniformity tests and the truths. A small p-value (both tests are exact
        under uniformity) flags miscalibration of that quantity: a posterior too narrow
        (U-shaped ranks), too wide (hump) or biased (slope).

    Examples
    --------
    >>> from mlrbayes.sbc import simulation_based_calibration
    >>> res = simulation_based_calibration(20, 50, 2, random_state=0)  # doctest: +SKIP
    >>> print(res.summary())  # doctest: +SKIP
    >>> mlrbayes.plots.sbc_ranks(res)  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    n_sims = check_positive_int(n_sims, "n_sims")
    K = check_positive_int(K, "K")
    chains = check_positive_int(chains, "chains")
    draws = check_positive_int(draws, "draws")
    mode = sigma_setting(sigma)
    L = min(chains * draws, 99) if n_draws is None else check_positive_int(n_draws, "n_draws")
    if L > chains * draws:
        raise ValueError(f"n_draws={L} is more than chains * draws = {chains * draws}.")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all cores); got {n_jobs!r}.")
    ss = np.random.SeedSequence(
        random_state if random_state is None or isinstance(random_state, numbers.Integral)
        else np.random.default_rng(random_state).integers(2**63)
    )  # fmt: skip
    seeds = ss.spawn(n_sims + 4)  # design, prior, ranks' ties, tests' jitter, simulations
    X = _check_design(design, n, np.random.default_rng(seeds[0]))
    pri = sbc_priors(X, priors)
    prior_seed = int(np.random.default_rng(seeds[1]).integers(2**31 - 1))
    theta = _prior_draws(X, K, sigma, fit_intercept, pri, n_sims, prior_seed)
    opts = {"draws": draws, "tune": tune, "chains": chains, "n_draws": L,
            "sigma_mode": mode}  # fmt: skip
    args = [({v: a[i] for v, a in theta.items()}, seeds[4 + i]) for i in range(n_sims)]
    out = []
    with StartsProgress(n_sims, enabled=resolve_progressbar(progressbar), label="SBC") as bar:
        if n_jobs == 1:
            gen = (_one_simulation(X, th, K, sigma, fit_intercept, pri, opts, s) for th, s in args)
        else:
            from joblib import Parallel, delayed

            call = delayed(_one_simulation)
            gen = Parallel(n_jobs=n_jobs, return_as="generator")(
                call(X, th, K, sigma, fit_intercept, pri, opts, s) for th, s in args
            )
        for res in gen:
            out.append(res)
            bar.update(len(out))
    names = out[0][0]
    truths = np.stack([r[1] for r in out])
    draws_all = np.stack([r[2] for r in out])
    L = draws_all.shape[1]
    ranks = pd.DataFrame(rank_statistics(truths, draws_all, seeds[2]), columns=names)
    tests = uniformity_tests(ranks, L, bins=bins, random_state=seeds[3])
    settings = {"n": X.shape[0], "K": K, "sigma": sigma, "draws": draws, "tune": tune,
                "chains": chains, "random_state": random_state}  # fmt: skip
    return SBCResult(
        ranks=ranks,
        n_draws=L,
        tests=tests,
        truths=pd.DataFrame(truths, columns=names),
        n_divergent=np.array([r[3] for r in out]),
        priors=pri,
        max_rhat=np.array([r[4] for r in out], dtype=float),
        settings=settings,
        seconds=time.perf_counter() - t0,
    )
