"""The model specification every layer reads: checked data and the model's settings.

Two small frozen types travel from the entry of a workflow to every layer below it, so the
data are checked once:

* :class:`Dataset` — the response and the predictors as checked float64 arrays with their
  names. Later versions add gating covariates, groups, coefficients fixed across components
  and observation weights here; a layer that does not use them is unaffected.
* :class:`ModelSpec` — the number of components, the σ setting and whether an intercept is
  fitted.

Every public entry point accepts either raw array-likes (checked by :func:`as_dataset`) or a
:class:`Dataset` (used as it is), so a workflow that checked the data once passes the
``Dataset`` on and nothing is checked twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_sigma, check_X_y

__all__ = ["Dataset", "ModelSpec", "as_dataset", "sigma_setting"]


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
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str = "y"

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def __repr__(self) -> str:
        return (
            f"Dataset(n_samples={self.n_samples}, features={list(self.feature_names)}, "
            f"target={self.target_name!r})"
        )


def as_dataset(X: Any, y: Any = None) -> Dataset:
    """Check ``X`` and ``y`` once and return a :class:`Dataset`; a ``Dataset`` passes through.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or Dataset
    y : array-like of shape (n_samples,), optional
        Required unless ``X`` is already a ``Dataset`` (then it must be omitted).
    """
    if isinstance(X, Dataset):
        if y is not None:
            raise TypeError("pass y only with array-like X; a Dataset already holds the response.")
        return X
    if y is None:
        raise TypeError("y is required: pass the response as the second argument.")
    Xa, ya, names, yname = check_X_y(X, y)
    return Dataset(Xa, ya, tuple(names), yname)


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
