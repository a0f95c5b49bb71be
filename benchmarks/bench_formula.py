"""Cost of the formula front end at n = 2·10⁴: formula → Dataset beside the array path.

Times (best of 5, milliseconds) for building the checked :class:`~mlrbayes.spec.Dataset` of

* the plain model from arrays (``as_dataset``) and from the formula ``"y ~ x"``;
* ``"y ~ x + I(x**2) + C(site)"`` (a transform and a 4-level categorical);
* the full extended specification: that formula with ``concomitant="~ w"``, ``fixed="~ u"``,
  ``groups="id"`` (groups of 5) and ``weights="v"``;
* rebuilding the design of 1,000 new rows through the stored formulas
  (``FormulaDesign.transform``, what prediction uses),

and one EM fit of the plain model (n_init=1, for scale). Prints the machine (``lscpu`` model,
cores) and the load average: other engineers' jobs may share the machine. Run with

    .venv/bin/python benchmarks/bench_formula.py [--n 20000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import numpy as np
import pandas as pd

from mlrbayes.em import fit_em
from mlrbayes.spec import as_dataset, resolve_dataset


def machine() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in text.splitlines() if "Model name" in ln), "?"
        )
    except OSError:
        model = "?"
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{model}; {os.cpu_count()} cores; load average {load} (other jobs running)"


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gid = np.arange(n) // 5
    g = gid.max() + 1
    x = rng.uniform(-2, 2, size=n)
    z = rng.random(n) < 0.4
    return pd.DataFrame(
        {
            "y": np.where(z, 2.0 + x, -2.0 - x) + 0.5 * rng.normal(size=n),
            "x": x,
            "site": rng.choice(list("abcd"), size=n),
            "w": rng.normal(size=g)[gid],
            "u": rng.normal(size=n),
            "id": gid,
            "v": rng.integers(1, 3, size=g)[gid].astype(float),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    n = ap.parse_args().n
    df = frame(n)
    X, y = df[["x"]].to_numpy(), df["y"].to_numpy()
    full = dict(concomitant="~ w", fixed="~ u", groups="id", weights="v")
    ext = resolve_dataset("y ~ x + I(x**2) + C(site)", data=df, **full)
    new = df.iloc[:1000]
    rows = [
        ("arrays, as_dataset", lambda: as_dataset(X, y)),
        ("formula 'y ~ x'", lambda: resolve_dataset("y ~ x", data=df)),
        ("formula 'y ~ x + I(x**2) + C(site)'",
         lambda: resolve_dataset("y ~ x + I(x**2) + C(site)", data=df)),
        ("same + concomitant, fixed, groups, weights",
         lambda: resolve_dataset("y ~ x + I(x**2) + C(site)", data=df, **full)),
        ("transform 1,000 new rows", lambda: ext.design.transform(new)),
        ("plain EM fit, n_init=1 (for scale)",
         lambda: fit_em(X, y, 2, sigma="shared", n_init=1, random_state=0)),
    ]  # fmt: skip
    print(f"bench_formula: n = {n}; {machine()}")
    for label, fn in rows:
        print(f"  {label:<45s} {1e3 * best_of(fn):10.3f} ms")


if __name__ == "__main__":
    main()
