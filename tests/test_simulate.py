"""simulate: the draws follow the truth, and every bad input is refused in one line."""

import numpy as np
import pytest

from mlrbayes import simulate

GOOD = {"n": 100, "weights": [0.5, 0.5], "intercept": [0.0, 3.0], "coef": [[1.0], [-1.0]]}


def test_draws_follow_the_truth():
    X, y, z = simulate(20000, [0.3, 0.7], [0.0, 3.0], [[1.0], [-1.0]], [0.5, 1.0], random_state=0)
    # label shares within ~4 binomial sds (0.0032); residual sds within 2 %
    np.testing.assert_allclose(np.bincount(z) / 20000, [0.3, 0.7], atol=0.015)
    mu = np.where(z == 0, X[:, 0], 3.0 - X[:, 0])
    assert np.std((y - mu)[z == 0]) == pytest.approx(0.5, rel=0.02)
    assert np.std((y - mu)[z == 1]) == pytest.approx(1.0, rel=0.02)
    assert X.min() >= -3.0 and X.max() <= 3.0


@pytest.mark.parametrize(
    ("change", "exc", "match"),
    [
        ({"intercept": [np.inf, 0.0]}, ValueError, r"intercept must be finite; got \[inf, 0.0\]"),
        ({"coef": [[np.nan], [1.0]]}, ValueError, "coef must be finite"),
        ({"weights": [0.5, np.nan]}, ValueError, "weights must be finite"),
        ({"weights": [0.5, 0.6]}, ValueError, r"sum to 1; got \[0.5, 0.6\]"),
        ({"weights": [[0.5, 0.5]]}, ValueError, "weights must be non-negative"),
        ({"intercept": [0.0]}, ValueError, r"intercept must have shape \(2,\)"),
        ({"sigma": -1.0}, ValueError, "sigma must be positive"),
        ({"sigma": np.inf}, ValueError, "sigma must be finite"),
        ({"sigma": [1.0, 2.0, 3.0]}, ValueError, "one number or 2"),
        ({"n": 0}, ValueError, "n must be a whole number >= 1; got 0"),
        ({"n": 2.5}, ValueError, "got 2.5"),
        ({"n": True}, TypeError, "got True"),
        ({"n": "10"}, TypeError, "got '10'"),
        ({"n": 1e14}, ValueError, r"n=100,000,000,000,000 rows .* need about .* GB"),
        ({"x_low": 3.0, "x_high": -3.0}, ValueError, "x_low must be a number below x_high"),
        ({"X": np.ones((5, 2))}, ValueError, r"X must have shape \(n, 1\)"),
        ({"X": [[np.inf]]}, ValueError, "X must be finite"),
        ({"intercept": [1e308, 0.0], "coef": [[1e308], [0.0]]}, ValueError, "overflows float64"),
        ({"random_state": -5}, ValueError, "random_state must be an integer from 0"),
    ],
)
def test_bad_input_is_one_line(change, exc, match):
    args = {**GOOD, "sigma": 0.5, **change}
    with pytest.raises(exc, match=match) as info:
        simulate(args.pop("n"), **args)
    assert "\n" not in str(info.value)


def test_integral_float_n_and_given_X():
    X, y, _ = simulate(50.0, **{k: v for k, v in GOOD.items() if k != "n"}, sigma=0.5)
    assert X.shape == (50, 1) and np.all(np.isfinite(y))
    Xg = np.linspace(-1, 1, 7)
    _, y2, _ = simulate(None, [1.0], [2.0], [3.0], 1e-9, X=Xg, random_state=0)
    np.testing.assert_allclose(y2, 2.0 + 3.0 * Xg, atol=1e-7)


# ----------------------------------------------------------------------------- extended model
def test_simulate_extended_follows_the_truth():
    """Labels follow the gating softmax (per group), y the lines plus delta^T u: checked on
    n = 40,000 rows in groups of 2 (20,000 groups) against the known probabilities."""
    from mlrbayes.simulate import simulate_extended

    gating = [[0.5, 1.0], [-0.5, -1.0]]
    data, truth = simulate_extended(
        40000, [0.0, 3.0], [[1.0], [-1.0]], [0.5, 1.0], gating=gating, fixed=[2.0],
        group_size=2, random_state=0,
    )  # fmt: skip
    z, g = truth["labels"], data.groups
    assert data.n_groups == 20000 and np.all(z[0::2] == z[1::2])  # one label per group
    assert np.all(data.concomitant[0::2] == data.concomitant[1::2])
    np.testing.assert_allclose(truth["gating"], [[0.5, 1.0], [-0.5, -1.0]])  # already centred
    # P(z = 0 | w) = logistic(2 * (0.5 + w)): mean predicted vs observed share, 20,000 groups
    w = data.concomitant[0::2, 1]
    p0 = 1 / (1 + np.exp(-2 * (0.5 + w)))
    share = np.mean(z[0::2] == 0)
    assert abs(share - p0.mean()) < 4 * np.sqrt(p0.mean() * (1 - p0.mean()) / 20000)
    assert truth["weights"][0] == pytest.approx(p0.mean(), abs=1e-12)
    mu = np.where(z == 0, data.X[:, 0], 3.0 - data.X[:, 0]) + 2.0 * data.fixed[:, 0]
    assert np.std((data.y - mu)[z == 0]) == pytest.approx(0.5, rel=0.03)
    assert np.std((data.y - mu)[z == 1]) == pytest.approx(1.0, rel=0.03)
    assert g.max() == 19999


def test_simulate_extended_plain_parts_and_errors():
    from mlrbayes.simulate import simulate_extended

    data, truth = simulate_extended(50, [0.0, 1.0], [1.0, 2.0], 0.3, random_state=1)
    assert data.is_plain and truth["gating"] is None and truth["fixed"] is None
    np.testing.assert_allclose(truth["weights"], [0.5, 0.5])
    again, _ = simulate_extended(50, [0.0, 1.0], [1.0, 2.0], 0.3, random_state=1)
    np.testing.assert_array_equal(data.y, again.y)
    with pytest.raises(ValueError, match=r"gating must have shape \(2, q\)"):
        simulate_extended(50, [0.0, 1.0], [1.0, 2.0], 0.3, gating=[1.0, 2.0])
    with pytest.raises(ValueError, match="weights must be 2 non-negative"):
        simulate_extended(50, [0.0, 1.0], [1.0, 2.0], 0.3, weights=[0.5, 0.6])
