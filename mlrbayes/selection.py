"""Choosing the number of components with AIC, BIC and ICL."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .em import EMResult, fit_em
from .em.fit import is_dask_input
from .spec import as_dataset

__all__ = ["select_components"]

_CRITERIA = ("aic", "bic", "icl")


def _check_ks(ks: Any) -> list[int]:
    if isinstance(ks, numbers.Integral) and not isinstance(ks, bool):
        ks = [ks]
    if isinstance(ks, str) or not isinstance(ks, Iterable):
        raise TypeError(f"ks must be a sequence of integers >= 1, e.g. range(1, 5); got {ks!r}.")
    out = []
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or int(k) < 1:
            raise ValueError(f"ks must hold integers >= 1; got {k!r} in {ks!r}.")
        out.append(int(k))
    if not out:
        raise ValueError("ks is empty; pass the numbers of components to compare, e.g. [1, 2, 3].")
    if len(set(out)) != len(out):
        raise ValueError(f"ks has repeated values {out}; pass each number of components once.")
    return out


def select_components(
    X: Any,
    y: Any,
    ks: Iterable[int],
    *,
    sigma: Any = "shared",
    return_results: bool = False,
    **fit_kwargs: Any,
):
    """Fit one EM per number of components and tabulate AIC, BIC and ICL.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or Dataset
    y : array-like of shape (n_samples,), or None with a :class:`mlrbayes.spec.Dataset`
    ks : iterable of int
        Numbers of components to compare, e.g. ``range(1, 5)``.
    sigma : float, "shared" or "component", default "shared"
        Passed to :func:`~mlrbayes.em.fit_em` for every K (a per-component array of known sds
        only makes sense for a single K).
    return_results : bool, default False
        Also return the :class:`~mlrbayes.em.EMResult` of every K.
    **fit_kwargs
        Further arguments of :func:`~mlrbayes.em.fit_em` (``fit_intercept``, ``n_init``,
        ``init``, ``tol``, ``max_iter``, ``random_state``). An integer ``random_state`` gives every
        K the same seed, so the table is reproducible.

    Returns
    -------
    table : pandas.DataFrame
        One row per K, in the order of ``ks``, with columns ``k``, ``loglik``,
        ``n_parameters``, ``aic``, ``bic``, ``icl``, ``converged``, ``degenerate``,
        ``n_optima`` (distinct optima in the census, grouped by fitted density: a duplicated
        component's weight splits count once), ``n_starts``, and ``best_aic``,
        ``best_bic``, ``best_icl`` (True on the row with the smallest value of that criterion).
        Degenerate fits (a collapsed component: unbounded likelihood) are not eligible as best
        unless every fit is degenerate.
    results : dict of int to EMResult
        Only when ``return_results=True``.

    Examples
    --------
    >>> from mlrbayes import simulate
    >>> X, y, _ = simulate(300, [0.5, 0.5], [0.0, 6.0], [[1.0], [-1.0]], 0.5, random_state=0)
    >>> table = select_components(X, y, [1, 2, 3], n_init=3, random_state=0)
    >>> int(table.loc[table["best_bic"], "k"].iloc[0])
    2
    """
    if "n_components" in fit_kwargs:
        raise TypeError("pass the numbers of components as ks, not n_components.")
    kvals = _check_ks(ks)
    data, y_fit = (X, y) if is_dask_input(X, y) else (as_dataset(X, y), None)  # checked once
    results: dict[int, EMResult] = {}
    rows = []
    for k in kvals:
        res = fit_em(data, y_fit, k, sigma=sigma, **fit_kwargs)
        results[k] = res
        rows.append(
            {
                "k": k,
                "loglik": float(res.loglik),
                "n_parameters": int(res.n_parameters),
                "aic": float(res.aic),
                "bic": float(res.bic),
                "icl": float(res.icl),
                "converged": bool(res.converged),
                "degenerate": bool(res.degenerate),
                "n_optima": len(res.optima),
                "n_starts": len(res.starts),
            }
        )
    table = pd.DataFrame(rows)
    eligible = ~table["degenerate"].to_numpy()
    if not eligible.any():
        eligible[:] = True
    for crit in _CRITERIA:
        values = np.where(eligible, table[crit].to_numpy(), np.inf)
        best = np.zeros(len(table), dtype=bool)
        if np.isfinite(values).any():
            best[int(np.argmin(values))] = True
        table[f"best_{crit}"] = best
    if return_results:
        return table, results
    return table
