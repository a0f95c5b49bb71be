"""Does the EM estimate hold up against the posterior? The comparison table and its verdict.

:func:`compare` takes an EM fit and a posterior sample of the same model, relabels the draws to
the EM labels, and returns a :class:`Comparison`: one row per parameter (EM estimate and standard
error against the posterior mean, median, sd and HDI), the label-switching / multimodality
diagnosis, sampler health (divergences, R-hat and ESS before and after relabelling) and one
verdict. :func:`validate` runs the whole job (EM, sampling from the EM optima and dispersed
points, comparison) from data.

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

import importlib.metadata
import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._json import plain
from ._validation import check_positive_float
from .em import EMResult
from .params import flatten

__all__ = [
    "VERDICTS",
    "Comparison",
    "compare",
    "dispersed_starts",
    "parameter_draws",
    "validate",
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


# ----------------------------------------------------------------------------- plain values
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
    label_switching : dict
        ``detected`` (bool), ``method`` (relabelling method), ``share_relabelled`` (fraction
        of draws whose labels were permuted to match EM), ``chains_relabelled`` (per chain).
    multimodality : dict
        ``detected`` (bool) and ``modes``: a list of dicts with ``share`` (fraction of draws),
        ``chains`` (chains in the mode), ``weights``, ``intercept``, ``coef``, ``sigma``
        (posterior means within the mode, EM labels) and ``contains_em``.
    sampler : dict
        ``name``, ``chains``, ``draws``, ``tune``, ``n_divergent``, ``rhat_max_before/after``,
        ``ess_bulk_min_before/after``, ``random_state``, ``init``.
    em : EMResult
    idata : xarray.DataTree
        The posterior relabelled to the EM labels.
    idata_raw : xarray.DataTree
        The posterior as sampled.
    diagnosis : object or None
        The diagnosis of :func:`mlrbayes.diagnostics.diagnose`, when it ran.
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
    label_switching: dict[str, Any]
    multimodality: dict[str, Any]
    sampler: dict[str, Any]
    em: EMResult
    idata: Any
    idata_raw: Any
    diagnosis: Any = None
    settings: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    X: np.ndarray | None = None
    y: np.ndarray | None = None

    @property
    def disagreements(self) -> pd.DataFrame:
        """Rows of :attr:`table` with a non-empty ``flag``."""
        return self.table[self.table["flag"] != ""]

    def to_dict(self) -> dict[str, Any]:
        """The numbers of the comparison as JSON-able Python (NaN and inf become ``None``).

        Keys: ``verdict``, ``reasons``, ``hdi_prob``, ``parameters`` (rows of :attr:`table`),
        ``convergence``, ``label_switching``, ``multimodality``, ``sampler``, ``em``,
        ``settings``, ``thresholds``.
        """
        from .serialize import em_to_dict

        em = em_to_dict(self.em, include_responsibilities=False)
        em.pop("starts", None)
        return {
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "hdi_prob": float(self.hdi_prob),
            "parameters": _plain(self.table),
            "convergence": _plain(self.convergence),
            "label_switching": _plain(self.label_switching),
            "multimodality": _plain(self.multimodality),
            "sampler": _plain(self.sampler),
            "em": _plain(em),
            "settings": _plain(self.settings),
            "thresholds": _plain(self.thresholds),
        }


# ----------------------------------------------------------------------------- draws
def _posterior(idata: Any):
    from .diagnostics import posterior_dataset

    return posterior_dataset(idata)


def parameter_draws(idata: Any, em: EMResult) -> np.ndarray:
    """Posterior draws flattened in the order of ``em.param_names()``.

    Parameters
    ----------
    idata : xarray.DataTree
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
    post = _posterior(idata)
    k = em.n_components
    missing = [v for v in ("weights", "coef") if v not in post]
    if missing:
        raise ValueError(
            f"the posterior has no {missing} variables (it has {list(post.data_vars)}); pass "
            "a posterior of the mixture-of-regressions model."
        )
    kk = int(post.sizes.get("component", -1))
    if kk != k:
        raise ValueError(
            f"the posterior has {kk} components but the EM fit has K={k}; sample and fit the "
            "same number of components."
        )
    order = ("chain", "draw", "component")
    w = post["weights"].transpose(*order).values
    if em.fit_intercept:
        if "intercept" not in post:
            raise ValueError(
                "the EM fit has intercepts but the posterior has none; sample with "
                "fit_intercept=True."
            )
        b = post["intercept"].transpose(*order).values
    else:
        b = np.zeros_like(w)
    coef = post["coef"].transpose(*order, "feature")
    feats = [str(f) for f in coef["feature"].values] if "feature" in coef.coords else None
    if coef.sizes["feature"] != em.n_features or (
        feats is not None and feats != list(em.feature_names)
    ):
        raise ValueError(
            f"the posterior's features {feats} do not match the EM fit's {em.feature_names}; "
            "fit and sample the same predictors in the same order."
        )
    c = coef.values
    setting = em.sigma_setting
    if setting in ("shared", "component"):
        if "sigma" not in post:
            raise ValueError(
                f"the EM fit estimated sigma ({setting!r}) but the posterior has no 'sigma'; "
                "sample with the same sigma setting."
            )
        s_da = post["sigma"]
        has_comp = "component" in s_da.dims
        if has_comp != (setting == "component"):
            raise ValueError(
                f"sigma is {'per component' if has_comp else 'shared'} in the posterior but "
                f"{setting!r} in the EM fit; use the same sigma setting for both."
            )
        s = s_da.transpose(*order).values if has_comp else s_da.transpose("chain", "draw").values
    else:
        if "sigma" in post:
            raise ValueError(
                "the EM fit used a known sigma but the posterior estimated one; sample with the "
                "same known sigma."
            )
        s = None
    return flatten(w, b, c, s, fit_intercept=em.fit_intercept, sigma_setting=setting)


def _em_vector(em: EMResult) -> tuple[np.ndarray, np.ndarray]:
    """EM estimate and standard errors in the order of ``em.param_names()`` (NaN if no SE)."""
    est = flatten(
        em.weights,
        em.intercept,
        em.coef,
        em.sigma,
        fit_intercept=em.fit_intercept,
        sigma_setting=em.sigma_setting,
    )
    se = em.standard_errors or {}
    k, p = em.n_components, em.n_features

    def get(name, shape):
        v = se.get(name)
        if v is None:
            return np.full(shape, np.nan)
        return np.broadcast_to(np.asarray(v, dtype=float), shape)

    se_vec = flatten(
        get("weights", (k,)),
        get("intercept", (k,)),
        get("coef", (k, p)),
        get("sigma", (k,) if em.sigma_setting == "component" else ()),
        fit_intercept=em.fit_intercept,
        sigma_setting=em.sigma_setting,
    )
    return est, se_vec


def _summaries(draws: np.ndarray, hdi_prob: float) -> dict[str, np.ndarray]:
    """Posterior mean, median, sd and HDI of (chain, draw, P) draws, each of shape (P,)."""
    import arviz_stats as azs

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


def _diag_column(frame: pd.DataFrame, column: str, names: list[str]) -> np.ndarray:
    """A column of the diagnosis' R-hat/ESS tables in the order of ``names`` (NaN if absent)."""
    return frame[column].reindex(names).to_numpy(dtype=float)


def _n_divergent(idata: Any) -> int:
    if "sample_stats" not in idata.children:
        return 0
    ss = idata["sample_stats"].to_dataset()
    if "diverging" not in ss:
        return 0
    return int(np.asarray(ss["diverging"].values, dtype=bool).sum())


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("mlrbayes", "numpy", "scipy", "pandas", "pymc", "pytensor", "arviz", "nutpie"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _fmt(v: float) -> str:
    return "nan" if not np.isfinite(v) else f"{v:.3g}"


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
    idata : xarray.DataTree
        From :func:`mlrbayes.bayes.sample_posterior` (or ``load_posterior``), same K, features
        and sigma setting as the EM fit.
    X : array-like of shape (n_samples, n_features), optional
    y : array-like of shape (n_samples,), optional
        The data; default: ``constant_data.X`` and ``observed_data.y`` of ``idata``.
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
    hdi_prob = check_positive_float(hdi_prob, "hdi_prob")
    if not 0 < hdi_prob < 1:
        raise ValueError(f"hdi_prob must be in (0, 1); got {hdi_prob!r}, e.g. use 0.94.")
    rhat_max = check_positive_float(rhat_max, "rhat_max")
    ess_min_per_chain = check_positive_float(ess_min_per_chain, "ess_min_per_chain")
    z_max = check_positive_float(z_max, "z_max")
    se_ratio_max = check_positive_float(se_ratio_max, "se_ratio_max")
    if se_ratio_max <= 1:
        raise ValueError(f"se_ratio_max must be > 1; got {se_ratio_max!r}, e.g. use 2.")
    raw_draws = parameter_draws(idata, em_result)  # validates the posterior against the fit
    Xa, ya = _data(idata, X, y, em_result)

    from . import diagnostics

    if method == "auto":
        n_chain, n_draw = raw_draws.shape[:2]
        size = n_chain * n_draw * Xa.shape[0] * em_result.n_components * 8
        method = "stephens" if size <= STEPHENS_MAX_BYTES else "pivot"
    diagnosis = diagnostics.diagnose(
        idata, Xa, ya, em=em_result, method=method, **(diagnose_kwargs or {})
    )
    rel = diagnosis.relabelled
    draws = parameter_draws(rel, em_result)
    return _build(
        em_result,
        idata,
        rel,
        raw_draws,
        draws,
        diagnosis,
        Xa,
        ya,
        hdi_prob=hdi_prob,
        method=method,
        thresholds={
            "rhat_max": rhat_max,
            "ess_min_per_chain": ess_min_per_chain,
            "z_max": z_max,
            "se_ratio_max": se_ratio_max,
        },
        extra_settings=settings or {},
    )


def _data(idata, X, y, em):
    from ._validation import check_X_y

    if X is None or y is None:
        if X is not None or y is not None:
            raise ValueError("pass both X and y, or neither (then they are read from idata).")
        try:
            X = idata["constant_data"].to_dataset()["X"].values
            y = idata["observed_data"].to_dataset()["y"].values
        except KeyError as exc:
            raise ValueError(
                "X and y were not given and idata has no constant_data.X / observed_data.y; "
                "pass the data with X=..., y=...."
            ) from exc
    Xa, ya, _, _ = check_X_y(X, y)
    if Xa.shape[1] != em.n_features or Xa.shape[0] != em.n_samples:
        raise ValueError(
            f"the data have shape {Xa.shape} but the EM fit used {em.n_samples} rows and "
            f"{em.n_features} predictors; pass the data the fit was made on."
        )
    return Xa, ya


def _build(
    em,
    idata_raw,
    idata_rel,
    raw_draws,
    draws,
    diagnosis,
    X,
    y,
    *,
    hdi_prob,
    method,
    thresholds,
    extra_settings,
) -> Comparison:
    names = em.param_names()
    est, se = _em_vector(em)
    s = _summaries(draws, hdi_prob)
    before = {c: _diag_column(diagnosis.rhat_before, c, names) for c in ("rhat", "ess_bulk")}
    for c in ("rhat", "ess_bulk", "ess_tail"):
        s[c] = _diag_column(diagnosis.rhat_after, c, names)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (est - s["post_mean"]) / s["post_sd"]
        se_ratio = se / s["post_sd"]
    in_hdi = (est >= s["hdi_low"]) & (est <= s["hdi_high"])
    flags = []
    for i in range(len(names)):
        f = []
        if np.isfinite(z[i]) and abs(z[i]) > thresholds["z_max"]:
            f.append(f"|z| = {abs(z[i]):.2f} > {thresholds['z_max']:g}")
        if not in_hdi[i]:
            f.append(f"EM outside the {hdi_prob:.0%} HDI")
        r = se_ratio[i]
        if np.isfinite(r) and not (
            1.0 / thresholds["se_ratio_max"] <= r <= thresholds["se_ratio_max"]
        ):
            f.append(
                f"SE ratio {r:.2f} outside [{1 / thresholds['se_ratio_max']:.2g}, "
                f"{thresholds['se_ratio_max']:g}]"
            )
        flags.append("; ".join(f))
    table = pd.DataFrame(
        {
            "name": names,
            "em": est,
            "em_se": se,
            "post_mean": s["post_mean"],
            "post_median": s["post_median"],
            "post_sd": s["post_sd"],
            "hdi_low": s["hdi_low"],
            "hdi_high": s["hdi_high"],
            "z": z,
            "in_hdi": in_hdi,
            "se_ratio": se_ratio,
            "rhat": s["rhat"],
            "ess_bulk": s["ess_bulk"],
            "ess_tail": s["ess_tail"],
            "flag": flags,
        },
        columns=list(TABLE_COLUMNS),
    )
    convergence = pd.DataFrame(
        {
            "name": names,
            "rhat_before": before["rhat"],
            "ess_bulk_before": before["ess_bulk"],
            "rhat_after": s["rhat"],
            "ess_bulk_after": s["ess_bulk"],
        }
    )
    n_chains, n_draws = draws.shape[:2]
    n_div = _n_divergent(idata_raw)
    post_attrs = dict(idata_raw["posterior"].attrs)
    sampler = {
        "name": post_attrs.get("sampler", "unknown"),
        "chains": int(n_chains),
        "draws": int(n_draws),
        "tune": _plain(post_attrs.get("tune", extra_settings.get("tune"))),
        "n_divergent": n_div,
        "rhat_max_before": _nanmax(before["rhat"]),
        "rhat_max_after": _nanmax(s["rhat"]),
        "ess_bulk_min_before": _nanmin(before["ess_bulk"]),
        "ess_bulk_min_after": _nanmin(s["ess_bulk"]),
        "random_state": _plain(post_attrs.get("random_state")),
        "init": _plain(extra_settings.get("init", post_attrs.get("init"))),
        "warnings": list(extra_settings.get("sampler_warnings", [])),
    }
    label_switching, multimodality = _diagnosis_parts(diagnosis, method)
    verdict, reasons = _verdict(
        em, table, sampler, multimodality, label_switching, thresholds, hdi_prob
    )
    settings = {
        "n": int(X.shape[0]),
        "K": em.n_components,
        "features": list(em.feature_names),
        "target": em.target_name,
        "sigma": _sigma_text(em),
        "fit_intercept": bool(em.fit_intercept),
        "priors": _plain(post_attrs.get("priors")),
        "versions": _versions(),
    }
    settings.update(
        {k: _plain(v) for k, v in extra_settings.items() if k not in ("init", "sampler_warnings")}
    )
    return Comparison(
        verdict=verdict,
        reasons=tuple(reasons),
        table=table,
        convergence=convergence,
        hdi_prob=float(hdi_prob),
        label_switching=label_switching,
        multimodality=multimodality,
        sampler=sampler,
        em=em,
        idata=idata_rel,
        idata_raw=idata_raw,
        diagnosis=diagnosis,
        settings=settings,
        thresholds=dict(thresholds),
        X=X,
        y=y,
    )


def _nanmax(a):
    a = np.asarray(a, dtype=float)
    return float(np.nanmax(a)) if np.any(np.isfinite(a)) else None


def _nanmin(a):
    a = np.asarray(a, dtype=float)
    return float(np.nanmin(a)) if np.any(np.isfinite(a)) else None


def _sigma_text(em: EMResult) -> str:
    if em.sigma_setting == "shared":
        return "shared: one noise sd, estimated (EM: maximum likelihood; posterior: sampled)"
    if em.sigma_setting == "component":
        return "component: one noise sd per component, estimated by both"
    return f"known: fixed at {np.asarray(em.sigma).tolist()} in both EM and the posterior"


def _diagnosis_parts(diagnosis, method) -> tuple[dict, dict]:
    """Label-switching and multimodality summaries (plain dicts) from a Diagnosis."""
    perms = np.asarray(diagnosis.permutations)
    moved = np.any(perms != np.arange(perms.shape[-1]), axis=-1)  # (chain, draw)
    ls = diagnosis.label_switching
    label_switching = {
        "detected": bool(ls.detected),
        "method": diagnosis.method,
        "reference": ls.reference,
        "share_relabelled": float(moved.mean()),
        "chains_relabelled": moved.mean(axis=1).tolist(),
        "chains_disagree": bool(ls.chains_disagree),
        "chain_groups": [list(g) for g in ls.chain_groups],
        "switch_fraction": np.asarray(ls.switch_fraction, dtype=float).tolist(),
        "diagnosis": diagnosis.verdict,
        "reasons": list(diagnosis.reasons),
    }
    mm = diagnosis.multimodality
    modes = []
    for m in mm.modes:
        modes.append(
            {
                "index": int(m.index),
                "share": float(m.share_chains),
                "share_draws": float(m.share_draws),
                "chains": [int(c) for c in m.chains],
                "em_optimum": m.em_optimum,
                "contains_em": m.em_optimum == 0,
                "distance_to_em": float(m.distance_to_em),
                "mean_loglik": float(m.mean_loglik),
                "loglik_at_mean": float(m.loglik_at_mean),
                "weights": np.asarray(m.weights, dtype=float).tolist(),
                "intercept": np.asarray(m.intercept, dtype=float).tolist(),
                "coef": np.asarray(m.coef, dtype=float).tolist(),
                "sigma": np.asarray(m.sigma, dtype=float).tolist(),
            }
        )
    multimodality = {
        "detected": bool(mm.detected),
        "n_modes": len(modes),
        "modes": modes,
        "chain_mode": np.asarray(mm.chain_mode).tolist(),
    }
    return label_switching, multimodality


def _verdict(em, table, sampler, multimodality, label_switching, thresholds, hdi_prob):
    reasons_inc: list[str] = []
    if sampler["n_divergent"] > 0:
        reasons_inc.append(
            f"the sampler reported {sampler['n_divergent']} divergent transitions: the "
            "posterior sample may be biased (increase tune / target_accept, or check the model)"
        )
    rhat_after = table["rhat"].to_numpy(dtype=float)
    bad_rhat = table["name"][~(rhat_after <= thresholds["rhat_max"])].tolist()
    if bad_rhat:
        reasons_inc.append(
            f"chains did not converge after relabelling: R-hat > {thresholds['rhat_max']:g} "
            f"for {', '.join(bad_rhat)} (max {_fmt(np.nanmax(rhat_after))})"
        )
    ess_min = thresholds["ess_min_per_chain"] * sampler["chains"]
    ess = table["ess_bulk"].to_numpy(dtype=float)
    low_ess = table["name"][~(ess >= ess_min)].tolist()
    if low_ess:
        reasons_inc.append(
            f"too few effective draws: bulk ESS < {ess_min:g} "
            f"({thresholds['ess_min_per_chain']:g} per chain) for {', '.join(low_ess)} "
            f"(min {_fmt(np.nanmin(ess))}); draw more"
        )
    if multimodality.get("detected"):
        modes = multimodality.get("modes", [])
        desc = "; ".join(
            f"mode {i}: {_fmt(100 * m.get('share', np.nan))}% of chains"
            + (" (contains the EM estimate)" if m.get("contains_em") else "")
            for i, m in enumerate(modes)
        )
        # the cause comes first: split modes also inflate R-hat and deflate ESS
        reasons_inc.insert(
            0,
            f"the posterior is genuinely multimodal ({len(modes)} modes not related by "
            f"relabelling: {desc}); a single EM estimate cannot summarise it",
        )
    if not em.converged:
        reasons_inc.append(f"EM did not converge ({em.n_iter} iterations); refit with more")
    if em.degenerate:
        reasons_inc.append("EM ended at a degenerate (collapsed) component")
    switching = []
    if label_switching.get("detected"):
        switching.append(
            f"label switching was found and resolved by relabelling to the EM labels "
            f"({label_switching.get('method')}, "
            f"{_fmt(100 * label_switching.get('share_relabelled', np.nan))}% of draws relabelled)"
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
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    n_em_chains: int | None = None,
    sampler: str = "auto",
    priors: dict[str, Any] | None = None,
    random_state: Any = None,
    hdi_prob: float = 0.94,
    method: str = "auto",
    progressbar: bool | None = False,
    on_em: Any = None,
    on_posterior: Any = None,
    em_kwargs: dict[str, Any] | None = None,
    sample_kwargs: dict[str, Any] | None = None,
    compare_kwargs: dict[str, Any] | None = None,
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
    draws, tune, chains : int
        Per chain.
    n_em_chains : int, optional
        Chains started at EM optima (best first, then the other non-degenerate optima of the
        census, cycled); the remaining chains start from :func:`dispersed_starts`. Default:
        half of the chains, rounded up.
    sampler : {"auto", "pymc", "nutpie"}
    priors : dict, optional
        Passed to :func:`mlrbayes.bayes.sample_posterior`.
    random_state : int or None
        Seeds EM, the dispersed starts and the sampler (each from its own child seed).
    hdi_prob, method
        As in :func:`compare`.
    progressbar : bool, optional
    on_em : callable, optional
        Called with the EMResult as soon as EM is done (e.g. to save it).
    on_posterior : callable, optional
        Called with the posterior DataTree as soon as sampling is done.
    em_kwargs, sample_kwargs, compare_kwargs : dict, optional
        Extra arguments for :func:`mlrbayes.em.fit_em`, ``sample_posterior`` and
        :func:`compare`.

    Returns
    -------
    Comparison
        Sampler warnings (divergences, R-hat) are not raised: they are recorded in
        ``Comparison.sampler["warnings"]`` and drive the verdict.
    """
    import warnings

    from ._validation import check_positive_int, check_random_state, check_sigma, check_X_y
    from .em import fit_em

    Xa, ya, names, yname = check_X_y(X, y)
    sig = check_sigma(sigma, n_components if isinstance(n_components, int) else None)
    chains = check_positive_int(chains, "chains")
    n_em = (chains + 1) // 2 if n_em_chains is None else int(n_em_chains)
    if not 0 <= n_em <= chains:
        raise ValueError(f"n_em_chains must be between 0 and chains={chains}; got {n_em_chains}.")
    if isinstance(random_state, np.random.Generator):
        raise TypeError(
            "validate needs an int seed (or None) so the report can record it; got a Generator."
        )
    seeds = np.random.SeedSequence(random_state).spawn(3)
    em_seed, start_seed, sample_seed = (int(sq.generate_state(1)[0]) for sq in seeds)
    Xdf = pd.DataFrame(Xa, columns=names)
    yser = pd.Series(ya, name=yname)
    em = fit_em(
        Xdf,
        yser,
        n_components,
        sigma=sig,
        n_init=n_init,
        random_state=em_seed,
        **(em_kwargs or {}),
    )
    if on_em is not None:
        on_em(em)
    good = [o for o in em.optima if not o.degenerate] or list(em.optima[:1])
    em_starts: list[Any] = [em if i == 0 else good[i] for i in range(min(len(good), n_em))]
    while em_starts and len(em_starts) < n_em:
        em_starts.append(em_starts[len(em_starts) % max(len(good), 1)])
    rng = check_random_state(start_seed)
    disp = dispersed_starts(Xa, ya, em.n_components, chains - n_em, sigma=sig, rng=rng)
    init = [*em_starts, *disp]
    init_text = (
        f"{len(em_starts)} chain(s) at EM optima "
        f"({', '.join('#' + str(good.index(o)) if o is not em else '#0' for o in em_starts)}), "
        f"{len(disp)} at dispersed points"
    )

    from . import bayes

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bayes.SamplingWarning)
        idata = bayes.sample_posterior(
            Xdf,
            yser,
            em.n_components,
            sigma=sig,
            fit_intercept=em.fit_intercept,
            priors=priors,
            draws=draws,
            tune=tune,
            chains=chains,
            sampler=sampler,
            init=init,
            random_state=sample_seed,
            progressbar=progressbar,
            **(sample_kwargs or {}),
        )
    sampler_warnings = []
    for w in caught:
        if issubclass(w.category, bayes.SamplingWarning):
            sampler_warnings.append(" ".join(str(w.message).split()))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if on_posterior is not None:
        on_posterior(idata)
    prior_spec = bayes.default_priors(Xa, ya)
    if priors:
        prior_spec = bayes._merge_priors(prior_spec, priors)
    return compare(
        em,
        idata,
        X=Xa,
        y=ya,
        hdi_prob=hdi_prob,
        method=method,
        settings={
            "priors": prior_spec,
            "tune": tune,
            "init": init_text,
            "sampler_warnings": sampler_warnings,
            "seed": random_state,
            "em_seed": em_seed,
            "sampler_seed": sample_seed,
            "n_init": n_init,
        },
        **(compare_kwargs or {}),
    )
