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
from . import predict_extended as _pext

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
    gating_coef : ndarray of shape (K, q) or None
        Centred gating coefficients (gating models only).
    fixed_coef : ndarray of shape (r,) or None
        Coefficients shared by all components (models with fixed predictors only).
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
    gating_coef: np.ndarray | None = None
    fixed_coef: np.ndarray | None = None


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
    gating_coef, fixed_coef : ndarray or None
        As in :class:`StartResult`.
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
    gating_coef: np.ndarray | None = None
    fixed_coef: np.ndarray | None = None

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
        estimated), in the order of ``covariance``. Extended model
        (:func:`mlrbayes.uncertainty_extended.extended_free_param_names`): then
        ``fixed[<name>]`` last; with gating no weights but all K * q centred
        ``gating[k,<name>]`` after sigma (the covariance of the free reference contrasts mapped
        linearly, so its gating block has rank (K-1) * q).
    standard_errors : dict
        ``{"weights": (K,), "intercept": (K,), "coef": (K, p), "sigma": float or (K,)}``
        standard errors (NaN where unavailable; the last weight's by the delta method;
        ``sigma`` absent when known); the extended model adds ``"gating"`` (K, q) and
        ``"fixed"`` (r,) (with gating, ``"weights"`` are the delta-method SEs of the average
        prior membership).
    notes : tuple of str
        Numerical events of the data (extreme values of y) and of the returned start (each
        was also issued as a warning).
    n_screened : int
        Short screening runs of ``init="auto"`` (not counted as starts: a *start* is a run to
        convergence, one per ``n_init``).
    order : {"weight", "intercept", "none"}
        The order of the components (see :mod:`mlrbayes.em.order`).
    gating_coef : ndarray of shape (K, q) or None
        Gating coefficients of ``P(z = k | w) = softmax_k(w^T gamma_k)``, centred (rows sum to
        0: relabelling permutes the rows); ``None`` without concomitant covariates. Then
        ``weights`` is the average prior membership over units (weighted).
    concomitant_names : list of str
        Names of the gating columns (``"(Intercept)"`` first); empty without gating.
    fixed_coef : ndarray of shape (r,) or None
        Coefficients shared by all components; ``None`` without fixed predictors.
    fixed_names : list of str
    n_groups : int or None
        G, the number of groups (units sharing one component), or ``None``.
    group_labels : list of str
    weighted : bool
        Whether observation (replication) weights were given.
    group_codes : ndarray of shape (n_samples,) or None
        The group of each observation (codes ``0..G-1``).
    unit_weights : ndarray of shape (n_units,) or None
        Each unit's weight (``None``: all 1).
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
    gating_coef: np.ndarray | None = None
    concomitant_names: list[str] = field(default_factory=list)
    fixed_coef: np.ndarray | None = None
    fixed_names: list[str] = field(default_factory=list)
    n_groups: int | None = None
    group_labels: list[str] = field(default_factory=list)
    weighted: bool = False
    group_codes: np.ndarray | None = None
    unit_weights: np.ndarray | None = None

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
        """Number of free parameters: K-1 weights (with gating (K-1)*q gating coefficients
        instead), K intercepts (if fitted), K*p slopes, r fixed coefficients, the sigmas."""
        k, p = self.n_components, self.n_features
        mixing = (k - 1) if self.gating_coef is None else (k - 1) * self.gating_coef.shape[1]
        d = mixing + k * p + (k if self.fit_intercept else 0)
        d += 0 if self.fixed_coef is None else self.fixed_coef.shape[0]
        if self.sigma_setting == "shared":
            d += 1
        elif self.sigma_setting == "component":
            d += k
        return d

    @property
    def is_plain(self) -> bool:
        """True without gating, fixed coefficients, groups and weights (today's model)."""
        parts = (self.gating_coef, self.fixed_coef, self.n_groups)
        return all(part is None for part in parts) and not self.weighted

    @property
    def n_bic(self) -> float:
        """The ``n`` of BIC: the number of observations, or the sum of the observation
        weights when weighted (also with groups).

        This is R flexmix's choice (its ``nobs`` is the number of rows of the posterior, one
        per observation, or the sum of the weights; file ``R/infocrit.R``; its vignette's
        grouped NPreg fit prints BIC 1170.815 = -2 (-561.5651) + 9 log 200), so BICs can be
        compared with flexmix's. With groups the number of independent units is G, which
        would penalise less; we keep the observation count for comparability.
        """
        if self.unit_weights is None:
            return float(self.n_samples)
        if self.group_codes is None:
            return float(self.unit_weights.sum())
        return float(self.unit_weights[self.group_codes].sum())

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``-2 loglik + 2 d``."""
        return -2.0 * self.loglik + 2.0 * self.n_parameters

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``-2 loglik + d log n`` (``n``: :attr:`n_bic`)."""
        return -2.0 * self.loglik + self.n_parameters * np.log(self.n_bic)

    @property
    def unit_responsibilities(self) -> np.ndarray:
        """Membership probabilities per unit (group, or observation), shape (n_units, K)."""
        if self.group_codes is None:
            return self.responsibilities
        first = np.zeros(self.n_groups, dtype=np.intp)
        first[self.group_codes[::-1]] = np.arange(self.group_codes.size)[::-1]
        return self.responsibilities[first]

    @property
    def icl(self) -> float:
        """Integrated completed likelihood (Biernacki, Celeux & Govaert 2000), BIC form.

        ``BIC + 2 * entropy`` with entropy ``-sum_u v_u sum_k gamma_uk log gamma_uk`` over
        units (groups, or observations) with their weights: it penalises components that
        overlap (uncertain memberships). Smaller is better, like AIC and BIC.
        """
        g = self.unit_responsibilities
        with np.errstate(divide="ignore", invalid="ignore"):
            ent_u = -np.sum(np.where(g > 0, g * np.log(g), 0.0), axis=1)
        v = self.unit_weights
        ent = ent_u.sum() if v is None else ent_u @ v
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

    def _extended(self, X, y=None, need=("concomitant", "fixed"), **parts) -> Dataset | None:
        """New data for an extended model (or extras given): checked by
        :func:`mlrbayes.em.predict_extended.check_new_data`; ``None`` for the plain path."""
        given = {k: v for k, v in parts.items() if v is not None}
        has = {"concomitant": self.gating_coef is not None, "fixed": self.fixed_coef is not None}
        if not given and not any(has[n] for n in need):
            return None
        return _pext.check_new_data(self, X, y, need=need, **given)

    def _lazy(self, what: str, X, y=None, **kw):
        """For Dask input, the prediction as a lazy dask array, row block by row block
        (:func:`mlrbayes.em.dask_engine.lazy_prediction`); None for other input."""
        from .fit import is_dask_input

        if not is_dask_input(X, y):
            return None
        from .dask_engine import lazy_prediction

        return lazy_prediction(self, what, X, y, **kw)

    def predict_proba(self, X, y=None, *, concomitant=None) -> np.ndarray:
        """Prior membership probabilities of new rows, shape (n, K).

        Which component an observation at ``X`` (n, p) will come from before its response is
        seen: the weights, repeated for every row; in a gating model
        ``softmax_k(w^T gamma_k)`` of the rows' gating covariates ``concomitant`` (n, q-1),
        which are then required. For membership *given the response* use :meth:`membership`.

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
            return self.membership(X, y, concomitant=concomitant)
        if self.gating_coef is None and concomitant is None:
            return _predict.prior_membership(self, self._check_new_X(X))
        data = _pext.check_new_data(self, X, concomitant=concomitant, need=("concomitant",))
        return _pext.prior(self, data)

    def membership(self, X, y=None, *, concomitant=None, fixed=None, groups=None) -> np.ndarray:
        """Membership probabilities given the response, shape (n, K); rows sum to 1.

        The posterior probability that observation ``(x_i, y_i)`` came from component k at the
        fitted parameters (the E-step's responsibilities for new data). ``X`` of shape (n, p) and
        ``y`` of shape (n,), or a :class:`~mlrbayes.spec.Dataset`. A gating model needs
        ``concomitant`` and a model with fixed coefficients ``fixed``; with ``groups`` each
        observation gets its group's membership.
        """
        if (lazy := self._lazy("membership", X, y)) is not None:
            return lazy
        data = self._extended(X, y, concomitant=concomitant, fixed=fixed, groups=groups)
        if data is None:
            data = self._check_new_data(X, y)
            return _predict.membership(self, data.X, data.y)
        return _pext.membership(self, data)

    def predict(self, X, component: int | None = None, *, concomitant=None, fixed=None):
        """Mixture mean ``sum_k pi_k (b_k + c_k^T x)``, or one component's line; shape (n,).

        The mixture mean is a poor summary when the lines cross or lie far apart: it falls
        between the lines, where few observations are. Look at :meth:`predict_components`
        (every line), :meth:`predict_interval` (where new responses fall) or
        ``predict(X, component=k)``. A model with fixed coefficients adds ``delta^T u`` (pass
        ``fixed``); a gating model weights by ``pi_k(w)`` (pass ``concomitant``).

        Parameters
        ----------
        X : array-like of shape (n, p), or Dataset
        component : int or None
            ``None`` (default) for the mixture mean; ``k`` for line k alone.
        """
        if (lazy := self._lazy("predict", X, component=component)) is not None:
            return lazy
        data = self._extended(X, concomitant=concomitant, fixed=fixed)
        if data is None:
            return _predict.mixture_mean(self, self._check_new_X(X), component)
        mu = _pext.component_means(self, data)
        if component is None:
            return np.einsum("nk,nk->n", mu, _pext.prior(self, data))
        return mu[:, _predict.check_component(component, mu.shape[1])].copy()

    def predict_components(self, X, *, fixed=None) -> np.ndarray:
        """Every component's regression line at each row, ``b_k + c_k^T x`` (``+ delta^T u``
        with fixed coefficients), shape (n, K)."""
        if (lazy := self._lazy("predict_components", X)) is not None:
            return lazy
        data = self._extended(X, fixed=fixed, need=("fixed",))
        if data is None:
            return _predict.component_means(self, self._check_new_X(X))
        return _pext.component_means(self, data)

    def predict_interval(self, X, level: float = 0.95, *, concomitant=None, fixed=None):
        """Central predictive interval for a new response at each row, shape (n, 2).

        Columns are the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the fitted
        mixture ``sum_k pi_k N(b_k + c_k^T x, sigma_k^2)`` (found by bisection of its CDF). The
        parameters are taken as known: the interval leaves out their estimation uncertainty.
        With well-separated lines the interval covers the gap between them. Gating and fixed
        coefficients as in :meth:`predict`.
        """
        if (lazy := self._lazy("predict_interval", X, level=level)) is not None:
            return lazy
        data = self._extended(X, concomitant=concomitant, fixed=fixed)
        if data is None:
            return _predict.predict_interval(self, self._check_new_X(X), level)
        mu, pri = _pext.component_means(self, data), _pext.prior(self, data)
        return _predict.interval_from(mu, self._sigma_k(), pri, level)

    def sample(self, X, random_state=None, *, concomitant=None, fixed=None):
        """Draw new responses at ``X``: returns ``(y, labels)``, each of shape (n,).

        Gating and fixed coefficients as in :meth:`predict` (labels from each row's prior)."""
        data = self._extended(X, concomitant=concomitant, fixed=fixed)
        if data is None:
            return _predict.sample(self, self._check_new_X(X), random_state)
        mu, pri = _pext.component_means(self, data), _pext.prior(self, data)
        return _predict.sample_from(mu, self._sigma_k(), pri, random_state)

    def score(self, X, y=None, *, concomitant=None, fixed=None, groups=None, weights=None):
        """Mean log-likelihood per observation of ``(X, y)`` (or of a ``Dataset``); with
        weights, per unit of weight."""
        data = self._extended(
            X, y, concomitant=concomitant, fixed=fixed, groups=groups, weights=weights
        )
        if data is None:
            data = self._check_new_data(X, y)
            return _predict.mean_loglik(self, data.X, data.y)
        return _pext.mean_loglik(self, data)

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
