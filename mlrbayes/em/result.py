"""What :func:`mlrbayes.em.fit_em` returns: the result, the census types and the warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import likelihood as _lik
from .. import summary as summaries
from .._validation import check_random_state, check_X
from ..params import param_names
from ..spec import Dataset, as_dataset

__all__ = ["ConvergenceWarning", "EMResult", "NumericalWarning", "Optimum", "StartResult"]


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood gain fell below ``tol``."""


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
        components), in words.
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
    """

    loglik: float
    weights: np.ndarray
    intercept: np.ndarray
    coef: np.ndarray
    sigma: float | np.ndarray
    count: int
    starts: tuple[int, ...]
    degenerate: bool


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
        Distinct optima: non-degenerate before degenerate, each by decreasing log-likelihood;
        ``optima[0]`` is the returned estimate.
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
        return param_names(
            self.n_components,
            self.feature_names,
            fit_intercept=self.fit_intercept,
            sigma=self.sigma_setting,
        )

    # ------------------------------------------------------------------ prediction
    def _sigma_k(self) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.sigma, dtype=float), (self.n_components,))

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

    def predict_proba(self, X, y=None) -> np.ndarray:
        """Membership probabilities of new observations, shape (n, K).

        ``X`` of shape (n, p) and ``y`` of shape (n,), or a :class:`~mlrbayes.spec.Dataset`.
        """
        data = self._check_new_data(X, y)
        return _lik.responsibilities(
            data.X, data.y, self.weights, self.intercept, self.coef, self._sigma_k()
        )

    def predict(self, X) -> np.ndarray:
        """Mixture mean ``sum_k pi_k (b_k + c_k x)``, shape (n,)."""
        Xa = self._check_new_X(X)
        return _lik.component_means(Xa, self.intercept, self.coef) @ self.weights

    def sample(self, X, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw new responses at ``X``: returns ``(y, labels)``, each of shape (n,)."""
        Xa = self._check_new_X(X)
        rng = check_random_state(random_state)
        labels = rng.choice(self.n_components, size=Xa.shape[0], p=self.weights)
        mu = _lik.component_means(Xa, self.intercept, self.coef)
        y = mu[np.arange(Xa.shape[0]), labels] + self._sigma_k()[labels] * rng.standard_normal(
            Xa.shape[0]
        )
        return y, labels

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per observation of ``(X, y)`` (or of a ``Dataset``)."""
        data = self._check_new_data(X, y)
        ll = _lik.pointwise_loglik(
            data.X, data.y, self.weights, self.intercept, self.coef, self._sigma_k()
        )
        return float(np.mean(ll))

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
