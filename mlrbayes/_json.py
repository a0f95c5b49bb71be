"""Conversion of results (NumPy arrays, dataclasses, DataFrames) to plain JSON-able Python."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np


def plain(value: Any, *, default: Callable[[Any], Any] | None = None):
    """Return ``value`` as nested dicts/lists of str, int, float, bool and None.

    Floats that are not finite become ``None``, so the result is strict JSON.

    Parameters
    ----------
    value : any
        Scalars, NumPy arrays and scalars, dicts, lists/tuples, dataclass instances, pandas
        DataFrames (as a list of row dicts), or objects with a ``to_dict()`` method.
    default : callable, optional
        Applied to values of any other type; without it such values raise ``TypeError``.
    """

    def conv(v: Any) -> Any:
        if v is None or isinstance(v, bool | str):
            return v
        if isinstance(v, np.bool_):
            return bool(v)
        if isinstance(v, numbers.Integral):
            return int(v)
        if isinstance(v, numbers.Real):
            f = float(v)
            return None if not math.isfinite(f) else f
        if isinstance(v, np.ndarray):
            return conv(v.tolist())
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [conv(x) for x in v]
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if type(v).__name__ == "DataFrame" and hasattr(v, "to_dict"):
            return [conv(r) for r in v.to_dict(orient="records")]
        if hasattr(v, "to_dict"):
            return conv(v.to_dict())
        if default is not None:
            return default(v)
        raise TypeError(f"cannot convert {type(v).__name__} value {v!r} to JSON.")

    return conv(value)
