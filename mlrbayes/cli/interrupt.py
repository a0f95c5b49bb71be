"""SIGINT/SIGTERM handling for the long-running commands.

PyMC and nutpie catch ``KeyboardInterrupt`` inside their sampling loops and return the draws
made so far, so an interruption cannot be detected by the exception alone. :class:`Run`
installs handlers for SIGINT and SIGTERM that record which signal came and raise
``KeyboardInterrupt`` (so the sampler stops); the commands call :meth:`Run.checkpoint` after
every stage and before writing anything, which raises :class:`Interrupted` when a signal was
recorded. ``main`` then prints one line saying what was kept and exits 130 (SIGINT) or 143
(SIGTERM).

Test hook: with ``MLRBAYES_TEST_PAUSE=<stage>`` in the environment, a command prints
``mlrbayes: test pause at <stage>`` on stderr when it reaches that stage and sleeps (up to
``MLRBAYES_TEST_PAUSE_SECONDS``, default 60), so a test can send a real signal at a known
stage. Stages: ``read``, ``em``, ``sampling``, ``comparison``, ``report`` (validate/demo);
``read``, ``sampling``, ``writing`` (sample); ``read``, ``em``, ``writing`` (fit).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

__all__ = ["Interrupted", "Run"]

_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
_STAGES = {
    "start": "start-up",
    "read": "reading the data",
    "em": "EM",
    "sampling": "sampling",
    "comparison": "the comparison",
    "diagnosis": "the diagnosis",
    "simulating": "simulating",
    "report": "writing the report",
    "writing": "writing the output",
}


class Interrupted(KeyboardInterrupt):
    """Raised at a checkpoint after SIGINT/SIGTERM was received."""


class Run:
    """The state of one command: its stage, the files it kept, and any signal received.

    Use as a context manager around the command: it installs the signal handlers (in the main
    thread only) and restores the previous ones on exit.
    """

    def __init__(self, command: str) -> None:
        self.command = command
        self.stage_name = "start"
        self.kept: list[str] = []
        self.notes: list[str] = []
        self.signum: int | None = None
        self.aborting = False
        self.timings: dict[str, float] = {}
        self._t_stage = time.monotonic()
        self._old: dict[int, object] = {}
        self._old_hook = sys.unraisablehook

    # ---------------------------------------------------------------- signals
    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        if not self.aborting:
            raise KeyboardInterrupt

    def _unraisable(self, info: Any) -> None:
        """Our KeyboardInterrupt raised inside a GC/weakref callback is ignored by Python (it
        is still recorded in ``signum``): do not print its traceback."""
        if isinstance(info.exc_value, KeyboardInterrupt) and self.signum is not None:
            return
        self._old_hook(info)

    def __enter__(self) -> Run:
        if threading.current_thread() is threading.main_thread():
            for sig in _NAMES:
                self._old[sig] = signal.signal(sig, self._handler)
        self._old_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
        self._old.clear()
        sys.unraisablehook = self._old_hook

    @property
    def interrupted(self) -> bool:
        return self.signum is not None

    def checkpoint(self) -> None:
        """Raise :class:`Interrupted` if a signal was received (call before every write)."""
        if self.signum is not None:
            raise Interrupted

    # ---------------------------------------------------------------- progress
    def stage(self, name: str) -> None:
        """Enter stage ``name`` (checkpoint first; honours ``MLRBAYES_TEST_PAUSE``)."""
        self.checkpoint()
        self._clock()
        self.stage_name = name
        if os.environ.get("MLRBAYES_TEST_PAUSE") == name:
            print(f"mlrbayes: test pause at {name}", file=sys.stderr, flush=True)
            time.sleep(float(os.environ.get("MLRBAYES_TEST_PAUSE_SECONDS", "60")))

    def _clock(self) -> None:
        now = time.monotonic()
        label = _STAGES.get(self.stage_name, self.stage_name)
        self.timings[label] = self.timings.get(label, 0.0) + now - self._t_stage
        self._t_stage = now

    def timing_line(self) -> str:
        """``timings: reading the data 0.02 s, EM 1.3 s, ...; total 1.4 s`` (for --verbose)."""
        self._clock()
        parts = [f"{name} {sec:.2f} s" for name, sec in self.timings.items() if sec >= 0.005]
        return f"timings: {', '.join(parts)}; total {sum(self.timings.values()):.2f} s"

    def keep(self, path: str | os.PathLike, note: str = "") -> None:
        """Record a file written for good (reported if the run is interrupted later)."""
        self.kept.append(str(path) + (f" ({note})" if note else ""))

    # ---------------------------------------------------------------- the end
    def exit_code(self) -> int:
        """128 + the signal number: 130 for SIGINT (also a bare KeyboardInterrupt), 143 SIGTERM."""
        return 128 + int(self.signum or signal.SIGINT)

    def message(self) -> str:
        """One line: which signal, at which stage, what was kept."""
        self.aborting = True
        name = _NAMES.get(self.signum or signal.SIGINT, "signal")
        kept = "; kept " + ", ".join(self.kept) if self.kept else ""
        rest = "nothing else written" if self.kept else "nothing written"
        notes = "".join(f"; {n}" for n in self.notes)
        prog = f"mlrbayes {self.command}" if self.command else "mlrbayes"
        return (
            f"{prog}: interrupted ({name}) during "
            f"{_STAGES.get(self.stage_name, self.stage_name)}"
            f"{kept}; {rest}{notes}."
        )
