"""The model specification every layer reads: checked data and the model's settings.

Two small frozen types travel from the entry of a workflow to every layer below it, so the
data are checked once:

* :class:`Dataset` — the response and the predictors as checked float64 arrays with their
  names, and the optional parts of the extended model: gating (concomitant) covariates,
  groups whose observations share one component, predictors whose coefficients are fixed
  across components, and observation weights. A layer that does not use them is unaffected;
  ``Dataset.is_plain`` says whether any is present.
* :class:`ModelSpec` — the number of components, the σ setting and whether an intercept is
  fitted.

Every public entry point accepts either raw array-likes (checked by :func:`as_dataset`) or a
:class:`Dataset` (used as it is), so a workflow that checked the data once passes the
``Dataset`` on and nothing is checked twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._validation import check_sigma, check_X, check_X_y, check_y

__all__ = ["Dataset", "ModelSpec", "as_dataset", "resolve_dataset", "sigma_setting"]


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Checked data for one fit.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        Predictors, float64, C-contiguous, finite.
    y : ndarray of shape (n_samples,)
        Response, float64, finite.
    feature_names : tuple of str
        Column names of ``X`` (pandas names kept; ``x0, x1, ...`` otherwise).
    target_name : str
        Name of the response.
    concomitant : ndarray of shape (n_samples, q), optional
        Gating design ``W`` for ``P(z_i = j | w_i) = softmax_j(w_i^T gamma)``. Its first column
        is the constant 1 (the gating intercept); ``None`` means constant mixing weights.
    concomitant_names : tuple of str
        Column names of ``concomitant`` (the first is ``"(Intercept)"``).
    fixed : ndarray of shape (n_samples, r), optional
        Predictors ``U`` whose coefficients ``delta`` are shared by all components.
    fixed_names : tuple of str
    groups : ndarray of shape (n_samples,) of int, optional
        Group codes ``0..G-1``; all observations of a group share one component.
    group_labels : tuple of str
        The original label of each group code.
    sample_weight : ndarray of shape (n_samples,), optional
        Positive replication weights: each observation's (with groups, each group's) marginal
        log-likelihood term is multiplied by its weight, so weight 2 counts a row twice.
        Constant within a group. ``None`` means unit weights.
    design : FormulaDesign, optional
        The formulas the data were built from (:mod:`mlrbayes.formula`): whether the formula
        keeps the intercept, and the model specifications that rebuild the design for new
        rows. ``None`` for array input.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str = "y"
    concomitant: np.ndarray | None = None
    concomitant_names: tuple[str, ...] = ()
    fixed: np.ndarray | None = None
    fixed_names: tuple[str, ...] = ()
    groups: np.ndarray | None = None
    group_labels: tuple[str, ...] = ()
    sample_weight: np.ndarray | None = None
    design: Any = None

    @property
    def is_plain(self) -> bool:
        """True when no gating, fixed coefficients, groups or weights are present."""
        return (
            self.concomitant is None
            and self.fixed is None
            and self.groups is None
            and self.sample_weight is None
        )

    @property
    def n_groups(self) -> int | None:
        """G, the number of groups, or ``None`` without groups."""
        return None if self.groups is None else len(self.group_labels)

    def with_response(self, y: np.ndarray) -> Dataset:
        """The same design with another response (e.g. one simulated from a fit)."""
        y = np.ascontiguousarray(y, dtype=float).reshape(-1)
        if y.shape != self.y.shape:
            raise ValueError(f"y must have shape {self.y.shape}; got {y.shape}.")
        return replace(self, y=y)

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def __repr__(self) -> str:
        extra = ""
        if self.concomitant is not None:
            extra += f", concomitant={list(self.concomitant_names)}"
        if self.fixed is not None:
            extra += f", fixed={list(self.fixed_names)}"
        if self.groups is not None:
            extra += f", n_groups={self.n_groups}"
        if self.sample_weight is not None:
            extra += ", sample_weight=..."
        return (
            f"Dataset(n_samples={self.n_samples}, features={list(self.feature_names)}, "
            f"target={self.target_name!r}{extra})"
        )


def as_dataset(
    X: Any,
    y: Any = None,
    *,
    concomitant: Any = None,
    fixed: Any = None,
    groups: Any = None,
    sample_weight: Any = None,
) -> Dataset:
    """Check ``X`` and ``y`` once and return a :class:`Dataset`; a ``Dataset`` passes through.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or Dataset
    y : array-like of shape (n_samples,), optional
        Required unless ``X`` is already a ``Dataset`` (then it must be omitted).
    concomitant : array-like of shape (n_samples, q0), optional
        Gating covariates, without the constant (a gating intercept is always added).
    fixed : array-like of shape (n_samples, r), optional
        Predictors whose coefficients are shared by all components.
    groups : array-like of shape (n_samples,), optional
        Group labels (any hashable values); observations with one label share one component.
    sample_weight : array-like of shape (n_samples,), optional
        Positive, finite observation weights.
    """
    extras = (concomitant, fixed, groups, sample_weight)
    if isinstance(X, Dataset):
        if y is not None or any(e is not None for e in extras):
            raise TypeError(
                "pass y only with array-like X (and concomitant, fixed, groups, sample_weight); "
                "a Dataset already holds them."
            )
        return X
    if y is None:
        raise TypeError("y is required: pass the response as the second argument.")
    Xa, ya, names, yname = check_X_y(X, y)
    n = Xa.shape[0]
    parts: dict[str, Any] = {}
    if concomitant is not None:
        W, wnames = _check_block(concomitant, n, "concomitant")
        parts["concomitant"] = np.ascontiguousarray(np.column_stack([np.ones(n), W]))
        parts["concomitant_names"] = ("(Intercept)", *wnames)
    if fixed is not None:
        U, unames = _check_block(fixed, n, "fixed")
        parts["fixed"] = U
        parts["fixed_names"] = tuple(unames)
    if groups is not None:
        parts["groups"], parts["group_labels"] = check_groups(groups, n)
    if sample_weight is not None:
        parts["sample_weight"] = check_sample_weight(sample_weight, n)
    data = Dataset(Xa, ya, tuple(names), yname, **parts)
    if data.groups is not None and data.concomitant is not None:
        check_constant_within_groups(data.concomitant, data.groups, data.concomitant_names)
    if data.groups is not None and data.sample_weight is not None:
        check_constant_within_groups(
            data.sample_weight[:, None], data.groups, ("sample_weight",), what="sample_weight"
        )
    return data


def _check_block(value: Any, n: int, name: str) -> tuple[np.ndarray, list[str]]:
    arr, names = check_X(value, name=name)
    if arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0]} rows but X has {n}; pass one row per observation."
        )
    return np.ascontiguousarray(arr), [
        f"{name}_{c}" if c.startswith("x") and c[1:].isdigit() else c for c in names
    ]


def check_groups(groups: Any, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Group labels → integer codes ``0..G-1`` (in order of first appearance) and the labels."""
    g = np.asarray(groups)
    if g.ndim != 1 or g.shape[0] != n:
        raise ValueError(
            f"groups must be 1-d with one label per observation ({n}); got shape {g.shape}."
        )
    if g.dtype.kind == "f" and not np.all(np.isfinite(g)):
        i = int(np.argwhere(~np.isfinite(g))[0, 0])
        raise ValueError(f"groups contains a missing label ({g[i]!r}) at row {i}; drop the row.")
    if g.dtype == object and any(v is None for v in g):
        i = next(i for i, v in enumerate(g) if v is None)
        raise ValueError(f"groups contains a missing label (None) at row {i}; drop the row.")
    _, first, codes = np.unique(g, return_index=True, return_inverse=True)
    order = np.argsort(first)  # codes in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    labels = tuple(str(g[first[j]]) for j in order)
    return np.ascontiguousarray(rank[codes].astype(np.intp)), labels


def check_sample_weight(sample_weight: Any, n: int) -> np.ndarray:
    """Positive finite observation weights of shape (n,)."""
    v, _ = check_y(sample_weight, name="sample_weight")
    if v.shape[0] != n:
        raise ValueError(
            f"sample_weight has {v.shape[0]} entries but X has {n} rows; pass one per row."
        )
    if np.any(v <= 0):
        i = int(np.argmax(v <= 0))
        raise ValueError(
            f"sample_weight[{i}] = {v[i]!r} is not positive; drop zero-weight rows instead."
        )
    return np.ascontiguousarray(v)


def check_constant_within_groups(
    W: np.ndarray, groups: np.ndarray, names: Sequence[str], what: str = "concomitant column"
) -> None:
    """Gating covariates and weights must not vary within a group (one value per group)."""
    first = np.zeros(groups.max() + 1, dtype=np.intp)
    first[groups[::-1]] = np.arange(groups.size)[::-1]
    bad = np.argwhere(~np.isclose(W, W[first[groups]], rtol=1e-12, atol=0.0))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise ValueError(
            f"{what} {names[j]!r} varies within group {int(groups[i])} (row {i}); gating "
            "covariates and observation weights must be constant within each group."
        )


def sigma_setting(sigma: Any) -> str:
    """``"known"`` for a number or an array of numbers, else the string (shared/component)."""
    return sigma if isinstance(sigma, str) else "known"


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """The model's settings: K, the σ setting and the intercept.

    Attributes
    ----------
    n_components : int
        K, the number of regression lines.
    sigma : float, ndarray of shape (K,), "shared" or "component"
        A known noise sd (one, or one per component), or which σ to estimate.
    fit_intercept : bool
        Whether each component has its own intercept.
    """

    n_components: int
    sigma: Any = "shared"
    fit_intercept: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", check_sigma(self.sigma, self.n_components))

    @property
    def sigma_setting(self) -> str:
        """``"known"``, ``"shared"`` or ``"component"``."""
        return sigma_setting(self.sigma)

    @property
    def sigma_known(self) -> np.ndarray | None:
        """The known σ broadcast to (K,), or ``None`` when σ is estimated."""
        if self.sigma_setting != "known":
            return None
        return np.broadcast_to(np.asarray(self.sigma, dtype=float), (self.n_components,)).copy()


def resolve_dataset(
    X: Any,
    y: Any = None,
    *,
    data: Any = None,
    concomitant: Any = None,
    fixed: Any = None,
    groups: Any = None,
    weights: Any = None,
) -> Dataset:
    """The one entry of every fitting function: arrays, a :class:`Dataset`, or a formula.

    Parameters
    ----------
    X : array-like, Dataset or str
        Predictors (with ``y``), a checked Dataset (alone), or a model formula
        ``"y ~ x1 + x2"`` read from the DataFrame ``data``.
    y : array-like, optional
        The response (array input only).
    data : pandas.DataFrame, optional
        Where formulas and column names are looked up.
    concomitant, fixed : array-like, str or None
        Gating covariates and fixed-coefficient predictors: arrays, or (with ``data``) a
        one-sided formula ``"~ z1 + z2"`` or a column name / list of column names.
    groups, weights : array-like, str or None
        Group labels and observation (replication) weights: arrays, or column names of ``data``.
    """
    if isinstance(X, str) or data is not None:
        from .formula import dataset_from_formula  # formulaic is imported only for formulas

        return dataset_from_formula(
            X, y, data=data, concomitant=concomitant, fixed=fixed, groups=groups, weights=weights
        )
    return as_dataset(
        X, y, concomitant=concomitant, fixed=fixed, groups=groups, sample_weight=weights
    )
