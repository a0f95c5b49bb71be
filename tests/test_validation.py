"""Input checks: accepted inputs come back as float arrays; bad ones are named in the message."""

import numpy as np
import pandas as pd
import pytest

from mlrbayes._validation import (
    check_choice,
    check_n_components,
    check_positive_float,
    check_positive_int,
    check_random_state,
    check_sigma,
    check_X,
    check_X_y,
    check_y,
)


# ----------------------------------------------------------------------------- X
def test_check_X_keeps_dataframe_names_and_makes_float_arrays():
    df = pd.DataFrame({"age": [1, 2, 3], "dose": [0.5, 1.5, 2.5]})
    arr, names = check_X(df)
    assert names == ["age", "dose"]
    assert arr.dtype == np.float64 and arr.flags.c_contiguous
    np.testing.assert_array_equal(arr, [[1, 0.5], [2, 1.5], [3, 2.5]])
    arr, names = check_X(pd.Series([1.0, 2.0], name="dose"))
    assert names == ["dose"] and arr.shape == (2, 1)
    arr, names = check_X([1, 2, 3])
    assert names == ["x0"] and arr.shape == (3, 1)
    arr, names = check_X([[1, 2], [3, 4]])
    assert names == ["x0", "x1"]


@pytest.mark.parametrize(
    ("X", "exc", "match"),
    [
        (np.zeros((2, 2, 2)), ValueError, r"must be 2-d .* shape \(2, 2, 2\)"),
        (np.zeros((0, 3)), ValueError, r"no rows \(shape \(0, 3\)\)"),
        ([[1.0, np.nan]], ValueError, r"non-finite value \(nan\) at row 0, column 'x1'"),
        ([[1.0], [np.inf]], ValueError, r"non-finite value \(inf\) at row 1, column 'x0'"),
        ([["a"]], TypeError, "could not be converted to a float array"),
        (
            pd.DataFrame({"colour": ["red", "blue"], "x": [1.0, 2.0]}),
            TypeError,
            r"non-numeric columns \['colour'\]",
        ),
        (
            pd.DataFrame({"dose": pd.array([1, None], dtype="Int64")}),
            ValueError,
            "non-finite value .* column 'dose'",
        ),
    ],
)
def test_check_X_rejects(X, exc, match):
    with pytest.raises(exc, match=match):
        check_X(X)


# ----------------------------------------------------------------------------- y
def test_check_y_names_and_shapes():
    arr, name = check_y(pd.Series([1, 2], name="price"))
    assert name == "price" and arr.dtype == np.float64
    arr, name = check_y(pd.DataFrame({"price": [1.0, 2.0]}))
    assert name == "price" and arr.shape == (2,)
    arr, name = check_y(np.ones((3, 1)))
    assert name == "y" and arr.shape == (3,)


@pytest.mark.parametrize(
    ("y", "exc", "match"),
    [
        (np.ones((3, 2)), ValueError, r"must be 1-d .* shape \(3, 2\)"),
        ([1.0, np.nan, 2.0], ValueError, r"non-finite value \(nan\) at row 1"),
        ([1.0, -np.inf], ValueError, r"non-finite value \(-inf\) at row 1"),
        (pd.DataFrame({"a": [1.0], "b": [2.0]}), ValueError, r"columns \['a', 'b'\]"),
        (pd.Series(["1", "x"], name="price"), TypeError, "'price'.*numeric response"),
        (["1", "x"], TypeError, "could not be converted"),
    ],
)
def test_check_y_rejects(y, exc, match):
    with pytest.raises(exc, match=match):
        check_y(y)


def test_check_X_y_lengths_must_match():
    X, y, names, yname = check_X_y(pd.DataFrame({"a": [1.0, 2.0]}), pd.Series([3, 4], name="r"))
    assert names == ["a"] and yname == "r" and X.shape == (2, 1) and y.dtype == np.float64
    with pytest.raises(ValueError, match="X has 3 rows, y has 2"):
        check_X_y(np.ones((3, 1)), np.ones(2))


# ----------------------------------------------------------------------------- K and sigma
def test_check_n_components():
    assert check_n_components(np.int64(3), 30, 2) == 3
    with pytest.raises(ValueError, match="must be >= 1; got 0"):
        check_n_components(0, 10, 2)
    with pytest.raises(ValueError, match="got -2"):
        check_n_components(-2, 10, 2)
    with pytest.raises(TypeError, match=r"got 2.0 \(float\)"):
        check_n_components(2.0, 10, 2)
    with pytest.raises(TypeError, match=r"got True \(bool\)"):
        check_n_components(True, 10, 2)
    with pytest.raises(ValueError, match=r"n_components=6 is more than .* at most K=5"):
        check_n_components(6, 10, 2)


def test_check_sigma_accepts():
    assert check_sigma("shared") == "shared"
    assert check_sigma("component") == "component"
    assert check_sigma(2) == 2.0 and isinstance(check_sigma(2), float)
    assert check_sigma(np.float64(0.5)) == 0.5
    np.testing.assert_array_equal(check_sigma([0.5, 1.0], 2), [0.5, 1.0])


@pytest.mark.parametrize(
    ("sigma", "exc", "match"),
    [
        ("foo", ValueError, "sigma='foo' is not understood"),
        ("Shared", ValueError, "sigma='Shared'"),
        (-1, ValueError, r"positive finite number; got -1.0"),
        (0.0, ValueError, "got 0.0"),
        (np.nan, ValueError, "got nan"),
        (np.inf, ValueError, "got inf"),
        (None, TypeError, "got None"),
        (True, TypeError, "got True"),
        ([1.0, -2.0], ValueError, r"got \[1.0, -2.0\]"),
        ([1.0, np.nan], ValueError, r"got \[1.0, nan\]"),
        (np.ones((2, 2)), ValueError, r"shape \(2, 2\)"),
        (["a"], TypeError, r"got \['a'\]"),
        (object(), TypeError, "got <object"),
    ],
)
def test_check_sigma_rejects(sigma, exc, match):
    with pytest.raises(exc, match=match):
        check_sigma(sigma)


def test_check_sigma_array_length_must_match_k():
    with pytest.raises(ValueError, match="sigma has 3 entries but n_components=2"):
        check_sigma([1.0, 1.0, 1.0], 2)


# ----------------------------------------------------------------------------- other settings
def test_check_random_state():
    g = np.random.default_rng(1)
    assert check_random_state(g) is g
    a = check_random_state(7).standard_normal(3)
    b = check_random_state(7).standard_normal(3)
    np.testing.assert_array_equal(a, b)
    assert isinstance(check_random_state(None), np.random.Generator)
    assert isinstance(check_random_state(np.random.SeedSequence(3)), np.random.Generator)
    with pytest.raises(ValueError, match="got -1"):
        check_random_state(-1)
    with pytest.raises(TypeError, match="got 'seed'"):
        check_random_state("seed")


def test_positive_int_float_and_choice():
    assert check_positive_int(np.int32(5), "n_init") == 5
    assert check_positive_int(0, "n", minimum=0) == 0
    for bad in (0, -3, 1.5, True, "2"):
        with pytest.raises(ValueError, match=rf"n_init must be an integer >= 1; got {bad!r}"):
            check_positive_int(bad, "n_init")
    assert check_positive_float("1e-6", "tol") == 1e-6
    with pytest.raises(TypeError, match="tol must be a positive number; got 'abc'"):
        check_positive_float("abc", "tol")
    for bad in (0, -1e-3, np.nan, np.inf):
        with pytest.raises(ValueError, match="tol must be a positive finite number"):
            check_positive_float(bad, "tol")
    assert check_choice("auto", "init", ["auto", "random"]) == "auto"
    with pytest.raises(ValueError, match=r"init='kmeans' is not one of \['auto', 'random'\]"):
        check_choice("kmeans", "init", ["auto", "random"])
    with pytest.raises(ValueError, match="init=3"):
        check_choice(3, "init", ["auto"])


@pytest.mark.parametrize(
    ("seed", "exc", "match"),
    [
        (-5, ValueError, r"from 0 to 2\*\*64-1 = 18446744073709551615; got -5"),
        (np.int64(-5), ValueError, "got -5"),
        (2**64, ValueError, "got 18446744073709551616"),
        (1.5, TypeError, r"got 1.5 \(float\)"),
        (np.float64(3.0), TypeError, r"got np.float64\(3.0\)"),
        (True, TypeError, r"got True \(bool\)"),
        ("7", TypeError, "got '7'"),
    ],
)
def test_check_random_state_gives_our_message_for_every_bad_value(seed, exc, match):
    from mlrbayes._validation import check_seed

    with pytest.raises(exc, match=match):
        check_random_state(seed)
    with pytest.raises(exc, match=match):
        check_seed(seed)


def test_largest_seed_is_accepted():
    from mlrbayes._validation import check_seed

    assert check_seed(2**64 - 1) == 2**64 - 1 and check_seed(np.uint64(3)) == 3
    assert check_random_state(2**64 - 1).integers(10) == np.random.default_rng(2**64 - 1).integers(
        10
    )


@pytest.mark.parametrize(
    ("setting", "kmax"),
    [("known", 10), ("shared", 9), ("component", 6)],  # n = 20, 2 coefficients per line
)
def test_n_components_bound_by_sigma_setting(setting, kmax):
    assert check_n_components(kmax, 20, 2, sigma_setting=setting) == kmax
    with pytest.raises(ValueError, match=f"at most K={kmax} "):
        check_n_components(kmax + 1, 20, 2, sigma_setting=setting)


def test_n_components_one_too_many_for_the_data():
    with pytest.raises(ValueError) as info:
        check_n_components(1, 2, 2, sigma_setting="shared")
    msg = str(info.value)
    assert msg.startswith("2 observations are too few for n_components=1")
    assert "at least 3" in msg and "at most" not in msg


def test_repeated_column_names_are_named():
    """Found by hypothesis: repeated names with a text column gave an AttributeError."""
    from mlrbayes._validation import check_X

    df = pd.DataFrame([[1.0, "a", 2.0], [2.0, "b", 3.0]], columns=["x", "x", "z"])
    with pytest.raises(ValueError, match=r"repeated column names \['x'\]"):
        check_X(df)
    with pytest.raises(ValueError, match=r"repeated column names \['x'\]"):
        check_X(pd.DataFrame([[1.0, 2.0], [2.0, 3.0]], columns=["x", "x"]))  # numeric too
