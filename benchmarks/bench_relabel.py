"""Time the relabelling methods on the issue's size: 4 chains x 1000 draws x n = 1000 x K = 3.

Synthetic draws near a known K=3 mixture of regressions, each draw's labels shuffled by a known
permutation; membership probabilities from :mod:`mlrbayes.likelihood`. Each method is timed
(best of ``--repeat`` runs) and checked to undo the shuffles exactly. Also: the exhaustive K!
assignment solver against one ``scipy.optimize.linear_sum_assignment`` call per draw, and a
full ``diagnose`` on the same draws.

    .venv/bin/python benchmarks/bench_relabel.py [--chains 4] [--draws 1000] [--n 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from mlrbayes import likelihood as lik
from mlrbayes import relabel


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    k, c, d, n = 3, args.chains, args.draws, args.n
    w0, b0, c0 = np.array([0.3, 0.3, 0.4]), np.array([-3.0, 0.0, 3.0]), np.array([1.0, -1.0, 0.5])
    X = rng.uniform(-2, 2, size=(n, 1))
    z = rng.choice(k, size=n, p=w0)
    y = b0[z] + c0[z] * X[:, 0] + 0.5 * rng.standard_normal(n)
    w = np.abs(w0 + 0.02 * rng.standard_normal((c, d, k)))
    w /= w.sum(-1, keepdims=True)
    b = b0 + 0.1 * rng.standard_normal((c, d, k))
    cf = c0[:, None] + 0.1 * rng.standard_normal((c, d, k, 1))
    inj = np.argsort(rng.random((c, d, k)), axis=-1)
    undo = relabel.invert_permutations(inj)
    w, b, cf = (relabel.permute_array(a, inj, 2) for a in (w, b, cf))
    ref = {"weights": w0, "intercept": b0, "coef": c0[:, None]}

    t_resp, probs = _best(lambda: lik.responsibilities(X, y, w, b, cf, 0.5), 1)
    ref_probs = lik.responsibilities(X, y, w0, b0, c0[:, None], 0.5)
    print(
        f"size: {c} chains x {d} draws x n={n} x K={k}  (probabilities {probs.nbytes / 1e6:.0f} MB)"
    )
    print(f"membership probabilities (likelihood.responsibilities): {t_resp:.3f} s")
    rows = [
        ("stephens (reference = truth)", lambda: relabel.stephens(probs, reference=ref_probs)),
        ("stephens (reference = first draw)", lambda: relabel.stephens(probs)),
        (
            "ecr_iterative (probabilities)",
            lambda: relabel.ecr_iterative(probs, reference=ref_probs),
        ),
        ("pivot (parameters)", lambda: relabel.pivot(w, b, cf, reference=ref)),
    ]
    _, n_iter = relabel.stephens(probs, reference=ref_probs, return_n_iter=True)
    print(f"stephens iterations (reference = truth): {n_iter}")
    for name, fn in rows:
        t, perms = _best(fn, args.repeat)
        if "first draw" in name:  # labelled like draw (0, 0): one global permutation off
            comp = relabel.permute_array(inj, perms, 2).reshape(-1, k)
            ok = np.unique(comp, axis=0).shape[0] == 1
        else:
            ok = np.array_equal(perms, undo)
        print(f"{name:38s} {t:7.3f} s   exact recovery: {ok}")

    cost = rng.standard_normal((c * d, k, k))
    t_enum, _ = _best(lambda: relabel.best_permutations(cost), args.repeat)

    def hungarian():
        return np.array([linear_sum_assignment(m)[1] for m in cost])

    t_hung, _ = _best(hungarian, 1)
    print(
        f"assignment of {c * d} draws, K={k}: all K! enumerated {t_enum * 1e3:.1f} ms, "
        f"linear_sum_assignment loop {t_hung * 1e3:.1f} ms (ratio {t_hung / t_enum:.0f}x)"
    )

    import arviz_base

    from mlrbayes.diagnostics import diagnose

    dt = arviz_base.from_dict(
        {
            "posterior": {"weights": w, "intercept": b, "coef": cf},
            "constant_data": {"X": X, "sigma": np.asarray(0.5)},
            "observed_data": {"y": y},
        },
        dims={
            "weights": ["component"],
            "intercept": ["component"],
            "coef": ["component", "feature"],
            "X": ["obs", "feature"],
            "y": ["obs"],
        },
    )
    t_diag, res = _best(lambda: diagnose(dt, method="stephens"), 1)
    print(f"diagnose (stephens; probabilities, R-hat/ESS, modes): {t_diag:.3f} s -> {res.verdict}")


if __name__ == "__main__":
    main()
