"""Figures: content (labels, counts of lines/points, legend entries, plotted values)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from mlrbayes import plots


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _two_lines(rng, n=60):
    x = rng.uniform(-2, 2, n)
    z = rng.integers(0, 2, n)
    b = np.array([1.0, -1.0])
    c = np.array([[2.0], [-0.5]])
    y = b[z] + c[z, 0] * x + 0.1 * rng.standard_normal(n)
    resp = np.eye(2)[z] * 0.9 + 0.05
    return x, y, z, b, c, resp


def test_fitted_lines_content(rng):
    x, y, z, b, c, resp = _two_lines(rng)
    ax = plots.plot_fitted_lines(
        x,
        y,
        b,
        c,
        responsibilities=resp,
        weights=[0.4, 0.6],
        feature_name="stretch",
        target_name="tuned",
    )
    assert ax.get_xlabel() == "stretch" and ax.get_ylabel() == "tuned"
    assert len(ax.lines) == 2
    for k, line in enumerate(ax.lines):
        xd, yd = line.get_data()
        np.testing.assert_allclose(yd, b[k] + c[k, 0] * xd)
        assert xd.min() == pytest.approx(x.min()) and xd.max() == pytest.approx(x.max())
    # one scatter per component, holding exactly the points assigned to it
    assert len(ax.collections) == 2
    for k, coll in enumerate(ax.collections):
        off = coll.get_offsets()
        np.testing.assert_allclose(off[:, 0], x[z == k])
        np.testing.assert_allclose(off[:, 1], y[z == k])
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(texts) == 4
    assert any("component 1" in t and "weight 0.60" in t for t in texts)
    assert any(f"n={int((z == 0).sum())}" in t for t in texts)


def test_fitted_lines_rejects_wrong_shapes(rng):
    x, y, _, b, c, resp = _two_lines(rng)
    with pytest.raises(ValueError, match=r"responsibilities must have shape"):
        plots.plot_fitted_lines(x, y, b, c, responsibilities=resp[:, :1])
    with pytest.raises(ValueError, match="plot_residuals"):
        plots.plot_fitted_lines(np.c_[x, x], y, b, c)


def test_residual_panels(rng):
    n = 80
    X = rng.normal(size=(n, 2))
    z = rng.integers(0, 3, n)
    b = np.array([0.0, 5.0, -5.0])
    c = rng.normal(size=(3, 2))
    y = b[z] + np.einsum("ij,ij->i", X, c[z]) + 0.2 * rng.standard_normal(n)
    resp = np.eye(3)[z]
    fig = plots.plot_fit(X, y, b, c, resp, target_name="out", title="fit")
    axes = fig.axes
    assert len(axes) == 3
    for k, ax in enumerate(axes):
        off = ax.collections[0].get_offsets()
        fitted = b[k] + X[z == k] @ c[k]
        np.testing.assert_allclose(off[:, 0], fitted)
        np.testing.assert_allclose(off[:, 1], y[z == k] - fitted)
        assert ax.get_title() == f"component {k} (n={int((z == k).sum())})"
        assert ax.get_xlabel() == "fitted out"


def test_plot_fit_one_predictor_gives_lines(rng):
    x, y, _, b, c, resp = _two_lines(rng)
    fig = plots.plot_fit(x[:, None], y, b, c, resp, feature_names=["x1"])
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].get_xlabel() == "x1"


def test_loglik_trace():
    tr = np.array([-120.0, -100.0, -95.5, -95.1, -95.05])
    ax = plots.plot_loglik_trace(tr)
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_ydata(), tr)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(5))
    assert ax.get_xlabel() == "EM iteration" and ax.get_ylabel() == "log-likelihood"


def test_census():
    ll = np.array([-50.0, -53.2, -60.0])
    counts = np.array([7, 2, 1])
    ax = plots.plot_census(ll, counts, degenerate=[False, False, True])
    good, bad = ax.collections
    np.testing.assert_allclose(good.get_offsets(), [[-50.0, 0], [-53.2, 1]])
    np.testing.assert_allclose(bad.get_offsets(), [[-60.0, 2]])
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["7 starts", "2 starts", "1 start"]
    assert "10 starts, 3 distinct optima" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["optimum", "degenerate"]


def test_trace(rng):
    d = rng.normal(size=(3, 50, 5))
    names = [f"p{j}" for j in range(5)]
    fig = plots.plot_trace(d, names, title="before relabelling")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == names
    for j, ax in enumerate(visible):
        assert len(ax.lines) == 3
        for c, line in enumerate(ax.lines):
            np.testing.assert_array_equal(line.get_ydata(), d[c, :, j])
    assert fig.get_suptitle() == "before relabelling"
    with pytest.raises(ValueError, match="match names"):
        plots.plot_trace(d, names[:2])


def test_forest():
    names = ["weights[0]", "weights[1]", "intercept[0]", "intercept[1]", "coef[0,x]", "sigma"]
    em = np.array([0.3, 0.7, 1.0, -1.0, 2.0, 0.5])
    se = np.array([0.05, 0.05, 0.1, np.nan, 0.2, 0.02])
    pm = em + 0.01
    lo, hi = pm - 0.2, pm + 0.2
    fig = plots.plot_forest(names, em, se, pm, lo, hi, hdi_prob=0.9)
    assert len(fig.axes) == 4
    ax_w, ax_b, ax_c, ax_s = fig.axes
    assert [t.get_text() for t in ax_b.get_yticklabels()] == ["intercept[0]", "intercept[1]"]
    # HDI segments: one horizontal line per parameter, spanning [lo, hi]
    hdi_lines = [ln for ln in ax_b.lines if ln.get_linewidth() == 3]
    assert len(hdi_lines) == 2
    np.testing.assert_allclose(sorted(ln.get_xdata()[0] for ln in hdi_lines), sorted(lo[2:4]))
    # EM points with their bars at the HDI's level: em ± z_{0.95} SE, z = 1.6449 for 90%
    z = 1.6448536269514722
    err = ax_w.containers[0]
    np.testing.assert_allclose(sorted(err.lines[0].get_xdata()), sorted(em[:2]))
    seg = err.lines[2][0].get_segments()
    widths = sorted(abs(s[1][0] - s[0][0]) for s in seg)
    np.testing.assert_allclose(widths, [2 * z * 0.05] * 2, rtol=1e-9)
    # intercept[1] has no SE: its bar has zero length
    seg_b = ax_b.containers[0].lines[2][0].get_segments()
    assert sorted(abs(s[1][0] - s[0][0]) for s in seg_b) == pytest.approx([0.0, 2 * z * 0.1])
    assert ax_c.get_xlabel() == "coef (data units)" and ax_s.get_xlabel() == "sigma (data units)"
    texts = [t.get_text() for t in ax_w.get_legend().get_texts()]
    assert texts == ["posterior 90% HDI", "posterior mean", "EM estimate ± 1.64 SE (90%)"]
    assert ax_w.get_xlabel() == "mixing weight"


def test_mode_lines(rng):
    x = rng.uniform(-1, 1, 40)
    y = rng.normal(size=40)
    modes = [
        {"intercept": [1.0, -1.0], "coef": [0.0, 0.0], "share": 0.5, "label": "horizontal"},
        {"intercept": [0.0, 0.0], "coef": [[1.0], [-1.0]], "share": 0.5},
    ]
    ax = plots.plot_mode_lines(x, y, modes, feature_name="u", target_name="v")
    assert len(ax.lines) == 4
    assert [ln.get_linestyle() for ln in ax.lines] == ["-", "-", "--", "--"]
    np.testing.assert_allclose(ax.lines[2].get_ydata(), ax.lines[2].get_xdata())
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 1.0)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["data", "horizontal (50% of chains)", "mode 1 (50% of chains)"]
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 1], y)


# ----------------------------------------------------------------------------- v0.2 figures
def test_points_shaded_by_membership_probability():
    """Opacity follows the largest membership probability: 1/K faint, 1 solid, linear between;
    the legend gives the hard count and the expected count (sum of probabilities)."""
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([0.0, 1.0, 2.0, 3.0])
    p0 = np.array([1.0, 0.75, 0.5, 0.1])  # point 2 is a tie -> argmax picks component 0
    resp = np.c_[p0, 1 - p0]
    ax = plots.plot_fitted_lines(x, y, [0.0, 1.0], [1.0, -1.0], responsibilities=resp)
    first, second = ax.collections
    lo = 0.12  # MIN_ALPHA
    np.testing.assert_allclose(first.get_facecolors()[:, 3], [1.0, lo + (1 - lo) * 0.5, lo])
    np.testing.assert_allclose(second.get_facecolors()[:, 3], [lo + (1 - lo) * 0.8])
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0] == "most probable: component 0 (n=3, expected 2.4)"
    assert texts[1] == "most probable: component 1 (n=1, expected 1.6)"
    assert "opacity" in ax.get_legend().get_title().get_text()


def test_legend_equations_use_a_minus_sign():
    ax = plots.plot_fitted_lines([0.0, 1.0], [0.0, 1.0], [0.0426, -2.5], [-1.01, 0.5])
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "component 0: y = 0.0426 \u2212 1.01·x" in texts
    assert "component 1: y = \u22122.5 + 0.5·x" in texts
    assert not any("+ -" in t for t in texts)
    assert plots.line_equation(1.0, [-2.0, 3.0], ["a", "b"], "t") == "t = 1 \u2212 2·a + 3·b"


def test_census_of_one_optimum_is_a_sentence():
    ax = plots.plot_census([-51.25], [10])
    assert not ax.axison and len(ax.collections) == 0
    assert [t.get_text() for t in ax.texts] == [
        "All 10 starts reached the same optimum (log-likelihood -51.25)."
    ]


def test_replicated_responses_have_the_mixture_moments():
    """Independent reference: a normal mixture at x = 0 has mean sum w b and variance
    sum w (s^2 + b^2) - mean^2; 200k replicates, tolerance 5 standard errors."""
    n = 200_000
    X = np.zeros((n, 1))
    w, b, s = np.array([[0.3, 0.7]]), np.array([[-2.0, 1.0]]), np.array([[0.5, 1.5]])
    y_rep = plots.checks.replicate_y(X, w, b, np.ones((1, 2, 1)), s, seed=3)
    mean = float(np.sum(w * b))
    var = float(np.sum(w * (s**2 + b**2))) - mean**2
    assert y_rep.shape == (1, n)
    assert abs(y_rep.mean() - mean) < 5 * np.sqrt(var / n)
    assert abs(y_rep.var() / var - 1) < 0.02
    from scipy.stats import norm

    cdf = float(np.sum(w * norm.cdf((-0.5 - b) / s)))  # mixture CDF at -0.5
    assert abs(np.mean(y_rep < -0.5) - cdf) < 5 * np.sqrt(cdf * (1 - cdf) / n)
    again = plots.checks.replicate_y(X, w, b, np.ones((1, 2, 1)), s, seed=3)
    np.testing.assert_array_equal(y_rep, again)


def test_ranks_and_bfmi_against_references(rng):
    from scipy.stats import rankdata

    d = rng.normal(size=(3, 40, 2))
    r = plots.checks.ranks(d)
    for j in range(2):
        np.testing.assert_array_equal(r[:, :, j].ravel(), rankdata(d[:, :, j].ravel()) - 1)
    # AR(1) energy with coefficient rho: E diff^2 = 2 (1 - rho) var, so BFMI = 2 (1 - rho)
    rho, n = 0.9, 100_000
    e = np.empty((2, n))
    e[:, 0] = rng.standard_normal(2)
    noise = rng.standard_normal((2, n)) * np.sqrt(1 - rho**2)
    for t in range(1, n):
        e[:, t] = rho * e[:, t - 1] + noise[:, t]
    np.testing.assert_allclose(plots.checks.bfmi(e), 2 * (1 - rho), rtol=0.05)


def test_prior_densities_match_the_model_priors():
    from scipy import integrate

    pri = {
        "weights": {"alpha": 1.0},
        "intercept": {"mu": 2.0, "sigma": 3.0},
        "coef": {"mu": 0.0, "sigma": np.array([1.0, 4.0])},
        "sigma": {"sigma": 0.5},
    }
    g = np.linspace(0, 1, 5)
    dens = plots.checks.prior_density("weights", (1,), pri, 3, g)
    np.testing.assert_allclose(dens, 2 * (1 - g))  # Dirichlet(1,1,1) marginal: Beta(1, 2)
    x = np.array([-1.0, 2.0, 5.0])
    want = np.exp(-0.5 * ((x - 2.0) / 3.0) ** 2) / (3.0 * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(plots.checks.prior_density("intercept", (0,), pri, 3, x), want)
    want = np.exp(-0.5 * (x / 4.0) ** 2) / (4.0 * np.sqrt(2 * np.pi))  # feature 1's sd
    np.testing.assert_allclose(plots.checks.prior_density("coef", (2, 1), pri, 3, x), want)
    s = np.linspace(0, 5, 2001)
    half = plots.checks.prior_density("sigma", (), pri, 3, s)
    assert half[0] == pytest.approx(np.sqrt(2 / np.pi) / 0.5)
    assert integrate.trapezoid(half, s) == pytest.approx(1.0, abs=1e-4)


def test_forest_interval_level_follows_hdi_prob():
    fig = plots.plot_forest(["sigma"], [1.0], [0.1], [1.0], [0.8], [1.2], hdi_prob=0.5)
    (ax,) = fig.axes
    seg = ax.containers[0].lines[2][0].get_segments()[0]
    assert abs(seg[1][0] - seg[0][0]) == pytest.approx(2 * 0.6744897501960817 * 0.1)
    assert "EM estimate ± 0.674 SE (50%)" in [t.get_text() for t in ax.get_legend().get_texts()]
