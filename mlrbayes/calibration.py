"""Calibration study from a user's own fit: which intervals can be trusted at this n.

:func:`calibrate` treats a fitted model as the truth, simulates ``R`` data sets of the user's
size at the user's design ``X`` (:func:`mlrbayes.resample.simulate_response`), refits each with
the user's model settings, gives the refit's components the truth's labels
(:func:`mlrbayes.resample.align_to`), computes every requested interval type
(:func:`mlrbayes.intervals.confidence_intervals`) and counts how often each interval covers the
true (fitted) value. Optionally a few replications also get a small PyMC posterior, whose
highest-density credible intervals are counted the same way.

Each replication is seeded by its own child of ``numpy.random.SeedSequence(seed).spawn(R)``,
so the table does not depend on how many processes ran it (``n_jobs``).

Coverage is a binomial proportion: its Monte Carlo error is ``sqrt(c (1 - c) / R_used)``.
An interval type is *calibrated* for a parameter when its coverage is within
``max(0.02, 2 sqrt(level (1 - level) / R_used))`` of the nominal level (0.02, or two Monte
Carlo errors at the nominal level when ``R_used`` is too small to resolve 0.02).
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .em.fit import fit_em
from .intervals import INTERVAL_KINDS, confidence_intervals
from .params import flatten
from .progress import StartsProgress, resolve_progressbar
from .resample import align_to, fit_settings, simulate_response
from .spec import Dataset, as_dataset

__all__ = [
    "CALIBRATION_COLUMNS",
    "CHEAP_KINDS",
    "COVERAGE_TOLERANCE_MC",
    "COVERAGE_TOLERANCE_MIN",
    "CalibrationResult",
    "aligned_index",
    "calibrate",
    "calibration_tolerance",
    "fit_overlap",
]

#: Columns of :attr:`CalibrationResult.table`, in order.
CALIBRATION_COLUMNS = (
    "parameter", "interval", "level", "coverage", "mc_error", "bias", "se_over_sd", "n_used",
    "truth", "mean_estimate", "sd_estimate", "mean_se",
)  # fmt: skip

#: Interval types computed by default (no refitting inside an interval); bootstrap intervals
#: nest R x B refits and are computed only when asked for.
CHEAP_KINDS = ("wald", "wald_df", "sandwich")

#: Relative cost of the interval families, cheapest first (used to prefer one when several
#: are calibrated); an unknown family ranks after these.
_COST = {"wald": 0, "sandwich": 1, "profile": 2, "bootstrap": 3, "posterior": 4}

#: A coverage within ``max(COVERAGE_TOLERANCE_MIN, COVERAGE_TOLERANCE_MC * MC error)`` of the
#: level counts as calibrated (:func:`calibration_tolerance`).
COVERAGE_TOLERANCE_MIN = 0.02
COVERAGE_TOLERANCE_MC = 2.0

#: Overlap and weak-component thresholds used to explain a miss.
OVERLAP_MAX_RESP = 0.9
WEAK_WEIGHT = 0.1

_COMPONENT_NAME = re.compile(r"^(weights|intercept|sigma)\[(\d+)\]$")
_COEF_NAME = re.compile(r"^coef\[(\d+),(.*)\]$", re.DOTALL)


# ----------------------------------------------------------------------------- helpers
def calibration_tolerance(level: float, n_used: Any) -> np.ndarray:
    """Allowed distance of a coverage from ``level``: ``max(0.02, 2 sqrt(level(1-level)/n))``
    (:data:`COVERAGE_TOLERANCE_MIN`, :data:`COVERAGE_TOLERANCE_MC`).

    Parameters
    ----------
    level : float
    n_used : int or array-like of int
        Replications behind each coverage.

    Returns
    -------
    ndarray
        Same shape as ``n_used``; ``inf`` where ``n_used`` is 0.
    """
    n = np.asarray(n_used, dtype=float)
    with np.errstate(divide="ignore"):
        mc = COVERAGE_TOLERANCE_MC * np.sqrt(level * (1.0 - level) / n)
    return np.maximum(COVERAGE_TOLERANCE_MIN, mc)


def _truth(em) -> np.ndarray:
    return flatten(em.weights, em.intercept, em.coef, em.sigma,
                   fit_intercept=em.fit_intercept, sigma_setting=em.sigma_setting)  # fmt: skip


def aligned_index(names: list[str], perm: np.ndarray) -> np.ndarray:
    """Positions in ``names`` order of a refit's parameters once relabelled by ``perm``.

    ``perm[j]`` is the refit component that becomes component ``j``; ``values[idx]`` turns a
    vector in the refit's labels into one in the reference's labels.
    """
    pos = {name: i for i, name in enumerate(names)}
    idx = np.empty(len(names), dtype=np.intp)
    for i, name in enumerate(names):
        m = _COMPONENT_NAME.match(name)
        c = _COEF_NAME.match(name)
        if m:
            src = f"{m[1]}[{perm[int(m[2])]}]"
        elif c:
            src = f"coef[{perm[int(c[1])]},{c[2]}]"
        else:  # shared sigma: no component axis
            src = name
        idx[i] = pos[src]
    return idx


def _cost(name: str) -> int:
    return _COST.get(name.split("_")[0], len(_COST))


def _check_kinds(kinds: Any) -> tuple[str, ...]:
    if kinds is None:
        return tuple(k for k in INTERVAL_KINDS if k in CHEAP_KINDS)
    if isinstance(kinds, str):
        kinds = (kinds,)
    out = tuple(kinds)
    bad = [k for k in out if k not in INTERVAL_KINDS]
    if bad or not out:
        raise ValueError(
            f"kinds={list(out)!r}: each must be one of {list(INTERVAL_KINDS)} (at least one)."
        )
    return tuple(dict.fromkeys(out))


def _seed_sequence(random_state: Any) -> tuple[np.random.SeedSequence, int]:
    """The root SeedSequence and the integer seed recorded in the result."""
    if isinstance(random_state, np.random.Generator):
        seed = int(random_state.integers(2**32))
    elif random_state is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    elif isinstance(random_state, int | np.integer) and not isinstance(random_state, bool):
        seed = int(random_state)
        if seed < 0:
            raise ValueError(f"random_state={random_state!r} must be >= 0.")
    else:
        raise TypeError(
            f"random_state must be an int, a numpy Generator or None; got {random_state!r}."
        )
    return np.random.SeedSequence(seed), seed


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}.")
    return int(value)


# ----------------------------------------------------------------------------- one replication
@dataclass(frozen=True)
class _Job:
    """Everything a replication needs (pickled once per worker task)."""

    em: Any
    data: Dataset
    kinds: tuple[str, ...]
    level: float
    n_init: int
    fit_kwargs: dict[str, Any]
    interval_options: dict[str, dict[str, Any]]
    posterior: dict[str, Any] | None


@dataclass
class _Rep:
    """Outcome of one replication, in the truth's labels."""

    ok: bool = False
    failure: str = ""
    estimate: np.ndarray | None = None
    bounds: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    posterior: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    warnings: tuple[str, ...] = ()
    interval_errors: tuple[str, ...] = ()


def _interval_bounds(job: _Job, raw, data: Dataset, idx: np.ndarray, names: list[str], rep: _Rep):
    for kind in job.kinds:
        try:
            tab = confidence_intervals(raw, data, None, kind=kind, level=job.level,
                                       **job.interval_options.get(kind, {}))  # fmt: skip
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            rep.interval_errors += (f"{kind}: {' '.join(str(exc).split())}",)
            continue
        for name, part in tab.groupby("interval", sort=False):
            part = part.set_index("parameter").reindex(names)
            lo = part["lower"].to_numpy(dtype=float)[idx]
            hi = part["upper"].to_numpy(dtype=float)[idx]
            rep.bounds[str(name)] = (lo, hi)


def _run_replication(job: _Job, seed: np.random.SeedSequence, with_posterior: bool) -> _Rep:
    """Simulate, refit (start 0 at the truth), align, and compute every interval."""
    sim_ss, fit_ss, post_ss = seed.spawn(3)
    em, rep = job.em, _Rep()
    names = em.param_names()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            y = simulate_response(em, job.data, random_state=np.random.default_rng(sim_ss))
            data = job.data.with_response(y)
            settings = {**fit_settings(em), **job.fit_kwargs, "progressbar": False}
            raw = fit_em(data, None, em.n_components, init=em, n_init=job.n_init,
                         random_state=np.random.default_rng(fit_ss), **settings)  # fmt: skip
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            rep.failure = f"refit failed: {type(exc).__name__}"
            rep.warnings = tuple(w.category.__name__ for w in caught)
            return rep
        if raw.degenerate:
            rep.failure = "degenerate refit"
        elif not raw.converged:
            rep.failure = "refit did not converge"
        else:
            idx = aligned_index(names, align_to(raw, em))
            rep.ok = True
            rep.estimate = _truth(raw)[idx]
            _interval_bounds(job, raw, data, idx, names, rep)
            if with_posterior and job.posterior is not None:
                rep.posterior = _posterior_interval(job, raw, data, idx, post_ss)
        rep.warnings = tuple(w.category.__name__ for w in caught)
    return rep


def _posterior_interval(job: _Job, raw, data: Dataset, idx: np.ndarray, seed):
    """(lower, upper, mean, sd) of the HDI at ``level`` of a small posterior, truth's labels."""
    from .bayes import sample_posterior
    from .compare import compare

    opts = job.posterior
    sigma = fit_settings(job.em)["sigma"]
    idata = sample_posterior(
        data, None, job.em.n_components, sigma=sigma, fit_intercept=job.em.fit_intercept,
        chains=opts["chains"], draws=opts["draws"], tune=opts["tune"], cores=1, init=raw,
        sampler="pymc", random_state=int(seed.generate_state(1)[0]), progressbar=False,
    )  # fmt: skip
    tab = compare(raw, idata, X=data, hdi_prob=job.level).table
    tab = tab.set_index("name").reindex(job.em.param_names())
    cols = ("hdi_low", "hdi_high", "post_mean", "post_sd")
    lo, hi, mean, sd = (tab[c].to_numpy(dtype=float)[idx] for c in cols)
    return lo, hi, mean, sd


# ----------------------------------------------------------------------------- summary
def _rows_for(name: str, level: float, truth, est, lo, hi, z: float) -> dict[str, np.ndarray]:
    """Per-parameter coverage, bias and SE/sd of one interval type over the replications."""
    finite = np.isfinite(lo) & np.isfinite(hi)
    used = finite.sum(axis=0)
    covered = ((lo <= truth) & (truth <= hi) & finite).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = covered / used
        se = np.where(finite, (hi - lo) / (2.0 * z), 0.0).sum(axis=0) / used
        mean_est = np.nanmean(est, axis=0) if est.shape[0] else np.full(truth.shape, np.nan)
        sd_est = np.nanstd(est, axis=0, ddof=1) if est.shape[0] > 1 else np.full_like(truth, np.nan)
        return {
            "interval": name,
            "level": level,
            "coverage": cov,
            "mc_error": np.sqrt(cov * (1.0 - cov) / used),
            "bias": mean_est - truth,
            "se_over_sd": se / sd_est,
            "n_used": used,
            "truth": truth,
            "mean_estimate": mean_est,
            "sd_estimate": sd_est,
            "mean_se": se,
        }


def _table(names: list[str], truth, reps: list[_Rep], level: float) -> pd.DataFrame:
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    good = [r for r in reps if r.ok]
    p = len(names)
    est = np.array([r.estimate for r in good]).reshape(len(good), p)
    interval_names = list(dict.fromkeys(n for r in good for n in r.bounds))
    frames = []
    for name in interval_names:
        nan = np.full(p, np.nan)
        lo = np.array([r.bounds.get(name, (nan, nan))[0] for r in good]).reshape(-1, p)
        hi = np.array([r.bounds.get(name, (nan, nan))[1] for r in good]).reshape(-1, p)
        frames.append({"parameter": names, **_rows_for(name, level, truth, est, lo, hi, z)})
    post = [r.posterior for r in good if r.posterior is not None]
    if post:
        lo, hi, mean = (np.array([q[i] for q in post]) for i in range(3))
        frames.append({"parameter": names, **_rows_for("posterior", level, truth, mean, lo, hi, z)})
    table = pd.concat([pd.DataFrame(f) for f in frames], ignore_index=True) if frames else None
    if table is None:
        return pd.DataFrame(columns=list(CALIBRATION_COLUMNS))
    table["n_used"] = table["n_used"].astype(int)
    return table[list(CALIBRATION_COLUMNS)]


def fit_overlap(em) -> dict[str, float]:
    """How well the fit separates its components: mean max responsibility and the normalised
    classification entropy ``1 - E / (n log K)`` (1: every row certain; 0: no information)."""
    tau = np.asarray(em.responsibilities, dtype=float)
    k = tau.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.nansum(np.where(tau > 0, tau * np.log(tau), 0.0))
    rel = 1.0 - ent / (tau.shape[0] * math.log(k)) if k > 1 else 1.0
    return {"mean_max_responsibility": float(tau.max(axis=1).mean()), "entropy": float(rel)}


def _recommend(table: pd.DataFrame, level: float, em) -> tuple[str | None, str]:
    """The cheapest calibrated interval type (not the posterior), or None and why."""
    if table.empty:
        return None, "no replication produced an interval (every refit failed)."
    tab = table[table["interval"] != "posterior"].copy()
    if tab.empty:
        return None, "no confidence interval type was computed."
    tab["miss"] = (tab["coverage"] - level).abs() - calibration_tolerance(level, tab["n_used"])
    tab["miss"] = tab["miss"].fillna(np.inf)
    names = sorted(
        tab["interval"].unique(), key=lambda n: (_cost(n), list(tab["interval"]).index(n))
    )
    worst = {n: float(tab.loc[tab["interval"] == n, "miss"].max()) for n in names}
    for name in names:
        if worst[name] <= 0:
            return name, ""
    best = min(names, key=lambda n: worst[n])
    rows = tab[(tab["interval"] == best) & (tab["miss"] > 0)]
    misses = ", ".join(
        f"{r.parameter} {r.coverage:.3f} ({r.coverage - level:+.3f})" for r in rows.itertuples()
    )
    text = (
        f"no interval type is calibrated at this n for every parameter (coverage within "
        f"max(0.02, 2 Monte Carlo errors) of {level:g}). Closest: {best}, which misses "
        f"{misses}."
    )
    return None, text + _why(em)


def _why(em) -> str:
    """The likely causes of a miss: overlapping components, a weak component."""
    ov = fit_overlap(em)
    causes = []
    if ov["mean_max_responsibility"] < OVERLAP_MAX_RESP:
        causes.append(
            f"the components overlap (mean max membership probability "
            f"{ov['mean_max_responsibility']:.2f}, normalised entropy {ov['entropy']:.2f}; "
            "1 = separated)"
        )
    w = np.asarray(em.weights, dtype=float)
    weak = np.flatnonzero(w < WEAK_WEIGHT)
    for k in weak:
        causes.append(
            f"component {k} is weak (weight {w[k]:.3f}, about {w[k] * em.n_samples:.0f} "
            "observations)"
        )
    if not causes:
        return (
            " The fit is well separated and no component is weak: more data or another "
            "interval type (bootstrap) may help."
        )
    return " Likely why: " + "; ".join(causes) + "."


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True)
class CalibrationResult:
    """What :func:`calibrate` found.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per parameter and interval type, columns :data:`CALIBRATION_COLUMNS`:
        ``coverage`` of the true (fitted) value, its binomial Monte Carlo error
        ``mc_error = sqrt(c (1 - c) / n_used)``, ``bias`` (mean estimate - truth; for
        ``posterior``: mean posterior mean - truth), ``se_over_sd`` (mean interval-implied SE,
        ``(upper - lower) / (2 z)``, over the sd of the estimates), ``n_used`` (replications
        with a finite interval).
    recommended : str or None
        The cheapest interval type calibrated for every parameter (see the module docstring),
        or None.
    reason : str
        Why none is recommended ("" when one is): which parameters miss and by how much, and
        the likely cause (overlap, a weak component).
    level : float
    replications : int
        Requested.
    n_failed : int
        Replications whose refit failed, was degenerate or did not converge (left out).
    failures : dict of str to int
        Their reasons, counted.
    refit_warnings : dict of str to int
        Warnings raised inside the replications (by category), counted.
    seed : int
        The seed of the study (``SeedSequence(seed).spawn(replications)``).
    n_samples : int
    settings : dict
        Interval types, n_init, EM keywords, posterior options, K, sigma setting.
    overlap : dict
        :func:`fit_overlap` of the fit.
    """

    table: pd.DataFrame
    recommended: str | None
    reason: str
    level: float
    replications: int
    n_failed: int
    failures: dict[str, int]
    refit_warnings: dict[str, int]
    seed: int
    n_samples: int
    settings: dict[str, Any]
    overlap: dict[str, float]
    interval_errors: dict[str, int] = field(default_factory=dict)

    @property
    def n_used(self) -> int:
        """Replications that gave a usable refit."""
        return self.replications - self.n_failed

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict: ``rows`` (one per parameter and interval type with
        ``parameter, interval, level, coverage, mc_error, bias, se_over_sd, n_used`` and more),
        ``recommended``, ``reason``, ``level``, ``n``, ``seed``, ``replications``
        (requested, used, failed, failure reasons, warnings), ``settings`` and ``overlap``."""
        from ._json import plain

        return plain(
            {
                "rows": self.table.to_dict(orient="records"),
                "recommended": self.recommended,
                "reason": self.reason or None,
                "level": self.level,
                "n": self.n_samples,
                "seed": self.seed,
                "replications": {
                    "requested": self.replications,
                    "used": self.n_used,
                    "failed": self.n_failed,
                    "failures": dict(self.failures),
                    "warnings": dict(self.refit_warnings),
                    "interval_errors": dict(self.interval_errors),
                },
                "settings": self.settings,
                "overlap": self.overlap,
            }
        )

    def headline(self) -> str:
        """One sentence: the recommendation, or that none is calibrated."""
        if self.recommended:
            return (
                f"recommended interval: {self.recommended} (coverage within tolerance of "
                f"{self.level:g} for every parameter at n={self.n_samples})"
            )
        return f"recommended interval: none. {self.reason}"

    def summary(self):
        """The table as text (and HTML in Jupyter), with the recommendation and the counts."""
        from .summary import Summary, html_table

        cols = ["parameter", "interval", "coverage", "mc_error", "bias", "se_over_sd", "n_used"]
        frame = self.table[cols]
        fmts = {c: (lambda v: f"{v:.3f}" if np.isfinite(v) else "—") for c in cols[2:6]}
        fmts["n_used"] = str
        head = [
            f"Calibration study: {self.n_used} of {self.replications} replications used "
            f"(n={self.n_samples}, level {self.level:g}, seed {self.seed}); "
            f"{self.n_failed} failed" + (f" {dict(self.failures)}" if self.failures else ""),
            self.headline(),
        ]
        lines = [*head, *_text_lines(frame, fmts)]
        html_text = (
            "<div><strong>Calibration study</strong><ul>"
            + "".join(f"<li>{_esc(x)}</li>" for x in head)
            + "</ul>"
            + html_table(frame, fmts)
            + "</div>"
        )
        return Summary("\n".join(lines), html_text=html_text, frame=self.table)

    def __repr__(self) -> str:
        return (
            f"CalibrationResult(recommended={self.recommended!r}, replications="
            f"{self.n_used}/{self.replications}, level={self.level:g}, "
            f"intervals={list(dict.fromkeys(self.table['interval']))})"
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def plot(self, ax=None):
        """Coverage per parameter and interval type with 2 Monte Carlo error bars
        (:func:`mlrbayes.plots.calibration.plot_coverage`)."""
        from .plots.calibration import plot_coverage

        return plot_coverage(self.table, self.level, ax=ax)


def _esc(text: str) -> str:
    import html

    return html.escape(text)


def _text_lines(frame: pd.DataFrame, fmts: dict[str, Any]) -> list[str]:
    text = frame.to_string(index=False, formatters=fmts, justify="right")
    return ["  " + line for line in text.splitlines()]


# ----------------------------------------------------------------------------- entry point
def calibrate(
    em,
    X: Any = None,
    y: Any = None,
    *,
    replications: int = 200,
    level: float = 0.95,
    kinds: Any = None,
    posterior: bool | int = False,
    chains: int = 2,
    draws: int = 500,
    tune: int = 500,
    n_init: int | None = None,
    fit_kwargs: dict[str, Any] | None = None,
    interval_options: dict[str, dict[str, Any]] | None = None,
    random_state: Any = None,
    n_jobs: int | None = 1,
    progressbar: bool | None = None,
) -> CalibrationResult:
    """Coverage of each interval type at the user's n, by simulation from the fit ``em``.

    Parameters
    ----------
    em : EMResult
        The user's fit: its parameters are the truth of the simulation.
    X : array-like of shape (n_samples, n_features), or Dataset
        The design ``em`` was fitted to (the responses are simulated; ``y`` only checks the
        shape and is otherwise unused).
    y : array-like of shape (n_samples,), optional
        Not needed: the responses are simulated.
    replications : int, default 200
        Simulated data sets R.
    level : float, default 0.95
        Nominal coverage of every interval.
    kinds : str or sequence of str, optional
        Interval types (:data:`mlrbayes.intervals.INTERVAL_KINDS`). Default: the cheap ones
        available (:data:`CHEAP_KINDS`: Wald, Wald with σ's degrees-of-freedom correction,
        sandwich; each costs well under 0.01 s per replication). ``"profile"`` (about 2 s per
        replication at n = 150, 13 s at n = 10⁴: ``benchmarks/RESULTS.md``) and the bootstrap
        types (``R x B`` refits, B their own replications) are computed when asked for.
    posterior : bool or int, default False
        Number of replications (the first ones) that also get a PyMC posterior whose
        highest-density credible interval at ``level`` is counted as interval ``"posterior"``
        (True: all). Each is a small run (``chains`` x ``draws`` after ``tune``).
    chains, draws, tune : int
        Size of each of those posterior runs.
    n_init : int, optional
        EM starts per refit; default the number of starts of ``em``. Start 0 is the truth, the
        others random (:func:`mlrbayes.fit_em` with ``init=em``), so a refit finds the optimum
        near the truth and any better one.
    fit_kwargs : dict, optional
        Other :func:`mlrbayes.fit_em` keywords for the refits (``tol``, ``max_iter``, ...);
        sigma, the intercept and the order of the components are ``em``'s.
    interval_options : dict, optional
        Options per interval type, e.g. ``{"bootstrap": {"n_boot": 199}}``.
    random_state : int, Generator or None
        Seed of the study; None draws one (recorded in the result).
    n_jobs : int or None, default 1
        Processes (joblib); -1 uses every core. The result does not depend on it.
    progressbar : bool, optional
        A bar over the replications (default: when someone is watching).

    Returns
    -------
    CalibrationResult

    Warns
    -----
    NumericalWarning
        Some replications failed (refit degenerate, not converged or an error): they are left
        out and counted.

    Examples
    --------
    >>> import mlrbayes as mb
    >>> X, y, _ = mb.simulate(150, [0.5, 0.5], [0, 5], [[1], [-1]], 0.5, random_state=1)
    >>> em = mb.fit_em(X, y, 2, sigma="shared", random_state=0)
    >>> res = mb.calibrate(em, X, y, replications=20, random_state=1, progressbar=False)
    >>> list(res.table.columns[:8])
    ['parameter', 'interval', 'level', 'coverage', 'mc_error', 'bias', 'se_over_sd', 'n_used']
    """
    from .em import EMResult, NumericalWarning

    if not isinstance(em, EMResult):
        raise TypeError(f"em must be an EMResult from fit_em; got {type(em).__name__}.")
    if X is not None and y is None and not isinstance(X, Dataset):
        y = np.zeros(np.shape(X)[0])  # the responses are simulated; only the design is used
    data = as_dataset(X, y) if X is not None else None
    if data is None or data.n_samples != em.n_samples or data.n_features != em.n_features:
        got = "nothing" if data is None else f"{data.n_samples} x {data.n_features}"
        raise ValueError(
            f"X must be the design em was fitted to ({em.n_samples} x {em.n_features}); got "
            f"{got}. Pass the same X."
        )
    replications = _check_int(replications, "replications", 2)
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r} is not in (0, 1); pass e.g. 0.95.")
    n_post = replications if posterior is True else _check_int(int(posterior), "posterior", 0)
    n_post = min(n_post, replications)
    root, seed = _seed_sequence(random_state)
    post_opts = {
        "chains": _check_int(chains, "chains", 1),
        "draws": _check_int(draws, "draws", 1),
        "tune": _check_int(tune, "tune", 0),
    }
    job = _Job(
        em=em, data=data, kinds=_check_kinds(kinds), level=level,
        n_init=_check_int(len(em.starts) if n_init is None else n_init, "n_init", 1),
        fit_kwargs=dict(fit_kwargs or {}), interval_options=dict(interval_options or {}),
        posterior=post_opts if n_post else None,
    )  # fmt: skip
    reps = _run_all(job, root.spawn(replications), n_post, n_jobs, progressbar)
    failures = Counter(r.failure for r in reps if not r.ok)
    if failures:
        warnings.warn(
            f"{sum(failures.values())} of {replications} calibration replications were left out "
            f"({dict(failures)}); the coverages use the others.",
            NumericalWarning,
            stacklevel=2,
        )
    names = em.param_names()
    table = _table(names, _truth(em), reps, level)
    recommended, reason = _recommend(table, level, em)
    settings = {
        "kinds": list(job.kinds), "n_init": job.n_init, "fit_kwargs": job.fit_kwargs,
        "n_components": em.n_components, "sigma": em.sigma_setting,
        "fit_intercept": em.fit_intercept, "posterior_replications": n_post,
        "posterior": job.posterior, "interval_options": job.interval_options,
    }  # fmt: skip
    return CalibrationResult(
        table=table, recommended=recommended, reason=reason, level=level,
        replications=replications, n_failed=sum(failures.values()), failures=dict(failures),
        refit_warnings=dict(Counter(w for r in reps for w in r.warnings)), seed=seed,
        n_samples=em.n_samples, settings=settings, overlap=fit_overlap(em),
        interval_errors=dict(Counter(e for r in reps for e in r.interval_errors)),
    )  # fmt: skip


def _run_all(job: _Job, seeds, n_post: int, n_jobs: Any, progressbar: Any) -> list[_Rep]:
    """Every replication, in order, over ``n_jobs`` processes, with a progress bar."""
    total = len(seeds)
    bar = StartsProgress(total, enabled=resolve_progressbar(progressbar), label="replications")
    if n_jobs is None:
        n_jobs = 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise ValueError(f"n_jobs={n_jobs!r} must be a positive integer or -1 (every core).")
    out: list[_Rep] = []
    with bar:
        if n_jobs == 1:
            for i, ss in enumerate(seeds):
                out.append(_run_replication(job, ss, i < n_post))
                bar.update(i + 1)
            return out
        from joblib import Parallel, delayed

        par = Parallel(n_jobs=int(n_jobs), return_as="generator")
        tasks = (delayed(_run_replication)(job, ss, i < n_post) for i, ss in enumerate(seeds))
        for i, rep in enumerate(par(tasks)):
            out.append(rep)
            bar.update(i + 1)
    return out
