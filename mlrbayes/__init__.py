"""mlrbayes: mixtures of linear regressions fitted by EM and by MCMC, and compared.

Importing the package does not import PyMC; ``mlrbayes.bayes`` does, on first use.
"""

from __future__ import annotations

from .datasets import load_tonedata
from .likelihood import mixture_loglik, responsibilities
from .simulate import simulate

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "load_tonedata",
    "mixture_loglik",
    "responsibilities",
    "simulate",
]
