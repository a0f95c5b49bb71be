r"""EM iterations of the extended model: gating, fixed coefficients, groups and weights.

The model (see :mod:`mlrbayes.likelihood`, :func:`~mlrbayes.likelihood.log_joint`): a *unit*
:math:`u` is a group (all its observations share one component) or an observation, with weight
:math:`v_u` (replication weights), prior membership :math:`\pi_{uk}` (constant weights, or a
softmax of gating covariates :math:`w_u`) and

.. math::

    y_i \mid z_u = k \sim \mathcal N(z_i^\top \beta_k + u_i^\top \delta,\ \sigma_k^2),
    \qquad i \in u .

One iteration (:func:`em_step`):

* **E-step** on units: group sums of the observations' log-densities, plus
  :math:`\log \pi_{uk}`, normalised by log-sum-exp: memberships :math:`\tau_{uk}` and the
  log-likelihood :math:`\sum_u v_u \log \sum_k e^{\ell_{uk}}`.
* **M-step** with observation weights :math:`\omega_{ik} = v_{u(i)} \tau_{u(i)k}`:
  the component coefficients :math:`\beta_k` and the shared :math:`\delta` jointly, as one
  weighted least-squares problem (the K designs stacked block-diagonally beside the common
  :math:`U` columns, rows weighted by :math:`\omega_{ik} / \sigma_k^2`); then :math:`\sigma`
  (known / shared / per component) from the new residuals, as the plain M-step
  (:func:`~mlrbayes.em.kernels.update_sigma`); then the mixing weights
  :math:`\sum_u \omega_{uk} / \sum_u v_u`, or a few Newton steps of the gating logit
  (:mod:`mlrbayes.em.gating`). Each part maximises the expected complete-data
  log-likelihood given the others (an ECM algorithm, Meng & Rubin 1993), so the objective
  never decreases; with gating the objective includes the gating ridge.

Everything here works in the user's units (the least-squares solve is Jacobi-scaled).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from .. import likelihood as _lik
from .gating import gating_ridge, log_softmax, logsumexp_columns, newton_steps
from .kernels import update_sigma, wls_solve

__all__ = ["Design", "ExtState", "Params", "e_step", "em_step", "m_step", "run_extended"]

#: A drop of the objective larger than this times ``(|objective| + N)`` is more than rounding.
_DECREASE_RTOL = 1e-10


@dataclass(frozen=True, eq=False)
class Design:
    """The data of an extended fit, arranged once for the iterations.

    Attributes
    ----------
    Z : ndarray of shape (n, d)
        Component design (a column of ones first when the intercept is fitted).
    y : ndarray of shape (n,)
    U : ndarray of shape (n, r) or None
        Fixed-coefficient predictors.
    W : ndarray of shape (n_units, q) or None
        Gating design per unit (first column 1).
    groups : ndarray of shape (n,) or None
        Unit of each observation (None: every observation is a unit).
    v_obs : ndarray of shape (n,)
        Each observation's (its unit's) weight.
    v_unit : ndarray of shape (n_units,)
    ridge : ndarray of shape (q,) or None
        The gating ridge (:func:`mlrbayes.em.gating.gating_ridge`).
    fit_intercept : bool
    """

    Z: np.ndarray
    y: np.ndarray
    U: np.ndarray | None
    W: np.ndarray | None
    groups: np.ndarray | None
    v_obs: np.ndarray
    v_unit: np.ndarray
    ridge: np.ndarray | None
    fit_intercept: bool
    S: sparse.csr_matrix | None = None  # (n_units, n) indicator: group sums

    @classmethod
    def from_dataset(cls, data, fit_intercept: bool) -> Design:
        """Arrange a :class:`~mlrbayes.spec.Dataset` for the iterations."""
        n = data.n_samples
        Z = np.column_stack([np.ones(n), data.X]) if fit_intercept else data.X
        v_unit = _lik.unit_weights(data)
        n_units = n if data.groups is None else data.n_groups
        if v_unit is None:
            v_unit = np.ones(n_units)
        v_obs = v_unit if data.groups is None else v_unit[data.groups]
        S = None
        W = data.concomitant
        if data.groups is not None:
            S = sparse.csr_matrix(
                (np.ones(n), (data.groups, np.arange(n))), shape=(data.n_groups, n)
            )
            if W is not None:
                first = np.zeros(data.n_groups, dtype=np.intp)
                first[data.groups[::-1]] = np.arange(n)[::-1]
                W = W[first]
        ridge = None if W is None else gating_ridge(W, v_unit)
        return cls(
            np.ascontiguousarray(Z),
            data.y,
            data.fixed,
            W,
            data.groups,
            v_obs,
            v_unit,
            ridge,
            fit_intercept,
            S,
        )

    @property
    def n_units(self) -> int:
        return self.v_unit.shape[0]

    @property
    def total_weight(self) -> float:
        """``N = sum_u v_u``."""
        return float(self.v_unit.sum())

    def unit_sum(self, a: np.ndarray) -> np.ndarray:
        """Sum rows (n, ...) of the observations of each unit → (n_units, ...)."""
        return a if self.S is None else np.asarray(self.S @ a)

    def expand(self, a: np.ndarray) -> np.ndarray:
        """A unit's value (n_units, ...) for each of its observations → (n, ...)."""
        return a if self.groups is None else a[self.groups]


@dataclass(frozen=True, eq=False)
class Params:
    """Parameters of the extended model.

    ``B`` (K, d): intercept (when fitted) and slopes per component; ``sigma`` (K,); ``delta``
    (r,) or None; ``weights`` (K,) (without gating: the mixing weights; with gating: the
    average prior membership); ``gamma`` (K, q) centred or None.
    """

    B: np.ndarray
    sigma: np.ndarray
    weights: np.ndarray
    delta: np.ndarray | None = None
    gamma: np.ndarray | None = None

    def log_prior(self, design: Design) -> np.ndarray:
        """``log pi_uk``, shape (n_units, K)."""
        if design.W is not None:
            return log_softmax(design.W, self.gamma)
        with np.errstate(divide="ignore"):
            return np.broadcast_to(np.log(self.weights), (design.n_units, self.B.shape[0]))


def residuals(design: Design, p: Params) -> np.ndarray:
    """``y_i - u_i^T delta - z_i^T beta_k``, shape (n, K)."""
    y = design.y if p.delta is None else design.y - design.U @ p.delta
    return y[:, None] - design.Z @ p.B.T


def e_step(design: Design, p: Params) -> tuple[np.ndarray, float]:
    """Unit memberships ``tau`` (n_units, K) and the weighted log-likelihood."""
    r = residuals(design, p)
    s = p.sigma
    lp = -0.5 * (r / s) ** 2 - np.log(s) - 0.5 * _lik.LOG_2PI
    lj = design.unit_sum(lp) + p.log_prior(design)
    lse = logsumexp_columns(lj)
    tau = np.exp(lj - lse[:, None])
    return tau, float(lse @ design.v_unit)


def penalty(design: Design, p: Params) -> float:
    """The gating ridge ``0.5 sum_j lam_j sum_k gamma_kj^2`` (0 without gating)."""
    if p.gamma is None:
        return 0.0
    return float(0.5 * np.sum(design.ridge * p.gamma**2))


def _joint_wls(design: Design, omega: np.ndarray, sigma: np.ndarray, B_old: np.ndarray):
    """``(B, delta, singular)``: the component coefficients and delta as one WLS problem."""
    Z, U, y = design.Z, design.U, design.y
    k, d = B_old.shape
    if U is None:  # K separate problems (sigma cancels)
        B = np.empty_like(B_old)
        singular = False
        for j in range(k):
            Zw = Z * omega[:, j, None]
            B[j], sing = wls_solve(Zw.T @ Z, Zw.T @ y)
            singular |= sing
        return B, None, singular
    r = U.shape[1]
    m = k * d + r
    G = np.zeros((m, m))
    rhs = np.zeros(m)
    wts = omega / sigma**2
    for j in range(k):
        blk = slice(j * d, (j + 1) * d)
        Zw = Z * wts[:, j, None]
        G[blk, blk] = Zw.T @ Z
        G[blk, k * d :] = Zw.T @ U
        G[k * d :, blk] = G[blk, k * d :].T
        rhs[blk] = Zw.T @ y
    wsum = wts.sum(axis=1)
    G[k * d :, k * d :] = (U * wsum[:, None]).T @ U
    rhs[k * d :] = U.T @ (wsum * y)
    sol, singular = wls_solve(G, rhs)
    return sol[: k * d].reshape(k, d), sol[k * d :], singular


def m_step(design: Design, tau: np.ndarray, p: Params, mode: str) -> tuple[Params, bool]:
    """One ECM M-step from memberships ``tau`` (n_units, K); returns ``(params, singular)``."""
    omega_u = tau * design.v_unit[:, None]
    omega = design.expand(omega_u)
    B, delta, singular = _joint_wls(design, omega, p.sigma, p.B)
    new = dataclasses.replace(p, B=B, delta=delta)
    r = residuals(design, new)
    N = omega.sum(axis=0)
    rss = np.einsum("nk,nk->k", omega, r * r)
    sigma = update_sigma(mode, rss, N, float(N.sum()), p.sigma, [])
    Nu = omega_u.sum(axis=0)
    total = design.total_weight
    if design.W is None:
        return dataclasses.replace(new, sigma=sigma, weights=Nu / total), singular
    gamma = newton_steps(design.W, tau, design.v_unit, p.gamma, design.ridge)
    weights = design.v_unit @ np.exp(log_softmax(design.W, gamma)) / total
    return dataclasses.replace(new, sigma=sigma, gamma=gamma, weights=weights), singular


def em_step(design: Design, p: Params, mode: str) -> tuple[Params, float, np.ndarray, bool]:
    """E-step at ``p`` then M-step: ``(new params, loglik at p, tau at p, singular)``."""
    tau, ll = e_step(design, p)
    new, singular = m_step(design, tau, p, mode)
    return new, ll, tau, singular


@dataclass(frozen=True)
class LoopConfig:
    """Settings of :func:`run_extended` (see :func:`mlrbayes.em.fit_em`)."""

    mode: str
    tol: float
    max_iter: int
    min_weight: float
    min_sigma_ratio: float
    sigma_floor: float


@dataclass(eq=False)
class ExtState:
    """Where one extended start ended (user's units)."""

    params: Params
    loglik: float
    trace: np.ndarray
    n_iter: int
    converged: bool
    degenerate: bool
    decreased: bool
    init: str
    notes: tuple[str, ...] = ()
    saddle: bool = False
    tau: np.ndarray | None = field(default=None, repr=False)


def _degenerate(p: Params, cfg: LoopConfig, notes: dict[str, None]) -> bool:
    """A component emptied, a per-component sd collapsed, or sigma at the rounding level."""
    bad = False
    for j in np.flatnonzero(p.weights <= cfg.min_weight):
        notes[f"component {j} emptied (weight {p.weights[j]:.3g} <= min_weight)"] = None
        bad = True
    s = p.sigma
    if cfg.mode == "component" and np.min(s) < cfg.min_sigma_ratio * np.max(s):
        j = int(np.argmin(s))
        msg = f"component {j}'s sigma collapsed ({s[j]:.3g}, below min_sigma_ratio of the max)"
        notes[msg] = None
        bad = True
    if cfg.mode != "known" and np.min(s) <= cfg.sigma_floor:
        notes["an estimated sigma fell to the rounding level of y: the lines fit exactly"] = None
        bad = True
    return bad


def _is_saddle(p: Params) -> bool:
    """All components equal (coefficients and sd within 1e-6 relative): the K = 1 point."""
    if p.B.shape[0] < 2:
        return False
    scale = 1.0 + np.max(np.abs(p.B))
    same = np.max(np.abs(p.B - p.B[0])) <= 1e-6 * scale and np.ptp(p.sigma) <= 1e-6 * np.max(
        p.sigma
    )
    return bool(same)


def run_extended(design: Design, p0: Params, cfg: LoopConfig, init: str) -> ExtState:
    """Iterate E- and M-steps from ``p0`` until the objective gain per unit of weight is below
    ``tol`` (the objective is the log-likelihood minus the gating ridge), a drop of the
    objective (the start keeps the iterate before it), degeneracy or ``max_iter``."""
    notes: dict[str, None] = {}
    total = design.total_weight
    p = p0
    tau, ll = e_step(design, p)
    obj = ll - penalty(design, p)
    trace = [ll]
    converged = decreased = False
    degenerate = _degenerate(p, cfg, notes)
    for it in range(1, cfg.max_iter + 1):
        if degenerate:
            break
        new, singular = m_step(design, tau, p, cfg.mode)
        if singular:
            notes[_SINGULAR_NOTE] = None
        tau_new, ll_new = e_step(design, new)
        obj_new = ll_new - penalty(design, new)
        if not obj_new >= obj - _DECREASE_RTOL * (abs(obj) + total):
            notes[
                f"the log-likelihood (with the gating ridge) decreased by {obj - obj_new:.3g} "
                f"at iteration {it}, more than rounding error; the start stopped at the "
                "iterate before"
            ] = None
            decreased = True
            break
        gain = obj_new - obj
        p, tau, ll, obj = new, tau_new, ll_new, obj_new
        trace.append(ll)
        degenerate = _degenerate(p, cfg, notes)
        if not degenerate and gain / total < cfg.tol:
            converged = True
            break
    return ExtState(
        params=p,
        loglik=float(ll),
        trace=np.asarray(trace),
        n_iter=len(trace) - 1,
        converged=converged,
        degenerate=degenerate,
        decreased=decreased,
        init=init,
        notes=tuple(notes),
        saddle=_is_saddle(p),
        tau=tau,
    )


_SINGULAR_NOTE = (
    "singular weighted least squares (collinear predictors or an almost empty component): "
    "minimum-norm solution"
)
