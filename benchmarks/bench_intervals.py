"""Interval types: time per call and coverage on the issue's overlapping design.

Part 1 (time): one call of :func:`mlrbayes.confidence_intervals` per interval type on data
simulated from the overlapping design (weights .6/.4, intercepts 0/1.2, slopes 1/0.5, sigma 1,
shared sigma, x uniform on [-3, 3]) at n = 150 and n = 10,000; the bootstrap with ``--n-boot``
replications (default 200) over ``--n-jobs`` processes (default all cores).

Part 2 (coverage): ``--reps`` data sets (default 200) of that design at n = ``--n`` (default
150) and, for contrast, a separated one (intercepts 0/4, slopes 1/-1); each fitted by EM
(shared sigma, 10 starts), intervals at 95% for Wald, Wald-df, sandwich, profile (on the
first ``--profile-reps`` data sets, default 50: about 2 s per data set) and the bootstrap
percentile and BCa intervals (on the first ``--boot-reps``, default 40, with ``--n-boot``
refits each: 10-20 s per data set on 2 cores). Coverage is
the share of data sets whose interval contains the true value after the fit's components are
aligned to the truth (:func:`mlrbayes.resample.align_to`); the Monte Carlo error is
``sqrt(c (1 - c) / reps)``; a NaN bound counts as a miss.

    .venv/bin/python benchmarks/bench_intervals.py [--reps 200] [--profile-reps 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
import warnings
from types import SimpleNamespace

import numpy as np

import mlrbayes as mb
from mlrbayes.intervals import IntervalWarning, interval_table
from mlrbayes.resample import align_to, permute_result

OVERLAP = dict(weights=[0.6, 0.4], intercept=[0.0, 1.2], coef=[[1.0], [0.5]], sigma=1.0)
SEPARATED = dict(weights=[0.6, 0.4], intercept=[0.0, 4.0], coef=[[1.0], [-1.0]], sigma=1.0)


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in out.splitlines() if "Model name" in ln), "?"
        )
    except OSError:
        model = "?"
    load = os.getloadavg()
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy "
        f"{np.__version__}; load average at start {load[0]:.1f} (other engineers' jobs running)"
    )


def fit(design, n, seed):
    X, y, _ = mb.simulate(n, **{k: v for k, v in design.items()}, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        em = mb.fit_em(X, y, 2, sigma="shared", n_init=10, random_state=seed)
    return X, y, em


def timing(n_boot: int, n_jobs: int) -> None:
    print("\n## time per call (seconds)\n")
    print("| n | " + " | ".join(mb.intervals.INTERVAL_KINDS) + " |")
    print("|---" * (len(mb.intervals.INTERVAL_KINDS) + 1) + "|")
    for n in (150, 10_000):
        X, y, em = fit(OVERLAP, n, 1)
        row = []
        for kind in mb.intervals.INTERVAL_KINDS:
            opts = {}
            if kind.startswith("bootstrap"):
                opts = dict(n_boot=n_boot, n_jobs=n_jobs, random_state=0, progressbar=False)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", IntervalWarning)
                mb.confidence_intervals(em, X, y, kind=kind, **opts)
            row.append(f"{time.perf_counter() - t0:.3g}")
        print(f"| {n} | " + " | ".join(row) + " |")
    print(f"\nbootstrap: {n_boot} refits (3 EM starts each, the first at the estimate), "
          f"n_jobs={n_jobs}")  # fmt: skip


def truth_vector(design) -> tuple[SimpleNamespace, np.ndarray]:
    t = SimpleNamespace(
        n_components=2,
        weights=np.array(design["weights"]),
        intercept=np.array(design["intercept"]),
        coef=np.array(design["coef"]),
        sigma=design["sigma"],
    )
    return t, np.r_[t.weights, t.intercept, t.coef.ravel(), t.sigma]


def coverage(design, name: str, n: int, reps: int, profile_reps: int, boot_reps: int,
             n_boot: int, n_jobs: int) -> None:  # fmt: skip
    truth, theta = truth_vector(design)
    kinds = ("wald", "wald_df", "sandwich", "profile", "bootstrap_percentile", "bootstrap_bca")
    hits: dict[str, list[np.ndarray]] = {k: [] for k in kinds}
    n_warn = n_nan = 0
    t0 = time.perf_counter()
    boot = dict(n_boot=n_boot, n_jobs=n_jobs, progressbar=False)
    for r in range(reps):
        X, y, em = fit(design, n, 1000 + r)
        em = permute_result(em, align_to(em, truth))  # labels of the truth
        todo = ["wald", "wald_df", "sandwich"]
        todo += ["profile"] if r < profile_reps else []
        todo += ["bootstrap_percentile", "bootstrap_bca"] if r < boot_reps else []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            opts = {**boot, "random_state": r} if r < boot_reps else {}
            tab = interval_table(em, X, y, kinds=tuple(todo), **opts)
        n_warn += sum(issubclass(w.category, IntervalWarning) for w in caught)
        for kind in todo:
            part = tab[tab["interval"] == kind]
            lo, hi = part["lower"].to_numpy(), part["upper"].to_numpy()
            n_nan += int(np.sum(np.isnan(lo) | np.isnan(hi)))
            hits[kind].append((lo <= theta) & (theta <= hi))
    secs = time.perf_counter() - t0
    names = mb.intervals.confidence_intervals(em, kind="wald")["parameter"].tolist()
    rows = {}
    for kind in kinds:
        h = np.array(hits[kind], dtype=float)
        c = h.mean(axis=0)
        rows[f"{kind} (R={len(h)})"] = [
            f"{ci:.3f} ± {np.sqrt(ci * (1 - ci) / len(h)):.3f}" for ci in c
        ]
    print(f"\n## 95% coverage, {name} design, n={n} ({secs:.0f} s; {n_warn} interval warnings, "
          f"{n_nan} NaN bounds counted as misses; bootstrap: {n_boot} refits)\n")  # fmt: skip
    print("| parameter | " + " | ".join(rows) + " |")
    print("|---" * (len(rows) + 1) + "|")
    for i, nm in enumerate(names):
        print(f"| {nm} | " + " | ".join(col[i] for col in rows.values()) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--profile-reps", type=int, default=50)
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--boot-reps", type=int, default=40)
    ap.add_argument("--n-jobs", type=int, default=-1)
    ap.add_argument("--skip-timing", action="store_true")
    args = ap.parse_args()
    print(f"# bench_intervals: {machine()}")
    if not args.skip_timing:
        timing(args.n_boot, args.n_jobs)
    for design, name in ((OVERLAP, "overlapping"), (SEPARATED, "separated")):
        coverage(design, name, args.n, args.reps, args.profile_reps, args.boot_reps,
                 args.n_boot, args.n_jobs)  # fmt: skip


if __name__ == "__main__":
    main()
