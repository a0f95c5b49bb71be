r"""The pass over the data: E-step and M-step sufficient statistics in one sweep.

The EM loop (:mod:`mlrbayes.em.loop`) sees the data only through an *engine* with four
methods, so it does not care where the rows live:

``accumulate(B, weights, sigma) -> SufficientStats``
    One pass at the parameters of a start: the marginal log-likelihood and, per component
    :math:`k`, :math:`N_k = \sum_i \gamma_{ik}`, :math:`G_k = Z^\top \Gamma_k Z`,
    :math:`H_k = Z^\top \Gamma_k r_k` and :math:`S_k = r_k^\top \Gamma_k r_k` with residuals
    :math:`r_{ik} = y_i - z_i^\top B_k` at the current coefficients
    (so :math:`Z^\top \Gamma_k y = H_k + G_k B_k`).
``residual_sums(B, weights, sigma, B_eval) -> ndarray (K,)``
    :math:`\sum_i \gamma_{ik} (y_i - z_i^\top B^{eval}_k)^2` with the responsibilities at
    ``(B, weights, sigma)``: a direct residual sum for when the update formula cancels.
``responsibilities(B, weights, sigma) -> ndarray (n, K)``
``pointwise_loglik(B, weights, sigma) -> ndarray (n,)``
    The log mixture density of every row (the census compares fitted densities with it, the
    K-1 split start finds the worst-fitted rows).

:class:`InMemoryEngine` is the one engine today (NumPy arrays in memory, row blocks of a fixed
size, O(block) working memory); an out-of-core engine would implement the same four methods.
All quantities are in the standardised units of :mod:`mlrbayes.em.scaling`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import likelihood as _lik
from .fused import FUSED_MIN_ROWS, fused_accumulate, fused_available
from .kernels import ROW_BLOCK

__all__ = ["InMemoryEngine", "SufficientStats"]


def _quiet():
    return np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore")


@dataclass(frozen=True, eq=False)
class SufficientStats:
    """What one pass returns (standardised units).

    Attributes
    ----------
    loglik : float
        Marginal log-likelihood at the parameters of the pass (``-inf`` if not finite).
    N : ndarray of shape (K,)
    G : ndarray of shape (K, d, d)
    H : ndarray of shape (K, d)
    S : ndarray of shape (K,)
    n_samples : int
    """

    loglik: float
    N: np.ndarray
    G: np.ndarray
    H: np.ndarray
    S: np.ndarray
    n_samples: int


class InMemoryEngine:
    """Passes over in-memory arrays in row blocks, with preallocated block buffers.

    Block arrays are component-major, shape (K, m), so that the log-sum-exp over components
    is K-1 contiguous elementwise operations; ``G`` for all K is one stacked matmul.

    Parameters
    ----------
    Z : ndarray of shape (n, d)
        Standardised design matrix (intercept column first when fitted).
    y : ndarray of shape (n,)
        Standardised response.
    n_components : int
    chunk : int
        Rows per block.
    compiled : bool or None
        Whether :meth:`accumulate` uses the compiled sweep of :mod:`mlrbayes.em.fused`;
        ``None`` (default) uses it from ``FUSED_MIN_ROWS`` rows on when numba is available.
        ``False`` keeps the NumPy reference path.
    """

    def __init__(
        self,
        Z: np.ndarray,
        y: np.ndarray,
        n_components: int,
        chunk: int = ROW_BLOCK,
        compiled: bool | None = None,
    ):
        self.Z, self.y, self.chunk = Z, y, chunk
        if compiled is None:
            compiled = Z.shape[0] >= FUSED_MIN_ROWS and fused_available()
        self.compiled = bool(compiled)
        n, d = Z.shape
        self.n_samples, self.n_components, self.n_coef = n, n_components, d
        m = min(chunk, n)
        self.bounds = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
        self.R = np.empty((n_components, m))
        self.T = np.empty((n_components, m))
        self.GR = np.empty((n_components, m))
        self.W = np.empty((n_components, m, d))
        self.mx = np.empty(m)
        self.s = np.empty(m)

    # ------------------------------------------------------------------ the block E-step
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
        for j in range(1, self.n_components):
            np.maximum(mx, T[j], out=mx)
        T -= mx
        np.exp(T, out=T)
        np.copyto(s, T[0])
        for j in range(1, self.n_components):
            s += T[j]
        T /= s
        np.log(s, out=s)
        return Zc, R, T, float(s.sum() + mx.sum())

    def _blocks(self, B, w, sigma):
        """Yield ``(a, b, Zc, R, T, block loglik)`` for every row block (callers silence
        floating-point warnings: far points underflow, a collapsed sd overflows)."""
        B = np.ascontiguousarray(B)
        with np.errstate(divide="ignore"):
            logc = (np.log(w) - np.log(sigma) - 0.5 * _lik.LOG_2PI)[:, None]
        inv_s = (1.0 / sigma)[:, None]
        for a, b in self.bounds:
            yield (a, b, *self._estep(a, b, B, logc, inv_s))

    # ------------------------------------------------------------------ the interface
    def accumulate(self, B: np.ndarray, w: np.ndarray, sigma: np.ndarray) -> SufficientStats:
        """One pass: log-likelihood and M-step sufficient statistics at ``(B, w, sigma)``."""
        if self.compiled:
            with _quiet():
                ll, N, G, H, S = fused_accumulate(self.Z, self.y, B, w, sigma)
            return SufficientStats(ll, N, G, H, S, self.n_samples)
        return self.accumulate_numpy(B, w, sigma)

    def accumulate_numpy(self, B: np.ndarray, w: np.ndarray, sigma: np.ndarray) -> SufficientStats:
        """:meth:`accumulate` in NumPy over row blocks (the reference path)."""
        k, d = self.n_components, self.n_coef
        ll = 0.0
        N, G, H, S = np.zeros(k), np.zeros((k, d, d)), np.zeros((k, d)), np.zeros(k)
        with _quiet():
            for a, b, Zc, R, T, llc in self._blocks(B, w, sigma):
                ll += llc
                N += T.sum(axis=1)
                GR = np.multiply(T, R, out=self.GR[:, : b - a])
                S += np.einsum("ki,ki->k", GR, R)
                H += GR @ Zc
                W = np.multiply(T[:, :, None], Zc[None], out=self.W[:, : b - a])
                G += Zc.T @ W
        if not math.isfinite(ll):
            ll = -math.inf
        return SufficientStats(ll, N, G, H, S, self.n_samples)

    def residual_sums(
        self, B: np.ndarray, w: np.ndarray, sigma: np.ndarray, B_eval: np.ndarray
    ) -> np.ndarray:
        """``sum_i gamma_ik (y_i - z_i B_eval_k)^2``, responsibilities at ``(B, w, sigma)``."""
        S = np.zeros(self.n_components)
        with _quiet():
            for a, b, Zc, R, T, _ in self._blocks(B, w, sigma):
                np.matmul(B_eval, Zc.T, out=R)
                np.subtract(self.y[a:b], R, out=R)
                np.square(R, out=R)
                S += np.einsum("ki,ki->k", T, R)
        return S

    def pointwise_loglik(self, B: np.ndarray, w: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """Log mixture density of every row at ``(B, w, sigma)``, shape (n,)."""
        out = np.empty(self.n_samples)
        with _quiet():
            for a, b, _, _, _, _ in self._blocks(B, w, sigma):
                out[a:b] = self.s[: b - a] + self.mx[: b - a]
        return out

    def responsibilities(self, B: np.ndarray, w: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """Membership probabilities at ``(B, w, sigma)``, shape (n, K)."""
        resp = np.empty((self.n_samples, self.n_components))
        with _quiet():
            for a, b, _, _, T, _ in self._blocks(B, w, sigma):
                resp[a:b] = T.T
        return resp
