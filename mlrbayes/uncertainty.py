r"""Observed-information standard errors for the EM estimate (Louis 1982).

For observation :math:`i` with latent label :math:`z_i`, the complete-data log-likelihood is
:math:`\ell_c = \sum_i \sum_k z_{ik} [\log \pi_k + \log \mathcal N(y_i \mid b_k + c_k^\top x_i,
\sigma_k^2)]`. Write :math:`s_{ik}` for the gradient of the bracket with respect to the free
parameters :math:`\theta` and :math:`B_{ik}` for minus its Hessian. Louis (1982, eq. 3.2) gives the
observed information as the conditional expectation of the complete-data information minus the
conditional covariance of the complete-data score. With independent observations and
:math:`E[z_{ik} \mid y] = \gamma_{ik}` (the responsibilities),

.. math::

    I(\theta) = \sum_i \Big[ \sum_k \gamma_{ik} (B_{ik} - s_{ik} s_{ik}^\top)
                + \bar s_i \bar s_i^\top \Big], \qquad \bar s_i = \sum_k \gamma_{ik} s_{ik}.

This equals minus the Hessian of the marginal log-likelihood at *every* :math:`\theta`, not only at
the maximum, which the tests check against central finite differences.

Free parameters, in the order of :func:`free_param_names`: the first :math:`K-1` weights
(:math:`\pi_K = 1 - \sum_{k<K} \pi_k`), the intercepts (when fitted), the slopes (component outer,
feature inner), then :math:`\sigma` (one when shared, :math:`K` per component) on the standard
deviation scale; nothing for a known :math:`\sigma`.

Reference: T. A. Louis (1982), "Finding the observed information matrix when using the EM
algorithm", *Journal of the Royal Statistical Society B* 44(2), 226-233.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import likelihood as _lik
from .params import param_names
from .spec import as_dataset

__all__ = [
    "SingularInformationWarning",
    "check_sigma_setting",
    "free_param_names",
    "invert_information",
    "nan_standard_errors",
    "observation_scores",
    "observed_information",
    "standard_errors",
]

_SIGMA_SETTINGS = ("known", "shared", "component")
#: Rows per block when accumulating the information (bounds memory to about
#: ``_CHUNK * K * d`` floats whatever the sample size).
_CHUNK = 16384
#: Smallest eigenvalue, relative to the largest, of the unit-diagonal information matrix that is
#: still treated as invertible.
_RCOND = 1e-12


class SingularInformationWarning(UserWarning):
    """The observed information matrix is singular or not positive definite.

    Standard errors are then unavailable (NaN): typical causes are an emptied component (weight
    0), a component collapsed onto a few points (sigma near 0), identical components, or the
    estimate not being a local maximum (EM not converged).
    """


def check_sigma_setting(sigma_setting: Any) -> str:
    if sigma_setting not in _SIGMA_SETTINGS:
        raise ValueError(
            f"sigma_setting={sigma_setting!r} is not one of {list(_SIGMA_SETTINGS)}; use 'known' "
            "for a fixed sigma, 'shared' or 'component' for an estimated one."
        )
    return sigma_setting


# fmt: off
def free_param_names(n_components: int, feature_names: Sequence[str], *,
                     fit_intercept: bool = True, sigma_setting: str = "known") -> list[str]:
    # fmt: on
    """Names of the free parameters, in the order of the information matrix.

    The same as :func:`mlrbayes.params.param_names` without ``weights[K-1]`` (it is fixed by
    the others, since the weights sum to 1).

    Examples
    --------
    >>> free_param_names(2, ["x"], sigma_setting="shared")
    ['weights[0]', 'intercept[0]', 'intercept[1]', 'coef[0,x]', 'coef[1,x]', 'sigma']
    """
    check_sigma_setting(sigma_setting)
    names = param_names(
        n_components, list(feature_names), fit_intercept=fit_intercept, sigma=sigma_setting
    )
    names.remove(f"weights[{n_components - 1}]")
    return names


def _layout(k: int, p: int, fit_intercept: bool, sigma_setting: str):
    """Column indices of each parameter block in the free-parameter vector."""
    pos = k - 1
    idx_b = np.arange(pos, pos + k) if fit_intercept else None
    pos += k if fit_intercept else 0
    idx_c = np.arange(pos, pos + k * p).reshape(k, p)
    pos += k * p
    if sigma_setting == "shared":
        idx_s = np.full(k, pos)
        pos += 1
    elif sigma_setting == "component":
        idx_s = np.arange(pos, pos + k)
        pos += k
    else:
        idx_s = None
    return pos, idx_b, idx_c, idx_s


def _prepare(X, y, weights, intercept, coef, sigma, fit_intercept, sigma_setting):
    data = as_dataset(X, y)
    Xa, ya = data.X, data.y
    w = np.asarray(weights, dtype=float).reshape(-1)
    k = w.shape[0]
    c = np.asarray(coef, dtype=float).reshape(k, -1)
    if c.shape[1] != Xa.shape[1]:
        raise ValueError(
            f"coef has {c.shape[1]} columns but X has {Xa.shape[1]}; pass coef of shape "
            f"(K, n_features) = ({k}, {Xa.shape[1]})."
        )
    b = np.zeros(k) if intercept is None else np.asarray(intercept, dtype=float).reshape(-1)
    if b.shape != (k,):
        raise ValueError(f"intercept must have shape ({k},) to match the weights; got {b.shape}.")
    if not fit_intercept and np.any(b != 0):
        raise ValueError(
            f"fit_intercept=False but intercept={b.tolist()} is not zero; pass zeros or "
            "fit_intercept=True."
        )
    s = np.asarray(sigma, dtype=float)
    if sigma_setting == "shared" and s.size != 1:
        raise ValueError(f"sigma_setting='shared' needs a single sigma; got {s.tolist()}.")
    if s.size not in (1, k):
        raise ValueError(f"sigma must be a number or have {k} entries; got {s.tolist()}.")
    s = np.broadcast_to(s.reshape(-1), (k,)).astype(float)
    return Xa, ya, w, b, c, s


def observed_information(
    X: Any,
    y: Any,
    weights: Any,
    intercept: Any,
    coef: Any,
    sigma: Any,
    *,
    fit_intercept: bool = True,
    sigma_setting: str = "known",
) -> np.ndarray:
    """Observed information matrix of the free parameters by Louis' formula.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or Dataset
    y : array-like of shape (n_samples,), or None with a :class:`mlrbayes.spec.Dataset`
    weights : array-like of shape (K,)
    intercept : array-like of shape (K,)
        Zeros (or None) when ``fit_intercept=False``.
    coef : array-like of shape (K, n_features)
    sigma : float or array-like of shape (K,)
    fit_intercept : bool
    sigma_setting : {"known", "shared", "component"}

    Returns
    -------
    info : ndarray of shape (d, d)
        Minus the Hessian of the marginal log-likelihood with respect to the free parameters
        (:func:`free_param_names`). Entries are ``inf``/``nan`` when a weight is 0 or a sigma
        is 0.
    """
    sigma_setting = check_sigma_setting(sigma_setting)
    Xa, ya, w, b, c, s = _prepare(
        X, y, weights, intercept, coef, sigma, fit_intercept, sigma_setting
    )
    n, p = Xa.shape
    k = w.shape[0]
    d, idx_b, idx_c, idx_s = _layout(k, p, fit_intercept, sigma_setting)
    info = np.zeros((d, d))
    # Per component k only a few free parameters enter log pi_k + log N_k: the K-1 weights
    # (through a constant vector a_k), beta_k = (b_k, c_k) and sigma_k. Local score
    # t_ik = (a_k, u_ik z_i, v_ik) with u = r / s^2 and v = -1/s + r^2/s^3; local complete-data
    # information B_ik = [[a a', 0, 0], [0, z z'/s^2, 2 r z/s^3], [0, ., -1/s^2 + 3 r^2/s^4]].
    wi = np.arange(k - 1)
    local = []
    for kk in range(k):
        beta = idx_c[kk] if not fit_intercept else np.r_[idx_b[kk], idx_c[kk]]
        sig = [] if idx_s is None else [idx_s[kk]]
        local.append((beta, np.r_[wi, beta, sig].astype(int)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a = np.zeros((k, k - 1))  # d log pi_k / d (pi_1..pi_{K-1})
        a[wi, wi] = 1.0 / w[: k - 1]
        a[k - 1, :] = -1.0 / w[k - 1]
        log_w = np.log(w)
        for lo in range(0, n, _CHUNK):
            Xc, yc = Xa[lo : lo + _CHUNK], ya[lo : lo + _CHUNK]
            m = Xc.shape[0]
            Z = np.column_stack([np.ones(m), Xc]) if fit_intercept else Xc
            r = yc[:, None] - _lik.component_means(Xc, b, c)  # residuals (m, K)
            lj = -0.5 * (r / s) ** 2 - np.log(s) + log_w
            g = np.exp(lj - _lik.logsumexp_lastaxis(lj)[:, None])  # responsibilities
            sbar = np.zeros((m, d))  # sum_k gamma_ik s_ik
            for kk, (beta, loc) in enumerate(local):
                gk, rk, sk = g[:, kk], r[:, kk], s[kk]
                q = len(beta)
                T = np.empty((m, len(loc)))
                T[:, : k - 1] = a[kk]
                T[:, k - 1 : k - 1 + q] = Z * (rk / sk**2)[:, None]
                if idx_s is not None:
                    T[:, -1] = -1.0 / sk + rk**2 / sk**3
                gT = T * gk[:, None]
                sbar[:, loc] += gT
                block = -(gT.T @ T)  # - sum_i gamma_ik t t'
                block[: k - 1, : k - 1] += gk.sum() * np.outer(a[kk], a[kk])
                bb = slice(k - 1, k - 1 + q)
                block[bb, bb] += (Z * (gk / sk**2)[:, None]).T @ Z
                if idx_s is not None:
                    cross = 2.0 * (Z.T @ (gk * rk)) / sk**3
                    block[bb, -1] += cross
                    block[-1, bb] += cross
                    block[-1, -1] += np.sum(gk * (-1.0 / sk**2 + 3.0 * rk**2 / sk**4))
                info[np.ix_(loc, loc)] += block
            info += sbar.T @ sbar
    return info


# fmt: off
def observation_scores(X: Any, y: Any, weights: Any, intercept: Any, coef: Any, sigma: Any, *,
                       fit_intercept: bool = True, sigma_setting: str = "known") -> np.ndarray:
    # fmt: on
    r"""Score of each observation's marginal log-likelihood for the free parameters.

    :math:`s_i = \partial \log \sum_k \pi_k f_k(y_i) / \partial\theta
    = \sum_k \gamma_{ik} \, \partial \log(\pi_k f_k(y_i)) / \partial\theta`, in the free
    parametrisation of :func:`observed_information` (the first K-1 weights with
    :math:`\pi_K = 1 - \sum_{k<K} \pi_k`, intercepts, slopes, sigma on the sd scale). With
    residuals :math:`r_{ik}` the entries are :math:`\gamma_{ij}/\pi_j - \gamma_{iK}/\pi_K`
    (weights), :math:`\gamma_{ik} r_{ik} (1, x_i) / \sigma_k^2` (intercept, slopes) and
    :math:`\gamma_{ik}(r_{ik}^2/\sigma_k^3 - 1/\sigma_k)` (sigma; summed over k when shared).
    At the maximum-likelihood estimate the rows sum to zero; ``s.T @ s`` is the "meat" of the
    Huber-White sandwich (White 1982).

    Parameters
    ----------
    X, y, weights, intercept, coef, sigma, fit_intercept, sigma_setting
        As in :func:`observed_information`.

    Returns
    -------
    scores : ndarray of shape (n_samples, d)
        Columns in the order of :func:`free_param_names`.
    """
    setting = check_sigma_setting(sigma_setting)
    Xa, ya, w, b, c, s = _prepare(X, y, weights, intercept, coef, sigma, fit_intercept, setting)
    (n, p), k = Xa.shape, len(w)
    d, idx_b, idx_c, idx_s = _layout(k, p, fit_intercept, setting)
    out = np.zeros((n, d))
    with np.errstate(divide="ignore", invalid="ignore"):
        g = _lik.responsibilities(Xa, ya, w, b, c, s)
        r = ya[:, None] - _lik.component_means(Xa, b, c)
        u = g * r / s**2  # (n, K): d/d(mean_k), weighted by membership
        out[:, : k - 1] = g[:, : k - 1] / w[: k - 1] - (g[:, k - 1] / w[k - 1])[:, None]
        if fit_intercept:
            out[:, idx_b] = u
        out[:, idx_c.ravel()] = (u[:, :, None] * Xa[:, None, :]).reshape(n, k * p)
        if idx_s is not None:
            v = g * (r**2 / s**3 - 1.0 / s)
            np.add.at(out.T, idx_s, v.T)
    return out


def nan_standard_errors(k: int, p: int, fit_intercept: bool, sigma_setting: str) -> dict[str, Any]:
    """Standard errors that are all NaN, with the keys and shapes of :func:`standard_errors`."""
    out: dict[str, Any] = {"weights": np.full(k, np.nan)}
    if fit_intercept:
        out["intercept"] = np.full(k, np.nan)
    out["coef"] = np.full((k, p), np.nan)
    if sigma_setting == "shared":
        out["sigma"] = float("nan")
    elif sigma_setting == "component":
        out["sigma"] = np.full(k, np.nan)
    return out


def invert_information(info: np.ndarray, names: list[str]) -> tuple[np.ndarray | None, str]:
    """Inverse of a symmetric positive definite matrix, or ``(None, reason)``."""
    if not np.all(np.isfinite(info)):
        return None, "it has infinite or undefined entries (a weight or a sigma is 0)"
    diag = np.diag(info)
    if np.any(diag <= 0):
        bad = int(np.argmin(diag))
        return None, f"its diagonal entry for {names[bad]} is {diag[bad]:.3g} <= 0"
    scale = 1.0 / np.sqrt(diag)
    corr = info * scale[:, None] * scale[None, :]
    corr = 0.5 * (corr + corr.T)
    eig = np.linalg.eigvalsh(corr)
    if eig[0] <= _RCOND * eig[-1]:
        return None, (
            f"its smallest eigenvalue (unit-diagonal scale) is {eig[0]:.3g}, relative "
            f"{eig[0] / eig[-1]:.3g} to the largest"
        )
    inv = np.linalg.inv(corr)
    inv = 0.5 * (inv + inv.T)
    return inv * scale[:, None] * scale[None, :], ""


def standard_errors(
    X: Any,
    y: Any,
    weights: Any,
    intercept: Any = None,
    coef: Any = None,
    sigma: Any = None,
    *,
    fit_intercept: bool | None = None,
    sigma_setting: str | None = None,
    feature_names: Sequence[str] | None = None,
    information: np.ndarray | None = None,
) -> tuple[np.ndarray | None, list[str], dict[str, Any]]:
    """Standard errors of the EM estimate from the observed information (Louis 1982).

    Parameters
    ----------
    X, y, weights, intercept, coef, sigma, fit_intercept, sigma_setting
        The data and the estimate, as in :func:`observed_information` (``sigma``: the known
        value, or the estimate: one when ``"shared"``, K when ``"component"``). ``weights``
        may instead be a fitted result (an :class:`~mlrbayes.em.EMResult`, ``Optimum`` or
        ``StartResult``: anything with ``weights``, ``intercept``, ``coef`` and ``sigma``);
        then the other parameters are left out, and ``fit_intercept``, ``sigma_setting`` and
        ``feature_names`` default to the result's own when it has them. Otherwise
        ``fit_intercept`` defaults to True and ``sigma_setting`` to ``"known"``.
    feature_names : sequence of str, optional
        Predictor names for ``se_names``; ``x0, x1, ...`` by default.
    information : ndarray of shape (d, d), optional
        The observed information already summed (e.g. over the blocks of a Dask array by
        :mod:`mlrbayes.em.dask_engine`); then ``X`` and ``y`` are not read (pass None).

    Returns
    -------
    covariance : ndarray of shape (d, d) or None
        Inverse observed information of the free parameters; ``None`` when the information is
        singular or not positive definite (a :class:`SingularInformationWarning` says why).
    se_names : list of str
        Names of the d free parameters (:func:`free_param_names`).
    se : dict
        ``"weights"``: shape (K,), the last by the delta method
        (``Var(pi_K) = 1' Cov(pi_1..pi_{K-1}) 1``; 0 when K = 1);
        ``"intercept"``: shape (K,), present only when ``fit_intercept=True``;
        ``"coef"``: shape (K, n_features);
        ``"sigma"``: a float (shared) or shape (K,) (component), present only when sigma is
        estimated. All NaN when ``covariance`` is None.

    Examples
    --------
    >>> from mlrbayes import simulate
    >>> X, y, _ = simulate(400, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=1)
    >>> cov, names, se = standard_errors(X, y, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5)
    >>> names
    ['weights[0]', 'intercept[0]', 'intercept[1]', 'coef[0,x0]', 'coef[1,x0]']
    >>> bool(0.01 < se["coef"][0, 0] < 0.05)
    True
    """
    if hasattr(weights, "coef"):  # a fitted result carries its parameters and settings
        est = weights
        weights, intercept, coef, sigma = est.weights, est.intercept, est.coef, est.sigma
        fit_intercept = (
            getattr(est, "fit_intercept", True) if fit_intercept is None else fit_intercept
        )
        sigma_setting = sigma_setting or getattr(est, "sigma_setting", None)
        feature_names = feature_names or getattr(est, "feature_names", None)
    fit_intercept = True if fit_intercept is None else fit_intercept
    sigma_setting = check_sigma_setting(sigma_setting or "known")
    params = (weights, intercept, coef, sigma)
    info = information
    if info is None:
        info = observed_information(
            X, y, *params, fit_intercept=fit_intercept, sigma_setting=sigma_setting
        )
    w = np.asarray(weights, dtype=float).reshape(-1)
    k = w.shape[0]
    p = np.asarray(coef, dtype=float).reshape(k, -1).shape[1]
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(p)]
    if len(feature_names) != p:
        raise ValueError(
            f"feature_names has {len(feature_names)} entries but coef has {p} columns; pass one "
            "name per predictor."
        )
    names = free_param_names(
        k, feature_names, fit_intercept=fit_intercept, sigma_setting=sigma_setting
    )
    cov, reason = invert_information(info, names)
    if cov is None:
        warnings.warn(
            f"the observed information matrix is singular or not positive definite ({reason}); "
            "standard errors are NaN. Check for an emptied or collapsed component, identical "
            "components, or an unconverged fit; a smaller n_components may help.",
            SingularInformationWarning,
            stacklevel=2,
        )
        return None, names, nan_standard_errors(k, p, fit_intercept, sigma_setting)
    var = np.diag(cov)
    if np.any(var <= 0):
        warnings.warn(
            "the inverse observed information has non-positive variances; standard errors are "
            "NaN where that happens.",
            SingularInformationWarning,
            stacklevel=2,
        )
    with np.errstate(invalid="ignore"):
        sd = np.where(var > 0, np.sqrt(np.abs(var)), np.nan)
    _, idx_b, idx_c, idx_s = _layout(k, p, fit_intercept, sigma_setting)
    se: dict[str, Any] = {}
    if k > 1:
        ww = cov[: k - 1, : k - 1]
        last = float(np.sum(ww))
        se["weights"] = np.r_[sd[: k - 1], np.sqrt(last) if last > 0 else np.nan]
    else:
        se["weights"] = np.zeros(1)
    if fit_intercept:
        se["intercept"] = sd[idx_b]
    se["coef"] = sd[idx_c]
    if sigma_setting == "shared":
        se["sigma"] = float(sd[idx_s[0]])
    elif sigma_setting == "component":
        se["sigma"] = sd[idx_s]
    return cov, names, se
