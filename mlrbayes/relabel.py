r"""Relabelling of mixture posterior draws: arrays in, permutations out.

A mixture posterior is invariant to permuting the component labels, so an MCMC chain may visit
any of the :math:`K!` labellings of one mode ("label switching"), and different chains may settle
in different labellings. The functions here find, for every draw, the permutation of the
components that brings it into one common labelling. They are pure NumPy/SciPy, deterministic
(no randomness; ties go to the first permutation in lexicographic order, identity first) and
vectorised over draws.

Permutation convention
----------------------
Every function returns an integer array ``perms`` of shape (chain, draw, K) — more generally the
leading (batch) shape of its input followed by ``K`` — such that the relabelled draws are

.. code-block:: python

    relabelled[..., j] = original[..., perms[..., j]]

that is, new component ``j`` is old component ``perms[..., j]``. :func:`permute_array` and
:func:`apply_permutations` apply them; :func:`invert_permutations` undoes them.

Methods
-------
:func:`pivot`
    Per draw, the permutation whose component parameters are closest (scaled squared
    distance) to a reference such as the EM estimate.
:func:`stephens`
    Stephens (2000) Kullback–Leibler relabelling of the per-draw membership probabilities.
:func:`ecr_iterative`
    Equivalence-classes-representatives relabelling (Papastamoulis & Iliopoulos 2010), iterative
    version: agreement with a pivot allocation that is updated until it stops changing.

References
----------
Stephens, M. (2000). Dealing with label switching in mixture models. *JRSS B* 62(4), 795–809.
Papastamoulis, P. and Iliopoulos, G. (2010). An artificial allocations based solution to the
label switching problem in Bayesian analysis of mixtures of distributions. *JCGS* 19, 313–331.
Papastamoulis, P. (2016). label.switching: an R package for dealing with the label switching
problem in MCMC outputs. *J. Stat. Softw.* 69(1).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .permutations import (
    best_permutations,
    invert_permutations,
    onehot_permutations,
    permute_array,
)
from .posterior.draws import apply_permutations

__all__ = [
    "RelabellingWarning",
    "apply_permutations",
    "best_permutations",
    "ecr_iterative",
    "invert_permutations",
    "permute_array",
    "pivot",
    "stephens",
]


class RelabellingWarning(UserWarning):
    """An iterative relabelling stopped at ``max_iter`` before its permutations settled."""


# ----------------------------------------------------------------------------- pivot
def _ref_get(reference: Any, name: str) -> Any:
    if isinstance(reference, Mapping):
        return reference.get(name)
    return getattr(reference, name, None)


def _component_features(
    weights: np.ndarray,
    intercept: Any,
    coef: Any,
    sigma: Any,
    batch: tuple[int, ...],
    k: int,
    gating: Any = None,
) -> np.ndarray:
    """Stack per-component parameters into (*batch, K, F)."""
    parts = [np.asarray(weights, dtype=float)[..., None]]
    if intercept is not None:
        parts.append(np.broadcast_to(np.asarray(intercept, dtype=float), (*batch, k))[..., None])
    if coef is not None:
        c = np.asarray(coef, dtype=float)
        if c.ndim == len(batch) + 1:  # (..., K): single predictor given without its axis
            c = c[..., None]
        parts.append(np.broadcast_to(c, (*batch, k, c.shape[-1])))
    if sigma is not None:
        s = np.asarray(sigma, dtype=float)
        if s.ndim >= 1 and s.shape[-1] == k and s.ndim == len(batch) + 1:
            parts.append(s[..., None])  # per-component sd: it identifies the component too
    if gating is not None:
        g = np.asarray(gating, dtype=float)
        parts.append(np.broadcast_to(g, (*batch, k, g.shape[-1])))
    return np.concatenate(parts, axis=-1)


def pivot(
    weights: Any,
    intercept: Any = None,
    coef: Any = None,
    sigma: Any = None,
    *,
    reference: Any,
    scale: Any = None,
    gating: Any = None,
) -> np.ndarray:
    r"""Per draw, the permutation that brings the components closest to a reference.

    For draw :math:`d` the cost of giving old component :math:`l` the new label :math:`j` is
    the scaled squared distance between their parameters,

    .. math::

        C_d[j, l] = \sum_f \big((\theta_{d,l,f} - \theta^{\mathrm{ref}}_{j,f}) / s_f\big)^2,

    over the features :math:`f` = weight, intercept, each slope, (per-component) sigma and,
    in a model with concomitant covariates, each centred gating coefficient, and
    the permutation minimising :math:`\sum_j C_d[j, \mathrm{perm}_j]` is chosen (exhaustively
    for K <= 6, by ``scipy.optimize.linear_sum_assignment`` above).

    Parameters
    ----------
    weights : array-like of shape ``(*batch, K)``
        Usually (chain, draw, K).
    intercept : array-like of shape ``(*batch, K)``, optional
        Left out of the distance when None.
    coef : array-like of shape ``(*batch, K, p)``, optional
    sigma : array-like of shape ``(*batch, K)``, optional
        Only per-component sds enter the distance; a shared or known sd is ignored.
    reference : EMResult, Optimum or mapping
        Anything with ``weights`` (K,), and ``intercept`` (K,), ``coef`` (K, p), ``sigma`` (K,)
        for the parameters that are given above (e.g. the EM estimate).
    scale : array-like of shape (F,), optional
        Divisor per feature (weight, intercept, slopes, sigma, gating coefficients — in that
        order, only those given). Default: the standard deviation of that feature over all
        draws and components (a unit-free distance that does not depend on the labelling), or
        1 where that is 0.
    gating : array-like of shape ``(*batch, K, q)``, optional
        Centred gating coefficients of the draws (the reference then needs ``gating`` or
        ``gating_coef`` of shape (K, q), centred the same way); a relabelling permutes them
        with the components, so they help tell components apart.

    Returns
    -------
    perms : ndarray of int of shape ``(*batch, K)``
        ``relabelled[..., j] = original[..., perms[..., j]]``: relabelled component ``j``
        matches reference component ``j``.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim < 1:
        raise ValueError(f"weights must have shape (..., K); got a scalar {w!r}.")
    k = w.shape[-1]
    batch = w.shape[:-1]
    ref_w = _ref_get(reference, "weights")
    if ref_w is None:
        raise TypeError(
            f"reference must provide 'weights' (and the other parameters given); got "
            f"{type(reference).__name__}. Pass the EM result or a dict of arrays."
        )
    if np.shape(ref_w) != (k,):
        raise ValueError(
            f"reference weights have shape {np.shape(ref_w)} but the draws have K={k} "
            "components; use a reference with the same number of components."
        )
    ref_parts = {
        "intercept": _ref_get(reference, "intercept") if intercept is not None else None,
        "coef": _ref_get(reference, "coef") if coef is not None else None,
        "sigma": None,
    }
    for name, given in (("intercept", intercept), ("coef", coef)):
        if given is not None and ref_parts[name] is None:
            raise ValueError(
                f"draws of {name!r} were given but the reference has no {name!r}; pass a "
                f"reference with it or leave {name} out."
            )
    s_draws = np.asarray(sigma, dtype=float) if sigma is not None else None
    per_comp = s_draws is not None and s_draws.ndim == len(batch) + 1 and s_draws.shape[-1] == k
    if per_comp:
        ref_s = _ref_get(reference, "sigma")
        ref_s = None if ref_s is None else np.asarray(ref_s, dtype=float)
        if ref_s is None or ref_s.shape != (k,):
            per_comp = False  # reference has a shared sd: sigma cannot tell components apart
        else:
            ref_parts["sigma"] = ref_s
    ref_g = None
    if gating is not None:
        ref_g = _ref_get(reference, "gating")
        ref_g = _ref_get(reference, "gating_coef") if ref_g is None else ref_g
        if ref_g is None or np.shape(ref_g) != np.shape(gating)[-2:]:
            raise ValueError(
                f"draws of 'gating' of shape {np.shape(gating)[-2:]} per draw were given but the "
                f"reference has gating of shape {np.shape(ref_g)}; pass the EM fit of the same "
                "gating model or leave gating out."
            )
        ref_g = np.asarray(ref_g, dtype=float)
        ref_g = ref_g - ref_g.mean(axis=0)
    theta = _component_features(
        w, intercept, coef, s_draws if per_comp else None, batch, k, gating
    )  # (*batch, K, F)
    ref_coef = ref_parts["coef"]
    if ref_coef is not None:
        ref_coef = np.asarray(ref_coef, dtype=float).reshape(k, -1)
    ref = _component_features(
        np.asarray(ref_w, dtype=float),
        ref_parts["intercept"],
        ref_coef,
        ref_parts["sigma"],
        (),
        k,
        ref_g,
    )  # (K, F)
    if ref.shape[-1] != theta.shape[-1]:
        raise ValueError(
            f"reference has {ref.shape[-1]} parameters per component but the draws have "
            f"{theta.shape[-1]}; check that coef has the same number of features."
        )
    if not np.all(np.isfinite(theta)):
        raise ValueError("draws contain non-finite values; remove or fix those draws first.")
    if scale is None:
        flat = theta.reshape(-1, theta.shape[-1])
        s = flat.std(axis=0) if flat.shape[0] > 1 else np.ones(theta.shape[-1])
        s = np.where(s > 0, s, 1.0)
    else:
        s = np.asarray(scale, dtype=float)
        if s.shape != (theta.shape[-1],) or np.any(~np.isfinite(s)) or np.any(s <= 0):
            raise ValueError(
                f"scale must hold {theta.shape[-1]} positive numbers (weight, intercept, "
                f"slopes, per-component sigma); got {np.asarray(scale).tolist()}."
            )
    diff = (theta[..., None, :, :] - ref[:, None, :]) / s  # (*batch, j, l, F)
    cost = np.einsum("...f,...f->...", diff, diff)
    return best_permutations(cost)


# ----------------------------------------------------------------------------- probabilities
def _check_probs(probs: Any, name: str) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    if p.ndim < 2:
        raise ValueError(
            f"{name} must have shape (..., n, K), e.g. (chain, draw, n, K); got shape {p.shape}."
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1 + 1e-9):
        raise ValueError(
            f"{name} must be probabilities in [0, 1]; found values in [{np.nanmin(p)!r}, "
            f"{np.nanmax(p)!r}] (or non-finite). Pass membership probabilities, e.g. from "
            "posterior_responsibilities."
        )
    return p


def _iterate_status(name: str, n_iter: int, max_iter: int, converged: bool) -> None:
    if not converged:
        warnings.warn(
            f"{name} relabelling did not settle within max_iter={max_iter} iterations; the "
            "permutations of the last iteration are returned. Increase max_iter.",
            RelabellingWarning,
            stacklevel=3,
        )


def stephens(
    probs: Any,
    *,
    reference: Any = None,
    max_iter: int = 100,
    return_n_iter: bool = False,
) -> np.ndarray | tuple[np.ndarray, int]:
    r"""Stephens (2000) Kullback–Leibler relabelling of membership probabilities.

    With :math:`p_{d,i,l}` the probability that observation :math:`i` belongs to component
    :math:`l` in draw :math:`d`, the algorithm alternates

    1. :math:`q_{ij} = \frac{1}{D}\sum_d p_{d,i,\mathrm{perm}_d(j)}` (mean relabelled
       probabilities), and
    2. per draw, the permutation minimising :math:`\sum_j C_d[j, \mathrm{perm}_d(j)]` with
       :math:`C_d[j, l] = \sum_i p_{d,i,l} \log(p_{d,i,l} / q_{ij})`,

    until the permutations stop changing. The :math:`p \log p` term does not depend on the
    permutation, so step 2 maximises :math:`\sum_j \sum_i p_{d,i,\mathrm{perm}_d(j)}
    \log q_{ij}`, one small matrix product per draw.

    Parameters
    ----------
    probs : array-like of shape ``(*batch, n, K)``
        Membership probabilities per draw, usually (chain, draw, n, K) from
        ``mlrbayes.bayes.posterior_responsibilities``.
    reference : array-like of shape (n, K), optional
        Starting :math:`q` (e.g. the EM responsibilities): the result is then labelled like the
        reference. Default: the probabilities of the first draw, so the output is labelled like
        that draw.
    max_iter : int, default 100
        A :class:`RelabellingWarning` is issued if the permutations still change then.
    return_n_iter : bool, default False
        Also return the number of iterations.

    Returns
    -------
    perms : ndarray of int of shape ``(*batch, K)``
        ``relabelled[..., j] = original[..., perms[..., j]]``.
    n_iter : int
        Only with ``return_n_iter=True``.
    """
    p = _check_probs(probs, "probs")
    batch = p.shape[:-2]
    n, k = p.shape[-2:]
    flat = p.reshape(-1, n, k)
    pt = np.ascontiguousarray(np.swapaxes(flat, 1, 2))  # (D, K_l, n)
    if reference is None:
        q = flat[0].copy()
    else:
        q = np.asarray(reference, dtype=float)
        if q.shape != (n, k):
            raise ValueError(
                f"reference must have shape (n, K) = {(n, k)}; got {q.shape}. Pass the EM "
                "responsibilities of the same data."
            )
    tiny = np.finfo(float).tiny
    perms = None
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (n_iter is reported after the loop)
        logq = np.log(np.maximum(q, tiny))  # (n, K_j)
        score = pt @ logq  # (D, l, j)
        new = best_permutations(-np.swapaxes(score, 1, 2))
        if perms is not None and np.array_equal(new, perms):
            converged = True
            break
        perms = new
        q = np.einsum("dln,djl->nj", pt, onehot_permutations(perms, k)) / flat.shape[0]
    _iterate_status("Stephens", n_iter, max_iter, converged)
    out = perms.reshape(*batch, k)
    return (out, n_iter) if return_n_iter else out


def ecr_iterative(
    allocations: Any,
    n_components: int | None = None,
    *,
    reference: Any = None,
    max_iter: int = 100,
    return_n_iter: bool = False,
) -> np.ndarray | tuple[np.ndarray, int]:
    r"""Iterative equivalence-classes-representatives (ECR) relabelling.

    Following Papastamoulis & Iliopoulos (2010), each draw is relabelled so that its allocation
    vector agrees as much as possible with a pivot allocation :math:`\hat z`: the permutation
    maximises :math:`\sum_j \#\{i : \hat z_i = j,\ z_{d,i} = \mathrm{perm}_d(j)\}`. The pivot is
    then replaced by the most frequent relabelled allocation of each observation, and the two
    steps repeat until neither changes (the "iterative" version, without a user pivot).

    Given membership probabilities instead of allocations, the agreement count is replaced by
    its expectation :math:`\sum_i 1(\hat z_i = j)\, p_{d,i,\mathrm{perm}_d(j)}` and the pivot by
    :math:`\hat z_i = \arg\max_j` of the mean relabelled probabilities — the probability-based
    variant in the spirit of ``ecr.iterative.2`` of the R package label.switching (Papastamoulis
    2016); it uses no sampled allocations, so it is deterministic.

    Parameters
    ----------
    allocations : array-like of int of shape ``(*batch, n)``, or float ``(*batch, n, K)``
        Sampled allocations (labels in 0..K-1) or membership probabilities per draw.
    n_components : int, optional
        K for integer allocations (default: the largest label + 1); ignored for probabilities.
    reference : array-like of shape (n,) (allocation) or (n, K) (probabilities), optional
        Initial pivot (e.g. the EM MAP allocation): the result is labelled like it. Default:
        the allocation of the first draw.
    max_iter, return_n_iter
        As in :func:`stephens`.

    Returns
    -------
    perms, n_iter
        As in :func:`stephens`: ``relabelled[..., j] = original[..., perms[..., j]]``.
    """
    a = np.asarray(allocations)
    if a.dtype.kind in "iub":
        if a.ndim < 1 or a.size == 0:
            raise ValueError(f"allocations must have shape (..., n); got shape {a.shape}.")
        if np.any(a < 0):
            raise ValueError(
                f"allocations must be labels 0..K-1; found {int(a.min())}. Shift labels to 0-based."
            )
        k = int(a.max()) + 1 if n_components is None else int(n_components)
        if k < int(a.max()) + 1:
            raise ValueError(
                f"allocations contain label {int(a.max())} but n_components={k}; pass the right K."
            )
        z = (a[..., None] == np.arange(k)).astype(float)  # (*batch, n, K)
    elif a.dtype.kind == "f":
        z = _check_probs(a, "allocation probabilities")
        k = z.shape[-1]
    else:
        raise TypeError(
            f"allocations must be integer labels (..., n) or float probabilities (..., n, K); "
            f"got dtype {a.dtype}."
        )
    batch = z.shape[:-2]
    n = z.shape[-2]
    flat = z.reshape(-1, n, k)
    zt = np.ascontiguousarray(np.swapaxes(flat, 1, 2))  # (D, K_l, n)
    if reference is None:
        piv = np.argmax(flat[0], axis=-1)
    else:
        r = np.asarray(reference)
        if r.shape == (n, k):
            piv = np.argmax(r, axis=-1)
        elif r.shape == (n,) and r.dtype.kind in "iu" and r.min() >= 0 and r.max() < k:
            piv = r.astype(np.intp)
        else:
            raise ValueError(
                f"reference must be an allocation of shape ({n},) with labels 0..{k - 1} or "
                f"probabilities of shape {(n, k)}; got shape {r.shape}, dtype {r.dtype}."
            )
    perms = None
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007
        pivot_onehot = (piv[:, None] == np.arange(k)).astype(float)  # (n, K_j)
        agree = zt @ pivot_onehot  # (D, l, j)
        new = best_permutations(-np.swapaxes(agree, 1, 2))
        counts = np.einsum("dln,djl->nj", zt, onehot_permutations(new, k))
        new_piv = np.argmax(counts, axis=-1)
        if perms is not None and np.array_equal(new, perms) and np.array_equal(new_piv, piv):
            converged = True
            break
        perms, piv = new, new_piv
    _iterate_status("ECR", n_iter, max_iter, converged)
    out = perms.reshape(*batch, k)
    return (out, n_iter) if return_n_iter else out
