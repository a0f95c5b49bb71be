"""Seconds per EM iteration on n = 1,000,000 rows, 5 predictors + intercept, K = 3.

Prints, for sigma known and sigma shared, the time of one EM iteration of ``fit_em``'s loop (with
the compiled pass of :mod:`mlrbayes.em.fused`, which ``fit_em`` uses from 200,000 rows, and with
the NumPy reference pass) beside

* the *floor*, measured in the same process: one ``X @ A.T`` plus K weighted Gram products
  ``X.T @ (w_k[:, None] * X)`` through BLAS (X with the intercept column, 6 columns), and
* a plain NumPy transcription of the seed formulas (scipy.stats densities, responsibilities,
  one ``lstsq`` per component on sqrt-weighted rows),

and the peak extra memory of a whole ``fit_em`` call (tracemalloc, which sees NumPy's
allocations) relative to the size of X. Run with

    .venv/bin/python benchmarks/bench_em.py [--n 1000000] [--iters 20]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np
from scipy import stats

from mlrbayes import simulate
from mlrbayes.em import ConvergenceWarning, fit_em
from mlrbayes.em.engine import InMemoryEngine
from mlrbayes.em.loop import LoopSettings, run_start
from mlrbayes.em.scaling import standardise
from mlrbayes.uncertainty import standard_errors

K, P = 3, 5
TRUTH = {
    "weights": np.array([0.3, 0.5, 0.2]),
    "intercept": np.array([-3.0, 0.0, 4.0]),
    "coef": np.array(
        [
            [1.0, -0.5, 0.2, 0.0, 0.3],
            [-1.0, 0.5, 0.0, 0.4, -0.2],
            [0.5, 1.0, -0.3, 0.1, 0.0],
        ]
    ),
}


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def floor_time(Z, rng):
    A = rng.normal(size=(K, Z.shape[1]))
    W = rng.dirichlet(np.ones(K), size=Z.shape[0])

    def run():
        Z @ A.T
        for k in range(K):
            Z.T @ (W[:, k, None] * Z)

    return best_of(run)


def naive_iteration(Z, y, w, B, s):
    """The seed formulas transcribed plainly: one E-step and one M-step."""
    dens = np.column_stack([w[k] * stats.norm.pdf(y, Z @ B[k], s) for k in range(K)])
    tot = dens.sum(axis=1)
    resp = dens / tot[:, None]
    ll = np.log(tot).sum()
    w_new = resp.mean(axis=0)
    B_new = np.empty_like(B)
    rss = 0.0
    for k in range(K):
        sw = np.sqrt(resp[:, k])
        B_new[k] = np.linalg.lstsq(Z * sw[:, None], y * sw, rcond=None)[0]
        rss += np.sum(resp[:, k] * (y - Z @ B_new[k]) ** 2)
    return ll, w_new, B_new, np.sqrt(rss / y.shape[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X, y, _ = simulate(
        args.n, TRUTH["weights"], TRUTH["intercept"], TRUTH["coef"], 1.0, random_state=1
    )
    n = X.shape[0]
    Z1 = np.column_stack([np.ones(n), X])
    print(f"n = {n:,}, p = {P} + intercept, K = {K}; X is {X.nbytes / 1e6:.0f} MB")
    import numba

    print(f"compiled pass: numba {numba.__version__}, {numba.get_num_threads()} threads")
    t_floor = floor_time(Z1, rng)
    print(f"floor (X @ A.T + {K} weighted Gram products via BLAS): {t_floor:.4f} s")

    start = {
        "weights": np.array([0.2, 0.5, 0.3]),
        "intercept": np.array([-2.0, 0.5, 3.0]),
        "coef": TRUTH["coef"] + 0.2,
    }
    B0 = np.column_stack([start["intercept"], start["coef"]])
    t0 = time.perf_counter()
    for _ in range(2):
        naive_iteration(Z1, y, start["weights"], B0, 1.0)
    t_naive = (time.perf_counter() - t0) / 2
    print(f"naive NumPy transcription of the seed formulas: {t_naive:.3f} s/iter")

    Z, ys, scaling = standardise(X, y, True)
    for label, sigma in (("known", 1.0), ("shared", "shared")):
        mode = "known" if label == "known" else "shared"
        Bs, s0 = scaling.to_std(start["intercept"], start["coef"], np.ones(K))
        # tol=1e-300: never converges, exactly `iters` iterations
        cfg = LoopSettings(mode, 1e-300, args.iters, min_weight=1e-8, min_sigma_ratio=1e-4)
        per = {}
        for compiled in (False, True):
            engine = InMemoryEngine(Z, ys, K, compiled=compiled)
            if compiled:
                engine.accumulate(Bs, start["weights"], s0)  # compile / load from the cache

            def loop(Bs=Bs, s0=s0, engine=engine, cfg=cfg):
                return run_start(engine, Bs, start["weights"].copy(), s0, cfg)

            per[compiled] = best_of(loop) / (args.iters + 1)  # passes = iterations + 1
        per_iter, per_numpy = per[True], per[False]
        t_floor = min(t_floor, floor_time(Z1, rng))  # the machine is shared: best floor seen
        # whole fit_em: one start from the same parameters, standard errors included
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = fit_em(
                X, y, K, sigma=sigma, init=start, n_init=1, max_iter=args.iters, tol=1e-300
            )
        t_fit = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        t0 = time.perf_counter()
        standard_errors(
            X,
            y,
            res.weights,
            res.intercept,
            res.coef,
            res.sigma,
            fit_intercept=True,
            sigma_setting=mode,
        )
        t_se = time.perf_counter() - t0
        # peak memory of a default fit (init="auto": binned + random starts), 3 starts
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unconverged after 3 iterations: SEs may be NaN
            fit_em(X, y, K, sigma=sigma, n_init=3, max_iter=3, random_state=0)
        peak_auto = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        print(
            f"sigma {label:6s}: {per_iter:.4f} s/iter = {per_iter / t_floor:.2f} x floor "
            f"(NumPy pass {per_numpy:.4f} s/iter = {per_numpy / t_floor:.2f} x floor; "
            f"naive {t_naive / per_iter:.1f} x slower than compiled); whole fit_em with "
            f"{res.n_iter} iterations + standard errors {t_fit:.2f} s "
            f"(of which standard errors {t_se:.2f} s); "
            f"peak extra memory "
            f"{peak / 1e6:.0f} MB = {peak / X.nbytes:.2f} x X (given start); "
            f"{peak_auto / 1e6:.0f} MB = {peak_auto / X.nbytes:.2f} x X (init='auto', 3 starts)"
        )


if __name__ == "__main__":
    main()
