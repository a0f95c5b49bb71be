"""Reports: a :class:`~mlrbayes.compare.Comparison` as self-contained HTML, Markdown and JSON.

See :func:`write_report`.
"""

from __future__ import annotations

from .render import fmt, make_figures, render_html, render_markdown, write_report

__all__ = ["fmt", "make_figures", "render_html", "render_markdown", "write_report"]
