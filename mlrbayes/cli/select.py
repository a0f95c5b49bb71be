"""``mlrbayes select``: the model-choice table (one EM fit per K; AIC, BIC, ICL, census, and
the bootstrap likelihood-ratio test of K vs K+1 with ``--bootstrap B``)."""

from __future__ import annotations

import argparse
import math
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
  mlrbayes select data.csv --y y -k 1 2 3 --bootstrap 99 --jobs 2 --seed 1

Fits K components by EM for every K given (same seed for each K) and prints one row per K:
log-likelihood, free parameters, AIC, BIC, ICL (smaller is better; ICL also penalises
overlapping components), the census (distinct optima, starts reaching the best) and whether
the fit converged or is degenerate. A '*' marks the best K by each criterion; degenerate fits
(a collapsed component, unbounded likelihood) are not eligible unless every fit is.
--bootstrap B adds the parametric bootstrap likelihood-ratio test of K against K+1 for every
consecutive pair (McLachlan 1987; as mixtools boot.comp): LR = 2 (loglik K+1 - loglik K) and
its p-value (1 + #{LR* >= LR}) / (B + 1) from B data sets simulated from the K fit, each
refitted with K and K+1 (3 EM fits per data set: use --jobs on a large B); the LRT's choice is
the first K whose test is not rejected at 5%.
--json writes the table, the best K per criterion, the tests (with the B bootstrap
statistics) and the seed.
"""

_SELECT_TEXT = (
    "choose the number of components: AIC, BIC, ICL, the census and a bootstrap LRT",
    "Fit a mixture of K linear regressions by EM for each K given and print the model-choice "
    "table.",
    _SELECT_EXAMPLES,
)

#: The options of ``mlrbayes select``: those of fit, with several K.
SELECT_OPTIONS = tuple("ks" if name == "k" else name for name in FIT_OPTIONS)


#: ``--bootstrap``: an option of select only (``--jobs`` is shared with calibrate).
_LRT_OPTIONS = {
    "bootstrap": {
        "flags": ("--bootstrap",),
        "default": "0",
        "metavar": "B",
        "help": "bootstrap data sets of the likelihood-ratio test of K vs K+1 (e.g. 99; "
        "default 0: no test)",
    },
}


def add_select(sub: argparse._SubParsersAction) -> None:
    overrides = {"json": {"help": "write the table as JSON"}, **_LRT_OPTIONS}
    add_command(sub, "select", _cmd_select, _SELECT_TEXT, (*SELECT_OPTIONS, *_LRT_OPTIONS, "jobs"),
                overrides)  # fmt: skip


def select_table_text(
    rows: list[dict[str, Any]], best: dict[str, int], tests: list[dict[str, Any]] | None = None
) -> str:
    """The model-choice table as aligned text, '*' at the best value of each criterion; with
    ``tests`` (bootstrap LRTs) the LR and p-value columns, one line per test and the notes."""
    lrt = bool(tests)
    head = ["K", "loglik", "params", "AIC", "BIC", "ICL"]
    head += ["LR(K,K+1)", "p"] if lrt else []
    head += ["optima", "best/starts", "state"]
    lines = [head]
    for r in rows:
        mark = {c: "*" if best[c] == r["k"] else " " for c in best}
        state = "degenerate" if r["degenerate"] else ("ok" if r["converged"] else "not converged")
        line = [
            str(r["k"]),
            f"{r['loglik']:.3f}",
            str(r["n_parameters"]),
            *(f"{r[c]:.3f}{mark[c]}" for c in ("aic", "bic", "icl")),
        ]
        if lrt:
            stat, p = r.get("lrt_stat"), r.get("lrt_pvalue")
            line += [
                "-" if stat is None else f"{stat:.3f}",
                "-" if p is None else f"{p:.3f}" + ("*" if best.get("lrt") == r["k"] else " "),
            ]
        line += [str(r["n_optima"]), f"{r['n_best']}/{r['n_starts']}", state]
        lines.append(line)
    widths = [max(len(row[j]) for row in lines) for j in range(len(head))]
    text = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in lines]
    verdict = ", ".join(f"{c.upper()} K={k}" for c, k in best.items())
    text.append(f"best (* above): {verdict}")
    for t in tests or []:
        text.append(
            f"bootstrap LRT K={t['k_null']} vs {t['k_alt']}: LR = {_num(t['statistic'])}, "
            f"p = {_num(t['pvalue'])} ({t['n_valid']} of {t['n_boot']} bootstrap sets, "
            f"{'reject' if t['reject'] else 'keep'} K={t['k_null']} at {t['level']:g})"
        )
        text += t["notes"]
        if 1.0 / (t["n_boot"] + 1) >= t["level"]:
            text.append(
                f"note: with {t['n_boot']} bootstrap sets the smallest p-value is "
                f"{1.0 / (t['n_boot'] + 1):.3g}, so no test can reject at {t['level']:g}; use "
                f"--bootstrap {math.ceil(1.0 / t['level'])} or more (e.g. 99)."
            )
    from ..selection import ICL_NOTE

    text.append("note: " + ICL_NOTE)
    return "\n".join(text)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _test_dict(t: Any) -> dict[str, Any]:
    """A :class:`~mlrbayes.selection.BootstrapLRT` as plain JSON values."""
    from .._json import plain

    out = plain(t)
    out.update(reject=t.reject, notes=t.notes())
    return out


def _cmd_select(args: argparse.Namespace, run: Run) -> int:
    import warnings

    from .._json import plain
    from ..selection import ICL_NOTE, select_components

    ks = [int_option(v, "-k", 1) for v in args.components]
    if len(set(ks)) != len(ks):
        raise CLIError(f"-k {' '.join(args.components)}: give each number of components once.")
    n_boot = int_option(args.bootstrap, "--bootstrap", 0)
    jobs = int_option(args.jobs, "--jobs", -1)
    if jobs == 0:
        raise CLIError("--jobs must be a positive number of processes or -1 (every core); got 0.")
    if n_boot and not any(k + 1 in ks for k in ks):
        raise CLIError(
            f"--bootstrap {n_boot} tests K against K+1, but -k {' '.join(args.components)} has "
            "no consecutive pair; give e.g. -k 1 2 3."
        )
    inp = em_inputs(args, run, "select.json")
    console, seed, X, y = inp["console"], inp["seed"], inp["X"], inp["y"]
    console.info(f"EM with {args.n_init} starts for K = {' '.join(map(str, ks))} ...")
    if n_boot:
        console.info(f"bootstrap LRT with {n_boot} data sets per pair, {jobs} process(es) ...")
    run.stage("em")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table, results, tests = select_components(
            X, y, ks, return_results=True, return_lrt=True, progressbar=console.progress,
            bootstrap_lrt=n_boot, n_jobs=jobs, **inp["fit"],
        )  # fmt: skip
    print_warnings("select", caught)
    table["n_best"] = [results[k].optima[0].count for k in table["k"]]
    for k in ks:
        for line in start_lines(results[k]):
            console.detail(f"K={k}: {line}")
    criteria = _CRITERIA + (("lrt",) if n_boot else ())
    rows = plain(table.drop(columns=[f"best_{c}" for c in criteria]))
    best = {c: int(table.loc[table[f"best_{c}"], "k"].iloc[0]) for c in criteria}
    test_dicts = [_test_dict(tests[k]) for k in sorted(tests)]
    run.stage("writing")
    console.seed(seed, args.seed)
    payload = {
        "data": str(args.data),
        "sigma": inp["fit"]["sigma"],
        "seed": seed,
        "columns": {"y": str(y.name), "x": [str(c) for c in X.columns]},
        "rows": rows,
        "best": best,
        "bootstrap": n_boot,
        "lrt": test_dicts,
        "icl_note": ICL_NOTE,
    }
    text = select_table_text(rows, best, test_dicts)
    return write_and_print(args.json, payload, text, run)
