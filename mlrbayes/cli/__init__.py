"""The ``mlrbayes`` command.

Each subcommand module declares ``add_<name>(subparsers)`` (the names of the options it takes)
and a ``_cmd_<name>(args, run)`` that runs it: :mod:`.fit` (fit, simulate), :mod:`.select`
(select), :mod:`.sample` (sample, diagnose), :mod:`.validate` (validate, demo). Every option is
declared once in :mod:`.options` (flags, default, help; the defaults rule is printed by
``mlrbayes --help``); :mod:`.common` reads the data table, checks option values and says where
words go (:class:`~.common.Console`: results on stdout; progress, info, warnings and errors on
stderr; ``--quiet``/``--verbose``); :mod:`.interrupt` handles SIGINT/SIGTERM, and
:mod:`mlrbayes._io` writes files.
:mod:`.calibrate` (calibrate) is a command like the others.

File reading and writing happen here and in report writing, never in the statistical modules.
Every option and output path is checked before any expensive work. User errors become one line
on stderr and exit code 2 (argparse's usage errors included); outputs are written atomically (a
temporary file in the target folder, renamed when complete, with the mode an ordinary write
would give), so a failed run leaves no half-written file. SIGINT/SIGTERM stop a command with
exit code 130/143 and one line saying what was kept (see :mod:`.interrupt`).

NumPy, pandas, PyMC and the statistical modules are imported inside the commands, on purpose:
``main`` installs the signal handlers before anything heavy is loaded (so a very early Ctrl-C
is handled like any other), and ``mlrbayes fit``/``simulate`` never load PyMC.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .. import __version__
from .._cache import configure_pytensor_cache
from .._io import atomic_path, write_json_atomic
from .calibrate import add_calibrate
from .common import CLIError, Console, parse_sigma, print_warnings, read_table
from .fit import SIMULATE_PRESETS, add_fit, add_simulate
from .interrupt import Interrupted, Run
from .options import DEFAULTS_RULE
from .sample import add_diagnose, add_sample
from .select import add_select
from .validate import DEMO_NOTES, add_demo, add_validate

__all__ = [
    "COMMANDS",
    "DEMO_NOTES",
    "EXIT_USAGE",
    "SIMULATE_PRESETS",
    "CLIError",
    "Interrupted",
    "atomic_path",
    "build_parser",
    "main",
    "parse_sigma",
    "print_warnings",
    "read_table",
    "write_json_atomic",
]

EXIT_USAGE = 2

#: What a negative number (or a comma-joined list of numbers starting with one) looks like.
_NEGATIVE_NUMBER = re.compile(r"^-\.?\d[\d.,;eE+-]*$")

#: The subcommands, in the order ``mlrbayes --help`` lists them.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_fit,
    add_select,
    add_calibrate,
    add_simulate,
    add_sample,
    add_diagnose,
    add_validate,
    add_demo,
]


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line: ``mlrbayes fit: error: ... (see ... --help)``,
    and that reads ``-1,0``, ``-1e-3`` and ``-.5`` as values, not as options (argparse only
    knows ``-1`` and ``-1.5``), so ``--coef 1,2 -1,0`` works."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {text} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlrbayes",
        description="Mixtures of linear regressions: fit by EM, sample by MCMC, compare.",
        epilog=DEFAULTS_RULE + "\n`mlrbayes COMMAND --help`: a command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mlrbayes {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    parser.set_defaults(subcommands=sub.choices)
    return parser


_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}(\.[A-Za-z0-9]+)?$")


def _user_path(name: object) -> str:
    """A path in an OSError, with an atomic write's temporary name mapped back to the target."""
    text = str(name)
    head, _, base = text.rpartition("/")
    m = _TEMP_NAME.match(base)
    return (f"{head}/" if head else "") + m["name"] if m else text


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "not enough memory for this run; use smaller data or options (e.g. fewer draws)."
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {_user_path(exc.filename)!r}."
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mlrbayes`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    with Run("") as run:
        try:
            configure_pytensor_cache()
            args, extra = build_parser().parse_known_args(argv)
            if extra:  # reported by the subcommand's parser, which exits with code 2
                args.subcommands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
            run.command = args.command
            code = int(args.func(args, run) or 0)
            run.checkpoint()  # a signal swallowed on the way (e.g. in a GC callback) still counts
            Console.of(args).detail(run.timing_line())
            return code
        except KeyboardInterrupt:
            print(run.message(), file=sys.stderr, flush=True)
            return run.exit_code()
        except (CLIError, ValueError, TypeError, OSError, MemoryError) as exc:
            if run.interrupted:  # e.g. a sampler stopped in tuning and failed on no draws
                print(run.message(), file=sys.stderr, flush=True)
                return run.exit_code()
            print(f"mlrbayes {run.command}: error: {_error_line(exc)}", file=sys.stderr)
            return EXIT_USAGE
        except Exception:
            if run.interrupted:
                print(run.message(), file=sys.stderr, flush=True)
                return run.exit_code()
            raise
