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
