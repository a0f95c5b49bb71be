"""EM at scale: the Dask engine on Parquet larger than the workers' memory, and SQUAREM.

(a) ``--rows`` rows x 5 predictors (K = 3, the design of bench_em.py) written as Parquet in
    row groups of ``--row-group`` rows (never all in memory), then fitted with a
    dask.distributed LocalCluster of ``--workers`` worker processes limited to
    ``--worker-memory`` in total. Prints the seconds per pass (one pass = the statistics of
    every active start), rows per second beside the in-memory engine at ``--memory-rows``
    rows in the same run, the peak resident memory of the client and of each worker, and
    the passes of the fit with and without SQUAREM.
(b) Overlapping components at ``--overlap-rows`` rows (two lines 0.6 sd apart in intercept,
    slopes 1.0 and 0.7, equal weights, sigma 0.5): time and passes to convergence of plain
    EM and of SQUAREM from the same start, in memory, beside R flexmix's 1.30 s per
    iteration at 10^6 rows on this machine type (issue 15).

    .venv/bin/python benchmarks/bench_scale.py                      # full: 1e8 rows (~4.8 GB)
    .venv/bin/python benchmarks/bench_scale.py --rows 1e7 --memory-rows 1e7
    .venv/bin/python benchmarks/bench_scale.py --skip-a             # only (b)
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from mlrbayes import simulate
from mlrbayes.em import fit_em
from mlrbayes.em.engine import InMemoryEngine
from mlrbayes.em.loop import LoopSettings, run_start
from mlrbayes.em.scaling import standardise
from mlrbayes.em.starts import init_binned

K, P = 3, 5
WEIGHTS = np.array([0.3, 0.5, 0.2])
INTERCEPT = np.array([-3.0, 0.0, 4.0])
COEF = np.array(
    [[1.0, -0.5, 0.2, 0.0, 0.3], [-1.0, 0.5, 0.0, 0.4, -0.2], [0.5, 1.0, -0.3, 0.1, 0.0]]
)
SIGMA = 1.0
FLEXMIX_S_PER_ITER = 1.30  # R flexmix at n = 10^6 on this machine type (issue 15)
PASSES = [0]  # EM passes of the Dask engine (counted in part_a)


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if "Model name" in ln), "?"
        )
    except OSError:
        model = platform.processor() or "?"
    load = os.getloadavg()
    return (
        f"machine: {model}, {os.cpu_count()} cores; load average {load[0]:.1f} / {load[1]:.1f} "
        "(1 / 5 min; other engineers' jobs share the machine)"
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_parquet(path: Path, rows: int, row_group: int, seed: int) -> float:
    """Write ``rows`` rows in row groups, one group in memory at a time; returns seconds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    need = rows * (P + 1) * 8
    free = shutil.disk_usage(path.parent).free
    if need * 1.2 > free:
        raise SystemExit(f"need ~{need / 1e9:.1f} GB for the Parquet file, {free / 1e9:.1f} free")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    names = [f"x{j + 1}" for j in range(P)] + ["y"]
    writer = None
    for a in range(0, rows, row_group):
        m = min(row_group, rows - a)
        X = rng.normal(size=(m, P))
        X, y, _ = simulate(m, WEIGHTS, INTERCEPT, COEF, SIGMA, X=X, random_state=rng)
        table = pa.table(dict(zip(names, [*X.T, y], strict=True)))
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=m)
    writer.close()
    return time.perf_counter() - t0


def time_pass(engine, params, repeat=2) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        if hasattr(engine, "accumulate_batch"):
            engine.accumulate_batch(params)
        else:
            for p in params:
                engine.accumulate(*p)
        best = min(best, time.perf_counter() - t0)
    return best


def truth_params(scaling, n_starts):
    B, s = scaling.to_std(INTERCEPT, COEF, np.full(K, SIGMA))
    rng = np.random.default_rng(0)
    return [(B + 0.05 * rng.normal(size=B.shape), WEIGHTS, s) for _ in range(n_starts)]


def part_a(args) -> None:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from mlrbayes.em.dask_engine import DaskEngine, Moments, dask_inputs, scaling_from_moments

    rows, mem_rows = int(args.rows), int(args.memory_rows)
    tmp = Path(args.dir or tempfile.mkdtemp(prefix="mlrbayes_scale_"))
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "data.parquet"
    if not path.exists():
        secs = write_parquet(path, rows, int(args.row_group), seed=1)
        print(f"(a) wrote {rows:,} rows x {P} predictors to {path} "
              f"({path.stat().st_size / 1e9:.2f} GB) in {secs:.0f} s")  # fmt: skip
    per_worker = args.worker_memory / args.workers
    with (
        LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                     memory_limit=f"{per_worker}GB", dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        ddf = dd.read_parquet(str(path), blocksize=args.blocksize)
        cols = [f"x{j + 1}" for j in range(P)]
        Xd, yd, _, _ = dask_inputs(ddf[cols], ddf["y"])
        print(f"(a) {rows:,} rows in {Xd.numblocks[0]} blocks; {args.workers} worker processes "
              f"x 1 thread, {args.worker_memory:g} GB in total")  # fmt: skip
        t0 = time.perf_counter()
        blocks = list(zip(Xd.to_delayed().ravel(), yd.to_delayed().ravel(), strict=True))
        import dask

        parts = [dask.delayed(Moments.of_block)(a, b) for a, b in blocks]
        mo = dask.compute(parts)[0]
        total = mo[0]
        for m in mo[1:]:
            total = total + m
        print(f"(a) moments pass: {time.perf_counter() - t0:.1f} s")
        eng = DaskEngine(Xd, yd, K, scaling_from_moments(total, True))
        for n_starts in (1, args.n_init):
            sec = time_pass(eng, truth_params(eng.scaling, n_starts), repeat=1)
            print(f"(a) Dask pass, {n_starts} start(s): {sec:.2f} s = "
                  f"{rows / sec / 1e6:.2f} M rows/s")  # fmt: skip
        results = {}
        counted = DaskEngine.accumulate_batch

        def counting(self, params):
            PASSES[0] += 1
            return counted(self, params)

        DaskEngine.accumulate_batch = counting
        for acc in ("squarem", None):
            PASSES[0] = 0
            t0 = time.perf_counter()
            res = fit_em(ddf[cols], ddf["y"], K, sigma="shared", n_init=args.n_init,
                         random_state=0, accelerate=acc, max_iter=args.max_iter,
                         compute_se=False)  # fmt: skip
            secs = time.perf_counter() - t0
            results[acc] = (secs, PASSES[0], res.loglik)
            print(f"(a) fit_em on Dask, accelerate={acc}: {secs:.0f} s, {PASSES[0]} EM passes "
                  f"(all starts together; iterations kept per start "
                  f"{[st.n_iter for st in res.starts]}), {secs / PASSES[0]:.2f} s per pass "
                  f"overall, loglik {res.loglik:.6f}, converged {res.converged}")  # fmt: skip
        DaskEngine.accumulate_batch = counted
        workers = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print("(a) peak resident memory: client "
              f"{peak_rss_mb():.0f} MB; workers "
              + ", ".join(f"{v:.0f} MB" for v in workers.values()))  # fmt: skip
    Xm = np.random.default_rng(2).normal(size=(mem_rows, P))
    X, y, _ = simulate(mem_rows, WEIGHTS, INTERCEPT, COEF, SIGMA, X=Xm, random_state=3)
    Z, ys, sc = standardise(X, y, True)
    eng = InMemoryEngine(Z, ys, K)
    for n_starts in (1, args.n_init):
        sec = time_pass(eng, truth_params(sc, n_starts))
        print(f"(a) in-memory pass at {mem_rows:,} rows, {n_starts} start(s): {sec:.2f} s = "
              f"{mem_rows / sec / 1e6:.2f} M rows/s")  # fmt: skip
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


def part_b(args) -> None:
    n = int(args.overlap_rows)
    X, y, _ = simulate(n, [0.5, 0.5], [0.0, 0.6], [[1.0], [0.7]], 0.5, random_state=1)
    Z, ys, _ = standardise(X, y, True)
    eng = InMemoryEngine(Z, ys, 2)
    cfg = LoopSettings("shared", 1e-8, 5000, 1e-8, 1e-4)
    start = init_binned(Z, ys, 2, None, "shared", None)
    sec_pass = time_pass(eng, [start], repeat=3)
    print(f"(b) overlapping design, n = {n:,}, K = 2, p = 1, tol 1e-8 per observation, "
          f"binned start; one pass {sec_pass:.3f} s")  # fmt: skip
    for acc in (None, "squarem"):
        t0 = time.perf_counter()
        st = run_start(eng, *start, cfg, accelerate=acc)
        secs = time.perf_counter() - t0
        print(f"(b) accelerate={acc}: {secs:.2f} s, {st.n_passes} passes, {st.n_iter} "
              f"iterations kept, loglik {st.loglik:.4f} (standardised units), converged "
              f"{st.converged}; flexmix at {FLEXMIX_S_PER_ITER} s/iteration would take "
              f"{FLEXMIX_S_PER_ITER * st.n_passes:.0f} s for as many iterations")  # fmt: skip


def part_c(args) -> None:
    """``validate`` at ``--validate-rows`` rows (plain model, K = 2, small draws), timed."""
    import warnings

    from mlrbayes import validate

    n = int(args.validate_rows)
    X, y, _ = simulate(n, [0.4, 0.6], [0.0, 3.0], [[1.0], [-1.0]], 0.5, random_state=5)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kw = {"posterior_subsample": args.subsample or None}  # 0: every row
        cmp = validate(X, y, 2, sigma="shared", n_init=2, random_state=0, draws=args.draws,
                       tune=args.draws, chains=2, progressbar=False, **kw)  # fmt: skip
    secs = time.perf_counter() - t0
    sub = cmp.to_dict().get("settings", {}).get("posterior_subsample")
    print(f"(c) validate, n = {n:,}, K = 2, 2 chains x {args.draws} draws (+{args.draws} tune): "
          f"{secs:.0f} s, verdict {cmp.verdict}, posterior subsample {sub}, peak RSS "
          f"{peak_rss_mb():.0f} MB, {len(caught)} warnings")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=float, default=1e8, help="rows of the Parquet file (a)")
    ap.add_argument("--row-group", type=float, default=1e6, help="rows per row group")
    ap.add_argument("--blocksize", default="128MiB", help="Dask partition size when reading")
    ap.add_argument("--memory-rows", type=float, default=1e7, help="in-memory comparison rows")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-memory", type=float, default=4.0, help="GB, all workers")
    ap.add_argument("--n-init", type=int, default=2, help="starts of the Dask fits")
    ap.add_argument("--max-iter", type=int, default=300)
    ap.add_argument("--overlap-rows", type=float, default=1e6, help="rows of (b)")
    ap.add_argument("--dir", default=None, help="where to write the Parquet file")
    ap.add_argument("--keep", action="store_true", help="keep the Parquet file")
    ap.add_argument("--skip-a", action="store_true")
    ap.add_argument("--skip-b", action="store_true")
    ap.add_argument("--validate-rows", type=float, default=None, help="(c): validate at n")
    ap.add_argument("--draws", type=int, default=200, help="(c): draws and tune per chain")
    ap.add_argument("--subsample", type=int, default=0,
                    help="(c): posterior_subsample (default 0: every row)")  # fmt: skip
    args = ap.parse_args()
    print(machine())
    if not args.skip_b:
        part_b(args)
    if not args.skip_a:
        part_a(args)
    if args.validate_rows:
        part_c(args)
    print(machine())


if __name__ == "__main__":
    main()
