r"""Priors of the Bayesian model: the data-scaled defaults and the checked merge of overrides.

PyMC-free, so the workflow can record the priors of a sample without importing PyMC; the model
itself is built by :func:`mlrbayes.bayes.build_model`.

Every default is scaled to the data so that it is weakly informative whatever the units, with
:math:`s_y` the sd of ``y`` and :math:`\bar x_j, s_j` the mean and sd of a column:

* ``weights`` (models without gating) ``Dirichlet(1, ..., 1)``;
* ``intercept`` ``N(ybar, 5 s_y (1 + sum_j |xbar_j| / s_j))``, ``coef`` ``N(0, 5 s_y / s_j)``;
* ``sigma`` ``HalfNormal(s_y)``;
* ``gating`` (models with concomitant covariates ``w``): every row ``gamma_k`` of the K x q
  gating coefficients gets the same prior, ``gamma_kj ~ N(0, s_gamma_j^2)`` — label-symmetric,
  so relabelling permutes the posterior exactly. The scale is :data:`GATING_SCALE` (2.5) per
  standard deviation of the covariate: ``s_gamma_j = 2.5 / s_j`` for a covariate and
  ``2.5 (1 + sum_j |wbar_j| / s_j)`` for the gating intercept — a one-sd change of a covariate
  moves a log-odds between two components by about 3.5 at one prior sd (the standardised
  scale of Gelman, Jakulin, Pittau & Su 2008, *Ann. Appl. Stat.* 2(4), for logistic
  regression). The softmax only sees differences between rows, so the model reports the
  centred coefficients ``gamma - mean_k gamma`` (:func:`mlrbayes.bayes.build_model`);
* ``fixed`` (coefficients shared by all components) ``N(0, 5 s_y / s_j)``, like the slopes.

Override any of them with ``priors={"gating": {"sigma": 1.0}, "fixed": {"sigma": [2.0]}}``;
:func:`merge_priors` checks the names and values, and an entry for a part the model does not
have (``gating`` without concomitant covariates, ``weights`` with them) is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .spec import Dataset, as_dataset

__all__ = ["GATING_SCALE", "PRIOR_KEYS", "default_priors", "merge_priors", "resolve_priors"]

#: The hyperparameters each parameter's prior accepts.
PRIOR_KEYS = {
    "weights": ("alpha",),
    "intercept": ("mu", "sigma"),
    "coef": ("mu", "sigma"),
    "sigma": ("sigma",),
    "gating": ("sigma",),
    "fixed": ("mu", "sigma"),
}

#: Prior sd of a gating coefficient per standard deviation of its covariate.
GATING_SCALE = 2.5


def _column_scales(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of each column (sd 1 for a constant column)."""
    sd = np.std(A, axis=0)
    return np.mean(A, axis=0), np.where(sd > 0, sd, 1.0)


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
        "sigma": {"sigma"}}``; ``coef`` entries have shape (n_features,). With concomitant
        covariates ``"gating": {"sigma"}`` of shape (q,) replaces ``"weights"``; with fixed
        predictors ``"fixed": {"mu", "sigma"}`` (sigma of shape (r,)) is added (see the module
        docstring).
    """
    data = as_dataset(X, y)
    Xa, ya = data.X, data.y
    sy = float(np.std(ya))
    if not sy > 0:
        raise ValueError(
            f"y is constant (every value is {ya[0]!r}); a mixture of regressions needs a "
            "response that varies."
        )
    xbar, sx = _column_scales(Xa)
    out: dict[str, dict[str, Any]] = {
        "weights": {"alpha": 1.0},
        "intercept": {
            "mu": float(np.mean(ya)),
            "sigma": 5.0 * sy * (1.0 + float(np.sum(np.abs(xbar) / sx))),
        },
        "coef": {"mu": 0.0, "sigma": 5.0 * sy / sx},
        "sigma": {"sigma": sy},
    }
    if data.concomitant is not None:
        del out["weights"]  # the gating model has no free mixing weights
        wbar, sw = _column_scales(data.concomitant[:, 1:])
        s0 = GATING_SCALE * (1.0 + float(np.sum(np.abs(wbar) / sw)))
        out["gating"] = {"sigma": np.concatenate([[s0], GATING_SCALE / sw])}
    if data.fixed is not None:
        _, su = _column_scales(data.fixed)
        out["fixed"] = {"mu": 0.0, "sigma": 5.0 * sy / su}
    return out


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
        if name not in defaults:
            raise ValueError(
                f"priors has an entry {name!r} but this model has no such parameter (its "
                f"parameters: {list(defaults)}); drop it or pass the data it needs "
                "(concomitant= for 'gating', fixed= for 'fixed')."
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
