"""EM results to and from JSON-able dictionaries.

:func:`em_to_dict` turns an :class:`~mlrbayes.em.EMResult` into plain lists, floats, ints, bools,
strings and ``None``, so ``json.dumps(..., allow_nan=False)`` writes it as strict JSON (readable by
``JSON.parse``, jq and every other strict parser); :func:`em_from_dict` rebuilds the result. Every
start and every distinct optimum of the census is kept, so prediction, the census table and the
standard errors survive the round trip; floats are written by ``json`` with their shortest exact
representation, so the round trip through a JSON file is exact.

**Numbers that are not finite are written as** ``null``. What a ``null`` means depends on the key,
and :func:`em_from_dict` reads it back as exactly that value:

* in a log-likelihood (``loglik`` and ``loglik_trace``, at the top level and in ``starts`` and
  ``census``): ``-inf``, a start whose likelihood collapsed before its first pass;
* in ``aic``, ``bic`` and ``icl``: ``+inf`` (they are recomputed from ``loglik`` on reading);
* everywhere else (``standard_errors``, ``covariance``): ``NaN``, "not available" (e.g. the
  standard errors of a singular information matrix).

The parameters (``weights``, ``intercept``, ``coef``, ``sigma``) are always finite: a file with
``null``, a non-positive ``sigma``, negative weights or weights that do not sum to 1 is refused
with a ``ValueError`` that names the key, as is any entry of the wrong type or shape.

The top-level keys (the ``mlrbayes fit --json`` format) are

``format``, ``version``
    ``"mlrbayes.em"`` and the layout version (1).
``weights``, ``intercept``, ``coef``, ``sigma``
    The estimate (``coef`` as K lists of p numbers; ``sigma`` a number or K numbers).
``sigma_setting``, ``fit_intercept``, ``n_components``, ``n_features``, ``n_samples``
    The model settings and the size of the data.
``loglik``, ``loglik_trace``, ``n_iter``, ``converged``, ``degenerate``
    The log-likelihood, its trace per iteration and the state of the fit.
``aic``, ``bic``, ``icl``, ``n_parameters``
    The information criteria and the number of free parameters they count.
``standard_errors``
    ``{"weights": [...], "intercept": [...], "coef": [[...]], "sigma": ...}`` as in
    :func:`mlrbayes.uncertainty.standard_errors`, with ``se_names`` and ``covariance``
    (d lists of d numbers, or ``null``) beside it.
``census``
    One entry per distinct optimum, best first:
    ``{loglik, count, degenerate, saddle, n_variants, identified, starts, weights, intercept,
    coef, sigma}`` (``n_variants`` > 1: parameter variants with the same fitted density, a
    duplicated component; ``identified`` is false then).
``census_summary``
    How complete the census is: ``{n_starts, n_screened, n_best_starts, n_singleton_optima,
    p_new_optimum}`` (a start is a run to convergence; screening runs are counted apart;
    ``p_new_optimum`` is the Good-Turing estimate, optima reached once / starts).
``order``
    The component order (``"weight"``, ``"intercept"`` or ``"none"``).
``starts``
    One entry per EM start: ``{start, init, loglik, weights, intercept, coef, sigma, n_iter,
    converged, degenerate, optimum}``.
``columns``
    ``{"y": target name, "x": [feature names]}``.
``gating_coef``, ``concomitant_names``
    The gating coefficients γ (K lists of q numbers, centred: they sum to 0 over the
    components) and the names of the gating design's columns (``"(Intercept)"`` first);
    ``null`` and ``[]`` without gating covariates.
``fixed_coef``, ``fixed_names``
    The coefficients shared by all components (r numbers) and their predictors' names;
    ``null`` and ``[]`` without them.
``n_groups``, ``group_labels``, ``weighted``
    The number of groups (``null`` without groups) and their labels; whether observation
    weights were used. A file without these keys (written before they existed) reads as the
    plain model.
``responsibilities``
    n lists of K numbers (left out with ``include_responsibilities=False``; then
    :func:`em_from_dict` needs the data to recompute them).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np

from . import likelihood as _lik
from ._json import plain
from .em import EMResult, Optimum, StartResult
from .spec import Dataset, as_dataset

__all__ = ["FORMAT", "VERSION", "em_from_dict", "em_to_dict"]

FORMAT = "mlrbayes.em"
VERSION = 1

_PARAMS = ("weights", "intercept", "coef", "sigma")
_START_FIELDS = frozenset(f.name for f in dataclasses.fields(StartResult))
_START_KEYS = frozenset(
    ("start", "init", "loglik", "n_iter", "converged", "degenerate", "optimum", *_PARAMS)
)
_OPTIMUM_FIELDS = frozenset(f.name for f in dataclasses.fields(Optimum))
_OPTIMUM_KEYS = frozenset(
    ("loglik", "count", "degenerate", "saddle", "n_variants", "starts", *_PARAMS)
)
_WEIGHT_SUM_TOL = 1e-6  # weights read back must sum to 1 within this


# ----------------------------------------------------------------------------- to plain types
def _plain(value: Any) -> Any:
    """Plain JSON types; a number that is not finite becomes None (strict JSON)."""
    return plain(value)


def _extra_fields(obj: Any, known: frozenset[str]) -> dict[str, Any]:
    """Dataclass fields of ``obj`` not in ``known`` (e.g. a start's trace and notes)."""
    return {
        f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name not in known
    }


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    """The entries that are not None (a plain model's census keeps its layout)."""
    return {k: v for k, v in fields.items() if v is not None}


def _params(obj: Any) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in _PARAMS}


def em_to_dict(result: EMResult, *, include_responsibilities: bool = True) -> dict[str, Any]:
    """A dictionary of plain JSON types (strict: no NaN or infinity) holding all of ``result``.

    Parameters
    ----------
    result : EMResult
    include_responsibilities : bool, default True
        Store the (n, K) membership probabilities. Leave them out for large data sets; then
        :func:`em_from_dict` must be given ``X`` and ``y`` to recompute them.

    Returns
    -------
    dict
        See the module docstring for the keys and the meaning of ``None``.
    """
    if not isinstance(result, EMResult):
        raise TypeError(f"em_to_dict expects an EMResult; got {type(result).__name__}.")
    out: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    out.update(_params(result))
    out.update(
        sigma_setting=result.sigma_setting,
        fit_intercept=bool(result.fit_intercept),
        n_components=result.n_components,
        n_features=result.n_features,
        n_samples=int(result.n_samples),
        loglik=_plain(result.loglik),
        loglik_trace=_plain(np.asarray(result.loglik_trace, dtype=float)),
        n_iter=int(result.n_iter),
        converged=bool(result.converged),
        degenerate=bool(result.degenerate),
        aic=_plain(result.aic),
        bic=_plain(result.bic),
        icl=_plain(result.icl),
        n_parameters=int(result.n_parameters),
        standard_errors=_plain(dict(result.standard_errors)),
        se_names=list(result.se_names),
        covariance=None if result.covariance is None else _plain(result.covariance),
        order=str(result.order),
        n_screened=int(result.n_screened),
        census_summary={
            "n_starts": len(result.starts),
            "n_screened": int(result.n_screened),
            "n_best_starts": int(result.n_best_starts),
            "n_singleton_optima": int(result.n_singleton_optima),
            "p_new_optimum": _plain(result.p_new_optimum),
        },
        census=[
            {
                "loglik": _plain(o.loglik),
                "count": int(o.count),
                "degenerate": bool(o.degenerate),
                "saddle": bool(o.saddle),
                "n_variants": int(o.n_variants),
                "identified": bool(o.identified),
                "starts": [int(s) for s in o.starts],
                **_params(o),
                **_given(_extra_fields(o, _OPTIMUM_KEYS)),
            }
            for o in result.optima
        ],
        starts=[
            {
                "start": int(s.start),
                "init": str(s.init),
                "loglik": _plain(s.loglik),
                **_params(s),
                "n_iter": int(s.n_iter),
                "converged": bool(s.converged),
                "degenerate": bool(s.degenerate),
                "optimum": int(s.optimum),
                **_extra_fields(s, _START_KEYS),
            }
            for s in result.starts
        ],
        columns={"y": str(result.target_name), "x": [str(f) for f in result.feature_names]},
        **_spec_fields(result),
    )
    known = set(out) | {"responsibilities", "optima", "feature_names", "target_name"}
    extra = _extra_fields(result, frozenset(known))
    if extra:
        out["extra"] = extra
    if include_responsibilities:
        out["responsibilities"] = _plain(np.asarray(result.responsibilities, dtype=float))
    return out


#: The extended model's EMResult fields (mlrbayes.spec, issue 14) and their plain defaults.
SPEC_FIELDS = {
    "gating_coef": None,
    "concomitant_names": [],
    "fixed_coef": None,
    "fixed_names": [],
    "n_groups": None,
    "group_labels": [],
    "weighted": False,
}
_ARRAY_FIELDS = frozenset(("gating_coef", "fixed_coef", "gating", "fixed"))


def _spec_fields(result: Any) -> dict[str, Any]:
    """The extended model's fields of ``result`` (their defaults where it has none)."""
    out: dict[str, Any] = {}
    for key, default in SPEC_FIELDS.items():
        value = getattr(result, key, default)
        if key.endswith(("names", "labels")):
            value = [str(v) for v in (value or [])]
        elif key == "n_groups":
            value = None if value is None else int(value)
        elif key == "weighted":
            value = bool(value)
        out[key] = _plain(value)
    return out


# ----------------------------------------------------------------------------- typed reading
def _need(d: Any, key: str, where: str = "the dictionary") -> Any:
    if not isinstance(d, dict):
        raise ValueError(f"{where} must be a JSON object (dict); got {type(d).__name__}.")
    if key not in d:
        raise ValueError(
            f"{where} has no {key!r} entry; pass a dictionary written by em_to_dict "
            "(or the JSON of `mlrbayes fit --json`)."
        )
    return d[key]


def _fill_none(value: Any, fill: float) -> Any:
    """Nested lists with every None replaced by ``fill``."""
    if value is None:
        return fill
    if isinstance(value, list):
        return [_fill_none(v, fill) for v in value]
    return value


def _floats(value: Any, key: str, where: str, *, null: float | None = None) -> np.ndarray:
    """Numbers (nested lists) as a float array; None -> ``null`` (refused when that is None)."""
    what = f"{where}: {key!r}"
    if null is None and _has_none(value):
        raise ValueError(f"{what} has a null (missing) number; every entry must be finite.")
    if isinstance(value, bool | str) or _has_type(value, (bool, str, dict)):
        raise ValueError(f"{what} must hold numbers; got {_short(value)}.")
    try:
        arr = np.asarray(_fill_none(value, math.nan if null is None else null), dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} must be numbers or lists of numbers; got {_short(value)}."
        ) from exc
    return arr


def _has_none(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, list) and any(_has_none(v) for v in value)


def _has_type(value: Any, types: tuple) -> bool:
    if isinstance(value, list):
        return any(_has_type(v, types) for v in value)
    return isinstance(value, types)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _shaped(value: Any, key: str, where: str, shape: tuple[int, ...], *, finite=True) -> np.ndarray:
    arr = _floats(value, key, where, null=None if finite else math.nan)
    if arr.shape != shape:
        raise ValueError(f"{where}: {key!r} must have shape {shape}; got shape {arr.shape}.")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {key!r} must be finite; got {_short(value)}.")
    return arr


def _number(d: dict, key: str, where: str, *, null: float | None = None) -> float:
    value = _need(d, key, where)
    if value is None and null is not None:
        return null
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}: {key!r} must be a number; got {_short(value)}.")
    return float(value)


def _integer(d: dict, key: str, where: str, default: int | None = None) -> int:
    value = d.get(key, default) if default is not None else _need(d, key, where)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{where}: {key!r} must be an integer; got {_short(value)}.")
    return int(value)


def _flag(d: dict, key: str, where: str, default: bool | None = None) -> bool:
    value = d.get(key, default) if default is not None else _need(d, key, where)
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {key!r} must be true or false; got {_short(value)}.")
    return value


def _read_params(d: dict[str, Any], k: int, p: int, where: str) -> dict[str, Any]:
    """The four parameter entries, checked: finite, weights a distribution, sigma > 0."""
    w = _shaped(_need(d, "weights", where), "weights", where, (k,))
    if np.any(w < 0) or abs(float(w.sum()) - 1.0) > _WEIGHT_SUM_TOL:
        raise ValueError(f"{where}: 'weights' must be non-negative and sum to 1; got {w.tolist()}.")
    raw_sigma = _need(d, "sigma", where)
    sigma = _floats(raw_sigma, "sigma", where)
    if sigma.shape not in ((), (k,)) or not np.all(np.isfinite(sigma)) or np.any(sigma <= 0):
        raise ValueError(
            f"{where}: 'sigma' must be a positive number or {k} positive numbers; got "
            f"{_short(raw_sigma)}."
        )
    return {
        "weights": w,
        "intercept": _shaped(_need(d, "intercept", where), "intercept", where, (k,)),
        "coef": _shaped(_need(d, "coef", where), "coef", where, (k, p)),
        "sigma": float(sigma) if sigma.ndim == 0 else sigma,
    }


def _read_se(se: Any) -> dict[str, Any]:
    if not isinstance(se, dict):
        raise ValueError(f"'standard_errors' must be a JSON object; got {_short(se)}.")
    out: dict[str, Any] = {}
    for key, value in se.items():
        arr = _floats(value, key, "standard_errors", null=math.nan)
        out[key] = arr if isinstance(value, list) else float(arr)
    return out


def _coerce(name: str, value: Any, where: str) -> Any:
    """Extra fields back to their types: traces to arrays (null = -inf), notes to tuples."""
    if value is None:
        return None
    if name.endswith("trace"):
        trace = _floats(value, name, where, null=-math.inf)
        if trace.ndim != 1:
            raise ValueError(f"{where}: {name!r} must be a list of numbers.")
        return trace
    if name in _ARRAY_FIELDS:
        return _floats(value, name, where)
    if name == "group_codes":  # the group of each observation (extended EMResult)
        codes = _floats(value, name, where)
        if codes.ndim != 1 or np.any(codes != np.round(codes)) or np.any(codes < 0):
            raise ValueError(f"{where}: 'group_codes' must be a list of group indices.")
        return codes.astype(np.intp)
    if name == "unit_weights":
        return _floats(value, name, where)
    if name == "notes":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where}: 'notes' must be a list of strings; got {_short(value)}.")
        return tuple(value)
    if name == "decreased":
        return _flag({name: value}, name, where)
    return value


def _read_start(s: Any, k: int, p: int) -> StartResult:
    where = "a start"
    _need(s, "start", where)
    init = _need(s, "init", where)
    if not isinstance(init, str):
        raise ValueError(f"{where}: 'init' must be a string; got {_short(init)}.")
    return StartResult(
        start=_integer(s, "start", where),
        init=init,
        loglik=_number(s, "loglik", where, null=-math.inf),
        **_read_params(s, k, p, where),
        n_iter=_integer(s, "n_iter", where),
        converged=_flag(s, "converged", where),
        degenerate=_flag(s, "degenerate", where),
        optimum=_integer(s, "optimum", where, default=-1),
        **{
            key: _coerce(key, value, where)
            for key, value in s.items()
            if key in _START_FIELDS and key not in _START_KEYS
        },
    )


def _read_optimum(o: Any, k: int, p: int) -> Optimum:
    where = "a census entry"
    starts = o.get("starts", []) if isinstance(o, dict) else None
    if not isinstance(starts, list) or _has_type(starts, (bool, float, str, dict)):
        raise ValueError(f"{where}: 'starts' must be a list of integers; got {_short(starts)}.")
    return Optimum(
        loglik=_number(o, "loglik", where, null=-math.inf),
        **_read_params(o, k, p, where),
        count=_integer(o, "count", where),
        starts=tuple(int(i) for i in starts),
        degenerate=_flag(o, "degenerate", where),
        n_variants=_integer(o, "n_variants", where, default=1),
        saddle=_flag(o, "saddle", where, default=False),
        **{
            key: _coerce(key, value, where)
            for key, value in o.items()
            if key in _OPTIMUM_FIELDS and key not in _OPTIMUM_KEYS
        },
    )


def _choice(d: dict, key: str, choices: tuple[str, ...], default: str) -> str:
    value = d.get(key, default)
    if value not in choices:
        raise ValueError(f"the dictionary: {key!r} must be one of {list(choices)}; got "
                         f"{_short(value)}.")  # fmt: skip
    return value


def _list(d: dict, key: str) -> list:
    value = _need(d, key)
    if not isinstance(value, list):
        raise ValueError(f"the dictionary: {key!r} must be a list; got {_short(value)}.")
    return value


# ----------------------------------------------------------------------------- back to arrays
def _check_header(d: Any) -> None:
    if not isinstance(d, dict):
        raise TypeError(f"em_from_dict expects a dict; got {type(d).__name__}.")
    fmt = d.get("format")
    if fmt != FORMAT:
        raise ValueError(
            f"format={fmt!r} is not {FORMAT!r}; pass the output of em_to_dict or of "
            "`mlrbayes fit --json`."
        )
    version = d.get("version", -1)
    if isinstance(version, bool) or not isinstance(version, numbers.Integral):
        raise ValueError(f"'version' must be an integer; got {_short(version)}.")
    if version > VERSION:
        raise ValueError(
            f"version={version!r} is newer than this mlrbayes understands ({VERSION}); "
            "upgrade mlrbayes."
        )


def _fitted_data(X: Any, y: Any, n: int, features: list[str]) -> Dataset | None:
    """The data the result was fitted to, checked against it (None when not given)."""
    if X is None and y is None:
        return None
    if X is None or (y is None and not isinstance(X, Dataset)):
        raise ValueError("pass both X and y (the data the result was fitted to), or neither.")
    data = as_dataset(X, y)
    p = len(features)
    if (data.n_samples, data.n_features) != (n, p):
        raise ValueError(
            f"X has shape {(data.n_samples, data.n_features)} but the result was fitted to "
            f"({n}, {p}); pass the data the result was fitted to."
        )
    if hasattr(X, "columns") and list(data.feature_names) != features:
        raise ValueError(
            f"X has columns {list(data.feature_names)} but the result was fitted with "
            f"{features}; pass the same predictors in the same order."
        )
    return data


def _read_responsibilities(
    d: dict, data: Dataset | None, params: dict, n: int, spec: dict
) -> np.ndarray:
    k = len(params["weights"])
    if d.get("responsibilities") is not None:
        resp = _shaped(d["responsibilities"], "responsibilities", "the dictionary", (n, k))
        if np.any(resp < 0) or np.any(resp > 1):
            raise ValueError("the dictionary: 'responsibilities' must lie in [0, 1].")
        return resp
    if data is None:
        raise ValueError(
            "the dictionary has no 'responsibilities'; pass the fitted data as X and y to "
            "recompute them, or write it with em_to_dict(..., include_responsibilities=True)."
        )
    if not data.is_plain or spec["gating_coef"] is not None or spec["fixed_coef"] is not None:
        return _extended_responsibilities(data, params, spec)
    sig = np.broadcast_to(np.asarray(params["sigma"], dtype=float), (k,))
    return _lik.responsibilities(
        data.X, data.y, params["weights"], params["intercept"], params["coef"], sig
    )


def _names_list(d: dict, key: str) -> list[str]:
    value = d.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"the dictionary: {key!r} must be a list of names; got {_short(value)}.")
    return list(value)


def _read_spec(d: dict[str, Any], k: int) -> dict[str, Any]:
    """The extended model's entries (defaults when absent), checked against each other."""
    where = "the dictionary"
    out: dict[str, Any] = {
        "concomitant_names": _names_list(d, "concomitant_names"),
        "fixed_names": _names_list(d, "fixed_names"),
        "group_labels": _names_list(d, "group_labels"),
        "weighted": _flag(d, "weighted", where, default=False),
        "gating_coef": None,
        "fixed_coef": None,
        "n_groups": None,
    }
    if d.get("gating_coef") is not None:
        q = len(out["concomitant_names"])
        out["gating_coef"] = _shaped(d["gating_coef"], "gating_coef", where, (k, q))
    elif out["concomitant_names"]:
        raise ValueError(f"{where}: 'concomitant_names' is given but 'gating_coef' is not.")
    if d.get("fixed_coef") is not None:
        r = len(out["fixed_names"])
        out["fixed_coef"] = _shaped(d["fixed_coef"], "fixed_coef", where, (r,))
    elif out["fixed_names"]:
        raise ValueError(f"{where}: 'fixed_names' is given but 'fixed_coef' is not.")
    if d.get("n_groups") is not None:
        g = _integer(d, "n_groups", where)
        if g < 1 or len(out["group_labels"]) not in (0, g):
            raise ValueError(
                f"{where}: 'n_groups' = {g} must be >= 1 and match the {len(out['group_labels'])} "
                "'group_labels'."
            )
        out["n_groups"] = g
    return out


def _extended_responsibilities(data: Dataset, params: dict, spec: dict) -> np.ndarray:
    """Memberships of the extended model per observation (a group's for its rows)."""
    for key, part, what in (
        ("gating_coef", data.concomitant, "concomitant"),
        ("fixed_coef", data.fixed, "fixed"),
        ("n_groups", data.groups, "groups"),
    ):
        if (spec[key] is None) != (part is None):
            has = "has" if spec[key] is not None else "has no"
            raise ValueError(
                f"the result {has} {what} but the data given {'do not' if part is None else 'do'};"
                " pass the Dataset the result was fitted to (e.g. resolve_dataset(..., "
                f"{what}=...))."
            )
    k = len(params["weights"])
    sig = np.broadcast_to(np.asarray(params["sigma"], dtype=float), (k,))
    lj = _lik.log_joint(
        data, params["intercept"], params["coef"], sig, weights=params["weights"],
        gating=spec["gating_coef"], fixed=spec["fixed_coef"],
    )  # fmt: skip
    resp = np.exp(lj - _lik.logsumexp_lastaxis(lj)[..., None])
    return resp if data.groups is None else resp[data.groups]


def em_from_dict(d: dict[str, Any], X: Any = None, y: Any = None) -> EMResult:
    """Rebuild an :class:`~mlrbayes.em.EMResult` from :func:`em_to_dict` output.

    Parameters
    ----------
    d : dict
        As written by :func:`em_to_dict` (possibly read back from JSON; ``null`` is read as
        the module docstring says).
    X : array-like of shape (n_samples, n_features), or Dataset, optional
    y : array-like of shape (n_samples,), optional
        The data the result was fitted to; needed only when ``d`` has no ``responsibilities``.
        When given, their shape (and a DataFrame's column names) must match the result.

    Returns
    -------
    EMResult

    Raises
    ------
    ValueError
        A missing, mistyped or out-of-range entry, named by its key: parameters must be finite,
        ``sigma`` > 0 and the weights non-negative and summing to 1.
    """
    _check_header(d)
    columns = _need(d, "columns")
    features = _need(columns, "x", "columns")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise ValueError(f"columns: 'x' must be a list of names; got {_short(features)}.")
    target = _need(columns, "y", "columns")
    weights = _need(d, "weights")
    if not isinstance(weights, list) or not weights:
        raise ValueError(f"the dictionary: 'weights' must be a non-empty list; got {weights!r}.")
    k, p = len(weights), len(features)
    params = _read_params(d, k, p, "the dictionary")
    n = _integer(d, "n_samples", "the dictionary")
    data = _fitted_data(X, y, n, features)
    spec = _read_spec(d, k)
    setting = _need(d, "sigma_setting")
    if setting not in ("known", "shared", "component"):
        raise ValueError(
            f"'sigma_setting' must be 'known', 'shared' or 'component'; got {_short(setting)}."
        )
    cov = d.get("covariance")
    kwargs: dict[str, Any] = dict(
        **params,
        sigma_setting=setting,
        loglik=_number(d, "loglik", "the dictionary", null=-math.inf),
        loglik_trace=_coerce("loglik_trace", _need(d, "loglik_trace"), "the dictionary"),
        n_iter=_integer(d, "n_iter", "the dictionary"),
        converged=_flag(d, "converged", "the dictionary"),
        degenerate=_flag(d, "degenerate", "the dictionary", default=False),
        responsibilities=_read_responsibilities(d, data, params, n, spec),
        starts=tuple(_read_start(s, k, p) for s in _list(d, "starts")),
        optima=tuple(_read_optimum(o, k, p) for o in _list(d, "census")),
        fit_intercept=_flag(d, "fit_intercept", "the dictionary"),
        feature_names=list(features),
        target_name=str(target),
        n_samples=n,
        covariance=None
        if cov is None
        else _floats(cov, "covariance", "the dictionary", null=math.nan),
        se_names=[str(s) for s in d.get("se_names", [])],
        standard_errors=_read_se(d.get("standard_errors", {})),
        n_screened=_integer(d, "n_screened", "the dictionary", default=0),
        order=_choice(d, "order", ("weight", "intercept", "none"), "none"),
        **spec,
    )
    names = {f.name for f in dataclasses.fields(EMResult)}
    extra = d.get("extra", {})
    if not isinstance(extra, dict):
        raise ValueError(f"'extra' must be a JSON object; got {_short(extra)}.")
    for key, value in extra.items():
        if key in names:
            kwargs[key] = _coerce(key, value, "extra")
    return EMResult(**{key: value for key, value in kwargs.items() if key in names})
