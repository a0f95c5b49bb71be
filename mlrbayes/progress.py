"""Progress shown to a person: when to show it, and a light text bar for the EM starts.

``progressbar=None`` (the default of :func:`mlrbayes.em.fit_em` and
:func:`mlrbayes.workflow.validate`) means *shown when someone is watching*: stderr is a
terminal, or the code runs in a Jupyter kernel. Piped or redirected output, test runners and
batch jobs get no bar. Sampling uses PyMC's (or nutpie's) own bars; the EM starts use
:class:`StartsProgress`, a one-line text bar on stderr that appears only once the starts have
taken more than ``delay`` seconds (a fit that takes a second stays silent).
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

__all__ = ["StartsProgress", "interactive", "resolve_progressbar"]


def _in_notebook() -> bool:
    """Running in a Jupyter (ZMQ) kernel: output reaches a notebook, not a pipe."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # an IPython that is half imported or broken: not a notebook
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def interactive(stream: IO[str] | None = None) -> bool:
    """True when ``stream`` (default stderr) is a terminal or the code runs in a notebook."""
    stream = sys.stderr if stream is None else stream
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        pass
    return _in_notebook()


def resolve_progressbar(progressbar: bool | None) -> bool:
    """``progressbar`` as given, or :func:`interactive` when None."""
    if progressbar is None:
        return interactive()
    if not isinstance(progressbar, bool):
        raise TypeError(f"progressbar must be True, False or None; got {progressbar!r}.")
    return progressbar


def _clock(seconds: float) -> str:
    whole = max(0, round(float(seconds)))
    return f"{whole // 60:d}:{whole % 60:02d}"


class StartsProgress:
    """``EM starts  3/10 [######..............] 0:04 elapsed, ~0:09 left`` on one line.

    Parameters
    ----------
    total : int
        Number of starts.
    enabled : bool
        False: nothing is ever written.
    delay : float, default 2.0
        Seconds before the bar first appears (checked as each start finishes).
    stream : text stream, optional
        Default ``sys.stderr`` (looked up when writing, so redirection is honoured).
    label : str, default "EM starts"
    width : int, default 20
        Characters of the bar.

    Use as a context manager; :meth:`update` after each start. On exit the line is ended with
    a newline (also when interrupted), so later messages start on a line of their own.
    """

    def __init__(
        self,
        total: int,
        *,
        enabled: bool,
        delay: float = 2.0,
        stream: IO[str] | None = None,
        label: str = "EM starts",
        width: int = 20,
    ) -> None:
        self.total = int(total)
        self.enabled = bool(enabled)
        self.delay = float(delay)
        self.stream = stream
        self.label = label
        self.width = int(width)
        self.shown = False
        self.done = 0
        self._width = 0
        self._t0 = time.monotonic()

    def __enter__(self) -> StartsProgress:
        self._t0 = time.monotonic()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def line(self, done: int, elapsed: float) -> str:
        """The text of the bar after ``done`` starts and ``elapsed`` seconds."""
        filled = int(self.width * done / self.total) if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        digits = len(str(self.total))
        text = f"{self.label} {done:{digits}d}/{self.total} [{bar}] {_clock(elapsed)} elapsed"
        if 0 < done < self.total:
            text += f", ~{_clock(elapsed / done * (self.total - done))} left"
        return text

    def update(self, done: int) -> None:
        """``done`` starts have finished."""
        self.done = int(done)
        if not self.enabled:
            return
        elapsed = time.monotonic() - self._t0
        if not self.shown and elapsed < self.delay:
            return
        self.shown = True
        text = self.line(self.done, elapsed)
        pad = " " * max(0, self._width - len(text))  # clear what a longer line left behind
        self._width = len(text)
        out = sys.stderr if self.stream is None else self.stream
        out.write("\r" + text + pad)
        out.flush()

    def close(self) -> None:
        """End the bar's line (if it was shown)."""
        if self.shown:
            out = sys.stderr if self.stream is None else self.stream
            out.write("\n")
            out.flush()
            self.shown = False
