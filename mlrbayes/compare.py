"""Does the EM estimate hold up against the posterior? The comparison table and its verdict.

:func:`compare` takes an EM fit and a posterior sample of the same model, relabels the draws to
the EM labels, and returns a :class:`Comparison`: one row per parameter (EM estimate and standard
error against the posterior mean, median, sd and HDI), the label-switching / multimodality
diagnosis, sampler health (divergences, R-hat and ESS before and after relabelling) and one
verdict. The whole job from data (EM, sampling from the EM optima and dispersed points,
comparison) is :func:`mlrbayes.workflow.validate`, re-exported here.

Verdict rule
------------
The verdict is decided in this order; every reason that applies is listed in
``Comparison.reasons``.

``inconclusive`` — the posterior sample cannot be trusted as it stands, so no statement about EM
is made. Any of:

* the sampler reported divergent transitions (``n_divergent > 0``);
* after relabelling, some parameter has R-hat > ``rhat_max`` (1.01) or bulk ESS below
  ``ess_min_per_chain`` (100) times the number of chains — the thresholds of Vehtari, Gelman,
  Simpson, Carpenter & Bürkner (2021), *Rank-normalization, folding, and localization: an
  improved R-hat*, Bayesian Analysis 16(2), 667-718;
* the diagnosis found genuine multimodality (distinct modes that no relabelling maps onto each
  other): a single EM estimate cannot summarise such a posterior; the modes are listed;
* the EM fit itself did not converge or ended at a degenerate (collapsed) component.

``disagree`` — the sample is healthy, and at least one parameter has

* ``|z| > z_max`` (3), with ``z = (em - post_mean) / post_sd``, or
* the EM estimate outside the posterior HDI (``hdi_prob``, 94% by default), or
* an EM standard error that is off by more than a factor ``se_ratio_max`` (2) from the
  posterior sd (``se_ratio = em_se / post_sd`` outside ``[1/2, 2]``; skipped where the EM
  standard error is unavailable).

The flagged parameters, with their z and SE ratio, are named in the reasons.

``agree`` — otherwise. With weakly informative priors and enough data the posterior is close to
normal around the maximum-likelihood estimate (Bernstein-von Mises), so EM and the posterior
should agree on location (``|z|`` well below 1) and spread (``se_ratio`` near 1).
"""

from __future__ import annotations

import copy
import importlib.metadata
import platform
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from . import summary as summaries
from ._json import plain
from ._validation import check_positive_float
from .diagnostics import Diagnosis, diagnose
from .em import EMResult
from .params import flatten
from .posterior.draws import PosteriorDraws, data_from_datatree
from .serialize import em_to_dict
from .spec import Dataset, as_dataset

__all__ = [
    "VERDICTS",
    "Comparison",
    "compare",
    "parameter_draws",
]

#: Possible values of ``Comparison.verdict``.
VERDICTS = ("agree", "disagree", "inconclusive")

#: ``method="auto"`` uses Stephens relabelling while the membership probabilities of all draws
#: take at most this many bytes, the parameter-space pivot above.
STEPHENS_MAX_BYTES = 400e6

TABLE_COLUMNS = (
    "name",
    "em",
    "em_se",
    "post_mean",
    "post_median",
    "post_sd",
    "hdi_low",
    "hdi_high",
    "z",
    "in_hdi",
    "se_ratio",
    "rhat",
    "ess_bulk",
    "ess_tail",
    "flag",
)

#: Fields of the diagnosis carried into ``Comparison.to_dict()["diagnosis"]``.
_DIAGNOSIS_FIELDS = ("verdict", "reasons", "method", "converged_after", "rhat_threshold")


def _plain(value: Any) -> Any:
    """Strict-JSON plain types (NaN -> None; unknown objects as text)."""
    return plain(value, default=str)


# ----------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class Comparison:
    """EM estimate against the posterior: table, diagnosis, sampler health and verdict.

    Attributes
    ----------
    verdict : {"agree", "disagree", "inconclusive"}
        See the module docstring for the rule.
    reasons : tuple of str
        Every reason behind the verdict, in plain words (the first is the headline).
    table : pandas.DataFrame
        One row per parameter (names as in :mod:`mlrbayes.params`), columns ``name, em,
        em_se, post_mean, post_median, post_sd, hdi_low, hdi_high, z, in_hdi, se_ratio, rhat,
        ess_bulk, ess_tail, flag`` (R-hat/ESS after relabelling; ``flag`` is ``""`` or a short
        description of why the row disagrees).
    convergence : pandas.DataFrame
        R-hat and bulk ESS per parameter before and after relabelling: columns ``name,
        rhat_before, ess_bulk_before, rhat_after, ess_bulk_after``.
    hdi_prob : float
    sampler : dict
        ``name``, ``chains``, ``draws``, ``tune``, ``n_divergent``, ``rhat_max_before/after``,
        ``ess_bulk_min_before/after``, ``random_state``, ``init``, ``warnings``.
    em : EMResult
    diagnosis : Diagnosis
        The label-switching / multimodality diagnosis (:func:`mlrbayes.diagnostics.diagnose`)
        with the draws as sampled and relabelled to the EM labels.
    idata_raw : xarray.DataTree or None
        The posterior as sampled (None when the comparison was given arrays).
    settings : dict
        Data and model settings for the report: ``n``, ``K``, ``features``, ``target``,
        ``sigma`` (handling), ``priors``, ``versions``.
    thresholds : dict
        ``rhat_max``, ``ess_min_per_chain``, ``z_max``, ``se_ratio_max``.
    X, y : ndarray or None
        The data, kept for figures (shape (n, p) and (n,)).
    """

    verdict: str
    reasons: tuple[str, ...]
    table: pd.DataFrame
    convergence: pd.DataFrame
    hdi_prob: float
    sampler: dict[str, Any]
    em: EMResult
    diagnosis: Diagnosis
    idata_raw: Any = None
    settings: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    X: np.ndarray | None = None
    y: np.ndarray | None = None

    @property
    def disagreements(self) -> pd.DataFrame:
        """Rows of :attr:`table` with a non-empty ``flag``."""
        return self.table[self.table["flag"] != ""]

    @property
    def draws(self) -> PosteriorDraws:
        """The draws relabelled to the EM labels."""
        return self.diagnosis.relabelled_draws

    @property
    def draws_raw(self) -> PosteriorDraws:
        """The draws as sampled."""
        return self.diagnosis.draws

    @cached_property
    def idata(self) -> Any:
        """The posterior relabelled to the EM labels, as a DataTree."""
        return self.diagnosis.relabelled

    @property
    def label_switching(self) -> dict[str, Any]:
        """``to_dict()["label_switching"]``: the diagnosis' label-switching evidence
        (:meth:`mlrbayes.diagnostics.LabelSwitching.to_dict`)."""
        return self._dict["label_switching"]

    @property
    def multimodality(self) -> dict[str, Any]:
        """``to_dict()["multimodality"]``: the modes with ``share_chains``, ``share_draws``,
        ``chains``, ``contains_em`` and their posterior means
        (:meth:`mlrbayes.diagnostics.Multimodality.to_dict`)."""
        return self._dict["multimodality"]

    @cached_property
    def _dict(self) -> dict[str, Any]:
        em = em_to_dict(self.em, include_responsibilities=False)
        em.pop("starts", None)
        diag = self.diagnosis.to_dict()
        return {
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "hdi_prob": float(self.hdi_prob),
            "parameters": _plain(self.table),
            "convergence": _plain(self.convergence),
            "diagnosis": {k: diag[k] for k in _DIAGNOSIS_FIELDS},
            "label_switching": diag["label_switching"],
            "multimodality": diag["multimodality"],
            "sampler": _plain(self.sampler),
            "em": _plain(em),
            "settings": _plain(self.settings),
            "thresholds": _plain(self.thresholds),
        }

    def to_dict(self) -> dict[str, Any]:
        """The numbers of the comparison as JSON-able Python (NaN and inf become ``None``).

        Keys: ``verdict``, ``reasons``, ``hdi_prob``, ``parameters`` (rows of :attr:`table`),
        ``convergence``, ``diagnosis`` (its verdict, reasons, method, ``converged_after``,
        ``rhat_threshold``), ``label_switching``, ``multimodality`` (as in
        :meth:`mlrbayes.diagnostics.Diagnosis.to_dict`), ``sampler``, ``em``, ``settings``,
        ``thresholds``. Converted once per comparison; each call returns a fresh copy.
        """
        return copy.deepcopy(self._dict)

    def __repr__(self) -> str:
        return summaries.comparison_repr(self)

    def summary(self) -> summaries.Summary:
        """Verdict, reasons, sampler health and the compact EM-vs-posterior table
        (:func:`mlrbayes.summary.comparison_summary`)."""
        return summaries.comparison_summary(self)

    def to_frame(self) -> pd.DataFrame:
        """:attr:`table` indexed by parameter name (a copy)."""
        return summaries.comparison_frame(self)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


# ----------------------------------------------------------------------------- draws
def parameter_draws(idata: Any, em: EMResult) -> np.ndarray:
    """Posterior draws flattened in the order of ``em.param_names()``.

    Parameters
    ----------
    idata : xarray.DataTree or PosteriorDraws
        Posterior with ``weights`` (chain, draw, component), ``intercept`` (chain, draw,
        component; optional without intercept), ``coef`` (chain, draw, component, feature) and
        ``sigma`` (chain, draw) or (chain, draw, component) when estimated.
    em : EMResult
        Supplies K, the feature names, ``fit_intercept`` and the sigma setting, which the
        posterior must match.

    Returns
    -------
    ndarray of shape (n_chains, n_draws, n_params)
    """
    d = idata if isinstance(idata, PosteriorDraws) else PosteriorDraws.from_datatree(idata)
    d.check_matches(em)
    return _flatten_as(em, d.weights, d.intercept, d.coef, d.sigma_param)


def _flatten_as(em: EMResult, weights: Any, intercept: Any, coef: Any, sigma: Any) -> np.ndarray:
    """Parameters flattened in the order of ``em.param_names()``."""
    return flatten(
        weights,
        intercept,
        coef,
        sigma,
        fit_intercept=em.fit_intercept,
        sigma_setting=em.sigma_setting,
    )


def _em_vector(em: EMResult) -> tuple[np.ndarray, np.ndarray]:
    """EM estimate and standard errors in the order of ``em.param_names()`` (NaN if no SE)."""
    est = _flatten_as(em, em.weights, em.intercept, em.coef, em.sigma)
    se = em.standard_errors or {}
    k, p = em.n_components, em.n_features

    def get(name, shape):
        v = se.get(name)
        if v is None:
            return np.full(shape, np.nan)
        return np.broadcast_to(np.asarray(v, dtype=float), shape)

    se_vec = _flatten_as(
        em,
        get("weights", (k,)),
        get("intercept", (k,)),
        get("coef", (k, p)),
        get("sigma", (k,) if em.sigma_setting == "component" else ()),
    )
    return est, se_vec


def _summaries(draws: np.ndarray, hdi_prob: float) -> dict[str, np.ndarray]:
    """Posterior mean, median, sd and HDI of (chain, draw, P) draws, each of shape (P,)."""
    import arviz_stats as azs  # ArviZ stays out of `import mlrbayes`

    d = draws.shape[-1]
    flat = draws.reshape(-1, d)
    hdi = np.asarray(azs.hdi(np.ascontiguousarray(flat.T), prob=hdi_prob), dtype=float)
    return {
        "post_mean": flat.mean(axis=0),
        "post_median": np.median(flat, axis=0),
        "post_sd": flat.std(axis=0, ddof=1) if flat.shape[0] > 1 else np.full(d, np.nan),
        "hdi_low": hdi[:, 0],
        "hdi_high": hdi[:, 1],
    }


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("mlrbayes", "numpy", "scipy", "pandas", "pymc", "pytensor", "arviz", "nutpie"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


# ----------------------------------------------------------------------------- compare
def compare(
    em_result: EMResult,
    idata: Any,
    *,
    X: Any = None,
    y: Any = None,
    hdi_prob: float = 0.94,
    method: str = "auto",
    rhat_max: float = 1.01,
    ess_min_per_chain: float = 100.0,
    z_max: float = 3.0,
    se_ratio_max: float = 2.0,
    diagnose_kwargs: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> Comparison:
    """Compare an EM fit with a posterior sample of the same model.

    The posterior is first diagnosed (:func:`mlrbayes.diagnostics.diagnose`: label switching
    vs genuine multimodality) and relabelled to the EM labels, then summarised parameter by
    parameter against the EM estimate. See the module docstring for the verdict rule.

    Parameters
    ----------
    em_result : EMResult
        From :func:`mlrbayes.em.fit_em` (or :func:`mlrbayes.serialize.em_from_dict`).
    idata : xarray.DataTree or PosteriorDraws
        From :func:`mlrbayes.bayes.sample_posterior` (or ``load_posterior``), same K, features
        and sigma setting as the EM fit; a DataTree is read once into
        :class:`~mlrbayes.posterior.PosteriorDraws`.
    X : array-like of shape (n_samples, n_features), or Dataset, optional
    y : array-like of shape (n_samples,), optional
        The data; default: ``constant_data.X`` and ``observed_data.y`` of ``idata``. A
        :class:`~mlrbayes.spec.Dataset` passed as ``X`` is used as it is.
    hdi_prob : float, default 0.94
        Probability mass of the highest-density intervals (``arviz_stats.hdi``).
    method : {"auto", "stephens", "ecr", "pivot"}, default "auto"
        Relabelling method passed to the diagnosis; the EM estimate is the reference, so the
        relabelled components carry the EM labels. ``"auto"`` uses Stephens (2000) when the
        membership probabilities of all draws fit in ``STEPHENS_MAX_BYTES`` (chains x draws x
        n x K x 8 bytes) and the parameter-space pivot otherwise.
    rhat_max, ess_min_per_chain : float
        Convergence thresholds (after relabelling).
    z_max, se_ratio_max : float
        Disagreement thresholds.
    diagnose_kwargs : dict, optional
        Extra keyword arguments for ``diagnose``.
    settings : dict, optional
        Extra entries for ``Comparison.settings`` (e.g. ``priors``, ``tune``, ``seed``), shown
        in reports.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> from mlrbayes.em import fit_em                            # doctest: +SKIP
    >>> from mlrbayes.bayes import sample_posterior               # doctest: +SKIP
    >>> em = fit_em(X, y, 2, sigma="shared", random_state=0)      # doctest: +SKIP
    >>> idata = sample_posterior(X, y, 2, sigma="shared", init=em)  # doctest: +SKIP
    >>> compare(em, idata).verdict                                # doctest: +SKIP
    'agree'
    """
    if not isinstance(em_result, EMResult):
        raise TypeError(
            f"em_result must be an EMResult (from mlrbayes.em.fit_em); got "
            f"{type(em_result).__name__}."
        )
    thresholds = _thresholds(hdi_prob, rhat_max, ess_min_per_chain, z_max, se_ratio_max)
    hdi_prob = thresholds.pop("hdi_prob")
    if (X is None) != (y is None) and not isinstance(X, Dataset):
        raise ValueError("pass both X and y, or neither (then they are read from idata).")
    draws = idata if isinstance(idata, PosteriorDraws) else PosteriorDraws.from_datatree(idata)
    draws.check_matches(em_result)
    data = _data(draws, X, y, em_result)
    if method == "auto":
        size = draws.n_chains * draws.n_draws * data.n_samples * em_result.n_components * 8
        method = "stephens" if size <= STEPHENS_MAX_BYTES else "pivot"
    diagnosis = diagnose(draws, data, em=em_result, method=method, **(diagnose_kwargs or {}))
    table = _table(em_result, diagnosis, hdi_prob, thresholds)
    sampler = _sampler(draws, diagnosis, table, settings or {})
    verdict, reasons = _verdict(em_result, table, sampler, diagnosis, thresholds, hdi_prob)
    names = em_result.param_names()
    before = diagnosis.rhat_before.reindex(names)
    return Comparison(
        verdict=verdict,
        reasons=tuple(reasons),
        table=table,
        convergence=pd.DataFrame(
            {
                "name": names,
                "rhat_before": before["rhat"].to_numpy(dtype=float),
                "ess_bulk_before": before["ess_bulk"].to_numpy(dtype=float),
                "rhat_after": table["rhat"].to_numpy(dtype=float),
                "ess_bulk_after": table["ess_bulk"].to_numpy(dtype=float),
            }
        ),
        hdi_prob=float(hdi_prob),
        sampler=sampler,
        em=em_result,
        diagnosis=diagnosis,
        idata_raw=draws.source,
        settings=_settings(em_result, data, draws, settings or {}),
        thresholds=thresholds,
        X=data.X,
        y=data.y,
    )


def _thresholds(hdi_prob, rhat_max, ess_min_per_chain, z_max, se_ratio_max) -> dict[str, float]:
    """The checked thresholds (and ``hdi_prob``)."""
    hdi_prob = check_positive_float(hdi_prob, "hdi_prob")
    if not 0 < hdi_prob < 1:
        raise ValueError(f"hdi_prob must be in (0, 1); got {hdi_prob!r}, e.g. use 0.94.")
    se_ratio_max = check_positive_float(se_ratio_max, "se_ratio_max")
    if se_ratio_max <= 1:
        raise ValueError(f"se_ratio_max must be > 1; got {se_ratio_max!r}, e.g. use 2.")
    return {
        "hdi_prob": hdi_prob,
        "rhat_max": check_positive_float(rhat_max, "rhat_max"),
        "ess_min_per_chain": check_positive_float(ess_min_per_chain, "ess_min_per_chain"),
        "z_max": check_positive_float(z_max, "z_max"),
        "se_ratio_max": se_ratio_max,
    }


def _data(draws: PosteriorDraws, X: Any, y: Any, em: EMResult) -> Dataset:
    """The checked data of the comparison (given, or stored with the posterior)."""
    if X is None and draws.source is None:
        raise ValueError("X and y were not given and the draws carry no data; pass X and y.")
    try:
        data = (
            data_from_datatree(draws.source, X, y)
            if X is None or isinstance(X, Dataset)
            else as_dataset(X, y)
        )
    except ValueError as exc:
        if X is not None:
            raise
        raise ValueError(
            "X and y were not given and idata has no constant_data.X / observed_data.y; "
            "pass the data with X=..., y=...."
        ) from exc
    if data.n_features != em.n_features or data.n_samples != em.n_samples:
        raise ValueError(
            f"the data have shape {data.X.shape} but the EM fit used {em.n_samples} rows and "
            f"{em.n_features} predictors; pass the data the fit was made on."
        )
    return data


def _table(
    em: EMResult, diagnosis: Diagnosis, hdi_prob: float, thresholds: dict[str, float]
) -> pd.DataFrame:
    """The parameter table: EM against the relabelled posterior, with flags."""
    names = em.param_names()
    est, se = _em_vector(em)
    s = _summaries(parameter_draws(diagnosis.relabelled_draws, em), hdi_prob)
    after = diagnosis.rhat_after.reindex(names)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (est - s["post_mean"]) / s["post_sd"]
        se_ratio = se / s["post_sd"]
    in_hdi = (est >= s["hdi_low"]) & (est <= s["hdi_high"])
    return pd.DataFrame(
        {
            "name": names,
            "em": est,
            "em_se": se,
            **s,
            "z": z,
            "in_hdi": in_hdi,
            "se_ratio": se_ratio,
            "rhat": after["rhat"].to_numpy(dtype=float),
            "ess_bulk": after["ess_bulk"].to_numpy(dtype=float),
            "ess_tail": after["ess_tail"].to_numpy(dtype=float),
            "flag": [
                _flag(*v, hdi_prob, thresholds) for v in zip(z, in_hdi, se_ratio, strict=True)
            ],
        },
        columns=list(TABLE_COLUMNS),
    )


def _flag(z: float, in_hdi: bool, ratio: float, hdi_prob: float, thr: dict[str, float]) -> str:
    """Why a row disagrees ("" when it does not)."""
    f = []
    if np.isfinite(z) and abs(z) > thr["z_max"]:
        f.append(f"|z| = {abs(z):.2f} > {thr['z_max']:g}")
    if not in_hdi:
        f.append(f"EM outside the {hdi_prob:.0%} HDI")
    lim = thr["se_ratio_max"]
    if np.isfinite(ratio) and not (1.0 / lim <= ratio <= lim):
        f.append(f"SE ratio {ratio:.2f} outside [{1 / lim:.2g}, {lim:g}]")
    return "; ".join(f)


def _sampler(
    draws: PosteriorDraws, diagnosis: Diagnosis, table: pd.DataFrame, extra: dict[str, Any]
) -> dict[str, Any]:
    """Sampler facts and health for the report."""
    attrs = draws.attrs
    return {
        "name": attrs.get("sampler", "unknown"),
        "chains": draws.n_chains,
        "draws": draws.n_draws,
        "tune": _plain(attrs.get("tune", extra.get("tune"))),
        "n_divergent": draws.n_divergent,
        "rhat_max_before": _nanmax(diagnosis.rhat_before["rhat"]),
        "rhat_max_after": _nanmax(table["rhat"]),
        "ess_bulk_min_before": _nanmin(diagnosis.rhat_before["ess_bulk"]),
        "ess_bulk_min_after": _nanmin(table["ess_bulk"]),
        "random_state": _plain(attrs.get("random_state")),
        "init": _plain(extra.get("init", attrs.get("init"))),
        "warnings": list(extra.get("sampler_warnings", [])),
    }


def _settings(
    em: EMResult, data: Dataset, draws: PosteriorDraws, extra: dict[str, Any]
) -> dict[str, Any]:
    """Data and model settings for the report."""
    settings = {
        "n": data.n_samples,
        "K": em.n_components,
        "features": list(em.feature_names),
        "target": em.target_name,
        "sigma": _sigma_text(em),
        "fit_intercept": bool(em.fit_intercept),
        "priors": _plain(draws.attrs.get("priors")),
        "versions": _versions(),
    }
    settings.update(
        {k: _plain(v) for k, v in extra.items() if k not in ("init", "sampler_warnings")}
    )
    return settings


def _nanmax(a: Any) -> float | None:
    a = np.asarray(a, dtype=float)
    return float(np.nanmax(a)) if np.any(np.isfinite(a)) else None


def _nanmin(a: Any) -> float | None:
    a = np.asarray(a, dtype=float)
    return float(np.nanmin(a)) if np.any(np.isfinite(a)) else None


def _fmt(v: float) -> str:
    return "nan" if not np.isfinite(v) else f"{v:.3g}"


def _verdict(
    em: EMResult,
    table: pd.DataFrame,
    sampler: dict[str, Any],
    diagnosis: Diagnosis,
    thresholds: dict[str, float],
    hdi_prob: float,
) -> tuple[str, list[str]]:
    """The verdict and its reasons (the rule in the module docstring)."""
    reasons_inc = _inconclusive_reasons(em, table, sampler, diagnosis, thresholds)
    ls = diagnosis.label_switching
    switching = []
    if ls.detected:
        switching.append(
            f"label switching was found and resolved by relabelling to the EM labels "
            f"({diagnosis.method}, {_fmt(100 * ls.share_relabelled)}% of draws relabelled)"
        )
    if reasons_inc:
        return "inconclusive", reasons_inc + switching
    bad = table[table["flag"] != ""]
    if len(bad):
        items = [
            f"{r.name}: {r.flag} (z = {_fmt(r.z)}, SE ratio = {_fmt(r.se_ratio)})"
            for r in bad.itertuples()
        ]
        head = f"EM and the posterior disagree on {len(bad)} of {len(table)} parameters: "
        return "disagree", [head + "; ".join(items), *switching]
    zmax = float(np.nanmax(np.abs(table["z"].to_numpy(dtype=float))))
    ratio = table["se_ratio"].to_numpy(dtype=float)
    ratio_txt = (
        f"SE ratios in [{_fmt(np.nanmin(ratio))}, {_fmt(np.nanmax(ratio))}]"
        if np.any(np.isfinite(ratio))
        else "no EM standard errors to compare"
    )
    head = (
        f"every EM estimate lies inside the posterior {hdi_prob:.0%} HDI, max |z| = "
        f"{_fmt(zmax)} <= {thresholds['z_max']:g}, {ratio_txt}; sampler healthy (no "
        f"divergences, R-hat <= {thresholds['rhat_max']:g}, bulk ESS >= "
        f"{thresholds['ess_min_per_chain'] * sampler['chains']:g})"
    )
    return "agree", [head, *switching]


def _inconclusive_reasons(
    em: EMResult,
    table: pd.DataFrame,
    sampler: dict[str, Any],
    diagnosis: Diagnosis,
    thresholds: dict[str, float],
) -> list[str]:
    """Why the posterior sample cannot be trusted as it stands (empty when it can)."""
    out: list[str] = []
    if sampler["n_divergent"] > 0:
        out.append(
            f"the sampler reported {sampler['n_divergent']} divergent transitions: the "
            "posterior sample may be biased (increase tune / target_accept, or check the model)"
        )
    rhat_after = table["rhat"].to_numpy(dtype=float)
    bad_rhat = table["name"][~(rhat_after <= thresholds["rhat_max"])].tolist()
    if bad_rhat:
        out.append(
            f"chains did not converge after relabelling: R-hat > {thresholds['rhat_max']:g} "
            f"for {', '.join(bad_rhat)} (max {_fmt(np.nanmax(rhat_after))})"
        )
    ess_min = thresholds["ess_min_per_chain"] * sampler["chains"]
    ess = table["ess_bulk"].to_numpy(dtype=float)
    low_ess = table["name"][~(ess >= ess_min)].tolist()
    if low_ess:
        out.append(
            f"too few effective draws: bulk ESS < {ess_min:g} "
            f"({thresholds['ess_min_per_chain']:g} per chain) for {', '.join(low_ess)} "
            f"(min {_fmt(np.nanmin(ess))}); draw more"
        )
    mm = diagnosis.multimodality
    if mm.detected:
        desc = "; ".join(
            f"mode {i}: {_fmt(100 * m.share_chains)}% of chains, "
            f"{_fmt(100 * m.share_draws)}% of draws"
            + (" (contains the EM estimate)" if m.contains_em else "")
            for i, m in enumerate(mm.modes)
        )
        # the cause comes first: split modes also inflate R-hat and deflate ESS
        out.insert(
            0,
            f"the posterior is genuinely multimodal ({len(mm.modes)} modes not related by "
            f"relabelling: {desc}); a single EM estimate cannot summarise it",
        )
    if not em.converged:
        out.append(f"EM did not converge ({em.n_iter} iterations); refit with more")
    if em.degenerate:
        out.append("EM ended at a degenerate (collapsed) component")
    return out


def _sigma_text(em: EMResult) -> str:
    if em.sigma_setting == "shared":
        return "shared: one noise sd, estimated (EM: maximum likelihood; posterior: sampled)"
    if em.sigma_setting == "component":
        return "component: one noise sd per component, estimated by both"
    return f"known: fixed at {np.asarray(em.sigma).tolist()} in both EM and the posterior"


# ----------------------------------------------------------------------------- re-exports
def __getattr__(name: str) -> Any:
    """``validate`` and ``dispersed_starts`` moved to :mod:`mlrbayes.workflow`, which imports
    this module; they stay importable from here (imported on first use: the import would
    otherwise run in a cycle)."""
    if name in ("validate", "dispersed_starts"):
        from . import workflow

        return getattr(workflow, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
