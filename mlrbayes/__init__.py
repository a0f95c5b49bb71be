"""mlrbayes: mixtures of linear regressions fitted by EM and by MCMC, and compared.

Importing the package does not import PyMC; ``mlrbayes.bayes`` does, on first use.
"""

from __future__ import annotations

from .datasets import load_tonedata
from .em import ConvergenceWarning, EMResult, NumericalWarning, fit_em
from .estimator import MixtureRegressionEM
from .likelihood import mixture_loglik, responsibilities
from .selection import select_components
from .serialize import em_from_dict, em_to_dict
from .simulate import simulate
from .uncertainty import standard_errors

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "EMResult",
    "MixtureRegressionEM",
    "NumericalWarning",
    "__version__",
    "em_from_dict",
    "em_to_dict",
    "fit_em",
    "load_tonedata",
    "mixture_loglik",
    "responsibilities",
    "select_components",
    "simulate",
    "standard_errors",
]
