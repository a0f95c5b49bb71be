"""mlrbayes: mixtures of linear regressions fitted by EM and by MCMC, and compared.

Importing the package does not import PyMC, matplotlib or scikit-learn: ``build_model``,
``sample_posterior`` (from :mod:`mlrbayes.bayes`), ``posterior_responsibilities``,
``load_posterior``, ``save_posterior`` (from :mod:`mlrbayes.posterior`, PyMC-free),
``write_report`` (from :mod:`mlrbayes.report`) and ``MixtureRegressionEM`` (from
:mod:`mlrbayes.estimator`; scikit-learn adds about 0.4 s to the import) are loaded on first use.
"""

from __future__ import annotations

import importlib

from .compare import Comparison, compare
from .datasets import load_tonedata
from .diagnostics import Diagnosis, diagnose
from .em import CensusWarning, ConvergenceWarning, EMResult, NumericalWarning, fit_em
from .intervals import confidence_intervals, interval_table
from .likelihood import mixture_loglik, responsibilities
from .selection import select_components
from .serialize import em_from_dict, em_to_dict
from .simulate import simulate
from .uncertainty import standard_errors
from .workflow import validate

__version__ = "0.1.0"

_LAZY = {
    "MixtureRegressionEM": "estimator",
    "calibrate": "calibration",
    "build_model": "bayes",
    "load_posterior": "posterior",
    "posterior_responsibilities": "posterior",
    "sample_posterior": "bayes",
    "save_posterior": "posterior",
    "write_report": "report",
}


def __getattr__(name: str):
    """Load the PyMC, plotting and scikit-learn layers only when one of their names is asked for."""
    if name == "plots":  # matplotlib figures: loaded on first use of mb.plots
        return importlib.import_module(".plots", __name__)
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'mlrbayes' has no attribute {name!r}")


__all__ = [
    "CensusWarning",
    "Comparison",
    "ConvergenceWarning",
    "Diagnosis",
    "EMResult",
    "MixtureRegressionEM",
    "NumericalWarning",
    "__version__",
    "build_model",
    "calibrate",
    "compare",
    "confidence_intervals",
    "diagnose",
    "em_from_dict",
    "em_to_dict",
    "fit_em",
    "interval_table",
    "load_posterior",
    "load_tonedata",
    "mixture_loglik",
    "posterior_responsibilities",
    "responsibilities",
    "sample_posterior",
    "save_posterior",
    "select_components",
    "simulate",
    "standard_errors",
    "validate",
    "write_report",
]
