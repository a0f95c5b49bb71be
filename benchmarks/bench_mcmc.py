"""MCMC speed: ESS per wall second of mlrbayes' model vs a straightforward PyMC model.

For each data size n and number of components K, simulate well-separated data (intercepts
spread 4 noise sds apart, one predictor), then sample the *ordered* model (ordering by intercept,
so label switching does not ruin ESS) with a shared estimated sigma, 4 chains x 1000 draws after
1000 tuning steps, all chains started at the true parameters (so every chain explores the main
mode; from spread-out starts a chain can settle in a local mode and the ESS then measures that,
not speed), warm compile cache (every configuration is run once, briefly, before it is
timed). Samplers:

- ``mlrbayes/pymc``, ``mlrbayes/nutpie``: :func:`mlrbayes.bayes.sample_posterior` (custom
  one-pass log-likelihood + gradient Op) with PyMC's NUTS / nutpie;
- ``baseline/pymc``, ``baseline/nutpie``: the textbook model, ``pm.NormalMixture`` with
  ``mu = intercept + X @ coef.T``, same priors and ordering.

Printed per run: wall seconds of the sampling call (including nutpie's per-call compile), the
minimum bulk ESS over the regression parameters (intercept and coef), and ESS per wall second.

Usage::

    .venv/bin/python benchmarks/bench_mcmc.py               # full grid (long; run in background)
    .venv/bin/python benchmarks/bench_mcmc.py --n 2000 --k 3 --samplers mlrbayes/nutpie
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from mlrbayes import bayes
from mlrbayes.simulate import simulate

SAMPLERS = ("mlrbayes/pymc", "mlrbayes/nutpie", "baseline/pymc", "baseline/nutpie")


def make_data(n: int, k: int, seed: int = 0):
    weights = np.full(k, 1.0 / k)
    intercept = 4.0 * (np.arange(k) - (k - 1) / 2)
    coef = np.linspace(-1.0, 1.0, k)[:, None]
    X, y, _ = simulate(n, weights, intercept, coef, 1.0, random_state=seed)
    truth = {"weights": weights, "intercept": intercept, "coef": coef, "sigma": 1.0}
    return X, y, truth


def baseline_model(X, y, k):
    import pymc as pm
    import pytensor.tensor as pt

    pri = bayes.default_priors(X, y)
    coords = {"component": np.arange(k), "feature": ["x0"], "obs": np.arange(len(y))}
    with pm.Model(coords=coords) as model:
        Xd = pm.Data("X", X, dims=("obs", "feature"))
        w = pm.Dirichlet("weights", a=np.ones(k), dims="component")
        b = pm.Normal(
            "intercept",
            pri["intercept"]["mu"],
            pri["intercept"]["sigma"],
            dims="component",
            transform=pm.distributions.transforms.ordered,
            initval=bayes._spread_start(y, k),
        )
        c = pm.Normal("coef", 0.0, pri["coef"]["sigma"], dims=("component", "feature"))
        s = pm.HalfNormal("sigma", pri["sigma"]["sigma"])
        mu = b + pt.dot(Xd, c.T)
        pm.NormalMixture("y", w=w, mu=mu, sigma=s, observed=y, dims="obs")
    return model


def run(sampler: str, X, y, k, draws, tune, chains, seed, init):
    import pymc as pm

    family, backend = sampler.split("/")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if family == "mlrbayes":
            idata = bayes.sample_posterior(
                X, y, k, sigma="shared", order_by="intercept", draws=draws, tune=tune,
                chains=chains, sampler=backend, random_state=seed, progressbar=False,
                log_likelihood=False, init=init,
            )  # fmt: skip
        else:
            idata = pm.sample(
                draws=draws, tune=tune, chains=chains, cores=min(chains, 2),
                nuts_sampler=backend, random_seed=seed, progressbar=False, quiet=True,
                compute_convergence_checks=False, model=baseline_model(X, y, k),
                initvals=init, init="adapt_diag" if backend == "pymc" else "auto",
            )  # fmt: skip
    wall = time.perf_counter() - t0
    diag = min_ess(idata)
    return wall, diag, int(idata["sample_stats"]["diverging"].values.sum())


def min_ess(idata) -> float:
    import arviz_stats as azs

    post = idata["posterior"].to_dataset()[["intercept", "coef"]]
    ess = azs.ess(post, method="bulk")
    return float(min(np.min(ess[v].values) for v in ess.data_vars))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[200, 2000, 20000])
    ap.add_argument("--k", type=int, nargs="+", default=[2, 3])
    ap.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    print(f"{'n':>6} {'K':>2} {'sampler':<16} {'wall s':>8} {'min ESS':>8} {'ESS/s':>8} {'div':>4}")
    for n in args.n:
        for k in args.k:
            X, y, truth = make_data(n, k)
            for sampler in args.samplers:
                run(sampler, X[:200], y[:200], k, 20, 20, 2, 0, truth)  # warm the compile caches
                wall, ess, div = run(
                    sampler, X, y, k, args.draws, args.tune, args.chains, args.seed, truth
                )
                print(
                    f"{n:>6} {k:>2} {sampler:<16} {wall:8.1f} {ess:8.0f} {ess / wall:8.1f} "
                    f"{div:>4}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
