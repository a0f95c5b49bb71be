"""A scikit-learn estimator around :func:`mlrbayes.em.fit_em`, and scorers for model choice.

:class:`MixtureRegressionEM` inherits scikit-learn's ``RegressorMixin`` and ``BaseEstimator``, so
it works in ``Pipeline``, ``cross_val_score``, ``GridSearchCV``, ``clone`` and the other
meta-estimators, and passes ``sklearn.utils.estimator_checks.check_estimator`` (the one check
that cannot apply is listed, with its reason, by :func:`expected_failed_checks`).

Model choice: ``score(X, y)`` is the mean log-likelihood (higher is better), so a grid search
without ``scoring`` picks the K with the best held-out likelihood; it has no penalty for the
extra parameters and often differs little between the true K and a larger one. For information
criteria pass one of the scorers here, which return the *negated* criterion so that, as
scikit-learn expects, higher is better::

    from sklearn.model_selection import GridSearchCV
    from mlrbayes.estimator import MixtureRegressionEM, bic_scorer

    search = GridSearchCV(MixtureRegressionEM(), {"n_components": [1, 2, 3, 4]},
                          scoring=bic_scorer, cv=5).fit(X, y)
    search.best_params_["n_components"]

With cross-validation folds each criterion is computed on the held-out fold
(``-2 loglik_test + d log n_test``); ``cv=[(idx, idx)]`` with ``idx = np.arange(n)`` gives the
classical in-sample BIC (as :func:`mlrbayes.selection.select_components` does).
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
from scipy.special import entr
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import check_X
from .em import EMResult, fit_em
from .em import predict as em_predict
from .em.fit import is_dask_input
from .formula import formula_intercept
from .spec import Dataset, as_dataset, resolve_dataset

__all__ = [
    "MixtureRegressionEM",
    "NotFittedError",
    "aic_scorer",
    "bic_scorer",
    "expected_failed_checks",
    "icl_scorer",
]

# ``NotFittedError`` is scikit-learn's (a ValueError and an AttributeError), re-exported so that
# ``from mlrbayes.estimator import NotFittedError`` keeps working.

# scikit-learn checks the structure (2-d, dense, real, sizes, names, y 1-d and finite); the
# package's own checks then convert to float, naming a non-numeric column or response and the
# row and column of a missing or infinite value in X.
_LENIENT: dict[str, Any] = {"dtype": None, "ensure_all_finite": False}

_NOT_FITTED = "this %(name)s is not fitted yet; call fit(X, y) before using it."


def _default_names(p: int) -> tuple[str, ...]:
    return tuple(f"x{j}" for j in range(p))


class MixtureRegressionEM(RegressorMixin, BaseEstimator):
    r"""Mixture of linear regressions fitted by EM, as a scikit-learn regressor.

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
        ``.responsibilities`` (n_samples, K; membership of the training data given their
        responses) and ``.standard_errors`` (see :func:`mlrbayes.uncertainty.standard_errors`).
    result_ : EMResult
        Everything :func:`~mlrbayes.em.fit_em` returned, including the census of local optima
        and the predictor names (``result_.feature_names``: ``x0, x1, ...`` for arrays).
    n_features_in_ : int
        Number of predictors seen in :meth:`fit`; checked at prediction time.
    feature_names_in_ : ndarray of str, shape ``(n_features_in_,)``
        Column names of ``X`` in :meth:`fit`, defined only when it had string column names (a
        DataFrame, or a :class:`~mlrbayes.spec.Dataset` with names other than ``x0, x1, ...``);
        then prediction checks them (scikit-learn's rule: a plain array warns, other names
        raise).

    Notes
    -----
    Membership probabilities follow one rule: :meth:`predict_proba` ``(X)`` gives the prior
    membership of new rows (the weights at every row; scikit-learn's meaning, no response
    needed), :meth:`membership` ``(X, y)`` the membership given the response.

    Input checks are scikit-learn's (``validate_data``: 2-d ``X``, no sparse or complex data,
    at least 2 rows and 1 column, ``n_features_in_`` and column names at prediction time, a
    ``DataConversionWarning`` for ``y`` of shape (n, 1)), then the package's own (a missing or
    infinite value is reported with its row and column). A checked
    :class:`~mlrbayes.spec.Dataset` is used as it is.

    Examples
    --------
    >>> from mlrbayes import simulate
    >>> X, y, _ = simulate(300, [0.5, 0.5], [0.0, 5.0], [[1.0], [-1.0]], 0.5, random_state=0)
    >>> model = MixtureRegressionEM(2, random_state=0).fit(X, y)
    >>> sorted(np.round(model.intercept_).tolist())
    [0.0, 5.0]
    >>> model.predict_interval(X[:1]).shape
    (1, 2)
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

    def __sklearn_tags__(self):
        """scikit-learn tags: a single-output regressor on dense, finite, 2-d numeric ``X``.

        ``regressor_tags.poor_score`` is set because :meth:`score` is the mean log-likelihood,
        not R²: scikit-learn's check that a regressor scores above 0.5 on its test data reads
        the score as an R² (the mixture mean's R² there is 0.80; the test suite checks it).
        """
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True  # score is a log-likelihood, not R²
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = False
        return tags

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _param_order(cls) -> list[str]:
        return [n for n in inspect.signature(cls.__init__).parameters if n != "self"]

    def set_params(self, **params: Any) -> MixtureRegressionEM:
        """Set constructor arguments; returns ``self``. Fitted attributes are left as they are."""
        valid = self._param_order()
        for name in params:
            if name.partition("__")[0] not in valid:
                raise ValueError(
                    f"{name!r} is not a parameter of MixtureRegressionEM; valid parameters are "
                    f"{valid}."
                )
        return super().set_params(**params)

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        """Constructor call with ``n_components`` and the arguments that differ from defaults."""
        defaults = type(self)().get_params(deep=False)
        params = self.get_params(deep=False)
        args = [
            f"{k}={params[k]!r}"
            for k in self._param_order()
            if k == "n_components" or not _same(params[k], defaults[k])
        ]
        return f"{type(self).__name__}({', '.join(args)})"

    # ------------------------------------------------------------------ fitting
    def fit(
        self, X: Any, y: Any = None, *, sample_weight: Any = None, concomitant: Any = None,
        fixed: Any = None, groups: Any = None, data: Any = None,
    ) -> MixtureRegressionEM:  # fmt: skip
        """Fit by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), Dataset, or str
            A DataFrame's column names are kept (``feature_names_in_``); a checked
            :class:`mlrbayes.spec.Dataset` is used as it is (then ``y`` is None); a model
            formula ``"y ~ x + C(g)"`` is read from ``data`` (:mod:`mlrbayes.formula`; its
            ``- 1`` means no intercepts, and new DataFrames are transformed by the same
            formula at prediction time).
        y : array-like of shape (n_samples,) or None
        sample_weight : array-like of shape (n_samples,) or str, optional
            Positive observation (replication) weights, or their column name in ``data``.
        concomitant, fixed : array-like, str or list of str, optional
            Gating covariates and predictors with coefficients shared by all components:
            arrays, or with ``data`` a one-sided formula or column names.
        groups : array-like of shape (n_samples,) or str, optional
            Group labels (a group's observations share one component), or their column name.
        data : pandas.DataFrame, optional
            Where a formula and column names are looked up.

        Returns
        -------
        self
        """
        extras = (sample_weight, concomitant, fixed, groups, data)
        y_fit = None
        if is_dask_input(X, y):
            if any(v is not None for v in extras):
                raise ValueError(
                    "sample_weight, concomitant, fixed, groups and data need in-memory data; "
                    "the Dask engine fits the plain model only."
                )
            data_, y_fit = self._fit_dask(X, y)
        elif isinstance(X, str) or any(v is not None for v in extras):
            ds = resolve_dataset(
                X, y, data=data, concomitant=concomitant, fixed=fixed, groups=groups,
                weights=sample_weight,
            )  # fmt: skip
            data_ = self._fit_data(ds, None)
        else:
            data_ = self._fit_data(X, y)
        self.design_ = getattr(data_, "design", None)
        fit_intercept = formula_intercept(data_, self.fit_intercept) if y_fit is None else (
            self.fit_intercept
        )  # fmt: skip
        kwargs: dict[str, Any] = {
            "sigma": self.sigma,
            "fit_intercept": fit_intercept,
            "n_init": self.n_init,
            "init": self.init,
            "tol": self.tol,
            "max_iter": self.max_iter,
            "random_state": self.random_state,
            "order": self.order,
        }
        result = fit_em(data_, y_fit, self.n_components, **kwargs)
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
        return self

    def _fit_dask(self, X: Any, y: Any) -> tuple[Any, Any]:
        """Dask input (fitted out of core, :mod:`mlrbayes.em.dask_engine`): the bookkeeping
        scikit-learn's checks would do, from the collection's shape and columns."""
        self.n_features_in_ = int(X.shape[1]) if X.ndim == 2 else 1
        names = list(getattr(X, "columns", []))
        if names:
            self.feature_names_in_ = np.asarray([str(c) for c in names], dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return X, y

    def _lazy(self, what: str, X: Any, y: Any = None, **kw: Any) -> Any:
        """For Dask input, the prediction as a lazy dask array (see
        :meth:`mlrbayes.em.EMResult.predict_proba`); None for other input."""
        if not is_dask_input(X, y):
            return None
        check_is_fitted(self, "result_", msg=_NOT_FITTED)
        return getattr(self.result_, what)(X, *([] if y is None else [y]), **kw)

    def _fit_data(self, X: Any, y: Any) -> Dataset:
        """scikit-learn's checks and bookkeeping (``n_features_in_``, names), then a Dataset."""
        if not isinstance(X, Dataset):
            validate_data(self, X, y, ensure_min_samples=2, **_LENIENT)
            return as_dataset(X, y)
        data = as_dataset(X, y)  # refuses a y next to a Dataset
        self.n_features_in_ = data.n_features
        if data.feature_names != _default_names(data.n_features):
            self.feature_names_in_ = np.asarray(data.feature_names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return data

    # ------------------------------------------------------------------ checks of new data
    def _from_formula(self, X: Any) -> Any:
        """A DataFrame of new rows through the fitted formula (a Dataset); else ``X``."""
        design = getattr(self, "design_", None)
        if design is None or not design.formula or not hasattr(X, "columns"):
            return X
        return design.transform(X)

    def _new_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "result_", msg=_NOT_FITTED)
        X = self._from_formula(X)
        if isinstance(X, Dataset):
            self._check_dataset(X)
            return X.X
        validate_data(self, X, reset=False, **_LENIENT)
        return check_X(X)[0]

    def _new_data(self, X: Any, y: Any) -> Dataset:
        check_is_fitted(self, "result_", msg=_NOT_FITTED)
        design = getattr(self, "design_", None)
        if design is not None and design.formula and hasattr(X, "columns"):
            # new rows through the fitted formula; the response from them unless y is given
            data = design.transform(X, response=y is None)
            if y is not None:
                data = data.with_response(check_X(np.asarray(y, dtype=float)[:, None])[0][:, 0])
            self._check_dataset(data)
            return data
        if isinstance(X, Dataset):
            data = as_dataset(X, y)
            self._check_dataset(data)
            return data
        validate_data(self, X, y, reset=False, **_LENIENT)
        return as_dataset(X, y)

    def _check_dataset(self, data: Dataset) -> None:
        if data.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {data.n_features} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and list(data.feature_names) != list(fitted):
            raise ValueError(
                f"The feature names should match those that were passed during fit: the "
                f"Dataset has {list(data.feature_names)}, the model was fitted with "
                f"{list(fitted)}."
            )

    # ------------------------------------------------------------------ prediction
    def predict(self, X: Any, component: int | None = None) -> np.ndarray:
        """Mixture mean ``sum_k pi_k (b_k + c_k^T x)`` at each row, or one line; shape (n,).

        The mixture mean is what scikit-learn's tools score and compare, but it is a poor
        summary of a mixture of regressions: when the lines cross or lie apart it falls between
        them, where few observations are. See :meth:`predict_components` (every line at each
        row), :meth:`predict_interval` (where a new response falls) and
        ``predict(X, component=k)`` (line k).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or Dataset
        component : int or None, default None
            ``None`` for the mixture mean, ``k`` (0 <= k < K) for component k's line.
        """
        if (lazy := self._lazy("predict", X, component=component)) is not None:
            return lazy
        Xa = self._new_X(X)
        return em_predict.mixture_mean(self.result_, Xa, component)

    def predict_components(self, X: Any) -> np.ndarray:
        """Each component's line ``b_k + c_k^T x`` at each row, shape (n_samples, K)."""
        if (lazy := self._lazy("predict_components", X)) is not None:
            return lazy
        Xa = self._new_X(X)
        return em_predict.component_means(self.result_, Xa)

    def predict_interval(self, X: Any, level: float = 0.95) -> np.ndarray:
        """Central predictive interval for a new response at each row, shape (n_samples, 2).

        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the fitted mixture
        ``sum_k pi_k N(b_k + c_k^T x, sigma_k^2)``, found per row by bisection of its CDF.
        Estimation uncertainty of the parameters is not included. When the lines lie far apart
        the interval spans the gap between them: a mixture's predictive distribution can be
        bimodal, and the interval says where a new response falls, not where it is likely.
        """
        if (lazy := self._lazy("predict_interval", X, level=level)) is not None:
            return lazy
        Xa = self._new_X(X)
        return em_predict.predict_interval(self.result_, Xa, level)

    def predict_proba(self, X: Any, y: Any = None) -> np.ndarray:
        """Prior membership probabilities of new rows, shape (n_samples, K).

        Which component an observation at ``x`` will come from before its response is seen:
        the weights at every row. For membership given the response, :meth:`membership`.

        .. deprecated:: 0.2
            ``predict_proba(X, y)`` (or a ``Dataset``) returns membership given the response with
            a ``FutureWarning`` for one release; call ``membership(X, y)``.
        """
        if y is not None or isinstance(X, Dataset):
            warnings.warn(em_predict.MEMBERSHIP_RENAMED, FutureWarning, stacklevel=2)
            return self.membership(X, y)
        if y is None and (lazy := self._lazy("predict_proba", X)) is not None:
            return lazy
        Xa = self._new_X(X)
        return em_predict.prior_membership(self.result_, Xa)

    def membership(self, X: Any, y: Any = None) -> np.ndarray:
        """Membership probabilities of observations ``(X, y)`` given the response, (n, K).

        ``gamma_ik = pi_k N(y_i | mu_ik, s_k^2) / sum_j pi_j N(y_i | mu_ij, s_j^2)``; rows sum
        to 1. ``membership(X_train, y_train)`` equals ``responsibilities_``.
        """
        if (lazy := self._lazy("membership", X, y)) is not None:
            return lazy
        data = self._new_data(X, y)
        return em_predict.membership(self.result_, data.X, data.y)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood per observation of ``(X, y)`` (higher is better).

        Not scikit-learn's default R² for regressors: the model is a distribution, and its
        likelihood is what EM maximises. For BIC/ICL model choice see :func:`bic_scorer`.
        """
        data = self._new_data(X, y)
        return em_predict.mean_loglik(self.result_, data.X, data.y)

    def sample(self, X: Any, random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw responses at ``X`` from the fitted mixture.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        labels : ndarray of shape (n_samples,)
            The component each draw came from.
        """
        Xa = self._new_X(X)
        return em_predict.sample(self.result_, Xa, random_state)

    # ------------------------------------------------------------------ model choice
    def _loglik_n(self, X: Any, y: Any) -> tuple[float, int]:
        check_is_fitted(self, "result_", msg=_NOT_FITTED)
        if X is None and y is None:
            return self.result_.loglik, self.result_.n_samples
        if X is None or (y is None and not isinstance(X, Dataset)):
            raise ValueError("pass both X and y, or neither (to use the training data).")
        data = self._new_data(X, y)
        return em_predict.mean_loglik(self.result_, data.X, data.y) * data.n_samples, (
            data.n_samples
        )

    def aic(self, X: Any = None, y: Any = None) -> float:
        """Akaike information criterion ``-2 loglik + 2 d`` (smaller is better).

        Without arguments, of the training data (equal to ``result_.aic``); with ``X`` and ``y``,
        of those data at the fitted parameters. ``d`` is ``result_.n_parameters``.
        """
        ll, _ = self._loglik_n(X, y)
        return -2.0 * ll + 2.0 * self.result_.n_parameters

    def bic(self, X: Any = None, y: Any = None) -> float:
        """Bayesian information criterion ``-2 loglik + d log n`` (smaller is better).

        Without arguments, of the training data (equal to ``result_.bic``); with ``X`` and ``y``,
        of those data with ``n = len(y)``.
        """
        ll, n = self._loglik_n(X, y)
        return -2.0 * ll + self.result_.n_parameters * float(np.log(n))

    def icl(self, X: Any = None, y: Any = None) -> float:
        """Integrated completed likelihood, ``BIC + 2 * entropy`` (smaller is better).

        Entropy ``-sum_ik gamma_ik log gamma_ik`` of the memberships given the response.
        Without arguments, of the training data (``result_.icl``); with ``X`` and ``y``, the BIC
        of those data plus twice the entropy of :meth:`membership` ``(X, y)``.
        """
        check_is_fitted(self, "result_", msg=_NOT_FITTED)
        if X is None and y is None:
            return self.result_.icl
        ent = float(np.sum(entr(self.membership(X, y))))
        return self.bic(X, y) + 2.0 * ent


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


# ---------------------------------------------------------------------- scorers
def _final_step(estimator: Any, X: Any) -> tuple[Any, Any]:
    """The fitted mixture and ``X`` as it sees it (through a Pipeline's transforms)."""
    if hasattr(estimator, "bic"):
        return estimator, X
    if hasattr(estimator, "steps"):  # a Pipeline ending in MixtureRegressionEM
        return estimator[-1], estimator[:-1].transform(X)
    raise TypeError(
        f"the criterion scorers need a fitted MixtureRegressionEM (or a Pipeline ending in one); "
        f"got {type(estimator).__name__}."
    )


def bic_scorer(estimator: Any, X: Any, y: Any) -> float:
    """Minus the BIC of ``(X, y)`` under a fitted estimator: a scorer, higher is better.

    For ``GridSearchCV(..., scoring=bic_scorer)`` or ``cross_val_score``. ``estimator`` is a
    fitted :class:`MixtureRegressionEM` or a ``Pipeline`` ending in one. On a held-out fold
    ``n`` is the fold's size.
    """
    est, Xt = _final_step(estimator, X)
    return -est.bic(Xt, y)


def icl_scorer(estimator: Any, X: Any, y: Any) -> float:
    """Minus the ICL of ``(X, y)`` (:meth:`MixtureRegressionEM.icl`): higher is better."""
    est, Xt = _final_step(estimator, X)
    return -est.icl(Xt, y)


def aic_scorer(estimator: Any, X: Any, y: Any) -> float:
    """Minus the AIC of ``(X, y)`` (:meth:`MixtureRegressionEM.aic`): higher is better."""
    est, Xt = _final_step(estimator, X)
    return -est.aic(Xt, y)


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    """scikit-learn estimator checks that cannot apply to a mixture regressor, with reasons.

    For ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)`` or
    ``check_estimator(est, expected_failed_checks=expected_failed_checks(est))``.
    """
    return {
        "check_regressors_no_decision_function": (
            "a mixture regressor has predict_proba: the prior probabilities of its K components "
            "for new X (as GaussianMixture has), not class probabilities; the check assumes a "
            "regressor has no predict_proba at all. (With K >= 2 the check's 10 rows and 4 "
            "features are also too few to fit: the estimator refuses them with a ValueError.)"
        ),
        "check_sample_weight_equivalence_on_dense_data": (
            "the check's data (27 rows of 30 features after repetition) are too few for one "
            "regression line with an intercept, so the estimator refuses them with a "
            "ValueError; integer weights equal repeated rows is tested on data a mixture "
            "can be fitted to (tests of the weighted EM)."
        ),
    }
