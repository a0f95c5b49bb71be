"""Priors of the Bayesian model: the data-scaled defaults and the checked merge of overrides.

PyMC-free, so the workflow can record the priors of a sample without importing PyMC; the model
itself is built by :func:`mlrbayes.bayes.build_model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .spec import Dataset, as_dataset

__all__ = ["PRIOR_KEYS", "default_priors", "merge_priors", "resolve_priors"]

#: The hyperparameters each parameter's prior accepts.
PRIOR_KEYS = {
    "weights": ("alpha",),
    "intercept": ("mu", "sigma"),
    "coef": ("mu", "sigma"),
    "sigma": ("sigma",),
}


def default_priors(X, y=None) -> dict[str, dict[str, Any]]:
    """The data-scaled default priors of :func:`build_model` (see the module docstring).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or Dataset
    y : array-like of shape (n_samples,), optional when ``X`` is a Dataset

    Returns
    -------
    dict
        ``{"weights": {"alpha"}, "intercept": {"mu", "sigma"}, "coef": {"mu", "sigma"},
        "sigma": {"sigma"}}``; ``coef`` entries have shape (n_features,).
    """
    data = as_dataset(X, y)
    Xa, ya = data.X, data.y
    sy = float(np.std(ya))
    if not sy > 0:
        raise ValueError(
            f"y is constant (every value is {ya[0]!r}); a mixture of regressions needs a "
            "response that varies."
        )
    sx = np.std(Xa, axis=0)
    sx = np.where(sx > 0, sx, 1.0)
    xbar = np.mean(Xa, axis=0)
    return {
        "weights": {"alpha": 1.0},
        "intercept": {
            "mu": float(np.mean(ya)),
            "sigma": 5.0 * sy * (1.0 + float(np.sum(np.abs(xbar) / sx))),
        },
        "coef": {"mu": 0.0, "sigma": 5.0 * sy / sx},
        "sigma": {"sigma": sy},
    }


def merge_priors(defaults: dict, priors: Mapping | None) -> dict:
    """``defaults`` with the entries of ``priors`` replaced, after checking names and values.

    Parameters
    ----------
    defaults : dict
        From :func:`default_priors`.
    priors : dict or None
        Overrides such as ``{"coef": {"sigma": 10.0}}``; None keeps the defaults.

    Returns
    -------
    dict
        Same layout as ``defaults`` (override values as float arrays).
    """
    if priors is None:
        return defaults
    if not isinstance(priors, Mapping):
        raise TypeError(
            "priors must be a dict like {'coef': {'sigma': 10.0}}; got "
            f"{type(priors).__name__}."
        )
    out = {k: dict(v) for k, v in defaults.items()}
    for name, spec in priors.items():
        if name not in PRIOR_KEYS:
            raise ValueError(
                f"priors has an unknown entry {name!r}; the parameters are {list(PRIOR_KEYS)}."
            )
        if not isinstance(spec, Mapping):
            raise TypeError(
                f"priors[{name!r}] must be a dict of hyperparameters {PRIOR_KEYS[name]}; got "
                f"{spec!r}."
            )
        for key, value in spec.items():
            if key not in PRIOR_KEYS[name]:
                raise ValueError(
                    f"priors[{name!r}] has an unknown hyperparameter {key!r}; use "
                    f"{list(PRIOR_KEYS[name])}."
                )
            arr = np.asarray(value, dtype=float)
            if not np.all(np.isfinite(arr)) or (key in ("sigma", "alpha") and np.any(arr <= 0)):
                raise ValueError(
                    f"priors[{name!r}][{key!r}] must be finite"
                    + (" and positive" if key in ("sigma", "alpha") else "")
                    + f"; got {value!r}."
                )
            out[name][key] = arr
    return out


def resolve_priors(data: Dataset, priors: Mapping | None) -> dict:
    """The priors a model of ``data`` uses: :func:`default_priors` merged with ``priors``."""
    return merge_priors(default_priors(data), priors)
