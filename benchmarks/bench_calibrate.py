"""Wall time of a 200-replication ``calibrate`` at n = 150 and at n = 10,000.

The issue's overlapping design (weights 0.6/0.4, intercepts 0/1.2, slopes 1/0.5, sigma 1
shared), fitted by EM with 10 starts; the study refits each of the R simulated data sets with
the fit's 10 starts (the first at the truth) and computes the default interval types. Prints the
machine (``lscpu`` model, cores), the load average before each run (other engineers share the
machine), the wall seconds per study and per replication for each ``n_jobs`` (and the CPU
seconds of the process with ``n_jobs=1``, steadier on a loaded machine), and the recommended
interval. Run with

    .venv/bin/python benchmarks/bench_calibrate.py [--replications 200] [--n 150 10000]
        [--jobs 1 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import mlrbayes as mb
from mlrbayes.intervals import INTERVAL_KINDS

DESIGN = {"weights": [0.6, 0.4], "intercept": [0.0, 1.2], "coef": [[1.0], [0.5]], "sigma": 1.0}


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines()
                      if ln.startswith("Model name")), "unknown")  # fmt: skip
    except OSError:
        model = "unknown (no lscpu)"
    return f"{model}, {os.cpu_count()} logical cores"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=200)
    ap.add_argument("--n", type=int, nargs="+", default=[150, 10_000])
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"interval types available: {list(INTERVAL_KINDS)}")
    print("other engineers' jobs share this machine; load average given per run\n")
    print(f"{'n':>7} {'n_jobs':>6} {'R':>5} {'wall s':>9} {'s / rep':>8} {'CPU s':>9} "
          f"{'load':>5}  recommended")  # fmt: skip
    for n in args.n:
        X, y, _ = mb.simulate(n, **DESIGN, random_state=11)
        em = mb.fit_em(X, y, 2, sigma="shared", random_state=0)
        for jobs in args.jobs:
            load = os.getloadavg()[0]
            t0, c0 = time.perf_counter(), time.process_time()
            res = mb.calibrate(em, X, y, replications=args.replications, random_state=1,
                               n_jobs=jobs, progressbar=False)  # fmt: skip
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            r = args.replications
            cpu_text = f"{cpu:>9.1f}" if jobs == 1 else f"{'(workers)':>9}"
            print(f"{n:>7} {jobs:>6} {r:>5} {dt:>9.1f} {dt / r:>8.3f} {cpu_text} {load:>5.1f}  "
                  f"{res.recommended} ({res.n_failed} failed)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
