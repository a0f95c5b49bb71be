r"""Confidence intervals for the parameters of an EM fit, one table per interval type.

:func:`confidence_intervals` is the one entry point: ``kind`` names the interval type and the
table says which type each row is, so tables of several types concatenate into one long table
(:func:`interval_table`; the shape :func:`mlrbayes.calibrate` and the report read).

Interval types (``INTERVAL_KINDS``), for the weights, intercepts, slopes and sigma:

* ``"wald"`` -- estimate :math:`\pm z` SE with the exact observed-information SEs of the fit
  (Louis 1982): right when the model is right and n is large.
* ``"wald_df"`` -- Wald with a degrees-of-freedom correction for sigma (below); other rows as
  ``"wald"``.
* ``"sandwich"`` -- estimate :math:`\pm z` robust SE from the Huber-White covariance
  :math:`A^{-1} B A^{-1}` of the observed-data log-likelihood (White 1982): :math:`A` the
  observed information (:func:`mlrbayes.uncertainty.observed_information`), :math:`B =
  \sum_i s_i s_i^\top` with :math:`s_i` the per-observation score
  (:func:`mlrbayes.uncertainty.observation_scores`). Equal to Wald in large samples when the
  model is right; still valid for the pseudo-true parameter when it is not (e.g. noise whose
  variance changes with x). The last weight's SE by the delta method
  (:math:`\pi_K = 1 - \sum_{k<K} \pi_k`).
* ``"bootstrap_percentile"`` and ``"bootstrap_bca"`` -- parametric bootstrap: ``n_boot``
  responses drawn from the fit at the user's X, each refitted with the fit's settings (starts
  include the estimate), components aligned to the estimate's labels
  (:mod:`mlrbayes.resample`). Percentile: the :math:`(1 \mp \text{level})/2` quantiles of the
  refits. BCa (Efron 1987): the quantiles at :math:`\Phi(z_0 + (z_0 + z_\alpha) / (1 - a (z_0 +
  z_\alpha)))` with bias correction :math:`z_0 = \Phi^{-1}(\#\{\theta^*_b < \hat\theta\} / B)`
  and acceleration :math:`a = \sum_i U_i^3 / (6 (\sum_i U_i^2)^{3/2})` from the empirical
  influence values :math:`U_i = (A^{-1} s_i)_j` of the estimate (the least-favourable-family
  form of Efron 1987, sec. 6; it needs no jackknife refits because the scores are analytic).
  Failed or degenerate refits (an error, a collapsed or emptied component, no convergence)
  are counted, excluded and reported in a :class:`IntervalWarning`.
* ``"profile"`` -- profile-likelihood intervals (Venzon & Moolgavkar 1988): for each scalar
  parameter the log-likelihood is maximised over all the others with that parameter held
  fixed (BFGS with the analytic gradient in an unconstrained parametrisation: weights by
  softmax, :math:`\log\sigma`; each evaluation warm-started from the maximiser at the
  nearest point already evaluated, the first from the estimate), and the bounds are where
  :math:`2(\hat\ell - \ell_p(\theta)) = \chi^2_1(\text{level})`, found by Brent's method after
  expanding a bracket from the estimate in steps of 1, 2, 4, ..., 128 Wald SEs (on the log
  scale for sigma, the logit scale for a weight). A bound not found within 128 SEs (or a
  weight's profile that never rises that far before 0 or 1) is NaN, with a warning. The
  profile of a mixture runs over every labelling: when the maximiser at a bound matches the
  estimate only after swapping components (overlapping lines, or weights near each other),
  the bound is kept and a warning says that the labelled interval is unreliable there.

**Sigma's small-sample bias.** The ML sigma divides the residual sum of squares by the number
of observations and is biased down: for one component, :math:`E\hat\sigma^2 = \sigma^2 (n - q)
/ n` with :math:`q` coefficients per line. ``"wald_df"`` replaces :math:`\hat\sigma_k` by
:math:`\hat\sigma_k \sqrt{n_k / (n_k - q)}` and scales its SE by the same factor, where
:math:`n_k = \sum_i \gamma_{ik}` is the component's effective number of observations
(per-component sigma) or :math:`n_k = n` and :math:`q = K \times` (coefficients per line)
(shared sigma). It is the usual unbiased residual variance when K = 1 and, with
well-separated components (memberships 0 or 1), each component's own; overlapping components
lose more information than the count of coefficients says, so it corrects only part of the
bias there (the calibration study shows how much, at the user's n).

References: T. A. Louis (1982), *JRSS B* 44, 226-233; H. White (1982), "Maximum likelihood
estimation of misspecified models", *Econometrica* 50, 1-25; B. Efron (1987), "Better bootstrap
confidence intervals", *JASA* 82, 171-185; H. Venzon & S. Moolgavkar (1988), "A method for
computing profile-likelihood-based confidence intervals", *Applied Statistics* 37, 87-94.
"""

from __future__ import annotations

import os
import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ._validation import check_positive_int, check_random_state
from .likelihood import mixture_loglik
from .params import flatten
from .spec import as_dataset
from .uncertainty import free_param_names, observation_scores, observed_information

__all__ = [
    "INTERVAL_COLUMNS", "INTERVAL_KINDS", "IntervalWarning", "confidence_intervals",
    "interval_table",
]  # fmt: skip

#: Columns of every interval table, in order.
INTERVAL_COLUMNS = ("parameter", "interval", "level", "estimate", "lower", "upper")

#: Interval types :func:`confidence_intervals` offers.
INTERVAL_KINDS = (
    "wald", "wald_df", "sandwich", "bootstrap_percentile", "bootstrap_bca", "profile",
)  # fmt: skip

_BOOT_OPTIONS = ("n_boot", "n_init", "n_jobs", "random_state", "progressbar")
#: Options each interval type accepts.
_OPTIONS = {kind: _BOOT_OPTIONS if kind.startswith("bootstrap") else () for kind in INTERVAL_KINDS}
#: Smallest eigenvalue, relative to the largest, of a unit-diagonal information still inverted.
_RCOND = 1e-12
#: The profile's bracket expands to at most 2**_PROFILE_DOUBLINGS Wald SEs from the estimate.
_PROFILE_DOUBLINGS = 7
#: Fewest successful bootstrap refits for which bounds are reported.
_MIN_BOOT = 10


class IntervalWarning(UserWarning):
    """An interval could not be computed as asked: a singular information matrix, failed
    bootstrap refits (excluded), or a profile bound not found in the searched range."""


# ---------------------------------------------------------------------------- shared pieces
def _check_level(level: Any) -> float:
    try:
        lv = float(level)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"level must be a number in (0, 1); got {level!r}.") from exc
    if not 0.0 < lv < 1.0:
        raise ValueError(f"level={level!r} is not in (0, 1); pass e.g. 0.95.")
    return lv


def _estimates(em) -> np.ndarray:
    return flatten(
        em.weights,
        em.intercept,
        em.coef,
        em.sigma,
        fit_intercept=em.fit_intercept,
        sigma_setting=em.sigma_setting,
    )


def _table(names, kind, level, est, lower, upper) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "parameter": list(names),
            "interval": kind,
            "level": level,
            "estimate": np.asarray(est, dtype=float),
            "lower": np.asarray(lower, dtype=float),
            "upper": np.asarray(upper, dtype=float),
        },
        columns=list(INTERVAL_COLUMNS),
    )


def _model_kwargs(em) -> dict[str, Any]:
    return {"fit_intercept": em.fit_intercept, "sigma_setting": em.sigma_setting}


def _params(em) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    return em.weights, em.intercept, em.coef, em.sigma


def _data(em, X: Any, y: Any, kind: str):
    """The checked data ``em`` was fitted to (the plain model only)."""
    if X is None:
        raise ValueError(
            f"kind={kind!r} needs the data the model was fitted to; pass X and y (or a Dataset)."
        )
    data = as_dataset(X, y)
    if not data.is_plain:
        raise ValueError(
            f"kind={kind!r} supports the plain mixture of regressions only; the data carry "
            "gating covariates, fixed predictors, groups or weights: use kind='wald'."
        )
    if data.n_samples != em.n_samples or data.n_features != em.n_features:
        raise ValueError(
            f"the data have shape ({data.n_samples}, {data.n_features}) but the fit was made on "
            f"({em.n_samples}, {em.n_features}); pass the X and y the model was fitted to."
        )
    return data


def _free_to_full(em) -> tuple[np.ndarray, int]:
    """Index of each full parameter (``param_names`` order) in the free vector; -1 for the
    last weight (fixed by the others). Returns ``(index, d_free)``."""
    free = free_param_names(em.n_components, em.feature_names, **_model_kwargs(em))
    pos = {name: i for i, name in enumerate(free)}
    return np.array([pos.get(name, -1) for name in em.param_names()]), len(free)


def _full_se(em, cov: np.ndarray | None) -> np.ndarray:
    """SEs of every parameter from a covariance of the free parameters; the last weight's by
    the delta method (0 when K = 1)."""
    idx, _ = _free_to_full(em)
    if cov is None:
        return np.full(idx.shape, np.nan)
    var = np.diag(cov)
    k = em.n_components
    last = float(np.sum(cov[: k - 1, : k - 1])) if k > 1 else 0.0
    var_full = np.where(idx >= 0, var[np.maximum(idx, 0)], last)
    with np.errstate(invalid="ignore"):
        return np.where(var_full >= 0, np.sqrt(np.abs(var_full)), np.nan)


def _inverse(info: np.ndarray) -> np.ndarray | None:
    """Inverse of a symmetric positive definite matrix, or None (with a warning)."""
    diag = np.diag(info) if info.size else np.ones(0)
    if info.size == 0:
        return np.zeros((0, 0))
    if not np.all(np.isfinite(info)) or np.any(diag <= 0):
        reason = "it has non-finite entries or a non-positive diagonal"
    else:
        scale = 1.0 / np.sqrt(diag)
        corr = info * np.outer(scale, scale)
        vals, vecs = np.linalg.eigh(0.5 * (corr + corr.T))
        if vals[0] > _RCOND * vals[-1]:
            return (vecs / vals) @ vecs.T * np.outer(scale, scale)
        reason = f"its smallest relative eigenvalue is {vals[0] / vals[-1]:.3g}"
    warnings.warn(
        f"the observed information is singular or not positive definite ({reason}); the "
        "sandwich and BCa quantities that need its inverse are NaN. Check for an emptied or "
        "collapsed component or a constant predictor.",
        IntervalWarning,
        stacklevel=4,
    )
    return None


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2.0))


# ---------------------------------------------------------------------------- Wald types
def _wald(em, level: float, *, df_correction: bool = False) -> pd.DataFrame:
    se = em.standard_errors
    se_flat = flatten(
        se["weights"],
        se.get("intercept", np.zeros(em.n_components)),
        se["coef"],
        se.get("sigma", 0.0),
        fit_intercept=em.fit_intercept,
        sigma_setting=em.sigma_setting,
    )
    est = _estimates(em)
    kind = "wald"
    if df_correction:
        kind = "wald_df"
        factor = _sigma_df_factor(em)
        est, se_flat = est * factor, se_flat * factor
    z = _z(level)
    return _table(em.param_names(), kind, level, est, est - z * se_flat, est + z * se_flat)


def _sigma_df_factor(em) -> np.ndarray:
    """Per-parameter factor: ``sqrt(n_k / (n_k - q))`` on sigma rows, 1 elsewhere."""
    factor = np.ones(len(em.param_names()))
    k = em.n_components
    q = em.n_features + (1 if em.fit_intercept else 0)
    if em.sigma_setting == "shared":
        n = float(em.n_samples)
        factor[-1] = np.sqrt(n / (n - k * q)) if n > k * q else np.nan
    elif em.sigma_setting == "component":
        nk = np.asarray(em.responsibilities, dtype=float).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor[-k:] = np.where(nk > q, np.sqrt(nk / (nk - q)), np.nan)
    return factor


# ---------------------------------------------------------------------------- sandwich
def _sandwich_parts(em, data) -> tuple[np.ndarray | None, np.ndarray]:
    """``(A^{-1}, scores)``: inverse observed information (None if singular), scores (n, d)."""
    info = observed_information(data, None, *_params(em), **_model_kwargs(em))
    scores = observation_scores(data, None, *_params(em), **_model_kwargs(em))
    return _inverse(info), scores


def _sandwich(em, data, level: float) -> pd.DataFrame:
    a_inv, scores = _sandwich_parts(em, data)
    cov = None if a_inv is None else a_inv @ (scores.T @ scores) @ a_inv
    se = _full_se(em, cov)
    est = _estimates(em)
    z = _z(level)
    return _table(em.param_names(), "sandwich", level, est, est - z * se, est + z * se)


# ---------------------------------------------------------------------------- bootstrap
def _n_jobs(n_jobs: Any) -> int:
    cores = os.cpu_count() or 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise ValueError(f"n_jobs must be -1 (all cores) or a positive integer; got {n_jobs!r}.")
    if n_jobs < 0:
        return max(1, cores + 1 + int(n_jobs))
    return min(int(n_jobs), cores)


def _one_refit(em, data, rng, n_init: int) -> tuple[np.ndarray | None, str]:
    """One bootstrap replication: ``(parameters in param_names order, "")`` or ``(None, why)``."""
    from .em.result import ConvergenceWarning
    from .resample import refit, simulate_response

    y_star = simulate_response(em, data, rng)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = refit(em, data, y_star, n_init=n_init, random_state=rng, compute_se=False)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            return None, f"error ({type(exc).__name__})"
    if res.degenerate:
        return None, "degenerate"
    if not res.converged or any(issubclass(w.category, ConvergenceWarning) for w in caught):
        return None, "not converged"
    est = _estimates(res)
    if not np.all(np.isfinite(est)):
        return None, "non-finite"
    return est, ""


def _bootstrap_draws(em, data, *, n_boot: int = 200, n_init: int = 3, n_jobs: int = -1,
                     random_state: Any = None, progressbar: bool | None = None):  # fmt: skip
    """(B_ok, n_params) refitted parameters of the successful replications, in seed order."""
    from .progress import StartsProgress, resolve_progressbar

    n_boot = check_positive_int(n_boot, "n_boot", minimum=2)
    n_init = check_positive_int(n_init, "n_init")
    jobs = _n_jobs(n_jobs)
    rngs = check_random_state(random_state).spawn(n_boot)
    show = resolve_progressbar(progressbar)
    results: list[tuple[np.ndarray | None, str]] = []
    with StartsProgress(n_boot, enabled=show, label="bootstrap") as bar:
        if jobs == 1:
            stream = (_one_refit(em, data, rng, n_init) for rng in rngs)
        else:
            import joblib

            par = joblib.Parallel(n_jobs=jobs, return_as="generator")
            stream = par(joblib.delayed(_one_refit)(em, data, rng, n_init) for rng in rngs)
        for out in stream:
            results.append(out)
            bar.update(len(results))
    reasons = [why for _, why in results if why]
    if reasons:
        counts = pd.Series(reasons).value_counts()
        detail = ", ".join(f"{c} {r}" for r, c in counts.items())
        warnings.warn(
            f"{len(reasons)} of {n_boot} bootstrap refits failed and were excluded ({detail}); "
            "the bounds use the other refits.",
            IntervalWarning,
            stacklevel=4,
        )
    ok = [draw for draw, why in results if not why]
    return np.array(ok).reshape(len(ok), len(em.param_names()))


def _acceleration(em, data) -> np.ndarray:
    """BCa acceleration per parameter from the empirical influence values ``A^{-1} s_i``."""
    a_inv, scores = _sandwich_parts(em, data)
    idx, _ = _free_to_full(em)
    if a_inv is None:
        return np.full(idx.shape, np.nan)
    infl_free = scores @ a_inv  # (n, d): influence of each observation on each free parameter
    k = em.n_components
    last = -infl_free[:, : k - 1].sum(axis=1) if k > 1 else np.zeros(len(scores))
    infl = np.where(idx >= 0, infl_free[:, np.maximum(idx, 0)], last[:, None])
    ss = np.sum(infl**2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss > 0, np.sum(infl**3, axis=0) / (6.0 * ss**1.5), 0.0)


def _bootstrap(em, data, level: float, kind: str, draws: np.ndarray) -> pd.DataFrame:
    """Percentile or BCa bounds from the refits ``draws`` (B_ok, n_params)."""
    est = _estimates(em)
    names = em.param_names()
    nan = np.full(len(names), np.nan)
    if len(draws) < _MIN_BOOT:
        warnings.warn(
            f"only {len(draws)} bootstrap refits succeeded (fewer than {_MIN_BOOT}); the "
            f"{kind} bounds are NaN. Increase n_boot or check the fit.",
            IntervalWarning,
            stacklevel=3,
        )
        return _table(names, kind, level, est, nan, nan)
    alpha = np.array([0.5 - level / 2.0, 0.5 + level / 2.0])
    if kind == "bootstrap_percentile":
        lo, hi = np.quantile(draws, alpha, axis=0)
        return _table(names, kind, level, est, lo, hi)
    below = np.mean(draws < est, axis=0) + 0.5 * np.mean(draws == est, axis=0)
    z0 = stats.norm.ppf(below)
    acc = _acceleration(em, data)
    za = stats.norm.ppf(alpha)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        den = 1.0 - acc * (z0 + za)  # <= 0: the adjusted level would wrap round
        adj = np.where(den > 0, stats.norm.cdf(z0 + (z0 + za) / den), np.nan)  # (2, P)
    bad = [n for n, ok in zip(names, np.all(np.isfinite(adj), axis=0), strict=True) if not ok]
    if bad:
        warnings.warn(
            f"the BCa bounds of {bad} are NaN: every bootstrap estimate lies on one side of the "
            "estimate (infinite bias correction) or the acceleration is too large for the "
            "level; use the percentile bounds or more replications.",
            IntervalWarning,
            stacklevel=3,
        )
    lo, hi = np.full(len(names), np.nan), np.full(len(names), np.nan)
    for j in np.flatnonzero(np.all(np.isfinite(adj), axis=0)):
        lo[j], hi[j] = np.quantile(draws[:, j], adj[:, j])
    return _table(names, kind, level, est, lo, hi)


# ---------------------------------------------------------------------------- profile
class _Profile:
    """Log-likelihood maximised over all parameters but one (held at a given value).

    Working (unconstrained) coordinates: the weights' logits against a reference component,
    the intercepts and slopes, and log sigma. Profiling parameter ``j`` of ``param_names``
    fixes its value; for a weight :math:`\\pi_m = v` the others are ``(1 - v)`` times a softmax
    of K - 2 free logits.
    """

    def __init__(self, em, data) -> None:
        self.X, self.y = data.X, data.y
        self.k, self.p = em.n_components, em.n_features
        self.kw = _model_kwargs(em)
        self.w, self.b, self.c = (np.asarray(a, dtype=float) for a in _params(em)[:3])
        self.s = np.atleast_1d(np.asarray(em.sigma, dtype=float))
        self.n_sig = {"known": 0, "shared": 1, "component": self.k}[em.sigma_setting]
        self.n_params = len(em.param_names())
        self.reference = em
        self.loglik_hat = float(mixture_loglik(self.X, self.y, self.w, self.b, self.c, self.s))

    def _split(self, rest: np.ndarray):
        """Intercepts, slopes and sigma from the non-weight working coordinates."""
        k, p = self.k, self.p
        pos = 0
        b = np.zeros(k)
        if self.kw["fit_intercept"]:
            b, pos = rest[:k], k
        c = rest[pos : pos + k * p].reshape(k, p)
        pos += k * p
        s = np.exp(rest[pos:]) if self.n_sig else self.s
        return b, c, s

    def working_hat(self) -> np.ndarray:
        """Non-weight working coordinates at the estimate."""
        parts = [self.b] if self.kw["fit_intercept"] else []
        parts += [self.c.ravel(), np.log(self.s[: self.n_sig])]
        return np.concatenate(parts)

    def unpack(self, phi: np.ndarray, j: int, value: float):
        """Natural parameters ``(w, b, c, s)`` from the free coordinates ``phi``."""
        k = self.k
        if j < k:  # weight j held at value; the others share 1 - value by a softmax
            others = [m for m in range(k) if m != j]
            eta = np.r_[phi[: k - 2], 0.0] if k > 1 else np.zeros(0)
            w = np.empty(k)
            w[j] = value
            if k > 1:
                e = np.exp(eta - eta.max())
                w[others] = (1.0 - value) * e / e.sum()
            return (w, *self._split(phi[max(k - 2, 0) :]))
        eta = np.r_[phi[: k - 1], 0.0]
        e = np.exp(eta - eta.max())
        working = np.log(value) if j >= self.n_params - self.n_sig else value
        rest = np.insert(phi[k - 1 :], j - k, working)
        return (e / e.sum(), *self._split(rest))

    def neg_loglik(self, phi: np.ndarray, j: int, value: float) -> tuple[float, np.ndarray]:
        """Minus the log-likelihood and its gradient in the free coordinates."""
        w, b, c, s = self.unpack(phi, j, value)
        nat = (w, b, c, s)
        ll = float(mixture_loglik(self.X, self.y, *nat))
        if not np.isfinite(ll):
            return np.inf, np.zeros_like(phi)
        g = observation_scores(self.X, self.y, *nat, **self.kw).sum(axis=0)
        k = self.k
        diff = np.r_[g[: k - 1], 0.0]  # d loglik / d pi_m - d loglik / d pi_K
        softmaxed = [m for m in range(k) if m != j] if j < k else list(range(k))
        share = w[softmaxed] / w[softmaxed].sum()
        d_eta = w[softmaxed] * (diff[softmaxed] - share @ diff[softmaxed])
        rest = g[k - 1 :].copy()
        if self.n_sig:
            rest[-self.n_sig :] *= s[: self.n_sig]  # d / d log sigma
        if j >= k:
            rest = np.delete(rest, j - k)
        return -ll, -np.r_[d_eta[:-1], rest]

    def start(self, j: int) -> np.ndarray:
        """Free coordinates at the estimate when parameter ``j`` is profiled."""
        k = self.k
        lw = np.log(self.w)
        if j < k:
            others = [m for m in range(k) if m != j]
            eta = lw[others][:-1] - lw[others][-1] if k > 1 else np.zeros(0)
            return np.r_[eta, self.working_hat()]
        rest = np.delete(self.working_hat(), j - k)
        return np.r_[lw[: k - 1] - lw[k - 1], rest]

    def profile(self, j: int, value: float, phi0: np.ndarray) -> tuple[float, np.ndarray]:
        """``(max loglik with parameter j = value, the maximiser)``."""
        if phi0.size == 0:
            return -self.neg_loglik(phi0, j, value)[0], phi0
        res = optimize.minimize(
            self.neg_loglik, phi0, args=(j, value), jac=True, method="BFGS",
            options={"gtol": 1e-7, "maxiter": 2000},
        )  # fmt: skip
        return -float(res.fun), res.x


def _working_scale(name: str, est: float, se: float):
    """``(t_hat, step, to_value)`` for the bracket search of one parameter."""
    if name.startswith("weights"):
        t = np.log(est / (1.0 - est))
        step = se / (est * (1.0 - est))
        return t, step, lambda u: 1.0 / (1.0 + np.exp(-u))
    if name.startswith("sigma"):
        return np.log(est), se / est, np.exp
    return est, se, lambda u: u


def _profile_bound(prof: _Profile, j: int, name: str, est: float, se: float, side: int,
                   crit: float) -> float:  # fmt: skip
    t_hat, step, to_value = _working_scale(name, est, se)
    if not (np.isfinite(step) and step > 0):
        step = 0.1 * max(abs(t_hat), 1.0)
    # Each evaluation starts from the maximiser at the nearest point already evaluated, and
    # values are memoised, so brentq sees the very values that bracketed the root.
    seen: dict[float, tuple[float, np.ndarray]] = {t_hat: (-crit, prof.start(j))}

    def f(t: float) -> float:
        if t not in seen:
            near = min(seen, key=lambda u: abs(u - t))
            ll, phi = prof.profile(j, float(to_value(t)), seen[near][1])
            seen[t] = (2.0 * (prof.loglik_hat - ll) - crit, phi)
        return seen[t][0]

    inner = t_hat
    for m in range(_PROFILE_DOUBLINGS + 1):
        outer = t_hat + side * step * 2.0**m
        value = float(to_value(outer))
        if name.startswith("weights") and not 0.0 < value < 1.0:
            break
        if f(outer) > 0:
            root = optimize.brentq(f, inner, outer, xtol=1e-12, rtol=1e-14)
            bound = float(to_value(root))
            _check_labels(prof, j, name, bound, seen[min(seen, key=lambda u: abs(u - root))][1])
            return bound
        inner = outer
    warnings.warn(
        f"the {'upper' if side > 0 else 'lower'} profile-likelihood bound of {name} was not "
        f"found within {2**_PROFILE_DOUBLINGS} standard errors of the estimate (the profile "
        "is too flat there); it is NaN.",
        IntervalWarning,
        stacklevel=4,
    )
    return float("nan")


def _check_labels(prof: _Profile, j: int, name: str, bound: float, phi: np.ndarray) -> None:
    """Warn when the maximiser at a profile bound has the estimate's components relabelled."""
    if prof.k == 1:
        return
    from .resample import align_to

    _, phi = prof.profile(j, bound, phi)
    w, b, c, s = prof.unpack(phi, j, bound)
    at_bound = SimpleNamespace(n_components=prof.k, weights=w, intercept=b, coef=c, sigma=s)
    if np.any(align_to(at_bound, prof.reference) != np.arange(prof.k)):
        warnings.warn(
            f"the profile-likelihood bound {bound:.4g} of {name} lies where the components "
            "have swapped roles (the maximiser there matches the estimate only after "
            "relabelling): the components overlap too much for a labelled interval; read it "
            "with care or use the bootstrap.",
            IntervalWarning,
            stacklevel=5,
        )


def _profile(em, data, level: float) -> pd.DataFrame:
    prof = _Profile(em, data)
    names = em.param_names()
    est = _estimates(em)
    se = _wald(em, level)
    se = (se["upper"].to_numpy() - se["lower"].to_numpy()) / (2.0 * _z(level))
    crit = float(stats.chi2.ppf(level, 1))
    lo, hi = np.empty(len(names)), np.empty(len(names))
    for j, name in enumerate(names):
        if em.n_components == 1 and j == 0:  # the one weight is 1, not a parameter
            lo[j] = hi[j] = 1.0
            continue
        lo[j] = _profile_bound(prof, j, name, est[j], se[j], -1, crit)
        hi[j] = _profile_bound(prof, j, name, est[j], se[j], +1, crit)
    return _table(names, "profile", level, est, lo, hi)


# ---------------------------------------------------------------------------- entry points
def confidence_intervals(em, X: Any = None, y: Any = None, *, kind: str = "wald",
                         level: float = 0.95, **options: Any) -> pd.DataFrame:  # fmt: skip
    """Confidence intervals for every parameter of ``em``.

    Parameters
    ----------
    em : EMResult
        The fit.
    X : array-like of shape (n_samples, n_features), or Dataset, optional
        The data ``em`` was fitted to; needed by every type but ``"wald"`` and ``"wald_df"``,
        which read the fit's SEs only.
    y : array-like of shape (n_samples,), optional
        The response (None with a Dataset).
    kind : str
        One of :data:`INTERVAL_KINDS` (see the module docstring).
    level : float
        Nominal coverage, in (0, 1).
    **options
        Bootstrap types only: ``n_boot`` (replications, default 200), ``n_init`` (EM starts
        per refit, the first at the estimate; default 3), ``n_jobs`` (processes, default -1:
        every core, at most ``os.cpu_count()``), ``random_state`` (seed; the replications are
        seeded by ``Generator.spawn``, so results do not depend on ``n_jobs``) and
        ``progressbar`` (as in :func:`mlrbayes.fit_em`).

    Returns
    -------
    pandas.DataFrame
        One row per parameter (in :meth:`EMResult.param_names` order) with the columns of
        :data:`INTERVAL_COLUMNS`. Bounds are NaN where they are unavailable (a warning says
        why).

    Warns
    -----
    IntervalWarning
        Singular information, failed bootstrap refits (excluded), a profile bound not found.

    Examples
    --------
    >>> import mlrbayes as mb
    >>> X, y, _ = mb.simulate(300, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=1)
    >>> em = mb.fit_em(X, y, 2, sigma="shared", random_state=0)
    >>> tab = confidence_intervals(em, X, y, kind="sandwich")
    >>> list(tab.columns)
    ['parameter', 'interval', 'level', 'estimate', 'lower', 'upper']
    >>> bool((tab["lower"] < tab["estimate"]).all() and (tab["estimate"] < tab["upper"]).all())
    True
    """
    lv = _check_level(level)
    if kind not in INTERVAL_KINDS:
        raise ValueError(f"kind={kind!r} is not one of {list(INTERVAL_KINDS)}.")
    unknown = sorted(set(options) - set(_OPTIONS[kind]))
    if unknown:
        allowed = list(_OPTIONS[kind]) or "none"
        raise TypeError(f"kind={kind!r} does not take {unknown}; its options: {allowed}.")
    if kind in ("wald", "wald_df"):
        return _wald(em, lv, df_correction=kind == "wald_df")
    data = _data(em, X, y, kind)
    if kind == "sandwich":
        return _sandwich(em, data, lv)
    if kind == "profile":
        return _profile(em, data, lv)
    return _bootstrap(em, data, lv, kind, _bootstrap_draws(em, data, **options))


def interval_table(em, X: Any = None, y: Any = None, *,
                   kinds: tuple[str, ...] = ("wald", "sandwich", "profile"),
                   level: float = 0.95, **options: Any) -> pd.DataFrame:  # fmt: skip
    """Intervals of several types in one long table (the rows of each type in turn).

    Parameters
    ----------
    em, X, y, level
        As in :func:`confidence_intervals`.
    kinds : tuple of str
        Interval types, each in :data:`INTERVAL_KINDS`.
    **options
        Passed to the types that take them. With both bootstrap types, one set of refits
        serves both (the same as each alone with the same ``random_state``).

    Returns
    -------
    pandas.DataFrame
        ``len(kinds) * n_params`` rows with the columns of :data:`INTERVAL_COLUMNS`.
    """
    if isinstance(kinds, str) or not kinds:
        raise TypeError(f"kinds must be a non-empty tuple of interval types; got {kinds!r}.")
    for kind in kinds:
        if kind not in INTERVAL_KINDS:
            raise ValueError(f"kind={kind!r} is not one of {list(INTERVAL_KINDS)}.")
    used = {name for kind in kinds for name in _OPTIONS[kind]}
    unknown = sorted(set(options) - used)
    if unknown:
        raise TypeError(f"no interval type in {list(kinds)} takes {unknown}.")
    lv = _check_level(level)
    boot = [kind for kind in kinds if kind.startswith("bootstrap")]
    draws = None
    if len(boot) > 1:  # one set of refits serves both bootstrap types
        data = _data(em, X, y, boot[0])
        draws = _bootstrap_draws(em, data, **options)
    tables = []
    for kind in kinds:
        if draws is not None and kind in boot:
            tables.append(_bootstrap(em, data, lv, kind, draws))
            continue
        own = {key: val for key, val in options.items() if key in _OPTIONS[kind]}
        tables.append(confidence_intervals(em, X, y, kind=kind, level=lv, **own))
    return pd.concat(tables, ignore_index=True)
