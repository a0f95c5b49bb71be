"""Input checks shared by every entry point.

Every message quotes the offending value and says what to do instead. Nothing here imports
PyMC; the functions take array-likes (NumPy, pandas, lists) and return plain NumPy arrays plus
the column names to carry into results and reports.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

SIGMA_MODES = ("shared", "component")


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "pandas"


def _first_bad(a: np.ndarray) -> tuple[int, ...]:
    """Index of the first non-finite entry of ``a``."""
    return tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])


def _as_float_array(value: Any, name: str) -> np.ndarray:
    """``np.asarray(value, dtype=float)`` with a TypeError that names the input."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} could not be converted to a float array ({exc}); pass numbers only."
        ) from exc


def check_X(X: Any, *, name: str = "X") -> tuple[np.ndarray, list[str]]:
    """Return ``X`` as a float64 array of shape (n_samples, n_features) and its column names.

    A 1-d input is read as a single predictor. pandas DataFrame columns keep their names;
    other inputs get ``x0, x1, ...``.
    """
    if _is_pandas(X) and hasattr(X, "columns"):
        names = [str(c) for c in X.columns]
        repeated = sorted({c for c in names if names.count(c) > 1})
        if repeated:
            raise ValueError(
                f"{name} has repeated column names {repeated}; give every column its own name "
                "(e.g. df.columns = [...]) so coefficients can be told apart."
            )
        try:
            arr = X.to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            bad = [c for c in X.columns if X[c].dtype.kind not in "biuf"]
            raise TypeError(
                f"{name} has non-numeric columns {bad}; convert them to numbers "
                "(e.g. one-hot encode categories) or leave them out."
            ) from exc
    elif _is_pandas(X):  # Series as a single predictor
        names = [str(X.name) if X.name is not None else "x0"]
        arr = np.asarray(X.to_numpy(dtype=float))
    else:
        arr = _as_float_array(X, name)
        names = None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-d of shape (n_samples, n_features); got an array of shape "
            f"{arr.shape}. Reshape it, e.g. X.reshape(n_samples, -1)."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {arr.shape}); pass at least one observation.")
    if names is None:
        names = [f"x{j}" for j in range(arr.shape[1])]
    if not np.all(np.isfinite(arr)):
        i, j = _first_bad(arr)
        raise ValueError(
            f"{name} contains a non-finite value ({float(arr[i, j])!r}) at row {i}, column "
            f"'{names[j]}'. Remove or impute missing and infinite values before fitting."
        )
    return np.ascontiguousarray(arr), names


def check_y(y: Any, *, name: str = "y") -> tuple[np.ndarray, str]:
    """Return ``y`` as a float64 array of shape (n_samples,) and its name."""
    yname = "y"
    if _is_pandas(y):
        if hasattr(y, "columns"):
            if y.shape[1] != 1:
                raise ValueError(
                    f"{name} must be a single column; got a DataFrame with columns "
                    f"{list(map(str, y.columns))}. Pick one, e.g. df['{y.columns[0]}']."
                )
            yname = str(y.columns[0])
            y = y.iloc[:, 0]
        elif y.name is not None:
            yname = str(y.name)
        try:
            arr = y.to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} ('{yname}', dtype {y.dtype}) could not be converted to numbers ({exc}); "
                "pass a numeric response."
            ) from exc
    else:
        arr = _as_float_array(y, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-d of shape (n_samples,); got an array of shape {arr.shape}. "
            "Pass a single response column."
        )
    if not np.all(np.isfinite(arr)):
        (i,) = _first_bad(arr)
        raise ValueError(
            f"{name} contains a non-finite value ({float(arr[i])!r}) at row {i}. Remove or impute "
            "missing and infinite values before fitting."
        )
    return np.ascontiguousarray(arr), yname


def check_X_y(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """Check ``X`` and ``y`` together: returns ``(X, y, feature_names, target_name)``."""
    Xa, names = check_X(X)
    ya, yname = check_y(y)
    if Xa.shape[0] != ya.shape[0]:
        raise ValueError(
            f"X and y have different lengths: X has {Xa.shape[0]} rows, y has {ya.shape[0]}. "
            "Pass one response per row of X."
        )
    return Xa, ya, names, yname


def _max_components(n_samples: int, n_coef: int, sigma_setting: str) -> int:
    if sigma_setting == "shared":  # K * d < n
        return (n_samples - 1) // n_coef
    if sigma_setting == "component":  # K * (d + 1) <= n
        return n_samples // (n_coef + 1)
    return n_samples // n_coef  # known: K * d <= n


_SIZE_RULE = {
    "shared": "with one shared sigma the lines need more observations than coefficients in "
    "total (K*{d} < n): with as many coefficients as observations they can pass through every "
    "point, sigma -> 0 and the likelihood is unbounded",
    "component": "with one sigma per component each component needs more observations than its "
    "{d} coefficients (K*{d1} <= n)",
    "known": "each component needs at least as many observations as its {d} coefficients "
    "(K*{d} <= n)",
}


def check_n_components(
    n_components: Any, n_samples: int, n_coef: int, *, sigma_setting: str = "known"
) -> int:
    """Check K: an integer >= 1 that the data can support.

    Each regression line has ``n_coef`` coefficients (slopes and intercept). With a known
    sigma, K * n_coef <= n_samples; with a shared sigma K * n_coef < n_samples (at equality
    the lines can interpolate every point: sigma -> 0, unbounded likelihood); with one sigma
    per component each component needs more observations than coefficients,
    K * (n_coef + 1) <= n_samples.
    """
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral):
        raise TypeError(
            f"n_components must be an integer >= 1; got {n_components!r} "
            f"({type(n_components).__name__})."
        )
    k = int(n_components)
    if k < 1:
        raise ValueError(f"n_components must be >= 1; got {k}. Use 1 for a single regression.")
    d = max(int(n_coef), 1)
    kmax = _max_components(n_samples, d, sigma_setting)
    if k <= kmax:
        return k
    rule = _SIZE_RULE[sigma_setting].format(d=d, d1=d + 1)
    if kmax >= 1:
        raise ValueError(
            f"n_components={k} is more than the data support: {n_samples} observations and "
            f"{d} regression coefficients per component allow at most K={kmax} ({rule}). "
            "Decrease n_components or collect more data."
        )
    need = d if sigma_setting == "known" else d + 1
    raise ValueError(
        f"{n_samples} observations are too few for n_components={k}: even one regression line "
        f"with {d} coefficients needs at least {need} ({rule}). Collect more data or use fewer "
        "predictors."
    )


def check_sigma(sigma: Any, n_components: int | None = None) -> float | str | np.ndarray:
    """Check ``sigma``: a positive finite float (known), ``"shared"`` or ``"component"``.

    A length-K array of positive values is accepted as known per-component noise sds.
    """
    if isinstance(sigma, str):
        if sigma not in SIGMA_MODES:
            raise ValueError(
                f"sigma={sigma!r} is not understood; use a positive number (known noise sd), "
                "'shared' (one sd estimated) or 'component' (one sd per component estimated)."
            )
        return sigma
    if isinstance(sigma, bool) or sigma is None:
        raise TypeError(f"sigma must be a positive number, 'shared' or 'component'; got {sigma!r}.")
    try:
        arr = np.asarray(sigma, dtype=float) if not isinstance(sigma, numbers.Real) else None
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"sigma must be a positive number, 'shared' or 'component'; got {sigma!r}."
        ) from exc
    if arr is not None and arr.ndim > 1:
        raise ValueError(
            f"sigma must be a number or a 1-d array of one sd per component; got an array of "
            f"shape {arr.shape}."
        )
    if arr is not None and arr.ndim == 1:
        if n_components is not None and arr.shape[0] != n_components:
            raise ValueError(
                f"sigma has {arr.shape[0]} entries but n_components={n_components}; pass one "
                "positive number, or one per component."
            )
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError(
                f"sigma must be positive and finite; got {arr.tolist()}. Pass noise sds > 0, or "
                "'shared'/'component' to estimate them."
            )
        return arr.copy()
    try:
        value = float(sigma)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"sigma must be a positive number, 'shared' or 'component'; got {sigma!r}."
        ) from exc
    if not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"sigma must be a positive finite number; got {value!r}. Pass the known noise sd "
            "(> 0), or 'shared'/'component' to estimate it."
        )
    return value


_MAX_SEED = 2**64 - 1


def check_seed(random_state: Any, name: str = "random_state") -> int | None:
    """Check an integer seed: ``None`` or an int from 0 to 2**64 - 1 (bools and floats refused).

    The upper bound is the largest seed every consumer (NumPy, PyMC, HDF5 attributes) stores.
    """
    if random_state is None:
        return None
    if isinstance(random_state, bool | np.bool_) or not isinstance(random_state, numbers.Integral):
        raise TypeError(
            f"{name} must be None, an integer from 0 to 2**64-1 or a numpy Generator; got "
            f"{random_state!r} ({type(random_state).__name__})."
        )
    value = int(random_state)
    if not 0 <= value <= _MAX_SEED:
        raise ValueError(
            f"{name} must be an integer from 0 to 2**64-1 = {_MAX_SEED}; got {value}. Pass a "
            "non-negative seed such as 0 or 12345."
        )
    return value


def check_random_state(random_state: Any) -> np.random.Generator:
    """Turn ``None``, an int, a SeedSequence or a Generator into a ``np.random.Generator``.

    Integers must lie in 0 .. 2**64 - 1 (:func:`check_seed`); anything else is refused with a
    message that quotes it.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.SeedSequence):
        return np.random.default_rng(random_state)
    return np.random.default_rng(check_seed(random_state))


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Check an integer setting such as ``n_init`` or ``max_iter``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def check_positive_float(value: Any, name: str) -> float:
    """Check a tolerance-like setting: a positive finite float."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a positive number; got {value!r}.") from exc
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {value!r}.")
    return v


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """Check a string option against its allowed values."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {list(choices)}; pick one of those.")
    return value
