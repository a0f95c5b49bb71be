r"""The fused likelihood kernel of the PyMC model: log-likelihood and gradient in one pass.

:func:`mixreg_logp_grad` (numba) evaluates the marginal log-likelihood of the mixture of
regressions and its gradient in a single pass over the data; :class:`MixRegLogp` wraps it as a
PyTensor Op whose pullback reuses the gradient, and :func:`mixture_logp_tensor` is the scalar
expression :mod:`mlrbayes.bayes` puts in the model. For responsibilities :math:`\gamma_{ik}` and
residuals :math:`r_{ik} = y_i - b_k - c_k^\top x_i`,

.. math::

    \partial_{b_k} = \sum_i \gamma_{ik} r_{ik} / \sigma_k^2,\quad
    \partial_{c_k} = \sum_i \gamma_{ik} r_{ik} x_i / \sigma_k^2,\quad
    \partial_{\pi_k} = \sum_i \gamma_{ik} / \pi_k,\quad
    \partial_{\sigma_k} = \sum_i \gamma_{ik} (r_{ik}^2/\sigma_k^2 - 1) / \sigma_k .

The extended model (gating covariates, coefficients fixed across components, groups sharing
one component, replication weights) has its own kernel, :func:`extended_logp_grad`, and Op,
:class:`ExtendedMixRegLogp`, so the plain kernel keeps its speed; :func:`textbook_logp_tensor`
writes the same log-likelihood as an ordinary PyTensor graph, the reference both are tested
against (``tests/test_kernel_extended.py``).

Imported by :mod:`mlrbayes.bayes` only (numba and PyTensor stay out of ``import mlrbayes``).
"""

from __future__ import annotations

import numba
import numpy as np

from ._cache import configure_pytensor_cache

configure_pytensor_cache()  # before PyTensor is imported (as mlrbayes.bayes does)

import pytensor.tensor as pt  # noqa: E402
from pytensor.gradient import DisconnectedType, disconnected_type  # noqa: E402
from pytensor.graph.basic import Apply  # noqa: E402
from pytensor.graph.op import Op  # noqa: E402
from pytensor.link.numba.dispatch.basic import (  # noqa: E402
    numba_njit,
    register_funcify_default_op_cache_key,
)

from .kernel_data import extended_inputs, textbook_logp_tensor, unit_layout  # noqa: E402

__all__ = [
    "ExtendedMixRegLogp",
    "MixRegLogp",
    "extended_inputs",
    "extended_logp_grad",
    "extended_logp_tensor",
    "mixreg_logp_grad",
    "mixture_logp_tensor",
    "textbook_logp_tensor",
    "unit_layout",
]

# Fast-math without "nnan"/"ninf" (the max starts at -inf): lets LLVM contract, reassociate and
# use cheaper exp/log, about 1.7x faster here; results agree with NumPy to ~1e-12 relative.
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

# ln 2 split in two so that the range reduction t - k ln 2 is exact; rows per block.
_LN2_HI = 0.693147180369123816490
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.4426950408889634
_BLOCK = 256

_njit = numba.njit(cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy")
_inline = numba.njit(
    cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy", inline="always"
)


@_inline
def _params_ok(w, b, c, s):  # pragma: no cover - compiled by numba
    """Every parameter finite, every weight and sigma positive."""
    for k in range(w.shape[0]):
        ok = w[k] > 0.0 and w[k] < np.inf and s[k] > 0.0 and s[k] < np.inf
        ok = ok and abs(b[k]) < np.inf
        for j in range(c.shape[1]):
            ok = ok and abs(c[k, j]) < np.inf
        if not ok:
            return False
    return True


@_inline
def _scales(w, s, lognorm, pre, inv_s2, gsc):  # pragma: no cover - compiled by numba
    """Per component: log(w / (sigma sqrt(2 pi))), the residual scale ``pre`` (1, or 1/sigma
    when sigma^2 would under/overflow), 1/sigma^2 of the scaled residual and the factor ``gsc``
    of the mean's derivative. Returns whether any residual is scaled."""
    scaled = False
    for k in range(w.shape[0]):
        lognorm[k] = np.log(w[k]) - np.log(s[k]) - 0.5 * 1.8378770664093453
        if 1e-150 <= s[k] <= 1e150:
            inv_s2[k] = 1.0 / (s[k] * s[k])
            gsc[k] = inv_s2[k]
        else:  # standardised residuals z = r / sigma
            pre[k] = 1.0 / s[k]
            inv_s2[k] = 1.0
            gsc[k] = pre[k]
            scaled = True
    return scaled


@_inline
def _log_densities(
    X, y, start, nb, b, c, lognorm, pre, inv_s2, scaled, res, ex, rmax
):  # pragma: no cover - compiled by numba
    """Residuals ``res`` and component log-densities ``ex`` of a block; ``rmax`` the row max."""
    for k in range(b.shape[0]):
        for i in range(nb):
            mu = b[k]
            for j in range(c.shape[1]):
                mu += c[k, j] * X[start + i, j]
            r = y[start + i] - mu
            if scaled:  # loop-invariant: the ordinary path has no extra multiply
                r *= pre[k]
            res[k, i] = r
            v = lognorm[k] - 0.5 * r * r * inv_s2[k]
            ex[k, i] = v
            rmax[i] = max(rmax[i], v)


@_inline
def _shifted_exp(nb, res, ex, rmax, rsum, bits, pow2):  # pragma: no cover - compiled by numba
    """``ex <- exp(ex - rmax)`` with the branch-free polynomial (terms below e^-700 set to 0,
    their residuals too); ``rsum`` the row sums. ``pow2`` is ``bits`` viewed as float64."""
    for k in range(ex.shape[0]):
        for i in range(nb):
            t = ex[k, i] - rmax[i]
            keep = t > -700.0  # False for NaN (a row whose every term is -inf)
            t = t if keep else -700.0
            kf = np.floor(t * _LOG2E + 0.5)
            r = (t - kf * _LN2_HI) - kf * _LN2_LO
            q = 1.0 / 479001600.0
            q = 1.0 / 39916800.0 + r * q
            q = 1.0 / 3628800.0 + r * q
            q = 1.0 / 362880.0 + r * q
            q = 1.0 / 40320.0 + r * q
            q = 1.0 / 5040.0 + r * q
            q = 1.0 / 720.0 + r * q
            q = 1.0 / 120.0 + r * q
            q = 1.0 / 24.0 + r * q
            q = 1.0 / 6.0 + r * q
            q = 0.5 + r * q
            q = 1.0 + r * q
            q = 1.0 + r * q
            bits[i] = (np.int64(kf) + 1023) << 52
            e = q * pow2[i] if keep else 0.0
            res[k, i] = res[k, i] if keep else 0.0  # no 0 * inf in the gradient
            ex[k, i] = e
            rsum[i] += e


@_inline
def _row_logs(nb, rmax, rsum, total):  # pragma: no cover - compiled by numba
    """``total`` plus the sum over the block's rows of ``rmax + log(rsum)`` (one log per 32
    rows); ``rsum`` is replaced by its reciprocals."""
    prod = 1.0
    for i in range(nb):
        total += rmax[i]  # -inf for a row that underflows in every component
        prod *= rsum[i]  # 32 factors in [1, K] cannot overflow
        if (i & 31) == 31:
            total += np.log(prod)
            prod = 1.0
        rsum[i] = 1.0 / rsum[i]
    return total + np.log(prod)


@_inline
def _gradient(
    X, start, nb, res, ex, rsum, gsc, inv_s2, gw, gb, gc, gs
):  # pragma: no cover - compiled by numba
    """Add the block's terms to the gradient sums (before division by w and sigma)."""
    for k in range(ex.shape[0]):
        sw = 0.0
        sb = 0.0
        ss = 0.0
        for i in range(nb):
            g = ex[k, i] * rsum[i]  # responsibility gamma_ik
            sw += g
            a = g * res[k, i] * gsc[k]
            sb += a
            ss += g * (res[k, i] * res[k, i] * inv_s2[k] - 1.0)
            ex[k, i] = a
        gw[k] += sw
        gb[k] += sb
        gs[k] += ss
        for j in range(gc.shape[1]):
            sc = 0.0
            for i in range(nb):
                sc += ex[k, i] * X[start + i, j]
            gc[k, j] += sc


@_njit
def mixreg_logp_grad(X, y, w, b, c, s):  # pragma: no cover - compiled by numba
    """Marginal log-likelihood and its gradient in one pass over the data.

    Shapes: X (n, p), y (n,), w/b/s (K,), c (K, p). Returns ``(loglik, d_w, d_b, d_c, d_s)``.

    The data are processed in blocks of ``_BLOCK`` rows with component-major scratch arrays, so
    every inner loop runs over contiguous rows and vectorises. Transcendentals dominate the
    cost, so: the exponentials of the log-sum-exp (arguments <= 0) use a branch-free range
    reduction ``t = k ln 2 + r`` with a degree-12 Taylor polynomial for ``e^r`` (``|r| <= ln2/2``,
    error below 1e-16 relative) and ``2^k`` built from its exponent bits, which vectorises
    where libm's ``exp`` does not; and the ``log`` of the per-row sums (each in [1, K]) is
    taken once per 32 rows of their product. Terms with ``t <= -700`` (< 1e-304 beside the
    row's largest term, which is exactly 1) are set to 0 and drop out of the gradient. The
    results match a direct NumPy/SciPy evaluation to about 1e-14 relative
    (``tests/test_bayes.py``, ``tests/test_kernel_extremes.py``).

    Every parameter value gives either a finite log-likelihood with a finite gradient, or
    ``-inf`` with a zero gradient (which NUTS treats as a divergence): ``-inf`` when a
    parameter is not finite, a weight or sigma is not positive, a row's density underflows in
    every component (its squared standardised residual overflows), or the gradient overflows
    (e.g. sigma near 1e-300), and where a squared residual overflows. A sigma outside
    [1e-150, 1e150], whose square would under- or overflow, is handled with standardised
    residuals ``(y - mu) / sigma``; inside that range the arithmetic is the same as without
    these guards, bit for bit. The helpers are inlined (numba ``inline="always"``).
    """
    n, p = X.shape
    k_ = w.shape[0]
    gw = np.zeros(k_)
    gb = np.zeros(k_)
    gc = np.zeros((k_, p))
    gs = np.zeros(k_)
    if not _params_ok(w, b, c, s):
        return -np.inf, gw, gb, gc, gs
    lognorm = np.empty(k_)
    pre = np.ones(k_)
    inv_s2 = np.empty(k_)
    gsc = np.empty(k_)
    scaled = _scales(w, s, lognorm, pre, inv_s2, gsc)
    res = np.empty((k_, _BLOCK))  # residuals y - mu_k (times pre)
    ex = np.empty((k_, _BLOCK))  # log-densities, then exp(. - row max)
    rmax = np.empty(_BLOCK)
    rsum = np.empty(_BLOCK)  # row sums of ex, then their reciprocals
    bits = np.empty(_BLOCK, dtype=np.int64)
    pow2 = bits.view(np.float64)
    total = 0.0
    for start in range(0, n, _BLOCK):
        nb = min(_BLOCK, n - start)
        for i in range(nb):
            rmax[i] = -np.inf
            rsum[i] = 0.0
        _log_densities(X, y, start, nb, b, c, lognorm, pre, inv_s2, scaled, res, ex, rmax)
        _shifted_exp(nb, res, ex, rmax, rsum, bits, pow2)
        total = _row_logs(nb, rmax, rsum, total)
        _gradient(X, start, nb, res, ex, rsum, gsc, inv_s2, gw, gb, gc, gs)
    finite = abs(total) < np.inf
    for k in range(k_):
        gw[k] /= w[k]
        gs[k] /= s[k]
        finite = finite and abs(gw[k]) < np.inf and abs(gb[k]) < np.inf and abs(gs[k]) < np.inf
        for j in range(p):
            finite = finite and abs(gc[k, j]) < np.inf
    if not finite:
        return -np.inf, np.zeros(k_), np.zeros(k_), np.zeros((k_, p)), np.zeros(k_)
    return total, gw, gb, gc, gs


def _fused_perform(self, node, inputs, output_storage):
    """``Op.perform`` of a fused kernel: the value and its gradient from one call."""
    res = self.kernel(*inputs)
    output_storage[0][0] = np.asarray(res[0])
    for out, val in zip(output_storage[1:], res[1:], strict=True):
        out[0] = val


def _fused_connection_pattern(self, node):
    """The data inputs (the first ``n_data``) reach no output; the parameters reach all."""
    n_out = len(node.outputs)
    n_par = len(node.inputs) - self.n_data
    return [[False] * n_out] * self.n_data + [[True] * n_out for _ in range(n_par)]


def _fused_pullback(self, inputs, outputs, cotangents):
    """The gradient outputs times the cotangent of the value; none for the data inputs."""
    g = cotangents[0]
    if any(not isinstance(ct.type, DisconnectedType) for ct in cotangents[1:]):
        raise NotImplementedError("second derivatives of the mixture log-likelihood")
    return [disconnected_type() for _ in range(self.n_data)] + [g * o for o in outputs[1:]]


class MixRegLogp(Op):
    """``(X, y, weights, intercept, coef, sigma) -> (loglik, d_weights, d_intercept, d_coef,
    d_sigma)`` with sigma of shape (K,).

    Only the first output is meant to be used in a model; the others are its gradient, computed
    in the same pass, and :meth:`pullback` reuses them, so a logp-and-gradient evaluation costs
    one pass over the data.
    """

    __props__ = ()
    n_data = 2  # X, y
    kernel = staticmethod(mixreg_logp_grad)

    def make_node(self, X, y, weights, intercept, coef, sigma):
        ins = [pt.as_tensor_variable(v).astype("float64") for v in (X, y, weights, intercept)]
        ins += [pt.as_tensor_variable(v).astype("float64") for v in (coef, sigma)]
        outs = [pt.dscalar(), pt.dvector(), pt.dvector(), pt.dmatrix(), pt.dvector()]
        return Apply(self, ins, outs)

    def infer_shape(self, node, input_shapes):
        return [(), input_shapes[2], input_shapes[3], input_shapes[4], input_shapes[5]]

    perform = _fused_perform
    connection_pattern = _fused_connection_pattern
    pullback = _fused_pullback


_mixreg_logp = MixRegLogp()


def _kernel_cache_salt() -> int:
    """An integer that changes whenever this module's source (kernel, helpers, wrapper) changes.

    PyTensor's numba cache keys an Op by its class and props only; without this salt a compiled
    graph cached by an older version of the kernel would keep being used after an upgrade.
    """
    import hashlib
    import inspect
    import sys

    src = inspect.getsource(sys.modules[__name__])
    return int(hashlib.sha256(src.encode()).hexdigest()[:15], 16)


@register_funcify_default_op_cache_key(MixRegLogp)
def _numba_funcify_mixreg(op, node=None, **kwargs):
    kernel = mixreg_logp_grad

    @numba_njit
    def mixreg_logp(X, y, w, b, c, s):
        # The observed y reaches here as a graph constant, which numba types as a read-only,
        # possibly unaligned array; the kernel compiled for that type does not vectorise and
        # ran 3x slower. A fresh copy (n doubles, ~1% of the kernel's time) keeps the fast path.
        total, gw, gb, gc, gs = kernel(X, y.copy(), w, b, c, s)
        return np.asarray(total), gw, gb, gc, gs

    return mixreg_logp, _kernel_cache_salt()


def mixture_logp_tensor(X, y, weights, intercept, coef, sigma_k):
    """Scalar PyTensor expression of the marginal log-likelihood (the custom Op)."""
    return _mixreg_logp(X, y, weights, intercept, coef, sigma_k)[0]


# ============================================================================ extended model
# Gating (concomitant) covariates, coefficients fixed across components, groups whose rows
# share one component, and replication weights (see mlrbayes.spec.Dataset and the NumPy
# reference mlrbayes.likelihood.extended_loglik). A separate kernel, so the plain one above
# keeps its speed.


@_inline
def _finite(x):  # pragma: no cover - compiled by numba
    """Every entry finite (False for NaN)."""
    return np.all(np.abs(x) < np.inf)


@_inline
def _ext_params_ok(w, gam, b, c, s, delta, gating):  # pragma: no cover - compiled by numba
    """Every parameter finite, every sigma (and weight, without gating) positive."""
    ok = _finite(b) and _finite(c) and _finite(gam) and _finite(delta)
    ok = ok and _finite(s) and np.all(s > 0.0)
    return ok and (gating or (_finite(w) and np.all(w > 0.0)))


@_njit
def _ext_finish(total, w, gating, gw, gg, gb, gc, gs, gd):  # pragma: no cover - numba
    """The result tuple: the gradient w.r.t. ``w`` divided by ``w`` (zero with gating), or
    ``-inf`` with a zero gradient when anything is not finite."""
    gw = gw / w if not gating else gw * 0.0
    finite = abs(total) < np.inf and _finite(gw) and _finite(gb) and _finite(gs)
    if not (finite and _finite(gc) and _finite(gg) and _finite(gd)):
        z = np.zeros_like
        return -np.inf, z(gw), z(gg), z(gb), z(gc), z(gs), z(gd)
    return total, gw, gg, gb, gc, gs, gd


@_inline
def _block_dot(a, k, M, start, nb, j):  # pragma: no cover - compiled by numba
    """``sum_i a[k, i] * M[start + i, j]`` over the block's ``nb`` rows."""
    acc = 0.0
    for i in range(nb):
        acc += a[k, i] * M[start + i, j]
    return acc


@_njit
def _rows_logp_grad(X, y, U, W, v, w, gam, b, c, s, delta, weighted):  # pragma: no cover
    """:func:`extended_logp_grad` when every unit is one row (no groups), in blocks of rows
    with the vectorising exponential and batched logarithms of :func:`mixreg_logp_grad`."""
    n, p = X.shape
    k_, r, q = b.shape[0], delta.shape[0], gam.shape[1]
    gating = q > 0
    gw, gg, gb = np.zeros(k_), np.zeros((k_, q)), np.zeros(k_)
    gc, gs, gd = np.zeros((k_, p)), np.zeros(k_), np.zeros(r)
    inv_s = 1.0 / s
    lognorm = -np.log(s) - 0.5 * 1.8378770664093453
    logw = np.log(w) if not gating else np.zeros(k_)
    res, ex, pe = np.empty((k_, _BLOCK)), np.empty((k_, _BLOCK)), np.empty((k_, _BLOCK))
    rmax, rsum = np.empty(_BLOCK), np.empty(_BLOCK)
    emax, esum, zero = np.zeros(_BLOCK), np.ones(_BLOCK), np.zeros(_BLOCK)
    total = 0.0
    bits = np.empty(_BLOCK, dtype=np.int64)  # scratch of the exponential, and as float64
    pow2 = bits.view(np.float64)
    for start in range(0, n, _BLOCK):
        nb = min(_BLOCK, n - start)
        rmax[:nb] = -np.inf
        rsum[:nb] = 0.0
        if gating:
            emax[:nb] = -np.inf
            esum[:nb] = 0.0
        for k in range(k_):  # log prior: eta (or log w)
            for i in range(nb):
                e = logw[k]
                for j in range(q):
                    e += W[start + i, j] * gam[k, j]
                pe[k, i] = e
                emax[i] = max(emax[i], e) if gating else 0.0
        for k in range(k_):  # plus the log-density, with eta shifted by its row max
            for i in range(nb):
                mu = b[k]
                for j in range(p):
                    mu += c[k, j] * X[start + i, j]
                for j in range(r):
                    mu += delta[j] * U[start + i, j]
                z = (y[start + i] - mu) * inv_s[k]
                res[k, i] = z
                val = (pe[k, i] - emax[i]) + lognorm[k] - 0.5 * z * z
                ex[k, i] = val
                rmax[i] = max(rmax[i], val)
        _shifted_exp(nb, res, ex, rmax, rsum, bits, pow2)
        if gating:  # the softmax's normaliser: pe <- exp(eta - max), esum its row sums
            _shifted_exp(nb, pe, pe, emax, esum, bits, pow2)
        if weighted:
            for i in range(nb):
                total += v[start + i] * (rmax[i] + np.log(rsum[i]) - np.log(esum[i]))
                rsum[i] = v[start + i] / rsum[i]
                esum[i] = v[start + i] / esum[i]
        else:
            total = _row_logs(nb, rmax, rsum, total)
            if gating:
                total -= _row_logs(nb, zero, esum, 0.0)
        for k in range(k_):  # rsum: v / row sum; ex: exp(L - max); pe: exp(eta - max)
            sw, sb, ss = 0.0, 0.0, 0.0
            for i in range(nb):
                a = ex[k, i] * rsum[i]  # v_i times the responsibility
                sw += a
                if gating:
                    pe[k, i] = a - pe[k, i] * esum[i]  # v_i (responsibility - prior)
                g = a * res[k, i] * inv_s[k]
                sb += g
                ss += a * (res[k, i] * res[k, i] - 1.0) * inv_s[k]
                ex[k, i] = g
            gw[k] += sw
            gb[k] += sb
            gs[k] += ss
            for j in range(p):
                gc[k, j] += _block_dot(ex, k, X, start, nb, j)
            for j in range(r):
                gd[j] += _block_dot(ex, k, U, start, nb, j)
            for j in range(q):
                gg[k, j] += _block_dot(pe, k, W, start, nb, j)
    return _ext_finish(total, w, gating, gw, gg, gb, gc, gs, gd)


@_njit
def extended_logp_grad(
    X, y, U, W, rows, starts, v, w, gam, b, c, s, delta
):  # pragma: no cover - compiled by numba
    r"""Log-likelihood of the extended model and its gradient in one pass over the units.

    Shapes: X (n, p), y (n,), U (n, r) fixed-coefficient predictors (r may be 0), W (G, q)
    each unit's gating covariates (q = 0: no gating, the weights ``w`` are used), ``rows``
    and ``starts`` from :func:`unit_layout`, v (G,) unit weights; parameters w (K,), gam
    (K, q), b (K,), c (K, p), s (K,), delta (r,). Returns ``(loglik, d_w, d_gam, d_b, d_c,
    d_s, d_delta)``.

    For unit :math:`u` (a group, or one row) with log prior membership :math:`\ell^0_{uk}`
    (:math:`\log w_k`, or :math:`\eta_{uk} - \log\sum_l e^{\eta_{ul}}` with
    :math:`\eta_{uk} = W_u^\top\gamma_k`), :math:`L_{uk} = \ell^0_{uk} + \sum_{i\in u}
    \log N(y_i \mid b_k + c_k^\top x_i + \delta^\top u_i, s_k^2)` and responsibilities
    :math:`\rho_{uk} = \mathrm{softmax}_k L_{uk}`, the log-likelihood is
    :math:`\sum_u v_u \log\sum_k e^{L_{uk}}` and, with :math:`z_{ik}` the standardised
    residuals and :math:`\pi_{uk} = e^{\ell^0_{uk}}`,

    .. math::

        \partial_{\gamma_{kj}} = \sum_u v_u(\rho_{uk} - \pi_{uk}) W_{uj},\quad
        \partial_{\delta} = \sum_u v_u \sum_k \rho_{uk} \sum_{i\in u} z_{ik} u_i / s_k,

    the others as in :func:`mixreg_logp_grad` with :math:`v_u\rho_{uk}` in place of the
    responsibilities. Like that kernel it returns a finite value with a finite gradient, or
    ``-inf`` with a zero gradient (a parameter not finite, a sigma or weight not positive, a
    unit whose density underflows in every component, an overflowing gradient).
    """
    k_, p, r, q = b.shape[0], c.shape[1], delta.shape[0], gam.shape[1]
    gating = q > 0
    gw, gg, gb = np.zeros(k_), np.zeros((k_, q)), np.zeros(k_)
    gc, gs, gd = np.zeros((k_, p)), np.zeros(k_), np.zeros(r)
    if not _ext_params_ok(w, gam, b, c, s, delta, gating):
        return -np.inf, gw, gg, gb, gc, gs, gd
    n_units = starts.shape[0] - 1
    if n_units == X.shape[0]:  # one row per unit (then rows is the identity)
        weighted = not np.all(v == 1.0)
        return _rows_logp_grad(X, y, U, W, v, w, gam, b, c, s, delta, weighted)
    inv_s = 1.0 / s
    lognorm = -np.log(s) - 0.5 * 1.8378770664093453
    logw = np.log(w) if not gating else np.zeros(k_)
    biggest = 0
    for u in range(n_units):
        biggest = max(biggest, starts[u + 1] - starts[u])
    res = np.empty((biggest, k_))  # standardised residuals of the unit's rows
    lpri, pri, L, a = np.empty(k_), np.zeros(k_), np.empty(k_), np.empty(k_)
    total = 0.0
    # One loop with everything written out: numba-inlined helpers ran 7x slower here.
    for u in range(n_units):
        lo, hi = starts[u], starts[u + 1]
        if gating:  # log P(z_u = k): the log-softmax of eta_uk = W_u . gam_k
            emax = -np.inf
            for k in range(k_):
                eta = 0.0
                for j in range(q):
                    eta += W[u, j] * gam[k, j]
                lpri[k] = eta
                emax = max(emax, eta)
            tot = 0.0
            for k in range(k_):
                pri[k] = np.exp(lpri[k] - emax)
                tot += pri[k]
            lse = emax + np.log(tot)
            for k in range(k_):
                lpri[k] -= lse
                pri[k] /= tot
        for k in range(k_):
            L[k] = (lpri[k] if gating else logw[k]) + (hi - lo) * lognorm[k]
        for t in range(lo, hi):  # the unit's component log-densities
            i = rows[t]
            off = 0.0
            for j in range(r):
                off += U[i, j] * delta[j]
            for k in range(k_):
                mu = b[k] + off
                for j in range(p):
                    mu += c[k, j] * X[i, j]
                z = (y[i] - mu) * inv_s[k]
                res[t - lo, k] = z
                L[k] -= 0.5 * z * z
        m = -np.inf
        for k in range(k_):
            m = max(m, L[k])
        if not abs(m) < np.inf:  # every component underflows (or NaN)
            total = -np.inf
            break
        tot = 0.0
        for k in range(k_):
            a[k] = np.exp(L[k] - m)
            tot += a[k]
        total += v[u] * (m + np.log(tot))
        for k in range(k_):
            a[k] *= v[u] / tot  # v_u times the responsibility
            gw[k] += a[k]
            if gating:
                for j in range(q):
                    gg[k, j] += (a[k] - v[u] * pri[k]) * W[u, j]
        for t in range(lo, hi):
            i = rows[t]
            for k in range(k_):
                if a[k] == 0.0:  # an underflowed component: no 0 * inf
                    continue
                z = res[t - lo, k]
                g = a[k] * z * inv_s[k]
                gb[k] += g
                gs[k] += a[k] * (z * z - 1.0) * inv_s[k]
                for j in range(p):
                    gc[k, j] += g * X[i, j]
                for j in range(r):
                    gd[j] += g * U[i, j]
    return _ext_finish(total, w, gating, gw, gg, gb, gc, gs, gd)


class ExtendedMixRegLogp(Op):
    """``(X, y, U, W, rows, starts, v, weights, gating, intercept, coef, sigma, fixed) ->
    (loglik, d_weights, d_gating, d_intercept, d_coef, d_sigma, d_fixed)``.

    The extended model's counterpart of :class:`MixRegLogp`: the first seven inputs are data
    (no gradient), the last six parameters; :meth:`pullback` reuses the gradient computed in
    the same pass (:func:`extended_logp_grad`).
    """

    __props__ = ()
    _INT = (4, 5)  # rows, starts
    n_data = 7
    kernel = staticmethod(extended_logp_grad)

    def make_node(self, *inputs):
        ins = [
            pt.as_tensor_variable(v).astype("int64" if i in self._INT else "float64")
            for i, v in enumerate(inputs)
        ]
        outs = [pt.dscalar(), pt.dvector(), pt.dmatrix(), pt.dvector(), pt.dmatrix()]
        outs += [pt.dvector(), pt.dvector()]
        return Apply(self, ins, outs)

    def infer_shape(self, node, input_shapes):
        return [(), *input_shapes[7:]]

    perform = _fused_perform
    connection_pattern = _fused_connection_pattern
    pullback = _fused_pullback


_extended_logp = ExtendedMixRegLogp()


@register_funcify_default_op_cache_key(ExtendedMixRegLogp)
def _numba_funcify_extended(op, node=None, **kwargs):
    kernel = extended_logp_grad

    @numba_njit
    def extended_logp(X, y, U, W, rows, starts, v, w, gam, b, c, s, delta):
        out = kernel(X, y.copy(), U, W, rows, starts, v, w, gam, b, c, s, delta)
        return np.asarray(out[0]), out[1], out[2], out[3], out[4], out[5], out[6]

    return extended_logp, _kernel_cache_salt()


def extended_logp_tensor(data, X, y, weights, gating, intercept, coef, sigma_k, fixed):
    """Scalar PyTensor expression of the extended model's log-likelihood (the fused Op).

    ``data`` (a :class:`~mlrbayes.spec.Dataset`) supplies the fixed predictors, the units
    and their gating covariates and weights; ``weights`` (K,) is used without gating,
    ``gating`` (K, q) with it (pass a (K, 0) tensor otherwise), ``fixed`` (r,) (a (0,)
    tensor without fixed predictors).
    """
    U, W, rows, starts, v = extended_inputs(data)
    return _extended_logp(
        X, y, U, W, rows, starts, v, weights, gating, intercept, coef, sigma_k, fixed
    )[0]
