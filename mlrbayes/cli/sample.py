"""``mlrbayes sample`` (the posterior by NUTS) and ``mlrbayes diagnose`` (relabel, diagnose)."""

from __future__ import annotations

import argparse
import importlib.util
import warnings
from pathlib import Path
from typing import Any

from .._io import atomic_path, check_output_file
from .common import (
    CLIError,
    Console,
    check_input_file,
    em_options,
    fit_intercept_option,
    int_option,
    print_warnings,
    probability_option,
    read_json_file,
    read_model_data,
    read_table,
    resolve_seed,
    sigma_option,
    start_lines,
    write_and_print,
)
from .interrupt import Interrupted, Run
from .options import SPEC_OPTIONS, SPEC_OVERRIDES, add_command

__all__ = ["add_diagnose", "add_sample", "check_netcdf_writer", "save_posterior_file"]


def check_netcdf_writer() -> None:
    """Writing posterior.nc needs h5netcdf (or netCDF4): say so before any work."""
    if not any(importlib.util.find_spec(m) for m in ("h5netcdf", "netCDF4")):
        raise CLIError("writing posterior.nc needs h5netcdf: pip install h5netcdf.")


def save_posterior_file(idata: Any, path: Path, run: Run, *, draws: int) -> None:
    """Write the posterior atomically (ordinary file mode); on an interrupted run only with
    ``--keep-partial``, marked ``partial=1`` / ``draws_completed`` in the posterior attrs."""
    from ..bayes import save_posterior

    note = ""
    if run.interrupted:
        post = idata["posterior"]
        done = int(post.sizes.get("draw", 0))
        if done == 0:
            run.notes.append("no draws were completed, so no partial posterior was written")
            return
        post.attrs.update({"partial": 1, "draws_completed": done, "draws_requested": draws})
        note = f"partial: {done} of {draws} draws per chain"
    run.aborting = run.interrupted  # a second signal must not leave a half-renamed file
    with atomic_path(path, ".nc") as tmp:
        save_posterior(idata, tmp)
    run.keep(path, note)


# ----------------------------------------------------------------------------- sample
_SAMPLE_EXAMPLES = """\
examples:
  mlrbayes sample data.csv --y y -k 2 --seed 1 --out posterior.nc
  mlrbayes sample data.csv --y y -k 3 --sigma 0.5 --order-by intercept --out posterior.nc
  mlrbayes sample data.csv --y y -k 2 --em em.json --chains 4 --sampler pymc --out post.nc
  mlrbayes sample data.csv --y y -k 2 --tune 2000 --target-accept 0.95 --out post.nc
  mlrbayes sample data.csv --y y --x x -k 2 --group id --fixed dose --out post.nc

Samples the posterior of the mixture of regressions (labels marginalised out) with NUTS and
writes it as NetCDF (ArviZ DataTree: posterior, sample_stats, observed_data, constant_data,
log_likelihood; the seed is in the posterior's attrs as random_state). --em starts the chains
at the optima of an EM fit (`mlrbayes fit --json`), cycling over them, so chains can start in
different basins. Divergences and R-hat / ESS are printed; problems are warnings on stderr
(against divergences: more --tune and a higher --target-accept). --sampler auto uses nutpie
when rows x K >= 50,000.
"""


#: ``--help`` of ``mlrbayes sample``: one-line summary, description, examples.
_SAMPLE_TEXT = (
    "sample the posterior of a mixture of linear regressions (PyMC / nutpie)",
    "Sample the Bayesian mixture of K linear regressions for a CSV file and "
    "write the posterior to NetCDF.",
    _SAMPLE_EXAMPLES,
)

#: The options of ``mlrbayes sample``.
SAMPLE_OPTIONS = (
    "data", "y", "x", "k", "sigma", "no_intercept", "order_by", "em", "out", "draws", "tune",
    "chains", "sampler", "target_accept", "seed", "keep_partial", *SPEC_OPTIONS,
)  # fmt: skip

_EM_JSON = {"flags": ("--em",), "default": None, "metavar": "EM.json"}


def add_sample(sub: argparse._SubParsersAction) -> None:
    add_command(
        sub, "sample", _cmd_sample, _SAMPLE_TEXT, SAMPLE_OPTIONS,
        {
            **SPEC_OVERRIDES,
            "em": {**_EM_JSON, "help": "start the chains at the optima of this EM fit"},
            "out": {"flags": ("--out",), "required": True, "metavar": "POSTERIOR.nc",
                    "help": "NetCDF file to write"},
        },
    )  # fmt: skip


def _em_init(path: str, X: Any, y: Any) -> Any:
    """The EM fit of ``--em`` as sampler starts."""
    from ..serialize import em_from_dict

    payload = read_json_file(path, "--em")
    try:
        return em_from_dict(payload, X, y)
    except KeyError as exc:
        raise CLIError(f"--em {path!r} lacks {exc}; pass `mlrbayes fit --json` output.") from None


def _cmd_sample(args: argparse.Namespace, run: Run) -> int:
    console = Console.of(args)
    out = check_output_file(args.out, "--out", "posterior.nc")
    check_netcdf_writer()
    k = int_option(args.components, "-k", 1)
    draws = int_option(args.draws, "--draws", 1)
    tune = int_option(args.tune, "--tune", 0)
    chains = int_option(args.chains, "--chains", 1)
    target_accept = probability_option(args.target_accept, "--target-accept")
    seed = resolve_seed(args.seed)
    sigma = sigma_option(args.sigma)
    run.stage("read")
    X, y = read_model_data(args, allow_constant=args.no_intercept)
    fit_intercept = fit_intercept_option(X, args.no_intercept)
    init = _em_init(args.em, X, y) if args.em else None
    console.seed(seed, args.seed)

    from .. import bayes

    console.info(f"sampling {chains} chains x {draws} draws (tune {tune}) ...")
    run.stage("sampling")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bayes.SamplingWarning)
        idata = bayes.sample_posterior(
            X, y, k, sigma=sigma, fit_intercept=fit_intercept,
            order_by=None if args.order_by == "none" else args.order_by,
            draws=draws, tune=tune, chains=chains, sampler=args.sampler, init=init,
            target_accept=target_accept, random_state=seed, progressbar=console.progress,
        )  # fmt: skip
    if run.interrupted:
        if args.keep_partial:
            save_posterior_file(idata, out, run, draws=draws)
        raise Interrupted
    run.stage("writing")
    print_warnings("sample", caught)
    save_posterior_file(idata, out, run, draws=draws)
    print(_sample_summary(idata, args.data))
    print(f"wrote {args.out}")
    return 0


def _sample_summary(idata: Any, path: str) -> str:
    """Sampler, convergence and posterior means (sd) per component."""
    import numpy as np

    post = idata["posterior"]
    a = post.attrs
    lines = [
        f"posterior of {path}: K={a['n_components']}, sigma {a['sigma_setting']}, "
        f"order_by {a['order_by']}, sampler {a['sampler']}, {post.sizes['chain']} chains x "
        f"{post.sizes['draw']} draws in {a['sampling_wall_seconds']:.1f} s",
        f"divergences {a['n_divergent']}; max R-hat {a['max_rhat']:.4f}; min bulk ESS "
        f"{a['min_ess_bulk']:.0f}",
        "posterior mean (sd):",
    ]
    for name in ("weights", "intercept", "coef", "sigma", "gating", "fixed"):
        if name not in post.data_vars:
            continue
        da = post[name]
        mean = da.mean(("chain", "draw"))
        sd = da.std(("chain", "draw"))
        for idx in np.ndindex(mean.shape):
            label = ",".join(str(mean[d].values[i]) for d, i in zip(mean.dims, idx, strict=True))
            label = f"{name}[{label}]" if label else name
            lines.append(f"  {label} {float(mean.values[idx]):.6g} ({float(sd.values[idx]):.3g})")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- diagnose
_DIAGNOSE_EXAMPLES = """\
examples:
  mlrbayes diagnose posterior.nc --data data.csv --y y --em em.json --json diag.json
  mlrbayes diagnose posterior.nc --data data.csv --y y --relabel-method ecr
  mlrbayes diagnose posterior.nc --data data.csv --y price --x size age --n-init 20 --seed 1

Relabels the draws (Stephens by default) towards the EM estimate and prints the verdict --
none, label_switching (chains differ only by a relabelling) or multimodal (distinct modes
remain after relabelling) -- with its evidence and R-hat / bulk and tail ESS before and after
relabelling. Without --em, EM is fitted to the data here (--n-init starts, --init, --tol,
--max-iter, --seed) to provide the reference and the census of local optima. The predictors
default to the posterior's features, sigma and K to the posterior's.
--json writes the keys verdict, reasons, label_switching, multimodality, rhat_before,
rhat_after (and ESS before/after).
"""


#: ``--help`` of ``mlrbayes diagnose``: one-line summary, description, examples.
_DIAGNOSE_TEXT = (
    "label switching or multimodality? relabel a posterior and diagnose it",
    "Relabel the draws of a posterior saved by `mlrbayes sample` and say "
    "whether a poor R-hat is label switching or genuinely distinct modes.",
    _DIAGNOSE_EXAMPLES,
)

#: The options of ``mlrbayes diagnose``.
DIAGNOSE_OPTIONS = (
    "posterior", "data_opt", "y", "x", "em", "relabel_method", "n_init", "init", "order",
    "tol", "max_iter", "seed", "json",
)  # fmt: skip


def add_diagnose(sub: argparse._SubParsersAction) -> None:
    add_command(
        sub, "diagnose", _cmd_diagnose, _DIAGNOSE_TEXT, DIAGNOSE_OPTIONS,
        {
            "posterior": {"flags": ("posterior",), "metavar": "POSTERIOR.nc",
                          "help": "posterior NetCDF file (from `mlrbayes sample --out`)"},
            "data_opt": {"flags": ("--data",), "dest": "data", "required": True,
                         "metavar": "DATA.csv", "help": "the data the posterior is of"},
            "x": {"help": "predictor columns, space-separated (default: the posterior's "
                          "features, else every column except --y)"},
            "em": {**_EM_JSON, "help": "EM fit (`mlrbayes fit --json`); default: fitted here"},
            "relabel_method": {"flags": ("--relabel-method", "--method"), "default": "stephens",
                               "choices": ("stephens", "ecr", "pivot"),
                               "help": "relabelling method (default %(default)s)"},
            "json": {"help": "write the diagnosis as JSON"},
        },
    )  # fmt: skip


def _load_posterior_file(path: str) -> Any:
    """The posterior DataTree of ``path``; a one-line CLIError for anything unreadable."""
    import xarray as xr

    p = check_input_file(path, "posterior file", "pass the .nc file written by `mlrbayes sample`")
    try:
        with xr.open_datatree(p) as dt:
            idata = dt.load()
        if "posterior" not in idata.children:
            raise KeyError("no 'posterior' group")
    except Exception as exc:  # h5py/netCDF raise OSError, KeyError, RuntimeError, ValueError...
        msg = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise CLIError(
            f"could not read {path!r} as a posterior NetCDF file ({msg}); pass the file "
            "written by `mlrbayes sample --out`."
        ) from None
    return idata


def _diagnose_columns(args: argparse.Namespace, feature_names: list[str]) -> list[str] | None:
    """--x, else the posterior's features when the CSV has them all, else None (all but y)."""
    if args.x is not None:
        return args.x
    import pandas as pd

    try:
        header = [str(c) for c in pd.read_csv(args.data, nrows=0).columns]
    except Exception:  # read_table reports unreadable files properly
        return None
    return feature_names if header and all(f in header for f in feature_names) else None


def _check_finite_draws(path: str, draws: dict[str, Any]) -> None:
    """NaN/inf draws cannot be relabelled or diagnosed: say where they are."""
    import numpy as np

    for name in ("weights", "intercept", "coef", "sigma"):
        value = draws.get(name)
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            continue
        bad = ~np.isfinite(value)
        if bad.any():
            chain = int(np.argwhere(bad)[0][0]) if value.ndim >= 2 else 0
            raise CLIError(
                f"{path!r} has {int(bad.sum())} non-finite (NaN/inf) values of {name!r} "
                f"(first in chain {chain}); these draws cannot be diagnosed: sample again, "
                "or drop the broken chain."
            )


def _diagnose_em(args, X, y, draws, seed, caught, console: Console) -> Any:
    """The EM reference: ``--em`` if given, else fitted here."""
    import numpy as np

    if args.em:
        from ..serialize import em_from_dict

        try:
            return em_from_dict(read_json_file(args.em, "--em"), X, y)
        except KeyError as exc:
            raise CLIError(
                f"--em {args.em!r} lacks {exc}; pass `mlrbayes fit --json` output."
            ) from None
    from ..em import fit_em

    sigma = draws["sigma"] if draws["sigma_setting"] == "known" else draws["sigma_setting"]
    if isinstance(sigma, np.ndarray):
        sigma = float(sigma) if sigma.ndim == 0 else sigma
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        em = fit_em(
            X, y, draws["weights"].shape[-1], sigma=sigma, fit_intercept=draws["fit_intercept"],
            random_state=seed, progressbar=console.progress, **em_options(args),
        )  # fmt: skip
    caught.extend(got)
    console.seed(seed, args.seed)
    for line in start_lines(em):
        console.detail(line)
    return em


def _cmd_diagnose(args: argparse.Namespace, run: Run) -> int:
    from ..diagnostics import diagnose, posterior_arrays

    console = Console.of(args)
    options = em_options(args)  # checked before any work
    seed = resolve_seed(args.seed)
    if args.json:
        check_output_file(args.json, "--json", "diagnosis.json")
    run.stage("read")
    idata = _load_posterior_file(args.posterior)
    try:
        draws = posterior_arrays(idata, data=False)
    except (KeyError, ValueError) as exc:
        raise CLIError(
            f"{args.posterior!r} is not a posterior written by `mlrbayes sample` ({exc})."
        ) from None
    _check_finite_draws(args.posterior, draws)
    X, y = read_table(args.data, args.y, _diagnose_columns(args, draws["feature_names"]))
    if "constant_data" in idata.children and "X" in idata["constant_data"].to_dataset():
        n_post = idata["constant_data"].to_dataset().sizes.get("obs")
        if n_post is not None and n_post != len(y):
            raise CLIError(
                f"{args.data!r} has {len(y)} rows but the posterior was sampled on {n_post}; "
                "pass the data the posterior is of."
            )
    caught: list[warnings.WarningMessage] = []
    run.stage("em")
    em = _diagnose_em(args, X, y, draws, seed, caught, console)
    run.stage("diagnosis")
    with warnings.catch_warnings(record=True) as more:
        warnings.simplefilter("always")
        result = diagnose(idata, X, y, em=em, method=args.relabel_method)
    text = result.summary()
    run.stage("writing")
    print_warnings("diagnose", [*caught, *more])
    payload = result.to_dict() if args.json else {}
    payload["posterior"] = str(args.posterior)
    payload["data"] = str(args.data)
    payload["em"] = (
        str(args.em) if args.em else f"fitted here (n_init={options['n_init']}, seed={seed})"
    )
    return write_and_print(args.json, payload, text, run)
