r"""Is a bad R-hat label switching or genuine multimodality? A diagnosis with its evidence.

:func:`diagnose` takes posterior draws (a DataTree in the layout of :mod:`mlrbayes.bayes`, read
once, or :class:`~mlrbayes.posterior.PosteriorDraws`) and, optionally, the EM result of the same
data, and answers with a :class:`Diagnosis`:

``none``
    The chains agree on one labelling and sit in one mode.
``label_switching``
    Chains use different labellings of the same mode (or switch labels within a chain); after
    relabelling they agree.
``multimodal``
    After relabelling, chains still sit in distinct modes: different explanations of the data
    that no permutation of the labels turns into one another, each carrying posterior mass,
    each converged within, with lines apart at the data (the ``distinct_modes`` finding).
``poor_mixing``
    The chains disagree after relabelling but not as distinct modes: groups not converged
    within, or implying nearly the same lines (often a weakly identified model).

Each diagnosis also lists typed findings (``Diagnosis.findings``; codes and thresholds in
:mod:`mlrbayes.findings`): partial draws, one chain, label switching, distinct modes, minor
modes (relative posterior mass below 1%, :mod:`mlrbayes.modemass`), poor mixing, weak
components, sampler problems and modes better than every EM optimum.

How it decides
--------------
1. **Relabelling.** Every draw is relabelled (:mod:`mlrbayes.relabel`; Stephens by default)
   towards a reference: the EM estimate when ``em`` is given, else the posterior draw with the
   highest log-likelihood.
2. **Label switching.** Per chain, the *dominant permutation* (most frequent relabelling
   permutation) and the fraction of draws whose permutation differs from it; chains whose
   dominant permutations differ "disagree by a permutation". Label switching is flagged when
   chains disagree or some chain switches in more than ``switch_threshold`` of its draws.
   R-hat and bulk/tail ESS (``arviz_stats``) are reported before and after relabelling.
3. **Modes** (:mod:`mlrbayes.modes`). Per-component parameters (weight, intercept, slopes,
   per-component sigma) are scaled by their posterior sd *within chains after relabelling*
   (pooled over chains and components, so the scale is not inflated by chains sitting in
   different places). The distance between two parameter sets is the root-mean-square of the
   scaled differences, minimised over permutations of the components. A chain belongs to the
   nearest EM optimum when its (relabelled) posterior mean lies within ``mode_threshold``
   (default 3) of it; chains near no optimum form "modes not found by EM", grouped with the same
   threshold. Each draw is also assigned to its nearest mode (``draw_mode_fraction``).
4. **Evidence for modes.** R-hat after relabelling above ``rhat_threshold`` with chains split
   between modes; R-hat within each mode; and a nested R-hat (Margossian et al. 2024) with
   chains grouped into superchains by mode (or by starting basin via ``superchain_ids``).
   Each mode reports the mean log-likelihood of its draws, the log-likelihood at its
   posterior mean and, when the sampler stored it (``sample_stats.lp``/``logp``), the mean
   log-posterior density of its draws.

References
----------
Margossian, C. C., Hoffman, M. D., Sountsov, P., Riou-Durand, L., Vehtari, A. and Gelman, A.
(2024). Nested R-hat: assessing the convergence of Markov chain Monte Carlo when running many
short chains. *Bayesian Analysis*. doi:10.1214/24-BA1453.
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. and Bürkner, P.-C. (2021). Rank-normalization,
folding, and localization: an improved R-hat. *Bayesian Analysis* 16(2), 667–718.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from . import relabel as rl
from . import summary as summaries
from ._json import plain
from ._validation import check_choice, check_positive_float
from .findings import Finding, posterior_findings
from .modes import Mode, Multimodality, find_modes, nested_rhat
from .posterior.convergence import convergence_table, rhat_ess_table
from .posterior.draws import (
    PosteriorDraws,
    check_data,
    data_from_datatree,
    posterior_arrays,
    posterior_dataset,
)
from .posterior.memberships import draw_memberships, reference_memberships
from .spec import Dataset, as_dataset

__all__ = [
    "METHODS",
    "VERDICTS",
    "Diagnosis",
    "Finding",
    "LabelSwitching",
    "Mode",
    "Multimodality",
    "convergence_table",
    "diagnose",
    "nested_rhat",
    "posterior_arrays",
    "posterior_dataset",
]

METHODS = ("stephens", "ecr", "pivot")
VERDICTS = ("none", "label_switching", "multimodal", "poor_mixing")


# ----------------------------------------------------------------------------- result types
@dataclass(frozen=True)
class LabelSwitching:
    """Label-switching evidence.

    Attributes
    ----------
    detected : bool
        Chains disagree by a permutation, or some chain switches in more than the threshold.
    dominant : ndarray of int of shape (chain, K)
        Most frequent relabelling permutation per chain (``relabelled[j] = raw[dominant[j]]``):
        identity means the chain's raw labels already match the reference.
    switch_fraction : ndarray of shape (chain,)
        Fraction of each chain's draws whose permutation differs from the chain's dominant one.
    chain_groups : tuple of tuple of int
        Chains sharing a dominant permutation.
    chains_disagree : bool
        More than one group.
    reference : str
        What the permutations are relative to (``"em"`` or ``"max-loglik draw"``).
    switch_threshold : float
    chains_relabelled : ndarray of shape (chain,)
        Fraction of each chain's draws whose labels were permuted (permutation not the
        identity), i.e. moved to the reference's labels.
    """

    detected: bool
    dominant: np.ndarray
    switch_fraction: np.ndarray
    chain_groups: tuple[tuple[int, ...], ...]
    chains_disagree: bool
    reference: str
    switch_threshold: float
    chains_relabelled: np.ndarray

    @property
    def share_relabelled(self) -> float:
        """Fraction of all draws whose labels were permuted."""
        return float(np.mean(self.chains_relabelled))

    def to_dict(self) -> dict[str, Any]:
        """Every field (``dominant`` as ``dominant_permutation``) and ``share_relabelled``."""
        own = {
            ("dominant_permutation" if f.name == "dominant" else f.name): getattr(self, f.name)
            for f in fields(self)
        }
        return plain({**own, "share_relabelled": self.share_relabelled})


@dataclass(frozen=True)
class Diagnosis:
    """The answer of :func:`diagnose`.

    Attributes
    ----------
    verdict : {"none", "label_switching", "multimodal", "poor_mixing"}
        ``multimodal`` only with a ``distinct_modes`` finding; ``poor_mixing`` when the chains
        disagree after relabelling without distinct modes (see :mod:`mlrbayes.findings`).
    reasons : tuple of str
        The evidence in plain English, with numbers.
    method : str
        Relabelling method used.
    label_switching : LabelSwitching
    multimodality : Multimodality
    rhat_before, rhat_after : pandas.DataFrame
        Index: parameter names (:func:`mlrbayes.params.param_names`); columns ``rhat``,
        ``ess_bulk``, ``ess_tail``; on the raw and on the relabelled draws.
    converged_after : bool
        Every R-hat after relabelling is <= the threshold (NaN counts as not converged).
    permutations : ndarray of int of shape (chain, draw, K)
        ``relabelled[..., j] = raw[..., permutations[..., j]]``.
    draws : PosteriorDraws
        The draws as sampled.
    relabelled_draws : PosteriorDraws
        The draws relabelled (``draws.relabel(permutations)``).
    rhat_threshold : float
    findings : tuple of Finding
        Typed findings (code, message, numbers; :mod:`mlrbayes.findings`).
    """

    verdict: str
    reasons: tuple[str, ...]
    method: str
    label_switching: LabelSwitching
    multimodality: Multimodality
    rhat_before: pd.DataFrame
    rhat_after: pd.DataFrame
    converged_after: bool
    permutations: np.ndarray = field(repr=False)
    draws: PosteriorDraws = field(repr=False)
    relabelled_draws: PosteriorDraws = field(repr=False)
    rhat_threshold: float = 1.01
    findings: tuple[Finding, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes of :attr:`findings`, in order."""
        return tuple(f.code for f in self.findings)

    @property
    def relabelled(self) -> Any:
        """The relabelled posterior as a DataTree (every component-indexed variable permuted;
        the other groups of the input kept)."""
        return self.relabelled_draws.to_datatree()

    @property
    def table(self) -> pd.DataFrame:
        """R-hat and bulk/tail ESS before and after relabelling, side by side."""
        return pd.DataFrame(
            {
                "rhat_before": self.rhat_before["rhat"],
                "rhat_after": self.rhat_after["rhat"],
                "ess_bulk_before": self.rhat_before["ess_bulk"],
                "ess_bulk_after": self.rhat_after["ess_bulk"],
                "ess_tail_before": self.rhat_before["ess_tail"],
                "ess_tail_after": self.rhat_after["ess_tail"],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (NaN becomes None). Permutations and draws are left out."""
        return plain(
            {
                "verdict": self.verdict,
                "reasons": list(self.reasons),
                "method": self.method,
                "converged_after": self.converged_after,
                "rhat_threshold": self.rhat_threshold,
                "findings": [f.to_dict() for f in self.findings],
                "label_switching": self.label_switching.to_dict(),
                "multimodality": self.multimodality.to_dict(),
                "rhat_before": self.rhat_before["rhat"].to_dict(),
                "rhat_after": self.rhat_after["rhat"].to_dict(),
                "ess_bulk_before": self.rhat_before["ess_bulk"].to_dict(),
                "ess_bulk_after": self.rhat_after["ess_bulk"].to_dict(),
                "ess_tail_before": self.rhat_before["ess_tail"].to_dict(),
                "ess_tail_after": self.rhat_after["ess_tail"].to_dict(),
            }
        )

    def __repr__(self) -> str:
        return summaries.diagnosis_repr(self)

    def summary(self) -> summaries.Summary:
        """Verdict, findings, reasons and the before/after table (a ``str``; shows as HTML in
        Jupyter; :func:`mlrbayes.summary.diagnosis_summary`)."""
        return summaries.diagnosis_summary(self)

    def to_frame(self) -> pd.DataFrame:
        """:attr:`table` (R-hat and ESS before and after relabelling, a copy)."""
        return summaries.diagnosis_frame(self)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


# ----------------------------------------------------------------------------- entry point
def diagnose(
    idata: Any,
    X: Any = None,
    y: Any = None,
    *,
    em: Any = None,
    method: str = "stephens",
    mode_threshold: float = 3.0,
    rhat_threshold: float = 1.01,
    switch_threshold: float = 0.02,
    superchain_ids: Any = None,
    chunk_draws: int = 200,
) -> Diagnosis:
    """Label switching or multimodality? Relabel the draws and weigh the evidence.

    Parameters
    ----------
    idata : xarray.DataTree or PosteriorDraws
        Posterior from :func:`mlrbayes.bayes.sample_posterior` (or loaded from NetCDF), read
        once into :class:`~mlrbayes.posterior.PosteriorDraws`.
    X : array-like of shape (n, p), optional
        Default: ``constant_data.X`` of ``idata``.
    y : array-like of shape (n,), optional
        Default: ``observed_data.y`` of ``idata``.
    em : EMResult, optional
        The EM fit of the same data: its estimate is the relabelling reference and its census
        (``em.optima``) the list of known modes. Without it the reference is the draw with the
        highest log-likelihood and every mode is "not found by EM".
    method : {"stephens", "ecr", "pivot"}, default "stephens"
        Relabelling method (:mod:`mlrbayes.relabel`).
    mode_threshold : float, default 3.0
        Scaled RMS distance (in within-chain posterior sds) under which a chain's posterior
        mean counts as sitting at an EM optimum or at another chain's mode.
    rhat_threshold : float, default 1.01
    switch_threshold : float, default 0.02
        Fraction of a chain's draws that must switch labelling to flag label switching within
        that chain.
    superchain_ids : array-like of int of shape (chain,), optional
        Groups for the nested R-hat, e.g. the starting basin of each chain. Default: the mode
        each chain is assigned to.
    chunk_draws : int, default 200
        Draws per chunk when computing membership probabilities (bounds the temporaries).

    Returns
    -------
    Diagnosis

    Notes
    -----
    ``"stephens"`` and ``"ecr"`` keep the membership probabilities of every draw in memory,
    ``8 * chains * draws * n * K`` bytes (96 MB for 4 x 1000 draws, n = 1000, K = 3; 1.9 GB at
    n = 20,000); ``"pivot"`` needs only the parameters. Computing the probabilities dominates
    the run time (``benchmarks/RESULTS.md``).

    Examples
    --------
    Three lines with a known sd, every chain started at the EM estimate (few draws):

    >>> from mlrbayes import fit_em, simulate
    >>> from mlrbayes.bayes import sample_posterior
    >>> X, y, _ = simulate(240, [1/3, 1/3, 1/3], [-3.0, 0.0, 3.0], [[1.0], [-1.0], [0.0]], 0.5,
    ...                    random_state=3)
    >>> em = fit_em(X, y, 3, sigma=0.5, n_init=10, random_state=0)
    >>> idata = sample_posterior(X, y, 3, sigma=0.5, init=em, draws=500, tune=500, chains=2,
    ...                          cores=1, random_state=0, progressbar=False)
    >>> d = diagnose(idata, em=em)
    >>> d.verdict
    'none'
    """
    method = check_choice(method, "method", METHODS)
    mode_threshold = check_positive_float(mode_threshold, "mode_threshold")
    rhat_threshold = check_positive_float(rhat_threshold, "rhat_threshold")
    switch_threshold = check_positive_float(switch_threshold, "switch_threshold")
    draws, data = _draws_and_data(idata, X, y)
    _check_em(em, draws)
    memb = draw_memberships(
        draws, data, chunk_draws=chunk_draws, probabilities=method in ("stephens", "ecr")
    )
    reference, reference_name = _reference(em, draws, memb.loglik)
    perms = _permutations(method, draws, data, reference, memb.probabilities)
    relabelled = draws.relabel(perms)
    names = draws.names()
    before = rhat_ess_table(draws.flat(), names)
    after = rhat_ess_table(relabelled.flat(), names)
    ls = _label_switching(perms, reference_name, switch_threshold)
    mm = find_modes(
        relabelled,
        data,
        memb.loglik,
        em=em,
        threshold=mode_threshold,
        superchain_ids=superchain_ids,
    )
    converged_after = bool(np.all(after["rhat"].to_numpy() <= rhat_threshold))
    findings = posterior_findings(draws, relabelled, data.n_samples, ls, mm, after, em)
    codes = {f.code for f in findings}
    if "distinct_modes" in codes:
        verdict = "multimodal"
    elif "poor_mixing" in codes:
        verdict = "poor_mixing"
    elif ls.detected:
        verdict = "label_switching"
    else:
        verdict = "none"
    reasons = _reasons(verdict, method, ls, mm, before, after, rhat_threshold, converged_after)
    reasons[-1:-1] = [f"[{f.code}] {f.message}." for f in findings]
    return Diagnosis(
        verdict=verdict,
        reasons=tuple(reasons),
        method=method,
        label_switching=ls,
        multimodality=mm,
        rhat_before=before,
        rhat_after=after,
        converged_after=converged_after,
        permutations=perms,
        draws=draws,
        relabelled_draws=relabelled,
        rhat_threshold=rhat_threshold,
        findings=tuple(findings),
    )


def _draws_and_data(idata: Any, X: Any, y: Any) -> tuple[PosteriorDraws, Dataset]:
    """The draws (read once from a DataTree) and the checked data they are of."""
    draws = idata if isinstance(idata, PosteriorDraws) else PosteriorDraws.from_datatree(idata)
    draws.check_finite()
    if draws.source is None or (X is not None and y is not None):
        data = as_dataset(X, y)
    else:
        data = data_from_datatree(draws.source, X, y)
    check_data(draws, data)
    return draws, data


def _check_em(em: Any, draws: PosteriorDraws) -> None:
    if em is None:
        return
    k = draws.n_components
    em_w = getattr(em, "weights", None)
    if em_w is None or np.shape(em_w) != (k,):
        raise ValueError(
            f"em has weights of shape {np.shape(em_w)} but the posterior has K={k} "
            "components; pass the EM fit with the same number of components."
        )
    if np.shape(em.coef) != draws.coef.shape[-2:]:
        raise ValueError(
            f"em.coef has shape {np.shape(em.coef)} but the posterior's coef is "
            f"{draws.coef.shape[-2:]} per draw; pass the EM fit of the same predictors."
        )


def _reference(em: Any, draws: PosteriorDraws, loglik: np.ndarray) -> tuple[dict, str]:
    """The relabelling reference: the EM estimate, else the highest-likelihood draw.

    Returns its parameters (``weights``, ``intercept``, ``coef``, ``sigma`` (K,) or None when
    sigma cannot tell components apart, ``sigma_k`` (K,)) and its name.
    """
    if em is not None:
        ref = {
            "weights": np.asarray(em.weights, float),
            "intercept": np.asarray(em.intercept, float),
            "coef": np.asarray(em.coef, float),
            "sigma": em.sigma,
        }
        ref["sigma_k"] = np.broadcast_to(np.asarray(em.sigma, float), ref["weights"].shape)
        ref["gating"] = getattr(em, "gating_coef", None)  # the extended model's parts (issue 14)
        ref["fixed"] = getattr(em, "fixed_coef", None)
        return ref, "em"
    c0, d0 = np.unravel_index(int(np.argmax(loglik)), loglik.shape)
    per_component = draws.sigma_setting == "component"
    ref = {
        "weights": draws.weights[c0, d0],
        "intercept": draws.intercept[c0, d0],
        "coef": draws.coef[c0, d0],
        "sigma": draws.sigma[c0, d0] if per_component else None,
        "sigma_k": draws.sigma[c0, d0] if per_component else draws.sigma[0, 0],
        "gating": None if draws.gating is None else draws.gating[c0, d0],
        "fixed": None if draws.fixed is None else draws.fixed[c0, d0],
    }
    return ref, "max-loglik draw"


def _permutations(
    method: str, draws: PosteriorDraws, data: Dataset, ref: dict, probs: np.ndarray | None
) -> np.ndarray:
    """Per-draw permutations (chain, draw, K) towards the reference."""
    if method == "pivot":
        return rl.pivot(
            draws.weights,
            draws.intercept if draws.fit_intercept else None,
            draws.coef,
            draws.sigma if draws.sigma_setting == "component" else None,
            reference=ref,
            gating=draws.gating if ref.get("gating") is not None else None,
        )
    ref_probs = reference_memberships(
        data, ref["weights"], ref["intercept"], ref["coef"], ref["sigma_k"],
        gating=ref.get("gating"), fixed=ref.get("fixed"),
    )  # fmt: skip
    if method == "stephens":
        return rl.stephens(probs, reference=ref_probs)
    return rl.ecr_iterative(probs, reference=ref_probs)


def _label_switching(perms: np.ndarray, reference: str, threshold: float) -> LabelSwitching:
    """Dominant permutation per chain, within-chain switching and chain agreement."""
    n_chain, n_draw, k = perms.shape
    dominant = np.empty((n_chain, k), dtype=int)
    frac = np.empty(n_chain)
    for c in range(n_chain):
        counts = Counter(map(tuple, perms[c].tolist()))
        # most frequent; ties go to the lexicographically smallest permutation (deterministic)
        top = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        dominant[c] = top
        frac[c] = 1.0 - counts[top] / n_draw
    groups: dict[tuple[int, ...], list[int]] = {}
    for c in range(n_chain):
        groups.setdefault(tuple(dominant[c].tolist()), []).append(c)
    chain_groups = tuple(tuple(g) for g in groups.values())
    disagree = len(chain_groups) > 1
    detected = bool(disagree or np.any(frac > threshold))
    return LabelSwitching(
        detected=detected,
        dominant=dominant,
        switch_fraction=frac,
        chain_groups=chain_groups,
        chains_disagree=disagree,
        reference=reference,
        switch_threshold=threshold,
        chains_relabelled=np.any(perms != np.arange(k), axis=-1).mean(axis=1),
    )


def _fmt_chains(chains: Any) -> str:
    chains = list(chains)
    return ("chain " if len(chains) == 1 else "chains ") + ", ".join(map(str, chains))


def _max_with_name(s: pd.Series) -> tuple[float, str]:
    if s.isna().all():
        return float("nan"), "-"
    name = s.idxmax(skipna=True)
    return float(s[name]), str(name)


def _reasons(
    verdict: str,
    method: str,
    ls: LabelSwitching,
    mm: Multimodality,
    before: pd.DataFrame,
    after: pd.DataFrame,
    rhat_threshold: float,
    converged_after: bool,
) -> list[str]:
    """The evidence behind the verdict in plain English, with numbers."""
    rb, rb_name = _max_with_name(before["rhat"])
    ra, ra_name = _max_with_name(after["rhat"])
    eb = float(before["ess_bulk"].min()) if before["ess_bulk"].notna().any() else float("nan")
    ea = float(after["ess_bulk"].min()) if after["ess_bulk"].notna().any() else float("nan")
    if ls.dominant.shape[0] < 2:
        out = [
            f"R-hat needs >= 2 chains (this posterior has 1); bulk ESS min {eb:.0f} before and "
            f"{ea:.0f} after {method} relabelling."
        ]
    else:
        out = [
            f"R-hat before relabelling: max {rb:.3f} ({rb_name}), min bulk ESS {eb:.0f}; after "
            f"{method} relabelling: max {ra:.3f} ({ra_name}), min bulk ESS {ea:.0f}."
        ]
    out += _labelling_reasons(ls)
    out += _census_reasons(mm)
    out += _mode_reasons(mm, verdict)
    out += _convergence_reasons(verdict, after, rhat_threshold, converged_after)
    verdict_text = {
        "none": "Verdict none: one labelling, one mode.",
        "label_switching": "Verdict label_switching: the chains differ only by a relabelling of "
        f"the components, which {method} relabelling resolves"
        + (f" (R-hat after <= {rhat_threshold})." if converged_after else "."),
        "multimodal": "Verdict multimodal: distinct explanations of the data remain after "
        "relabelling; report each mode, not one estimate.",
        "poor_mixing": "Verdict poor_mixing: the chains disagree after relabelling but not as "
        "distinct modes; run longer chains, or consider fewer components.",
    }
    if verdict == "none" and ls.dominant.shape[0] < 2:
        verdict_text["none"] = (
            "Verdict none, with one chain only: no label switching or second mode was seen "
            "within it, but between-chain checks need >= 2 chains."
        )
    out.append(verdict_text[verdict])
    return out


def _labelling_reasons(ls: LabelSwitching) -> list[str]:
    out = []
    ref = "the EM estimate" if ls.reference == "em" else "the highest-likelihood draw"
    if ls.chains_disagree:
        parts = [
            f"{_fmt_chains(g)} use{'s' if len(g) == 1 else ''} labelling "
            f"{ls.dominant[g[0]].tolist()}"
            for g in ls.chain_groups
        ]
        out.append(
            f"Relative to {ref}, " + "; ".join(parts) + ": the chains disagree by a permutation."
        )
    else:
        out.append(f"All chains use one labelling ({ls.dominant[0].tolist()} relative to {ref}).")
    worst = int(np.argmax(ls.switch_fraction))
    out.append(
        f"Within chains, at most {100 * ls.switch_fraction[worst]:.1f}% of draws switch labels "
        f"(chain {worst}; threshold {100 * ls.switch_threshold:.0f}%)."
    )
    return out


def _census_reasons(mm: Multimodality) -> list[str]:
    census = mm.census
    if not len(census):
        return ["No EM census was given: every mode is reported as not found by EM."]
    total = int(census["count"].sum())
    opts = ", ".join(
        f"#{int(row.optimum)} log-lik {row.loglik:.2f} (gap {row.gap:.2f}, {int(row.count)} "
        f"start{'s' if row.count != 1 else ''}{', degenerate' if row.degenerate else ''})"
        for row in census.itertuples()
    )
    noun = "optimum" if len(census) == 1 else "optima"
    out = [f"EM census: {len(census)} distinct {noun} from {total} starts: {opts}."]
    unvisited = census[(census["chains"] == 0) & ~census["degenerate"].astype(bool)]
    near = unvisited[unvisited["gap"] < 2.0]
    if len(near) and not mm.detected:
        out.append(
            "EM optima "
            + ", ".join(f"#{int(j)}" for j in near["optimum"])
            + " are within 2 log-likelihood units of the best but no chain visited them; "
            "start chains there (init=) to check whether the posterior has those modes too."
        )
    return out


def _mode_reasons(mm: Multimodality, verdict: str) -> list[str]:
    has_census = bool(len(mm.census))
    mode_desc = []
    for m in mm.modes:
        if m.em_optimum is not None:
            where = f"EM optimum #{m.em_optimum}"
        else:
            where = "a mode not found by EM" if has_census else "a mode (no EM to compare with)"
        lp_txt = (
            f", mean log-posterior {m.mean_log_posterior:.2f}"
            if np.isfinite(m.mean_log_posterior)
            else ""
        )
        mode_desc.append(
            f"mode {m.index} at {where} ({_fmt_chains(m.chains)}, {100 * m.share_chains:.0f}% of "
            f"chains, {100 * m.share_draws:.0f}% of draws; mean log-lik {m.mean_loglik:.2f}, "
            f"log-lik at its mean {m.loglik_at_mean:.2f}{lp_txt}"
            + (f"; relative posterior mass {m.mass:.3g}" if mm.detected else "")
            + ")"
        )
    if not mm.detected:
        return ["After relabelling all chains sit in one mode: " + mode_desc[0] + "."]
    kind = "distinct modes" if verdict == "multimodal" else "groups (modes)"
    out = [
        f"After relabelling, the chains sit in {mm.n_modes} {kind} (scaled distance "
        f"> {mm.threshold:g} posterior sd apart; masses by Laplace, {mm.mass_source}): "
        + "; ".join(mode_desc)
        + "."
    ]
    rn, rn_name = _max_with_name(mm.rhat_nested)
    out.append(
        f"Nested R-hat with chains grouped by "
        f"{'mode' if np.array_equal(mm.superchain_ids, mm.chain_mode) else 'superchain_ids'}"
        f": max {rn:.3f} ({rn_name})."
    )
    if mm.rhat_within_mode.shape[1]:
        wmax = mm.rhat_within_mode.max(axis=0)
        out.append(
            "R-hat within each mode: "
            + ", ".join(f"mode {int(m)} max {v:.3f}" for m, v in wmax.items())
            + "."
        )
    return out


def _convergence_reasons(
    verdict: str, after: pd.DataFrame, rhat_threshold: float, converged_after: bool
) -> list[str]:
    if converged_after:
        return []
    if after["rhat"].isna().all():
        return [
            "R-hat is undefined (it needs at least 2 chains and 4 draws per chain); "
            "run more chains to check convergence."
        ]
    bad = after.index[~(after["rhat"] <= rhat_threshold)].tolist()
    if verdict == "multimodal":
        return [
            f"R-hat after relabelling stays above {rhat_threshold} for {len(bad)} "
            "parameter(s) because the chains are split between modes."
        ]
    return [
        f"R-hat after relabelling is still above {rhat_threshold} (or undefined) for "
        f"{', '.join(bad)} although the chains share one mode: they have not converged; "
        "run longer chains."
    ]
