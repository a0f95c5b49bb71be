"""What :func:`mlrbayes.em.fit_em` returns: the result, the census types and the warnings."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import summary as summaries
from .._validation import check_X
from ..params import model_param_names
from ..spec import Dataset, as_dataset
from . import predict as _predict

__all__ = [
    "CensusWarning",
    "ConvergenceWarning",
    "EMResult",
    "NumericalWarning",
    "Optimum",
    "StartResult",
]


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood gain fell below ``tol``."""


class CensusWarning(UserWarning):
    """The census of starts is thin: the best optimum was reached by very few starts (see
    :func:`mlrbayes.em.fit_em`), so further starts may well find a better one."""


class NumericalWarning(UserWarning):
    """A numerical problem with a defined fallback: a singular weighted least-squares problem
    (constant or collinear predictor, a component with almost no weight), an emptied or collapsed
    component, or a log-likelihood that decreased by more than rounding error."""


@dataclass(frozen=True)
class StartResult:
    """Where one EM start ended.

    Attributes
    ----------
    start : int
        Index of the start (0-based, in the order they were run).
    init : str
        Initialisation strategy of this start (``"random"``, ``"binned"``, ``"kmeans"``,
        ``"given"``, ...).
    loglik : float
        Final marginal log-likelihood.
    weights, intercept, coef, sigma
        Final parameters (shapes as in :class:`EMResult`).
    n_iter : int
    converged : bool
    degenerate : bool
        True when a component collapsed (per-component sigma shrinking towards 0 onto a few
        points, or a component emptied): the likelihood is unbounded there, so its value does
        not measure fit.
    decreased : bool
        True when the log-likelihood dropped by more than rounding error: the start was stopped
        at the iterate before the drop (these parameters) and is not converged.
    optimum : int
        Index into ``EMResult.optima`` of the distinct optimum this start reached.
    loglik_trace : ndarray of shape (n_iter + 1,) or None
        Log-likelihood at the start's initial parameters and after each iteration.
    notes : tuple of str
        Numerical events of this start (singular least squares, emptied or collapsed
        components, a perturbation away from the symmetric point), in words.
    saddle : bool
        The start ended with all components equal (the K = 1 fit: a saddle, not an optimum)
        even after perturbations; never returned as the estimate while another start exists.
    """

    start: int
    init: str
    loglik: float
    weights: np.ndarray
    intercept: np.ndarray
    coef: np.ndarray
    sigma: float | np.ndarray
    n_iter: int
    converged: bool
    degenerate: bool
    optimum: int = -1
    loglik_trace: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    decreased: bool = False
    saddle: bool = False


@dataclass(frozen=True)
class Optimum:
    """A distinct local optimum of the likelihood, up to relabelling of the components.

    Attributes
    ----------
    loglik : float
        Best log-likelihood among the starts that reached it.
    weights, intercept, coef, sigma
        Parameters of that best start.
    count : int
        How many starts reached this optimum.
    starts : tuple of int
        Their indices.
    degenerate : bool
    n_variants : int
        Parameter variants with the same fitted density (same log-likelihood and log mixture
        density at every row): more than one means a duplicated component whose split is free.
    saddle : bool
        All components equal: the symmetric point, not an optimum (listed apart).
    """

    loglik: float
    weights: np.ndarray
    intercept: np.ndarray
    coef: np.ndarray
    sigma: float | np.ndarray
    count: int
    starts: tuple[int, ...]
    degenerate: bool
    n_variants: int = 1
    saddle: bool = False

    @property
    def identified(self) -> bool:
        """False when several parameter variants give this fitted density (a duplicated
        component: the parameters are not identified, the density is)."""
        return self.n_variants == 1


@dataclass(frozen=True)
class EMResult:
    """The result of :func:`fit_em`: the best optimum, its diagnostics and the census of starts.

    Attributes
    ----------
    weights : ndarray of shape (K,)
    intercept : ndarray of shape (K,)
        Zeros when ``fit_intercept=False``.
    coef : ndarray of shape (K, p)
    sigma : float or ndarray of shape (K,)
        Noise sd: the given value when known, else the estimate (shared: a float; per
        component: shape (K,)).
    sigma_setting : {"known", "shared", "component"}
    loglik : float
        Marginal log-likelihood at the estimate.
    loglik_trace : ndarray of shape (n_iter + 1,)
        Log-likelihood at the start and after each iteration of the best start (non-decreasing).
    n_iter : int
    converged : bool
    degenerate : bool
    responsibilities : ndarray of shape (n, K)
    starts : tuple of StartResult
        Every start, in order.
    optima : tuple of Optimum
        Distinct optima (grouped by fitted density): not saddle before saddle, non-degenerate
        before degenerate, each by decreasing log-likelihood; ``optima[0]`` is the returned
        estimate.
    fit_intercept : bool
    feature_names : list of str
    target_name : str
    n_samples : int
    covariance : ndarray of shape (d, d) or None
        Inverse observed information (Louis 1982) for the free parameters named by
        ``se_names``; ``None`` if it could not be computed (a warning says why).
    se_names : list of str
        Names of the free parameters (the first K-1 weights, intercepts, coefs, sigma when
        estimated), in the order of ``covariance``.
    standard_errors : dict
        ``{"weights": (K,), "intercept": (K,), "coef": (K, p), "sigma": float or (K,)}``
        standard errors (NaN where unavailable; the last weight's by the delta method;
        ``sigma`` absent when known).
    notes : tuple of str
        Numerical events of the data (extreme values of y) and of the returned start (each
        was also issued as a warning).
    n_screened : int
        Short screening runs of ``init="auto"`` (not counted as starts: a *start* is a run to
        convergence, one per ``n_init``).
    order : {"weight", "intercept", "none"}
        The order of the components (see :mod:`mlrbayes.em.order`).
    """

    weights: np.ndarray
    intercept: np.ndarray
    coef: np.ndarray
    sigma: float | np.ndarray
    sigma_setting: str
    loglik: float
    loglik_trace: np.ndarray
    n_iter: int
    converged: bool
    degenerate: bool
    responsibilities: np.ndarray
    starts: tuple[StartResult, ...]
    optima: tuple[Optimum, ...]
    fit_intercept: bool
    feature_names: list[str]
    target_name: str
    n_samples: int
    covariance: np.ndarray | None = None
    se_names: list[str] = field(default_factory=list)
    standard_errors: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    n_screened: int = 0
    order: str = "none"

    # ------------------------------------------------------------------ census completeness
    @property
    def n_best_starts(self) -> int:
        """Starts that reached the returned optimum."""
        return self.optima[0].count if self.optima else 0

    @property
    def n_singleton_optima(self) -> int:
        """Optima reached by exactly one start."""
        return sum(o.count == 1 for o in self.optima)

    @property
    def p_new_optimum(self) -> float:
        """Good-Turing estimate of the chance that one more start reaches an optimum not yet
        seen: optima reached exactly once / number of starts (Good 1953)."""
        return self.n_singleton_optima / len(self.starts) if self.starts else float("nan")

    # ------------------------------------------------------------------ sizes and criteria
    @property
    def n_components(self) -> int:
        """K, the number of components."""
        return len(self.weights)

    @property
    def n_features(self) -> int:
        """p, the number of predictors."""
        return self.coef.shape[1]

    @property
    def n_parameters(self) -> int:
        """Number of free parameters: K-1 weights, K intercepts (if fitted), K*p slopes, sigma."""
        k, p = self.n_components, self.n_features
        d = (k - 1) + k * p + (k if self.fit_intercept else 0)
        if self.sigma_setting == "shared":
            d += 1
        elif self.sigma_setting == "component":
            d += k
        return d

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``-2 loglik + 2 d``."""
        return -2.0 * self.loglik + 2.0 * self.n_parameters

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``-2 loglik + d log n``."""
        return -2.0 * self.loglik + self.n_parameters * np.log(self.n_samples)

    @property
    def icl(self) -> float:
        """Integrated completed likelihood (Biernacki, Celeux & Govaert 2000), BIC form.

        ``BIC + 2 * entropy`` with entropy ``-sum_ik gamma_ik log gamma_ik``: it penalises
        components that overlap (uncertain memberships). Smaller is better, like AIC and BIC.
        """
        g = self.responsibilities
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.sum(np.where(g > 0, g * np.log(g), 0.0))
        return self.bic + 2.0 * float(ent)

    def param_names(self) -> list[str]:
        """Names of all parameters in the package-wide order (see :mod:`mlrbayes.params`)."""
        return model_param_names(self)

    # ------------------------------------------------------------------ prediction
    # Thin methods over :mod:`mlrbayes.em.predict`; they check the new data first.
    def _sigma_k(self) -> np.ndarray:
        return _predict.component_sds(self)

    def _check_new_X(self, X) -> np.ndarray:
        Xa = X.X if isinstance(X, Dataset) else check_X(X)[0]
        if Xa.shape[1] != self.n_features:
            raise ValueError(
                f"X has {Xa.shape[1]} columns but the model was fitted with {self.n_features} "
                f"({self.feature_names}); pass the same predictors."
            )
        return Xa

    def _check_new_data(self, X, y) -> Dataset:
        data = as_dataset(X, y)
        self._check_new_X(data)
        return data

    def _lazy(self, what: str, X, y=None, **kw):
        """For Dask input, the prediction as a lazy dask array, row block by row block
        (:func:`mlrbayes.em.dask_engine.lazy_prediction`); None for other input."""
        from .fit import is_dask_input

        if not is_dask_input(X, y):
            return None
        from .dask_engine import lazy_prediction

        return lazy_prediction(self, what, X, y, **kw)

    def predict_proba(self, X, y=None) -> np.ndarray:
        """Prior membership probabilities of new rows, shape (n, K).

        Which component an observation at ``X`` (n, p) will come from before its response is
        seen: the weights, repeated for every row. For membership *given the response* use
        :meth:`membership`.

        .. deprecated:: 0.2
            ``predict_proba(X, y)`` (and ``predict_proba(dataset)``) returned membership given
            the response; it still does, with a ``FutureWarning``, for one release. Call
            ``membership(X, y)`` instead.

        For Dask input (array or DataFrame) this and the other prediction methods return a
        lazy dask array.
        """
        if y is None and (lazy := self._lazy("predict_proba", X)) is not None:
            return lazy
        if y is not None or isinstance(X, Dataset):
            warnings.warn(_predict.MEMBERSHIP_RENAMED, FutureWarning, stacklevel=2)
            return self.membership(X, y)
        return _predict.prior_membership(self, self._check_new_X(X))

    def membership(self, X, y=None) -> np.ndarray:
        """Membership probabilities given the response, shape (n, K); rows sum to 1.

        The posterior probability that observation ``(x_i, y_i)`` came from component k at the
        fitted parameters (the E-step's responsibilities for new data). ``X`` of shape (n, p) and
        ``y`` of shape (n,), or a :class:`~mlrbayes.spec.Dataset`.
        """
        if (lazy := self._lazy("membership", X, y)) is not None:
            return lazy
        data = self._check_new_data(X, y)
        return _predict.membership(self, data.X, data.y)

    def predict(self, X, component: int | None = None) -> np.ndarray:
        """Mixture mean ``sum_k pi_k (b_k + c_k^T x)``, or one component's line; shape (n,).

        The mixture mean is a poor summary when the lines cross or lie far apart: it falls
        between the lines, where few observations are. Look at :meth:`predict_components`
        (every line), :meth:`predict_interval` (where new responses fall) or
        ``predict(X, component=k)``.

        Parameters
        ----------
        X : array-like of shape (n, p), or Dataset
        component : int or None
            ``None`` (default) for the mixture mean; ``k`` for line k alone.
        """
        if (lazy := self._lazy("predict", X, component=component)) is not None:
            return lazy
        return _predict.mixture_mean(self, self._check_new_X(X), component)

    def predict_components(self, X) -> np.ndarray:
        """Every component's regression line at each row, ``b_k + c_k^T x``, shape (n, K)."""
        if (lazy := self._lazy("predict_components", X)) is not None:
            return lazy
        return _predict.component_means(self, self._check_new_X(X))

    def predict_interval(self, X, level: float = 0.95) -> np.ndarray:
        """Central predictive interval for a new response at each row, shape (n, 2).

        Columns are the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the fitted
        mixture ``sum_k pi_k N(b_k + c_k^T x, sigma_k^2)`` (found by bisection of its CDF). The
        parameters are taken as known: the interval leaves out their estimation uncertainty.
        With well-separated lines the interval covers the gap between them.
        """
        if (lazy := self._lazy("predict_interval", X, level=level)) is not None:
            return lazy
        return _predict.predict_interval(self, self._check_new_X(X), level)

    def sample(self, X, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw new responses at ``X``: returns ``(y, labels)``, each of shape (n,)."""
        return _predict.sample(self, self._check_new_X(X), random_state)

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per observation of ``(X, y)`` (or of a ``Dataset``)."""
        data = self._check_new_data(X, y)
        return _predict.mean_loglik(self, data.X, data.y)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        return summaries.em_repr(self)

    def summary(self) -> summaries.Summary:
        """Estimates, SEs, z, p, log-likelihood, AIC/BIC/ICL, convergence and the census
        (:func:`mlrbayes.summary.em_summary`); prints as text, shows as HTML in Jupyter."""
        return summaries.em_summary(self)

    def to_frame(self):
        """One row per parameter: estimate, se, z, p (:func:`mlrbayes.summary.em_frame`)."""
        return summaries.em_frame(self)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()
