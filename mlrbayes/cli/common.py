"""What every subcommand shares: reading the data table, checking option values, the EM
options, the seed, and where words go (:class:`Console`: results on stdout; progress, info,
detail, warnings and errors on stderr)."""

from __future__ import annotations

import argparse
import csv
import json
import math
import secrets
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "SEED_MAX",
    "CLIError",
    "Console",
    "check_input_file",
    "em_options",
    "fit_intercept_option",
    "float_option",
    "floats",
    "int_option",
    "optima_word",
    "parse_sigma",
    "print_warnings",
    "probability_option",
    "read_csv_checked",
    "read_json_file",
    "read_model_data",
    "read_table",
    "read_table_dask",
    "resolve_seed",
    "seed_option",
    "sigma_option",
    "start_lines",
    "write_and_print",
]

#: Largest accepted ``--seed`` (seeds are stored in the posterior file and the report).
SEED_MAX = 2**32 - 1


class CLIError(Exception):
    """A user error to report as one line on stderr (exit code 2)."""


# ----------------------------------------------------------------------------- input files
def check_input_file(path: str, what: str, fix: str) -> Path:
    """``path`` must be an existing regular file; else a CLIError naming it and the fix."""
    p = Path(path)
    if p.is_dir():
        raise CLIError(f"{what} {path!r} is a directory, not a file; {fix}.")
    if not p.exists():
        raise CLIError(f"{what} {path!r} does not exist; {fix}.")
    if not p.is_file():
        raise CLIError(f"{what} {path!r} is not a regular file; {fix}.")
    return p


def read_json_file(path: str, flag: str) -> Any:
    """Parse the JSON file named by option ``flag`` (one-line errors)."""
    p = check_input_file(path, flag, "pass the file written by `mlrbayes fit --json`")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CLIError(
            f"{flag} {path!r} is not JSON ({exc}); pass the file written by `mlrbayes fit --json`."
        ) from None
    except OSError as exc:
        raise CLIError(f"{flag} {path!r} could not be read ({exc.strerror}).") from None


def _header(p: Path) -> tuple[list[str], str]:
    """The raw header fields (before pandas renames duplicates) and the first 64 kB of text."""
    with p.open(newline="", encoding="utf-8", errors="replace") as fh:
        sample = fh.read(65536)
    first = sample.splitlines()[0] if sample else ""
    return next(csv.reader([first])) if first else [], sample


def _delimiter_hint(path: str, header: list[str], sample: str) -> None:
    if len(header) != 1:
        return
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=";\t|").delimiter
    except csv.Error:
        return
    name = {";": "';'", "\t": "tab", "|": "'|'"}[sep]
    raise CLIError(
        f"{path!r} reads as one column {header[0]!r}: it looks {name}-separated; save it as "
        "comma-separated CSV (e.g. pandas df.to_csv(path, index=False))."
    )


def _check_columns(path: str, df: Any, y: str, xs: list[str], *, constant_ok: bool) -> None:
    """Every used column numeric (not bool/complex/text/dates) and no constant predictor."""
    import numpy as np
    import pandas as pd

    for col in [y, *xs]:
        s = df[col]
        flag = "--y" if col == y else "predictor"
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_complex_dtype(s):
            kind = "boolean" if pd.api.types.is_bool_dtype(s) else "complex"
            raise CLIError(
                f"{flag} column {col!r} of {path!r} is {kind}; pass real numbers (code "
                "categories as 0/1 columns yourself)."
            )
        if not pd.api.types.is_numeric_dtype(s):
            bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()]
            example = f" (e.g. {bad.iloc[0]!r} on line {bad.index[0] + 2})" if len(bad) else ""
            what = "a numeric response" if col == y else "numeric"
            raise CLIError(
                f"{flag} column {col!r} of {path!r} is not {what}{example}; pass numbers only "
                "(dates, text and complex numbers cannot be used)."
            )
    for col in [] if constant_ok else xs:
        v = np.asarray(df[col], dtype=float)
        finite = v[np.isfinite(v)]
        if finite.size and np.all(finite == finite[0]) and finite.size == v.size:
            raise CLIError(
                f"predictor column {col!r} of {path!r} is constant ({finite[0]:g} in every "
                "row): its slope cannot be told from the intercept; leave it out (--x) or use "
                "--no-intercept."
            )


def read_csv_checked(path: str) -> Any:
    """The CSV at ``path`` as a DataFrame with string column names (one-line errors: a missing
    or unreadable file, a one-column file that looks ``;``/tab-separated, a header naming a
    column twice)."""
    import pandas as pd

    p = check_input_file(path, "data file", "pass the path of a CSV file")
    try:
        header, sample = _header(p)
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = " ".join(str(exc).split())
        raise CLIError(
            f"could not read {path!r} as CSV ({msg}); pass a comma-separated file."
        ) from None
    except OSError as exc:
        raise CLIError(f"could not read {path!r} ({exc.strerror}).") from None
    _delimiter_hint(path, header, sample)
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise CLIError(
            f"the header of {path!r} names column(s) {dup} more than once; rename them so "
            "each column has its own name."
        )
    df.columns = [str(c) for c in df.columns]
    return df


def read_table(
    path: str,
    y: str,
    x: Sequence[str] | None,
    *,
    allow_constant: bool = False,
    exclude: Sequence[str] = (),
    frame: Any = None,
):
    """Read a CSV and return ``(X DataFrame, y Series)`` with the named columns.

    All columns except ``y`` (and ``exclude``: the columns of --concomitant, --group, --fixed,
    --weights) are predictors when ``x`` is empty or None. Refused with a one-line
    :class:`CLIError`: a missing or unreadable file, a one-column file that looks
    ``;``/tab-separated, a header naming a column twice, an unnamed column (a pandas index
    written by ``to_csv``) that would become a predictor, ``--x`` naming a column twice,
    non-numeric / boolean / complex columns, and a constant predictor (unless
    ``allow_constant``: a model without intercept). ``frame``: the CSV already read.
    """
    df = read_csv_checked(path) if frame is None else frame
    cols = list(df.columns)
    if y not in cols:
        raise CLIError(f"--y {y!r} is not a column of {path!r}; its columns are {cols}.")
    if x:
        twice = sorted({c for c in x if list(x).count(c) > 1})
        if twice:
            raise CLIError(f"--x names {twice} more than once; name each predictor once.")
    xs = list(x) if x else [c for c in cols if c != y and c not in exclude]
    missing = [c for c in xs if c not in cols]
    if missing:
        raise CLIError(f"--x {missing} not found in {path!r}; its columns are {cols}.")
    if y in xs:
        raise CLIError(f"--y {y!r} is also listed in --x; a column cannot predict itself.")
    if not xs:
        raise CLIError(f"{path!r} has no predictor columns besides {y!r}; add one or pass --x.")
    unnamed = [c for c in xs if c.startswith("Unnamed: ")]
    if unnamed and not x:
        raise CLIError(
            f"{path!r} has a column without a header ({unnamed[0]!r}, e.g. an index written by "
            "pandas to_csv) that would become a predictor; name the predictors with --x, or "
            "write the file with index=False."
        )
    _check_columns(path, df, y, xs, constant_ok=allow_constant)
    return df[xs], df[y]


def _spec_value(values: Sequence[str] | None) -> Any:
    """A --concomitant / --fixed value: column names, or one one-sided formula."""
    if not values:
        return None
    if len(values) == 1 and "~" in values[0]:
        return values[0]
    return list(values)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def read_model_data(args: argparse.Namespace, *, allow_constant: bool = False) -> tuple[Any, Any]:
    """The data of fit / sample / validate: ``(X, y)`` frames for the plain model (exactly
    :func:`read_table`), or ``(Dataset, None)`` with ``--formula`` or any of ``--concomitant``,
    ``--group``, ``--fixed``, ``--weights`` (through :func:`mlrbayes.spec.resolve_dataset`;
    an unknown column or a missing value is one line naming it)."""
    formula = getattr(args, "formula", None)
    spec = {
        "concomitant": _spec_value(getattr(args, "concomitant", None)),
        "fixed": _spec_value(getattr(args, "fixed", None)),
        "groups": getattr(args, "group", None),
        "weights": getattr(args, "obs_weights", None),
    }
    if formula and (args.y or args.x):
        raise CLIError("--formula names the response and the predictors; drop --y and --x.")
    if not formula and not args.y:
        raise CLIError("pass the response column with --y COL (or a model with --formula).")
    if not formula and all(v is None for v in spec.values()):
        return read_table(args.data, args.y, args.x, allow_constant=allow_constant)
    df = read_csv_checked(args.data)
    flags = {"concomitant": "--concomitant", "fixed": "--fixed", "groups": "--group",
             "weights": "--weights"}  # fmt: skip
    used: list[str] = []
    for key, value in spec.items():
        names = [] if value is None or "~" in str(value) else _as_list(value)
        unknown = [c for c in names if c not in df.columns]
        if unknown:
            raise CLIError(
                f"{flags[key]} {unknown} not found in {args.data!r}; its columns are "
                f"{list(df.columns)}."
            )
        used += names
    from ..spec import resolve_dataset

    if formula:
        return resolve_dataset(formula, data=df, **spec), None
    X, _ = read_table(
        args.data, args.y, args.x, allow_constant=allow_constant, exclude=used, frame=df
    )
    return resolve_dataset(list(X.columns), args.y, data=df, **spec), None


def fit_intercept_option(data: Any, no_intercept: bool) -> bool:
    """``fit_intercept`` from ``--no-intercept`` and a formula's ``- 1`` (which must agree)."""
    from ..formula import formula_intercept
    from ..spec import Dataset

    if not isinstance(data, Dataset):
        return not no_intercept
    try:
        return formula_intercept(data, not no_intercept)
    except ValueError:
        raise CLIError(
            f"--no-intercept contradicts the formula {data.design.formula!r}, which has an "
            "intercept; write '- 1' in the formula instead."
        ) from None


# ----------------------------------------------------------------------------- Dask tables
_DASK_FIX = (
    "pass a Parquet file, a directory of Parquet or CSV files, or a quoted glob such as "
    "'data/*.parquet'"
)


def _dask_files(path: str) -> tuple[list[str], str]:
    """The files named by a Parquet file, a directory or a glob, and their kind."""
    import glob

    p = Path(path)
    if p.is_dir():
        files = sorted(str(f) for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
    elif any(c in path for c in "*?["):
        files = sorted(glob.glob(path))
    elif p.is_file():
        files = [path]
    else:
        raise CLIError(f"data {path!r} does not exist; {_DASK_FIX}.")
    kinds = {Path(f).suffix.lower() for f in files}
    if not files:
        raise CLIError(f"data {path!r} names no file; {_DASK_FIX}.")
    if kinds <= {".parquet", ".pq"}:
        return files, "parquet"
    if kinds == {".csv"}:
        return files, "csv"
    raise CLIError(
        f"data {path!r} holds files of kinds {sorted(kinds)}; {_DASK_FIX} (one kind only)."
    )


def read_table_dask(path: str, y: str, x: Sequence[str] | None):
    """Read Parquet/CSV data lazily with dask.dataframe: ``(X DataFrame, y Series)``.

    ``path`` is a Parquet file, a directory of Parquet or CSV files, or a glob. Nothing is
    read beyond the schema (the fit reads the rows). One-line :class:`CLIError` for a path
    that names nothing, mixed or unknown file kinds, unreadable files, missing or repeated
    columns and non-numeric columns.
    """
    try:
        import dask.dataframe as dd
    except ImportError:
        raise CLIError(
            "--engine dask needs Dask: pip install 'mlrbayes[dask]' (dask[distributed], pyarrow)."
        ) from None
    import pandas as pd

    files, kind = _dask_files(path)
    try:
        ddf = dd.read_parquet(files) if kind == "parquet" else dd.read_csv(files)
    except Exception as exc:  # pyarrow and pandas raise many kinds: one line for all
        msg = " ".join(str(exc).split())[:200]
        raise CLIError(f"could not read {path!r} as {kind} ({msg}); {_DASK_FIX}.") from None
    cols = [str(c) for c in ddf.columns]
    if y not in cols:
        raise CLIError(f"--y {y!r} is not a column of {path!r}; its columns are {cols}.")
    xs = list(x) if x else [c for c in cols if c != y]
    bad = sorted({c for c in xs if xs.count(c) > 1 or c not in cols or c == y})
    if bad or not xs:
        raise CLIError(
            f"--x {bad or xs} must name other columns of {path!r}, each once; its columns are "
            f"{cols}."
        )
    for col in [y, *xs]:
        dtype = ddf.dtypes[col]
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise CLIError(
                f"column {col!r} of {path!r} has type {dtype}; pass numeric columns only."
            )
    return ddf[xs], ddf[y]


# ----------------------------------------------------------------------------- options
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


def sigma_option(value: str) -> float | str:
    """``--sigma`` parsed and checked (before any work)."""
    try:
        sigma = parse_sigma(value)
    except argparse.ArgumentTypeError as exc:
        raise CLIError(f"--sigma {exc}.") from None
    from .._validation import check_sigma

    return check_sigma(sigma)  # a positive finite number: the library's message


def int_option(value: str | None, flag: str, minimum: int, maximum: int | None = None):
    """An integer option as ``int`` (None stays None); one-line errors with the range."""
    if value is None:
        return None
    try:
        out = int(value)
    except ValueError:
        try:  # 1e5 is a whole number too
            as_float = float(value)
            out = int(as_float) if math.isfinite(as_float) and as_float.is_integer() else None
        except ValueError:
            out = None
        if out is None:
            raise CLIError(f"{flag} {value!r} is not an integer; pass a whole number.") from None
    if out < minimum:
        raise CLIError(f"{flag} must be >= {minimum}; got {out}.")
    if maximum is not None and out > maximum:
        raise CLIError(f"{flag} must be <= {maximum}; got {out}.")
    return out


def seed_option(value: str | None) -> int | None:
    """``--seed``: an integer in 0 .. 2**32 - 1 (checked before any work)."""
    return int_option(value, "--seed", 0, SEED_MAX)


def float_option(value: str | None, flag: str) -> float | None:
    """A finite float option (None stays None)."""
    if value is None:
        return None
    try:
        out = float(value)
    except ValueError:
        raise CLIError(f"{flag} {value!r} is not a number.") from None
    if not math.isfinite(out):
        raise CLIError(f"{flag} must be a finite number; got {value!r}.")
    return out


def floats(values: Sequence[str] | None, flag: str) -> list[float] | None:
    """Finite floats from option strings (None stays None)."""
    if values is None:
        return None
    return [float_option(v, flag) for v in values]  # type: ignore[misc]


def optima_word(count: int) -> str:
    return "optimum" if count == 1 else "optima"


def probability_option(value: str | None, flag: str) -> float | None:
    """A number strictly between 0 and 1 (None stays None)."""
    out = float_option(value, flag)
    if out is not None and not 0.0 < out < 1.0:
        raise CLIError(f"{flag} must be between 0 and 1 (exclusive); got {value}.")
    return out


def em_options(args: argparse.Namespace) -> dict[str, Any]:
    """``fit_em`` keywords from ``--n-init``, ``--init``, ``--order``, ``--tol``, ``--max-iter``
    (checked)."""
    out: dict[str, Any] = {
        "n_init": int_option(args.n_init, "--n-init", 1),
        "init": args.init,
        "order": getattr(args, "order", "weight"),
    }
    if args.tol is not None:
        out["tol"] = float_option(args.tol, "--tol")
    if args.max_iter is not None:
        out["max_iter"] = int_option(args.max_iter, "--max-iter", 1)
    if getattr(args, "accelerate", "auto") != "auto":
        out["accelerate"] = None if args.accelerate == "none" else args.accelerate
    return out


def start_lines(em: Any) -> list[str]:
    """The census start by start (for ``--verbose``)."""
    lines = ["EM starts (start, strategy, log-likelihood, iterations, state, optimum):"]
    for st in em.starts:
        state = (
            "degenerate" if st.degenerate else ("converged" if st.converged else "not converged")
        )
        lines.append(
            f"  {st.start:3d}  {st.init:<8s} {st.loglik:.6f}  {st.n_iter:4d} it  {state:<13s} "
            f"#{st.optimum}"
        )
    return lines


class Console:
    """Where a command's words go.

    Results go to stdout. On stderr: progress bars (only on a terminal), info lines, detail
    lines, warnings and errors. ``--quiet`` drops progress and info; ``--verbose`` adds detail
    (timings, the census start by start).
    """

    def __init__(self, quiet: bool = False, verbose: bool = False) -> None:
        self.quiet = bool(quiet)
        self.verbose = bool(verbose) and not self.quiet

    @classmethod
    def of(cls, args: argparse.Namespace) -> Console:
        return cls(getattr(args, "quiet", False), getattr(args, "verbose", False))

    @property
    def progress(self) -> bool:
        """Show progress bars: not quiet and stderr is a terminal (not piped or redirected)."""
        if self.quiet:
            return False
        try:
            return bool(sys.stderr.isatty())
        except (AttributeError, ValueError):
            return False

    def info(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def detail(self, text: str) -> None:
        if self.verbose:
            print(text, file=sys.stderr, flush=True)

    def seed(self, seed: int, given: str | None) -> None:
        """Say which seed a run uses: an info line when it was drawn (so the run can be
        repeated), a detail line when it was given."""
        if given is None:
            self.info(f"seed {seed} (drawn at random; --seed {seed} repeats this run)")
        else:
            self.detail(f"seed {seed}")


def resolve_seed(value: str | None) -> int:
    """``--seed`` checked, or a seed drawn at random when not given (announce it with
    :meth:`Console.seed` once the inputs are checked); an int the outputs record."""
    seed = seed_option(value)
    return secrets.randbelow(SEED_MAX + 1) if seed is None else seed


def write_and_print(path: str | None, payload: dict[str, Any], text: str, run: Any) -> int:
    """Write ``payload`` as JSON to ``path`` (when given; atomically), then print ``text`` and
    where the JSON went. Returns the exit code 0."""
    from .._io import write_json_atomic

    if path:
        write_json_atomic(path, payload)
        run.keep(path)
    print(text)
    if path:
        print(f"wrote {path}")
    return 0


# ----------------------------------------------------------------------------- warnings
def print_warnings(command: str, caught: Sequence[warnings.WarningMessage]) -> None:
    """Print recorded warnings as one line each on stderr, repeats collapsed as ``(xN)``."""
    seen: dict[str, int] = {}
    for w in caught:
        text = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
        seen[text] = seen.get(text, 0) + 1
    for text, count in seen.items():
        times = f" (x{count})" if count > 1 else ""
        print(f"mlrbayes {command}: warning: {text}{times}", file=sys.stderr)
