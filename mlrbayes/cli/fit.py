"""``mlrbayes fit`` (EM) and ``mlrbayes simulate`` (data with a known truth)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_path, check_output_file, write_json_atomic
from .common import (
    CLIError,
    Console,
    em_options,
    fit_intercept_option,
    floats,
    int_option,
    print_warnings,
    read_model_data,
    read_table_dask,
    resolve_seed,
    sigma_option,
    start_lines,
    write_and_print,
)
from .interrupt import Run
from .options import FIT_OPTIONS, SPEC_OPTIONS, SPEC_OVERRIDES, add_command

__all__ = [
    "SIMULATE_PRESETS",
    "add_fit",
    "add_simulate",
    "em_inputs",
    "fit_in_cli",
    "model_options",
]


# ----------------------------------------------------------------------------- fit
_FIT_EXAMPLES = """\
examples:
  mlrbayes fit data.csv --y y -k 2 --n-init 20 --seed 1 --json em.json
  mlrbayes fit data.csv --y price --x size age -k 3 --sigma component --json em.json
  mlrbayes fit data.csv --y y -k 2 --sigma 0.5          # known noise sd 0.5
  mlrbayes fit data.csv --formula 'y ~ x + I(x**2) + C(site)' -k 2 --json em.json
  mlrbayes fit data.csv --y y --x x -k 2 --concomitant age --group id --fixed dose \\
      --weights w --json em.json

The model specification: --formula (instead of --y/--x); --concomitant (the mixing weights
depend on these columns through a softmax), --group (rows of a group share one component),
--fixed (coefficients shared by all components), --weights (observation weights). Columns
named there are not predictors by default.

All columns except --y are predictors unless --x is given. Prints the summary: per component
the estimates, standard errors, z = estimate / se and two-sided normal p-values (for the
intercepts and slopes), the weights and sigma, log-likelihood, AIC/BIC/ICL, convergence and the
census of local optima (how many starts reached the best). The JSON holds the estimate, its
standard errors, AIC/BIC/ICL, the census (one entry per distinct optimum with its
log-likelihood, how many starts reached it, whether it is degenerate) and the seed.
"""


#: ``--help`` of ``mlrbayes fit``: one-line summary, description, examples.
_FIT_TEXT = (
    "fit a mixture of linear regressions by EM",
    "Fit a mixture of K linear regressions to a CSV file by EM with several "
    "starts; print the estimate and the census of local optima, optionally write JSON.",
    _FIT_EXAMPLES,
)


def add_fit(sub: argparse._SubParsersAction) -> None:
    add_command(sub, "fit", _cmd_fit, _FIT_TEXT, (*FIT_OPTIONS, *SPEC_OPTIONS), SPEC_OVERRIDES)


def fit_in_cli(X: Any, y: Any, k: int, *, args, run: Run, console: Console, **kwargs) -> Any:
    """``fit_em`` with the CLI's EM options, progress and warnings (printed as single lines);
    ``--verbose`` adds the census start by start."""
    import warnings

    from ..em import fit_em

    run.stage("em")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        em = fit_em(X, y, k, progressbar=console.progress, **kwargs)
    print_warnings(args.command, caught)
    for line in start_lines(em):
        console.detail(line)
    return em


def em_inputs(args: argparse.Namespace, run: Run, example: str) -> dict[str, Any]:
    """What fit and select share: the options checked (before any work), then the data read.

    Returns ``console``, ``X``, ``y``, ``seed`` and ``fit`` (the ``fit_em`` keywords: sigma,
    fit_intercept, random_state, n_init, init, tol, max_iter).
    """
    console = Console.of(args)
    if args.json:
        check_output_file(args.json, "--json", example)
    fit = {"sigma": sigma_option(args.sigma)}
    fit.update(em_options(args), random_state=resolve_seed(args.seed))
    run.stage("read")
    if getattr(args, "engine", "memory") == "dask":  # lazily, out of core
        if any(getattr(args, a, None) for a in ("formula", "concomitant", "group", "fixed",
                                                  "obs_weights")):  # fmt: skip
            raise CLIError(
                "--engine dask fits the plain model only; drop --formula, --concomitant, "
                "--group, --fixed and --weights, or use the in-memory engine."
            )
        X, y = read_table_dask(args.data, args.y, args.x)
        connect_scheduler(args.scheduler)
        fit["fit_intercept"] = not args.no_intercept
    else:
        if getattr(args, "scheduler", None):
            raise CLIError("--scheduler needs --engine dask.")
        X, y = read_model_data(args, allow_constant=args.no_intercept)
        fit["fit_intercept"] = fit_intercept_option(X, args.no_intercept)
    return {"console": console, "X": X, "y": y, "seed": fit["random_state"], "fit": fit}


def connect_scheduler(address: str | None) -> Any:
    """Connect to a dask.distributed scheduler (it becomes Dask's default until the process
    ends); None keeps the threaded scheduler. One-line CLIError when it cannot connect."""
    if not address:
        return None
    try:
        from distributed import Client

        return Client(address, timeout="10s")
    except ImportError:
        raise CLIError(
            "--scheduler needs dask.distributed: pip install 'mlrbayes[dask]'."
        ) from None
    except (OSError, TimeoutError, ValueError) as exc:
        msg = " ".join(str(exc).split())[:200]
        raise CLIError(f"--scheduler {address!r}: could not connect ({msg}).") from None


def _cmd_fit(args: argparse.Namespace, run: Run) -> int:
    from ..serialize import em_to_dict

    k = int_option(args.components, "-k", 1)
    inp = em_inputs(args, run, "em.json")
    console, seed = inp["console"], inp["seed"]
    result = fit_in_cli(inp["X"], inp["y"], k, args=args, run=run, console=console, **inp["fit"])
    text = result.summary()  # before writing: the write is the last step that can be cut
    run.stage("writing")
    console.seed(seed, args.seed)
    lazy = getattr(args, "engine", "memory") == "dask"  # n rows of memberships: not in JSON
    payload = em_to_dict(result, include_responsibilities=not lazy) if args.json else {}
    payload.update(data=str(args.data), seed=seed, **model_options(args))
    return write_and_print(args.json, payload, text, run)


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    """The model-specification options given (for the JSON outputs); empty for none."""
    out = {
        key: getattr(args, attr, None)
        for key, attr in (
            ("formula", "formula"),
            ("concomitant", "concomitant"),
            ("group", "group"),
            ("fixed", "fixed"),
            ("weights", "obs_weights"),
        )
    }
    given = {k: v for k, v in out.items() if v}
    return {"model": given} if given else {}


# ----------------------------------------------------------------------------- simulate
_SIMULATE_EXAMPLES = """\
examples:
  mlrbayes simulate --out data.csv                        # two well-separated lines, n=200
  mlrbayes simulate --out sw.csv --preset switching --seed 3
  mlrbayes simulate --out clouds.csv --preset four-clouds
  mlrbayes simulate --out my.csv -n 300 --weights 0.3 0.7 --intercept 0 4 --coef 1 -1 \\
      --sigma 0.5
  mlrbayes simulate --out three.csv --weights 0.3 0.4 0.3 --intercept -2 0 2 --coef 1 0 -1 \
      --sigma 0.3 0.6 0.3
  mlrbayes simulate --out two.csv --weights 0.5 0.5 --intercept 0 3 --coef 1,2 -1,0

Writes a CSV with the predictors (x, or x1..xp) and the response y, and beside it
<name>.truth.json with the true parameters and every row's true component. Presets:
  separated    K=2, y = 0 + 1.5x and y = 4 - 1.5x, weights 0.4/0.6, sigma 0.4, x ~ U(-3, 3)
  switching    K=3 lines y = -3 + x, y = -x, y = 3, equal weights, sigma 0.5: chains started
               from different points settle in different labellings; relabelling sorts them out
  four-clouds  K=2, x = -1 or +1, y = +-1 + N(0, 0.25^2): two equally good explanations
               (two flat lines, or the two diagonals y = x and y = -x)
--weights/--intercept/--coef/--sigma override the preset: K values each, space-separated
(--sigma also takes one value, shared by all components). With several predictors, each
component's slopes are joined by commas: --coef 1,2 -1,0 is (1, 2) and (-1, 0).
Without --seed a seed is drawn, printed and written to <name>.truth.json.
"""

SIMULATE_PRESETS: dict[str, dict[str, Any]] = {
    "separated": {
        "weights": [0.4, 0.6],
        "intercept": [0.0, 4.0],
        "coef": [[1.5], [-1.5]],
        "sigma": 0.4,
    },
    "switching": {
        "weights": [1 / 3, 1 / 3, 1 / 3],
        "intercept": [-3.0, 0.0, 3.0],
        "coef": [[1.0], [-1.0], [0.0]],
        "sigma": 0.5,
    },
    "four-clouds": {
        "weights": [0.5, 0.5],
        "intercept": [1.0, -1.0],
        "coef": [[0.0], [0.0]],
        "sigma": 0.25,
        "x_values": [-1.0, 1.0],
    },
}


def _coef_option(values: Sequence[str] | None) -> list[list[float]] | None:
    """K space-separated values, each component's slopes joined by commas (the older form
    with components separated by ';' in one string is still read)."""
    if values is None:
        return None
    pieces = [q for v in values for q in v.split(";") if q.strip()]
    rows = [floats(q.split(","), "--coef") for q in pieces]
    if len({len(r) for r in rows}) != 1:
        raise CLIError(
            f"--coef {' '.join(values)!r}: every component needs the same number of slopes "
            "(components space-separated, each one's slopes joined by commas, e.g. "
            "--coef 1,2 -1,0)."
        )
    return rows


#: ``--help`` of ``mlrbayes simulate``: one-line summary, description, examples.
_SIMULATE_TEXT = (
    "write a CSV drawn from a mixture of regressions with a known truth",
    "Draw data from a mixture of linear regressions and write it as CSV, with "
    "the true parameters in a JSON file beside it.",
    _SIMULATE_EXAMPLES,
)


#: The options of ``mlrbayes simulate``: its own, declared here, and --seed.
_SIMULATE_OPTIONS = {
    "out": {"flags": ("--out",), "required": True, "metavar": "DATA.csv", "help": "CSV to write"},
    "preset": {
        "flags": ("--preset",),
        "default": "separated",
        "choices": sorted(SIMULATE_PRESETS),
        "help": "starting truth (default: %(default)s)",
    },
    "n": {"flags": ("-n", "--n"), "default": "200", "metavar": "N", "help": "rows (default 200)"},
    "weights": {
        "flags": ("--weights",),
        "nargs": "+",
        "metavar": "W",
        "help": "K mixing weights summing to 1, space-separated",
    },
    "intercept": {
        "flags": ("--intercept",),
        "nargs": "+",
        "metavar": "B",
        "help": "K intercepts, space-separated",
    },
    "coef": {
        "flags": ("--coef",),
        "nargs": "+",
        "metavar": "C",
        "help": "K slopes, space-separated; with p predictors each is p slopes joined by commas",
    },
    "sim_sigma": {
        "flags": ("--sigma",),
        "dest": "sigma",
        "nargs": "+",
        "metavar": "S",
        "help": "noise sd: one value, or K values space-separated",
    },
}


def add_simulate(sub: argparse._SubParsersAction) -> None:
    add_command(
        sub, "simulate", _cmd_simulate, _SIMULATE_TEXT, [*_SIMULATE_OPTIONS, "seed"],
        _SIMULATE_OPTIONS,
    )  # fmt: skip


def _simulate_truth(args: argparse.Namespace) -> dict[str, Any]:
    """The preset with the --weights/--intercept/--coef/--sigma overrides, checked."""
    truth = dict(SIMULATE_PRESETS[args.preset])
    for key, value in (
        ("weights", floats(args.weights, "--weights")),
        ("intercept", floats(args.intercept, "--intercept")),
        ("coef", _coef_option(args.coef)),
    ):
        if value is not None:
            truth[key] = value
    if args.sigma is not None:  # "0.3,0.4" (the older form) is read as two values too
        sig = floats([v for s in args.sigma for v in s.split(",") if v.strip()], "--sigma")
        truth["sigma"] = sig[0] if len(sig) == 1 else sig
    k = len(truth["weights"])
    for key in ("intercept", "coef"):
        if len(truth[key]) != k:
            raise CLIError(
                f"--{key} has {len(truth[key])} values but there are {k} weights; give one per "
                "component."
            )
    if not isinstance(truth["sigma"], float) and len(truth["sigma"]) not in (1, k):
        raise CLIError(f"--sigma needs 1 or {k} values; got {len(truth['sigma'])}.")
    return truth


def _check_memory(n: int, p: int) -> None:
    """Refuse an -n whose data cannot fit in memory (before trying)."""
    import os

    need = n * (p + 2) * 8 * 4  # X, y, labels, the DataFrame and its CSV text, roughly
    try:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise CLIError(
            f"-n {n} needs about {need / 1e9:.3g} GB of memory and this machine has "
            f"{have / 1e9:.3g} GB; pass a smaller -n."
        )


def _cmd_simulate(args: argparse.Namespace, run: Run) -> int:
    import numpy as np
    import pandas as pd

    from ..simulate import simulate

    out = Path(args.out)
    if out.suffix.lower() != ".csv":
        raise CLIError(f"--out {args.out!r} must end in .csv.")
    check_output_file(out, "--out", "data.csv")
    truth_path = out.with_name(out.stem + ".truth.json")
    check_output_file(truth_path, "--out (its truth file)", "data.csv")
    n = int_option(args.n, "-n", 1)
    seed = resolve_seed(args.seed)
    truth = _simulate_truth(args)
    k = len(truth["weights"])
    coef = np.asarray(truth["coef"], dtype=float)
    _check_memory(n, coef.shape[1])
    run.stage("simulating")
    X = None
    x_values = truth.pop("x_values", None)
    if x_values is not None and coef.shape[1] == 1:
        X = np.resize(np.asarray(x_values, dtype=float), n)[:, None]
    X, y, labels = simulate(
        n, truth["weights"], truth["intercept"], coef, truth["sigma"], X=X, random_state=seed
    )
    p = X.shape[1]
    cols = ["x"] if p == 1 else [f"x{j + 1}" for j in range(p)]
    df = pd.DataFrame(X, columns=cols)
    df["y"] = y
    payload = {
        "preset": args.preset,
        "n": int(n),
        "seed": seed,
        "columns": {"y": "y", "x": cols},
        "weights": [float(v) for v in truth["weights"]],
        "intercept": [float(v) for v in truth["intercept"]],
        "coef": coef.tolist(),
        "sigma": truth["sigma"],
        "labels": labels.tolist(),
    }
    run.stage("writing")
    Console.of(args).seed(seed, args.seed)
    with atomic_path(out, ".csv") as tmp:
        df.to_csv(tmp, index=False)
    run.keep(out)
    write_json_atomic(truth_path, payload)
    run.keep(truth_path)
    counts = np.bincount(labels, minlength=k).tolist()
    print(f"wrote {out} ({n} rows, columns {[*cols, 'y']}; rows per component {counts})")
    print(f"wrote {truth_path} (true parameters, labels and seed {seed})")
    return 0
