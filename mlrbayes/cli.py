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


# ----------------------------------------------------------------------------- fit
_FIT_EXAMPLES = """\
examples:
  mlrbayes fit data.csv --y y -k 2 --sigma shared --n-init 20 --seed 1 --json em.json
  mlrbayes fit data.csv --y price --x size age -k 3 --sigma component --json em.json
  mlrbayes fit data.csv --y y -k 2 --sigma 0.5          # known noise sd 0.5

All columns except --y are predictors unless --x is given. The JSON holds the estimate, its
standard errors, AIC/BIC/ICL and the census of local optima (one entry per distinct optimum
with its log-likelihood, how many starts reached it and whether it is degenerate).
"""


def _add_fit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit",
        help="fit a mixture of linear regressions by EM",
        description="Fit a mixture of K linear regressions to a CSV file by EM with several "
        "starts; print the estimate and the census of local optima, optionally write JSON.",
        epilog=_FIT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="CSV file with a header row")
    p.add_argument("--y", required=True, metavar="COL", help="response column")
    p.add_argument(
        "--x",
        nargs="+",
        action="extend",
        metavar="COL",
        help="predictor columns (default: every column except --y)",
    )
    p.add_argument("-k", "--components", required=True, metavar="K", help="number of components")
    p.add_argument(
        "--sigma",
        default="shared",
        metavar="VALUE|shared|component",
        help="known noise sd (a positive number), or 'shared' / 'component' to estimate one sd "
        "or one per component (default: shared)",
    )
    p.add_argument("--n-init", default="10", metavar="N", help="number of EM starts (default 10)")
    p.add_argument("--seed", default=None, metavar="S", help="random seed (default: none)")
    p.add_argument("--init", default="auto", help="initialisation strategy (default: auto)")
    p.add_argument("--tol", default=None, help="tolerance on the log-likelihood gain")
    p.add_argument("--max-iter", default=None, metavar="N", help="iteration limit per start")
    p.add_argument(
        "--no-intercept", action="store_true", help="fit regression lines through the origin"
    )
    p.add_argument("--json", default=None, metavar="OUT.json", help="write the result as JSON")
    p.set_defaults(func=_cmd_fit)


def _int_option(value: str | None, flag: str, minimum: int) -> int | None:
    if value is None:
        return None
    try:
        out = int(value)
    except ValueError:
        raise CLIError(f"{flag} {value!r} is not an integer; pass a whole number.") from None
    if out < minimum:
        raise CLIError(f"{flag} must be >= {minimum}; got {out}.")
    return out


def _fmt(value: float, se: float | None = None) -> str:
    text = f"{value:.6g}"
    if se is not None:
        text += f" ({se:.3g})"
    return text


def _fit_summary(result: Any, path: str) -> str:
    """A short human-readable account of an EM fit."""
    import numpy as np

    k, names = result.n_components, list(result.feature_names)
    se = result.standard_errors
    sig = np.broadcast_to(np.asarray(result.sigma, dtype=float), (k,))
    sig_se = se.get("sigma")
    lines = [
        f"EM fit of {path}: {result.target_name} ~ {' + '.join(names)}, K={k}, "
        f"sigma {result.sigma_setting}, n={result.n_samples}",
        f"log-likelihood {result.loglik:.6f}; converged {result.converged} after "
        f"{result.n_iter} iterations; AIC {result.aic:.4f}  BIC {result.bic:.4f}  "
        f"ICL {result.icl:.4f}",
        "estimates (standard errors):",
    ]
    for j in range(k):
        parts = [f"weight {_fmt(result.weights[j], _get(se, 'weights', j))}"]
        if result.fit_intercept:
            parts.append(f"intercept {_fmt(result.intercept[j], _get(se, 'intercept', j))}")
        for f, name in enumerate(names):
            parts.append(f"{name} {_fmt(result.coef[j, f], _get(se, 'coef', (j, f)))}")
        if result.sigma_setting == "component":
            parts.append(f"sigma {_fmt(sig[j], _get(se, 'sigma', j))}")
        lines.append(f"  component {j}: " + ", ".join(parts))
    if result.sigma_setting == "shared":
        lines.append(f"  sigma {_fmt(sig[0], None if sig_se is None else float(sig_se))}")
    elif result.sigma_setting == "known":
        lines.append(f"  sigma {np.asarray(result.sigma).tolist()} (known)")
    lines.append(
        f"census: {len(result.optima)} distinct optima from {len(result.starts)} starts "
        "(loglik, starts reaching it, degenerate):"
    )
    for i, opt in enumerate(result.optima):
        flag = " degenerate" if opt.degenerate else ""
        lines.append(f"  {i}: {opt.loglik:.6f}  x{opt.count}{flag}")
    return "\n".join(lines)


def _get(se: dict, key: str, index: Any) -> float | None:
    import numpy as np

    if key not in se:
        return None
    return float(np.asarray(se[key])[index])


def _cmd_fit(args: argparse.Namespace) -> int:
    import warnings

    from .em import fit_em
    from .serialize import em_to_dict

    X, y = read_table(args.data, args.y, args.x)
    k = _int_option(args.components, "-k", 1)
    n_init = _int_option(args.n_init, "--n-init", 1)
    seed = _int_option(args.seed, "--seed", 0)
    max_iter = _int_option(args.max_iter, "--max-iter", 1)
    try:
        sigma = parse_sigma(args.sigma)
    except argparse.ArgumentTypeError as exc:
        raise CLIError(f"--sigma {exc}.") from None
    kwargs: dict[str, Any] = {}
    if args.tol is not None:
        try:
            kwargs["tol"] = float(args.tol)
        except ValueError:
            raise CLIError(f"--tol {args.tol!r} is not a number.") from None
    if max_iter is not None:
        kwargs["max_iter"] = max_iter
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_em(
            X,
            y,
            k,
            sigma=sigma,
            fit_intercept=not args.no_intercept,
            n_init=n_init,
            init=args.init,
            random_state=seed,
            **kwargs,
        )
    seen: dict[str, int] = {}
    for w in caught:
        text = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
        seen[text] = seen.get(text, 0) + 1
    for text, count in seen.items():
        times = f" (x{count})" if count > 1 else ""
        print(f"mlrbayes fit: warning: {text}{times}", file=sys.stderr)
    if args.json:
        payload = em_to_dict(result)
        payload["data"] = str(args.data)
        write_json_atomic(args.json, payload)
    print(_fit_summary(result, args.data))
    if args.json:
        print(f"wrote {args.json}")
    return 0


COMMANDS.append(_add_fit)


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
