r"""The Bayesian twin of the EM fit: a PyMC model with the labels marginalised out.

With :mod:`mlrbayes.kernel` (the fused likelihood kernel it imports), this is the only module
of mlrbayes that imports PyMC, PyTensor, numba and nutpie.

Model
-----
For observation :math:`i` with predictors :math:`x_i \in \mathbb{R}^p`,

.. math::

    y_i \mid \pi, b, c, \sigma \sim \sum_{k=1}^K \pi_k\,
        \mathcal{N}\!\left(b_k + c_k^\top x_i,\ \sigma_k^2\right),

the same likelihood as :mod:`mlrbayes.likelihood` and the EM fit, with the component labels
summed out (as ``pm.NormalMixture`` would). Default priors are weakly informative and scaled to
the data, with :math:`s_y` the sd of ``y``, :math:`\bar y` its mean, and :math:`\bar x_j, s_j`
the mean and sd of predictor :math:`j`:

* ``weights`` :math:`\pi \sim \mathrm{Dirichlet}(1, \dots, 1)` (uniform on the simplex);
* ``intercept`` :math:`b_k \sim \mathcal{N}(\bar y,\ 5 s_y (1 + \sum_j |\bar x_j| / s_j))`
  (wide enough for lines whose value at the data is within a few :math:`s_y` of :math:`\bar y`);
* ``coef`` :math:`c_{kj} \sim \mathcal{N}(0,\ 5 s_y / s_j)` (a slope may move ``y`` by five
  sds per sd of ``x``);
* ``sigma`` (when estimated) :math:`\sigma \sim \mathrm{HalfNormal}(s_y)`, one shared or one per
  component.

The likelihood term is one PyTensor Op (:class:`mlrbayes.kernel.MixRegLogp`) that computes
the log-likelihood and its gradient in a single numba pass over the data: for responsibilities
:math:`\gamma_{ik}` and residuals :math:`r_{ik} = y_i - b_k - c_k^\top x_i`,

.. math::

    \partial_{b_k} = \sum_i \gamma_{ik} r_{ik} / \sigma_k^2,\quad
    \partial_{c_k} = \sum_i \gamma_{ik} r_{ik} x_i / \sigma_k^2,\quad
    \partial_{\pi_k} = \sum_i \gamma_{ik} / \pi_k,\quad
    \partial_{\sigma_k} = \sum_i \gamma_{ik} (r_{ik}^2/\sigma_k^2 - 1) / \sigma_k .

The gradient costs about as much as the log-likelihood itself, where the generic graph of
``pm.NormalMixture`` evaluates several (n, K) temporaries for the value and again for the
gradient. ``benchmarks/bench_mcmc.py`` measures the difference.

Posterior layout
----------------
:func:`sample_posterior` returns an ArviZ 1.x ``DataTree`` with groups ``posterior``,
``sample_stats``, ``observed_data`` (``y``, dim ``obs``), ``constant_data`` (``X`` with dims
``(obs, feature)``, and ``sigma`` when it is known) and, unless switched off, ``log_likelihood``
(``y``, dims ``(chain, draw, obs)``). Posterior variables: ``weights`` (chain, draw, component),
``intercept`` (chain, draw, component; absent when ``fit_intercept=False`` and then treated as 0),
``coef`` (chain, draw, component, feature), ``sigma`` (chain, draw) when shared or (chain, draw,
component) per component (absent when known). ``posterior.attrs`` records ``sigma_setting``,
``fit_intercept``, ``order_by``, ``sampler``, ``random_state``, ``n_components``, divergence
counts and convergence figures.

Extended model (issue 14)
-------------------------
With gating (concomitant) covariates :math:`w_u`, coefficients :math:`\delta` fixed across
components on predictors :math:`u_i`, groups whose observations share one component, and
replication weights :math:`v_u`, the log-likelihood is
:math:`\sum_u v_u \log \sum_k P(z_u = k \mid w_u) \prod_{i \in u}
\mathcal{N}(y_i \mid b_k + c_k^\top x_i + \delta^\top u_i, \sigma_k^2)` with
:math:`P(z_u = k \mid w_u) = \mathrm{softmax}_k(w_u^\top \gamma_k)` (a unit is a group, or an
observation), exactly :func:`mlrbayes.likelihood.extended_loglik`. The fast path is the
fused Op :class:`mlrbayes.kernel.ExtendedMixRegLogp`; ``likelihood="textbook"`` builds the
same density as an ordinary PyTensor graph. Priors (:mod:`mlrbayes.priors`): every row of
:math:`\gamma` gets the same N(0, s_j^2) prior, scaled to the covariates' sds, and since the
softmax sees only differences between rows the model samples the centred coefficients
directly: ``gating_zerosum`` (concomitant, component) is a ``pm.ZeroSumNormal`` over the
components — exactly the distribution of iid normal rows after centring — and ``gating``
(component, concomitant) its transpose, with :math:`\sum_k \gamma_k = 0` in every draw, so
relabelling permutes its rows exactly. ``weights`` becomes a deterministic, the average prior
membership over units (weighted by :math:`v_u`); ``fixed`` (fixed_predictor)
:math:`\delta \sim \mathcal{N}(0, 5 s_y / s_j)`. ``constant_data`` also holds
``gating_covariates`` (obs, concomitant), ``fixed_predictors`` (obs, fixed_predictor),
``groups`` (obs; labels in coordinate ``group``) and ``sample_weight`` (obs), so
:func:`mlrbayes.posterior.data_from_datatree` rebuilds the model's data; the
``log_likelihood`` group holds one (weighted) term per unit.
"""

from __future__ import annotations

import numbers
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._cache import configure_pytensor_cache
from ._validation import (
    check_choice,
    check_n_components,
    check_positive_float,
    check_positive_int,
    check_random_state,
)
from .initvals import GATING_VAR, chain_initvals
from .posterior import (
    PosteriorDraws,
    SamplingDiagnostics,
    draw_memberships,
    load_posterior,
    posterior_responsibilities,
    sampling_diagnostics,
    save_posterior,
    store_data_parts,
)
from .priors import default_priors, resolve_priors
from .progress import interactive
from .spec import Dataset, ModelSpec, resolve_dataset

configure_pytensor_cache()

import pymc as pm  # noqa: E402
import pytensor.tensor as pt  # noqa: E402
import xarray as xr  # noqa: E402

from .kernel import (  # noqa: E402
    extended_logp_tensor,
    mixture_logp_tensor,
    textbook_logp_tensor,
    unit_layout,
)

__all__ = [
    "SAMPLERS",
    "SamplingDiagnostics",
    "SamplingWarning",
    "build_model",
    "default_priors",
    "load_posterior",
    "model_spec",
    "posterior_responsibilities",
    "sample_posterior",
    "sampling_diagnostics",
    "save_posterior",
]

#: Accepted values of ``sampler``.
SAMPLERS = ("auto", "pymc", "nutpie")

#: ``sampler="auto"`` uses nutpie when n_samples * n_components reaches this (see
#: :func:`sample_posterior` and ``benchmarks/RESULTS.md``).
AUTO_NUTPIE_MIN_NK = 50_000


class SamplingWarning(UserWarning):
    """Divergent transitions or unconverged chains (R-hat above 1.01, low ESS)."""


# ============================================================================ the model
def _check_order_by(order_by, fit_intercept: bool) -> str | None:
    if order_by is None:
        return None
    if order_by != "intercept":
        raise ValueError(
            f"order_by={order_by!r} is not supported; use None (no ordering) or 'intercept'."
        )
    if not fit_intercept:
        raise ValueError(
            "order_by='intercept' needs fit_intercept=True; without an intercept use "
            "order_by=None and relabel the draws afterwards (mlrbayes.relabel)."
        )
    return order_by


def _spread_start(y: np.ndarray, k: int) -> np.ndarray:
    """Strictly increasing starting intercepts at the (k + 0.5)/K quantiles of y."""
    q = np.quantile(y, (np.arange(k) + 0.5) / k)
    step = 1e-3 * max(float(np.std(y)), 1e-12)
    return q + step * np.arange(k)  # strictly increasing even for tied quantiles


def build_model(
    X,
    y,
    n_components: int,
    *,
    sigma,
    fit_intercept: bool = True,
    priors: Mapping | None = None,
    order_by: str | None = None,
    likelihood: str = "fast",
    data: Any = None,
    concomitant: Any = None,
    fixed: Any = None,
    groups: Any = None,
    weights: Any = None,
) -> pm.Model:
    """PyMC model of the mixture of linear regressions with the labels marginalised out.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), Dataset, or str
        Predictors; DataFrame column names become the ``feature`` coordinate. A checked
        :class:`~mlrbayes.spec.Dataset` is used as it is (then ``y`` is None); a formula
        ``"y ~ x1 + x2"`` is read from ``data`` (:func:`mlrbayes.spec.resolve_dataset`).
    y : array-like of shape (n_samples,), or None with a Dataset or a formula
    n_components : int
        Number of components K.
    sigma : float, array-like of shape (K,), "shared" or "component"
        A positive number (or one per component): the noise sd is known and fixed (usually the
        EM estimate). ``"shared"``: one sd estimated; ``"component"``: one per component.
    fit_intercept : bool, default True
        Without an intercept the component means are ``X @ coef_k`` and the model has no
        ``intercept`` variable.
    priors : dict, optional
        Overrides of the default priors, e.g. ``{"coef": {"sigma": 10.0}, "weights":
        {"alpha": 2.0}}``. Keys: ``weights`` (``alpha``: Dirichlet concentration, scalar or
        (K,)), ``intercept`` (``mu``, ``sigma``), ``coef`` (``mu``, ``sigma``: scalars or
        (n_features,)), ``sigma`` (``sigma``: HalfNormal scale). See :func:`default_priors`.
    order_by : {None, "intercept"}, default None
        ``"intercept"`` constrains ``intercept[0] < intercept[1] < ...`` (PyMC's ``ordered``
        transform), which removes label switching when the components differ in intercept —
        at the price of a posterior that is no longer the symmetric one: if two components have
        similar intercepts the constraint truncates them and the posterior is distorted. The
        default (no ordering) keeps the symmetric posterior; :mod:`mlrbayes.relabel` handles
        label switching after sampling.
    likelihood : {"fast", "normal_mixture", "textbook"}, default "fast"
        How the observed ``y`` is modelled; all give the same density. ``"fast"``: one Op
        that evaluates the marginal log-likelihood and its gradient in a single numba pass
        (3-4x the ESS per second of the textbook graph, ``benchmarks/RESULTS.md``).
        ``"normal_mixture"``: the textbook ``pm.NormalMixture`` with means
        ``intercept + X @ coef.T``, as a reference or for PyMC features that need a standard
        distribution (e.g. ``pm.sample_posterior_predictive``); plain model only.
        ``"textbook"``: the log-likelihood as an ordinary PyTensor graph (normal
        log-densities, group sums, log-softmax gating, ``logsumexp``;
        :func:`mlrbayes.kernel.textbook_logp_tensor`), for every model.
    data : pandas.DataFrame, optional
        Where a formula and column names are looked up.
    concomitant : array-like of shape (n_samples, q0), str or None
        Gating covariates: ``P(z_i = k | w_i) = softmax_k(w_i^T gamma_k)`` with a gating
        intercept added; ``gamma`` has the label-symmetric prior of
        :mod:`mlrbayes.priors` and is reported centred (``sum_k gamma_k = 0``).
    fixed : array-like of shape (n_samples, r), str or None
        Predictors whose coefficients ``fixed`` (r,) are shared by all components.
    groups : array-like of shape (n_samples,), str or None
        Group labels; the observations of a group share one component.
    weights : array-like of shape (n_samples,), str or None
        Replication weights multiplying each observation's (group's) log-likelihood term.

    Returns
    -------
    pymc.Model
        Coordinates ``component`` (0..K-1), ``feature`` (names), ``obs`` (0..n-1); data ``X``
        (``pm.Data``, dims (obs, feature)); free variables ``weights``, ``intercept`` (when
        fitted), ``coef`` and ``sigma`` (when estimated); the observed ``y`` whose log-density
        is the marginal mixture log-likelihood (:func:`mlrbayes.likelihood.mixture_loglik`;
        :func:`mlrbayes.likelihood.extended_loglik` for the extended model). With
        concomitant covariates: coordinate ``concomitant``, the free ``gating_zerosum``
        (concomitant, component) (``pm.ZeroSumNormal`` over the components) and the
        deterministics ``gating`` (component, concomitant) and ``weights`` (the average prior
        membership over units, weighted by the observation weights). With fixed predictors:
        coordinate ``fixed_predictor`` and ``fixed``.

    Examples
    --------
    >>> from mlrbayes import simulate
    >>> X, y, _ = simulate(50, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=0)
    >>> model = build_model(X, y, 2, sigma=0.5)
    >>> sorted(model.named_vars)
    ['X', 'coef', 'intercept', 'weights', 'y']
    """
    ds = resolve_dataset(
        X, y, data=data, concomitant=concomitant, fixed=fixed, groups=groups, weights=weights
    )
    spec = model_spec(ds, n_components, sigma, fit_intercept)
    order_by = _check_order_by(order_by, spec.fit_intercept)
    likelihood = check_choice(likelihood, "likelihood", ("fast", "normal_mixture", "textbook"))
    if likelihood == "normal_mixture" and not ds.is_plain:
        raise ValueError(
            "likelihood='normal_mixture' supports the plain model only; use 'textbook' (the "
            "same density as an ordinary PyTensor graph) or 'fast' with concomitant, fixed, "
            "groups or weights."
        )
    return _model(ds, spec, resolve_priors(ds, priors), order_by, likelihood)


def model_spec(data: Dataset, n_components: int, sigma: Any, fit_intercept: bool) -> ModelSpec:
    """The checked :class:`~mlrbayes.spec.ModelSpec` of a model of ``data`` (K against the
    number of observations and coefficients, sigma against K)."""
    k = check_n_components(n_components, data.n_samples, data.n_features + int(bool(fit_intercept)))
    return ModelSpec(k, sigma, bool(fit_intercept))


def _model(
    data: Dataset, spec: ModelSpec, pri: dict, order_by: str | None, likelihood: str
) -> pm.Model:
    """The PyMC model of :func:`build_model` from checked data and settings."""
    Xa, ya, k, n = data.X, data.y, spec.n_components, data.n_samples
    coords = {"component": np.arange(k), "feature": list(data.feature_names), "obs": np.arange(n)}
    if data.concomitant is not None:
        coords["concomitant"] = list(data.concomitant_names)
    if data.fixed is not None:
        coords["fixed_predictor"] = list(data.fixed_names)
    with pm.Model(coords=coords) as model:
        Xd = pm.Data("X", Xa, dims=("obs", "feature"))
        weights, gating = _mixing(data, k, pri)
        intercept = _intercept(ya, spec, pri, order_by)
        coef = pm.Normal(
            "coef",
            mu=np.asarray(pri["coef"]["mu"], dtype=float),
            sigma=np.asarray(pri["coef"]["sigma"], dtype=float),
            dims=("component", "feature"),
        )
        fixed = pt.zeros((0,))
        if data.fixed is not None:
            fixed = pm.Normal(
                "fixed",
                mu=np.asarray(pri["fixed"]["mu"], dtype=float),
                sigma=np.asarray(pri["fixed"]["sigma"], dtype=float),
                dims="fixed_predictor",
            )
        sigma_k = _sigma(spec, pri)
        _observed(data, likelihood, Xd, weights, gating, intercept, coef, sigma_k, fixed)
    return model


def _mixing(data: Dataset, k: int, pri: dict):
    """``weights`` (Dirichlet) and a (K, 0) gating, or with concomitant covariates the
    centred gating (ZeroSumNormal over the components) and the average prior membership."""
    if data.concomitant is None:
        alpha = np.broadcast_to(np.asarray(pri["weights"]["alpha"], dtype=float), (k,)).copy()
        return pm.Dirichlet("weights", a=alpha, dims="component"), pt.zeros((k, 0))
    q = data.concomitant.shape[1]
    scale = np.broadcast_to(np.asarray(pri["gating"]["sigma"], dtype=float), (q,))
    # iid N(0, s_j^2) rows, centred over the components, is exactly this ZeroSumNormal (the
    # centred part of an iid normal vector); the softmax sees only the centred part.
    free = pm.ZeroSumNormal(
        GATING_VAR, sigma=scale[:, None].copy(), dims=("concomitant", "component")
    )
    gating = pm.Deterministic("gating", free.T, dims=("component", "concomitant"))
    rows, starts = unit_layout(data.groups, data.n_samples)
    first = rows[starts[:-1]]
    v = np.ones(first.size) if data.sample_weight is None else data.sample_weight[first]
    prob = pt.special.softmax(pt.dot(data.concomitant[first], gating.T), axis=1)
    weights = pm.Deterministic("weights", pt.dot(v / v.sum(), prob), dims="component")
    return weights, gating


def _intercept(ya: np.ndarray, spec: ModelSpec, pri: dict, order_by: str | None):
    k = spec.n_components
    if not spec.fit_intercept:
        return pt.zeros((k,))
    kwargs: dict[str, Any] = {"initval": _spread_start(ya, k)}
    if order_by == "intercept":
        kwargs["transform"] = pm.distributions.transforms.ordered
    return pm.Normal(
        "intercept",
        mu=np.asarray(pri["intercept"]["mu"], dtype=float),
        sigma=np.asarray(pri["intercept"]["sigma"], dtype=float),
        dims="component",
        **kwargs,
    )


def _sigma(spec: ModelSpec, pri: dict):
    """The noise sd of every component, (K,): a free variable or the known value."""
    k, mode = spec.n_components, spec.sigma_setting
    scale = np.asarray(pri["sigma"]["sigma"], dtype=float)
    if mode == "shared":
        return pt.alloc(pm.HalfNormal("sigma", sigma=scale), k)
    if mode == "component":
        return pm.HalfNormal("sigma", sigma=scale, dims="component")
    return pt.as_tensor_variable(np.broadcast_to(np.asarray(spec.sigma, dtype=float), (k,)))


def _observed(data, likelihood, Xd, weights, gating, intercept, coef, sigma_k, fixed) -> None:
    """The observed ``y`` with the marginal (mixture) log-likelihood of the chosen graph."""
    ya = data.y
    if likelihood == "normal_mixture":
        mu = intercept + pt.dot(Xd, coef.T)
        pm.NormalMixture("y", w=weights, mu=mu, sigma=sigma_k, observed=ya, dims="obs")
        return
    if data.is_plain and likelihood == "fast":

        def _logp(value, w, b, c, sk, Xv):
            return mixture_logp_tensor(Xv, value, w, b, c, sk)

        pm.CustomDist(
            "y", weights, intercept, coef, sigma_k, Xd, logp=_logp,
            signature="(k),(k),(k,p),(k),(n,p)->(n)", observed=ya, dims="obs",
        )  # fmt: skip
        return
    graph = extended_logp_tensor if likelihood == "fast" else textbook_logp_tensor

    def _logp_ext(value, w, g, b, c, sk, d, Xv):
        return graph(data, Xv, value, w, g, b, c, sk, d)

    pm.CustomDist(
        "y", weights, gating, intercept, coef, sigma_k, fixed, Xd, logp=_logp_ext,
        signature="(k),(k,q),(k),(k,p),(k),(r),(n,p)->(n)", observed=ya, dims="obs",
    )  # fmt: skip


# ============================================================================ sampling
def _choose_sampler(sampler: str, n: int, k: int, per_chain_init: bool) -> str:
    sampler = check_choice(sampler, "sampler", SAMPLERS)
    if sampler == "nutpie" and per_chain_init:
        raise ValueError(
            "sampler='nutpie' cannot start chains from different EM optima (it takes one "
            "starting point); use sampler='pymc' with a list init, or pass a single init."
        )
    if sampler != "auto":
        return sampler
    if per_chain_init:
        return "pymc"
    return "nutpie" if n * k >= AUTO_NUTPIE_MIN_NK else "pymc"


def _seed(random_state) -> int | None:
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        check_random_state(random_state)  # validates >= 0
        return int(random_state)
    rng = check_random_state(random_state)
    return int(rng.integers(2**31 - 1))


def sample_posterior(
    X,
    y,
    n_components: int,
    *,
    sigma,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    fit_intercept: bool = True,
    priors: Mapping | None = None,
    order_by: str | None = None,
    cores: int | None = None,
    sampler: str = "auto",
    init=None,
    target_accept: float = 0.8,
    random_state=None,
    progressbar: bool | None = None,
    log_likelihood: bool | None = None,
    data: Any = None,
    concomitant: Any = None,
    fixed: Any = None,
    groups: Any = None,
    weights: Any = None,
):
    """Sample the posterior of the mixture of regressions with NUTS.

    Parameters
    ----------
    X, y : array-like, a Dataset and None, or a formula and None
        As in :func:`build_model`.
    n_components : int
    sigma : float, array-like of shape (K,), "shared" or "component"
        As in :func:`build_model`.
    fit_intercept, priors, order_by
        As in :func:`build_model`.
    draws, tune : int
        Draws kept and tuning steps discarded, per chain.
    chains : int, default 4
    cores : int, optional
        Parallel chains; default ``min(chains, 2)``.
    sampler : {"auto", "pymc", "nutpie"}
        ``"pymc"``: PyMC's NUTS; ``"nutpie"``: nutpie's NUTS (Rust, numba-compiled logp; a fixed
        compile cost of a few seconds per model, cheaper per gradient). ``"auto"`` picks nutpie
        when ``n_samples * n_components >= AUTO_NUTPIE_MIN_NK`` (50,000) and PyMC's NUTS below:
        in ``benchmarks/RESULTS.md`` PyMC's NUTS gave more ESS per second up to n = 2,000 and
        at n = 20,000 with K = 2, nutpie at n = 20,000 with K = 3. Always PyMC's NUTS when
        ``init`` gives different starts per chain (nutpie takes one starting point).
    init : EMResult, Optimum, dict, or a list of them, optional
        Starting points. A list is cycled over the chains, so chains start in different basins
        (e.g. the distinct optima of an EM census); a single ``EMResult`` with several optima
        is expanded to ``[best, other optima...]``. Starts are made valid: weights are kept off
        the simplex boundary and, when ordered, components are sorted by intercept. Without
        ``init``, chains start from intercepts spread over the quantiles of ``y`` plus PyMC's
        jitter.
    target_accept : float, default 0.8
    random_state : int, Generator or None
        Seeds the sampler; the same int gives the same draws.
    progressbar : bool, optional
        Default: shown when someone watches (stderr a terminal, or a notebook).
    log_likelihood : bool, optional
        Store the pointwise log-likelihood group (for LOO). Default: when it takes at most
        200 MB (chains * draws * n_samples * 8 bytes). With groups it holds each group's
        term (dims ``(chain, draw, group)``), and with weights every term is multiplied by its
        weight, so the terms of a draw sum to its log-likelihood.
    data, concomitant, fixed, groups, weights
        The extended model's parts, as in :func:`build_model`. Chain starts from an EM fit of
        the same specification use its ``gating_coef`` and ``fixed_coef``.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats`` (incl. ``diverging``), ``observed_data``,
        ``constant_data`` and ``log_likelihood`` (see the module docstring). Divergences and
        convergence are in ``posterior.attrs`` (``n_divergent``, ``max_rhat``,
        ``min_ess_bulk``, ``converged``) and from :func:`sampling_diagnostics`.

    Warns
    -----
    SamplingWarning
        On divergent transitions or R-hat above 1.01 (the message says what to do).
    """
    data = resolve_dataset(
        X, y, data=data, concomitant=concomitant, fixed=fixed, groups=groups, weights=weights
    )
    spec = model_spec(data, n_components, sigma, fit_intercept)
    order_by = _check_order_by(order_by, spec.fit_intercept)
    model = _model(data, spec, resolve_priors(data, priors), order_by, "fast")
    initvals = chain_initvals(
        init, chains, spec, data.n_features, order_by,
        n_gating=0 if data.concomitant is None else data.concomitant.shape[1],
        n_fixed=0 if data.fixed is None else data.fixed.shape[1],
    )  # fmt: skip
    per_chain = initvals is not None and len({repr(iv) for iv in initvals}) > 1
    chosen = _choose_sampler(sampler, data.n_samples, spec.n_components, per_chain)
    kwargs = _sample_kwargs(
        model, chosen, initvals, draws=draws, tune=tune, chains=chains, cores=cores,
        target_accept=target_accept, random_state=random_state, progressbar=progressbar,
    )  # fmt: skip
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # PyMC's own convergence log lines are replaced by SamplingWarning below.
        warnings.filterwarnings("ignore", message=".*[Tt]he number of samples is too small.*")
        idata = pm.sample(**kwargs)
    wall = time.perf_counter() - t0

    cd = idata["constant_data"].to_dataset()
    if spec.sigma_setting == "known":
        cd["sigma"] = xr.DataArray(np.asarray(spec.sigma, dtype=float), dims=_known_dims(spec))
    idata["constant_data"] = store_data_parts(cd, data)
    if log_likelihood is None:
        log_likelihood = kwargs["chains"] * kwargs["draws"] * data.n_samples * 8 <= 200e6
    draws = PosteriorDraws.from_datatree(idata)
    if log_likelihood:
        _add_log_likelihood(idata, draws, data)
    diag = sampling_diagnostics(draws)
    seed = kwargs["random_seed"]
    idata["posterior"].attrs.update(
        {
            "sigma_setting": spec.sigma_setting,
            "fit_intercept": int(spec.fit_intercept),
            "order_by": order_by or "none",
            "sampler": chosen,
            "random_state": "none" if seed is None else seed,
            "n_components": spec.n_components,
            "target_name": data.target_name,
            "sampling_wall_seconds": float(wall),
            "n_divergent": diag.n_divergent,
            "max_rhat": diag.max_rhat,
            "min_ess_bulk": diag.min_ess_bulk,
            "converged": int(diag.converged),
        }
    )
    for msg in diag.messages():
        warnings.warn(msg, SamplingWarning, stacklevel=2)
    return idata


def _known_dims(spec: ModelSpec) -> tuple[str, ...]:
    return ("component",) if np.ndim(spec.sigma) else ()


def _sample_kwargs(
    model, chosen: str, initvals, *, draws, tune, chains, cores, target_accept, random_state,
    progressbar,
) -> dict[str, Any]:  # fmt: skip
    """Checked keyword arguments of ``pm.sample``."""
    chains = check_positive_int(chains, "chains")
    target_accept = check_positive_float(target_accept, "target_accept")
    if not target_accept < 1:
        raise ValueError(f"target_accept must be in (0, 1); got {target_accept!r}.")
    if progressbar is None:
        progressbar = interactive()  # a terminal or a notebook
    kwargs: dict[str, Any] = {
        "draws": check_positive_int(draws, "draws"),
        "tune": check_positive_int(tune, "tune", minimum=0),
        "chains": chains,
        "cores": min(chains, 2) if cores is None else check_positive_int(cores, "cores"),
        "random_seed": _seed(random_state),
        "progressbar": progressbar,
        "nuts_sampler": chosen,
        "compute_convergence_checks": False,
        "model": model,
        "nuts": {"target_accept": target_accept},
        "quiet": not progressbar,
    }
    if chosen == "pymc":
        if initvals is not None:
            kwargs["initvals"] = initvals
            kwargs["init"] = "adapt_diag"  # start exactly at the given points
    elif initvals is not None:
        kwargs["initvals"] = initvals[0]
    return kwargs


def _add_log_likelihood(idata, draws: PosteriorDraws, data: Dataset) -> None:
    """Store the pointwise log-likelihood of every draw as the ``log_likelihood`` group (one
    term per observation, or per group with groups; weighted terms with weights)."""
    pointwise = draw_memberships(draws, data, probabilities=False, pointwise=True).pointwise
    unit = "obs" if data.groups is None else "group"
    idata["log_likelihood"] = xr.Dataset(
        {"y": (("chain", "draw", unit), pointwise)},
        coords={
            "chain": idata["posterior"]["chain"].values,
            "draw": idata["posterior"]["draw"].values,
            unit: np.arange(pointwise.shape[-1]),
        },
    )
