"""Simulation-based calibration of the PyMC model: a fuller run than the test's, with time.

Runs ``simulation_based_calibration`` (K = 2, one standard-normal predictor, sigma shared,
fixed priors of ``sbc_priors``) and prints the uniformity tests (chi-square and KS p-values)
per label-invariant quantity, the divergences and the time. With 100-200 simulations the
tests see moderate miscalibration. Each simulation compiles and samples one model (a few
seconds), so use --jobs on a free machine. Run with

    .venv/bin/python benchmarks/bench_sbc.py [--sims 100] [--n 50] [--draws 100] [--tune 300]
        [--chains 2] [--jobs 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_lrt import machine  # the CPU model, cores and load line (run from benchmarks/)

from mlrbayes.sbc import simulation_based_calibration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=100)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(machine(), f"; --jobs {args.jobs}")
    t0 = time.perf_counter()
    res = simulation_based_calibration(
        args.sims, args.n, 2, draws=args.draws, tune=args.tune, chains=args.chains,
        n_jobs=args.jobs, random_state=args.seed, progressbar=False,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    print(
        f"K=2, n={args.n}, sigma shared, {args.sims} simulations, {args.chains} chains x "
        f"{args.draws} draws (tune {args.tune}), ranks over {res.n_draws} draws"
    )
    print(res.summary())
    smallest = res.tests[["chi2_pvalue", "ks_pvalue"]].to_numpy().min()
    n_tests = 2 * len(res.tests)
    print(f"smallest p-value {smallest:.3g} of {n_tests} (Bonferroni 5%: {0.05 / n_tests:.2g})")
    print(f"simulations with divergences: {int(np.sum(res.n_divergent > 0))} of {args.sims}")
    print(f"time: {wall:.1f} s ({wall / args.sims:.1f} s per simulation)")


if __name__ == "__main__":
    main()
