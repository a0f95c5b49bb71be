"""Render a :class:`~mlrbayes.compare.Comparison` as HTML, Markdown and JSON.

:func:`write_report` writes three files into one directory:

``report.html``
    Self-contained: inline CSS, every figure embedded as a base64 PNG ``data:`` URI, no scripts
    and no network resources, so it can be mailed or archived as one file.
``report.md``
    The same sections in Markdown; its figures are PNG files in ``report_files/`` beside it,
    linked by relative paths (so the Markdown renders on GitHub and in editors).
``report.json``
    :meth:`Comparison.to_dict` (the same numbers as the tables; NaN written as ``null``) plus a
    ``report`` entry with the title and creation time.

Everything is first written into a hidden temporary directory inside the target directory and
moved into place only when all of it has been rendered, so a failure or a Ctrl-C leaves no
half-written report (a previous report there is kept until the new one is complete).

Every user-supplied string (column names, the title, notes) is escaped: the HTML template runs
with jinja2 autoescaping on; the Markdown puts names in code spans (fenced to fit any backticks
inside) and escapes only the characters that would start Markdown or HTML syntax in prose
(:mod:`mlrbayes.report.markdown`), so it reads as plain text and renders on GitHub.

Reports of seeded runs are byte-reproducible except the one line that states the generation
time (PNG figures are written without run-dependent metadata).
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from ..calibration import CalibrationResult
from ..compare import Comparison
from ..plots.em import census_sentence
from ..plots.style import line_equation
from .calibration import CALIBRATION_CAPTION, calibration_png, calibration_section
from .figures import (
    FIGURE_NAMES,
    MAX_TRACE_DRAWS,
    MAX_TRACE_PARAMS,
    energy_summary,
    make_figures,
    mcse_mean,
    png_bytes,
)
from .markdown import code_span, md_cell, md_text, plain_symbols

__all__ = [
    "MAX_TRACE_DRAWS",
    "MAX_TRACE_PARAMS",
    "fmt",
    "make_figures",
    "render_html",
    "render_markdown",
    "write_report",
]

REPORT_FILES = ("report.html", "report.md", "report.json")
FIGURE_DIR = "report_files"

_FIGURE_CAPTIONS = {
    "fit": "Data with the EM fitted lines. Each point has the colour of its most probable "
    "component and an opacity that grows with that probability (faint: the data cannot tell "
    "the components apart there); the legend gives, per component, how many points it is most "
    "probable for and its expected count (the sum of its membership probabilities). With "
    "several predictors: residual panels per component.",
    "loglik_trace": "EM log-likelihood by iteration for the best start.",
    "census": "Census of EM optima: log-likelihood of each distinct optimum and how many "
    "random starts reached it.",
    "trace_before": "Posterior draws as sampled (before relabelling), one line per chain.",
    "trace_after": "Posterior draws relabelled to the EM labels, one line per chain.",
    "rank": "Rank plot of the relabelled draws (arviz-plots: difference between each chain's "
    "empirical CDF of fractional ranks and the uniform one, with a simultaneous envelope). "
    "Chains that mix stay inside the envelope.",
    "energy": "NUTS energy: centred marginal energy against energy transitions. Similar "
    "shapes mean the sampler explores the tails; the title gives the BFMI per chain "
    "(below 0.3 is a warning sign).",
    "ppc": "Posterior predictive check: density of the observed response (black) against "
    "responses simulated from evenly spaced posterior draws at the observed predictors (blue).",
    "residuals": "Standardised residuals (y − mean of component k) / σ_k at the posterior "
    "means, each observation weighted by its membership probability, against the standard "
    "normal density (dashed).",
    "prior_posterior": "Prior (dashed) against posterior (solid) density per parameter, over "
    "the posterior's range. A prior that is flat there means the data, not the prior, "
    "determine the estimate.",
    "modes": "Regression lines implied by each posterior mode.",
    "gating": "Gating model: the prior membership probability of each component, "
    "softmax of w·γ, along each gating covariate with the other covariates at their means; "
    "lines at the EM estimate, shaded bands the posterior's pointwise interval (at the HDI "
    "level). Ticks at the bottom: the units' covariate values.",
    "groups": "Membership probabilities of the groups (all observations of a group share one "
    "component): stacked bars at the EM estimate, dots the posterior mean probability of "
    "component 0. A group near 0 or 1 is assigned clearly.",
    "forest": "EM estimate ± {z} standard errors (orange; a normal {pct} interval) against the "
    "posterior mean and {pct} HDI (blue): both intervals at the same level.",
}


# ----------------------------------------------------------------------------- formatting
def fmt(value: Any, digits: int = 4) -> str:
    """Format a number as the reports do: ``digits`` significant digits, ``—`` for missing.

    Parameters
    ----------
    value : float, int, bool, None
    digits : int

    Returns
    -------
    str

    Examples
    --------
    >>> fmt(3.14159), fmt(None), fmt(float("nan")), fmt(12), fmt(True)
    ('3.142', '—', '—', '12', 'yes')
    """
    if value is None:
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "—"
    return f"{v:.{digits}g}"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mlrbayes.report", "templates"),
        # HTML-escape everything except the Markdown template, whose strings go through the
        # ``md`` (prose) and ``code`` (code span) filters instead.
        autoescape=lambda name: name is None or not name.endswith(".md.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    env.filters["md"] = md_text
    env.filters["code"] = code_span
    env.filters["cell"] = md_cell
    env.filters["symbols"] = plain_symbols
    return env


def template_env() -> jinja2.Environment:
    """The reports' jinja2 environment (templates, autoescaping, the ``fmt``/``md`` filters)."""
    return _env()


# ----------------------------------------------------------------------------- figures
def _png(fig, dpi: int) -> bytes:
    return png_bytes(fig, dpi)


def _render_pngs(comparison: Comparison, dpi: int) -> dict[str, bytes]:
    """PNG bytes of :func:`make_figures`, in page order; the figures are closed."""
    with mpl.rc_context({"svg.hashsalt": "mlrbayes"}):
        figs = make_figures(comparison)
        try:
            return {name: _png(figs[name], dpi) for name in FIGURE_NAMES if name in figs}
        finally:
            for fig in figs.values():
                plt.close(fig)


# ----------------------------------------------------------------------------- context
def _context(
    comparison: Comparison,
    *,
    title: str,
    notes: Sequence[str],
    figures: dict[str, str],
    calibration: CalibrationResult | None = None,
) -> dict:
    """Template variables: from ``Comparison.to_dict()``, the figures and the posterior checks
    (MCSE, BFMI) computed from the comparison's draws."""
    d = comparison.to_dict()
    em = d["em"]
    settings = d["settings"]
    census = [
        {
            "rank": i,
            "loglik": o["loglik"],
            "count": o["count"],
            "degenerate": o["degenerate"],
            "weights": _numbers_text(o["weights"]),
            "intercept": _numbers_text(o["intercept"]),
            "coef": _numbers_text(o["coef"]),
        }
        for i, o in enumerate(em["census"])
    ]
    modes = [
        {
            "index": m["index"],
            "share_chains": m["share_chains"],
            "share_draws": m["share_draws"],
            "chains": ", ".join(str(c) for c in m["chains"]),
            "contains_em": m["contains_em"],
            "lines": _mode_lines_text(m, settings["features"], settings["target"]),
        }
        for m in d["multimodality"]["modes"]
    ]
    table = d["parameters"]
    for row, mcse in zip(table, mcse_mean(comparison), strict=True):
        row["mcse_mean"] = float(mcse) if np.isfinite(mcse) else None
    z = float(stats.norm.ppf((1.0 + d["hdi_prob"]) / 2.0))
    hdi_pct = f"{d['hdi_prob']:.0%}"
    captions = dict(_FIGURE_CAPTIONS)
    captions["forest"] = captions["forest"].format(z=f"{z:.3g}", pct=hdi_pct)
    return {
        "title": title,
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "verdict": d["verdict"],
        "reasons": [plain_symbols(r) for r in d["reasons"]],
        "notes": list(notes),
        "settings": settings,
        "sampler": d["sampler"],
        "sampler_warnings": _sampler_warnings(d),
        "table": table,
        "convergence": d["convergence"],
        "em": em,
        "em_rows": [{k: r[k] for k in ("name", "em", "em_se")} for r in d["parameters"]],
        "em_has_se": bool(em["standard_errors"]),
        "census": census,
        "n_starts": int(sum(o["count"] for o in em["census"])),
        "census_sentence": (
            census_sentence(census[0]["loglik"], census[0]["count"]) if len(census) == 1 else ""
        ),
        "K": em["n_components"],
        "modes": modes,
        "diagnosis": d["diagnosis"],
        "mode_comparisons": d.get("mode_comparisons", []),
        "label_switching": d["label_switching"],
        "multimodality": d["multimodality"],
        "figures": {name: figures.get(name) for name in (*FIGURE_NAMES, "calibration")},
        "captions": {**captions, "calibration": CALIBRATION_CAPTION},
        "calibration": calibration_section(calibration),
        "energy": energy_summary(comparison),
        "z_level": z,
        "priors": _priors_text(settings.get("priors")),
        "versions": settings.get("versions", {}),
        "thresholds": d["thresholds"],
        "hdi_pct": hdi_pct,
        "spec": _spec_context(d.get("specification") or {}),
    }


#: Groups listed in the report's group table, least clearly assigned first (all are in the JSON).
MAX_GROUP_ROWS = 20


def _probabilities_text(values: Any) -> str:
    return ", ".join(f"{v:.3f}" for v in np.ravel(np.asarray(values, dtype=float)))


def _spec_context(spec: dict[str, Any]) -> dict[str, Any]:
    """The extended model's parts for the templates; ``any`` is False for the plain model."""
    groups = spec.get("groups")
    rows = []
    if groups:
        post = groups.get("post_membership")
        em_m = np.asarray(groups["em_membership"], dtype=float)
        for i in np.argsort(em_m.max(axis=1), kind="stable")[:MAX_GROUP_ROWS]:
            rows.append(
                {
                    "label": groups["labels"][i],
                    "size": groups["sizes"][i],
                    "em": _probabilities_text(em_m[i]),
                    "post": _probabilities_text(post[i]) if post else "—",
                    "assigned": groups["assigned"][i],
                }
            )
    return {
        "any": bool(spec.get("gating") or spec.get("fixed") or groups or spec.get("weighted")),
        "gating": spec.get("gating"),
        "fixed": spec.get("fixed"),
        "groups": groups,
        "group_rows": rows,
        "weighted": bool(spec.get("weighted")),
    }


def _sampler_warnings(d: dict[str, Any]) -> list[str]:
    """The sampler's messages, each saying it is about the draws before relabelling; an R-hat
    message under label switching also says that this is expected and gives R-hat after."""
    out = []
    switched = bool(d["label_switching"].get("detected"))
    after = d["sampler"].get("rhat_max_after")
    for w in d["sampler"]["warnings"]:
        if "R-hat" in w and switched:
            label = (
                "Before relabelling (expected under label switching, which was found and "
                f"resolved; max R-hat after relabelling {fmt(after)})"
            )
        else:
            label = "Before relabelling"
        out.append(f"{label}: {plain_symbols(w)}")
    return out


def _numbers_text(values: Any) -> str:
    return ", ".join(fmt(v, 3) for v in np.ravel(np.asarray(values, dtype=float)))


def _mode_lines_text(mode: dict, features: Sequence[str], target: str) -> list[str]:
    """One equation per component of a mode, e.g. ``y = 1.2 + 0.5·x (weight 0.4)``."""
    b = np.ravel(np.asarray(mode["intercept"], dtype=float))
    c = np.asarray(mode["coef"], dtype=float).reshape(b.shape[0], -1)
    w = np.ravel(np.asarray(mode["weights"], dtype=float))
    return [
        f"{line_equation(b[k], c[k], features, target)} (weight {fmt(w[k], 2)})"
        for k in range(b.shape[0])
    ]


def _priors_text(priors: Any) -> list[str]:
    if not priors:
        return []
    if isinstance(priors, dict):
        out = []
        for name, spec in priors.items():
            if isinstance(spec, dict):
                inner = ", ".join(f"{k}={_short(v)}" for k, v in spec.items())
                out.append(f"{name}: {inner}")
            else:
                out.append(f"{name}: {_short(spec)}")
        return out
    return [str(priors)]


def _short(v: Any) -> str:
    if isinstance(v, list | tuple | np.ndarray):
        return "[" + ", ".join(fmt(x) for x in np.ravel(np.asarray(v, dtype=float))) + "]"
    return fmt(v)


# ----------------------------------------------------------------------------- renderers
def render_html(
    comparison,
    *,
    title: str = "mlrbayes report",
    notes: Sequence[str] = (),
    figures: dict[str, bytes] | None = None,
    dpi: int = 90,
    calibration: CalibrationResult | None = None,
) -> str:
    """The self-contained HTML report as a string (figures embedded as base64 PNG).

    Parameters
    ----------
    comparison : Comparison
    title : str
    notes : sequence of str
        Extra remarks shown under "Data and settings" (e.g. how sigma was handled and why).
    figures : dict of str to bytes, optional
        PNG bytes by figure name; rendered from the comparison when omitted.
    dpi : int
    calibration : CalibrationResult, optional
        From :func:`mlrbayes.calibrate`: adds the calibration section (table, recommendation,
        coverage figure).

    Returns
    -------
    str
    """
    if figures is None:
        figures = _render_pngs(comparison, dpi)
    if calibration is not None and "calibration" not in figures:
        figures = {**figures, "calibration": calibration_png(calibration, dpi)}
    uris = {
        name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for name, png in figures.items()
    }
    ctx = _context(comparison, title=title, notes=notes, figures=uris, calibration=calibration)
    return _env().get_template("report.html.j2").render(**ctx)


def render_markdown(
    comparison,
    *,
    title: str = "mlrbayes report",
    notes: Sequence[str] = (),
    figure_paths: dict[str, str] | None = None,
    calibration: CalibrationResult | None = None,
) -> str:
    """The Markdown report as a string.

    Parameters
    ----------
    comparison, title, notes
        As in :func:`render_html`.
    figure_paths : dict of str to str, optional
        Relative paths of the figure files by name (as written by :func:`write_report`);
        without them the figures are left out.
    calibration : CalibrationResult, optional
        As in :func:`render_html`.

    Returns
    -------
    str
    """
    figures = dict(figure_paths or {})
    ctx = _context(comparison, title=title, notes=notes, figures=figures, calibration=calibration)
    return _env().get_template("report.md.j2").render(**ctx)


def _json_text(d: dict[str, Any], title: str, notes: Sequence[str]) -> str:
    """``d`` (``Comparison.to_dict()``) with a ``report`` entry, as JSON text."""
    d["report"] = {
        "title": title,
        "notes": list(notes),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "files": list(REPORT_FILES),
    }
    return json.dumps(d, indent=2, allow_nan=False) + "\n"


def _replace_dir(src: Path, dst: Path) -> None:
    """Move directory ``src`` onto ``dst``, replacing an existing ``dst``."""
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_report(
    comparison,
    out_dir: str | os.PathLike,
    *,
    title: str = "mlrbayes report",
    notes: Sequence[str] = (),
    dpi: int = 90,
    calibration: CalibrationResult | None = None,
) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` (+ ``report_files/``) and ``report.json``.

    Parameters
    ----------
    comparison : Comparison
        From :func:`mlrbayes.compare.compare` or :func:`mlrbayes.compare.validate`.
    out_dir : str or path
        Created if missing. Other files in it are left alone.
    title : str
    notes : sequence of str
        Remarks shown under "Data and settings" and stored in the JSON.
    dpi : int
        Resolution of the PNG figures.
    calibration : CalibrationResult, optional
        From :func:`mlrbayes.calibrate` (e.g. ``mlrbayes validate --calibrate``): adds the
        calibration section and its coverage figure, and ``calibration`` to the JSON.

    Returns
    -------
    dict
        ``{"html": path, "md": path, "json": path, "figures": path}``.

    Notes
    -----
    All files are rendered into a temporary directory inside ``out_dir`` and renamed into
    place at the end: if rendering fails (or is interrupted) nothing is written and an earlier
    report in ``out_dir`` is left as it was.
    """
    if not isinstance(comparison, Comparison):
        raise TypeError(
            f"comparison must be a mlrbayes.compare.Comparison; got {type(comparison).__name__}. "
            "Create one with compare() or validate()."
        )
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir {str(out)!r} exists and is not a directory; pass a directory.")
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    try:
        pngs = _render_pngs(comparison, dpi)
        if calibration is not None:
            pngs["calibration"] = calibration_png(calibration, dpi)
        figdir = tmp / FIGURE_DIR
        figdir.mkdir()
        paths = {}
        for name, png in pngs.items():
            (figdir / f"{name}.png").write_bytes(png)
            paths[name] = f"{FIGURE_DIR}/{name}.png"
        # Every format renders from Comparison.to_dict(), converted once per comparison.
        d = comparison.to_dict()
        if calibration is not None:
            d = {**d, "calibration": calibration.to_dict()}
        (tmp / "report.json").write_text(_json_text(d, title, notes), encoding="utf-8")
        (tmp / "report.md").write_text(
            render_markdown(comparison, title=title, notes=notes, figure_paths=paths,
                            calibration=calibration),
            encoding="utf-8",
        )  # fmt: skip
        (tmp / "report.html").write_text(
            render_html(comparison, title=title, notes=notes, figures=pngs,
                        calibration=calibration),
            encoding="utf-8",
        )  # fmt: skip
        _replace_dir(figdir, out / FIGURE_DIR)
        for name in REPORT_FILES:
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "html": out / "report.html",
        "md": out / "report.md",
        "json": out / "report.json",
        "figures": out / FIGURE_DIR,
    }
