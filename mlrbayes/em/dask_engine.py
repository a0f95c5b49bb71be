r"""EM on Dask arrays and DataFrames: the pass engine over row blocks, and ``fit_em`` for them.

The EM of a mixture of linear regressions reduces exactly to per-component sufficient
statistics (:class:`~mlrbayes.em.engine.SufficientStats`: :math:`N_k`, :math:`Z^\top\Gamma_k Z`,
:math:`Z^\top\Gamma_k r_k`, :math:`r_k^\top\Gamma_k r_k` and the log-likelihood), sums over
rows. So a pass over data that do not fit in memory is a map over the row blocks of the Dask
collection followed by a tree sum, and the M-step runs on the client with the loop's own
update functions: the result is the in-memory answer up to summation order, not an
approximation.

* :class:`DaskEngine` implements the engine interface of :mod:`mlrbayes.em.engine` plus
  ``accumulate_batch``: one pass computes the statistics of *every* active start (each block
  is read once per iteration for all of them; :func:`mlrbayes.em.loop.run_batch` drives the
  starts in lockstep). Each block is standardised on the worker and handed to the in-memory
  engine, so both engines share one kernel.
* :func:`fit_em_dask` is what :func:`mlrbayes.em.fit_em` calls for Dask input. Order of work:
  one pass for the standardisation statistics (Chan et al.'s pairwise update of means and
  centred sums of squares, plus minima and maxima), one read of a uniform random sample of
  ``START_ROWS`` rows (all rows when there are fewer) on which the start strategies, the
  screening and the K-1 parent of the split start run in memory, then the EM passes, the
  census (fitted densities compared block by block), and Louis standard errors (the observed
  information summed over blocks).
* ``EMResult.responsibilities`` of a Dask fit is a lazy ``dask.array`` of shape (n, K): it
  is never materialised whole (``.compute()`` it, or reduce it, e.g. ``.sum(axis=0)``).
  :func:`lazy_rows` maps a prediction function over row blocks (``predict_proba`` and the
  other prediction methods of a result return lazy arrays for Dask input).

Works with the default threaded scheduler and with ``dask.distributed`` (a ``Client`` made
before the fit is used by ``dask.compute``). Dask is imported only here, on first use.

Differences from the in-memory path, by design: y is standardised by its mean and sd (a value
of y more than ``MAX_ROBUST_DISTANCE`` median absolute deviations of the sample from its
median is refused with a ValueError, where the in-memory fit warns and standardises
robustly); the extended model (gating, groups, fixed coefficients, weights) is not supported.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from .._validation import check_positive_int, check_random_state
from ..progress import StartsProgress, resolve_progressbar
from ..uncertainty import free_param_names, nan_standard_errors, observed_information
from ..uncertainty import standard_errors as _louis_standard_errors
from . import predict as _predict
from .census import census
from .engine import InMemoryEngine, SufficientStats
from .fit import (
    FROM_BEST_START,
    census_results,
    check_model,
    loop_settings,
    warn_census,
    warn_outcome,
)
from .kernels import ROW_BLOCK
from .multistart import order_state, run_starts
from .order import check_order
from .result import EMResult, NumericalWarning
from .scaling import MAX_ABS_VALUE, MAX_ROBUST_DISTANCE, Scaling
from .squarem import check_accelerate
from .starts import check_init

__all__ = [
    "START_ROWS",
    "DaskEngine",
    "Moments",
    "dask_inputs",
    "fit_em_dask",
    "lazy_prediction",
    "lazy_rows",
    "scaling_from_moments",
]

#: Rows read into memory for the start strategies (uniform random sample without
#: replacement; all rows when there are fewer).
START_ROWS = 100_000
#: Name of the response column while X and y are joined into one frame.
_Y_COLUMN = "__mlrbayes_response__"
#: Keywords of the extended model, refused on Dask.
_EXTENDED = ("concomitant", "fixed", "groups", "weights", "data")


# ----------------------------------------------------------------------------- inputs
def _as_float(a, what: str):
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise TypeError(f"{what} must hold real numbers; got dtype {a.dtype}. Convert it first.")
    return a.astype(float)


def dask_inputs(X: Any, y: Any):
    """``(X, y, feature_names, target_name)``: a 2-d float Dask array chunked along rows only,
    and a 1-d one with the same row chunks (lengths computed for DataFrames).

    Raises
    ------
    TypeError
        Neither a Dask array nor a Dask DataFrame/Series, or not numeric.
    ValueError
        Wrong dimensions, or X and y of different lengths.
    """
    import dask.array as da
    import dask.dataframe as dd

    names, target = None, "y"
    if isinstance(X, dd.DataFrame) and isinstance(y, dd.Series):  # one frame: aligned blocks
        target = str(y.name) if y.name is not None else "y"
        names = [str(c) for c in X.columns]
        A = X.assign(**{_Y_COLUMN: y}).to_dask_array(lengths=True)
        X, y = A[:, :-1], A[:, -1]
    if isinstance(X, dd.DataFrame):
        names = [str(c) for c in X.columns]
        X = X.to_dask_array(lengths=True)
    elif isinstance(X, dd.Series):
        names = [str(X.name)]
        X = X.to_dask_array(lengths=True)[:, None]
    elif not isinstance(X, da.Array):
        raise TypeError(
            f"X is {type(X).__name__} and y a Dask collection; pass both as Dask arrays or "
            "DataFrames (e.g. dask.array.from_array(X, chunks=...))."
        )
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"X must be 2-d (n_samples, n_features); got shape {X.shape}.")
    if isinstance(y, dd.DataFrame):
        if len(y.columns) != 1:
            raise ValueError(f"y must be one column; got {len(y.columns)} columns.")
        y = y[y.columns[0]]
    if isinstance(y, dd.Series):
        target = str(y.name) if y.name is not None else "y"
        y = y.to_dask_array().compute_chunk_sizes()
    elif isinstance(y, np.ndarray | list | tuple):
        y = da.from_array(np.asarray(y), chunks=(X.chunks[0],))
    elif not isinstance(y, da.Array):
        raise TypeError(f"y must be a Dask array or Series with Dask X; got {type(y).__name__}.")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-d (n_samples,); got shape {y.shape}.")
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X has {X.shape[0]} rows but y has {y.shape[0]}; pass one response per row."
        )
    X = _as_float(X, "X").rechunk({1: -1})
    y = _as_float(y, "y").rechunk((X.chunks[0],))
    names = names or [f"x{j}" for j in range(X.shape[1])]
    return X, y, names, target


def _blocks(X, y) -> list[tuple[Any, Any]]:
    """The row blocks as pairs of delayed arrays."""
    xs = X.to_delayed().ravel()
    ys = y.to_delayed().ravel()
    return list(zip(xs, ys, strict=True))


def _tree_sum(parts, add):
    """Pairwise (tree) reduction of a list of delayed values with the delayed function add."""
    while len(parts) > 1:
        nxt = [add(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


# ----------------------------------------------------------------------------- moments
@dataclass
class Moments:
    """Column statistics of ``[X, y]`` (Chan, Golub & LeVeque's pairwise combination)."""

    n: int
    mean: np.ndarray  # (p + 1,)
    m2: np.ndarray  # (p + 1,) centred sums of squares
    lo: np.ndarray
    hi: np.ndarray
    n_bad: int  # rows with a NaN or infinite value

    @staticmethod
    def of_block(Xb: np.ndarray, yb: np.ndarray) -> Moments:
        with np.errstate(over="ignore", invalid="ignore"):  # huge values: refused after
            return Moments._of_block(Xb, yb)

    @staticmethod
    def _of_block(Xb: np.ndarray, yb: np.ndarray) -> Moments:
        A = np.column_stack([Xb, yb])
        ok = np.isfinite(A).all(axis=1)
        n_bad = int(A.shape[0] - ok.sum())
        A = A[ok] if n_bad else A
        if A.shape[0] == 0:
            z = np.zeros(A.shape[1])
            return Moments(0, z, z.copy(), z + np.inf, z - np.inf, n_bad)
        mean = A.mean(axis=0)
        m2 = ((A - mean) ** 2).sum(axis=0)
        return Moments(A.shape[0], mean, m2, A.min(axis=0), A.max(axis=0), n_bad)

    def __add__(self, o: Moments) -> Moments:
        n = self.n + o.n
        if n == 0:
            return Moments(0, self.mean, self.m2, self.lo, self.hi, self.n_bad + o.n_bad)
        delta = o.mean - self.mean
        mean = self.mean + delta * (o.n / n)
        with np.errstate(over="ignore", invalid="ignore"):
            m2 = self.m2 + o.m2 + delta**2 * (self.n * o.n / n)
        lo, hi = np.minimum(self.lo, o.lo), np.maximum(self.hi, o.hi)
        return Moments(n, mean, m2, lo, hi, self.n_bad + o.n_bad)


def _moments(blocks) -> Moments:
    import dask

    parts = [dask.delayed(Moments.of_block)(xb, yb) for xb, yb in blocks]
    (total,) = dask.compute(_tree_sum(parts, dask.delayed(Moments.__add__)))
    return total


def scaling_from_moments(mo: Moments, fit_intercept: bool) -> Scaling:
    """The in-memory standardisation (:func:`mlrbayes.em.scaling.standardise`, mean/sd branch)
    from the moments."""
    n, p = mo.n, mo.mean.shape[0] - 1
    ss = mo.m2 if fit_intercept else mo.m2 + n * mo.mean**2  # about the centre used
    if fit_intercept:
        kept = mo.hi[:p] > mo.lo[:p]
        x_mean = mo.mean[:p].copy()
    else:
        kept = (mo.lo[:p] != 0) | (mo.hi[:p] != 0)
        x_mean = np.zeros(p)
    rms = np.sqrt(ss[:p] / n)
    x_scale = np.where(kept & np.isfinite(rms) & (rms > 0), rms, 1.0)
    y_mean = float(mo.mean[p]) if fit_intercept else 0.0
    y_scale = float(np.sqrt(ss[p] / n)) or 1.0
    return Scaling(x_mean, x_scale, y_mean, y_scale, kept, bool(fit_intercept))


def standardised_block(Xb: np.ndarray, yb: np.ndarray, scaling: Scaling):
    """``(Z, ys)`` of one row block in the standardised units of ``scaling``."""
    fi = int(scaling.fit_intercept)
    kept = scaling.kept
    Z = np.empty((Xb.shape[0], fi + int(kept.sum())))
    if fi:
        Z[:, 0] = 1.0
    Z[:, fi:] = (Xb[:, kept] - scaling.x_mean[kept]) / scaling.x_scale[kept]
    return Z, (yb - scaling.y_mean) / scaling.y_scale


# ----------------------------------------------------------------------------- block work
def _block_stats(Xb, yb, scaling, k, chunk, params):
    Z, ys = standardised_block(Xb, yb, scaling)
    eng = InMemoryEngine(Z, ys, k, chunk)
    return [_stats_tuple(eng.accumulate(*p)) for p in params]


def _stats_tuple(st: SufficientStats):
    return (st.loglik, st.N, st.G, st.H, st.S)


def _add_stats(a, b):
    return [tuple(u + v for u, v in zip(x, y, strict=True)) for x, y in zip(a, b, strict=True)]


def _block_residuals(Xb, yb, scaling, k, chunk, B, w, s, B_eval):
    Z, ys = standardised_block(Xb, yb, scaling)
    return InMemoryEngine(Z, ys, k, chunk).residual_sums(B, w, s, B_eval)


def _block_rows(Xb, yb, scaling, k, chunk, B, w, s, what):
    Z, ys = standardised_block(Xb, yb.ravel(), scaling)
    eng = InMemoryEngine(Z, ys, k, chunk)
    return getattr(eng, what)(B, w, s)


def _block_information(Xb, yb, kept, params, fit_intercept, sigma_setting):
    w, b, c, s = params
    return observed_information(
        Xb[:, kept], yb, w, b, c, s, fit_intercept=fit_intercept, sigma_setting=sigma_setting
    )


def _add(a, b):
    return a + b


class DaskEngine:
    """The engine interface of :mod:`mlrbayes.em.engine` over the row blocks of Dask arrays.

    Parameters
    ----------
    X : dask.array of shape (n, p)
        Raw predictors, chunked along rows only (see :func:`dask_inputs`).
    y : dask.array of shape (n,)
        Raw response, with the row chunks of ``X``.
    n_components : int
    scaling : Scaling
        The standardisation; every block is standardised on its worker.
    chunk : int
        Rows per block of the in-memory kernel inside a Dask block.

    Attributes
    ----------
    n_passes : int
        Passes over the data made so far (each ``accumulate_batch`` is one, whatever the
        number of starts).
    """

    def __init__(self, X, y, n_components: int, scaling: Scaling, chunk: int = ROW_BLOCK):
        self.X, self.y, self.scaling, self.chunk = X, y, scaling, chunk
        self.n_samples = int(X.shape[0])
        self.n_components = n_components
        self.n_coef = int(scaling.fit_intercept) + int(scaling.kept.sum())
        self.blocks = _blocks(X, y)
        self.n_passes = 0

    def _reduce(self, parts, add=_add):
        import dask

        self.n_passes += 1
        (total,) = dask.compute(_tree_sum(parts, dask.delayed(add)))
        return total

    def accumulate_batch(self, params: list[tuple]) -> list[SufficientStats]:
        """One pass: the statistics at every ``(B, w, sigma)`` of ``params``."""
        import dask

        f = dask.delayed(_block_stats)
        parts = [f(xb, yb, self.scaling, self.n_components, self.chunk, params)
                 for xb, yb in self.blocks]  # fmt: skip
        out = []
        for ll, N, G, H, S in self._reduce(parts, _add_stats):
            ll = float(ll) if math.isfinite(ll) else -math.inf
            out.append(SufficientStats(ll, N, G, H, S, self.n_samples))
        return out

    def accumulate(self, B: np.ndarray, w: np.ndarray, sigma: np.ndarray) -> SufficientStats:
        """One pass at one start's parameters."""
        return self.accumulate_batch([(B, w, sigma)])[0]

    def residual_sums(self, B, w, sigma, B_eval) -> np.ndarray:
        """``sum_i gamma_ik (y_i - z_i B_eval_k)^2``, shape (K,) (one pass)."""
        import dask

        f = dask.delayed(_block_residuals)
        k, sc, ch = self.n_components, self.scaling, self.chunk
        return self._reduce([f(xb, yb, sc, k, ch, B, w, sigma, B_eval) for xb, yb in self.blocks])

    def _rows(self, B, w, sigma, what: str, shape_tail: tuple):
        import dask.array as da

        k = self.n_components
        drop = () if shape_tail else (1,)
        return da.map_blocks(
            _block_rows, self.X, self.y[:, None], self.scaling, k, self.chunk, B, w, sigma,
            what, dtype=float, chunks=(self.X.chunks[0], *((s,) for s in shape_tail)),
            drop_axis=drop,
        )  # fmt: skip

    def pointwise_loglik(self, B, w, sigma):
        """Log mixture density of every row: a lazy dask array of shape (n,)."""
        return self._rows(B, w, sigma, "pointwise_loglik", ())

    def responsibilities(self, B, w, sigma):
        """Membership probabilities: a lazy dask array of shape (n, K)."""
        return self._rows(B, w, sigma, "responsibilities", (self.n_components,))

    def information(self, params, fit_intercept: bool, sigma_setting: str) -> np.ndarray:
        """Louis' observed information (original units), summed over blocks (one pass)."""
        import dask

        f = dask.delayed(_block_information)
        kept = self.scaling.kept
        return self._reduce(
            [f(xb, yb, kept, params, fit_intercept, sigma_setting) for xb, yb in self.blocks]
        )


# ----------------------------------------------------------------------------- the fit
def _check_data(mo: Moments, names, target: str, sample_y: np.ndarray) -> None:
    """Non-finite values, values whose squares overflow, extreme values of y."""
    if mo.n_bad:
        raise ValueError(
            f"the data have {mo.n_bad} row(s) with NaN or infinite values; drop or impute them "
            "(e.g. ddf.dropna()) before fitting."
        )
    top = np.maximum(np.abs(mo.lo), np.abs(mo.hi))
    if np.any(top > MAX_ABS_VALUE):
        j = int(np.argmax(top))
        what = target if j == len(names) else f"predictor '{names[j]}'"
        raise ValueError(
            f"{what} has a value of magnitude {top[j]:.3g}: above {MAX_ABS_VALUE:.0e} the "
            "squares in the fit overflow float64. Rescale it before fitting."
        )
    med = float(np.median(sample_y))
    mad = float(np.median(np.abs(sample_y - med))) or float(np.mean(np.abs(sample_y - med)))
    far = max(abs(mo.hi[-1] - med), abs(mo.lo[-1] - med))
    if mad > 0 and far > MAX_ROBUST_DISTANCE * mad:
        raise ValueError(
            f"{target} has a value {far / mad:.2g} median absolute deviations (of a sample) "
            "from its median: it would dominate every variance, and the Dask engine "
            "standardises by the mean and sd. Check it for a data error, leave it out, or fit "
            "in memory (which warns and standardises robustly)."
        )


def _start_sample(X, y, n: int, rng: np.random.Generator):
    """A uniform random sample of ``START_ROWS`` rows (all rows, in order, when fewer)."""
    import dask

    if n <= START_ROWS:
        return dask.compute(X, y)
    rows = np.sort(rng.choice(n, size=START_ROWS, replace=False))
    return dask.compute(X[rows], y[rows])


def _dropped_warning(names, kept, fit_intercept: bool) -> None:
    dropped = [names[j] for j in np.flatnonzero(~kept)]
    if dropped:
        what = "constant" if fit_intercept else "all zero"
        warnings.warn(
            f"predictor(s) {dropped} are {what}; their coefficients are set to 0. Drop them "
            "to silence this warning.",
            NumericalWarning,
            stacklevel=4,
        )
    if not fit_intercept and not kept.any():
        raise ValueError(
            "no usable predictor: every column of X is zero and fit_intercept=False; pass "
            "non-zero predictors or set fit_intercept=True."
        )


def _dask_standard_errors(engine: DaskEngine, bs, spec, names, compute_se: bool):
    k, p, mode = spec.n_components, len(names), spec.sigma_setting
    if not compute_se:
        se_names = free_param_names(k, names, fit_intercept=spec.fit_intercept, sigma_setting=mode)
        return None, se_names, nan_standard_errors(k, p, spec.fit_intercept, mode)
    kept = engine.scaling.kept
    params = (bs.weights, bs.intercept, bs.coef[:, kept], bs.sigma)
    info = engine.information(params, spec.fit_intercept, mode)
    cov, se_names, se = _louis_standard_errors(
        None, None, *params, fit_intercept=spec.fit_intercept, sigma_setting=mode,
        feature_names=[f for f, keep in zip(names, kept, strict=True) if keep],
        information=info,
    )  # fmt: skip
    if not kept.all():
        full = np.full((k, p), np.nan)
        full[:, kept] = se["coef"]
        se = {**se, "coef": full}
    return cov, se_names, se


def fit_em_dask(X: Any, y: Any, n_components: int, **settings: Any) -> EMResult:
    """:func:`mlrbayes.em.fit_em` for Dask arrays / DataFrames (same keywords, same result).

    ``fit_em`` calls this for Dask input. ``accelerate="auto"`` is SQUAREM here. The result's
    ``responsibilities`` is a lazy dask array of shape (n, K); everything else is in memory.
    ``EMResult.starts[i]`` and the census are as in memory; the start strategies see a
    uniform random sample of ``START_ROWS`` rows (all rows when fewer: then the starts, and so
    the fit, equal the in-memory ones up to rounding).

    Raises
    ------
    ValueError
        Extended-model keywords (not supported on Dask), NaN/infinite values, values whose
        squares overflow, extreme values of y, and every check of ``fit_em``.
    """
    from .fit import fit_em

    params = inspect.signature(fit_em).parameters
    unknown = sorted(set(settings) - set(params) - set(_EXTENDED))
    if unknown:
        raise TypeError(f"fit_em got unexpected keyword(s) {unknown}.")
    opts = {k: p.default for k, p in params.items() if p.default is not p.empty}
    opts.update({k: v for k, v in settings.items() if k in params})
    given = sorted(k for k, v in settings.items() if k in _EXTENDED and v is not None)
    if given:
        raise ValueError(
            f"{given} are not supported with Dask input: the Dask engine fits the plain "
            "mixture of regressions. Fit the extended model in memory (compute the data)."
        )
    return _fit(X, y, n_components, SimpleNamespace(**opts))


def _fit(X, y, n_components, o) -> EMResult:
    """The body of :func:`fit_em_dask`; ``o`` holds fit_em's keywords."""
    Xd, yd, names, target = dask_inputs(X, y)
    engine_blocks = _blocks(Xd, yd)
    mo = _moments(engine_blocks)
    spec = check_model(SimpleNamespace(n_samples=mo.n, n_features=len(names)), n_components,
                       o.sigma, o.fit_intercept)  # fmt: skip
    o.n_init = check_positive_int(o.n_init, "n_init")
    cfg = loop_settings(o.tol, o.max_iter, o.min_weight, o.min_sigma_ratio, spec.sigma_setting)
    o.chunk_size = check_positive_int(o.chunk_size, "chunk_size")
    strategy, given_params = check_init(o.init, spec.n_components, len(names), spec.fit_intercept)
    o.order = check_order(o.order)
    o.accelerate = check_accelerate("squarem" if o.accelerate == "auto" else o.accelerate)
    root = check_random_state(o.random_state)
    rngs = root.spawn(o.n_init + 1)  # the same generators as in memory; the sample's is extra
    Xs, ys_raw = _start_sample(Xd, yd, mo.n, root.spawn(1)[0])
    _check_data(mo, names, target, ys_raw)
    scaling = scaling_from_moments(mo, spec.fit_intercept)
    _dropped_warning(names, scaling.kept, spec.fit_intercept)
    top = float(max(abs(mo.lo[-1]), abs(mo.hi[-1])))
    floor = 16.0 * np.finfo(float).eps * top / scaling.y_scale  # as fit_em's _with_scale
    cfg = dataclasses.replace(cfg, sigma_floor=floor, y_scale=scaling.y_scale)
    Zs, ys = standardised_block(Xs, ys_raw, scaling)
    engine = DaskEngine(Xd, yd, spec.n_components, scaling, o.chunk_size)
    s_known = None if spec.sigma_known is None else spec.sigma_known / scaling.y_scale
    with StartsProgress(o.n_init, enabled=resolve_progressbar(o.progressbar)) as bar:
        states, n_screened = run_starts(engine, Zs, ys, strategy, given_params, cfg, s_known,
                                        scaling, rngs, bar.update, o.accelerate)  # fmt: skip
    if spec.sigma_setting == "known" and np.ptp(np.atleast_1d(spec.sigma)) > 0:
        o.order = "none"
    states = [order_state(st, scaling, o.order) for st in states]
    groups = census(states, mo.n, cfg.mode, engine)
    starts, optima = census_results(states, groups, scaling, spec, mo.n)
    best, bs = states[groups[0].starts[0]], starts[groups[0].starts[0]]
    warn_outcome(best, o.n_init, cfg, mo.n)
    warn_census(optima, o.n_init)
    covariance, se_names, se = _dask_standard_errors(engine, bs, spec, names, o.compute_se)
    return EMResult(
        **{name: getattr(bs, name) for name in FROM_BEST_START},
        sigma_setting=cfg.mode,
        responsibilities=engine.responsibilities(best.B, best.weights, best.sigma),
        starts=starts,
        optima=optima,
        fit_intercept=spec.fit_intercept,
        feature_names=list(names),
        target_name=target,
        n_samples=mo.n,
        covariance=covariance,
        se_names=list(se_names),
        standard_errors=se,
        notes=best.notes,
        n_screened=n_screened,
        order=o.order,
    )


# ----------------------------------------------------------------------------- predictions
def lazy_rows(func, X: Any, y: Any = None, n_out: int | None = None):
    """Map ``func(X_block[, y_block])`` over the row blocks of Dask input, lazily.

    Parameters
    ----------
    func : callable
        Takes a checked block ``(m, p)`` (and ``(m,)`` when ``y`` is given) and returns
        ``(m,)`` or ``(m, n_out)``.
    X : dask array or DataFrame
    y : dask array or Series, optional
    n_out : int or None
        Columns of the output; None for one value per row.

    Returns
    -------
    dask.array of shape (n,) or (n, n_out)
    """
    import dask.array as da

    if y is None:
        Xd = _x_only(X)
        args = (Xd,)
    else:
        Xd, yd, _, _ = dask_inputs(X, y)
        args = (Xd, yd[:, None])
    if n_out is None:
        return da.map_blocks(_apply, func, *args, dtype=float, drop_axis=1,
                             chunks=(Xd.chunks[0],))  # fmt: skip
    return da.map_blocks(_apply, func, *args, dtype=float, chunks=(Xd.chunks[0], (n_out,)))


def _x_only(X):
    import dask.array as da
    import dask.dataframe as dd

    if isinstance(X, dd.DataFrame):
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a Dask array or DataFrame; got {type(X).__name__}.")
    if X.ndim == 1:
        X = X[:, None]
    return _as_float(X, "X").rechunk({1: -1})


def _apply(func, Xb, yb=None):
    return func(Xb) if yb is None else func(Xb, yb.ravel())


def _prediction(fit, what: str, kw: dict, Xb: np.ndarray, yb: np.ndarray | None = None):
    if what == "predict_proba":
        return _predict.prior_membership(fit, Xb)
    if what == "membership":
        return _predict.membership(fit, Xb, yb)
    if what == "predict":
        return _predict.mixture_mean(fit, Xb, kw.get("component"))
    if what == "predict_components":
        return _predict.component_means(fit, Xb)
    return _predict.predict_interval(fit, Xb, kw.get("level", 0.95))


def lazy_prediction(fit, what: str, X: Any, y: Any = None, **kw: Any):
    """A prediction of a fitted result for Dask input, as a lazy dask array.

    Parameters
    ----------
    fit : EMResult
    what : {"predict_proba", "membership", "predict", "predict_components", "predict_interval"}
    X : dask array of shape (n, p) or DataFrame
    y : dask array of shape (n,) or Series (``membership`` only)
    **kw
        ``component`` (predict) or ``level`` (predict_interval), checked here.

    Returns
    -------
    dask.array of shape (n, K) (membership probabilities, component lines), (n, 2)
    (intervals) or (n,) (mixture mean)
    """
    from functools import partial

    Xd = _x_only(X)
    if Xd.shape[1] != fit.n_features:
        raise ValueError(
            f"X has {Xd.shape[1]} columns but the model was fitted with {fit.n_features} "
            f"({fit.feature_names}); pass the same predictors."
        )
    if what == "predict":  # check the component now, not inside a task
        _predict.mixture_mean(fit, np.zeros((1, fit.n_features)), kw.get("component"))
    if what == "predict_interval":
        _predict.predict_interval(fit, np.zeros((1, fit.n_features)), kw.get("level", 0.95))
    params = SimpleNamespace(
        weights=fit.weights, intercept=fit.intercept, coef=fit.coef, sigma=fit.sigma
    )  # fmt: skip  (not the result: it holds a graph)
    func = partial(_prediction, params, what, kw)
    k = fit.n_components
    n_out = {"predict": None, "predict_interval": 2}.get(what, k)
    if what == "predict" and kw.get("component") is not None:
        n_out = None
    return lazy_rows(func, Xd, y if what == "membership" else None, n_out)
