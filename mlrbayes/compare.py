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
* the diagnosis found genuine multimodality (the ``distinct_modes`` finding: two or more modes
  that no relabelling maps onto each other, each with relative posterior mass >= 1%): a single
  EM estimate cannot summarise such a posterior; each mode is compared with its nearest EM
  optimum (``Comparison.mode_comparisons``, one verdict line per mode);
* the chains mix poorly (``poor_mixing``: split without distinct modes);
* the draws are partial (an interrupted run kept with ``--keep-partial``) or come from one
  chain (R-hat needs >= 2 chains);
* the EM fit itself did not converge or ended at a degenerate (collapsed) component.

``disagree`` — the sample is healthy, and at least one parameter has

* ``|z| > z_max`` (3), with ``z = (em - post_mean) / post_sd``, or
* the EM estimate outside the posterior HDI (``hdi_prob``, 94% by default), or
* an EM standard error that is off by more than a factor ``se_ratio_max`` (2) from the
  posterior sd (``se_ratio = em_se / post_sd`` outside ``[1/2, 2]``; skipped where the EM
  standard error is unavailable).

The flagged parameters, with their z and SE ratio, are named in the reasons.

The parameter table never pools the draws of several modes: with minor modes (mass < 1%, chains
that stayed where they were started) or distinct modes it uses the chains of the mode at the EM
estimate (else the heaviest). Findings that do not decide the verdict (minor modes, weak
components, a mode better than every EM optimum, Wald intervals likely too narrow) are listed
among the reasons; every finding is in ``Comparison.findings``.

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
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from . import summary as summaries
from ._json import plain
from ._validation import check_positive_float
from .diagnostics import Diagnosis, diagnose
from .em import EMResult
from .findings import MINOR_MODE_MASS, Finding, wald_findings
from .posterior.convergence import rhat_ess_table
from .posterior.draws import PosteriorDraws, data_from_datatree
from .serialize import em_to_dict
from .spec import Dataset, as_dataset
from .specparts import specification_parts
from .tables import (
    TABLE_COLUMNS,
    ModeComparison,
    flat_draws,
    mode_comparisons,
    parameter_table,
    table_names,
)

__all__ = [
    "TABLE_COLUMNS",
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
    findings : tuple of Finding
        The diagnosis' findings and the comparison's own (``wald_too_narrow``;
        :mod:`mlrbayes.findings`).
    mode_comparisons : tuple of ModeComparison
        With two or more modes: each mode against the EM optimum nearest to it
        (:func:`mlrbayes.tables.mode_comparisons`); empty otherwise.
    dataset : Dataset or None
        The checked data with the extended model's parts (gating design, groups, fixed
        predictors, weights), for the report's gating and group parts.
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
    findings: tuple[Finding, ...] = ()
    mode_comparisons: tuple[ModeComparison, ...] = ()
    dataset: Dataset | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes of :attr:`findings`, in order."""
        return tuple(f.code for f in self.findings)

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
            "diagnosis": {
                **{k: diag[k] for k in _DIAGNOSIS_FIELDS},
                "findings": [f.to_dict() for f in self.findings],
            },
            "mode_comparisons": [m.to_dict() for m in self.mode_comparisons],
            "label_switching": diag["label_switching"],
            "multimodality": diag["multimodality"],
            "sampler": _plain(self.sampler),
            "em": _plain(em),
            "settings": _plain(self.settings),
            "thresholds": _plain(self.thresholds),
            "specification": _plain(
                specification_parts(self.em, self.table, self.draws, self.dataset)
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        """The numbers of the comparison as JSON-able Python (NaN and inf become ``None``).

        Keys: ``verdict``, ``reasons``, ``hdi_prob``, ``parameters`` (rows of :attr:`table`),
        ``convergence``, ``diagnosis`` (its verdict, reasons, method, ``converged_after``,
        ``rhat_threshold`` and ``findings``: every finding of the diagnosis and the comparison,
        each ``{"code", "message", "numbers"}``), ``mode_comparisons`` (per mode: shares,
        mass, ``line``, ``parameters``), ``label_switching``, ``multimodality`` (as in
        :meth:`mlrbayes.diagnostics.Diagnosis.to_dict`), ``sampler``, ``em``, ``settings``,
        ``thresholds``, ``specification`` (gating, fixed, groups, weighted:
        :func:`mlrbayes.specparts.specification_parts`). Converted once per comparison; each
        call returns a fresh copy.
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
    return flat_draws(em, d)


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
    Two well-separated lines, 2 short chains (a few seconds once PyMC's compile cache is warm):

    >>> from mlrbayes import fit_em, simulate
    >>> from mlrbayes.bayes import sample_posterior
    >>> X, y, _ = simulate(200, [0.5, 0.5], [-2.0, 2.0], [[1.0], [-1.0]], 0.5, random_state=0)
    >>> em = fit_em(X, y, 2, sigma="shared", random_state=0)
    >>> idata = sample_posterior(X, y, 2, sigma="shared", init=em, draws=1000, tune=1000,
    ...                          chains=2, cores=1, random_state=0, progressbar=False)
    >>> compare(em, idata).verdict
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
    draws.check_finite()
    data = _data(draws, X, y, em_result)
    if method == "auto":
        size = draws.n_chains * draws.n_draws * data.n_samples * em_result.n_components * 8
        method = "stephens" if size <= STEPHENS_MAX_BYTES else "pivot"
    diagnosis = diagnose(draws, data, em=em_result, method=method, **(diagnose_kwargs or {}))
    main, rhat, note = _main_draws(diagnosis)
    table = parameter_table(em_result, main, rhat, hdi_prob, thresholds)
    per_mode = mode_comparisons(em_result, diagnosis, hdi_prob, thresholds)
    findings = [*diagnosis.findings, *wald_findings(em_result.responsibilities, table)]
    sampler = _sampler(draws, diagnosis, table, settings or {})
    sampler["chains_in_table"] = main.n_chains
    evidence = _Evidence(em_result, table, sampler, diagnosis, thresholds, findings)
    verdict, reasons = _verdict(evidence, hdi_prob, per_mode)
    reasons += [note] if note else []
    reasons += [f"[{f.code}] {f.message}" for f in findings if f.code == "wald_too_narrow"]
    names = table_names(em_result)
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
        findings=tuple(findings),
        mode_comparisons=tuple(per_mode),
        dataset=data,
    )


def _main_draws(diagnosis: Diagnosis) -> tuple[PosteriorDraws, pd.DataFrame, str]:
    """The draws the main table compares EM with, their R-hat/ESS, and a note on the choice.

    One mode: all draws. Two or more distinct modes, or minor modes beside one that carries
    the mass: the chains of the mode at the EM estimate (else of the heaviest mode), never the
    pooled draws of several modes. Poor mixing: all draws (one mode, badly explored).
    """
    mm = diagnosis.multimodality
    rel = diagnosis.relabelled_draws
    major = [m for m in mm.modes if not m.is_minor]
    if not mm.detected or ("poor_mixing" in diagnosis.codes and len(major) >= 2):
        return rel, diagnosis.rhat_after, ""
    pick = next((m for m in major if m.contains_em), None) or max(
        major, key=lambda m: (np.nan_to_num(m.mass, nan=-1.0), m.share_draws)
    )
    sub = rel.select_chains(pick.chains)
    note = (
        f"the parameter table compares EM with the {len(pick.chains)} chain(s) of mode "
        f"{pick.index} only ({'it holds the EM estimate' if pick.contains_em else 'the heaviest'}"
        "); the other modes are compared separately, each with its nearest EM optimum"
    )
    return sub, rhat_ess_table(sub.flat(), sub.names()), note


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


class _Evidence(NamedTuple):
    """What the verdict rests on."""

    em: EMResult
    table: pd.DataFrame
    sampler: dict[str, Any]
    diagnosis: Diagnosis
    thresholds: dict[str, float]
    findings: list[Finding]


def _verdict(
    ev: _Evidence, hdi_prob: float, per_mode: list[ModeComparison]
) -> tuple[str, list[str]]:
    """The verdict and its reasons (the rule in the module docstring)."""
    table, sampler, diagnosis, thresholds, findings = ev[1:]
    reasons_inc = _inconclusive_reasons(ev)
    ls = diagnosis.label_switching
    extra = []
    if ls.detected:
        extra.append(
            f"label switching was found and resolved by relabelling to the EM labels "
            f"({diagnosis.method}, {_fmt(100 * ls.share_relabelled)}% of draws relabelled)"
        )
    extra += [f"[{f.code}] {f.message}" for f in findings if f.code in _NOTED_CODES]
    extra += [m.line for m in per_mode]
    if reasons_inc:
        return "inconclusive", reasons_inc + extra
    bad = table[table["flag"] != ""]
    if len(bad):
        items = [
            f"{r.name}: {r.flag} (z = {_fmt(r.z)}, SE ratio = {_fmt(r.se_ratio)})"
            for r in bad.itertuples()
        ]
        head = f"EM and the posterior disagree on {len(bad)} of {len(table)} parameters: "
        return "disagree", [head + "; ".join(items), *extra]
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
        f"{thresholds['ess_min_per_chain'] * sampler['chains_in_table']:g})"
    )
    return "agree", [head, *extra]


#: Findings listed among the reasons without deciding the verdict.
_NOTED_CODES = ("minor_mode", "weak_component", "em_missed_mode")


def _failing(table: pd.DataFrame, column: str, ok) -> tuple[list[str], str]:
    """Names of the rows whose ``column`` fails ``ok`` (NaN fails), and the worst value."""
    v = table[column].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = table["name"][~ok(v)].tolist()
    if not np.any(np.isfinite(v)):
        return bad, "nan"
    return bad, _fmt(np.nanmax(v) if column == "rhat" else np.nanmin(v))


def _mode_reasons(diagnosis: Diagnosis, findings: list[Finding]) -> list[str]:
    """Distinct modes or poor mixing, first among the reasons (they cause R-hat and ESS)."""
    codes = {f.code for f in findings}
    mm = diagnosis.multimodality
    if "distinct_modes" in codes:
        major = [m for m in mm.modes if not m.is_minor]
        desc = "; ".join(
            f"mode {m.index}: relative posterior mass {m.mass:.2g}, {_fmt(100 * m.share_chains)}%"
            f" of chains, {_fmt(100 * m.share_draws)}% of draws"
            + (" (contains the EM estimate)" if m.contains_em else "")
            for m in major
        )
        return [
            f"the posterior is genuinely multimodal ({len(major)} modes not related by "
            f"relabelling carry the mass (each >= {MINOR_MODE_MASS:g}): {desc}); a single EM "
            "estimate cannot summarise it; each mode is compared with its nearest EM optimum"
        ]
    return [f"[{f.code}] {f.message}" for f in findings if f.code == "poor_mixing"]


def _inconclusive_reasons(ev: _Evidence) -> list[str]:
    """Why the posterior sample cannot be trusted as it stands (empty when it can)."""
    em, table, sampler, diagnosis, thresholds, findings = ev
    out = _mode_reasons(diagnosis, findings)
    for f in findings:
        if f.code in ("partial", "single_chain"):
            out.append(f"[{f.code}] {f.message}")
    if sampler["n_divergent"] > 0:
        out.append(
            f"the sampler reported {sampler['n_divergent']} divergent transitions: the "
            "posterior sample may be biased (increase tune / target_accept, or check the model)"
        )
    chains = sampler["chains_in_table"]
    bad_rhat, worst = _failing(table, "rhat", lambda v: v <= thresholds["rhat_max"])
    if chains < 2:
        out.append("R-hat needs >= 2 chains: the table rests on 1 chain")
    elif bad_rhat:
        out.append(
            f"chains did not converge after relabelling: R-hat > {thresholds['rhat_max']:g} "
            f"for {', '.join(bad_rhat)} (max {worst})"
        )
    ess_min = thresholds["ess_min_per_chain"] * chains
    low_ess, worst = _failing(table, "ess_bulk", lambda v: v >= ess_min)
    if low_ess:
        out.append(
            f"too few effective draws: bulk ESS < {ess_min:g} "
            f"({thresholds['ess_min_per_chain']:g} per chain) for {', '.join(low_ess)} "
            f"(min {worst}); draw more"
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
