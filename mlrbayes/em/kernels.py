"""The mathematics of one EM iteration as small array functions.

* :func:`e_step` and :func:`m_step`: the E- and M-step written plainly on the data (the
  reference the fused pass of :mod:`mlrbayes.em.engine` is tested against);
* :func:`wls_solve`: one component's weighted normal equations, solved stably;
* :func:`m_step_from_stats`: the M-step from the sufficient statistics of one pass;
* :func:`update_sigma`: the noise-sd update both M-steps share.

Everything here works on a design matrix ``Z`` (intercept column first when fitted) and takes
and returns arrays; nothing warns except the public :func:`m_step`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import linalg as _sla

from .. import likelihood as _lik
from ..params import sigma_mode
from .result import NumericalWarning

__all__ = [
    "ROW_BLOCK",
    "e_step",
    "emptied_note",
    "m_step",
    "m_step_from_stats",
    "reference_m_step",
    "singular_note",
    "update_sigma",
    "wls_solve",
]

ROW_BLOCK = 16_384  # rows per block of a pass over the data (memory O(block))
_RCOND = 1e-10  # smallest Cholesky pivot of the unit-diagonal Gram matrix accepted
_SIGMA2_FLOOR = 1e-300  # sigma^2 (standardised units) never reaches 0
_CANCEL = 1e-8  # a residual sum below this fraction of its terms is recomputed directly


# ----------------------------------------------------------------------------- linear algebra
def wls_solve(G: np.ndarray, rhs: np.ndarray, rcond: float = _RCOND) -> tuple[np.ndarray, bool]:
    """Solve the weighted normal equations ``G beta = rhs`` stably.

    ``G`` is first scaled to unit diagonal (Jacobi scaling), then factorised by Cholesky. When
    that fails or a pivot is below ``rcond`` (constant or collinear columns, or almost no
    weight), the fallback is the minimum-norm solution in the scaled coordinates (eigenvalues
    below ``rcond * max eigenvalue`` dropped), which still minimises the weighted residual sum
    of squares, so EM stays monotone. Columns with zero weighted norm get coefficient 0.

    Parameters
    ----------
    G : ndarray of shape (d, d)
    rhs : ndarray of shape (d,)

    Returns
    -------
    beta : ndarray of shape (d,)
    singular : bool
        True when the fallback was used.
    """
    diag = np.diag(G)
    ok = np.isfinite(diag) & (diag > 0)
    scale = np.zeros_like(diag)
    scale[ok] = 1.0 / np.sqrt(diag[ok])
    Gs = G * scale[:, None] * scale[None, :]
    bs = rhs * scale
    if ok.all():
        try:
            c_low = _sla.cho_factor(Gs, lower=True, check_finite=False)
            if np.min(np.diag(c_low[0])) ** 2 >= rcond:
                return scale * _sla.cho_solve(c_low, bs, check_finite=False), False
        except np.linalg.LinAlgError:
            pass
    Gs = np.where(np.isfinite(Gs), Gs, 0.0)
    evals, evecs = np.linalg.eigh(Gs)
    top = evals.max(initial=0.0)
    keep = evals > rcond * top if top > 0 else np.zeros(evals.shape, dtype=bool)
    v = evecs[:, keep]
    return scale * (v @ ((v.T @ bs) / evals[keep])), True


def update_sigma(
    mode: str,
    rss: np.ndarray,
    N: np.ndarray,
    total: float,
    sigma: np.ndarray,
    emptied: list[int],
) -> np.ndarray:
    """The noise-sd update of the M-step (one definition for both M-steps).

    Parameters
    ----------
    mode : {"known", "shared", "component"}
    rss : ndarray of shape (K,)
        Weighted residual sums ``sum_i gamma_ik r_ik^2`` at the new coefficients.
    N : ndarray of shape (K,)
        Effective counts ``sum_i gamma_ik``.
    total : float
        ``sum_k N_k`` (= n up to rounding).
    sigma : ndarray of shape (K,)
        The current sd: returned for a known sd, and kept for emptied components.
    emptied : list of int

    Returns
    -------
    ndarray of shape (K,)
        Known: ``sigma``; shared: ``sqrt(sum_k rss_k / total)`` for every component;
        per component: ``sqrt(rss_k / N_k)``. Squares never fall below ``1e-300``.
    """
    if mode == "known":
        return sigma
    if mode == "shared":
        return np.full(sigma.shape, np.sqrt(max(rss.sum() / total, _SIGMA2_FLOOR)))
    s_new = np.array(sigma, dtype=float)
    for j in range(s_new.shape[0]):
        if j not in emptied:
            s_new[j] = np.sqrt(max(rss[j] / N[j], _SIGMA2_FLOOR))
    return s_new


def singular_note(j: int) -> str:
    """The note for a singular weighted least-squares problem of component ``j``."""
    return (
        f"component {j}: the weighted least-squares problem was singular or ill-conditioned "
        "(collinear or constant predictors, or too little weight); the minimum-norm solution "
        "was used (or the current coefficients, when they already solve it)"
    )


def emptied_note(j: int) -> str:
    """The note for component ``j`` emptied."""
    return (
        f"component {j} emptied (its weight fell below min_weight); it is kept with weight 0 "
        "and its last coefficients. Consider fewer components"
    )


# ----------------------------------------------------------------------------- reference steps
def e_step(X, y, weights, intercept, coef, sigma) -> tuple[np.ndarray, float]:
    """E-step: membership probabilities and the marginal log-likelihood.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    weights : ndarray of shape (K,)
    intercept : ndarray of shape (K,)
    coef : ndarray of shape (K, n_features)
    sigma : float or ndarray of shape (K,)

    Returns
    -------
    resp : ndarray of shape (n_samples, K)
        ``gamma_ik = pi_k N(y_i | b_k + c_k x_i, sigma_k^2) / sum_j (...)``, by log-sum-exp.
    loglik : float
        ``sum_i log sum_k pi_k N(y_i | ...)``.
    """
    w = np.asarray(weights, dtype=float)
    s = np.broadcast_to(np.asarray(sigma, dtype=float), w.shape)
    log_resp, point = _lik.log_responsibilities(X, y, w, intercept, coef, s)
    return np.exp(log_resp, out=log_resp), float(point.sum())


def _weighted_normal_equations(Z: np.ndarray, y: np.ndarray, g: np.ndarray):
    """``(Z^T diag(g) Z, Z^T diag(g) y)`` by row blocks (O(block) extra memory)."""
    d = Z.shape[1]
    G = np.zeros((d, d))
    rhs = np.zeros(d)
    for a in range(0, Z.shape[0], ROW_BLOCK):
        Zb = Z[a : a + ROW_BLOCK]
        Zg = Zb * g[a : a + ROW_BLOCK, None]
        G += Zb.T @ Zg
        rhs += Zg.T @ y[a : a + ROW_BLOCK]
    return G, rhs


def reference_m_step(Z, y, resp, *, mode, sigma_known=None, min_weight=0.0, previous=None):
    """The M-step on a design matrix ``Z`` (intercept column included), written plainly.

    Parameters
    ----------
    Z : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    resp : ndarray of shape (n, K)
    mode : {"known", "shared", "component"}
    sigma_known : float or ndarray of shape (K,), optional
        The sd when ``mode == "known"``.
    min_weight : float
        A component with ``sum_i gamma_ik <= min_weight * n`` is emptied.
    previous : tuple (B (K, d), sigma (K,)), optional
        Kept for emptied components.

    Returns
    -------
    B : ndarray of shape (K, d)
    weights : ndarray of shape (K,)
    sigma : ndarray of shape (K,)
    singular, emptied : list of int
    """
    n, d = Z.shape
    k = resp.shape[1]
    nk = resp.sum(axis=0)
    B = np.zeros((k, d)) if previous is None else np.array(previous[0], dtype=float)
    rss = np.zeros(k)
    singular, emptied = [], []
    for j in range(k):
        g = resp[:, j]
        if not nk[j] > min_weight * n or nk[j] <= 0:
            emptied.append(j)
        else:
            B[j], sing = wls_solve(*_weighted_normal_equations(Z, y, g))
            if sing:
                singular.append(j)
        r = y - Z @ B[j]
        rss[j] = g @ (r * r)
    w = nk / nk.sum()
    w[emptied] = 0.0
    w /= w.sum()
    if mode == "known":
        s = np.broadcast_to(np.asarray(sigma_known, dtype=float), (k,)).copy()
    elif previous is not None:
        s = np.asarray(previous[1], dtype=float)
    else:  # emptied components without a previous sd take the shared estimate
        s = np.full(k, np.sqrt(max(rss.sum() / nk.sum(), _SIGMA2_FLOOR)))
    return B, w, update_sigma(mode, rss, nk, nk.sum(), s, emptied), singular, emptied


def m_step(
    X,
    y,
    resp,
    *,
    sigma_setting: str | float | np.ndarray,
    fit_intercept: bool = True,
    sigma_known: float | np.ndarray | None = None,
    min_weight: float = 0.0,
    previous: tuple[np.ndarray, np.ndarray, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | np.ndarray]:
    """M-step: weights, one weighted least-squares fit per component, and the noise sd.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    resp : ndarray of shape (n_samples, K)
        Responsibilities from :func:`e_step`.
    sigma_setting : {"known", "shared", "component"} or float or ndarray of shape (K,)
        A number/array means known (then it is ``sigma_known``); ``"shared"``: the ML estimate
        ``sqrt(sum_ik gamma_ik r_ik^2 / n)``; ``"component"``: ``sqrt(sum_i gamma_ik r_ik^2 /
        sum_i gamma_ik)``. Residuals ``r`` are computed directly, not from sums of squares.
    fit_intercept : bool
    sigma_known : float or ndarray of shape (K,), optional
        The known sd (defaults to ``sigma_setting`` when that is a number).
    min_weight : float
        A component with ``sum_i gamma_ik <= min_weight * n`` is *emptied*: weight 0, and its
        previous coefficients (``previous``) or zeros are kept.
    previous : tuple (intercept (K,), coef (K, p), sigma), optional
        Parameters kept for emptied components.

    Returns
    -------
    weights : ndarray of shape (K,)
    intercept : ndarray of shape (K,)
        Zeros when ``fit_intercept=False``.
    coef : ndarray of shape (K, n_features)
    sigma : float or ndarray of shape (K,)
        A float for known-scalar and shared sigma, else (K,).

    Warns
    -----
    NumericalWarning
        When a weighted least-squares problem is singular (the minimum-norm solution is used,
        see :func:`wls_solve`) or a component is emptied.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    resp = np.asarray(resp, dtype=float)
    mode = sigma_mode(sigma_setting)
    if mode == "known" and sigma_known is None:
        sigma_known = sigma_setting
    fi = bool(fit_intercept)
    Z = np.column_stack([np.ones(X.shape[0]), X]) if fi else X
    prev = None
    if previous is not None:
        b0, c0, s0 = previous
        B0 = np.column_stack([b0, c0]) if fi else np.asarray(c0, dtype=float)
        prev = (B0, np.broadcast_to(np.asarray(s0, dtype=float), (resp.shape[1],)))
    B, w, s, singular, emptied = reference_m_step(
        Z, y, resp, mode=mode, sigma_known=sigma_known, min_weight=min_weight, previous=prev
    )
    for j in singular:
        warnings.warn(singular_note(j), NumericalWarning, stacklevel=2)
    for j in emptied:
        warnings.warn(emptied_note(j), NumericalWarning, stacklevel=2)
    intercept = B[:, 0].copy() if fi else np.zeros(B.shape[0])
    coef = B[:, int(fi) :].copy()
    if mode == "shared" or (mode == "known" and np.ndim(sigma_known) == 0):
        return w, intercept, coef, float(s[0])
    return w, intercept, coef, s


# ----------------------------------------------------------------------------- fused M-step
def m_step_from_stats(stats, B, w, *, min_weight: float):
    """The M-step from the sufficient statistics of one pass (standardised units).

    The new coefficients solve ``G_k beta = Z^T diag(gamma_k) y = H_k + G_k B_k``; the residual
    sum at the new coefficients is ``S_k - 2 delta^T H_k + delta^T G_k delta`` with
    ``delta = beta - B_k`` (small near convergence, so no cancellation there).

    Parameters
    ----------
    stats : SufficientStats
        From :meth:`mlrbayes.em.engine.InMemoryEngine.accumulate` at ``(B, w, ...)``.
    B : ndarray of shape (K, d)
    w : ndarray of shape (K,)
    min_weight : float

    Returns
    -------
    (B, weights, rss, singular, emptied, cancel)
        The new coefficients (K, d) and weights (K,), the weighted residual sums at the new
        coefficients (K,), the components whose least-squares problem was singular and those
        emptied (lists of int), and whether a residual sum cancelled (then the caller
        recomputes it directly with :meth:`InMemoryEngine.residual_sums`).
    """
    N, G, H, S = stats.N, stats.G, stats.H, stats.S
    n = stats.n_samples
    B_new = B.copy()
    rss = S.copy()
    singular, emptied = [], []
    cancel = False
    for j in range(B.shape[0]):
        if w[j] == 0 or not N[j] > min_weight * n:
            emptied.append(j)
            continue
        beta, sing = wls_solve(G[j], H[j] + G[j] @ B[j])
        if sing:
            singular.append(j)
            if not np.any(H[j]):  # B_j already solves the singular equations: keep it, do not
                beta = B[j]  # move along the null space (a line through one row stays exact)
        delta = beta - B[j]
        t1 = float(delta @ H[j])
        t2 = float(delta @ G[j] @ delta)
        r = S[j] - 2.0 * t1 + t2
        if r <= _CANCEL * (S[j] + 2.0 * abs(t1) + t2):
            cancel = True
        rss[j] = max(r, 0.0)
        B_new[j] = beta
    w_new = N / N.sum()
    w_new[emptied] = 0.0
    w_new /= w_new.sum()
    return B_new, w_new, rss, singular, emptied, cancel
