"""Seconds per EM iteration of the extended model beside the plain model (issue 14).

n = 20,000 rows, K = 2 components, p = 2 predictors + intercept, shared sigma. Each model is
fitted by ``fit_em`` from the same given start for a fixed number of iterations (tol tiny, so
every start runs ``--iters`` iterations; no standard errors), best of ``--repeat`` runs;
seconds per iteration = wall time / iterations. Models:

* ``plain``: today's model (the fused engine of :mod:`mlrbayes.em.engine`);
* ``weights=1``: the same model through the extended engine (all weights 1), to separate the
  engine's cost from the features';
* ``gating``: 2 gating covariates (q = 3 with the intercept; 3 Newton steps per iteration);
* ``groups``: 5,000 groups of 4 rows;
* ``fixed``: 2 fixed-coefficient predictors (joint least squares, (K*3 + 2) unknowns);
* ``all``: gating + groups + fixed + weights.

Also times one full default ``fit_em`` (10 starts, standard errors) of the gating and the
grouped model. Run with

    .venv/bin/python benchmarks/bench_extended.py [--n 20000] [--iters 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
import warnings

import numpy as np

from mlrbayes.em import ConvergenceWarning, fit_em
from mlrbayes.simulate import simulate_extended
from mlrbayes.spec import as_dataset

B0, C0 = [0.0, 3.0], [[1.0, 0.5], [-1.0, 0.2]]
START = {"weights": [0.5, 0.5], "intercept": [0.3, 2.5], "coef": [[0.8, 0.4], [-0.8, 0.1]],
         "sigma": 1.2, "gating": np.zeros((2, 3)), "fixed": np.zeros(2)}  # fmt: skip


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines()
                      if ln.startswith("Model name")), platform.processor())  # fmt: skip
    except OSError:
        model = platform.processor()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} cores, load average {load:.1f} at start"


def datasets(n: int, seed: int = 0) -> dict:
    kw = dict(random_state=seed)
    gating = [[0.3, 1.0, -0.5], [-0.3, -1.0, 0.5]]
    plain, _ = simulate_extended(n, B0, C0, 0.7, **kw)
    out = {"plain": plain, "weights=1": as_dataset(plain.X, plain.y, sample_weight=np.ones(n))}
    out["gating"], _ = simulate_extended(n, B0, C0, 0.7, gating=gating, **kw)
    out["groups"], _ = simulate_extended(n, B0, C0, 0.7, group_size=4, **kw)
    out["fixed"], _ = simulate_extended(n, B0, C0, 0.7, fixed=[1.0, -2.0], **kw)
    d, _ = simulate_extended(n, B0, C0, 0.7, gating=gating, fixed=[1.0, -2.0], group_size=4, **kw)
    v = np.random.default_rng(seed).integers(1, 3, size=d.n_groups).astype(float)[d.groups]
    out["all"] = as_dataset(d.X, d.y, concomitant=d.concomitant[:, 1:], fixed=d.fixed,
                            groups=d.groups, sample_weight=v)  # fmt: skip
    return out


def per_iteration(data, iters: int, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            init = {k: v for k, v in START.items() if k not in ("gating", "fixed")}
            if data.concomitant is not None:
                init["gating"] = START["gating"]
            if data.fixed is not None:
                init["fixed"] = START["fixed"]
            res = fit_em(data, None, 2, sigma="shared", init=init, n_init=1, tol=1e-300,
                         max_iter=iters, compute_se=False)  # fmt: skip
        best = min(best, (time.perf_counter() - t0) / res.n_iter)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"n = {args.n}, K = 2, p = 2, shared sigma, {args.iters} iterations, best of "
          f"{args.repeat}")  # fmt: skip
    data = datasets(args.n)
    base = None
    print(f"{'model':<10} {'ms/iter':>9} {'x plain':>8}")
    for name, d in data.items():
        sec = per_iteration(d, args.iters, args.repeat)
        base = sec if base is None else base
        print(f"{name:<10} {1e3 * sec:9.2f} {sec / base:8.1f}")
    for name in ("gating", "groups"):
        t0 = time.perf_counter()
        res = fit_em(data[name], None, 2, sigma="shared", random_state=0)
        print(f"full default fit_em ({name}: 10 starts incl. the plain start fit, SEs): "
              f"{time.perf_counter() - t0:.2f} s, {sum(s.n_iter for s in res.starts)} "
              "extended iterations in all")  # fmt: skip


if __name__ == "__main__":
    main()
