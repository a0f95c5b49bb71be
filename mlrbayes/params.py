"""Parameter naming and flattening shared by EM, the posterior, relabelling and comparison.

Names follow one convention everywhere (tables, JSON, reports):
``weights[k]``, ``intercept[k]``, ``coef[k,<feature>]``, and ``sigma`` (shared or known) or
``sigma[k]`` (per component), with ``k`` the 0-based component index and ``<feature>`` the
predictor's column name. The extended model adds, after these, ``gating[k,<name>]`` (k outer;
the gating columns' names, ``"(Intercept)"`` first; centred coefficients) and
``fixed[<name>]`` (coefficients shared by all components). In a gating model ``weights[k]`` is
the average prior membership over units (derived, kept so that every table has it).
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
    concomitant_names: Sequence[str] = (),
    fixed_names: Sequence[str] = (),
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
    concomitant_names : sequence of str
        Gating columns (``"(Intercept)"`` first); empty without gating.
    fixed_names : sequence of str
        Predictors with coefficients fixed across components; empty without.

    Returns
    -------
    list of str
        ``weights[k]`` for all k, then ``intercept[k]``, then ``coef[k,f]`` (k outer), then
        sigma, then ``gating[k,c]`` (k outer), then ``fixed[f]``.

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
    names += [f"gating[{j},{c}]" for j in k for c in concomitant_names]
    names += [f"fixed[{f}]" for f in fixed_names]
    return names


def model_param_names(model) -> list[str]:
    """:func:`param_names` of anything with ``n_components``, ``feature_names``,
    ``fit_intercept`` and ``sigma_setting`` (an EM result, posterior draws), and optionally
    ``concomitant_names`` / ``fixed_names`` (used when ``gating_coef`` / ``gating`` and
    ``fixed_coef`` / ``fixed`` are present)."""
    has_gating = _part(model, "gating_coef", "gating") is not None
    has_fixed = _part(model, "fixed_coef", "fixed") is not None
    return param_names(
        model.n_components,
        model.feature_names,
        fit_intercept=model.fit_intercept,
        sigma=model.sigma_setting,
        concomitant_names=list(getattr(model, "concomitant_names", ())) if has_gating else (),
        fixed_names=list(getattr(model, "fixed_names", ())) if has_fixed else (),
    )


def _part(model, *names):
    for name in names:
        val = getattr(model, name, None)
        if val is not None and not callable(val):
            return val
    return None


def flatten(
    weights: np.ndarray,
    intercept: np.ndarray,
    coef: np.ndarray,
    sigma,
    *,
    fit_intercept: bool = True,
    sigma_setting: str = "known",
    gating: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Parameter values in the order of :func:`param_names`; leading batch axes are kept.

    ``weights``/``intercept`` of shape (..., K), ``coef`` (..., K, p), ``sigma`` (...) or
    (..., K), ``gating`` (..., K, q) and ``fixed`` (..., r) when the model has them. Returns
    (..., n_params).
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
    if gating is not None:
        parts.append(np.asarray(gating, dtype=float).reshape(*batch, -1))
    if fixed is not None:
        parts.append(np.broadcast_to(np.asarray(fixed, dtype=float), (*batch, np.shape(fixed)[-1])))
    return np.concatenate(parts, axis=-1)
