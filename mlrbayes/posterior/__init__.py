"""The array layer for posterior draws, PyMC-free.

* :mod:`~mlrbayes.posterior.draws` — :class:`PosteriorDraws`, (chain, draw, ...) NumPy arrays
  read from and written to the posterior DataTree (the only module that knows its layout).
* :mod:`~mlrbayes.posterior.memberships` — membership probabilities and log-likelihoods of
  every draw, chunked over draws.
* :mod:`~mlrbayes.posterior.convergence` — R-hat and ESS (one path through ``arviz_stats``),
  sampler diagnostics.
* :mod:`~mlrbayes.posterior.io` — NetCDF storage.
"""

from __future__ import annotations

from .convergence import SamplingDiagnostics, convergence_table, rhat_ess, sampling_diagnostics
from .draws import (
    PosteriorDraws,
    apply_permutations,
    data_from_datatree,
    extended_param_names,
    posterior_arrays,
    posterior_dataset,
    store_data_parts,
)
from .io import load_posterior, save_posterior
from .memberships import DrawMemberships, draw_memberships, posterior_responsibilities

__all__ = [
    "DrawMemberships",
    "PosteriorDraws",
    "SamplingDiagnostics",
    "apply_permutations",
    "convergence_table",
    "data_from_datatree",
    "draw_memberships",
    "extended_param_names",
    "load_posterior",
    "posterior_arrays",
    "posterior_dataset",
    "posterior_responsibilities",
    "rhat_ess",
    "sampling_diagnostics",
    "save_posterior",
    "store_data_parts",
]
