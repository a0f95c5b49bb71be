"""Permutations of mixture components: the one place that knows how a relabelling is stored.

A relabelling of draws with leading (batch) shape, usually (chain, draw), is an integer array
``perms`` of shape ``(*batch, K)`` with

.. code-block:: python

    relabelled[..., j] = original[..., perms[..., j]]

(new component ``j`` is old component ``perms[..., j]``). This module checks, applies, inverts
and optimises such arrays; it is pure NumPy/SciPy and is shared by :mod:`mlrbayes.relabel`
(which finds permutations), :mod:`mlrbayes.posterior` (which applies them to draws) and the
mode analysis of :mod:`mlrbayes.modes`.
"""

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "ENUMERATE_MAX_K",
    "all_permutations",
    "best_permutations",
    "check_permutations",
    "invert_permutations",
    "onehot_permutations",
    "permute_array",
]

#: Up to this K all K! permutations are enumerated (exact, vectorised); above it each draw is
#: solved with scipy's Hungarian algorithm.
ENUMERATE_MAX_K = 6


@cache
def all_permutations(k: int) -> np.ndarray:
    """All permutations of ``range(k)`` in lexicographic order (identity first), shape (k!, k)."""
    return np.array(list(itertools.permutations(range(k))), dtype=np.intp).reshape(-1, k)


def best_permutations(cost: np.ndarray) -> np.ndarray:
    """Per batch element, the permutation minimising ``sum_j cost[..., j, perm[j]]``.

    Parameters
    ----------
    cost : ndarray of shape (..., K, K)
        ``cost[..., j, l]``: cost of giving old component ``l`` the new label ``j``.

    Returns
    -------
    perms : ndarray of int of shape (..., K)
    """
    k = cost.shape[-1]
    batch = cost.shape[:-2]
    if k == 1:
        return np.zeros((*batch, 1), dtype=np.intp)
    if k <= ENUMERATE_MAX_K:
        perms = all_permutations(k)  # (m, K)
        rows = np.arange(k)
        total = cost[..., rows, perms].sum(axis=-1)  # (..., m)
        return perms[np.argmin(total, axis=-1)]
    flat = cost.reshape(-1, k, k)
    out = np.empty((flat.shape[0], k), dtype=np.intp)
    for d in range(flat.shape[0]):
        _, cols = linear_sum_assignment(flat[d])
        out[d] = cols
    return out.reshape(*batch, k)


def onehot_permutations(perms: np.ndarray, k: int) -> np.ndarray:
    """``out[..., j, l] = (perms[..., j] == l)`` as floats, shape (..., K, K)."""
    return (perms[..., :, None] == np.arange(k)).astype(float)


def check_permutations(perms: Any, batch: tuple[int, ...] | None, k: int | None) -> np.ndarray:
    """``perms`` as an intp array after checking dtype, shape ``(*batch, K)`` and that each row is a
    permutation of 0..K-1 (``batch``/``k`` None: not checked); a clear error otherwise."""
    p = np.asarray(perms)
    if p.dtype.kind not in "iu":
        raise TypeError(
            f"permutations must be an integer array; got dtype {p.dtype}. Pass the output of "
            "pivot/stephens/ecr_iterative."
        )
    if p.ndim < 1:
        raise ValueError(f"permutations must have shape (..., K); got a scalar {p!r}.")
    if k is not None and p.shape[-1] != k:
        raise ValueError(
            f"permutations have {p.shape[-1]} entries per draw but there are {k} components; "
            "pass permutations of shape (chain, draw, K)."
        )
    if batch is not None and p.shape[:-1] != tuple(batch):
        raise ValueError(
            f"permutations have shape {p.shape} but the draws have batch shape {tuple(batch)}; "
            f"pass an array of shape {(*batch, p.shape[-1])}."
        )
    kk = p.shape[-1]
    if not np.array_equal(np.sort(p, axis=-1), np.broadcast_to(np.arange(kk), p.shape)):
        bad = np.argwhere(np.any(np.sort(p, axis=-1) != np.arange(kk), axis=-1))[0]
        raise ValueError(
            f"permutations[{', '.join(map(str, bad))}] = {p[tuple(bad)].tolist()} is not a "
            f"permutation of 0..{kk - 1}; each row must list every component exactly once."
        )
    return p.astype(np.intp, copy=False)


def invert_permutations(perms: np.ndarray) -> np.ndarray:
    """Inverse permutations: ``inv[..., perms[..., j]] = j``.

    Parameters
    ----------
    perms : ndarray of int of shape (..., K)

    Returns
    -------
    inv : ndarray of int of shape (..., K)
        Applying ``inv`` to relabelled draws gives back the original draws.
    """
    p = check_permutations(perms, None, None)
    inv = np.empty_like(p)
    np.put_along_axis(inv, p, np.broadcast_to(np.arange(p.shape[-1]), p.shape), axis=-1)
    return inv


def permute_array(a: Any, perms: Any, axis: int = -1) -> np.ndarray:
    """Permute the component axis of a batched array: ``out[..., j, ...] = a[..., perms[j], ...]``.

    Parameters
    ----------
    a : array-like of shape ``(*batch, ..., K, ...)``
        Leading axes must equal ``perms.shape[:-1]`` (e.g. (chain, draw)); ``axis`` is the
        component axis of ``a`` and must come after them.
    perms : ndarray of int of shape ``(*batch, K)``
    axis : int, default -1
        Component axis of ``a``.

    Returns
    -------
    ndarray of the shape of ``a``
    """
    a = np.asarray(a)
    p = np.asarray(perms)
    nb = p.ndim - 1
    ax = axis % a.ndim if a.ndim else 0
    if a.ndim <= nb or ax < nb:
        raise ValueError(
            f"the component axis ({axis}) of an array of shape {a.shape} must come after the "
            f"{nb} batch axes of permutations of shape {p.shape}."
        )
    check_permutations(p, a.shape[:nb], a.shape[ax])
    moved = np.moveaxis(a, ax, nb)  # (*batch, K, rest...)
    idx = p.reshape(p.shape + (1,) * (moved.ndim - nb - 1))
    out = np.take_along_axis(moved, idx, axis=nb)
    return np.moveaxis(out, nb, ax)
