"""``mlrbayes calibrate``: which intervals are calibrated at this n (simulation from the fit)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._io import check_output_dir
from .common import (
    CLIError,
    int_option,
    print_warnings,
    probability_option,
    write_and_print,
)
from .fit import em_inputs, fit_in_cli
from .interrupt import Run
from .options import FIT_OPTIONS, add_command

__all__ = ["add_calibrate", "calibration_options", "run_calibration"]

_CALIBRATE_EXAMPLES = """\
examples:
  mlrbayes calibrate data.csv --y y -k 2 --replications 200 --seed 1 --json calib.json
  mlrbayes calibrate data.csv --y y --x x -k 2 --intervals wald --replications 100 \\
      --seed 1 --json calib.json --out reports/calib
  mlrbayes calibrate data.csv --y y -k 2 --posterior 20 --jobs 2 --seed 1 --json calib.json

Fits by EM (as `mlrbayes fit`), then treats the fit as the truth: simulates R data sets of the
same n at the same predictors, refits each by EM with the same settings (the first start at
the truth; components aligned to it), computes each interval type and counts how often it
covers the true value. Prints per parameter and interval type the coverage, its Monte Carlo
error sqrt(c(1-c)/R), the bias and SE/sd, then the recommended interval type: the cheapest
whose coverage is within max(0.02, 2 Monte Carlo errors) of --level for every parameter, or
none and why (which parameters miss by how much; overlapping or weak components).
--json writes rows (parameter, interval, level, coverage, mc_error, bias, se_over_sd, n_used),
recommended, reason, the settings and the seed; --out DIR adds calibration.html/.md/.json with
the coverage figure. Replications run over --jobs processes; the result does not depend on it.
"""

_CALIBRATE_TEXT = (
    "coverage of each interval type at your n, by simulation from your fit",
    "Fit a mixture of K linear regressions by EM, simulate R data sets from the fit, refit "
    "each and report which interval types reach their nominal coverage.",
    _CALIBRATE_EXAMPLES,
)

#: The options of ``mlrbayes calibrate``: those of fit, then the study's.
CALIBRATE_OPTIONS = (
    *FIT_OPTIONS, "replications", "level", "intervals", "posterior", "jobs", "out",
)  # fmt: skip


def add_calibrate(sub: argparse._SubParsersAction) -> None:
    add_command(
        sub, "calibrate", _cmd_calibrate, _CALIBRATE_TEXT, CALIBRATE_OPTIONS,
        {"json": {"help": "write the calibration table, recommendation and settings as JSON"},
         "out": {"flags": ("--out",), "default": None, "metavar": "DIR",
                 "help": "also write calibration.html, .md and .json (with the figure) here"}},
    )  # fmt: skip


def calibration_options(
    args: argparse.Namespace, replications: str, flag: str, level: float | None
) -> dict[str, Any]:
    """``calibrate`` keywords from the options (checked before any work); ``flag`` names the
    option that gave ``replications``."""
    from ..intervals import INTERVAL_KINDS

    kinds = getattr(args, "intervals", None)
    if kinds:
        bad = [k for k in kinds if k not in INTERVAL_KINDS]
        if bad:
            raise CLIError(
                f"--intervals {' '.join(kinds)}: {bad} not available; choose from "
                f"{' '.join(INTERVAL_KINDS)}."
            )
    jobs = int_option(getattr(args, "jobs", "1"), "--jobs", -1)
    if jobs == 0:
        raise CLIError("--jobs 0: pass a positive number of processes, or -1 for every core.")
    return {
        "replications": int_option(replications, flag, 2),
        "level": level,
        "kinds": list(kinds) if kinds else None,
        "posterior": int_option(getattr(args, "posterior", "0"), "--posterior", 0),
        "n_jobs": jobs,
    }


def run_calibration(
    em: Any,
    X: Any,
    y: Any,
    opts: dict[str, Any],
    seed: int,
    *,
    command: str,
    progress: bool,
    run: Run,
) -> Any:
    """:func:`mlrbayes.calibrate` with the CLI's progress and warnings (one line each)."""
    import warnings

    from ..calibration import calibrate

    run.stage("calibration")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = calibrate(em, X, y, random_state=seed, n_init=len(em.starts),
                        progressbar=progress, **opts)  # fmt: skip
    print_warnings(command, caught)
    return res


def _cmd_calibrate(args: argparse.Namespace, run: Run) -> int:
    k = int_option(args.components, "-k", 1)
    level = probability_option(args.level, "--level")
    opts = calibration_options(args, args.replications, "--replications", level)
    out = check_output_dir(args.out, "--out") if args.out else None
    inp = em_inputs(args, run, "calibration.json")
    console, seed = inp["console"], inp["seed"]
    em = fit_in_cli(inp["X"], inp["y"], k, args=args, run=run, console=console, **inp["fit"])
    console.info(
        f"calibration: {opts['replications']} simulated data sets of n={em.n_samples}, "
        f"{len(em.starts)} EM starts each ..."
    )
    res = run_calibration(em, inp["X"], inp["y"], opts, seed, command="calibrate",
                          progress=console.progress, run=run)  # fmt: skip
    text = str(res.summary())
    run.stage("writing")
    console.seed(seed, args.seed)
    if out is not None:
        from ..report.calibration import write_calibration_report

        paths = write_calibration_report(
            res, out, title=f"mlrbayes calibrate: {Path(args.data).name}"
        )
        for key in ("html", "md", "json"):
            run.keep(paths[key])
        text += f"\nreport: {paths['html']} (also {paths['md']}, {paths['json']})"
    payload = {**res.to_dict(), "data": str(args.data), "columns": {
        "y": str(inp["y"].name), "x": [str(c) for c in inp["X"].columns]}}  # fmt: skip
    return write_and_print(args.json, payload, text, run)
