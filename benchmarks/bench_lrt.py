"""Level and power of the bootstrap likelihood-ratio test of K vs K+1, and its time.

Level: R data sets from one line (n = 60, known sigma = 1), each tested K=1 vs 2 with B
bootstrap sets by ``select_components(..., bootstrap_lrt=B)``; prints the rejection rate at
5% with its Monte Carlo sd ``sqrt(0.05 * 0.95 / R)`` and the mean p-value (uniform on
{1/(B+1), ..., 1} under an exact test: mean (B+2)/(2(B+1))). Power: R2 data sets from three
separated lines (n = 150, sigma shared), tested K=2 vs 3. Run with

    .venv/bin/python benchmarks/bench_lrt.py [--R 200] [--B 19] [--R2 20] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
import warnings

import numpy as np

from mlrbayes import simulate
from mlrbayes.em import ConvergenceWarning
from mlrbayes.selection import select_components

FAST = {"n_init": 2, "tol": 1e-5, "max_iter": 150, "compute_se": False}


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(ln.split(":", 1)[1].strip() for ln in out.splitlines()
                     if ln.startswith("Model name"))  # fmt: skip
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} cores, load average {load:.1f} at start"


def level(R: int, B: int, jobs: int) -> None:
    t0 = time.perf_counter()
    p = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for r in range(R):
            X, y, _ = simulate(60, [1.0], [0.0], [[1.0]], 1.0, random_state=5000 + r)
            _, tests = select_components(X, y, [1, 2], sigma=1.0, random_state=r, n_jobs=jobs,
                                         bootstrap_lrt=B, return_lrt=True, **FAST)  # fmt: skip
            p.append(tests[1].pvalue)
    p = np.array(p)
    rate = float(np.mean(p <= 0.05 + 1e-12))
    mean_ref = (B + 2) / (2 * (B + 1))
    sd_mean = np.sqrt(((B + 1) ** 2 - 1) / 12 / (B + 1) ** 2 / R)
    print(f"level, true K=1, n=60, known sigma, K=1 vs 2, R={R}, B={B}:")
    print(f"  rejection rate at 5%: {rate:.3f} (MC sd {np.sqrt(0.05 * 0.95 / R):.3f})")
    print(f"  mean p-value: {p.mean():.3f} (exact test {mean_ref:.3f}, MC sd {sd_mean:.3f})")
    print(f"  rejection rate at 10%: {np.mean(p <= 0.1 + 1e-12):.3f}")
    print(f"  time: {time.perf_counter() - t0:.1f} s ({R * (B + 1)} LR statistics)")


def power(R2: int, B: int, jobs: int) -> None:
    t0 = time.perf_counter()
    p = []
    for r in range(R2):
        X, y, _ = simulate(150, [0.3, 0.3, 0.4], [-6.0, 0.0, 6.0], [[1.0], [-1.0], [0.5]], 0.5,
                           random_state=7000 + r)  # fmt: skip
        _, tests = select_components(X, y, [2, 3], random_state=r, n_jobs=jobs, n_init=3,
                                     bootstrap_lrt=B, return_lrt=True)  # fmt: skip
        p.append(tests[2].pvalue)
    p = np.array(p)
    print(f"power, true K=3 separated, n=150, sigma shared, K=2 vs 3, R={R2}, B={B}:")
    print(f"  rejection rate at 5%: {np.mean(p <= 0.05 + 1e-12):.3f}; max p {p.max():.3f}")
    print(f"  time: {time.perf_counter() - t0:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--R", type=int, default=200)
    parser.add_argument("--B", type=int, default=19)
    parser.add_argument("--R2", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    print(machine(), f"; --jobs {args.jobs}")
    level(args.R, args.B, args.jobs)
    power(args.R2, max(args.B, 29), args.jobs)


if __name__ == "__main__":
    main()
