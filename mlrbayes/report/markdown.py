"""Plain Markdown text for the report: code spans, table cells and prose that read well as
text and render on GitHub (no HTML entities, no needless backslashes).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["code_span", "md_cell", "md_text", "plain_symbols"]

_SYMBOLS = (("<=", "≤"), (">=", "≥"), ("!=", "≠"))
# In prose only these can start Markdown or HTML syntax mid-line ("]" only where a link or
# reference would follow: "](", "][", "]:").
_PROSE_SPECIAL = re.compile(r"([\\`*<]|\](?=[(\[:]))")
# A heading's closing "#" sequence (stripped by Markdown) at the end of the text.
_CLOSING_HASHES = re.compile(r"(\s)(#+\s*)$")
_UNDERSCORE_EDGE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def plain_symbols(value: Any) -> str:
    """``<=``/``>=``/``!=`` as ``≤``/``≥``/``≠`` (one symbol everywhere in the page)."""
    s = str(value)
    for old, new in _SYMBOLS:
        s = s.replace(old, new)
    return s


def code_span(value: Any) -> str:
    """``value`` as a Markdown code span, whatever backticks it holds.

    The fence is one backtick longer than the longest run inside; a space pads the content
    when it starts or ends with a backtick (CommonMark strips one such space).

    Examples
    --------
    >>> code_span("x"), code_span("a`b"), code_span("`q`")
    ('`x`', '``a`b``', '`` `q` ``')
    """
    s = str(value).replace("\n", " ")
    runs = [len(m) for m in re.findall(r"`+", s)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def md_text(value: Any) -> str:
    r"""Prose for Markdown: one line, ``≤`` for ``<=``, and a backslash only before ``\ ` * <``,
    a ``]`` that would close a link, an underscore at a word edge, a leading ``# + - > =``
    and a trailing ``#``
    (the characters that would start Markdown or HTML syntax).

    Examples
    --------
    >>> md_text("R-hat <= 1.01 for coef[0,x] and a_b"), md_text("*x* <b>")
    ('R-hat ≤ 1.01 for coef[0,x] and a_b', '\\*x\\* \\<b>')
    """
    s = plain_symbols(value).replace("\r", " ").replace("\n", " ")
    s = _PROSE_SPECIAL.sub(r"\\\1", s)
    s = _UNDERSCORE_EDGE.sub(r"\\_", s)
    if s[:1] in ("#", "+", "-", ">", "="):  # would start a heading, list or quote
        s = "\\" + s
    return _CLOSING_HASHES.sub(r"\1\\\2", s)


def md_cell(value: str) -> str:
    """Already-rendered Markdown made safe inside a table cell (``|`` escaped, even in code)."""
    return str(value).replace("|", "\\|")
