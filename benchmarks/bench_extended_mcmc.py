"""MCMC cost of the extended model (issue 14): kernel seconds per evaluation and ESS per second
of a gating model and a grouped model at n = 20,000 beside the plain model.

Part 1 — the likelihood kernel: median wall time of one log-likelihood + gradient evaluation
(``mlrbayes.kernel.mixreg_logp_grad`` for the plain model, ``extended_logp_grad`` for the
extended ones; the plain data also through the extended kernel) and of the textbook PyTensor
graph (``textbook_logp_tensor`` compiled with its autodiff gradient), K = 2, one predictor.

Part 2 — sampling: :func:`mlrbayes.bayes.sample_posterior` with PyMC's NUTS, 2 chains x
``--draws`` after ``--tune`` tuning steps, started at the truth, shared sigma. Printed: wall
seconds of the sampling call, minimum bulk ESS over the component parameters (intercept,
coef, and the gating coefficients in the gating model), and ESS per second.

Models (well separated, intercepts 0 and 4, slopes 1 and -1, sigma 1):

- ``plain``: constant weights 0.5 / 0.5;
- ``gating``: P(z = 1 | w) = softmax(gamma w) with centred gamma [[0, -1], [0, 1]], w ~ N(0, 1);
- ``grouped``: 4,000 groups of 5 observations sharing one component, weights 1 or 2 per group.

Usage::

    .venv/bin/python benchmarks/bench_extended_mcmc.py            # both parts (a few minutes)
    .venv/bin/python benchmarks/bench_extended_mcmc.py --part kernel
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
import warnings

import numpy as np

from mlrbayes.spec import as_dataset


def make_data(model: str, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_units = n // 5 if model == "grouped" else n
    g = np.repeat(np.arange(n_units), n // n_units)
    w = rng.normal(size=n_units)
    p1 = 1.0 / (1.0 + np.exp(-2.0 * w)) if model == "gating" else np.full(n_units, 0.5)
    comp = (rng.random(n_units) < p1).astype(int)[g]
    x = rng.normal(size=n)
    b, c = np.array([0.0, 4.0]), np.array([1.0, -1.0])
    y = b[comp] + c[comp] * x + rng.normal(size=n)
    kw = {}
    if model == "gating":
        kw["concomitant"] = w[g][:, None]
    if model == "grouped":
        kw["groups"] = g
        kw["sample_weight"] = np.where(np.arange(n_units) % 2 == 0, 1.0, 2.0)[g]
    truth = {"weights": np.array([0.5, 0.5]), "intercept": b, "coef": c[:, None], "sigma": 1.0}
    if model == "gating":
        truth["gating_coef"] = np.array([[0.0, -1.0], [0.0, 1.0]])
    return as_dataset(x[:, None], y, **kw), truth


def _median_time(fn, repeats: int) -> float:
    fn()  # compile / warm
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_kernel(n: int, repeats: int) -> None:
    import pytensor
    import pytensor.tensor as pt

    from mlrbayes import kernel as K_

    print(f"\n## kernel: seconds per log-likelihood + gradient, n = {n}, K = 2, p = 1")
    print(f"{'model':<10} {'evaluator':<22} {'ms/eval':>9}")
    for model in ("plain", "gating", "grouped"):
        data, t = make_data(model, n)
        q = 0 if data.concomitant is None else data.concomitant.shape[1]
        gam = t.get("gating_coef", np.zeros((2, q)))
        w, b, c, s = t["weights"], t["intercept"], t["coef"], np.ones(2)
        U, W, rows, starts, v = K_.extended_inputs(data)
        args = (data.X, data.y, U, W, rows, starts, v, w, gam, b, c, s, np.zeros(0))
        rows_out = []
        if model == "plain":
            plain = (data.X, data.y, w, b, c, s)
            rows_out.append(("fused plain kernel", lambda a=plain: K_.mixreg_logp_grad(*a)))
        rows_out.append(("fused extended kernel", lambda a=args: K_.extended_logp_grad(*a)))
        tw, tb, ts, td = pt.dvector(), pt.dvector(), pt.dvector(), pt.dvector()
        tg, tc = pt.dmatrix(), pt.dmatrix()
        ll = K_.textbook_logp_tensor(
            data, pt.as_tensor(data.X), pt.as_tensor(data.y), tw, tg, tb, tc, ts, td
        )
        ins = [tw, tg, tb, tc, ts]
        fn = pytensor.function(
            [*ins, td],
            [ll, *pytensor.grad(ll, ins, disconnected_inputs="ignore")],
            on_unused_input="ignore",
        )
        pars = (w, gam, b, c, s, np.zeros(0))
        rows_out.append(("textbook PyTensor", lambda f=fn, a=pars: f(*a)))
        for name, f in rows_out:
            print(f"{model:<10} {name:<22} {1e3 * _median_time(f, repeats):9.3f}", flush=True)


def bench_sampling(n: int, draws: int, tune: int, seed: int) -> None:
    from arviz_stats import ess

    from mlrbayes import bayes
    from mlrbayes.posterior import PosteriorDraws

    print(f"\n## sampling: PyMC NUTS, 2 chains x {draws} draws (+{tune} tune), n = {n}, K = 2")
    print(f"{'model':<10} {'wall s':>8} {'min ESS':>9} {'ESS/s':>8} {'divergent':>9}")
    for model in ("plain", "gating", "grouped"):
        data, truth = make_data(model, n, seed)
        kw = dict(draws=draws, tune=tune, chains=2, cores=2, sampler="pymc", init=truth)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bayes.sample_posterior(data, None, 2, sigma="shared", **{**kw, "draws": 20, "tune": 20})
            idata = bayes.sample_posterior(
                data, None, 2, sigma="shared", random_state=seed, progressbar=False, **kw
            )
        wall = float(idata["posterior"].attrs["sampling_wall_seconds"])
        d = PosteriorDraws.from_datatree(idata)
        cols = [d.intercept, d.coef.reshape(*d.coef.shape[:2], -1)]
        if d.gating is not None:
            cols.append(d.gating[:, :, 1, 1:])  # the centred slope rows are +- each other
        flat = np.concatenate(cols, axis=-1)
        e = min(float(ess(flat[..., j], method="bulk")) for j in range(flat.shape[-1]))
        n_div = int(idata["posterior"].attrs["n_divergent"])
        print(f"{model:<10} {wall:8.1f} {e:9.0f} {e / wall:8.1f} {n_div:9d}", flush=True)


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} cores, load average {load:.1f} at start"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--part", choices=("kernel", "sampling", "both"), default="both")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print("note: other engineers' jobs share these cores (see the load average)")
    if args.part in ("kernel", "both"):
        bench_kernel(args.n, args.repeats)
    if args.part in ("sampling", "both"):
        bench_sampling(args.n, args.draws, args.tune, args.seed)


if __name__ == "__main__":
    main()
