"""Parameter naming and flattening shared by EM, the posterior, relabelling and comparison.

Names follow one convention everywhere (tables, JSON, reports):
``weights[k]``, ``intercept[k]``, ``coef[k,<feature>]``, and ``sigma`` (shared or known) or
``sigma[k]`` (per component), with ``k`` the 0-based component index and ``<feature>`` the
predictor's column name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .spec import sigma_setting as sigma_mode

__all__ = ["COMPONENT_VARS", "flatten", "model_param_names", "param_names", "sigma_mode"]

#: Variables with a component axis (the axis a relabelling permutes).
COMPONENT_VARS = ("weights", "intercept", "coef", "sigma")


def param_names(
    n_components: int,
    feature_names: Sequence[str],
    *,
    fit_intercept: bool = True,
    sigma: str = "known",
) -> list[str]:
    """Names of all model parameters in a fixed order.

    Parameters
    ----------
    n_components : int
    feature_names : sequence of str
    fit_intercept : bool
        Without an intercept, ``intercept[k]`` names are left out.
    sigma : {"known", "shared", "component"}
        ``"shared"`` adds ``sigma``, ``"component"`` adds ``sigma[k]``; known sigma adds nothing.

    Returns
    -------
    list of str
        ``weights[k]`` for all k, then ``intercept[k]``, then ``coef[k,f]`` (k outer), then sigma.

    Examples
    --------
    >>> param_names(2, ["x"], sigma="shared")
    ['weights[0]', 'weights[1]', 'intercept[0]', 'intercept[1]', 'coef[0,x]', 'coef[1,x]', 'sigma']
    """
    k = range(n_components)
    names = [f"weights[{j}]" for j in k]
    if fit_intercept:
        names += [f"intercept[{j}]" for j in k]
    names += [f"coef[{j},{f}]" for j in k for f in feature_names]
    if sigma == "shared":
        names.append("sigma")
    elif sigma == "component":
        names += [f"sigma[{j}]" for j in k]
    return names


def model_param_names(model) -> list[str]:
    """:func:`param_names` of anything with ``n_components``, ``feature_names``,
    ``fit_intercept`` and ``sigma_setting`` (an EM result, posterior draws)."""
    return param_names(
        model.n_components,
        model.feature_names,
        fit_intercept=model.fit_intercept,
        sigma=model.sigma_setting,
    )


def flatten(
    weights: np.ndarray,
    intercept: np.ndarray,
    coef: np.ndarray,
    sigma,
    *,
    fit_intercept: bool = True,
    sigma_setting: str = "known",
) -> np.ndarray:
    """Parameter values in the order of :func:`param_names`; leading batch axes are kept.

    ``weights``/``intercept`` of shape (..., K), ``coef`` (..., K, p), ``sigma`` (...) or
    (..., K). Returns (..., n_params).
    """
    weights = np.asarray(weights, dtype=float)
    batch = weights.shape[:-1]
    parts = [weights]
    if fit_intercept:
        parts.append(np.asarray(intercept, dtype=float))
    coef = np.asarray(coef, dtype=float)
    parts.append(coef.reshape(*batch, -1))
    if sigma_setting == "shared":
        parts.append(np.broadcast_to(np.asarray(sigma, dtype=float), batch)[..., None])
    elif sigma_setting == "component":
        parts.append(np.asarray(sigma, dtype=float))
    return np.concatenate(parts, axis=-1)
