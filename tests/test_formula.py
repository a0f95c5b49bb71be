"""The formula front end: names, dummies, transforms, the intercept, missing values, new data.

Every design matrix is checked against one built by hand with NumPy from the same columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlrbayes.formula import dataset_from_formula, formula_intercept, readable_name
from mlrbayes.spec import Dataset, as_dataset, resolve_dataset


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(14)
    n = 12
    return pd.DataFrame(
        {
            "yn": rng.normal(size=n),
            "x": rng.normal(size=n),
            "g": list("abc") * 4,
            "yb": np.repeat(rng.normal(size=6), 2),
            "id2": np.repeat(np.arange(6) + 10, 2),
            "z": rng.normal(size=n),
            "v": np.repeat(rng.uniform(0.5, 2.0, size=6), 2),
        }
    )


def test_predictors_transforms_and_dummies_match_a_hand_built_design(df):
    data = resolve_dataset("yn ~ x + I(x**2) + g", data=df)
    assert isinstance(data, Dataset)
    assert data.feature_names == ("x", "I(x ** 2)", "g=b", "g=c")
    assert data.target_name == "yn"
    x = df["x"].to_numpy()
    g = df["g"].to_numpy()
    expected = np.column_stack([x, x**2, (g == "b").astype(float), (g == "c").astype(float)])
    np.testing.assert_array_equal(data.X, expected)
    np.testing.assert_array_equal(data.y, df["yn"].to_numpy())
    assert data.design.fit_intercept is True
    assert formula_intercept(data, True) is True
    assert data.is_plain


def test_explicit_categorical_and_interaction_names():
    assert readable_name("C(g)[T.b]") == "g=b"
    assert readable_name("x:C(g)[T.c]") == "x:g=c"
    assert readable_name("g[a]") == "g=a"
    assert readable_name("np.log(x)") == "np.log(x)"


@pytest.mark.parametrize("formula", ["yn ~ x - 1", "yn ~ x + 0", "yn ~ 0 + x"])
def test_no_intercept_formula_sets_fit_intercept_false(df, formula):
    data = resolve_dataset(formula, data=df)
    assert data.feature_names == ("x",)
    assert data.design.fit_intercept is False
    assert formula_intercept(data, True) is False  # the formula decides over the default
    assert formula_intercept(data, False) is False


def test_intercept_formula_conflicts_with_fit_intercept_false(df):
    data = resolve_dataset("yn ~ x", data=df)
    with pytest.raises(ValueError, match=r"has an intercept but fit_intercept=False.*- 1"):
        formula_intercept(data, False)
    # without a formula the argument decides
    assert formula_intercept(as_dataset(df[["x"]], df["yn"]), False) is False


def test_gating_fixed_groups_and_weights(df):
    data = resolve_dataset(
        "yn ~ x", data=df, concomitant="~ yb", fixed="~ z + g", groups="id2", weights="v"
    )
    assert data.concomitant_names == ("(Intercept)", "yb")
    np.testing.assert_array_equal(data.concomitant[:, 0], np.ones(len(df)))
    np.testing.assert_array_equal(data.concomitant[:, 1], df["yb"].to_numpy())
    # fixed: no intercept column; the categorical coded against its first level
    assert data.fixed_names == ("z", "g=b", "g=c")
    np.testing.assert_array_equal(data.fixed[:, 0], df["z"].to_numpy())
    np.testing.assert_array_equal(data.fixed[:, 1], (df["g"] == "b").to_numpy(dtype=float))
    assert data.n_groups == 6
    assert data.group_labels == tuple(str(v) for v in range(10, 16))
    np.testing.assert_array_equal(data.groups, np.repeat(np.arange(6), 2))
    np.testing.assert_array_equal(data.sample_weight, df["v"].to_numpy())
    assert data.design.groups == "id2" and data.design.weights == "v"
    assert not data.is_plain


def test_column_names_and_lists_are_accepted(df):
    a = resolve_dataset(["x", "z"], "yn", data=df, concomitant="yb", fixed=["z"])
    assert a.feature_names == ("x", "z") and a.target_name == "yn"
    assert a.concomitant_names == ("(Intercept)", "yb") and a.fixed_names == ("z",)
    b = resolve_dataset("yn ~ x + z", data=df, concomitant=["yb"])
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.concomitant, b.concomitant)


def test_arrays_with_data_for_the_other_parts(df):
    data = resolve_dataset(df[["x"]].to_numpy(), df["yn"].to_numpy(), data=df, groups="id2")
    assert data.feature_names == ("x0",) and data.n_groups == 6


def test_array_input_without_data_is_unchanged(df):
    a = resolve_dataset(df[["x"]], df["yn"], groups=df["id2"].to_numpy())
    assert a.design is None and a.n_groups == 6


@pytest.mark.parametrize(
    ("column", "kwargs"),
    [
        ("x", {}),
        ("yn", {}),
        ("yb", {"concomitant": "~ yb"}),
        ("z", {"fixed": ["z"]}),
        ("id2", {"groups": "id2"}),
        ("v", {"weights": "v"}),
    ],
)
def test_missing_value_is_one_error_naming_column_and_row(df, column, kwargs):
    bad = df.copy()
    bad[column] = bad[column].astype(float)
    bad.loc[7, column] = np.nan
    with pytest.raises(ValueError, match=rf"column '{column}' has a missing value at row 7"):
        resolve_dataset("yn ~ x", data=bad, **kwargs)


def test_missing_text_label_is_named_too(df):
    bad = df.astype({"g": object})
    bad.loc[4, "g"] = None
    with pytest.raises(ValueError, match=r"column 'g' has a missing value at row 4"):
        resolve_dataset("yn ~ x + g", data=bad)


def test_a_transform_that_is_not_finite_names_term_and_row(df):
    bad = df.assign(z=np.abs(df["z"]) + 1.0)
    bad.loc[5, "z"] = 0.0
    with pytest.raises(ValueError, match=r"term 'np.log\(z\)' is -inf at row 5"):
        resolve_dataset("yn ~ np.log(z)", data=bad)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda df: resolve_dataset("yn ~ nope", data=df), r"'yn ~ nope' could not be used"),
        (lambda df: resolve_dataset("yn ~ x +", data=df), r"could not be used"),
        (lambda df: resolve_dataset("~ x", data=df), r"needs a response on the left"),
        (lambda df: resolve_dataset("yn ~ 1", data=df), r"no predictors besides"),
        (
            lambda df: resolve_dataset("yn ~ x", data=df, concomitant="~ yb - 1"),
            r"gating model always has one",
        ),
        (lambda df: resolve_dataset("yn ~ x", data=df, fixed="z ~ x"), r"must be one-sided"),
        (lambda df: resolve_dataset("yn ~ x", data=df, groups="nope"), r"'nope' is not a column"),
        (
            lambda df: resolve_dataset("yn ~ x", data=df, concomitant="~ x", groups="id2"),
            r"varies within",
        ),
    ],
)
def test_bad_formulas_are_one_clear_value_error(df, call, match):
    with pytest.raises(ValueError, match=match):
        call(df)


def test_type_errors(df):
    with pytest.raises(TypeError, match="needs data="):
        resolve_dataset("yn ~ x")
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        dataset_from_formula("yn ~ x", data=df.to_numpy())
    with pytest.raises(TypeError, match="names the response"):
        resolve_dataset("yn ~ x", df["yn"], data=df)


def test_new_data_get_the_same_design(df):
    data = resolve_dataset("yn ~ x + I(x**2) + g", data=df, concomitant="~ yb", fixed="~ z")
    new = df.iloc[[5, 0, 3]].reset_index(drop=True)
    rebuilt = data.design.transform(new)
    np.testing.assert_array_equal(rebuilt.X, data.X[[5, 0, 3]])
    np.testing.assert_array_equal(rebuilt.concomitant, data.concomitant[[5, 0, 3]])
    np.testing.assert_array_equal(rebuilt.fixed, data.fixed[[5, 0, 3]])
    # one level only in the new rows: still the fitted dummy columns
    one = data.design.transform(df[df["g"] == "c"].reset_index(drop=True), response=True)
    assert one.feature_names == data.feature_names
    np.testing.assert_array_equal(one.y, df.loc[df["g"] == "c", "yn"].to_numpy())
    unseen = new.assign(g=["zz", "a", "b"])
    with pytest.raises(ValueError, match="zz"):
        data.design.transform(unseen)


# ----------------------------------------------------------------------------- fitting entries
@pytest.fixture(scope="module")
def lines():
    from mlrbayes import simulate

    X, y, _ = simulate(300, [0.5, 0.5], [0.0, 5.0], [[1.0], [-1.0]], 0.5, random_state=0)
    return pd.DataFrame({"x": X[:, 0], "y": y})


def test_estimator_formula_fit_equals_array_fit_and_predicts_dataframes(lines):
    from mlrbayes.estimator import MixtureRegressionEM

    x = lines["x"].to_numpy()
    design = np.column_stack([x, x**2])
    by_formula = MixtureRegressionEM(2, random_state=0).fit("y ~ x + I(x**2)", data=lines)
    by_array = MixtureRegressionEM(2, random_state=0).fit(design, lines["y"].to_numpy())
    np.testing.assert_allclose(by_formula.coef_, by_array.coef_, rtol=1e-12)
    np.testing.assert_allclose(by_formula.intercept_, by_array.intercept_, rtol=1e-12)
    assert list(by_formula.feature_names_in_) == ["x", "I(x ** 2)"]
    new = lines.iloc[:5]
    np.testing.assert_allclose(by_formula.predict(new), by_array.predict(design[:5]), rtol=1e-12)
    np.testing.assert_allclose(
        by_formula.membership(new), by_array.membership(design[:5], lines["y"][:5]), rtol=1e-12
    )
    assert by_formula.score(lines) == pytest.approx(by_array.score(design, lines["y"]), rel=1e-12)


def test_estimator_no_intercept_formula_and_conflict(lines):
    from mlrbayes.estimator import MixtureRegressionEM

    m = MixtureRegressionEM(2, random_state=0, n_init=2).fit("y ~ x - 1", data=lines)
    assert m.result_.fit_intercept is False
    np.testing.assert_array_equal(m.intercept_, np.zeros(2))
    with pytest.raises(ValueError, match="fit_intercept=False"):
        MixtureRegressionEM(2, fit_intercept=False).fit("y ~ x", data=lines)


def test_validate_needs_k_and_reads_formulas(lines):
    from mlrbayes.workflow import validate

    with pytest.raises(TypeError, match="needs n_components"):
        validate("y ~ x", data=lines, sigma="shared")
    with pytest.raises(ValueError, match="'y ~ nope' could not be used"):
        validate("y ~ nope", data=lines, n_components=2, sigma="shared")


def test_transformed_response_and_its_new_data(df):
    pos = df.assign(yp=np.exp(df["yn"]))
    data = resolve_dataset("np.log(yp) ~ x", data=pos)
    assert data.target_name == "np.log(yp)"
    np.testing.assert_allclose(data.y, df["yn"].to_numpy(), rtol=1e-12)
    again = data.design.transform(pos.iloc[:4], response=True)
    np.testing.assert_allclose(again.y, df["yn"].to_numpy()[:4], rtol=1e-12)
