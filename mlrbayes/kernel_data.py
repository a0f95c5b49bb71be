"""The extended model's data layout for the fused kernel, and the textbook reference graph.

:func:`unit_layout` and :func:`extended_inputs` turn a :class:`~mlrbayes.spec.Dataset` into
the arrays :func:`mlrbayes.kernel.extended_logp_grad` reads (units as contiguous runs of row
indices, each unit's gating covariates and weight); :func:`textbook_logp_tensor` writes the
same log-likelihood as an ordinary PyTensor graph, the reference the fused kernel is tested
against (``tests/test_kernel_extended.py``) and ``likelihood="textbook"`` of
:func:`mlrbayes.bayes.build_model`. Imported by :mod:`mlrbayes.kernel` only.
"""

from __future__ import annotations

import numpy as np

from ._cache import configure_pytensor_cache

configure_pytensor_cache()  # before PyTensor is imported

import pytensor.tensor as pt  # noqa: E402

__all__ = ["extended_inputs", "textbook_logp_tensor", "unit_layout"]


def unit_layout(groups: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ordered by unit and the start of each unit in that order.

    Parameters
    ----------
    groups : ndarray of int of shape (n,) with codes 0..G-1, or None (every row a unit)
    n : int

    Returns
    -------
    rows : ndarray of int64 of shape (n,)
        Row indices, the rows of unit 0 first (stable within a unit).
    starts : ndarray of int64 of shape (n_units + 1,)
        Unit ``u`` is ``rows[starts[u]:starts[u + 1]]``.
    """
    if groups is None:
        return np.arange(n, dtype=np.int64), np.arange(n + 1, dtype=np.int64)
    g = np.asarray(groups, dtype=np.int64)
    rows = np.argsort(g, kind="stable").astype(np.int64)
    counts = np.bincount(g, minlength=int(g.max()) + 1)
    starts = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return rows, starts


def extended_inputs(data) -> tuple[np.ndarray, ...]:
    """The data inputs of the extended Op from a :class:`~mlrbayes.spec.Dataset`.

    Returns
    -------
    U : ndarray of shape (n, r)
        Fixed-coefficient predictors ((n, 0) without).
    W : ndarray of shape (n_units, q)
        Each unit's gating covariates ((n_units, 0) without).
    rows, starts : ndarray of int64
        :func:`unit_layout`.
    v : ndarray of shape (n_units,)
        Unit weights (ones without).
    """
    n = data.n_samples
    U = data.fixed if data.fixed is not None else np.zeros((n, 0))
    rows, starts = unit_layout(data.groups, n)
    n_units = starts.size - 1
    W = np.zeros((n_units, 0))
    if data.concomitant is not None:
        W = data.concomitant[rows[starts[:-1]]]  # each unit's first row (constant in a unit)
    v = np.ones(n_units)
    if data.sample_weight is not None:
        v = data.sample_weight[rows[starts[:-1]]]
    return U, np.ascontiguousarray(W), rows, starts, v


def textbook_logp_tensor(data, X, y, weights, gating, intercept, coef, sigma_k, fixed):
    """The same log-likelihood as :func:`extended_logp_tensor` written as an ordinary PyTensor
    graph (normal log-densities, group sums by ``inc_subtensor``, log-softmax gating,
    ``logsumexp``): the reference the fused kernel is tested against, and differentiable by
    PyTensor's autodiff. Arguments as there; ``gating``/``fixed`` may be None when absent.
    """
    mu = intercept + pt.dot(X, coef.T)  # (n, K)
    if data.fixed is not None:
        mu = mu + pt.dot(pt.as_tensor_variable(data.fixed), fixed)[:, None]
    z = (y[:, None] - mu) / sigma_k
    lp = -0.5 * z**2 - pt.log(sigma_k) - 0.5 * np.log(2.0 * np.pi)
    _, W, _rows, starts, v = extended_inputs(data)
    if data.groups is not None:
        lp = pt.inc_subtensor(pt.zeros((starts.size - 1, lp.shape[1]))[data.groups], lp)
    if data.concomitant is not None:
        eta = pt.dot(pt.as_tensor_variable(W), gating.T)
        lpri = eta - pt.logsumexp(eta, axis=1, keepdims=True)
    else:
        lpri = pt.log(weights)[None, :]
    per_unit = pt.logsumexp(lp + lpri, axis=1)
    return pt.sum(per_unit * v)
