"""``mlrbayes select``: the model-choice table (one EM fit per K; AIC, BIC, ICL, census)."""

from __future__ import annotations

import argparse
from typing import Any

from .common import CLIError, int_option, print_warnings, start_lines, write_and_print
from .fit import em_inputs
from .interrupt import Run
from .options import FIT_OPTIONS, add_command

__all__ = ["add_select", "select_table_text"]

_CRITERIA = ("aic", "bic", "icl")

_SELECT_EXAMPLES = """\
examples:
  mlrbayes select data.csv --y y -k 1 2 3 4
  mlrbayes select data.csv --y price --x size age -k 1 2 3 --sigma component --json select.json

Fits K components by EM for every K given (same seed for each K) and prints one row per K:
log-likelihood, free parameters, AIC, BIC, ICL (smaller is better; ICL also penalises
overlapping components), the census (distinct optima, starts reaching the best) and whether
the fit converged or is degenerate. A '*' marks the best K by each criterion; degenerate fits
(a collapsed component, unbounded likelihood) are not eligible unless every fit is.
--json writes the table, the best K per criterion and the seed.
"""

_SELECT_TEXT = (
    "choose the number of components: AIC, BIC, ICL and the census for each K",
    "Fit a mixture of K linear regressions by EM for each K given and print the model-choice "
    "table.",
    _SELECT_EXAMPLES,
)

#: The options of ``mlrbayes select``: those of fit, with several K.
SELECT_OPTIONS = tuple("ks" if name == "k" else name for name in FIT_OPTIONS)


def add_select(sub: argparse._SubParsersAction) -> None:
    add_command(sub, "select", _cmd_select, _SELECT_TEXT, SELECT_OPTIONS,
                {"json": {"help": "write the table as JSON"}})  # fmt: skip


def select_table_text(rows: list[dict[str, Any]], best: dict[str, int]) -> str:
    """The model-choice table as aligned text, '*' at the best value of each criterion."""
    head = ["K", "loglik", "params", "AIC", "BIC", "ICL", "optima", "best/starts", "state"]
    lines = [head]
    for r in rows:
        mark = {c: "*" if best[c] == r["k"] else " " for c in best}
        state = "degenerate" if r["degenerate"] else ("ok" if r["converged"] else "not converged")
        lines.append(
            [
                str(r["k"]),
                f"{r['loglik']:.3f}",
                str(r["n_parameters"]),
                *(f"{r[c]:.3f}{mark[c]}" for c in ("aic", "bic", "icl")),
                str(r["n_optima"]),
                f"{r['n_best']}/{r['n_starts']}",
                state,
            ]
        )
    widths = [max(len(row[j]) for row in lines) for j in range(len(head))]
    text = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in lines]
    verdict = ", ".join(f"{c.upper()} K={k}" for c, k in best.items())
    return "\n".join([*text, f"best (* above): {verdict}"])


def _cmd_select(args: argparse.Namespace, run: Run) -> int:
    import warnings

    from .._json import plain
    from ..selection import select_components

    ks = [int_option(v, "-k", 1) for v in args.components]
    if len(set(ks)) != len(ks):
        raise CLIError(f"-k {' '.join(args.components)}: give each number of components once.")
    inp = em_inputs(args, run, "select.json")
    console, seed, X, y = inp["console"], inp["seed"], inp["X"], inp["y"]
    console.info(f"EM with {args.n_init} starts for K = {' '.join(map(str, ks))} ...")
    run.stage("em")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table, results = select_components(
            X, y, ks, return_results=True, progressbar=console.progress, **inp["fit"]
        )
    print_warnings("select", caught)
    table["n_best"] = [results[k].optima[0].count for k in table["k"]]
    for k in ks:
        for line in start_lines(results[k]):
            console.detail(f"K={k}: {line}")
    rows = plain(table.drop(columns=[f"best_{c}" for c in _CRITERIA]))
    best = {c: int(table.loc[table[f"best_{c}"], "k"].iloc[0]) for c in _CRITERIA}
    run.stage("writing")
    console.seed(seed, args.seed)
    payload = {
        "data": str(args.data),
        "sigma": inp["fit"]["sigma"],
        "seed": seed,
        "columns": {"y": str(y.name), "x": [str(c) for c in X.columns]},
        "rows": rows,
        "best": best,
    }
    return write_and_print(args.json, payload, select_table_text(rows, best), run)
