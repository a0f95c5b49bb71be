"""A scikit-learn-style estimator around :func:`mlrbayes.em.fit_em`.

scikit-learn is not a dependency: ``get_params``/``set_params`` are written out here, following
its conventions (the constructor only stores its arguments; fitted attributes end in ``_``), so
the estimator also works with scikit-learn's ``clone`` and model-selection tools when that is
installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .em import EMResult, fit_em
from .spec import Dataset, as_dataset

__all__ = ["MixtureRegressionEM", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before :meth:`MixtureRegressionEM.fit` was called."""


_PARAM_NAMES = (
    "n_components",
    "sigma",
    "fit_intercept",
    "n_init",
    "init",
    "tol",
    "max_iter",
    "random_state",
    "order",
)


class MixtureRegressionEM:
    r"""Mixture of linear regressions fitted by EM.

    .. math::

        y_i \sim \sum_{k=1}^K \pi_k\, \mathcal N(b_k + c_k^\top x_i,\ \sigma_k^2)

    Parameters
    ----------
    n_components : int, default 2
        Number of regression lines K.
    sigma : float, array-like of shape (K,), "shared" or "component", default "shared"
        A positive number fixes a known noise sd; ``"shared"`` estimates one sd, ``"component"``
        one per component.
    fit_intercept : bool, default True
    n_init : int, default 10
        Number of EM starts; the best non-degenerate one is kept and all are in ``result_``'s
        census.
    init : str or dict, default "auto"
        Initialisation strategy, passed to :func:`~mlrbayes.em.fit_em`.
    tol : float, default 1e-8
        Convergence when the log-likelihood gain per observation of an iteration is below it.
    max_iter : int, default 1000
        Iteration limit per start (a ``ConvergenceWarning`` when reached).
    random_state : int, numpy Generator or None, default None
    order : {"weight", "intercept", "none"}, default "weight"
        Order of the fitted components (see :func:`mlrbayes.em.fit_em`).

    Attributes
    ----------
    weights_, intercept_, coef_, sigma_ : ndarray or float
        The estimate: ``result_.weights`` (K,), ``result_.intercept`` (K,; zeros without an
        intercept), ``result_.coef`` (K, n_features) and ``result_.sigma`` (a float, or (K,)
        per component).
    loglik_, converged_, n_iter_, responsibilities_, standard_errors_
        ``result_.loglik`` (of the training data), ``.converged``, ``.n_iter``,
        ``.responsibilities`` (n_samples, K) and ``.standard_errors`` (see
        :func:`mlrbayes.uncertainty.standard_errors`).
    result_ : EMResult
        Everything :func:`~mlrbayes.em.fit_em` returned, including the census of local optima.
    feature_names_in_ : ndarray of str, shape (n_features,)
        Column names of a DataFrame ``X``, else ``x0, x1, ...``.
    n_features_in_ : int

    Examples
    --------
    >>> from mlrbayes import simulate
    >>> X, y, _ = simulate(300, [0.5, 0.5], [0.0, 5.0], [[1.0], [-1.0]], 0.5, random_state=0)
    >>> model = MixtureRegressionEM(2, random_state=0).fit(X, y)
    >>> sorted(np.round(model.intercept_).tolist())
    [0.0, 5.0]
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        sigma: float | str | Any = "shared",
        fit_intercept: bool = True,
        n_init: int = 10,
        init: Any = "auto",
        tol: float = 1e-8,
        max_iter: int = 1000,
        random_state: Any = None,
        order: str = "weight",
    ) -> None:
        self.n_components = n_components
        self.sigma = sigma
        self.fit_intercept = fit_intercept
        self.n_init = n_init
        self.init = init
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.order = order

    # ------------------------------------------------------------------ parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments as a dict (``deep`` is accepted for compatibility)."""
        return {name: getattr(self, name) for name in _PARAM_NAMES}

    def set_params(self, **params: Any) -> MixtureRegressionEM:
        """Set constructor arguments; returns ``self``. Fitted attributes are left as they are."""
        for name, value in params.items():
            if name not in _PARAM_NAMES:
                raise ValueError(
                    f"{name!r} is not a parameter of MixtureRegressionEM; valid parameters are "
                    f"{list(_PARAM_NAMES)}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = MixtureRegressionEM().get_params()
        args = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if k == "n_components" or not _same(v, defaults[k])
        ]
        return f"MixtureRegressionEM({', '.join(args)})"

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None) -> MixtureRegressionEM:
        """Fit by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or Dataset
            A DataFrame's column names are kept (``feature_names_in_``); a checked
            :class:`mlrbayes.spec.Dataset` is used as it is (then ``y`` is None).
        y : array-like of shape (n_samples,) or None

        Returns
        -------
        self
        """
        kwargs: dict[str, Any] = {
            "sigma": self.sigma,
            "fit_intercept": self.fit_intercept,
            "n_init": self.n_init,
            "init": self.init,
            "tol": self.tol,
            "max_iter": self.max_iter,
            "random_state": self.random_state,
            "order": self.order,
        }
        result = fit_em(X, y, self.n_components, **kwargs)
        self.result_: EMResult = result
        self.weights_ = result.weights
        self.intercept_ = result.intercept
        self.coef_ = result.coef
        self.sigma_ = result.sigma
        self.loglik_ = result.loglik
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.responsibilities_ = result.responsibilities
        self.standard_errors_ = result.standard_errors
        self.feature_names_in_ = np.asarray(result.feature_names, dtype=object)
        self.n_features_in_ = len(result.feature_names)
        self._named_columns = hasattr(X, "columns")
        return self

    def _result(self) -> EMResult:
        result = getattr(self, "result_", None)
        if result is None:
            raise NotFittedError(
                "this MixtureRegressionEM is not fitted yet; call fit(X, y) before using it."
            )
        return result

    def _check_columns(self, X: Any) -> None:
        if self._named_columns and hasattr(X, "columns"):
            got = [str(c) for c in X.columns]
            if got != list(self.feature_names_in_):
                raise ValueError(
                    f"X has columns {got} but the model was fitted with "
                    f"{list(self.feature_names_in_)}; pass the same columns in the same order."
                )

    # ------------------------------------------------------------------ prediction
    def predict(self, X: Any) -> np.ndarray:
        """Mixture mean ``sum_k pi_k (b_k + c_k^T x)`` at each row, shape (n_samples,)."""
        result = self._result()
        self._check_columns(X)
        return result.predict(X)

    def predict_proba(self, X: Any, y: Any = None) -> np.ndarray:
        """Membership probabilities of observations ``(X, y)``, shape (n_samples, K)."""
        result = self._result()
        self._check_columns(X)
        return result.predict_proba(X, y)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood per observation of ``(X, y)``."""
        result = self._result()
        self._check_columns(X)
        return result.score(X, y)

    def sample(self, X: Any, random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw responses at ``X`` from the fitted mixture.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        labels : ndarray of shape (n_samples,)
            The component each draw came from.
        """
        result = self._result()
        self._check_columns(X)
        return result.sample(X, random_state=random_state)

    # ------------------------------------------------------------------ model choice
    def _loglik_n(self, X: Any, y: Any) -> tuple[float, int]:
        result = self._result()
        if X is None and y is None:
            return result.loglik, result.n_samples
        if X is None or (y is None and not isinstance(X, Dataset)):
            raise ValueError("pass both X and y, or neither (to use the training data).")
        self._check_columns(X)
        data = as_dataset(X, y)
        return result.score(data) * data.n_samples, data.n_samples

    def aic(self, X: Any = None, y: Any = None) -> float:
        """Akaike information criterion ``-2 loglik + 2 d`` (smaller is better).

        Without arguments, of the training data (equal to ``result_.aic``); with ``X`` and ``y``,
        of those data at the fitted parameters. ``d`` is ``result_.n_parameters``.
        """
        ll, _ = self._loglik_n(X, y)
        return -2.0 * ll + 2.0 * self._result().n_parameters

    def bic(self, X: Any = None, y: Any = None) -> float:
        """Bayesian information criterion ``-2 loglik + d log n`` (smaller is better).

        Without arguments, of the training data (equal to ``result_.bic``); with ``X`` and ``y``,
        of those data with ``n = len(y)``.
        """
        ll, n = self._loglik_n(X, y)
        return -2.0 * ll + self._result().n_parameters * float(np.log(n))

    def icl(self) -> float:
        """Integrated completed likelihood of the training data (``result_.icl``)."""
        return self._result().icl


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b
