"""``mlrbayes fit`` (EM) and ``mlrbayes simulate`` (data with a known truth)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_path, check_output_file, write_json_atomic
from .common import (
    CLIError,
    add_command,
    add_data_args,
    add_seed_arg,
    float_option,
    floats,
    int_option,
    optima_word,
    print_warnings,
    read_table,
    seed_option,
    sigma_option,
)
from .interrupt import Run

__all__ = ["SIMULATE_PRESETS", "add_fit", "add_simulate"]


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


#: ``--help`` of ``mlrbayes fit``: one-line summary, description, examples.
_FIT_TEXT = (
    "fit a mixture of linear regressions by EM",
    "Fit a mixture of K linear regressions to a CSV file by EM with several "
    "starts; print the estimate and the census of local optima, optionally write JSON.",
    _FIT_EXAMPLES,
)


def add_fit(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "fit", _cmd_fit, *_FIT_TEXT)
    add_data_args(p, sigma_required=False)
    p.add_argument("--n-init", default="10", metavar="N", help="number of EM starts (default 10)")
    add_seed_arg(p, None, "random seed")
    p.add_argument(
        "--init",
        default="auto",
        help="initialisation strategy: auto, random, binned, subset or split (default: auto)",
    )
    p.add_argument("--tol", default=None, help="tolerance on the log-likelihood gain")
    p.add_argument("--max-iter", default=None, metavar="N", help="iteration limit per start")
    p.add_argument(
        "--no-intercept", action="store_true", help="fit regression lines through the origin"
    )
    p.add_argument("--json", default=None, metavar="OUT.json", help="write the result as JSON")


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
        f"census: {len(result.optima)} distinct {optima_word(len(result.optima))} from "
        f"{len(result.starts)} starts "
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


def _cmd_fit(args: argparse.Namespace, run: Run) -> int:
    import warnings

    from ..em import fit_em
    from ..serialize import em_to_dict

    if args.json:
        check_output_file(args.json, "--json", "em.json")
    k = int_option(args.components, "-k", 1)
    n_init = int_option(args.n_init, "--n-init", 1)
    seed = seed_option(args.seed)
    max_iter = int_option(args.max_iter, "--max-iter", 1)
    sigma = sigma_option(args.sigma)
    kwargs: dict[str, Any] = {}
    if args.tol is not None:
        kwargs["tol"] = float_option(args.tol, "--tol")
    if max_iter is not None:
        kwargs["max_iter"] = max_iter
    run.stage("read")
    X, y = read_table(args.data, args.y, args.x, allow_constant=args.no_intercept)
    run.stage("em")
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
            order=args.order,
            **kwargs,
        )
    run.stage("writing")
    print_warnings("fit", caught)
    if args.json:
        payload = em_to_dict(result)
        payload["data"] = str(args.data)
        write_json_atomic(args.json, payload)
        run.keep(args.json)
    print(_fit_summary(result, args.data))
    if args.json:
        print(f"wrote {args.json}")
    return 0


# ----------------------------------------------------------------------------- simulate
_SIMULATE_EXAMPLES = """\
examples:
  mlrbayes simulate --out data.csv                        # two well-separated lines, n=200
  mlrbayes simulate --out sw.csv --preset switching --seed 3
  mlrbayes simulate --out clouds.csv --preset four-clouds
  mlrbayes simulate --out my.csv -n 300 --weights 0.3 0.7 --intercept 0 4 --coef 1 -1 \\
      --sigma 0.5
  mlrbayes simulate --out two.csv --weights 0.5 0.5 --intercept 0 3 --coef "1,2;-1,0"

Writes a CSV with the predictors (x, or x1..xp) and the response y, and beside it
<name>.truth.json with the true parameters and every row's true component. Presets:
  separated    K=2, y = 0 + 1.5x and y = 4 - 1.5x, weights 0.4/0.6, sigma 0.4, x ~ U(-3, 3)
  switching    K=3 lines y = -3 + x, y = -x, y = 3, equal weights, sigma 0.5: chains started
               from different points settle in different labellings; relabelling sorts them out
  four-clouds  K=2, x = -1 or +1, y = +-1 + N(0, 0.25^2): two equally good explanations
               (two flat lines, or the two diagonals y = x and y = -x)
--weights/--intercept/--coef/--sigma override the preset; give K values each. With several
predictors, --coef is one quoted string: components separated by ';', slopes by ','.
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
    if values is None:
        return None
    pieces = [q for v in values for q in v.split(";") if q.strip()]
    rows = [floats(q.split(","), "--coef") for q in pieces]
    if len({len(r) for r in rows}) != 1:
        raise CLIError(
            f"--coef {' '.join(values)!r}: every component needs the same number of slopes "
            "(components separated by ';', slopes by ',', e.g. --coef \"1,2;-1,0\")."
        )
    return rows


#: ``--help`` of ``mlrbayes simulate``: one-line summary, description, examples.
_SIMULATE_TEXT = (
    "write a CSV drawn from a mixture of regressions with a known truth",
    "Draw data from a mixture of linear regressions and write it as CSV, with "
    "the true parameters in a JSON file beside it.",
    _SIMULATE_EXAMPLES,
)


def add_simulate(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "simulate", _cmd_simulate, *_SIMULATE_TEXT)
    p.add_argument("--out", required=True, metavar="DATA.csv", help="CSV file to write")
    p.add_argument(
        "--preset",
        default="separated",
        choices=sorted(SIMULATE_PRESETS),
        help="starting truth (default: separated)",
    )
    p.add_argument("-n", "--n", default="200", metavar="N", help="observations (default 200)")
    p.add_argument("--weights", nargs="+", metavar="W", help="K mixing weights summing to 1")
    p.add_argument("--intercept", nargs="+", metavar="B", help="K intercepts")
    p.add_argument("--coef", nargs="+", metavar="C", help='K slopes (for p > 1: "c11,c12;c21,c22")')
    p.add_argument("--sigma", default=None, metavar="S", help="noise sd, one or K values")
    add_seed_arg(p, "0", "random seed")


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
    if args.sigma is not None:
        sig = floats(args.sigma.split(","), "--sigma")
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
    seed = seed_option(args.seed)
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
    with atomic_path(out, ".csv") as tmp:
        df.to_csv(tmp, index=False)
    run.keep(out)
    write_json_atomic(truth_path, payload)
    run.keep(truth_path)
    counts = np.bincount(labels, minlength=k).tolist()
    print(f"wrote {out} ({n} rows, columns {[*cols, 'y']}; rows per component {counts})")
    print(f"wrote {truth_path} (true parameters and labels)")
    return 0
