r"""Observed-information standard errors of the extended model (Louis 1982).

The extended model (gating covariates, coefficients fixed across components, groups sharing one
component, observation weights; see :func:`mlrbayes.likelihood.log_joint`) has units ``u`` (a
group, or an observation) with weights ``v_u``; unit u contributes
``v_u log sum_k exp(l_uk)`` with ``l_uk = log pi_uk + sum_{i in u} log N(y_i | ...)``. Louis'
identity holds per unit, with the unit's weight:

.. math::

    I(\theta) = \sum_u v_u \Big[ \sum_k \tau_{uk} (B_{uk} - s_{uk} s_{uk}^\top)
                + \bar s_u \bar s_u^\top \Big],

where :math:`s_{uk}` and :math:`B_{uk}` are the gradient and minus the Hessian of
:math:`l_{uk}`. It equals minus the Hessian of :func:`mlrbayes.likelihood.extended_loglik` at
every parameter value (the tests check it against central finite differences). The gating part
of :math:`B_{uk}` (minus the Hessian of :math:`\log \pi_{uk}` in the reference contrasts
:math:`\theta_k = \gamma_k - \gamma_{K-1}`) does not depend on k. The information is computed
analytically in the free parametrisation (first K-1 weights, or the gating reference
contrasts), inverted, and mapped linearly to the reported centred gating coefficients.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import likelihood as _lik
from .params import param_names
from .uncertainty import (
    SingularInformationWarning,
    check_sigma_setting,
    invert_information,
    nan_standard_errors,
)

__all__ = [
    "extended_free_param_names",
    "extended_observed_information",
    "extended_standard_errors",
    "nan_extended_standard_errors",
]


def extended_free_param_names(
    n_components: int, feature_names: Sequence[str], *, fit_intercept: bool = True,
    sigma_setting: str = "known", concomitant_names: Sequence[str] = (),
    fixed_names: Sequence[str] = (), reference: bool = False,
) -> list[str]:  # fmt: skip
    """Names of the extended model's parameters in the order of its covariance.

    :func:`mlrbayes.params.param_names` without the weights that are not free: ``weights[K-1]``
    without gating, every weight with gating (they are derived from the gating coefficients).
    With gating, the reported covariance has all K * q centred ``gating[k,name]`` (rank
    (K-1) * q); with ``reference=True`` the names are those of the information matrix, the
    contrasts ``gating[k,name]`` for ``k < K-1`` (``gamma_k - gamma_{K-1}``).
    """
    check_sigma_setting(sigma_setting)
    names = param_names(
        n_components,
        list(feature_names),
        fit_intercept=fit_intercept,
        sigma=sigma_setting,
        concomitant_names=concomitant_names,
        fixed_names=fixed_names,
    )
    k = n_components
    drop = {f"weights[{k - 1}]"} if not concomitant_names else {f"weights[{j}]" for j in range(k)}
    if reference and concomitant_names:
        drop |= {f"gating[{k - 1},{c}]" for c in concomitant_names}
    return [nm for nm in names if nm not in drop]


def _ext_layout(k, p, q, r, fit_intercept, sigma_setting):
    """Indices of each block in the free vector: weights or gating contrasts, intercepts,
    coefs, sigma, fixed (the order of :func:`extended_free_param_names` with reference)."""
    pos = 0
    idx_w = None
    if q == 0:
        idx_w, pos = np.arange(k - 1), k - 1
    d = p + int(fit_intercept)
    idx_beta = np.empty((k, d), dtype=int)
    if fit_intercept:
        idx_beta[:, 0] = np.arange(pos, pos + k)
        pos += k
    idx_beta[:, int(fit_intercept) :] = np.arange(pos, pos + k * p).reshape(k, p)
    pos += k * p
    idx_s = None
    if sigma_setting == "shared":
        idx_s, pos = np.full(k, pos), pos + 1
    elif sigma_setting == "component":
        idx_s, pos = np.arange(pos, pos + k), pos + k
    idx_g = None
    if q:
        idx_g = np.arange(pos, pos + (k - 1) * q).reshape(k - 1, q)
        pos += (k - 1) * q
    idx_f = np.arange(pos, pos + r)
    return pos + r, idx_w, idx_beta, idx_s, idx_g, idx_f


def _unit_first(groups: np.ndarray, n_groups: int) -> np.ndarray:
    first = np.zeros(n_groups, dtype=np.intp)
    first[groups[::-1]] = np.arange(groups.size)[::-1]
    return first


def extended_observed_information(
    data, intercept, coef, sigma, *, weights=None, gating=None, fixed=None,
    fit_intercept: bool = True, sigma_setting: str = "known",
) -> np.ndarray:  # fmt: skip
    """Observed information of the extended model by Louis' formula (weighted units).

    Parameters
    ----------
    data : Dataset
        With any of concomitant, fixed, groups, sample_weight.
    intercept : ndarray of shape (K,)
    coef : ndarray of shape (K, p)
    sigma : float or ndarray of shape (K,)
    weights : ndarray of shape (K,), optional
        Mixing weights (models without gating).
    gating : ndarray of shape (K, q), optional
        Gating coefficients (centred or not).
    fixed : ndarray of shape (r,), optional
    fit_intercept : bool
    sigma_setting : {"known", "shared", "component"}

    Returns
    -------
    info : ndarray of shape (D, D)
        Minus the Hessian of :func:`mlrbayes.likelihood.extended_loglik` in the free parameters
        named by ``extended_free_param_names(..., reference=True)``: the gating enters as the
        reference contrasts ``gamma_k - gamma_{K-1}``, the weights as the first K-1.
    """
    check_sigma_setting(sigma_setting)
    X, y, n = data.X, data.y, data.n_samples
    b = np.zeros(len(coef)) if intercept is None else np.asarray(intercept, dtype=float)
    c = np.asarray(coef, dtype=float).reshape(b.shape[0], -1)
    k, p = c.shape
    s = np.broadcast_to(np.asarray(sigma, dtype=float), (k,)).astype(float)
    W, U = data.concomitant, data.fixed
    q = 0 if W is None else W.shape[1]
    r = 0 if U is None else U.shape[1]
    D, idx_w, idx_beta, idx_s, idx_g, idx_f = _ext_layout(k, p, q, r, fit_intercept, sigma_setting)
    lj = _lik.log_joint(data, b, c, s, weights=weights, gating=gating, fixed=fixed)
    tau = np.exp(lj - _lik.logsumexp_lastaxis(lj)[:, None])  # (n_units, K)
    v = _lik.unit_weights(data)
    v = np.ones(tau.shape[0]) if v is None else v
    groups = data.groups
    omega = tau * v[:, None]
    omega_obs = omega if groups is None else omega[groups]
    Z = np.column_stack([np.ones(n), X]) if fit_intercept else X
    ycorr = y if U is None else y - U @ np.asarray(fixed, dtype=float)
    res = ycorr[:, None] - _lik.component_means(X, b, c)  # (n, K)
    info = np.zeros((D, D))
    prior_part = np.zeros((tau.shape[0], k, D))  # gradient of log pi_uk
    if q:
        Wu = W if groups is None else W[_unit_first(groups, data.n_groups)]
        pi = np.exp(_lik.log_prior_membership(data, gating=gating))
        for kk in range(k):
            for ll in range(k - 1):
                prior_part[:, kk, idx_g[ll]] = ((kk == ll) - pi[:, ll])[:, None] * Wu
        hg = np.zeros((k - 1, q, k - 1, q))  # minus the Hessian of log pi (any k), weighted
        for a in range(k - 1):
            for bb in range(k - 1):
                cw = v * pi[:, a] * ((a == bb) - pi[:, bb])
                hg[a, :, bb, :] = (Wu * cw[:, None]).T @ Wu
        g_all = idx_g.ravel()
        info[np.ix_(g_all, g_all)] += hg.reshape((k - 1) * q, (k - 1) * q)
    elif k > 1:
        w = np.asarray(weights, dtype=float)
        a = np.zeros((k, k - 1))
        a[np.arange(k - 1), np.arange(k - 1)] = 1.0 / w[: k - 1]
        a[k - 1, :] = -1.0 / w[k - 1]
        prior_part[:, :, idx_w] = a[None, :, :]
        Nk = omega.sum(axis=0)
        info[np.ix_(idx_w, idx_w)] += np.einsum("k,ka,kb->ab", Nk, a, a)
    sbar = np.zeros((tau.shape[0], D))
    for kk in range(k):
        loc = list(idx_beta[kk]) + ([] if idx_s is None else [idx_s[kk]]) + list(idx_f)
        rk, sk, wk = res[:, kk], s[kk], omega_obs[:, kk]
        A = np.column_stack([Z, U]) if r else Z  # d mean / d (beta_k, delta)
        T = A * (rk / sk**2)[:, None]  # each observation's score in (beta_k, delta)
        B = (A * (wk / sk**2)[:, None]).T @ A  # complete-data information, weighted
        if idx_s is not None:  # sigma_k sits between beta_k and delta
            dz = Z.shape[1]
            cross = 2.0 * (A.T @ (wk * rk)) / sk**3
            b_ss = np.sum(wk * (-1.0 / sk**2 + 3.0 * rk**2 / sk**4))
            B = np.insert(np.insert(B, dz, cross, axis=1), dz, np.insert(cross, dz, b_ss), axis=0)
            T = np.insert(T, dz, -1.0 / sk + rk**2 / sk**3, axis=1)
        info[np.ix_(loc, loc)] += B
        Su = prior_part[:, kk, :].copy()
        Tu = T if groups is None else np.asarray(_unit_sum(T, groups, data.n_groups))
        Su[:, loc] += Tu
        info -= (Su * (v * tau[:, kk])[:, None]).T @ Su
        sbar += Su * tau[:, kk, None]
    info += (sbar * v[:, None]).T @ sbar
    return info


def _unit_sum(T: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((n_groups, T.shape[1]))
    np.add.at(out, groups, T)
    return out


def _ext_settings(data):
    cnames = list(data.concomitant_names) if data.concomitant is not None else []
    fnames = list(data.fixed_names) if data.fixed is not None else []
    return cnames, fnames


def nan_extended_standard_errors(
    data, k: int, *, fit_intercept: bool = True, sigma_setting: str = "known"
) -> tuple[None, list[str], dict[str, Any]]:
    """``(None, names, se)`` with every standard error NaN (``compute_se=False``), with the
    names and keys of :func:`extended_standard_errors`."""
    cnames, fnames = _ext_settings(data)
    names = extended_free_param_names(
        k, data.feature_names, fit_intercept=fit_intercept, sigma_setting=sigma_setting,
        concomitant_names=cnames, fixed_names=fnames,
    )  # fmt: skip
    se = nan_standard_errors(k, data.n_features, fit_intercept, sigma_setting)
    if cnames:
        se["gating"] = np.full((k, len(cnames)), np.nan)
    if fnames:
        se["fixed"] = np.full(len(fnames), np.nan)
    return None, names, se


def _centring_map(D: int, g0: int, k: int, q: int) -> np.ndarray:
    """Linear map from the free vector (reference contrasts, (K-1) q of them from position
    ``g0``) to the reported one (all K centred gating rows): ``gamma_k = theta_k - mean_l
    theta_l`` with ``theta_{K-1} = 0``. Shape (D + q, D); other entries pass through."""
    A = np.zeros((D + q, D))
    before = np.arange(g0)
    A[before, before] = 1.0
    for kk in range(k):
        for j in range(q):
            for ll in range(k - 1):
                A[g0 + kk * q + j, g0 + ll * q + j] = (kk == ll) - 1.0 / k
    rest = np.arange(g0 + (k - 1) * q, D)
    A[rest + q, rest] = 1.0
    return A


def extended_standard_errors(
    data, fit, *, fit_intercept: bool = True, sigma_setting: str = "known"
) -> tuple[np.ndarray | None, list[str], dict[str, Any]]:
    """Louis standard errors of an extended-model fit (gating, fixed, groups, weights).

    Parameters
    ----------
    data : Dataset
    fit : EMResult, Optimum or StartResult
        ``weights``, ``intercept``, ``coef``, ``sigma``, ``gating_coef`` and ``fixed_coef``.
    fit_intercept : bool
    sigma_setting : {"known", "shared", "component"}

    Returns
    -------
    covariance : ndarray of shape (d, d) or None
        In the order of :func:`extended_free_param_names`: with gating, the K * q centred
        gating coefficients (the covariance of the reference contrasts mapped linearly; rank
        (K-1) * q) and no weights.
    se_names : list of str
    se : dict
        ``weights`` (K,) (without gating the last by the delta method; with gating the average
        prior membership by the delta method), ``intercept``, ``coef``, ``sigma`` as in
        :func:`standard_errors`, ``gating`` (K, q), ``fixed`` (r,).
    """
    k, p = len(fit.weights), data.n_features
    cnames, fnames = _ext_settings(data)
    q, r = len(cnames), len(fnames)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # a collapsed (sigma 0) or emptied component gives a non-finite information matrix;
        # invert_information then reports it and the SEs are NaN with a warning
        info = extended_observed_information(
            data, fit.intercept, fit.coef, fit.sigma, weights=fit.weights,
            gating=fit.gating_coef, fixed=fit.fixed_coef, fit_intercept=fit_intercept,
            sigma_setting=sigma_setting,
        )  # fmt: skip
    free = extended_free_param_names(
        k, data.feature_names, fit_intercept=fit_intercept, sigma_setting=sigma_setting,
        concomitant_names=cnames, fixed_names=fnames, reference=True,
    )  # fmt: skip
    cov_free, reason = invert_information(info, free)
    _, names, se = nan_extended_standard_errors(
        data, k, fit_intercept=fit_intercept, sigma_setting=sigma_setting
    )
    if cov_free is None:
        warnings.warn(
            f"the observed information matrix is singular or not positive definite ({reason}); "
            "standard errors are NaN. Check for an emptied or collapsed component, identical "
            "components, separated gating covariates, or an unconverged fit.",
            SingularInformationWarning,
            stacklevel=3,
        )
        return None, names, se
    D, idx_w, idx_beta, idx_s, idx_g, idx_f = _ext_layout(k, p, q, r, fit_intercept, sigma_setting)
    if q:  # the gating block in its centred form (zeros for K = 1)
        g0 = int(idx_g[0, 0]) if k > 1 else D - r
        cov = (A := _centring_map(D, g0, k, q)) @ cov_free @ A.T
    else:
        cov = cov_free
    with np.errstate(invalid="ignore"):
        sd_free = np.sqrt(np.where(np.diag(cov_free) > 0, np.diag(cov_free), np.nan))
        sd_rep = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    if fit_intercept:
        se["intercept"] = sd_free[idx_beta[:, 0]]
    se["coef"] = sd_free[idx_beta[:, int(fit_intercept) :]]
    if sigma_setting == "shared":
        se["sigma"] = float(sd_free[idx_s[0]])
    elif sigma_setting == "component":
        se["sigma"] = sd_free[idx_s]
    if r:
        se["fixed"] = sd_free[idx_f]
    if q and k > 1:
        g0 = names.index(f"gating[0,{cnames[0]}]")
        se["gating"] = sd_rep[g0 : g0 + k * q].reshape(k, q)
        ig = idx_g.ravel()
        se["weights"] = _gating_weight_se(data, fit.gating_coef, cov_free[np.ix_(ig, ig)])
    elif k > 1:
        last = float(np.sum(cov_free[np.ix_(idx_w, idx_w)]))
        se["weights"] = np.r_[sd_free[idx_w], np.sqrt(last) if last > 0 else np.nan]
    else:
        se["weights"] = np.zeros(1)
        if q:
            se["gating"] = np.zeros((1, q))
    return cov, names, se


def _gating_weight_se(data, gating, cov_theta) -> np.ndarray:
    """Delta-method SEs of the average prior membership ``sum_u v_u pi_uk / sum_u v_u``."""
    W = data.concomitant
    if data.groups is not None:
        W = W[_unit_first(data.groups, data.n_groups)]
    pi = np.exp(_lik.log_prior_membership(data, gating=gating))
    v = _lik.unit_weights(data)
    v = np.ones(pi.shape[0]) if v is None else v
    k, q = pi.shape[1], W.shape[1]
    J = np.zeros((k, (k - 1) * q))
    for kk in range(k):
        for ll in range(k - 1):
            c = v * pi[:, kk] * ((kk == ll) - pi[:, ll])
            J[kk, ll * q : (ll + 1) * q] = (c @ W) / v.sum()
    var = np.einsum("ka,ab,kb->k", J, cov_theta, J)
    return np.sqrt(np.maximum(var, 0.0))
