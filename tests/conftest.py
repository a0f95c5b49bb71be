import os
from pathlib import Path

# PyTensor's compile cache inside the repo (git-ignored), set before anything imports pytensor.
os.environ.setdefault(
    "PYTENSOR_FLAGS",
    f"base_compiledir={Path(__file__).resolve().parents[1] / '.pytensor_cache'}",
)
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


@pytest.fixture(scope="module")
def four_clouds():
    """Four clouds at x = +-1, y = +-1 (two flat lines simulated): two EM optima of equal
    log-likelihood, the parallel and the crossing pair of lines; ``(X, y, em)``."""
    from mlrbayes.em import fit_em
    from mlrbayes.simulate import simulate

    X = np.resize([-1.0, 1.0], 120)[:, None]
    X, y, _ = simulate(120, [0.5, 0.5], [1.0, -1.0], [[0.0], [0.0]], 0.25, X=X, random_state=2)
    em = fit_em(X, y, 2, sigma="shared", n_init=10, random_state=0)
    return X, y, em
