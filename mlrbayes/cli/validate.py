"""``mlrbayes validate`` (EM, posterior, comparison, report) and ``mlrbayes demo``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._io import check_output_dir, write_json_atomic
from .calibrate import calibration_options, run_calibration
from .common import (
    CLIError,
    Console,
    em_options,
    fit_intercept_option,
    int_option,
    optima_word,
    probability_option,
    read_model_data,
    resolve_seed,
    sigma_option,
    start_lines,
)
from .interrupt import Interrupted, Run
from .options import OPTIONS, SPEC_OPTIONS, SPEC_OVERRIDES, add_command
from .sample import check_netcdf_writer, save_posterior_file

__all__ = ["DEMO_NOTES", "add_demo", "add_validate"]


# ----------------------------------------------------------------------------- validate
_VALIDATE_EXAMPLES = """\
examples:
  mlrbayes validate data.csv --y y -k 2 --seed 1 --out reports/mine
  mlrbayes validate data.csv --y price --x size age -k 3 --sigma component --draws 2000 \\
      --chains 4 --out reports/price
  mlrbayes validate data.csv --y y -k 2 --sigma 0.5 --out out   # known noise sd 0.5
  mlrbayes validate data.csv --y y -k 2 --tune 2000 --target-accept 0.95 --out out
  mlrbayes validate data.csv --y y -k 2 --seed 1 --calibrate 100 --out out  # + calibration
  mlrbayes validate data.csv --formula 'y ~ x + C(site)' -k 2 --concomitant age --group id \\
      --out out   # gating covariate, grouped rows (see `mlrbayes fit --help`)

Fits by EM, samples the posterior of the same model (half the chains start at the EM optima,
the others at dispersed points), relabels the draws to the EM labels and compares. Writes
  DIR/em.json       the EM fit (as soon as EM is done)
  DIR/posterior.nc  the posterior draws as sampled (as soon as sampling is done)
  DIR/report.html   self-contained report, verdict first (figures embedded)
  DIR/report.md     the same in Markdown (figures in DIR/report_files/)
  DIR/report.json   the numbers: verdict, parameters, label_switching, multimodality, em,
                    sampler, settings (with the seed)
Each file is written to a temporary name and renamed when complete, so a failed or interrupted
run leaves no half-written file (what finished is kept). Ctrl-C or SIGTERM stops the run with
exit code 130 / 143 and one line saying what was kept; draws of an interrupted sampler are
dropped unless --keep-partial is given, which writes them to DIR/posterior.nc marked partial
and a report of them that says so (its verdict is never agree; the exit code stays 130/143).
--calibrate [R] adds a section on which intervals reach their coverage at this n (R data sets
simulated from the EM fit and refitted; see `mlrbayes calibrate --help`; level --hdi-prob).
The verdict is agree, disagree or inconclusive; the exit code is 0 whenever the report of a
complete run was written.
"""

#: The options of ``mlrbayes validate`` after the data and model (demo takes these too).
RUN_OPTIONS = (
    "n_init", "init", "order", "tol", "max_iter", "draws", "tune", "chains", "sampler",
    "target_accept", "order_by", "hdi_prob", "relabel_method", "seed", "keep_partial",
)  # fmt: skip

_PARTIAL = {"keep_partial": {"help": OPTIONS["keep_partial"][1]["help"] + "; the report "
                             "of them says so"}}  # fmt: skip

#: ``--help`` of ``mlrbayes validate``: one-line summary, description, examples.
_VALIDATE_TEXT = (
    "fit by EM and by MCMC, compare, and write a report",
    "Check an EM fit against the posterior of the same mixture of regressions "
    "and write an HTML/Markdown/JSON report with the verdict (agree, disagree, "
    "inconclusive) and the evidence.",
    _VALIDATE_EXAMPLES,
)


def add_validate(sub: argparse._SubParsersAction) -> None:
    add_command(
        sub, "validate", _cmd_validate, _VALIDATE_TEXT,
        ("data", "y", "x", "k", "sigma", "no_intercept", "out", *RUN_OPTIONS, "calibrate",
         "jobs", *SPEC_OPTIONS),
        {**_PARTIAL, **SPEC_OVERRIDES,
         "out": {"flags": ("--out",), "required": True, "metavar": "DIR",
                 "help": "output directory"}},
    )  # fmt: skip


def _settings(args: argparse.Namespace, k: int) -> dict[str, Any]:
    """Every option of a validation run, checked (before any work)."""
    chains = int_option(args.chains, "--chains", 1)
    if args.sampler == "nutpie" and chains > 1:  # fail now, not after EM
        raise CLIError(
            f"--sampler nutpie takes one starting point, but validate starts the {chains} "
            "chains at the EM optima and at dispersed points; use --sampler pymc or auto."
        )
    sample_kwargs: dict[str, Any] = {
        "target_accept": probability_option(args.target_accept, "--target-accept"),
    }
    if args.order_by != "none":
        sample_kwargs["order_by"] = args.order_by
    em = em_options(args)
    return {
        "n_init": em.pop("n_init"),
        "order": em.pop("order"),
        "em_kwargs": {**em, "fit_intercept": not getattr(args, "no_intercept", False)},
        "hdi_prob": probability_option(args.hdi_prob, "--hdi-prob"),
        "method": args.relabel_method,
        "draws": int_option(args.draws, "--draws", 1),
        "tune": int_option(args.tune, "--tune", 0),
        "chains": chains,
        "sampler": args.sampler,
        "sample_kwargs": sample_kwargs,
    }


def _run_validation(
    args: argparse.Namespace,
    run: Run,
    data: tuple[Any, Any] | None,
    k: int,
    sigma: Any,
    *,
    title: str,
    notes: Sequence[str] = (),
) -> int:
    """EM, sampling, comparison and report; em.json and posterior.nc are kept as they finish.

    ``data`` is ``(X, y)``, or None to read ``args.data`` (after every option is checked).
    """
    from .._validation import check_sigma

    console = Console.of(args)
    out = check_output_dir(args.out, "--out")
    opts = _settings(args, k)
    calib = None
    if getattr(args, "calibrate", None) is not None:  # validate --calibrate [R]
        calib = calibration_options(args, args.calibrate, "--calibrate", opts["hdi_prob"])
    seed = resolve_seed(args.seed)
    sigma = check_sigma(sigma, k)
    check_netcdf_writer()
    run.stage("read")
    no_intercept = getattr(args, "no_intercept", False)
    X, y = data if data is not None else read_model_data(args, allow_constant=no_intercept)
    opts["em_kwargs"]["fit_intercept"] = fit_intercept_option(X, no_intercept)
    console.seed(seed, args.seed)

    from ..compare import validate
    from ..report import write_report
    from ..serialize import em_to_dict

    def write_em(em: Any) -> None:
        payload = em_to_dict(em)
        payload["data"] = title
        payload["seed"] = seed
        write_json_atomic(out / "em.json", payload)
        run.keep(out / "em.json")

    def on_em(em: Any) -> None:
        run.checkpoint()
        write_em(em)
        for line in start_lines(em):
            console.detail(line)
        console.info(
            f"EM: log-likelihood {em.loglik:.4f}, {len(em.optima)} distinct "
            f"{optima_word(len(em.optima))} from {len(em.starts)} starts; wrote {out / 'em.json'}"
        )
        console.info(f"sampling {opts['chains']} chains x {opts['draws']} draws (tune "
                     f"{opts['tune']}) ...")  # fmt: skip
        run.stage("sampling")

    def on_posterior(idata: Any) -> None:
        if run.interrupted:
            if args.keep_partial:
                save_posterior_file(idata, out / "posterior.nc", run, draws=opts["draws"])
                if idata["posterior"].attrs.get("partial"):
                    run.aborting = False  # a second signal still stops the run
                    return  # compared and reported as partial; exit 130/143 afterwards
            raise Interrupted
        save_posterior_file(idata, out / "posterior.nc", run, draws=opts["draws"])
        console.info(f"wrote {out / 'posterior.nc'}; comparing ...")
        run.stage("comparison")

    console.info(f"EM with {opts['n_init']} starts ...")
    run.stage("em")
    cmp = validate(
        X, y, k, sigma=sigma, random_state=seed, progressbar=console.progress,
        on_em=on_em, on_posterior=on_posterior, **opts,
    )  # fmt: skip
    if cmp.settings.get("em_repaired"):  # MCMC found a better optimum: em.json follows
        write_em(cmp.em)
        console.info(f"rewrote {out / 'em.json'}: {cmp.settings['em_repaired']}")
    partial = run.interrupted  # only with --keep-partial do we get here interrupted
    if partial:
        run.stage_name = "report"
    else:
        run.stage("report")
    calibration = None
    if calib is not None and not partial:
        console.info(f"calibration: {calib['replications']} simulated data sets ...")
        calibration = run_calibration(cmp.em, X, y, calib, seed, command="validate",
                                      progress=console.progress, run=run)  # fmt: skip
        run.stage("report")
    paths = write_report(cmp, out, title=title, notes=notes, calibration=calibration)
    for key in ("html", "md", "json"):
        run.keep(paths[key], "of partial draws" if partial else "")
    print(f"verdict: {cmp.verdict}")
    for reason in cmp.reasons:
        print(f"  - {reason}")
    print(f"report: {paths['html']}")
    print(f"also: {paths['md']}, {paths['json']}, {out / 'em.json'}, {out / 'posterior.nc'}")
    if partial:
        raise Interrupted
    return 0


def _cmd_validate(args: argparse.Namespace, run: Run) -> int:
    k = int_option(args.components, "-k", 1)
    sigma = sigma_option(args.sigma)
    return _run_validation(
        args, run, None, k, sigma, title=f"mlrbayes validate: {Path(args.data).name}"
    )


# ----------------------------------------------------------------------------- demo
_DEMO_EXAMPLES = """\
examples:
  mlrbayes demo                       # writes reports/demo/report.html and friends
  mlrbayes demo --out /tmp/tone --seed 2
  mlrbayes demo --quiet               # only the verdict and the paths

The tone perception data (Cohen 1980; 150 trials, tuned ~ stretchratio) with K = 2 and one
shared noise sd estimated by both EM and the posterior: the same model on both sides, and a
likelihood that stays bounded (per-component sds let one component collapse onto a few points,
where the likelihood is infinite). 4 chains x 500 draws give a bulk ESS well above the 400 the
verdict asks for, and keep the demo under two minutes on two cores.
"""

DEMO_NOTES = (
    "Data: tone perception experiment (Cohen 1980), 150 trials by one musician; response "
    "'tuned' (ratio of the tuned tone to the fundamental), predictor 'stretchratio'. Bundled "
    "with mlrbayes (mlrbayes.load_tonedata), copied from the R packages fpc/mixtools.",
    "σ handling: one noise sd shared by both components, estimated by EM (maximum likelihood) "
    "and sampled in the posterior (HalfNormal prior). Sharing it makes EM and the posterior fit "
    "the very same model, and keeps the likelihood bounded: with one sd per component, a "
    "component can collapse onto the many trials at tuned = 2, where the likelihood is "
    "unbounded and the EM 'estimate' is degenerate.",
)


#: ``--help`` of ``mlrbayes demo``: one-line summary, description, examples.
_DEMO_TEXT = (
    "validate EM on the bundled tone perception data and write a report",
    "Run `mlrbayes validate` on the bundled tone perception data (K=2, shared "
    "sigma) and print where the report is.",
    _DEMO_EXAMPLES,
)


def add_demo(sub: argparse._SubParsersAction) -> None:
    add_command(
        sub, "demo", _cmd_demo, _DEMO_TEXT, ("out", *RUN_OPTIONS),
        {
            **_PARTIAL,
            "out": {"flags": ("--out",), "default": "reports/demo", "metavar": "DIR",
                    "help": "output directory (default %(default)s)"},
            "draws": {"default": "500"},
            "tune": {"default": "500"},
        },
    )  # fmt: skip


def _cmd_demo(args: argparse.Namespace, run: Run) -> int:
    from ..datasets import load_tonedata

    df = load_tonedata()
    return _run_validation(
        args,
        run,
        (df[["stretchratio"]], df["tuned"]),
        2,
        "shared",
        title="mlrbayes demo: tone perception data, K = 2",
        notes=DEMO_NOTES,
    )
