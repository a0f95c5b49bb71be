r"""EM for mixtures of linear regressions: results, census of local optima, and the fitter.

The model (see :mod:`mlrbayes.likelihood`) is

.. math::

    y_i \sim \sum_{k=1}^K \pi_k \, \mathcal{N}(b_k + c_k^\top x_i,\ \sigma_k^2).

:func:`fit_em` runs ``n_init`` EM starts (Dempster, Laird & Rubin 1977; for regression mixtures
DeSarbo & Cron 1988), keeps every start in a census, groups the starts into distinct local optima
(up to relabelling of the components) and returns the best non-degenerate one as an
:class:`EMResult`. The mathematics sits in small array functions: :func:`e_step` (responsibilities
by log-sum-exp) and :func:`m_step` (weights, one weighted least-squares solve per component, the
noise sd), written plainly as the reference; the fit loop itself uses a fused, chunked pass over
the rows that computes the same E-step and accumulates the M-step's sufficient statistics in one
sweep (tested to give the same iterates).

Pure NumPy/SciPy; it never imports PyMC.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import linalg as _sla
from scipy.optimize import linear_sum_assignment

from . import likelihood as _lik
from ._validation import (
    check_choice,
    check_n_components,
    check_positive_float,
    check_positive_int,
    check_random_state,
    check_sigma,
    check_X,
    check_X_y,
)
from .params import param_names, sigma_mode

__all__ = [
    "ConvergenceWarning",
    "EMResult",
    "NumericalWarning",
    "Optimum",
    "StartResult",
    "e_step",
    "fit_em",
    "m_step",
]


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood gain fell below ``tol``."""


class NumericalWarning(UserWarning):
    """A numerical problem with a defined fallback: a singular weighted least-squares problem
    (constant or collinear predictor, a component with almost no weight), an emptied or collapsed
    component, or a log-likelihood that decreased by more than rounding error."""


@dataclass(frozen=True)
class StartResult:
    """Where one EM start ended.

    Attributes
    ----------
    start : int
        Index of the start (0-based, in the order they were run).
    init : str
        Initialisation strategy of this start (``"random"``, ``"binned"``, ``"kmeans"``,
        ``"given"``, ...).
    loglik : float
        Final marginal log-likelihood.
    weights, intercept, coef, sigma
        Final parameters (shapes as in :class:`EMResult`).
    n_iter : int
    converged : bool
    degenerate : bool
        True when a component collapsed (per-component sigma shrinking towards 0 onto a few
        points, or a component emptied): the likelihood is unbounded there, so its value does
        not measure fit.
    optimum : int
        Index into ``EMResult.optima`` of the distinct optimum this start reached.
    loglik_trace : ndarray of shape (n_iter + 1,) or None
        Log-likelihood at the start's initial parameters and after each iteration.
    notes : tuple of str
        Numerical events of this start (singular least squares, emptied or collapsed
        components), in words.
    """

    start: int
    init: str
    loglik: float
    weights: np.ndarray
    intercept: np.ndarray
    coef: np.ndarray
    sigma: float | np.ndarray
    n_iter: int
    converged: bool
    degenerate: bool
    optimum: int = -1
    loglik_trace: np.ndarray | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Optimum:
    """A distinct local optimum of the likelihood, up to relabelling of the components.

    Attributes
    ----------
    loglik : float
        Best log-likelihood among the starts that reached it.
    weights, intercept, coef, sigma
        Parameters of that best start.
    count : int
        How many starts reached this optimum.
    starts : tuple of int
        Their indices.
    degenerate : bool
    """

    loglik: float
    weights: np.ndarray
    intercept: np.ndarray
    coef: np.ndarray
    sigma: float | np.ndarray
    count: int
    starts: tuple[int, ...]
    degenerate: bool


@dataclass(frozen=True)
class EMResult:
    """The result of :func:`fit_em`: the best optimum, its diagnostics and the census of starts.

    Attributes
    ----------
    weights : ndarray of shape (K,)
    intercept : ndarray of shape (K,)
        Zeros when ``fit_intercept=False``.
    coef : ndarray of shape (K, p)
    sigma : float or ndarray of shape (K,)
        Noise sd: the given value when known, else the estimate (shared: a float; per
        component: shape (K,)).
    sigma_setting : {"known", "shared", "component"}
    loglik : float
        Marginal log-likelihood at the estimate.
    loglik_trace : ndarray of shape (n_iter + 1,)
        Log-likelihood at the start and after each iteration of the best start (non-decreasing).
    n_iter : int
    converged : bool
    degenerate : bool
    responsibilities : ndarray of shape (n, K)
    starts : tuple of StartResult
        Every start, in order.
    optima : tuple of Optimum
        Distinct optima: non-degenerate before degenerate, each by decreasing log-likelihood;
        ``optima[0]`` is the returned estimate.
    fit_intercept : bool
    feature_names : list of str
    target_name : str
    n_samples : int
    covariance : ndarray of shape (d, d) or None
        Inverse observed information (Louis 1982) for the free parameters named by
        ``se_names``; ``None`` if it could not be computed (a warning says why).
    se_names : list of str
        Names of the free parameters (the first K-1 weights, intercepts, coefs, sigma when
        estimated), in the order of ``covariance``.
    standard_errors : dict
        ``{"weights": (K,), "intercept": (K,), "coef": (K, p), "sigma": float or (K,)}``
        standard errors (NaN where unavailable; the last weight's by the delta method;
        ``sigma`` absent when known).
    notes : tuple of str
        Numerical events of the returned start (each was also issued as a warning).
    """

    weights: np.ndarray
    intercept: np.ndarray
    coef: np.ndarray
    sigma: float | np.ndarray
    sigma_setting: str
    loglik: float
    loglik_trace: np.ndarray
    n_iter: int
    converged: bool
    degenerate: bool
    responsibilities: np.ndarray
    starts: tuple[StartResult, ...]
    optima: tuple[Optimum, ...]
    fit_intercept: bool
    feature_names: list[str]
    target_name: str
    n_samples: int
    covariance: np.ndarray | None = None
    se_names: list[str] = field(default_factory=list)
    standard_errors: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    # ------------------------------------------------------------------ sizes and criteria
    @property
    def n_components(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.coef.shape[1])

    @property
    def n_parameters(self) -> int:
        """Number of free parameters: K-1 weights, K intercepts (if fitted), K*p slopes, sigma."""
        k, p = self.n_components, self.n_features
        d = (k - 1) + k * p + (k if self.fit_intercept else 0)
        if self.sigma_setting == "shared":
            d += 1
        elif self.sigma_setting == "component":
            d += k
        return d

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``-2 loglik + 2 d``."""
        return -2.0 * self.loglik + 2.0 * self.n_parameters

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``-2 loglik + d log n``."""
        return -2.0 * self.loglik + self.n_parameters * np.log(self.n_samples)

    @property
    def icl(self) -> float:
        """Integrated completed likelihood (Biernacki, Celeux & Govaert 2000), BIC form.

        ``BIC + 2 * entropy`` with entropy ``-sum_ik gamma_ik log gamma_ik``: it penalises
        components that overlap (uncertain memberships). Smaller is better, like AIC and BIC.
        """
        g = self.responsibilities
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.sum(np.where(g > 0, g * np.log(g), 0.0))
        return self.bic + 2.0 * float(ent)

    def param_names(self) -> list[str]:
        """Names of all parameters in the package-wide order (see :mod:`mlrbayes.params`)."""
        return param_names(
            self.n_components,
            self.feature_names,
            fit_intercept=self.fit_intercept,
            sigma=self.sigma_setting,
        )

    # ------------------------------------------------------------------ prediction
    def _sigma_k(self) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.sigma, dtype=float), (self.n_components,))

    def _check_new_X(self, X) -> np.ndarray:
        Xa, _ = check_X(X)
        if Xa.shape[1] != self.n_features:
            raise ValueError(
                f"X has {Xa.shape[1]} columns but the model was fitted with {self.n_features} "
                f"({self.feature_names}); pass the same predictors."
            )
        return Xa

    def predict_proba(self, X, y) -> np.ndarray:
        """Membership probabilities of new observations, shape (n, K)."""
        Xa = self._check_new_X(X)
        Xa, ya, _, _ = check_X_y(Xa, y)
        return _lik.responsibilities(
            Xa, ya, self.weights, self.intercept, self.coef, self._sigma_k()
        )

    def predict(self, X) -> np.ndarray:
        """Mixture mean ``sum_k pi_k (b_k + c_k x)``, shape (n,)."""
        Xa = self._check_new_X(X)
        return _lik.component_means(Xa, self.intercept, self.coef) @ self.weights

    def sample(self, X, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw new responses at ``X``: returns ``(y, labels)``, each of shape (n,)."""
        Xa = self._check_new_X(X)
        rng = check_random_state(random_state)
        labels = rng.choice(self.n_components, size=Xa.shape[0], p=self.weights)
        mu = _lik.component_means(Xa, self.intercept, self.coef)
        y = mu[np.arange(Xa.shape[0]), labels] + self._sigma_k()[labels] * rng.standard_normal(
            Xa.shape[0]
        )
        return y, labels

    def score(self, X, y) -> float:
        """Mean log-likelihood per observation of ``(X, y)``."""
        Xa = self._check_new_X(X)
        Xa, ya, _, _ = check_X_y(Xa, y)
        ll = _lik.pointwise_loglik(Xa, ya, self.weights, self.intercept, self.coef, self._sigma_k())
        return float(np.mean(ll))


# ============================================================================== the algorithm
_INIT_CHOICES = ("auto", "random", "binned")
_DEFAULT_CHUNK = 16_384  # rows per block of the fused pass
_RCOND = 1e-10  # smallest Cholesky pivot of the unit-diagonal Gram matrix accepted
_SIGMA2_FLOOR = 1e-300  # sigma^2 (standardised units) never reaches 0
_CANCEL = 1e-8  # a residual sum below this fraction of its terms is recomputed directly
_DECREASE_RTOL = 1e-10  # a log-likelihood drop beyond this (relative) is reported
_CENSUS_LL_TOL = 1e-4  # per observation: same optimum needs |delta loglik| <= this * n ...
_CENSUS_PARAM_TOL = 2e-2  # ... and parameters within this (standardised units) after matching


# ----------------------------------------------------------------------------- linear algebra
def _wls_solve(G: np.ndarray, rhs: np.ndarray, rcond: float = _RCOND) -> tuple[np.ndarray, bool]:
    """Solve the weighted normal equations ``G beta = rhs`` stably.

    ``G`` is first scaled to unit diagonal (Jacobi scaling), then factorised by Cholesky. When
    that fails or a pivot is below ``rcond`` (constant or collinear columns, or almost no
    weight), the fallback is the minimum-norm solution in the scaled coordinates (eigenvalues
    below ``rcond * max eigenvalue`` dropped), which still minimises the weighted residual sum
    of squares, so EM stays monotone. Columns with zero weighted norm get coefficient 0.

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


# ----------------------------------------------------------------------------- standardisation
@dataclass(frozen=True)
class _Scaling:
    """Affine standardisation of the data; EM runs on ``(y - y_mean) / y_scale`` against the
    kept columns of ``(X - x_mean) / x_scale``. Dropped columns (constant with an intercept, all
    zero without) get coefficient 0: the intercept absorbs a constant."""

    x_mean: np.ndarray  # (p,)
    x_scale: np.ndarray  # (p,)
    y_mean: float
    y_scale: float
    kept: np.ndarray  # (p,) bool
    fit_intercept: bool

    def to_std(self, intercept: np.ndarray, coef: np.ndarray, sigma: np.ndarray):
        """Original-unit parameters -> (B (K, d), sigma (K,)) in standardised units."""
        cs = coef * self.x_scale / self.y_scale  # (K, p)
        parts = []
        if self.fit_intercept:
            parts.append(((intercept - self.y_mean + coef @ self.x_mean) / self.y_scale)[:, None])
        parts.append(cs[:, self.kept])
        return np.concatenate(parts, axis=1), np.asarray(sigma, dtype=float) / self.y_scale

    def from_std(self, B: np.ndarray, sigma_std: np.ndarray):
        """Standardised (B, sigma) -> (intercept (K,), coef (K, p), sigma (K,))."""
        k = B.shape[0]
        coef = np.zeros((k, self.kept.shape[0]))
        fi = int(self.fit_intercept)
        coef[:, self.kept] = B[:, fi:] * self.y_scale / self.x_scale[self.kept]
        if self.fit_intercept:
            intercept = self.y_mean + self.y_scale * B[:, 0] - coef @ self.x_mean
        else:
            intercept = np.zeros(k)
        return intercept, coef, sigma_std * self.y_scale


def _standardise(X: np.ndarray, y: np.ndarray, fit_intercept: bool):
    """Return ``(Z, ys, scaling)``: the design matrix (intercept column first) in standard units."""
    n, p = X.shape
    if fit_intercept:
        kept = np.ptp(X, axis=0) > 0
        x_mean = X.mean(axis=0)
    else:
        kept = np.any(X != 0, axis=0)
        x_mean = np.zeros(p)
    fi = int(fit_intercept)
    Z = np.empty((n, fi + int(kept.sum())))
    if fi:
        Z[:, 0] = 1.0
    Zx = Z[:, fi:]
    Zx[...] = X if kept.all() else X[:, kept]
    Zx -= x_mean[kept]
    x_scale = np.ones(p)
    if Zx.shape[1]:
        rms = np.sqrt(np.einsum("ij,ij->j", Zx, Zx) / n)
        rms[~(np.isfinite(rms) & (rms > 0))] = 1.0
        x_scale[kept] = rms
        Zx /= rms
    y_mean = float(np.mean(y)) if fit_intercept else 0.0
    ys = y - y_mean
    top = float(np.max(np.abs(ys)))
    y_scale = top * float(np.sqrt(np.mean((ys / top) ** 2))) if top > 0 else 1.0
    ys /= y_scale
    return Z, ys, _Scaling(x_mean, x_scale, y_mean, y_scale, kept, bool(fit_intercept))


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


def _m_step_core(Z, y, resp, *, mode, sigma_known=None, min_weight=0.0, previous=None):
    """The M-step on a design matrix ``Z`` (intercept column included), written plainly.

    Returns ``(B (K, d), weights (K,), sigma (K,), singular list, emptied list)``.
    ``previous = (B, sigma)`` is kept for emptied components.
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
            G = np.zeros((d, d))
            rhs = np.zeros(d)
            for a in range(0, n, _DEFAULT_CHUNK):  # row blocks: O(block) extra memory
                Zb = Z[a : a + _DEFAULT_CHUNK]
                Zg = Zb * g[a : a + _DEFAULT_CHUNK, None]
                G += Zb.T @ Zg
                rhs += Zg.T @ y[a : a + _DEFAULT_CHUNK]
            beta, sing = _wls_solve(G, rhs)
            if sing:
                singular.append(j)
            B[j] = beta
        r = y - Z @ B[j]
        rss[j] = g @ (r * r)
    w = nk / nk.sum()
    w[emptied] = 0.0
    w /= w.sum()
    if mode == "known":
        s = np.broadcast_to(np.asarray(sigma_known, dtype=float), (k,)).copy()
    elif mode == "shared":
        s = np.full(k, np.sqrt(max(rss.sum() / nk.sum(), _SIGMA2_FLOOR)))
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.sqrt(np.maximum(rss / nk, _SIGMA2_FLOOR))
        if emptied:
            fallback = (
                np.asarray(previous[1], dtype=float)
                if previous is not None
                else np.full(k, np.sqrt(max(rss.sum() / nk.sum(), _SIGMA2_FLOOR)))
            )
            s[emptied] = fallback[emptied]
    return B, w, s, singular, emptied


def _singular_note(j: int) -> str:
    return (
        f"component {j}: the weighted least-squares problem was singular or ill-conditioned "
        "(collinear or constant predictors, or too little weight); the minimum-norm solution "
        "was used"
    )


def _emptied_note(j: int) -> str:
    return (
        f"component {j} emptied (its weight fell below min_weight); it is kept with weight 0 "
        "and its last coefficients. Consider fewer components"
    )


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
        see ``_wls_solve``) or a component is emptied.
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
    B, w, s, singular, emptied = _m_step_core(
        Z, y, resp, mode=mode, sigma_known=sigma_known, min_weight=min_weight, previous=prev
    )
    for j in singular:
        warnings.warn(_singular_note(j), NumericalWarning, stacklevel=2)
    for j in emptied:
        warnings.warn(_emptied_note(j), NumericalWarning, stacklevel=2)
    intercept = B[:, 0].copy() if fi else np.zeros(B.shape[0])
    coef = B[:, int(fi) :].copy()
    if mode == "shared" or (mode == "known" and np.ndim(sigma_known) == 0):
        return w, intercept, coef, float(s[0])
    return w, intercept, coef, s


# ----------------------------------------------------------------------------- fused pass
class _Pass:
    """One sweep over the rows in blocks: E-step at the current parameters (log-sum-exp),
    the log-likelihood, and the sufficient statistics of the M-step, with O(block) memory.

    Block arrays are component-major, shape (K, m), so that the log-sum-exp over components
    is K-1 contiguous elementwise operations. For block rows ``Z_c`` and residuals
    ``r_ki = y_i - z_i B_k`` it accumulates ``N_k = sum_i gamma_ki``, ``G_k = Z_c^T
    diag(gamma_k) Z_c`` (one stacked matmul for all K), ``H_k = (gamma_k * r_k) Z_c`` and
    ``S_k = sum_i gamma_ki r_ki^2``.
    """

    def __init__(self, Z: np.ndarray, y: np.ndarray, k: int, chunk: int):
        self.Z, self.y = Z, y
        self.y_scale = 1.0  # for messages in original units
        n, d = Z.shape
        self.k, self.d = k, d
        m = min(chunk, n)
        self.bounds = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
        self.R = np.empty((k, m))
        self.T = np.empty((k, m))
        self.GR = np.empty((k, m))
        self.W = np.empty((k, m, d))
        self.mx = np.empty(m)
        self.s = np.empty(m)

    def _estep(self, a, b, B, logc, inv_s):
        """Fill ``T`` with responsibilities and ``R`` with residuals; return the block loglik."""
        m = b - a
        Zc, yc = self.Z[a:b], self.y[a:b]
        R, T, mx, s = self.R[:, :m], self.T[:, :m], self.mx[:m], self.s[:m]
        np.matmul(B, Zc.T, out=R)
        np.subtract(yc, R, out=R)
        np.multiply(R, inv_s, out=T)
        np.square(T, out=T)
        T *= -0.5
        T += logc
        np.copyto(mx, T[0])
        for j in range(1, self.k):
            np.maximum(mx, T[j], out=mx)
        T -= mx
        np.exp(T, out=T)
        np.copyto(s, T[0])
        for j in range(1, self.k):
            s += T[j]
        T /= s
        np.log(s, out=s)
        return Zc, R, T, float(s.sum() + mx.sum())

    def run(self, B, w, sigma, *, stats=True, resp_out=None, B_eval=None):
        """Return ``(ll, N (K,), G (K, d, d), H (K, d), S (K,))``; zeros unless ``stats``.

        ``resp_out`` (n, K) receives the responsibilities. With ``B_eval``, ``S`` is instead
        ``sum_i gamma_ki (y_i - z_i B_eval_k)^2`` (a direct residual sum, used when the update
        formula would cancel).
        """
        k, d = self.k, self.d
        B = np.ascontiguousarray(B)
        with np.errstate(divide="ignore"):
            logc = (np.log(w) - np.log(sigma) - 0.5 * _lik.LOG_2PI)[:, None]
        inv_s = (1.0 / sigma)[:, None]
        ll = 0.0
        N = np.zeros(k)
        G = np.zeros((k, d, d))
        H = np.zeros((k, d))
        S = np.zeros(k)
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            for a, b in self.bounds:
                Zc, R, T, llc = self._estep(a, b, B, logc, inv_s)
                ll += llc
                if resp_out is not None:
                    resp_out[a:b] = T.T
                if B_eval is not None:
                    np.matmul(B_eval, Zc.T, out=R)
                    np.subtract(self.y[a:b], R, out=R)
                    np.square(R, out=R)
                    S += np.einsum("ki,ki->k", T, R)
                elif stats:
                    m = b - a
                    N += T.sum(axis=1)
                    GR = np.multiply(T, R, out=self.GR[:, :m])
                    S += np.einsum("ki,ki->k", GR, R)
                    H += GR @ Zc
                    W = np.multiply(T[:, :, None], Zc[None], out=self.W[:, :m])
                    G += Zc.T @ W
        if not math.isfinite(ll):
            ll = -math.inf
        return ll, N, G, H, S


def _m_from_stats(n, N, G, H, S, B, w, s, *, mode, min_weight):
    """The M-step from the sufficient statistics of :class:`_Pass` (standardised units).

    The new coefficients solve ``G_k beta = Z^T diag(gamma_k) y = H_k + G_k B_k``; the residual
    sum at the new coefficients is ``S_k - 2 delta^T H_k + delta^T G_k delta`` with
    ``delta = beta - B_k`` (small near convergence, so no cancellation there). Returns
    ``(B, w, rss, singular, emptied, cancel)``; ``cancel`` asks for a direct residual sum.
    """
    k = B.shape[0]
    B_new = B.copy()
    rss = S.copy()
    singular, emptied = [], []
    cancel = False
    for j in range(k):
        if w[j] == 0 or not N[j] > min_weight * n:
            emptied.append(j)
            continue
        beta, sing = _wls_solve(G[j], H[j] + G[j] @ B[j])
        if sing:
            singular.append(j)
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


def _sigma_update(mode, rss, N, n, s, emptied):
    if mode == "known":
        return s
    if mode == "shared":
        return np.full_like(s, np.sqrt(max(rss.sum() / n, _SIGMA2_FLOOR)))
    s_new = s.copy()
    for j in range(s.shape[0]):
        if j not in emptied:
            s_new[j] = np.sqrt(max(rss[j] / N[j], _SIGMA2_FLOOR))
    return s_new


def _run_start(
    ps: _Pass,
    B: np.ndarray,
    w: np.ndarray,
    s: np.ndarray,
    *,
    mode: str,
    tol: float,
    max_iter: int,
    min_weight: float,
    min_sigma_ratio: float,
    sigma_floor: float = 0.0,
) -> dict[str, Any]:
    """EM iterations from one start (standardised units): pass -> check -> M-step.

    Convergence: the log-likelihood gain per observation is below ``tol``. Per-component sigma:
    a component whose sd falls below ``min_sigma_ratio`` times the largest is *collapsing*; the
    start stops after evaluating those parameters and is flagged degenerate (its likelihood is
    unbounded there). A start that ends with a component of fewer than ``d + 1`` effective
    observations is flagged degenerate too (not stopped). Estimated
    sigma (shared or per component) below ``sigma_floor`` (the rounding level of y) means the
    lines fit exactly to rounding error: also degenerate, also stopped.
    """
    n = ps.Z.shape[0]
    d = ps.d
    trace: list[float] = []
    notes: dict[str, None] = {}
    degenerate = converged = stop_next = False
    prev = None

    def exact_fit(s):
        if mode == "known" or not np.any(s < sigma_floor):
            return False
        notes[
            f"estimated sigma {float(np.min(s)) * ps.y_scale:.3g} is at the rounding level of y: "
            "the lines fit the data exactly (the likelihood is unbounded there); start stopped "
            "and flagged degenerate"
        ] = None
        return True

    degenerate = stop_next = exact_fit(s)
    for it in range(max_iter + 1):
        ll, N, G, H, S = ps.run(B, w, s)
        if ll == -math.inf:
            notes[
                "the log-likelihood became -inf (a component collapsed); stopped at the "
                "previous parameters"
            ] = None
            degenerate = True
            if prev is not None:
                B, w, s = prev
            if not trace:
                trace.append(ll)
            break
        trace.append(ll)
        if stop_next:
            break
        if it > 0:
            gain = ll - trace[-2]
            if gain < -_DECREASE_RTOL * (abs(ll) + n):
                notes[
                    f"the log-likelihood decreased by {-gain:.3g} at iteration {it} (more than "
                    "rounding error; a singular least-squares fallback can cause this)"
                ] = None
            if gain < tol * n:
                converged = True
                break
        if it == max_iter:
            break
        prev = (B, w, s)
        B, w, rss, singular, emptied, cancel = _m_from_stats(
            n, N, G, H, S, B, w, s, mode=mode, min_weight=min_weight
        )
        if cancel and mode != "known":
            _, _, _, _, rss_direct = ps.run(*prev, stats=False, B_eval=B)
            rss = np.where(np.isin(np.arange(len(rss)), emptied), rss, rss_direct)
        s = _sigma_update(mode, rss, N, n, s, emptied)
        for j in singular:
            notes[_singular_note(j)] = None
        for j in emptied:
            notes[_emptied_note(j)] = None
            degenerate = True
        if mode == "component":
            live = np.setdiff1d(np.arange(w.shape[0]), emptied)
            smax = s[live].max() if live.size else 0.0
            for j in live:
                if s[j] < min_sigma_ratio * smax:
                    notes[
                        f"component {j} collapsed (sd ratio {s[j] / smax:.3g} < "
                        f"min_sigma_ratio={min_sigma_ratio:g}, effective count {N[j]:.3g}): the "
                        "likelihood is unbounded there; start stopped and flagged degenerate"
                    ] = None
                    degenerate = stop_next = True
            if emptied:
                stop_next = True
        if exact_fit(s):
            degenerate = stop_next = True
    if mode == "component":
        for j in np.flatnonzero((w > 0) & (w * n < d + 1)):
            notes[
                f"component {j} is supported by {w[j] * n:.3g} effective observations, fewer "
                f"than its {d} regression coefficients + 1: its sd is not estimable (flagged "
                "degenerate)"
            ] = None
            degenerate = True
    return {
        "B": B,
        "w": w,
        "s": s,
        "ll": trace[-1],
        "trace": np.asarray(trace),
        "n_iter": len(trace) - 1,
        "converged": converged and not degenerate if mode == "component" else converged,
        "degenerate": degenerate,
        "notes": tuple(notes),
    }


# ----------------------------------------------------------------------------- initialisation
def _init_random(Z, ys, k, rng, mode, s_known):
    resp = rng.dirichlet(np.ones(k), size=Z.shape[0])
    B, w, s, _, _ = _m_step_core(Z, ys, resp, mode=mode, sigma_known=s_known, min_weight=0.0)
    return B, w, s


def _init_binned(Z, ys, k, rng, mode, s_known):
    """Sort by y, cut into K contiguous groups, fit each (mixtools' ``regmix.init``). Equal
    groups when ``rng`` is None, else group sizes drawn from Dirichlet(2, ..., 2)."""
    n, d = Z.shape
    order = np.argsort(ys, kind="stable")
    if rng is None:
        cuts = np.round(np.linspace(0, n, k + 1)).astype(int)
    else:
        m0 = min(d + 1, n // k)
        sizes = m0 + np.floor(rng.dirichlet(np.full(k, 2.0)) * (n - k * m0)).astype(int)
        sizes[-1] = n - sizes[:-1].sum()
        cuts = np.concatenate([[0], np.cumsum(sizes)])
    resp = np.zeros((n, k))
    for j in range(k):
        resp[order[cuts[j] : cuts[j + 1]], j] = 1.0
    B, w, s, _, _ = _m_step_core(Z, ys, resp, mode=mode, sigma_known=s_known, min_weight=0.0)
    return B, w, s


def _given_params(init, k: int, p: int, fit_intercept: bool):
    """Parse explicit starting parameters (dict or result object) in original units."""
    if isinstance(init, Mapping):
        get = init.get
        unknown = set(init) - {"weights", "intercept", "coef", "sigma"}
        if unknown:
            raise ValueError(
                f"init has unknown keys {sorted(unknown)}; use 'weights', 'intercept', 'coef' "
                "and optionally 'sigma'."
            )
    else:

        def get(name, default=None):
            return getattr(init, name, default)

    try:
        w = np.asarray(get("weights"), dtype=float)
        coef = np.asarray(get("coef"), dtype=float)
        b_raw = get("intercept")
        intercept = np.zeros(k) if b_raw is None else np.asarray(b_raw, dtype=float)
        s_raw = get("sigma")
        sigma = None if s_raw is None else np.asarray(s_raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"init parameters must be numeric arrays ({exc}).") from exc
    if coef.ndim == 1 and p == 1:
        coef = coef[:, None]
    if w.shape != (k,) or coef.shape != (k, p) or intercept.shape != (k,):
        raise ValueError(
            f"init parameters have shapes weights {w.shape}, intercept {intercept.shape}, coef "
            f"{coef.shape}; expected ({k},), ({k},) and ({k}, {p}) for n_components={k} and "
            f"{p} predictors."
        )
    if sigma is not None and sigma.shape not in ((), (k,)):
        raise ValueError(f"init sigma has shape {sigma.shape}; expected a number or ({k},).")
    arrays = [w, coef, intercept] + ([sigma] if sigma is not None else [])
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError("init parameters contain NaN or infinite values; pass finite numbers.")
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"init weights must be non-negative with a positive sum; got {w}.")
    if sigma is not None and np.any(sigma <= 0):
        raise ValueError(f"init sigma must be positive; got {sigma}.")
    if not fit_intercept and np.any(intercept != 0):
        raise ValueError(
            f"init has intercepts {intercept} but fit_intercept=False; drop them or set "
            "fit_intercept=True."
        )
    return w / w.sum(), intercept, coef, sigma


# ----------------------------------------------------------------------------- census
def _component_vectors(B, w, s, mode):
    cols = [w[:, None], B]
    if mode == "component":
        cols.append(s[:, None])
    elif mode == "shared":
        cols.append(np.repeat(s[:1, None], len(w), axis=0))
    return np.concatenate(cols, axis=1)


def _same_optimum(va, vb, lla, llb, n) -> bool:
    if abs(lla - llb) > _CENSUS_LL_TOL * n or not (math.isfinite(lla) and math.isfinite(llb)):
        return lla == llb
    cost = np.max(np.abs(va[:, None, :] - vb[None, :, :]), axis=2)
    rows, cols = linear_sum_assignment(cost)
    return bool(np.max(cost[rows, cols]) <= _CENSUS_PARAM_TOL)


def _census(runs: list[dict[str, Any]], n: int, mode: str) -> list[list[int]]:
    """Group start indices into distinct optima, best first (non-degenerate before degenerate,
    then by log-likelihood); each group lists its starts best first."""
    order = sorted(range(len(runs)), key=lambda i: (runs[i]["degenerate"], -runs[i]["ll"], i))
    groups: list[list[int]] = []
    for i in order:
        ri = runs[i]
        vi = _component_vectors(ri["B"], ri["w"], ri["s"], mode)
        for g in groups:
            r0 = runs[g[0]]
            if r0["degenerate"] == ri["degenerate"] and _same_optimum(
                _component_vectors(r0["B"], r0["w"], r0["s"], mode), vi, r0["ll"], ri["ll"], n
            ):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


# ----------------------------------------------------------------------------- fit_em
def fit_em(
    X: Any,
    y: Any,
    n_components: int,
    *,
    sigma: float | str | np.ndarray,
    fit_intercept: bool = True,
    n_init: int = 10,
    init: str | Mapping[str, Any] | EMResult | Optimum | StartResult = "auto",
    tol: float = 1e-8,
    max_iter: int = 1000,
    random_state: int | np.random.Generator | None = None,
    min_weight: float = 1e-8,
    min_sigma_ratio: float = 1e-4,
    chunk_size: int = _DEFAULT_CHUNK,
    compute_se: bool = True,
) -> EMResult:
    """Fit a mixture of linear regressions by EM from several starts.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Predictors (a pandas DataFrame keeps its column names as ``feature_names``).
    y : array-like of shape (n_samples,)
        Response (a named pandas Series gives ``target_name``).
    n_components : int
        K >= 1; at most ``n_samples / (n_features + 1)``.
    sigma : float, ndarray of shape (K,), "shared" or "component"
        Required. A positive number (or K numbers) is the known, fixed noise sd; ``"shared"``
        estimates one sd by maximum likelihood; ``"component"`` one per component (the
        likelihood is then unbounded; collapsing starts are stopped and flagged degenerate).
    fit_intercept : bool, default True
    n_init : int, default 10
        Number of EM starts.
    init : {"auto", "random", "binned"}, dict or EMResult/Optimum/StartResult, default "auto"
        ``"random"``: responsibilities drawn from a flat Dirichlet, then an M-step.
        ``"binned"``: sort by y into K contiguous groups and fit each (as mixtools'
        ``regmix.init``); start 0 uses equal groups, later starts random group sizes.
        ``"auto"``: start 0 binned (equal groups), the others random. Explicit parameters
        (``weights``, ``intercept``, ``coef`` and optionally ``sigma``, which is ignored when
        sigma is known; a fitted result works) are start 0; the other ``n_init - 1`` starts
        are random.
    tol : float, default 1e-8
        Convergence when the log-likelihood gain of an iteration, per observation, is below
        ``tol`` (an absolute criterion on the mean log-likelihood, so it does not depend on
        the units of y).
    max_iter : int, default 1000
        Iterations per start.
    random_state : int, Generator or None
        Seeds one generator per start (``Generator.spawn``), so results are reproducible.
    min_weight : float, default 1e-8
        A component whose weight falls to ``min_weight`` or below is emptied: kept with weight
        0 and its last coefficients (and sd), flagged degenerate, with a warning.
    min_sigma_ratio : float, default 1e-4
        Per-component sigma: a component with ``sigma_k < min_sigma_ratio * max_j sigma_j`` is
        collapsing (the start is stopped, degenerate); one that ends with fewer than
        ``n_features + 2`` effective observations is flagged degenerate.
    chunk_size : int, default 16384
        Rows per block of the fused pass (memory O(chunk_size)).
    compute_se : bool, default True
        Compute Louis (1982) standard errors at the estimate. On very large data this costs
        about as much as ten EM iterations; with False, ``covariance`` is None and every
        standard error is NaN (same keys and ``se_names``).

    Returns
    -------
    EMResult
        The best non-degenerate start (the best degenerate one, with a warning, if all are),
        with ``starts`` (every start) and ``optima`` (distinct optima: same log-likelihood
        within ``1e-4 * n`` and parameters within 0.02 in standardised units after optimal
        relabelling; non-degenerate first, each by decreasing log-likelihood; ``optima[0]``
        is the returned one) and observed-information standard errors
        (:func:`mlrbayes.uncertainty.standard_errors`; a constant predictor's coefficient is
        fixed at 0, has SE NaN and is left out of ``covariance``/``se_names``).

        A start is *degenerate* when a component emptied (weight <= ``min_weight``), a
        per-component sd collapsed (see ``min_sigma_ratio``), or an estimated sd fell to the
        rounding level of y (``16 * eps * max|y|``: the lines fit the data exactly). The
        likelihood is unbounded or meaningless there, so such starts are stopped, flagged,
        kept in the census, and not chosen while a non-degenerate start exists.

    Warns
    -----
    ConvergenceWarning
        The returned start stopped at ``max_iter``.
    NumericalWarning
        Constant or all-zero predictors (coefficient set to 0), singular weighted least squares
        (minimum-norm solution), emptied components, all starts degenerate.

    Notes
    -----
    Data are standardised internally (y and the columns of X centred and scaled), so very
    large or very small scales give finite log-likelihoods; estimates are transformed back.
    Each iteration is one pass over the rows in blocks of ``chunk_size``: E-step by
    log-sum-exp and accumulation of ``sum gamma``, ``Z^T diag(gamma_k) Z``, ``Z^T (gamma_k r_k)``
    and ``sum gamma_k r_k^2``; the M-step solves each component's weighted normal equations by
    Cholesky of the unit-diagonal Gram matrix (minimum-norm fallback when singular).

    Examples
    --------
    >>> from mlrbayes import simulate
    >>> X, y, _ = simulate(300, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=1)
    >>> res = fit_em(X, y, 2, sigma="shared", random_state=0)
    >>> np.sort(res.coef[:, 0]).round(1).tolist(), round(res.sigma, 1), res.converged
    ([-1.0, 1.0], 0.5, True)
    >>> [(round(o.loglik, 1), o.count) for o in res.optima]  # census: all 10 starts agree
    [(-406.3, 10)]
    """
    Xa, ya, feature_names, target_name = check_X_y(X, y)
    n, p = Xa.shape
    if not isinstance(fit_intercept, bool | np.bool_):
        raise TypeError(f"fit_intercept must be True or False; got {fit_intercept!r}.")
    fit_intercept = bool(fit_intercept)
    sigma_in = check_sigma(sigma, None)
    mode = sigma_mode(sigma_in)
    d_full = p + int(fit_intercept)
    k = check_n_components(n_components, n, d_full + (1 if mode == "component" else 0))
    sigma_in = check_sigma(sigma, k)
    n_init = check_positive_int(n_init, "n_init")
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = check_positive_float(tol, "tol")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    min_weight = float(min_weight)
    if not 0.0 <= min_weight < 1.0:
        raise ValueError(f"min_weight must be in [0, 1); got {min_weight!r}.")
    min_sigma_ratio = float(min_sigma_ratio)
    if not 0.0 <= min_sigma_ratio < 1.0:
        raise ValueError(f"min_sigma_ratio must be in [0, 1); got {min_sigma_ratio!r}.")
    given = None
    if isinstance(init, str):
        init = check_choice(init, "init", _INIT_CHOICES)
    elif isinstance(init, Mapping | EMResult | Optimum | StartResult):
        given = _given_params(init, k, p, fit_intercept)
    else:
        raise TypeError(
            f"init must be one of {list(_INIT_CHOICES)}, a dict of starting parameters or a "
            f"fitted result; got {type(init).__name__}."
        )
    rng = check_random_state(random_state)
    rngs = rng.spawn(n_init)

    Z, ys, scaling = _standardise(Xa, ya, fit_intercept)
    dropped = [feature_names[j] for j in np.flatnonzero(~scaling.kept)]
    if dropped:
        what = "constant" if fit_intercept else "all zero"
        warnings.warn(
            f"predictor(s) {dropped} are {what}; their coefficients are set to 0"
            + (" (the intercept absorbs a constant)" if fit_intercept else "")
            + ". Drop them to silence this warning.",
            NumericalWarning,
            stacklevel=2,
        )
    if Z.shape[1] == 0:
        raise ValueError(
            "no usable predictor: every column of X is zero and fit_intercept=False; pass "
            "non-zero predictors or set fit_intercept=True."
        )
    s_known = (
        np.broadcast_to(np.asarray(sigma_in, dtype=float), (k,)) / scaling.y_scale
        if mode == "known"
        else None
    )

    ps = _Pass(Z, ys, k, chunk_size)
    ps.y_scale = scaling.y_scale
    # sigma below a few ulps of the largest |y| is rounding error, not noise
    sigma_floor = 16.0 * np.finfo(float).eps * float(np.max(np.abs(ya))) / scaling.y_scale
    runs: list[dict[str, Any]] = []
    for i in range(n_init):
        if given is not None and i == 0:
            gw, gb, gc, gs = given
            B0, s0 = scaling.to_std(gb, gc, np.ones(k) if gs is None else gs)
            if gs is None:
                s0 = np.ones(k)  # standardised sd of y: a neutral start
            if mode == "known":
                s0 = s_known.copy()
            elif mode == "shared":
                s0 = np.full(k, float(np.mean(s0)))
            start = (B0, gw.copy(), np.broadcast_to(s0, (k,)).astype(float))
            kind = "given"
        elif (init == "binned" or (init == "auto" and given is None)) and (
            i == 0 or init == "binned"
        ):
            start = _init_binned(Z, ys, k, None if i == 0 else rngs[i], mode, s_known)
            kind = "binned"
        else:
            start = _init_random(Z, ys, k, rngs[i], mode, s_known)
            kind = "random"
        run = _run_start(
            ps,
            *start,
            mode=mode,
            tol=tol,
            max_iter=max_iter,
            min_weight=min_weight,
            min_sigma_ratio=min_sigma_ratio,
            sigma_floor=sigma_floor,
        )
        run["init"] = kind
        runs.append(run)

    groups = _census(runs, n, mode)
    log_sy = n * math.log(scaling.y_scale)

    def orig(run):
        b, c, s = scaling.from_std(run["B"], run["s"])
        if mode == "known":
            s_out: float | np.ndarray = (
                float(sigma_in) if np.ndim(sigma_in) == 0 else np.array(sigma_in, dtype=float)
            )
        elif mode == "shared":
            s_out = float(s[0])
        else:
            s_out = s
        return run["w"].copy(), b, c, s_out

    optimum_of = {i: g_idx for g_idx, g in enumerate(groups) for i in g}
    starts = []
    for i, run in enumerate(runs):
        w, b, c, s_out = orig(run)
        starts.append(
            StartResult(
                start=i,
                init=run["init"],
                loglik=float(run["ll"] - log_sy),
                weights=w,
                intercept=b,
                coef=c,
                sigma=s_out,
                n_iter=int(run["n_iter"]),
                converged=bool(run["converged"]),
                degenerate=bool(run["degenerate"]),
                optimum=optimum_of[i],
                loglik_trace=run["trace"] - log_sy,
                notes=run["notes"],
            )
        )
    optima = tuple(
        Optimum(
            loglik=starts[g[0]].loglik,
            weights=starts[g[0]].weights,
            intercept=starts[g[0]].intercept,
            coef=starts[g[0]].coef,
            sigma=starts[g[0]].sigma,
            count=len(g),
            starts=tuple(sorted(g)),
            degenerate=starts[g[0]].degenerate,
        )
        for g in groups
    )
    best = runs[groups[0][0]]
    bs = starts[groups[0][0]]

    for note in best["notes"]:
        warnings.warn(note + ".", NumericalWarning, stacklevel=2)
    if best["degenerate"]:
        warnings.warn(
            f"all {n_init} EM starts ended degenerate (a component emptied or collapsed); the "
            "best of them is returned. Try fewer components, more starts, or a known/shared "
            "sigma.",
            NumericalWarning,
            stacklevel=2,
        )
    elif not best["converged"]:
        tr = best["trace"]
        gain = (tr[-1] - tr[-2]) / n if tr.shape[0] > 1 else float("nan")
        warnings.warn(
            f"EM did not converge in max_iter={max_iter} iterations (last log-likelihood gain "
            f"per observation {gain:.3g} > tol={tol:g}); increase max_iter or loosen tol.",
            ConvergenceWarning,
            stacklevel=2,
        )

    resp = np.empty((n, k))
    ps.run(best["B"], best["w"], best["s"], stats=False, resp_out=resp)
    del ps, Z, ys

    if compute_se:
        from .uncertainty import standard_errors

        kept = scaling.kept
        covariance, se_names, se = standard_errors(
            Xa if kept.all() else Xa[:, kept],
            ya,
            bs.weights,
            bs.intercept,
            bs.coef[:, kept],
            bs.sigma,
            fit_intercept=fit_intercept,
            sigma_setting=mode,
            feature_names=[f for f, keep in zip(feature_names, kept, strict=True) if keep],
        )
        if not kept.all():  # dropped (constant) predictors: coefficient fixed at 0, no SE
            se = dict(se)
            full = np.full((k, p), np.nan)
            full[:, kept] = se["coef"]
            se["coef"] = full
    else:
        covariance = None
        se_names, se = _nan_standard_errors(k, feature_names, fit_intercept, mode)
    return EMResult(
        weights=bs.weights,
        intercept=bs.intercept,
        coef=bs.coef,
        sigma=bs.sigma,
        sigma_setting=mode,
        loglik=bs.loglik,
        loglik_trace=bs.loglik_trace,
        n_iter=bs.n_iter,
        converged=bs.converged,
        degenerate=bs.degenerate,
        responsibilities=resp,
        starts=tuple(starts),
        optima=optima,
        fit_intercept=fit_intercept,
        feature_names=list(feature_names),
        target_name=target_name,
        n_samples=n,
        covariance=covariance,
        se_names=list(se_names),
        standard_errors=se,
        notes=best["notes"],
    )


def _nan_standard_errors(k, feature_names, fit_intercept, mode):
    """``(se_names, se_dict)`` with NaN standard errors, for ``compute_se=False``."""
    from .uncertainty import free_param_names

    names = free_param_names(k, feature_names, fit_intercept=fit_intercept, sigma_setting=mode)
    se: dict[str, Any] = {
        "weights": np.full(k, np.nan),
        "coef": np.full((k, len(feature_names)), np.nan),
    }
    if fit_intercept:
        se["intercept"] = np.full(k, np.nan)
    if mode == "shared":
        se["sigma"] = float("nan")
    elif mode == "component":
        se["sigma"] = np.full(k, np.nan)
    return names, se
