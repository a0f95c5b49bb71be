"""The ``mlrbayes`` command.

Each subcommand has an ``_add_<name>(subparsers)`` that declares its arguments and a
``_cmd_<name>(args)`` that runs it. File reading and writing happen here and in report writing,
never in the statistical modules. User errors (``ValueError``/``TypeError``/``FileNotFoundError``
and friends) become one line on stderr and exit code 2; outputs are written atomically (to a
temporary file in the target directory, then renamed), so a failed run leaves no half-written file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ._cache import configure_pytensor_cache

EXIT_USAGE = 2


class CLIError(Exception):
    """A user error to report as one line on stderr (exit code 2)."""


# ----------------------------------------------------------------------------- shared helpers
def read_table(path: str, y: str, x: Sequence[str] | None):
    """Read a CSV and return ``(X DataFrame, y Series)`` with the named columns.

    All columns except ``y`` are predictors when ``x`` is empty or None.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise CLIError(f"data file {path!r} does not exist; pass the path of a CSV file.")
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CLIError(
            f"could not read {path!r} as CSV ({exc}); pass a comma-separated file."
        ) from exc
    cols = [str(c) for c in df.columns]
    df.columns = cols
    if y not in cols:
        raise CLIError(f"--y {y!r} is not a column of {path!r}; its columns are {cols}.")
    xs = list(x) if x else [c for c in cols if c != y]
    missing = [c for c in xs if c not in cols]
    if missing:
        raise CLIError(f"--x {missing} not found in {path!r}; its columns are {cols}.")
    if y in xs:
        raise CLIError(f"--y {y!r} is also listed in --x; a column cannot predict itself.")
    if not xs:
        raise CLIError(f"{path!r} has no predictor columns besides {y!r}; add one or pass --x.")
    return df[xs], df[y]


def parse_sigma(value: str) -> float | str:
    """``--sigma``: a positive number, ``shared`` or ``component``."""
    if value in ("shared", "component"):
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a number, 'shared' or 'component'"
        ) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    with atomic_path(path, ".json") as tmp:
        tmp.write_text(json.dumps(obj, indent=2, allow_nan=True) + "\n")


# ----------------------------------------------------------------------------- subcommands
# Each issue adds its subcommands below: _add_<name>(sub) and _cmd_<name>(args).

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlrbayes",
        description="Mixtures of linear regressions: fit by EM, sample by MCMC, compare.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    configure_pytensor_cache()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CLIError, ValueError, TypeError, FileNotFoundError, PermissionError) as exc:
        print(f"mlrbayes {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"mlrbayes {args.command}: interrupted; no partial output was kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
