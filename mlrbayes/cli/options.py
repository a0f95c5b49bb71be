"""Every option of every subcommand, declared once, and the helper that builds a parser.

A subcommand lists the options it takes by name (:data:`OPTIONS` holds each one's flags, default
and help); one spelling, one default and one help text per option across the commands. The
defaults rule, stated in ``mlrbayes --help`` and the README:

* ``--sigma shared`` wherever a model is fitted (one noise sd, estimated: the likelihood stays
  bounded and EM and the posterior fit the same model);
* ``--seed`` unset: a seed is drawn at random, printed on stderr and recorded in every output
  (em.json, posterior.nc attrs, report.json, data.truth.json), so any run can be repeated
  exactly with ``--seed``; a fixed default seed would make "run it again" no check at all;
* every list option takes space-separated values (``--x a b``, ``-k 1 2 3``, ``--sigma 0.3
  0.6 0.3``).

Values are kept as text here and checked by the command before any work (one-line errors).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ..em.starts import INIT_CHOICES

__all__ = [
    "DEFAULTS_RULE",
    "FIT_OPTIONS",
    "OPTIONS",
    "SPEC_OPTIONS",
    "SPEC_OVERRIDES",
    "add_command",
    "add_options",
]

#: The rule printed at the end of ``mlrbayes --help``.
DEFAULTS_RULE = """\
defaults, the same in every command:
  --sigma shared      one noise sd, estimated (pass a number for a known sd, or 'component')
  --seed              drawn at random when not given; printed on stderr and recorded in every
                      output file, so `--seed S` repeats a run exactly
  lists               space-separated: --x a b, -k 1 2 3, --weights 0.5 0.5, --sigma 0.3 0.6
  output              results on stdout; progress (on a terminal only), info, warnings and
                      errors on stderr; --quiet keeps only warnings and errors there,
                      --verbose adds timings and the per-start census
exit codes: 0 done; 2 bad input or options (one line on stderr, no output file);
  130 interrupted (Ctrl-C), 143 terminated (SIGTERM): one line says what was kept.
"""

_SIGMA_HELP = (
    "noise sd: 'shared' (one sd, estimated), 'component' (one per component), or a positive "
    "number (known sd) (default: %(default)s)"
)

#: name -> (flags, argparse keyword arguments). Help texts may use %(default)s.
OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    # data and model
    "data": (("data",), {"metavar": "DATA.csv", "help": "CSV file with a header row"}),
    "y": (("--y",), {"required": True, "metavar": "COL", "help": "response column"}),
    "x": (
        ("--x",),
        {
            "nargs": "+",
            "action": "extend",
            "metavar": "COL",
            "help": "predictor columns, space-separated (default: every column except --y)",
        },
    ),
    "k": (
        ("-k", "--components"),
        {"required": True, "metavar": "K", "help": "number of components"},
    ),
    "ks": (
        ("-k", "--components"),
        {
            "required": True,
            "nargs": "+",
            "metavar": "K",
            "help": "numbers of components to compare, space-separated (e.g. -k 1 2 3 4)",
        },
    ),
    "sigma": (("--sigma",), {"default": "shared", "metavar": "SIGMA", "help": _SIGMA_HELP}),
    # the model specification (issue 14): a formula, gating covariates, groups, fixed
    # coefficients and observation weights
    "formula": (
        ("--formula",),
        {
            "default": None,
            "metavar": "FORMULA",
            "help": "model formula over the CSV's columns instead of --y/--x, e.g. "
            "'y ~ x + I(x**2) + C(site)' ('- 1': no intercepts)",
        },
    ),
    "concomitant": (
        ("--concomitant",),
        {
            "nargs": "+",
            "action": "extend",
            "metavar": "COL",
            "help": "gating covariates, space-separated: the mixing weights depend on these "
            "columns through a softmax (one one-sided formula such as '~ z + np.log(w)' "
            "works too)",
        },
    ),
    "group": (
        ("--group",),
        {
            "default": None,
            "metavar": "COL",
            "help": "column of group labels: all rows of a group share one component "
            "(repeated measurements)",
        },
    ),
    "fixed": (
        ("--fixed",),
        {
            "nargs": "+",
            "action": "extend",
            "metavar": "COL",
            "help": "predictors whose coefficients all components share, space-separated (one "
            "one-sided formula works too)",
        },
    ),
    "obs_weights": (
        ("--weights",),
        {
            "default": None,
            "dest": "obs_weights",
            "metavar": "COL",
            "help": "column of positive observation weights (replication weights: 2 counts a "
            "row twice; constant within a group)",
        },
    ),
    "no_intercept": (
        ("--no-intercept",),
        {"action": "store_true", "help": "regression lines through the origin"},
    ),
    # EM
    "n_init": (
        ("--n-init",),
        {"default": "10", "metavar": "N", "help": "EM starts (default %(default)s)"},
    ),
    "init": (
        ("--init",),
        {
            "default": "auto",
            "metavar": "STRATEGY",
            "help": f"EM start strategy: {', '.join(INIT_CHOICES)} (default %(default)s)",
        },
    ),
    "order": (
        ("--order",),
        {
            "default": "weight",
            "choices": ("weight", "intercept", "none"),
            "help": "order of the components: decreasing weight (ties by intercept, then "
            "coefficients), increasing intercept, or as EM ended (default %(default)s)",
        },
    ),
    "tol": (
        ("--tol",),
        {
            "default": None,
            "metavar": "TOL",
            "help": "EM stops when the log-likelihood gain per observation is below TOL "
            "(default 1e-8)",
        },
    ),
    "max_iter": (
        ("--max-iter",),
        {"default": None, "metavar": "N", "help": "EM iterations per start (default 1000)"},
    ),
    "accelerate": (
        ("--accelerate",),
        {
            "default": "auto",
            "choices": ("auto", "squarem", "none"),
            "help": "SQUAREM acceleration of EM: auto = on with --engine dask, off in memory "
            "(default %(default)s)",
        },
    ),
    "engine": (
        ("--engine",),
        {
            "default": "memory",
            "choices": ("memory", "dask"),
            "help": "memory: read the CSV into memory; dask: read DATA (a Parquet file, a "
            "directory of Parquet/CSV files or a quoted glob) lazily and fit out of core with "
            "Dask (needs mlrbayes[dask]) (default %(default)s)",
        },
    ),
    "scheduler": (
        ("--scheduler",),
        {
            "default": None,
            "metavar": "ADDRESS",
            "help": "with --engine dask: the dask.distributed scheduler to use (e.g. "
            "tcp://10.0.0.5:8786; default: Dask's threaded scheduler on this machine)",
        },
    ),
    # sampling
    "draws": (
        ("--draws",),
        {"default": "1000", "metavar": "N", "help": "draws per chain (default %(default)s)"},
    ),
    "tune": (
        ("--tune",),
        {"default": "1000", "metavar": "N", "help": "tuning steps per chain (default %(default)s)"},
    ),
    "chains": (("--chains",), {"default": "4", "metavar": "N", "help": "chains (default 4)"}),
    "sampler": (
        ("--sampler",),
        {
            "default": "auto",
            "choices": ("auto", "pymc", "nutpie"),
            "help": "NUTS implementation (default: %(default)s)",
        },
    ),
    "target_accept": (
        ("--target-accept",),
        {
            "default": "0.8",
            "metavar": "P",
            "help": "NUTS target acceptance rate in (0, 1); raise it (e.g. 0.95) against "
            "divergences (default %(default)s)",
        },
    ),
    "order_by": (
        ("--order-by",),
        {
            "default": "none",
            "choices": ("none", "intercept"),
            "help": "ordering constraint on the posterior against label switching "
            "(default %(default)s: relabel afterwards instead)",
        },
    ),
    "keep_partial": (
        ("--keep-partial",),
        {
            "action": "store_true",
            "help": "if interrupted (Ctrl-C, SIGTERM) while drawing, still write the draws made "
            "so far, marked partial (posterior attrs partial=1, draws_completed, "
            "draws_requested); the exit code stays 130/143",
        },
    ),
    # comparison
    "hdi_prob": (
        ("--hdi-prob",),
        {
            "default": "0.94",
            "metavar": "P",
            "help": "probability of the posterior HDIs (default %(default)s)",
        },
    ),
    "relabel_method": (
        ("--relabel-method",),
        {
            "default": "auto",
            "choices": ("auto", "stephens", "ecr", "pivot"),
            "help": "relabelling method (default %(default)s: Stephens while the membership "
            "probabilities of all draws fit in 400 MB, else pivot)",
        },
    ),
    # calibration (mlrbayes calibrate; validate --calibrate)
    "replications": (
        ("--replications",),
        {"default": "200", "metavar": "R", "help": "simulated data sets (default %(default)s)"},
    ),
    "intervals": (
        ("--intervals",),
        {
            "nargs": "+",
            "metavar": "KIND",
            "help": "interval types, space-separated (default: the cheap ones, wald sandwich "
            "profile, as available; bootstrap costs R x B refits)",
        },
    ),
    "level": (
        ("--level",),
        {"default": "0.95", "metavar": "P", "help": "nominal coverage (default %(default)s)"},
    ),
    "posterior": (
        ("--posterior",),
        {
            "default": "0",
            "metavar": "N",
            "help": "also sample a small posterior (2 chains x 500 draws) in the first N "
            "replications and count its HDIs (default %(default)s)",
        },
    ),
    "jobs": (
        ("--jobs",),
        {"default": "-1", "metavar": "J", "help": "processes (default %(default)s: every core)"},
    ),
    "calibrate": (
        ("--calibrate",),
        {
            "nargs": "?",
            "const": "200",
            "default": None,
            "metavar": "R",
            "help": "add a calibration study of R simulated data sets (default 200) to the "
            "report, at the --hdi-prob level",
        },
    ),
    # outputs
    "json": (
        ("--json",),
        {"default": None, "metavar": "OUT.json", "help": "write the result as JSON"},
    ),
    # reproducibility
    "seed": (
        ("--seed",),
        {
            "default": None,
            "metavar": "S",
            "help": "random seed, 0 .. 2**32-1 (default: drawn at random, printed and recorded)",
        },
    ),
}


#: The model-specification options of fit, sample and validate (after their data options).
SPEC_OPTIONS = ("formula", "concomitant", "group", "fixed", "obs_weights")

#: With --formula, --y is not needed (the command checks that one of them is given).
SPEC_OVERRIDES: dict[str, dict[str, Any]] = {"y": {"required": False, "default": None}}

#: The options of ``mlrbayes fit`` (``select`` takes the same with several K).
FIT_OPTIONS = (
    "data", "y", "x", "k", "sigma", "no_intercept", "n_init", "init", "order", "tol",
    "max_iter", "seed", "json", "accelerate", "engine", "scheduler",
)  # fmt: skip


def _add_verbosity(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("output")
    ex = group.add_mutually_exclusive_group()
    ex.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars and no info lines on stderr (warnings and errors still shown)",
    )
    ex.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="more detail on stderr: timings of each stage, the census start by start",
    )


def add_options(
    p: argparse.ArgumentParser,
    names: Sequence[str],
    overrides: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Add the options ``names`` (keys of :data:`OPTIONS`) to ``p``, in that order.

    ``overrides`` maps a name to keyword arguments that replace the table's (e.g. another
    default or help); a name not in the table must be given there in full with ``flags``.
    """
    overrides = overrides or {}
    for name in names:
        flags, kwargs = OPTIONS.get(name, ((), {}))
        extra = dict(overrides.get(name, {}))
        flags = tuple(extra.pop("flags", flags))
        if not flags:
            raise KeyError(f"option {name!r} is neither in OPTIONS nor given with flags")
        p.add_argument(*flags, **{**kwargs, **extra})


def add_command(
    sub: argparse._SubParsersAction,
    name: str,
    func: Any,
    text: tuple[str, str, str],
    options: Sequence[str],
    overrides: dict[str, dict[str, Any]] | None = None,
) -> argparse.ArgumentParser:
    """A subcommand: ``text`` is (one-line summary, description, examples epilog); it takes
    ``options`` (see :func:`add_options`) and ``--quiet``/``--verbose``, and runs
    ``func(args, run)``."""
    summary, description, epilog = text
    p = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(p, options, overrides)
    _add_verbosity(p)
    p.set_defaults(func=func)
    return p
