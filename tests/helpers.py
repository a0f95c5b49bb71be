"""Helpers shared by the test modules (imported as ``from helpers import ...``; tests/ is on
sys.path through conftest.py): hand-built posteriors with a known truth, and running the CLI
in-process."""

import numpy as np
import xarray as xr

CHAINS, DRAWS = 4, 300


def posterior_tree(X, y, w, b, c, s, *, features=("x",), diverging=None):
    """A posterior DataTree like sample_posterior's: w, b (C, D, K), c (C, D, K, p), s (C, D)."""
    n_chain, n_draw, k = w.shape
    coords = {
        "chain": np.arange(n_chain),
        "draw": np.arange(n_draw),
        "component": np.arange(k),
        "feature": list(features),
    }
    post = xr.Dataset(
        {
            "weights": (("chain", "draw", "component"), w),
            "intercept": (("chain", "draw", "component"), b),
            "coef": (("chain", "draw", "component", "feature"), c),
            "sigma": (("chain", "draw"), s),
        },
        coords=coords,
    )
    post.attrs["sampler"] = "hand-built"
    div = np.zeros((n_chain, n_draw), bool) if diverging is None else diverging
    return xr.DataTree.from_dict(
        {
            "posterior": post,
            "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), div)}),
            "constant_data": xr.Dataset(
                {"X": (("obs", "feature"), X)}, coords={"feature": list(features)}
            ),
            "observed_data": xr.Dataset({"y": (("obs",), y)}),
        }
    )


def draws_around(em, rng, *, scale=1.0, rho=0.0, n_chain=CHAINS, n_draw=DRAWS):
    """Independent normal draws (AR(1) with coefficient rho per chain) centred at the EM
    estimate with the EM standard errors times ``scale`` as sds."""
    se = em.standard_errors
    k = em.n_components

    def noise(shape):
        e = rng.standard_normal((n_chain, n_draw, *shape))
        if rho:
            for t in range(1, n_draw):
                e[:, t] = rho * e[:, t - 1] + np.sqrt(1 - rho**2) * e[:, t]
        return e

    w0 = em.weights[0] + scale * se["weights"][0] * noise(())
    w = np.stack([w0, 1 - w0], axis=-1) if k == 2 else None
    b = em.intercept + scale * np.asarray(se["intercept"]) * noise((k,))
    c = em.coef + scale * np.asarray(se["coef"]) * noise((k, em.n_features))
    s = em.sigma + scale * float(se["sigma"]) * noise(())
    return w, b, c, s


def run_cli(argv, capsys):
    """``mlrbayes`` in-process with ``argv`` (any items, made strings): (exit code, out, err)."""
    from mlrbayes.cli import main

    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err
