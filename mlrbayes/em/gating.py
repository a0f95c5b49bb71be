r"""The gating (concomitant) M-step: a penalised multinomial logit fitted by Newton's method.

The prior membership of unit :math:`u` with gating covariates :math:`w_u` (a leading 1) is
:math:`\pi_{uk} = \mathrm{softmax}_k(w_u^\top \gamma_k)`. Given the E-step's memberships
:math:`\tau_{uk}` (soft targets) and the unit weights :math:`v_u`, the M-step maximises

.. math::

    Q(\gamma) = \sum_u v_u \sum_k \tau_{uk} \log \pi_{uk}
                - \tfrac12 \sum_{j \ge 1} \lambda_j \sum_k \gamma_{kj}^2,
    \qquad \lambda_j = 10^{-4} \, N \, \mathrm{Var}_v(w_{\cdot j}),

with :math:`N = \sum_u v_u`. The small ridge on the non-intercept columns keeps the estimate
finite when the memberships are separated by a covariate (the unpenalised maximum is then at
infinity); scaled by the covariate's variance it is the same relative penalty,
:math:`10^{-4}` of the information of one standardised covariate, whatever its units. The
gating intercepts are not penalised, so a gating model with only an intercept is exactly the
constant-weights model. Because the penalty is symmetric in the components, its maximiser is
*centred*, :math:`\sum_k \gamma_k = 0` (the label-symmetric identification the package reports).

Internally the free parameters are the reference contrasts :math:`\theta_k = \gamma_k -
\gamma_K` (:math:`k < K`); :func:`centre` maps them to the centred :math:`\gamma`. Each call of
:func:`newton_steps` takes a few Newton steps with step halving, so the penalised objective
never decreases (a generalised EM step).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg as _sla

__all__ = [
    "RIDGE",
    "centre",
    "gating_objective",
    "gating_ridge",
    "log_softmax",
    "logsumexp_columns",
    "newton_steps",
    "softmax_hessian",
]

#: Ridge on the non-intercept gating coefficients, per unit of total weight and of covariate
#: variance (see the module docstring).
RIDGE = 1e-4


def gating_ridge(W: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The ridge ``lambda_j`` of each gating column, shape (q,); 0 for the intercept column.

    Parameters
    ----------
    W : ndarray of shape (n_units, q)
        Gating design, first column the constant 1.
    v : ndarray of shape (n_units,)
        Unit weights.
    """
    total = float(v.sum())
    mean = (v @ W) / total
    var = (v @ (W - mean) ** 2) / total
    lam = RIDGE * total * var
    lam[0] = 0.0
    return lam


def centre(theta: np.ndarray) -> np.ndarray:
    """Reference contrasts (K-1, q) → centred gating coefficients (K, q) with rows summing to 0."""
    full = np.vstack([theta, np.zeros((1, theta.shape[1]))])
    return full - full.mean(axis=0)


def logsumexp_columns(a: np.ndarray) -> np.ndarray:
    """``log sum_k exp(a[:, k])`` of an (m, K) array, shape (m,), looping over the K columns.

    The same values as :func:`mlrbayes.likelihood.logsumexp_lastaxis` (rows all ``-inf`` give
    ``-inf``), several times faster for the few columns of a mixture: NumPy reductions along a
    short last axis are slow, elementwise operations on whole columns are not.
    """
    m = a[:, 0].copy()
    for k in range(1, a.shape[1]):
        np.maximum(m, a[:, k], out=m)
    m[~np.isfinite(m)] = 0.0
    s = np.exp(a[:, 0] - m)
    for k in range(1, a.shape[1]):
        s += np.exp(a[:, k] - m)
    with np.errstate(divide="ignore"):
        return np.log(s) + m


def log_softmax(W: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """``log pi_uk``, shape (n_units, K), for gating coefficients ``gamma`` (K, q)."""
    eta = W @ gamma.T
    return eta - logsumexp_columns(eta)[:, None]


def gating_objective(W, tau, v, gamma, lam) -> float:
    """The penalised objective ``Q(gamma)`` of the module docstring (``gamma`` centred or not:
    the penalty is taken at its centred version)."""
    g = gamma - gamma.mean(axis=0)
    return float(np.sum(v[:, None] * tau * log_softmax(W, g)) - 0.5 * np.sum(lam * g**2))


def softmax_hessian(W: np.ndarray, pi: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Minus the Hessian of ``sum_u v_u log pi_{u,k(u)}`` in the reference contrasts.

    It does not depend on which component each unit is in: entry ``((k, j), (l, j'))`` is
    ``sum_u v_u pi_uk (delta_kl - pi_ul) w_uj w_uj'`` for ``k, l < K``.

    Returns
    -------
    ndarray of shape ((K-1) q, (K-1) q)
    """
    k1 = pi.shape[1] - 1
    q = W.shape[1]
    H = np.empty((k1, q, k1, q))
    for a in range(k1):
        for b in range(a, k1):
            c = v * pi[:, a] * ((a == b) - pi[:, b])
            blk = (W * c[:, None]).T @ W
            H[a, :, b, :] = blk
            H[b, :, a, :] = blk.T
    return H.reshape(k1 * q, k1 * q)


def _penalty_hessian(lam: np.ndarray, k: int) -> np.ndarray:
    """Hessian of the ridge in the reference contrasts: ``lam_j (I - 11'/K)`` per column j."""
    c = np.eye(k - 1) - 1.0 / k
    return np.einsum("ab,j,jl->ajbl", c, lam, np.eye(lam.shape[0])).reshape(
        (k - 1) * lam.shape[0], (k - 1) * lam.shape[0]
    )


def newton_steps(
    W: np.ndarray,
    tau: np.ndarray,
    v: np.ndarray,
    gamma: np.ndarray,
    lam: np.ndarray,
    n_steps: int = 3,
    gtol: float = 1e-10,
) -> np.ndarray:
    """A few Newton steps on the penalised multinomial logit, never decreasing ``Q``.

    Parameters
    ----------
    W : ndarray of shape (n_units, q)
    tau : ndarray of shape (n_units, K)
        Memberships (soft targets), rows summing to 1.
    v : ndarray of shape (n_units,)
        Unit weights.
    gamma : ndarray of shape (K, q)
        Current gating coefficients.
    lam : ndarray of shape (q,)
        Ridge per column (:func:`gating_ridge`).
    n_steps : int
        At most this many Newton steps; fewer when the gradient (relative to ``sum v``) is
        below ``gtol``.

    Returns
    -------
    gamma : ndarray of shape (K, q)
        Centred.
    """
    k, q = gamma.shape
    if k == 1:
        return np.zeros((1, q))
    theta = (gamma[:-1] - gamma[-1]).copy()
    pen_h = _penalty_hessian(lam, k)
    total = float(v.sum())
    vtau = v[:, None] * tau

    def objective(th):  # (Q, log pi) at reference contrasts th; log pi reused by the next step
        g_c = centre(th)
        lp = log_softmax(W, g_c)
        return float(np.sum(vtau * lp) - 0.5 * np.sum(lam * g_c**2)), lp

    f_old, lp = objective(theta)
    for _ in range(n_steps):
        pi = np.exp(lp)
        grad = ((vtau - v[:, None] * pi)[:, :-1].T @ W) - lam * centre(theta)[:-1]  # (K-1, q)
        if np.max(np.abs(grad)) <= gtol * total:
            break
        H = softmax_hessian(W, pi, v) + pen_h
        try:
            step = _sla.solve(H, grad.ravel(), assume_a="pos", check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            step = np.linalg.lstsq(H, grad.ravel(), rcond=1e-12)[0]
        step = step.reshape(k - 1, q)
        t = 1.0
        for _ in range(30):  # halve until the objective does not decrease
            f_new, lp_new = objective(theta + t * step)
            if f_new >= f_old:
                theta, f_old, lp = theta + t * step, f_new, lp_new
                break
            t *= 0.5
        else:
            break
    return centre(theta)
