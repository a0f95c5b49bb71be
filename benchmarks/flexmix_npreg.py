"""mlrbayes' EM on flexmix's own NPreg data beside the log-likelihoods flexmix prints.

flexmix's vignette "flexmix-intro" (``inst/doc/flexmix-intro.pdf`` of github:cran/flexmix)
fits its shipped data ``NPreg`` (200 rows) and prints

* ``m1 <- flexmix(yn ~ x + I(x^2), data = NPreg, k = 2)``: log Lik. -642.5451 (df = 9),
  AIC 1303.09, BIC 1332.775;
* ``m4 <- flexmix(yn ~ x + I(x^2) | id2, data = NPreg, k = 2)``: log Lik. -561.5651
  (df = 9), AIC 1141.13, BIC 1170.815 (BIC with n = 200 observations, not the 50 groups).

flexmix's data are not shipped here (GPL-2 package data); convert them once, e.g. with the
``rdata`` package (``rdata.read_rda("NPreg.RData")["NPreg"].to_csv("NPreg.csv")``) from
``data/NPreg.RData`` of github:cran/flexmix, then run

    .venv/bin/python benchmarks/flexmix_npreg.py NPreg.csv
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from mlrbayes.em import fit_em

FLEXMIX = {"m1": (-642.5451, 1303.09, 1332.775), "m4 (| id2)": (-561.5651, 1141.13, 1170.815)}


def main(path: str) -> None:
    d = pd.read_csv(path)
    X = np.column_stack([d["x"], d["x"] ** 2])
    fits = {
        "m1": fit_em(X, d["yn"].to_numpy(), 2, sigma="component", random_state=0),
        "m4 (| id2)": fit_em(
            X, d["yn"].to_numpy(), 2, sigma="component", groups=d["id2"].to_numpy(), random_state=0
        ),
    }
    print(f"{'model':<12} {'loglik':>11} {'flexmix':>11} {'AIC':>9} {'flexmix':>9} "
          f"{'BIC':>9} {'flexmix':>9}")  # fmt: skip
    for name, m in fits.items():
        ll, aic, bic = FLEXMIX[name]
        print(f"{name:<12} {m.loglik:11.4f} {ll:11.4f} {m.aic:9.3f} {aic:9.3f} {m.bic:9.3f} "
              f"{bic:9.3f}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
