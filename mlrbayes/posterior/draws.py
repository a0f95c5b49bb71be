"""Posterior draws as NumPy arrays: the one reader and writer of the posterior DataTree.

:class:`PosteriorDraws` holds the draws of the mixture of regressions in fixed axis orders,
read from (and written back to) an ArviZ 1.x ``DataTree`` in the layout of
:mod:`mlrbayes.bayes`. Everything downstream (relabelling, diagnosis, comparison, figures)
takes this type, so the DataTree is read once, at the edge.

Array convention
----------------
* ``weights``, ``intercept``: (chain, draw, K); ``intercept`` is all zeros without intercept.
* ``coef``: (chain, draw, K, p).
* ``sigma``: (chain, draw, K), the noise sd of every component in every draw, whatever the σ
  setting: a shared sd is repeated over K, a known sd broadcast over chains and draws. The
  parameter as it is stored (and named by :func:`mlrbayes.params.param_names`) is
  :attr:`PosteriorDraws.sigma_param`.
* ``gating``: (chain, draw, K, q) centred gating coefficients (``sum_k gating[..., k, :] =
  0``) of a model with concomitant covariates, else None; ``weights`` is then the average
  prior membership over units. ``fixed``: (chain, draw, r) coefficients shared by all
  components, else None. A relabelling permutes ``gating`` with the components and leaves
  ``fixed`` alone. Their names follow the parameter names: ``gating[k,<name>]`` (k outer),
  then ``fixed[<name>]``, after the plain model's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import xarray as xr

from ..params import flatten, param_names
from ..permutations import check_permutations, permute_array
from ..spec import Dataset, as_dataset

__all__ = [
    "PosteriorDraws",
    "apply_permutations",
    "check_data",
    "data_from_datatree",
    "extended_param_names",
    "posterior_arrays",
    "posterior_dataset",
    "store_data_parts",
]

_SAMPLE_DIMS = ("chain", "draw", "component")


@dataclass(frozen=True, eq=False, repr=False)
class PosteriorDraws:
    """Draws of a mixture of regressions, (chain, draw, ...) NumPy arrays.

    Attributes
    ----------
    weights : ndarray of shape (chain, draw, K)
    intercept : ndarray of shape (chain, draw, K)
        Zeros when ``fit_intercept`` is False.
    coef : ndarray of shape (chain, draw, K, p)
    sigma : ndarray of shape (chain, draw, K)
        Noise sd of each component in each draw (shared and known sds broadcast).
    sigma_setting : {"known", "shared", "component"}
    feature_names : tuple of str
        The ``p`` predictor names.
    fit_intercept : bool
    divergences : ndarray of bool of shape (chain, draw)
        Divergent transitions (all False when the sampler stored none).
    sigma_known : float, ndarray of shape (K,) or None
        The known sd as stored, None when sigma is estimated.
    log_posterior : ndarray of shape (chain, draw) or None
        The sampler's log-posterior density (``sample_stats.lp``/``logp``) when stored.
    attrs : dict
        The ``posterior`` group's attributes (sampler, random_state, priors, ...).
    permutations : ndarray of int of shape (chain, draw, K) or None
        The relabelling applied since the draws were read (``relabelled[..., j] =
        raw[..., permutations[..., j]]``); None for the draws as sampled.
    source : xarray.DataTree or None
        The tree the draws were read from; :meth:`to_datatree` keeps its other groups.
    gating : ndarray of shape (chain, draw, K, q) or None
        Centred gating coefficients (models with concomitant covariates).
    fixed : ndarray of shape (chain, draw, r) or None
        Coefficients shared by all components (models with fixed predictors).
    concomitant_names : tuple of str
        The q gating covariates, ``"(Intercept)"`` first.
    fixed_names : tuple of str
        The r fixed predictors.
    """

    weights: np.ndarray
    intercept: np.ndarray
    coef: np.ndarray
    sigma: np.ndarray
    sigma_setting: str
    feature_names: tuple[str, ...]
    fit_intercept: bool = True
    divergences: np.ndarray | None = None
    sigma_known: float | np.ndarray | None = None
    log_posterior: np.ndarray | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    permutations: np.ndarray | None = None
    source: Any = None
    gating: np.ndarray | None = None
    fixed: np.ndarray | None = None
    concomitant_names: tuple[str, ...] = ()
    fixed_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.divergences is None:
            object.__setattr__(self, "divergences", np.zeros(self.weights.shape[:2], dtype=bool))

    def check_finite(self) -> None:
        """Raise ``ValueError`` naming the variable when a draw is NaN or infinite (such draws
        cannot be relabelled or diagnosed)."""
        for name in ("weights", "intercept", "coef", "sigma", "gating", "fixed"):
            if getattr(self, name) is None:
                continue
            bad = ~np.isfinite(np.asarray(getattr(self, name), dtype=float))
            if bad.any():
                chain, draw = np.argwhere(bad)[0][:2].tolist()
                raise ValueError(
                    f"the posterior has {int(bad.sum())} non-finite (NaN/inf) values of "
                    f"{name!r} (first in chain {chain}, draw {draw}); these draws cannot be "
                    "diagnosed: sample again, or drop the broken chain."
                )

    def select_chains(self, chains: Any) -> PosteriorDraws:
        """The draws of some chains only (in the order given; no source tree is kept)."""
        idx = np.asarray(chains, dtype=int)
        lp = self.log_posterior
        return replace(
            self,
            weights=self.weights[idx],
            intercept=self.intercept[idx],
            coef=self.coef[idx],
            sigma=self.sigma[idx],
            divergences=np.asarray(self.divergences)[idx],
            log_posterior=None if lp is None else lp[idx],
            permutations=None if self.permutations is None else self.permutations[idx],
            source=None,
            gating=None if self.gating is None else self.gating[idx],
            fixed=None if self.fixed is None else self.fixed[idx],
        )

    # ------------------------------------------------------------------ shape
    n_chains = property(lambda self: int(self.weights.shape[0]), doc="Number of chains.")
    n_draws = property(lambda self: int(self.weights.shape[1]), doc="Draws per chain.")
    n_components = property(lambda self: int(self.weights.shape[2]), doc="K, the components.")
    n_features = property(lambda self: int(self.coef.shape[3]), doc="p, the predictors.")

    @property
    def n_divergent(self) -> int:
        return int(np.sum(self.divergences))

    def __repr__(self) -> str:
        return (
            f"PosteriorDraws(chains={self.n_chains}, draws={self.n_draws}, "
            f"K={self.n_components}, features={list(self.feature_names)}, "
            f"sigma={self.sigma_setting!r}, relabelled={self.permutations is not None})"
        )

    # ------------------------------------------------------------------ parameters
    @property
    def sigma_param(self) -> float | np.ndarray:
        """Sigma as a parameter: (chain, draw) shared, (chain, draw, K) per component, or the
        known value (float or (K,))."""
        if self.sigma_setting == "shared":
            return self.sigma[..., 0]
        if self.sigma_setting == "component":
            return self.sigma
        return self.sigma_known

    def names(self) -> list[str]:
        """Parameter names in the order of :meth:`flat` (:func:`mlrbayes.params.param_names`)."""
        k, feats = self.n_components, self.feature_names
        names = param_names(k, feats, fit_intercept=self.fit_intercept, sigma=self.sigma_setting)
        return names + extended_param_names(
            k,
            self.concomitant_names if self.gating is not None else (),
            self.fixed_names if self.fixed is not None else (),
        )

    def flat(self) -> np.ndarray:
        """All parameters as (chain, draw, n_params) in the order of :meth:`names`."""
        out = flatten(
            self.weights,
            self.intercept,
            self.coef,
            self.sigma[..., 0] if self.sigma_setting == "shared" else self.sigma,
            fit_intercept=self.fit_intercept,
            sigma_setting=self.sigma_setting,
        )
        extra = [out]
        if self.gating is not None:
            extra.append(self.gating.reshape(*self.gating.shape[:2], -1))
        if self.fixed is not None:
            extra.append(self.fixed)
        return np.concatenate(extra, axis=-1) if len(extra) > 1 else out

    def relabel(self, permutations: Any) -> PosteriorDraws:
        """New draws with the components of every draw permuted.

        Parameters
        ----------
        permutations : ndarray of int of shape (chain, draw, K)
            ``new[..., j] = self[..., permutations[..., j]]``.

        Returns
        -------
        PosteriorDraws
            Its :attr:`permutations` relate it to the draws as read (composed with any earlier
            relabelling).
        """
        p = check_permutations(permutations, self.weights.shape[:2], self.n_components)
        total = p if self.permutations is None else np.take_along_axis(self.permutations, p, -1)
        return replace(
            self,
            weights=permute_array(self.weights, p, 2),
            intercept=permute_array(self.intercept, p, 2),
            coef=permute_array(self.coef, p, 2),
            sigma=permute_array(self.sigma, p, 2),
            gating=None if self.gating is None else permute_array(self.gating, p, 2),
            permutations=total,
        )

    def check_matches(self, em: Any) -> None:
        """Raise ``ValueError`` unless K, the features, the intercept and the σ setting match an
        EM fit (anything with ``n_components``, ``feature_names``, ``fit_intercept`` and
        ``sigma_setting``)."""
        if self.n_components != em.n_components:
            raise ValueError(
                f"the posterior has {self.n_components} components but the EM fit has "
                f"K={em.n_components}; sample and fit the same number of components."
            )
        if list(self.feature_names) != list(em.feature_names):
            raise ValueError(
                f"the posterior's features {list(self.feature_names)} do not match the EM fit's "
                f"{list(em.feature_names)}; fit and sample the same predictors in the same order."
            )
        if em.fit_intercept and not self.fit_intercept:
            raise ValueError(
                "the EM fit has intercepts but the posterior has none; sample with "
                "fit_intercept=True."
            )
        if self.sigma_setting != em.sigma_setting:
            raise ValueError(
                f"sigma is {self.sigma_setting!r} in the posterior but {em.sigma_setting!r} in "
                "the EM fit; sample with the same sigma setting."
            )
        for part, names in (("concomitant", "concomitant_names"), ("fixed", "fixed_names")):
            mine = list(getattr(self, names))
            theirs = list(getattr(em, names, None) or [])
            if mine != theirs:
                raise ValueError(
                    f"the posterior's {part} predictors {mine} do not match the EM fit's "
                    f"{theirs}; fit and sample the same model specification."
                )

    # ------------------------------------------------------------------ DataTree edge
    @classmethod
    def from_datatree(cls, idata: Any) -> PosteriorDraws:
        """Read the draws of a posterior DataTree (layout of :mod:`mlrbayes.bayes`).

        Parameters
        ----------
        idata : xarray.DataTree
            ``posterior`` with ``weights`` (chain, draw, component), ``coef`` (chain, draw,
            component, feature), optional ``intercept`` and ``sigma`` ((chain, draw) shared or
            (chain, draw, component)); a known sigma in ``constant_data.sigma`` (or
            ``posterior.attrs["sigma"]``); divergences and ``lp`` from ``sample_stats``.

        Returns
        -------
        PosteriorDraws
        """
        post = posterior_dataset(idata)
        for v in ("weights", "coef"):
            if v not in post:
                raise ValueError(
                    f"the posterior has no {v!r} variable (variables: {sorted(post.data_vars)}); "
                    "it does not look like a mixture of regressions from mlrbayes.bayes."
                )
        w = _values(post["weights"], "component")
        c, d, k = w.shape
        coef = _values(post["coef"], "component", ...)
        if coef.ndim == 3:
            coef = coef[..., None]
        feats = (
            tuple(str(f) for f in post["feature"].values)
            if "feature" in post.coords
            else tuple(f"x{j}" for j in range(coef.shape[-1]))
        )
        fit_intercept = "intercept" in post
        b = _values(post["intercept"], "component") if fit_intercept else np.zeros((c, d, k))
        setting, sigma, known = _read_sigma(idata, post, (c, d, k))
        divergences, lp = _read_sample_stats(idata, (c, d))
        gating = fixed = None
        cnames: tuple[str, ...] = ()
        fnames: tuple[str, ...] = ()
        if "gating" in post:
            gating = _values(post["gating"], "component", "concomitant")
            cnames = tuple(str(v) for v in post["concomitant"].values)
        if "fixed" in post:
            fixed = _values(post["fixed"], "fixed_predictor")
            fnames = tuple(str(v) for v in post["fixed_predictor"].values)
        return cls(
            weights=w,
            intercept=b,
            coef=coef,
            sigma=sigma,
            sigma_setting=setting,
            feature_names=feats,
            fit_intercept=fit_intercept,
            divergences=divergences,
            sigma_known=known,
            log_posterior=lp,
            attrs=dict(post.attrs),
            source=idata,
            gating=gating,
            fixed=fixed,
            concomitant_names=cnames,
            fixed_names=fnames,
        )

    def to_datatree(self) -> Any:
        """The draws as a DataTree.

        Draws read with :meth:`from_datatree` keep every other group of their source (data,
        sample stats, log-likelihood); relabelled draws get their component-indexed variables
        permuted and ``posterior.attrs["relabelled"] = 1``. Draws built from arrays give a tree
        with ``posterior`` and ``sample_stats`` (``diverging``), plus ``constant_data.sigma``
        when sigma is known.
        """
        if self.source is not None:
            if self.permutations is None:
                return self.source
            return apply_permutations(self.source, self.permutations)
        return self._new_tree()

    def _new_tree(self) -> Any:
        coords = {
            "chain": np.arange(self.n_chains),
            "draw": np.arange(self.n_draws),
            "component": np.arange(self.n_components),
            "feature": list(self.feature_names),
        }
        cdk = ("chain", "draw", "component")
        data = {"weights": (cdk, self.weights), "coef": ((*cdk, "feature"), self.coef)}
        if self.fit_intercept:
            data["intercept"] = (cdk, self.intercept)
        if self.gating is not None:
            coords["concomitant"] = list(self.concomitant_names)
            data["gating"] = ((*cdk, "concomitant"), self.gating)
        if self.fixed is not None:
            coords["fixed_predictor"] = list(self.fixed_names)
            data["fixed"] = (("chain", "draw", "fixed_predictor"), self.fixed)
        if self.sigma_setting == "shared":
            data["sigma"] = (("chain", "draw"), self.sigma[..., 0])
        elif self.sigma_setting == "component":
            data["sigma"] = (cdk, self.sigma)
        post = xr.Dataset(data, coords=coords, attrs=dict(self.attrs))
        if self.permutations is not None:
            post.attrs["relabelled"] = 1
        groups = {
            "posterior": post,
            "sample_stats": xr.Dataset(
                {"diverging": (("chain", "draw"), np.asarray(self.divergences, bool))},
                coords={"chain": coords["chain"], "draw": coords["draw"]},
            ),
        }
        if self.sigma_setting == "known":
            known = np.asarray(self.sigma_known, dtype=float)
            dims = ("component",) if known.ndim else ()
            groups["constant_data"] = xr.Dataset({"sigma": (dims, known)})
        return xr.DataTree.from_dict(groups)


# ----------------------------------------------------------------------------- readers
def _values(da: Any, *dims: Any) -> np.ndarray:
    return np.asarray(da.transpose("chain", "draw", *dims).values, dtype=float)


def _read_sigma(idata: Any, post: Any, shape: tuple[int, int, int]):
    """(setting, sigma (C, D, K), known value or None)."""
    if "sigma" in post:
        if "component" in post["sigma"].dims:
            return "component", _values(post["sigma"], "component"), None
        s = _values(post["sigma"])
        return "shared", np.repeat(s[..., None], shape[2], axis=-1), None
    known = None
    if "constant_data" in idata.children and "sigma" in idata["constant_data"].to_dataset():
        known = idata["constant_data"].to_dataset()["sigma"].values
    elif "sigma" in post.attrs:
        known = np.asarray(post.attrs["sigma"])
    if known is None:
        raise ValueError(
            "the posterior has no 'sigma' and no known sigma is stored (constant_data.sigma "
            "or posterior.attrs['sigma']); save the posterior with mlrbayes.bayes."
        )
    known = np.asarray(known, dtype=float)
    sigma = np.broadcast_to(known, shape).copy()
    return "known", sigma, float(known) if known.ndim == 0 else known


def _read_sample_stats(idata: Any, shape: tuple[int, int]):
    """Divergences (C, D) and the log-posterior density (C, D) or None."""
    div = np.zeros(shape, dtype=bool)
    lp = None
    if "sample_stats" in idata.children:
        ss = idata["sample_stats"].to_dataset()
        if "diverging" in ss:
            div = np.asarray(ss["diverging"].transpose("chain", "draw").values, dtype=bool)
        for name in ("lp", "logp"):
            if name in ss and set(ss[name].dims) == {"chain", "draw"}:
                lp = _values(ss[name])
                break
    return div, lp


def posterior_dataset(idata: Any) -> Any:
    """The ``posterior`` group of a DataTree as an ``xarray.Dataset``; a clear error otherwise."""
    if not isinstance(idata, xr.DataTree):
        raise TypeError(
            f"idata must be an xarray.DataTree (ArviZ 1.x) with a 'posterior' group; got "
            f"{type(idata).__name__}. Pass the result of mlrbayes.bayes.sample_posterior, or "
            "load a saved one with mlrbayes.bayes.load_posterior."
        )
    if "posterior" not in idata.children:
        raise ValueError(
            f"idata has no 'posterior' group (groups: {sorted(idata.children)}); pass the "
            "result of sample_posterior or load_posterior."
        )
    return idata["posterior"].to_dataset()


def data_from_datatree(idata: Any, X: Any = None, y: Any = None) -> Dataset:
    """The data of a posterior: ``X``/``y`` when given, else ``constant_data.X`` /
    ``observed_data.y`` of ``idata``, checked once into a :class:`~mlrbayes.spec.Dataset`.

    A :class:`~mlrbayes.spec.Dataset` passed as ``X`` (with ``y`` None) is returned as it is.
    """
    if isinstance(X, Dataset) and y is None:
        return X
    X_given = X
    groups = idata.children
    if X is None:
        if "constant_data" not in groups or "X" not in idata["constant_data"].to_dataset():
            raise ValueError("X was not given and the DataTree has no constant_data.X; pass X.")
        X = idata["constant_data"].to_dataset()["X"].transpose("obs", ...).values
    if y is None:
        if "observed_data" not in groups or "y" not in idata["observed_data"].to_dataset():
            raise ValueError("y was not given and the DataTree has no observed_data.y; pass y.")
        y = idata["observed_data"].to_dataset()["y"].values
    data = as_dataset(X, y)
    if "constant_data" in groups and X_given is None:
        data = _read_data_parts(idata["constant_data"].to_dataset(), data)
    return data


def store_data_parts(cd: Any, data: Dataset) -> Any:
    """``cd`` (the ``constant_data`` Dataset) with the extended model's data added:
    ``gating_covariates`` (obs, concomitant), ``fixed_predictors`` (obs, fixed_predictor),
    ``groups`` (obs)
    codes with the labels as coordinate ``group``, ``sample_weight`` (obs)."""
    parts = {}
    coords: dict[str, Any] = {}
    if data.concomitant is not None:
        parts["gating_covariates"] = (("obs", "concomitant"), data.concomitant)
        coords["concomitant"] = list(data.concomitant_names)
    if data.fixed is not None:
        parts["fixed_predictors"] = (("obs", "fixed_predictor"), data.fixed)
        coords["fixed_predictor"] = list(data.fixed_names)
    if data.groups is not None:
        parts["groups"] = (("obs",), np.asarray(data.groups, dtype=np.int64))
        coords["group"] = list(data.group_labels)
    if data.sample_weight is not None:
        parts["sample_weight"] = (("obs",), data.sample_weight)
    if not parts:
        return cd
    return cd.assign(parts).assign_coords(coords)


def _read_data_parts(cd: Any, data: Dataset) -> Dataset:
    """The Dataset with the parts :func:`store_data_parts` wrote."""
    kw: dict[str, Any] = {}
    if "gating_covariates" in cd:
        W = cd["gating_covariates"].transpose("obs", ...).values
        kw["concomitant"] = np.ascontiguousarray(W, dtype=float)
        kw["concomitant_names"] = tuple(str(v) for v in cd.coords["concomitant"].values)
    if "fixed_predictors" in cd:
        U = cd["fixed_predictors"].transpose("obs", ...).values
        kw["fixed"] = np.ascontiguousarray(U, dtype=float)
        kw["fixed_names"] = tuple(str(v) for v in cd.coords["fixed_predictor"].values)
    if "groups" in cd:
        kw["groups"] = np.asarray(cd["groups"].values, dtype=np.intp)
        kw["group_labels"] = tuple(str(v) for v in cd.coords["group"].values)
    if "sample_weight" in cd:
        kw["sample_weight"] = np.asarray(cd["sample_weight"].values, dtype=float)
    return replace(data, **kw) if kw else data


def extended_param_names(
    n_components: int, concomitant_names: Any = (), fixed_names: Any = ()
) -> list[str]:
    """Names of the extended model's parameters: ``gating[k,<name>]`` (k outer) then
    ``fixed[<name>]`` (empty names: none)."""
    names = [f"gating[{k},{c}]" for k in range(n_components) for c in concomitant_names]
    return names + [f"fixed[{f}]" for f in fixed_names]


def posterior_arrays(
    idata: Any, X: Any = None, y: Any = None, *, data: bool = True
) -> dict[str, Any]:
    """Posterior draws and data as a dict of NumPy arrays (the v0.1 interface).

    Returns
    -------
    dict
        ``weights`` (C, D, K), ``intercept`` (C, D, K; zeros without intercept), ``coef``
        (C, D, K, p), ``sigma`` ((C, D) shared, (C, D, K) per component, or the known float /
        (K,) array), ``sigma_k`` (C, D, K), ``sigma_setting``, ``fit_intercept``,
        ``feature_names``, ``X``, ``y`` (None with ``data=False``), ``lp`` ((C, D) or None).
        New code reads :class:`PosteriorDraws` instead.
    """
    draws = PosteriorDraws.from_datatree(idata)
    out = {
        "weights": draws.weights,
        "intercept": draws.intercept,
        "coef": draws.coef,
        "sigma": draws.sigma_param,
        "sigma_k": draws.sigma,
        "sigma_setting": draws.sigma_setting,
        "fit_intercept": draws.fit_intercept,
        "feature_names": list(draws.feature_names),
        "X": None,
        "y": None,
        "lp": draws.log_posterior,
    }
    if data:
        ds = data_from_datatree(idata, X, y)
        check_data(draws, ds)
        out["X"], out["y"] = ds.X, ds.y
    return out


def check_data(draws: PosteriorDraws, data: Dataset) -> None:
    """Raise ``ValueError`` when the data have another number of predictors than the draws."""
    if data.n_features != draws.n_features:
        raise ValueError(
            f"X has {data.n_features} columns but the posterior has {draws.n_features} features "
            f"({list(draws.feature_names)}); pass the data the posterior was fitted to."
        )


def apply_permutations(idata: Any, perms: Any, *, group: str = "posterior") -> Any:
    """Relabel a posterior DataTree: permute every component-indexed variable.

    Parameters
    ----------
    idata : xarray.DataTree
        With a ``group`` (default ``"posterior"``) whose variables have dims (chain, draw, ...).
        Every variable with a ``component`` dimension is permuted along it — this covers
        :data:`mlrbayes.params.COMPONENT_VARS` (weights, intercept, coef, per-component
        sigma); a shared or known sigma has no such dimension and is left alone. Other groups
        (observed/constant data, sample stats, pointwise log-likelihood) do not depend on the
        labels and are kept as they are.
    perms : ndarray of int of shape (chain, draw, K)
        ``relabelled[..., j] = original[..., perms[..., j]]``.
    group : str, default "posterior"

    Returns
    -------
    xarray.DataTree
        A new tree (the input is not modified); the group's attrs gain ``relabelled = 1``.
    """
    if not isinstance(idata, xr.DataTree):
        raise TypeError(
            f"idata must be an xarray.DataTree (ArviZ 1.x); got {type(idata).__name__}. Use "
            "permute_array for plain arrays."
        )
    if group not in idata.children:
        raise ValueError(
            f"idata has no {group!r} group (groups: {sorted(idata.children)}); pass the group "
            "holding the draws."
        )
    ds = idata[group].to_dataset()
    if "component" not in ds.dims:
        raise ValueError(
            f"the {group!r} group has no 'component' dimension (dims {dict(ds.sizes)}); nothing "
            "to relabel."
        )
    batch = (ds.sizes["chain"], ds.sizes["draw"])
    p = check_permutations(perms, batch, ds.sizes["component"])
    new_vars = {}
    for name, da in ds.data_vars.items():
        if "component" not in da.dims:
            continue
        order = ("chain", "draw", "component", *[d for d in da.dims if d not in _SAMPLE_DIMS])
        arr = da.transpose(*order).values
        permuted = permute_array(arr, p, axis=2)
        new_vars[name] = da.transpose(*order).copy(data=permuted).transpose(*da.dims)
    new_ds = ds.assign(new_vars)
    new_ds.attrs = {**ds.attrs, "relabelled": 1}
    out = idata.copy()
    out[group] = xr.DataTree(new_ds)
    return out
