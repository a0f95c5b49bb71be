"""The canonical order of the components of a fit.

One documented order everywhere (EM result, census, responsibilities, standard errors, and
through them the posterior relabelling target, the tables, the report and the JSON):

* ``"weight"`` (default): decreasing weight; ties broken by increasing intercept, then by
  increasing coefficients (first feature first); a stable sort, so exact ties keep EM's order;
* ``"intercept"``: increasing intercept, ties by coefficients, then decreasing weight;
* ``"none"``: the order in which EM ended.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_choice

__all__ = ["ORDER_CHOICES", "check_order", "component_order"]

ORDER_CHOICES = ("weight", "intercept", "none")


def check_order(order) -> str:
    """``order`` checked against :data:`ORDER_CHOICES` (a ValueError quotes it)."""
    return check_choice(order, "order", ORDER_CHOICES)


def component_order(
    weights: np.ndarray, intercept: np.ndarray, coef: np.ndarray, order: str
) -> np.ndarray:
    """The permutation putting the components in ``order``.

    Parameters
    ----------
    weights : ndarray of shape (K,)
    intercept : ndarray of shape (K,)
    coef : ndarray of shape (K, p)
    order : {"weight", "intercept", "none"}

    Returns
    -------
    ndarray of int, shape (K,)
        ``perm`` such that ``weights[perm]`` is in the canonical order.

    Examples
    --------
    >>> component_order(np.array([0.3, 0.7]), np.zeros(2), np.array([[1.0], [2.0]]), "weight")
    array([1, 0])
    """
    k = len(weights)
    if order == "none":
        return np.arange(k)
    coef = np.asarray(coef, dtype=float).reshape(k, -1)
    by_coef = [coef[:, j] for j in range(coef.shape[1] - 1, -1, -1)]  # lexsort: last key first
    if order == "weight":
        keys = [*by_coef, np.asarray(intercept, dtype=float), -np.asarray(weights, dtype=float)]
    else:
        keys = [-np.asarray(weights, dtype=float), *by_coef, np.asarray(intercept, dtype=float)]
    return np.lexsort(keys)
