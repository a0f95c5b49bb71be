"""The calibration section of a report, and a report of a calibration study alone.

:func:`calibration_section` turns a :class:`~mlrbayes.calibration.CalibrationResult` into the
template variables of the ``calibration`` block (in ``report.html.j2`` / ``report.md.j2``);
:func:`calibration_png` draws its coverage figure. :func:`write_calibration_report` writes
``calibration.html``, ``calibration.md`` (+ ``calibration_files/coverage.png``) and
``calibration.json`` for ``mlrbayes calibrate --out DIR``, each file atomically.
"""

from __future__ import annotations

import base64
import datetime as _dt
import os
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from .._io import atomic_path, write_json_atomic, write_text_atomic
from ..calibration import CalibrationResult, calibration_tolerance
from .figures import png_bytes

__all__ = [
    "CALIBRATION_CAPTION",
    "CALIBRATION_FILES",
    "calibration_png",
    "calibration_section",
    "write_calibration_report",
]

CALIBRATION_FILES = ("calibration.html", "calibration.md", "calibration.json")

CALIBRATION_CAPTION = (
    "Coverage of the true (fitted) value by each interval type over the simulated data sets, "
    "per parameter, with ±2 Monte Carlo error bars; the black line is the nominal level and "
    "the grey band the calibration tolerance (max(0.02, two Monte Carlo errors))."
)


def calibration_section(result: CalibrationResult | None) -> dict[str, Any] | None:
    """Template variables of the calibration block (None: no section).

    Parameters
    ----------
    result : CalibrationResult or None

    Returns
    -------
    dict or None
        ``rows`` (the table as dicts), ``recommended``, ``reason``, ``headline``, ``level``,
        ``n``, ``seed``, ``replications`` (requested, used, failed, failures), ``intervals``.
    """
    if result is None:
        return None
    if not isinstance(result, CalibrationResult):
        raise TypeError(
            f"calibration must be a CalibrationResult from mlrbayes.calibrate; got "
            f"{type(result).__name__}."
        )
    d = result.to_dict()
    tol = calibration_tolerance(result.level, [max(1, r["n_used"]) for r in d["rows"]])
    for row, t in zip(d["rows"], tol, strict=True):
        c = row["coverage"]
        row["calibrated"] = c is not None and abs(c - result.level) <= t
    return {
        "rows": d["rows"],
        "recommended": d["recommended"],
        "reason": d["reason"] or "",
        "headline": result.headline(),
        "level": d["level"],
        "n": d["n"],
        "seed": d["seed"],
        "replications": d["replications"],
        "intervals": list(dict.fromkeys(r["interval"] for r in d["rows"])),
        "n_init": d["settings"]["n_init"],
        "posterior_replications": d["settings"]["posterior_replications"],
    }


def calibration_png(result: CalibrationResult, dpi: int = 90) -> bytes:
    """PNG bytes of the coverage figure (:func:`mlrbayes.plots.calibration.plot_coverage`)."""
    from ..plots.calibration import plot_coverage

    ax = plot_coverage(result.table, result.level)
    try:
        return png_bytes(ax.figure, dpi)
    finally:
        plt.close(ax.figure)


def _render(result: CalibrationResult, template: str, title: str, figure: str | None) -> str:
    from .. import __version__
    from .render import template_env

    ctx = {
        "title": title,
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": {"mlrbayes": __version__},
        "figures": {"calibration": figure},
        "captions": {"calibration": CALIBRATION_CAPTION},
        "calibration": calibration_section(result),
    }
    return template_env().get_template(template).render(**ctx)


def write_calibration_report(
    result: CalibrationResult,
    out_dir: str | os.PathLike,
    *,
    title: str = "mlrbayes calibration study",
    dpi: int = 90,
) -> dict[str, Path]:
    """Write ``calibration.html`` (figure embedded), ``calibration.md`` (figure in
    ``calibration_files/``) and ``calibration.json`` (:meth:`CalibrationResult.to_dict`).

    Parameters
    ----------
    result : CalibrationResult
    out_dir : str or path
        Created if missing; other files in it are left alone.
    title : str
    dpi : int

    Returns
    -------
    dict
        ``{"html": path, "md": path, "json": path, "figure": path}``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir {str(out)!r} exists and is not a directory; pass a directory.")
    png = calibration_png(result, dpi)  # everything is rendered before anything is written
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    html_text = _render(result, "calibration.html.j2", title, uri)
    md_text = _render(result, "calibration.md.j2", title, "calibration_files/coverage.png")
    figdir = out / "calibration_files"
    figdir.mkdir(parents=True, exist_ok=True)
    with atomic_path(figdir / "coverage.png", ".png") as tmp:
        Path(tmp).write_bytes(png)
    payload = {**result.to_dict(), "report": {"title": title, "files": list(CALIBRATION_FILES)}}
    write_json_atomic(out / "calibration.json", payload)
    write_text_atomic(out / "calibration.md", md_text)
    write_text_atomic(out / "calibration.html", html_text)
    return {
        "html": out / "calibration.html",
        "md": out / "calibration.md",
        "json": out / "calibration.json",
        "figure": figdir / "coverage.png",
    }
