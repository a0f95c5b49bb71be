"""One EM pass as a single compiled sweep over the rows (numba), for large data.

:class:`mlrbayes.em.engine.InMemoryEngine` computes a pass in NumPy over row blocks: per block
it writes the residuals, the responsibilities and the responsibility-weighted design to buffers
and hands them to BLAS. Each of those arrays is written and read again, so the pass is bound by
memory traffic, not arithmetic. The kernel here reads each row once and keeps everything else
in registers: for row ``i`` it forms the K residuals ``r_ik = y_i - z_i^T B_k``, the
log-sum-exp of ``log c_k - r_ik^2 / (2 s_k^2)``, the responsibilities, and adds ``gamma_ik``,
``gamma_ik r_ik z_i``, ``gamma_ik r_ik^2`` and the upper triangle of ``gamma_ik z_i z_i^T`` to
per-chunk accumulators. Chunks are fixed (their number does not depend on the thread count),
run in parallel with ``prange``, and are summed in chunk order, so the result is the same on
any number of threads.

The floating-point operations are the NumPy path's, in another summation order: the two agree
to rounding (a test checks 1e-12 relative), not bit for bit. numba is imported on the first
call only, so ``import mlrbayes`` stays light; if numba is missing the engine keeps the NumPy
path.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

__all__ = ["FUSED_MIN_ROWS", "exp_nonpositive", "fused_accumulate", "fused_available"]

#: Below this many rows the NumPy path is used: the first compilation (about 10 s, once per
#: machine: numba caches the machine code) and loading it from the cache (about 1 s per
#: process) cost more than the kernel saves on small data.
FUSED_MIN_ROWS = 200_000

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * _LN2_HI is exact for |k| < 2^20
_LN2_LO = 1.90821492927058770002e-10
# 1/j! for the Taylor polynomial of exp (numba freezes module floats as constants)
_T4, _T5, _T6, _T7, _T8, _T9, _T10, _T11, _T12, _T13 = (
    1.0 / math.factorial(j) for j in range(4, 14)
)

#: Rows per chunk of the compiled sweep (the unit of parallel work and of summation order).
CHUNK_ROWS = 8192


@cache
def _kernel():
    import numba

    # Reductions over rows may be reassociated (so LLVM vectorises them); nothing else is
    # relaxed: no assumption that values are finite (an emptied component has log c = -inf).
    fm = {"reassoc", "contract"}

    @numba.njit(cache=True, fastmath={"contract"}, inline="always")
    def exp_nonpositive(x):  # pragma: no cover - compiled by numba
        # exp(x) for x <= 0 in a form LLVM vectorises (libm's exp is a scalar call that
        # dominated the sweep): x = k ln2 + r with |r| <= ln2/2 (ln2 in two parts, Cody &
        # Waite 1980), exp(r) by its Taylor polynomial to degree 13 (truncation < 1e-17), and
        # 2^k built in the exponent bits. Within 1 ulp of libm on [-700, 0] (a test checks
        # 2.2e-16 relative); below -700 (exp < 1e-304, far below anything a responsibility
        # can resolve next to 1) it returns 0, as it does for -inf.
        kf = math.floor(x * _LOG2E + 0.5)
        r = x - kf * _LN2_HI - kf * _LN2_LO
        p = _T13
        p = p * r + _T12
        p = p * r + _T11
        p = p * r + _T10
        p = p * r + _T9
        p = p * r + _T8
        p = p * r + _T7
        p = p * r + _T6
        p = p * r + _T5
        p = p * r + _T4
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        ki = np.int64(kf) if kf > -1022.0 else np.int64(-1022)
        scale = np.int64((ki + 1023) << 52).view(np.float64)
        return p * scale if x > -700.0 else 0.0

    @numba.njit(cache=True, nogil=True, fastmath=fm, error_model="numpy")
    def block(Z, y, a, b, B, logc, inv_s, Zt, R, T, mx, s, G, H, N, S):  # pragma: no cover
        d = Z.shape[1]
        k = B.shape[0]
        m = b - a
        for i in range(m):  # transpose the block: rows become the contiguous axis
            for q in range(d):
                Zt[q, i] = Z[a + i, q]
        for j in range(k):
            Rj, Tj = R[j], T[j]
            for i in range(m):
                Rj[i] = y[a + i]
            for q in range(d):
                bq = B[j, q]
                Zq = Zt[q]
                for i in range(m):
                    Rj[i] -= bq * Zq[i]
            lj, sj = logc[j], inv_s[j]
            for i in range(m):
                v = Rj[i] * sj
                Tj[i] = lj - 0.5 * v * v
        for i in range(m):
            mx[i] = T[0, i]
        for j in range(1, k):
            for i in range(m):
                if T[j, i] > mx[i]:
                    mx[i] = T[j, i]
        for i in range(m):
            s[i] = 0.0
        for j in range(k):
            for i in range(m):
                T[j, i] = exp_nonpositive(T[j, i] - mx[i])
                s[i] += T[j, i]
        ll = 0.0
        for i in range(m):
            ll += math.log(s[i]) + mx[i]
            s[i] = 1.0 / s[i]
        for j in range(k):
            Tj, Rj = T[j], R[j]
            nj = 0.0
            sj = 0.0
            for i in range(m):
                g = Tj[i] * s[i]
                r = Rj[i]
                Tj[i] = g
                nj += g
                gr = g * r
                sj += gr * r
                Rj[i] = gr  # R now holds gamma * r for H
            N[j] += nj
            S[j] += sj
            for q in range(d):
                Zq = Zt[q]
                h = 0.0
                for i in range(m):
                    h += Rj[i] * Zq[i]
                H[j, q] += h
                for u in range(q, d):
                    Zu = Zt[u]
                    acc = 0.0
                    for i in range(m):
                        acc += Tj[i] * Zq[i] * Zu[i]
                    G[j, q, u] += acc
        return ll

    @numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")
    def sweep(Z, y, B, logc, inv_s, chunk):  # pragma: no cover - compiled by numba
        n, d = Z.shape
        k = B.shape[0]
        n_chunks = (n + chunk - 1) // chunk
        ll_c = np.zeros(n_chunks)
        N_c = np.zeros((n_chunks, k))
        S_c = np.zeros((n_chunks, k))
        H_c = np.zeros((n_chunks, k, d))
        G_c = np.zeros((n_chunks, k, d, d))
        for c in numba.prange(n_chunks):
            a = c * chunk
            b = min(n, a + chunk)
            m = b - a
            Zt = np.empty((d, m))
            R = np.empty((k, m))
            T = np.empty((k, m))
            mx = np.empty(m)
            s = np.empty(m)
            ll_c[c] = block(
                Z, y, a, b, B, logc, inv_s, Zt, R, T, mx, s, G_c[c], H_c[c], N_c[c], S_c[c]
            )
        # sum in chunk order (deterministic), then mirror the upper triangle
        ll_t = 0.0
        N = np.zeros(k)
        S = np.zeros(k)
        H = np.zeros((k, d))
        G = np.zeros((k, d, d))
        for c in range(n_chunks):
            ll_t += ll_c[c]
            N += N_c[c]
            S += S_c[c]
            H += H_c[c]
            G += G_c[c]
        for j in range(k):
            for q in range(d):
                for u in range(q + 1, d):
                    G[j, u, q] = G[j, q, u]
        return ll_t, N, G, H, S

    @numba.njit(cache=True, fastmath={"contract"})
    def exp_array(x, out):  # pragma: no cover - compiled by numba
        for i in range(x.size):
            out[i] = exp_nonpositive(x[i])

    return sweep, exp_array


@cache
def fused_available() -> bool:
    """True when numba can be imported (the compiled pass is then used for large data)."""
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency of the MCMC side
        return False
    return True


def exp_nonpositive(x: np.ndarray) -> np.ndarray:
    """The compiled sweep's ``exp`` applied to a 1-d array of values <= 0 (for tests)."""
    x = np.ascontiguousarray(x, dtype=float)
    out = np.empty_like(x)
    _kernel()[1](x, out)
    return out


def fused_accumulate(
    Z: np.ndarray, y: np.ndarray, B: np.ndarray, w: np.ndarray, sigma: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The sufficient statistics of one pass, ``(loglik, N, G, H, S)``, from the compiled sweep.

    Parameters
    ----------
    Z : ndarray of shape (n, d), C-contiguous float64
    y : ndarray of shape (n,)
    B : ndarray of shape (K, d)
    w, sigma : ndarray of shape (K,)

    Returns
    -------
    loglik : float
        ``-inf`` when not finite (as the NumPy path).
    N : ndarray (K,); G : ndarray (K, d, d); H : ndarray (K, d); S : ndarray (K,)
    """
    with np.errstate(divide="ignore"):
        logc = np.log(w) - np.log(sigma) - 0.5 * math.log(2.0 * math.pi)
        inv_s = 1.0 / sigma
    ll, N, G, H, S = _kernel()[0](
        Z, y, np.ascontiguousarray(B, dtype=float), logc, inv_s, CHUNK_ROWS
    )
    if not math.isfinite(ll):
        ll = -math.inf
    return ll, N, G, H, S
