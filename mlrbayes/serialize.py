"""EM results to and from JSON-able dictionaries.

:func:`em_to_dict` turns an :class:`~mlrbayes.em.EMResult` into plain lists, floats, ints, bools
and strings (``NaN`` stays a float ``nan``; write it with ``json.dumps(..., allow_nan=True)``),
and :func:`em_from_dict` rebuilds the result. Every start and every distinct optimum of the census
is kept, so prediction, the census table and the standard errors survive the round trip; floats
are written by ``json`` with their shortest exact representation, so the round trip through a
JSON file is exact.

The top-level keys (the ``mlrbayes fit --json`` format) are

``format``, ``version``
    ``"mlrbayes.em"`` and the layout version (1).
``weights``, ``intercept``, ``coef``, ``sigma``
    The estimate (``coef`` as K lists of p numbers; ``sigma`` a number or K numbers).
``sigma_setting``, ``fit_intercept``, ``n_components``, ``n_features``, ``n_samples``
``loglik``, ``loglik_trace``, ``n_iter``, ``converged``, ``degenerate``
``aic``, ``bic``, ``icl``, ``n_parameters``
``standard_errors``
    ``{"weights": [...], "intercept": [...], "coef": [[...]], "sigma": ...}`` as in
    :func:`mlrbayes.uncertainty.standard_errors`, with ``se_names`` and ``covariance``
    (d lists of d numbers, or ``null``) beside it.
``census``
    One entry per distinct optimum, best first:
    ``{loglik, count, degenerate, starts, weights, intercept, coef, sigma}``.
``starts``
    One entry per EM start: ``{start, init, loglik, weights, intercept, coef, sigma, n_iter,
    converged, degenerate, optimum}``.
``columns``
    ``{"y": target name, "x": [feature names]}``.
``responsibilities``
    n lists of K numbers (left out with ``include_responsibilities=False``; then
    :func:`em_from_dict` needs the data to recompute them).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from . import likelihood as _lik
from ._json import plain
from ._validation import check_X_y
from .em import EMResult, Optimum, StartResult

__all__ = ["FORMAT", "VERSION", "em_from_dict", "em_to_dict"]

FORMAT = "mlrbayes.em"
VERSION = 1

_PARAMS = ("weights", "intercept", "coef", "sigma")
_START_FIELDS = frozenset(f.name for f in dataclasses.fields(StartResult))


# ----------------------------------------------------------------------------- to plain types
def _plain(value: Any) -> Any:
    """Plain JSON types with NaN kept (em.json is written with allow_nan: NaN SEs round-trip)."""
    return plain(value, nan_to_none=False)


_START_KEYS = frozenset(
    ("start", "init", "loglik", "n_iter", "converged", "degenerate", "optimum", *_PARAMS)
)


def _extra_fields(obj: Any, known: frozenset[str]) -> dict[str, Any]:
    """Dataclass fields of ``obj`` not in ``known`` (e.g. a start's trace and notes)."""
    return {
        f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name not in known
    }


def _coerce(name: str, value: Any) -> Any:
    """Undo the list conversion of extra fields: traces to arrays, notes to tuples."""
    if value is None:
        return None
    if name.endswith("trace"):
        return np.asarray(value, dtype=float)
    if name == "notes":
        return tuple(str(v) for v in value)
    return value


def _params(obj: Any) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in _PARAMS}


def em_to_dict(result: EMResult, *, include_responsibilities: bool = True) -> dict[str, Any]:
    """A JSON-able dictionary holding everything in ``result``.

    Parameters
    ----------
    result : EMResult
    include_responsibilities : bool, default True
        Store the (n, K) membership probabilities. Leave them out for large data sets; then
        :func:`em_from_dict` must be given ``X`` and ``y`` to recompute them.

    Returns
    -------
    dict
        See the module docstring for the keys.
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
        loglik=float(result.loglik),
        loglik_trace=_plain(np.asarray(result.loglik_trace, dtype=float)),
        n_iter=int(result.n_iter),
        converged=bool(result.converged),
        degenerate=bool(result.degenerate),
        aic=float(result.aic),
        bic=float(result.bic),
        icl=float(result.icl),
        n_parameters=int(result.n_parameters),
        standard_errors=_plain(dict(result.standard_errors)),
        se_names=list(result.se_names),
        covariance=None if result.covariance is None else _plain(result.covariance),
        census=[
            {
                "loglik": float(o.loglik),
                "count": int(o.count),
                "degenerate": bool(o.degenerate),
                "starts": [int(s) for s in o.starts],
                **_params(o),
            }
            for o in result.optima
        ],
        starts=[
            {
                "start": int(s.start),
                "init": str(s.init),
                "loglik": float(s.loglik),
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
    )
    known = set(out) | {"responsibilities", "optima", "feature_names", "target_name"}
    extra = _extra_fields(result, frozenset(known))
    if extra:
        out["extra"] = extra
    if include_responsibilities:
        out["responsibilities"] = _plain(np.asarray(result.responsibilities, dtype=float))
    return out


# ----------------------------------------------------------------------------- back to arrays
def _need(d: dict[str, Any], key: str, where: str = "the dictionary") -> Any:
    if key not in d:
        raise ValueError(
            f"{where} has no {key!r} entry; pass a dictionary written by em_to_dict "
            "(or the JSON of `mlrbayes fit --json`)."
        )
    return d[key]


def _sigma_value(value: Any) -> float | np.ndarray:
    if isinstance(value, list):
        return np.asarray(value, dtype=float)
    return float(value)


def _read_params(d: dict[str, Any], k: int, p: int, where: str) -> dict[str, Any]:
    w = np.asarray(_need(d, "weights", where), dtype=float)
    b = np.asarray(_need(d, "intercept", where), dtype=float)
    c = np.asarray(_need(d, "coef", where), dtype=float).reshape(k, p)
    if w.shape != (k,) or b.shape != (k,):
        raise ValueError(
            f"{where}: weights and intercept must have {k} entries; got {w.shape} and {b.shape}."
        )
    return {
        "weights": w,
        "intercept": b,
        "coef": c,
        "sigma": _sigma_value(_need(d, "sigma", where)),
    }


def _read_se(se: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in se.items():
        out[key] = np.asarray(value, dtype=float) if isinstance(value, list) else float(value)
    return out


def em_from_dict(d: dict[str, Any], X: Any = None, y: Any = None) -> EMResult:
    """Rebuild an :class:`~mlrbayes.em.EMResult` from :func:`em_to_dict` output.

    Parameters
    ----------
    d : dict
        As written by :func:`em_to_dict` (possibly read back from JSON).
    X : array-like of shape (n_samples, n_features), optional
    y : array-like of shape (n_samples,), optional
        The data the result was fitted to; needed only when ``d`` has no ``responsibilities``.
        When given, their shape (and a DataFrame's column names) must match the result.

    Returns
    -------
    EMResult
    """
    if not isinstance(d, dict):
        raise TypeError(f"em_from_dict expects a dict; got {type(d).__name__}.")
    fmt = d.get("format")
    if fmt != FORMAT:
        raise ValueError(
            f"format={fmt!r} is not {FORMAT!r}; pass the output of em_to_dict or of "
            "`mlrbayes fit --json`."
        )
    if int(d.get("version", -1)) > VERSION:
        raise ValueError(
            f"version={d.get('version')!r} is newer than this mlrbayes understands ({VERSION}); "
            "upgrade mlrbayes."
        )
    columns = _need(d, "columns")
    features = [str(f) for f in _need(columns, "x", "columns")]
    k = len(_need(d, "weights"))
    p = len(features)
    params = _read_params(d, k, p, "the dictionary")
    n = int(_need(d, "n_samples"))
    if (X is None) != (y is None):
        raise ValueError("pass both X and y (the data the result was fitted to), or neither.")
    if X is not None:
        Xa, ya, xnames, _ = check_X_y(X, y)
        if Xa.shape != (n, p):
            raise ValueError(
                f"X has shape {Xa.shape} but the result was fitted to ({n}, {p}); pass the "
                "data the result was fitted to."
            )
        if hasattr(X, "columns") and xnames != features:
            raise ValueError(
                f"X has columns {xnames} but the result was fitted with {features}; pass the "
                "same predictors in the same order."
            )
    if d.get("responsibilities") is not None:
        resp = np.asarray(d["responsibilities"], dtype=float).reshape(n, k)
    elif X is not None:
        sig = np.broadcast_to(np.asarray(params["sigma"], dtype=float), (k,))
        resp = _lik.responsibilities(
            Xa, ya, params["weights"], params["intercept"], params["coef"], sig
        )
    else:
        raise ValueError(
            "the dictionary has no 'responsibilities'; pass the fitted data as X and y to "
            "recompute them, or write it with em_to_dict(..., include_responsibilities=True)."
        )
    starts = tuple(
        StartResult(
            start=int(_need(s, "start", "a start")),
            init=str(_need(s, "init", "a start")),
            loglik=float(_need(s, "loglik", "a start")),
            **_read_params(s, k, p, "a start"),
            n_iter=int(_need(s, "n_iter", "a start")),
            converged=bool(_need(s, "converged", "a start")),
            degenerate=bool(_need(s, "degenerate", "a start")),
            optimum=int(s.get("optimum", -1)),
            **{
                key: _coerce(key, value)
                for key, value in s.items()
                if key in _START_FIELDS and key not in _START_KEYS
            },
        )
        for s in _need(d, "starts")
    )
    optima = tuple(
        Optimum(
            loglik=float(_need(o, "loglik", "a census entry")),
            **_read_params(o, k, p, "a census entry"),
            count=int(_need(o, "count", "a census entry")),
            starts=tuple(int(i) for i in o.get("starts", ())),
            degenerate=bool(_need(o, "degenerate", "a census entry")),
        )
        for o in _need(d, "census")
    )
    cov = d.get("covariance")
    kwargs: dict[str, Any] = dict(
        **params,
        sigma_setting=str(_need(d, "sigma_setting")),
        loglik=float(_need(d, "loglik")),
        loglik_trace=np.asarray(_need(d, "loglik_trace"), dtype=float),
        n_iter=int(_need(d, "n_iter")),
        converged=bool(_need(d, "converged")),
        degenerate=bool(d.get("degenerate", False)),
        responsibilities=resp,
        starts=starts,
        optima=optima,
        fit_intercept=bool(_need(d, "fit_intercept")),
        feature_names=features,
        target_name=str(_need(columns, "y", "columns")),
        n_samples=n,
        covariance=None if cov is None else np.asarray(cov, dtype=float),
        se_names=[str(s) for s in d.get("se_names", [])],
        standard_errors=_read_se(d.get("standard_errors", {})),
    )
    names = {f.name for f in dataclasses.fields(EMResult)}
    for key, value in d.get("extra", {}).items():
        if key in names:
            kwargs[key] = _coerce(key, value)
    return EMResult(**{key: value for key, value in kwargs.items() if key in names})
