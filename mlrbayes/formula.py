"""Model formulas: a DataFrame and Wilkinson formulas in, a checked Dataset out.

The formula front end of every fitting function (``fit_em``, ``sample_posterior``,
``validate``, ``MixtureRegressionEM``), reached through :func:`mlrbayes.spec.resolve_dataset`::

    mb.fit_em("yn ~ x + I(x**2)", data=df, n_components=2, concomitant="~ yb",
              groups="id2", fixed="~ z", weights="v", sigma="shared")

Formulas are read by formulaic (https://github.com/matthewwardrop/formulaic), imported only
here and only when a formula is used, so ``import mlrbayes`` stays light.

* **Response and predictors** ``"y ~ x1 + x2"``: formulaic's ``Intercept`` column is dropped
  from ``X`` because every component has its own intercept (``fit_intercept``). ``"y ~ x - 1"``
  or ``"y ~ x + 0"`` means a model without intercepts (:attr:`FormulaDesign.fit_intercept` is
  False; :func:`formula_intercept` reconciles it with a ``fit_intercept`` argument).
* **Categorical predictors** (text columns, ``C(g)``) become treatment-coded dummies named
  ``g=b`` (formulaic's ``C(g)[T.b]``), so parameter names read ``coef[0,g=b]``.
* **Gating covariates** ``concomitant="~ z1 + z2"`` (one-sided): the gating intercept is always
  there (named ``"(Intercept)"``); a formula that removes it is refused.
* **Fixed-coefficient predictors** ``fixed="~ u"``: no intercept column (the component
  intercepts carry it); categoricals are coded against a reference level for that reason.
* ``groups="id"`` and ``weights="v"`` name columns of ``data``. For ``concomitant`` and
  ``fixed`` a column name or a list of column names works too, and so do arrays.

Missing values are never dropped: a missing value in any column a formula uses (or in the
groups / weights column) is one ``ValueError`` naming the column and the row. The formulas'
model specifications are kept in :attr:`Dataset.design <mlrbayes.spec.Dataset>` (a
:class:`FormulaDesign`), whose :meth:`FormulaDesign.transform` builds the same design from new
data (for prediction).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .spec import Dataset, as_dataset

__all__ = ["FormulaDesign", "dataset_from_formula", "formula_intercept", "readable_name"]

_DUMMY = re.compile(r"(?:C\(\s*)?([^\s()\[\]:]+?)(?:\s*\))?\[(?:T\.)?([^\]]*)\]")
_ANSI = re.compile(r"\x1b\[[0-9;]*m|[⧛⧚]")


def readable_name(column: str) -> str:
    """formulaic's dummy names made readable: ``C(g)[T.b]`` and ``g[T.b]`` → ``g=b``.

    Examples
    --------
    >>> readable_name("C(g)[T.b]"), readable_name("x:g[T.b]"), readable_name("I(x ** 2)")
    ('g=b', 'x:g=b', 'I(x ** 2)')
    """
    return _DUMMY.sub(r"\1=\2", column)


@dataclass(frozen=True)
class FormulaDesign:
    """The formulas a :class:`~mlrbayes.spec.Dataset` was built from, to rebuild it for new data.

    Attributes
    ----------
    formula : str
        The model formula (``"y ~ x + C(g)"``), or ``""`` when ``X`` came as columns or arrays.
    fit_intercept : bool
        Whether the formula keeps the intercept (``"- 1"`` / ``"+ 0"`` remove it).
    predictors, concomitant, fixed : formulaic ModelSpec or None
        The materialised right-hand sides (``None`` when that part is absent or came as an
        array).
    groups, weights : str or None
        Column names of the groups and the observation weights.
    """

    formula: str
    fit_intercept: bool
    predictors: Any = None
    concomitant: Any = None
    fixed: Any = None
    groups: str | None = None
    weights: str | None = None

    def transform(self, data: pd.DataFrame, *, response: bool = False) -> Dataset:
        """The design of new rows: the same columns, dummies and transforms as in the fit.

        Parameters
        ----------
        data : pandas.DataFrame
            New rows with the columns the formulas use (and the response when ``response``).
        response : bool, default False
            Also read the response (for membership given ``y``); otherwise ``y`` is zeros.

        Returns
        -------
        Dataset
            ``X`` and the gating / fixed designs of the new rows (groups and weights are not
            read: they describe the fitted data).
        """
        if self.predictors is None:
            raise ValueError(
                "this model was not fitted from a formula over X; pass the predictors as an "
                "array of the fitted columns instead of a DataFrame to transform."
            )
        _check_frame(data)
        X, names = _materialise(self.predictors, data, "the formula", drop_intercept=True)
        n = X.shape[0]
        if response:
            target = str(self.formula.split("~", 1)[0]).strip()
            _check_missing(data, [target] if target in data.columns else [])
            y = _finite(_eval_response(target, data)[:, None], [target], "the response")[:, 0]
        else:
            y = np.zeros(n)
        parts: dict[str, Any] = {}
        if self.concomitant is not None:
            W, wnames = _materialise(self.concomitant, data, "concomitant", drop_intercept=True)
            parts["concomitant"] = pd.DataFrame(W, columns=wnames)
        if self.fixed is not None:
            U, unames = _materialise(self.fixed, data, "fixed", drop_intercept=True)
            parts["fixed"] = pd.DataFrame(U, columns=unames)
        return as_dataset(pd.DataFrame(X, columns=names), pd.Series(y, name="y"), **parts)


def formula_intercept(data: Dataset, fit_intercept: bool = True) -> bool:
    """Whether to fit intercepts, from a formula's ``- 1`` and the ``fit_intercept`` argument.

    Without a formula (``data.design`` is None) ``fit_intercept`` decides. A formula without
    intercept (``"y ~ x - 1"``) means no intercepts. A formula with one and
    ``fit_intercept=False`` contradict each other: a ``ValueError`` says how to write it.
    """
    design = getattr(data, "design", None)
    if design is None or not design.formula:
        return fit_intercept  # checked by the caller (a non-bool is refused there)
    if not design.fit_intercept:
        return False
    if not fit_intercept:
        raise ValueError(
            f"the formula {design.formula!r} has an intercept but fit_intercept=False; write "
            "'- 1' in the formula (e.g. 'y ~ x - 1') for lines through the origin."
        )
    return True


# ----------------------------------------------------------------------------- entry
def dataset_from_formula(
    formula_or_X: Any, y: Any = None, *, data: Any, concomitant: Any = None, fixed: Any = None,
    groups: Any = None, weights: Any = None,
) -> Dataset:  # fmt: skip
    """A checked :class:`~mlrbayes.spec.Dataset` from formulas and column names of ``data``.

    Parameters
    ----------
    formula_or_X : str, sequence of str, or array-like
        A two-sided formula ``"y ~ x1 + C(g)"``; or the predictor column names (then ``y``
        is the response's column name); or the predictors themselves, shape
        (n_samples, n_features), with ``y`` an array and ``data`` used for the other parts.
    y : str or array-like of shape (n_samples,), optional
        Not with a formula (it names the response).
    data : pandas.DataFrame
        Where formulas and column names are looked up (n_samples rows).
    concomitant : str, sequence of str or array-like, optional
        Gating covariates: a one-sided formula ``"~ z1 + z2"``, a column name or names, or an
        array (n_samples, q0). The gating intercept is always added.
    fixed : str, sequence of str or array-like, optional
        Predictors whose coefficients all components share; as ``concomitant`` (no intercept).
    groups : str or array-like of shape (n_samples,), optional
        Column name (or labels) of the groups; a group's observations share one component.
    weights : str or array-like of shape (n_samples,), optional
        Column name (or values) of positive observation (replication) weights.

    Returns
    -------
    Dataset
        With ``design`` holding the formulas' model specifications (see
        :class:`FormulaDesign`).

    Raises
    ------
    ValueError
        An unparsable formula, an unknown column, a missing value (naming column and row), a
        non-finite value after a transform (e.g. ``np.log`` of 0), duplicate names, a gating
        formula without intercept.
    TypeError
        ``data`` is not a DataFrame; ``y`` given with a formula.
    """
    if data is None:
        raise TypeError(
            "a formula needs data=: pass the pandas DataFrame whose columns it names, e.g. "
            "fit_em('y ~ x', data=df, ...)."
        )
    df = _check_frame(data)
    n = len(df)
    if isinstance(formula_or_X, str):
        if y is not None:
            raise TypeError(
                f"the formula {formula_or_X!r} names the response; pass y only with array-like X."
            )
        X, Y, design = _from_formula(formula_or_X, df)
    else:
        X, Y = _from_columns(formula_or_X, y, df)
        design = FormulaDesign("", True)
    parts: dict[str, Any] = {}
    if concomitant is not None:
        parts["concomitant"], design_c = _block(concomitant, df, "concomitant", gating=True)
        design = _with(design, concomitant=design_c)
    if fixed is not None:
        parts["fixed"], design_f = _block(fixed, df, "fixed", gating=False)
        design = _with(design, fixed=design_f)
    if groups is not None:
        parts["groups"], name = _column_or_array(groups, df, "groups")
        design = _with(design, groups=name)
    if weights is not None:
        parts["sample_weight"], name = _column_or_array(weights, df, "weights")
        design = _with(design, weights=name)
    for key, value in parts.items():
        if len(value) != n:
            raise ValueError(f"{key} has {len(value)} rows but data has {n}; pass one per row.")
    out = as_dataset(X, Y, **parts)
    return _attach(out, design)


def _with(design: FormulaDesign, **changes: Any) -> FormulaDesign:
    from dataclasses import replace

    return replace(design, **changes)


def _attach(data: Dataset, design: FormulaDesign) -> Dataset:
    from dataclasses import replace

    return replace(data, design=design)


# ----------------------------------------------------------------------------- pieces
def _check_frame(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"data must be a pandas DataFrame (formulas and column names are looked up in it); "
            f"got {type(data).__name__}."
        )
    dup = sorted({str(c) for c in data.columns if list(data.columns).count(c) > 1})
    if dup:
        raise ValueError(f"data names column(s) {dup} more than once; give each its own name.")
    return data


def _formulaic_error(exc: Exception, formula: str, what: str) -> ValueError:
    text = _ANSI.sub("", str(exc)).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return ValueError(f"{what} {formula!r} could not be used: {first}")


def _model_matrices(formula: str, df: pd.DataFrame, what: str) -> Any:
    """formulaic's model matrices of ``formula``, after the missing-value check."""
    from formulaic import Formula, model_matrix
    from formulaic.errors import FormulaicError

    try:
        parsed = Formula(formula)
    except FormulaicError as exc:
        raise _formulaic_error(exc, formula, what) from None
    _check_missing(df, _variables(parsed, df))
    try:
        with warnings.catch_warnings():
            # a transform's NaN / inf (np.log(0)) is reported by row and term by _finite
            warnings.simplefilter("ignore", RuntimeWarning)
            return model_matrix(parsed, df, na_action="ignore")
    except FormulaicError as exc:
        raise _formulaic_error(exc, formula, what) from None


def _variables(parsed: Any, df: pd.DataFrame) -> list[str]:
    """Columns of ``df`` the formula reads (in the data's order)."""
    used: set[str] = set()
    for part in [parsed.lhs, parsed.rhs] if hasattr(parsed, "lhs") else [parsed]:
        used |= {str(v) for v in getattr(part, "required_variables", set())}
    return [str(c) for c in df.columns if str(c) in used]


def _check_missing(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """A missing value in a used column: one error naming the column and the row."""
    for col in columns:
        if col not in df.columns:
            raise ValueError(
                f"{col!r} is not a column of data; its columns are {list(map(str, df.columns))}."
            )
        miss = pd.isna(df[col]).to_numpy()
        if miss.any():
            pos = int(np.argmax(miss))
            raise ValueError(
                f"column {col!r} has a missing value at row {pos} (index {df.index[pos]!r}); "
                f"mlrbayes never drops rows silently: drop or fill the {int(miss.sum())} "
                "incomplete row(s) first, e.g. data.dropna(subset=[...])."
            )


def _finite(matrix: pd.DataFrame, names: Sequence[str], what: str) -> np.ndarray:
    arr = np.asarray(matrix, dtype=float)
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            f"{what} term {names[j]!r} is {arr[i, j]} at row {i}; transform the data so every "
            "value is finite (e.g. log of a non-positive number)."
        )
    return arr


def _names(columns: Sequence[Any], what: str) -> list[str]:
    names = [readable_name(str(c)) for c in columns]
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise ValueError(f"{what} gives the column name(s) {dup} twice; rename the columns.")
    return names


def _materialise(spec: Any, df: pd.DataFrame, what: str, *, drop_intercept: bool):
    """New data through a stored ModelSpec: checked values and readable names."""
    from formulaic.errors import FormulaicError

    _check_missing(df, [c for c in map(str, df.columns) if c in spec.required_variables])
    missing = sorted(set(map(str, spec.required_variables)) - set(map(str, df.columns)))
    if missing:
        raise ValueError(f"{what} needs the column(s) {missing}, which the new data lack.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an unseen category is an error, not a NaN
            mm = spec.get_model_matrix(df, na_action="ignore")
    except (FormulaicError, ValueError, Warning) as exc:
        raise _formulaic_error(exc, str(spec.formula), what) from None
    cols = [c for c in mm.columns if not (drop_intercept and c == "Intercept")]
    names = _names(cols, what)
    return _finite(mm[cols], names, what), names


def _eval_response(target: str, df: pd.DataFrame) -> np.ndarray:
    from formulaic import model_matrix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # reported by _finite with the row
        mm = model_matrix(f"{target} ~ 1", df, na_action="ignore")
    return np.asarray(mm.lhs, dtype=float)[:, 0]


def _from_formula(formula: str, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, Any]:
    if "~" not in formula or not formula.split("~", 1)[0].strip():
        raise ValueError(
            f"the formula {formula!r} needs a response on the left: write 'y ~ x1 + x2'."
        )
    mm = _model_matrices(formula, df, "the formula")
    lhs, rhs = mm.lhs, mm.rhs
    if lhs.shape[1] != 1:
        raise ValueError(
            f"the formula {formula!r} has {lhs.shape[1]} response columns "
            f"{list(map(str, lhs.columns))}; use one numeric response."
        )
    has_intercept = "Intercept" in rhs.columns
    cols = [c for c in rhs.columns if c != "Intercept"]
    if not cols:
        raise ValueError(
            f"the formula {formula!r} has no predictors besides the intercept; add one "
            "(e.g. 'y ~ x')."
        )
    names = _names(cols, "the formula")
    X = pd.DataFrame(_finite(rhs[cols], names, "the formula"), columns=names)
    target = readable_name(str(lhs.columns[0]))
    Y = pd.Series(_finite(lhs, [target], "the response")[:, 0], name=target)
    design = FormulaDesign(formula, has_intercept, predictors=rhs.model_spec)
    return X, Y, design


def _from_columns(X: Any, y: Any, df: pd.DataFrame) -> tuple[Any, Any]:
    """Predictors and response as column names of ``df`` (or arrays, used as they are)."""
    if _is_names(X):
        cols = [X] if isinstance(X, str) else list(X)
        _check_missing(df, cols)
        X = df[cols]
    if isinstance(y, str):
        _check_missing(df, [y])
        y = df[y]
    if y is None:
        raise TypeError("y is required: pass the response (a column name of data or an array).")
    return X, y


def _is_names(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list | tuple) and bool(value) and all(isinstance(v, str) for v in value)
    )


def _block(value: Any, df: pd.DataFrame, what: str, *, gating: bool) -> tuple[Any, Any]:
    """Gating or fixed design: a one-sided formula, column name(s), or an array."""
    if not _is_names(value):
        return value, None  # an array: as_dataset checks it
    if isinstance(value, str) and "~" in value:
        formula = value
        if formula.split("~", 1)[0].strip():
            raise ValueError(
                f"{what}={formula!r} must be one-sided (no response): write '~ z1 + z2'."
            )
    else:
        cols = [value] if isinstance(value, str) else list(value)
        _check_missing(df, cols)
        formula = "~ " + " + ".join(f"`{c}`" for c in cols)
    mm = _model_matrices(formula, df, what)
    if gating and "Intercept" not in mm.columns:
        raise ValueError(
            f"concomitant={formula!r} removes the intercept, but the gating model always has "
            "one (the softmax needs it); drop the '- 1' / '+ 0'."
        )
    cols = [c for c in mm.columns if c != "Intercept"]
    if not cols:
        raise ValueError(f"{what}={formula!r} has no covariates besides the intercept; add one.")
    names = _names(cols, what)
    block = pd.DataFrame(_finite(mm[cols], names, what), columns=names)
    return block, mm.model_spec


def _column_or_array(value: Any, df: pd.DataFrame, what: str) -> tuple[Any, str | None]:
    if isinstance(value, str):
        _check_missing(df, [value])
        return df[value].to_numpy(), value
    return value, None
