"""Short, readable summaries of results: a one-line ``repr``, text, pandas and HTML.

:class:`~mlrbayes.em.EMResult`, :class:`~mlrbayes.compare.Comparison` and
:class:`~mlrbayes.diagnostics.Diagnosis` delegate their ``__repr__``, ``summary()``,
``to_frame()`` and ``_repr_html_`` here, so the classes stay data and the formatting lives in
one place (the CLI prints the same text).

The EM summary follows R's ``summary(flexmix)`` / ``summary(regmixEM)``: per component the
estimate, its standard error (observed information, Louis 1982), ``z = estimate / se`` and the
two-sided normal p-value ``2 * (1 - Phi(|z|))``. z and p are given for the regression
coefficients (intercepts and slopes) only: a weight or a sd tested against 0 sits on the
boundary of its parameter space, where the normal reference does not hold.

Fields a result may lack (standard errors of a result read from an older file, findings of a
duck-typed diagnosis) are read with :func:`getattr` and a default.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from .params import flatten

__all__ = [
    "Summary",
    "census_line",
    "comparison_frame",
    "comparison_repr",
    "comparison_summary",
    "diagnosis_frame",
    "diagnosis_repr",
    "diagnosis_summary",
    "em_frame",
    "em_repr",
    "em_summary",
    "html_table",
]

#: Columns of :func:`em_frame`.
EM_COLUMNS = ("component", "term", "estimate", "se", "z", "p")


class Summary(str):
    """Plain text that shows as itself: ``print(s)``, a notebook cell, ``repr(s)``.

    A ``str`` (so it can be written, compared and searched like one) that also carries the
    numbers as a DataFrame (:meth:`to_frame`) and an HTML form for Jupyter (``_repr_html_``).
    """

    _html: str
    _frame: pd.DataFrame | None

    def __new__(cls, text: str, *, html_text: str = "", frame: pd.DataFrame | None = None):
        obj = super().__new__(cls, text)
        obj._html = html_text
        obj._frame = frame
        return obj

    def __repr__(self) -> str:
        return str.__str__(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's text display
        printer.text(str.__str__(self))

    def _repr_html_(self) -> str:
        return self._html or f"<pre>{html.escape(str.__str__(self))}</pre>"

    def to_frame(self) -> pd.DataFrame:
        """The table behind the text (a copy)."""
        return pd.DataFrame() if self._frame is None else self._frame.copy()


# ----------------------------------------------------------------------------- formatting
def _num(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; NaN/None as ``-``."""
    if value is None:
        return "-"
    v = float(value)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}g}"


def _pvalue(p: float) -> str:
    """R's style: ``<2e-16`` below machine precision, 3 significant digits otherwise."""
    if math.isnan(p):
        return "-"
    return "<2e-16" if p < 2e-16 else f"{p:.3g}"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _text_table(frame: pd.DataFrame, formats: dict[str, Any], indent: str = "  ") -> list[str]:
    """Right-aligned columns (first column left-aligned), one line per row."""
    cols = list(frame.columns)
    cells = [[str(c) for c in cols]]
    for _, row in frame.iterrows():
        cells.append([formats.get(c, str)(row[c]) for c in cols])
    widths = [max(len(r[j]) for r in cells) for j in range(len(cols))]
    lines = []
    for r in cells:
        parts = [r[0].ljust(widths[0])] + [r[j].rjust(widths[j]) for j in range(1, len(cols))]
        lines.append(indent + "  ".join(parts).rstrip())
    return lines


def html_table(frame: pd.DataFrame, formats: dict[str, Any] | None = None) -> str:
    """A small HTML table, every cell escaped; numbers formatted by ``formats``."""
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        tds = "".join(f"<td>{html.escape(formats.get(c, str)(row[c]))}</td>" for c in frame.columns)
        rows.append(f"<tr>{tds}</tr>")
    return (
        '<table class="mlrbayes-summary"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _html_block(title: str, lines: Iterable[str], table: str) -> str:
    items = "".join(f"<li>{html.escape(x)}</li>" for x in lines)
    return (
        f"<div><strong>{html.escape(title)}</strong>"
        + (f"<ul>{items}</ul>" if items else "")
        + table
        + "</div>"
    )


# ----------------------------------------------------------------------------- EM
def _se_vector(em: Any) -> np.ndarray:
    """Standard errors in the order of ``em.param_names()`` (NaN where unavailable)."""
    k, p = em.n_components, em.n_features
    se = dict(getattr(em, "standard_errors", {}) or {})

    def get(key: str, shape: tuple[int, ...]) -> np.ndarray:
        value = se.get(key)
        if value is None:
            return np.full(shape, np.nan)
        return np.broadcast_to(np.asarray(value, dtype=float), shape)

    sig_shape = (k,) if em.sigma_setting == "component" else ()
    return _in_order(em, get("weights", (k,)), get("intercept", (k,)), get("coef", (k, p)),
                     get("sigma", sig_shape))  # fmt: skip


def _in_order(em: Any, weights: Any, intercept: Any, coef: Any, sigma: Any) -> np.ndarray:
    """Values in the order of ``em.param_names()``."""
    return flatten(weights, intercept, coef, sigma, fit_intercept=em.fit_intercept,
                   sigma_setting=em.sigma_setting)  # fmt: skip


def em_frame(em: Any) -> pd.DataFrame:
    """One row per parameter of an EM fit: estimate, standard error, z and p-value.

    Parameters
    ----------
    em : EMResult

    Returns
    -------
    pandas.DataFrame
        Index: parameter names (:func:`mlrbayes.params.param_names`); columns ``component``
        (int, or -1 for a shared sd), ``term`` (``weight``, ``intercept``, a predictor's name,
        ``sigma``), ``estimate``, ``se``, ``z = estimate / se`` and ``p = 2 (1 - Phi(|z|))``
        (two-sided, standard normal). ``z`` and ``p`` are NaN for weights and sds (bounded
        parameters, see the module docstring) and wherever the SE is unavailable.
    """
    names = em.param_names()
    est = _in_order(em, em.weights, em.intercept, em.coef, em.sigma)
    se = _se_vector(em)
    component, term = [], []
    for name in names:
        head, _, rest = name.partition("[")
        parts = rest.rstrip("]").split(",", 1) if rest else []
        component.append(int(parts[0]) if parts else -1)
        term.append({"weights": "weight"}.get(head, parts[1] if head == "coef" else head))
    frame = pd.DataFrame(
        {"component": component, "term": term, "estimate": est, "se": se}, index=names
    )
    tested = frame["term"].isin(["weight", "sigma"]).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(tested | ~(se > 0), np.nan, est / se)
    frame["z"] = z
    frame["p"] = 2.0 * norm.sf(np.abs(z))
    frame.index.name = "name"
    return frame


def census_line(em: Any) -> str:
    """The census in two lines: optima, starts reaching the best, how complete it looks.

    The completeness figures are the result's own (``n_best_starts``, ``n_singleton_optima``
    and the Good–Turing ``p_new_optimum``: optima reached once / starts).
    """
    optima = list(em.optima)
    n_starts = len(em.starts)
    if not optima:
        return "census: not available"
    best, singletons, good_turing = em.n_best_starts, em.n_singleton_optima, em.p_new_optimum
    degenerate = sum(1 for o in optima if o.degenerate)
    deg = f" ({degenerate} degenerate)" if degenerate else ""
    return (
        f"census: {_plural(len(optima), 'distinct optimum', 'distinct optima')}{deg} from "
        f"{_plural(n_starts, 'start')}; the best reached by {best} of {n_starts}\n"
        f"        {_plural(int(singletons), 'optimum', 'optima')} reached by one start only: "
        f"one more start finds a new optimum with chance ~ {_num(good_turing, 2)} (Good-Turing)"
    )


def _status_line(em: Any) -> str:
    if em.degenerate:
        state = "DEGENERATE: a component emptied or collapsed (the likelihood is unbounded there)"
    elif em.converged:
        state = f"converged in {em.n_iter} iterations"
    else:
        state = f"NOT converged: stopped after {em.n_iter} iterations"
    notes = tuple(getattr(em, "notes", ()) or ())
    return state + (f"; {_plural(len(notes), 'numerical note')}" if notes else "")


def _em_header(em: Any) -> list[str]:
    target = getattr(em, "target_name", "y") or "y"
    names = list(em.feature_names)
    rhs = " + ".join(names) if len(names) <= 6 else f"{len(names)} predictors"
    if not em.fit_intercept:
        rhs += " - 1"
    return [
        f"Mixture of {em.n_components} linear regressions, fitted by EM: {target} ~ {rhs}",
        f"n = {em.n_samples}, sigma {em.sigma_setting}, {em.n_parameters} free parameters",
        f"log-likelihood {em.loglik:.4f}   AIC {em.aic:.4f}   BIC {em.bic:.4f}   ICL {em.icl:.4f}",
        _status_line(em),
        census_line(em),
    ]


def _fixed(value: Any) -> str:
    """Two decimals (R prints z values this way); NaN as ``-``."""
    return "-" if value is None or math.isnan(float(value)) else f"{float(value):.2f}"


_EM_FORMATS = {
    "estimate": _num,
    "se": _num,
    "z": _fixed,
    "p": _pvalue,
}


def _sigma_text(em: Any, frame: pd.DataFrame) -> str:
    if em.sigma_setting == "known":
        values = np.atleast_1d(np.asarray(em.sigma, dtype=float))
        return f"sigma (known): {', '.join(_num(v) for v in values)}"
    rows = frame[frame["term"] == "sigma"]
    parts = [
        f"{('sigma' if c < 0 else f'sigma[{c}]')} {_num(e)} (se {_num(s)})"
        for c, e, s in zip(rows["component"], rows["estimate"], rows["se"], strict=True)
    ]
    return "; ".join(parts)


def em_summary(em: Any) -> Summary:
    """R-style summary of an EM fit (see the module docstring); ``.to_frame()`` is
    :func:`em_frame`."""
    frame = em_frame(em)
    lines = _em_header(em)
    coefs = frame[~frame["term"].isin(["weight", "sigma"])]
    table = coefs[["term", *EM_COLUMNS[2:]]]
    text = _text_table(table, _EM_FORMATS)  # one set of column widths for every component
    blocks = []
    for j in range(em.n_components):
        w = frame.loc[f"weights[{j}]"]
        title = f"component {j}: weight {_num(w['estimate'])} (se {_num(w['se'])})"
        rows = np.flatnonzero(coefs["component"].to_numpy() == j)
        lines += ["", title, text[0], *(text[1 + i] for i in rows)]
        blocks.append((title, table.iloc[rows]))
    lines += ["", _sigma_text(em, frame)]
    html_text = _html_block(
        lines[0],
        [*lines[1:4], *lines[4].split("\n"), _sigma_text(em, frame)],
        "".join(f"<p>{html.escape(t)}</p>" + html_table(tab, _EM_FORMATS) for t, tab in blocks),
    )
    return Summary("\n".join(lines), html_text=html_text, frame=frame)


def em_repr(em: Any) -> str:
    """One line, whatever the size of the data (no arrays)."""
    state = "degenerate" if em.degenerate else ("converged" if em.converged else "not converged")
    return (
        f"EMResult(K={em.n_components}, sigma={em.sigma_setting!r}, n={em.n_samples}, "
        f"p={em.n_features}, loglik={em.loglik:.6g}, bic={em.bic:.6g}, {state}, "
        f"optima={len(em.optima)}, starts={len(em.starts)})"
    )


# ----------------------------------------------------------------------------- comparison
_CMP_COLUMNS = ("em", "em_se", "post_mean", "post_sd", "hdi_low", "hdi_high", "z", "se_ratio")
_CMP_FORMATS = {
    "em": _num,
    "em_se": _num,
    "post_mean": _num,
    "post_sd": _num,
    "z": lambda v: _num(v, 2),
    "se_ratio": lambda v: _num(v, 3),
    "rhat": lambda v: _num(v, 4),
    "ess_bulk": lambda v: _num(v, 4),
    "flag": str,
}


def comparison_frame(cmp: Any) -> pd.DataFrame:
    """The comparison table indexed by parameter name (a copy of ``cmp.table``)."""
    return cmp.table.set_index("name").copy()


def _compact(cmp: Any) -> pd.DataFrame:
    t = cmp.table
    level = f"{100 * float(cmp.hdi_prob):g}% HDI"
    out = pd.DataFrame({"name": t["name"]})
    for col in ("em", "em_se", "post_mean", "post_sd"):
        out[col] = t[col]
    bounds = zip(t["hdi_low"], t["hdi_high"], strict=True)
    out[level] = [f"[{_num(a)}, {_num(b)}]" for a, b in bounds]
    for col in ("z", "se_ratio", "rhat", "ess_bulk", "flag"):
        if col in t:
            out[col] = t[col]
    return out


def _sampler_line(cmp: Any) -> str:
    s = dict(getattr(cmp, "sampler", {}) or {})
    tune = f" (tune {s['tune']})" if s.get("tune") is not None else ""
    parts = [
        f"sampler {s.get('name', '?')}: {s.get('chains', '?')} chains x {s.get('draws', '?')} "
        f"draws{tune}",
        f"{s.get('n_divergent', 0)} divergences",
    ]
    after, before = s.get("rhat_max_after"), s.get("rhat_max_before")
    if after is not None:
        parts.append(
            f"max R-hat {_num(after, 4)} after relabelling ({_num(before, 4)} before, as sampled)"
        )
    if s.get("ess_bulk_min_after") is not None:
        parts.append(f"min bulk ESS {_num(s['ess_bulk_min_after'], 4)}")
    return "; ".join(parts)


def comparison_summary(cmp: Any) -> Summary:
    """Verdict, reasons, sampler health, diagnosis and the compact EM-vs-posterior table."""
    diag = cmp.diagnosis
    head = f"EM vs posterior: verdict {cmp.verdict}"
    info = [
        _sampler_line(cmp),
        f"diagnosis: {diag.verdict} (relabelled by {diag.method})",
    ]
    table = _compact(cmp)
    formats = {**_CMP_FORMATS, table.columns[5]: str}  # the HDI column, already text
    lines = [head, *[f"  - {r}" for r in cmp.reasons], *info, ""]
    lines += _text_table(table, formats, indent="")
    html_text = _html_block(head, [*cmp.reasons, *info], html_table(table, formats))
    return Summary("\n".join(lines), html_text=html_text, frame=comparison_frame(cmp))


def comparison_repr(cmp: Any) -> str:
    s = dict(getattr(cmp, "sampler", {}) or {})
    flagged = int((cmp.table["flag"] != "").sum()) if "flag" in cmp.table else 0
    return (
        f"Comparison(verdict={cmp.verdict!r}, K={cmp.em.n_components}, n={cmp.em.n_samples}, "
        f"parameters={len(cmp.table)}, flagged={flagged}, diagnosis={cmp.diagnosis.verdict!r}, "
        f"sampler='{s.get('name', '?')} {s.get('chains', '?')}x{s.get('draws', '?')}')"
    )


# ----------------------------------------------------------------------------- diagnosis
def _finding_text(finding: Any) -> str:
    """A finding (code with its numbers) as one line, whatever its type."""
    if isinstance(finding, dict):
        code = finding.get("code", "")
        rest = ", ".join(f"{k} {v}" for k, v in finding.items() if k != "code")
        return f"{code}: {rest}" if rest else str(code)
    code = getattr(finding, "code", None)
    if code is not None:
        numbers = getattr(finding, "numbers", None) or getattr(finding, "details", None)
        if isinstance(numbers, dict) and numbers:
            return f"{code}: " + ", ".join(f"{k} {v}" for k, v in numbers.items())
        message = getattr(finding, "message", "")
        return f"{code}: {message}" if message else str(code)
    return str(finding)


def findings_lines(diag: Any) -> list[str]:
    """``Diagnosis.findings`` (when the result has them) as one line each."""
    return [_finding_text(f) for f in (getattr(diag, "findings", None) or ())]


def diagnosis_frame(diag: Any) -> pd.DataFrame:
    """R-hat and bulk/tail ESS per parameter before and after relabelling (``diag.table``)."""
    return diag.table.copy()


def diagnosis_summary(diag: Any) -> Summary:
    """Verdict, findings, reasons and the before/after convergence table."""
    frame = diagnosis_frame(diag)
    findings = findings_lines(diag)
    head = f"verdict: {diag.verdict}"
    lines = [head]
    if findings:
        lines += ["findings:", *[f"  * {f}" for f in findings]]
    lines += [*[f"  - {r}" for r in diag.reasons], ""]
    lines.append(frame.to_string(float_format=lambda v: f"{v:.3f}"))
    shown = frame.reset_index().rename(columns={"index": "name"})
    fmt = {c: (lambda v: _num(v, 4)) for c in frame.columns}
    html_text = _html_block(
        f"diagnosis: {diag.verdict} (relabelled by {diag.method})",
        [*findings, *diag.reasons],
        html_table(shown, fmt),
    )
    return Summary("\n".join(lines), html_text=html_text, frame=frame)


def diagnosis_repr(diag: Any) -> str:
    perms = getattr(diag, "permutations", None)
    shape = getattr(perms, "shape", (0, 0))
    modes = getattr(getattr(diag, "multimodality", None), "modes", ()) or ()
    return (
        f"Diagnosis(verdict={diag.verdict!r}, method={diag.method!r}, chains={shape[0]}, "
        f"draws={shape[1] if len(shape) > 1 else 0}, converged_after={bool(diag.converged_after)}, "
        f"modes={len(modes)})"
    )
