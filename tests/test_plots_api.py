"""The plot helpers on mlrbayes objects (mb.plots.fit, forest, trace, rank, ppc, ...)."""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from helpers import draws_around, posterior_tree
from scipy import stats

import mlrbayes as mb
from mlrbayes.compare import compare
from mlrbayes.em import fit_em
from mlrbayes.simulate import simulate


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def comparison():
    rng = np.random.default_rng(2)
    X, y, _ = simulate(200, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=1)
    em = fit_em(X, y, 2, sigma="shared", n_init=4, random_state=0)
    w, b, c, s = draws_around(em, rng)
    tree = posterior_tree(X, y, w, b, c, s, features=["x0"])
    return compare(em, tree)


def test_plots_is_lazy_and_reachable_from_the_package():
    code = (
        "import sys, mlrbayes as mb; assert 'matplotlib' not in sys.modules; "
        "p = mb.plots; assert 'matplotlib' in sys.modules; "
        "assert p.fit is mb.plots.fit and p.plot_fit is not None; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_single_panel_helpers_draw_on_the_given_axes(comparison):
    em, X, y = comparison.em, comparison.X, comparison.y
    for func, args in (
        (mb.plots.fit, (em, X, y)),
        (mb.plots.loglik_trace, (em,)),
        (mb.plots.census, (em,)),
        (mb.plots.ppc, (comparison,)),
    ):
        _, ax = plt.subplots()
        assert func(*args, ax=ax) is ax, func.__name__
    # without ax a new figure is made
    assert mb.plots.fit(em, X, y).figure is not None


def test_fit_shades_by_the_em_memberships(comparison):
    em = comparison.em
    ax = mb.plots.fit(em, comparison.X, comparison.y)
    alpha = np.concatenate([c.get_facecolors()[:, 3] for c in ax.collections])
    member = np.argmax(em.responsibilities, axis=1)
    top = np.concatenate([em.responsibilities[member == k, k] for k in range(2)])
    np.testing.assert_allclose(alpha, 0.12 + 0.88 * (top - 0.5) / 0.5, atol=1e-9)


def test_multi_panel_helpers_return_one_axes_per_panel(comparison):
    names = comparison.em.param_names()
    _, axes = plt.subplots(3, 3)
    got = mb.plots.trace(comparison, ax=axes)
    assert len(got) == len(names) and got[0] is axes.ravel()[0]
    assert [a.get_title() for a in got] == names
    for func in (mb.plots.rank, mb.plots.prior_posterior):
        assert len(func(comparison)) == len(names)
    assert len(mb.plots.residuals(comparison)) == 2
    kinds = mb.plots.forest(comparison)
    assert kinds[0].get_xlabel() == "mixing weight" and len(kinds) == 4
    with pytest.raises(ValueError, match="needs 7 Axes"):
        mb.plots.trace(comparison, ax=axes.ravel()[:2])


def test_ppc_draws_replicates_and_the_observed_density(comparison):
    ax = mb.plots.ppc(comparison)
    assert len(ax.lines) == mb.plots.api.N_REPLICATES + 1
    obs = ax.lines[-1]
    # independent check: the observed line is the density histogram of y on the same bins
    mid = obs.get_xdata()
    width = mid[1] - mid[0]
    edges = np.r_[mid - width / 2, mid[-1] + width / 2]
    counts, _ = np.histogram(comparison.y, bins=edges)
    np.testing.assert_allclose(obs.get_ydata(), counts / (len(comparison.y) * width))


def test_prior_line_is_the_recorded_prior(comparison):
    pri = {
        "weights": {"alpha": 2.0},
        "intercept": {"mu": 1.0, "sigma": 7.0},
        "coef": {"mu": 0.0, "sigma": [3.0]},
        "sigma": {"sigma": 2.0},
    }
    axes = mb.plots.prior_posterior(comparison, priors=pri)
    names = comparison.em.param_names()
    line = axes[names.index("coef[1,x0]")].lines[0]
    np.testing.assert_allclose(line.get_ydata(), stats.norm.pdf(line.get_xdata(), 0.0, 3.0))
    line = axes[names.index("weights[0]")].lines[0]
    np.testing.assert_allclose(line.get_ydata(), stats.beta.pdf(line.get_xdata(), 2.0, 2.0))


def test_energy_needs_the_sampler_energy(comparison):
    with pytest.raises(ValueError, match="energy"):
        mb.plots.energy(comparison)
    tree = comparison.idata_raw
    rng = np.random.default_rng(0)
    e = rng.normal(size=(4, tree["posterior"].sizes["draw"]))
    ss = tree["sample_stats"].to_dataset().assign(energy=(("chain", "draw"), e))
    tree = tree.copy()
    tree["sample_stats"] = xr.DataTree(ss)
    import dataclasses

    ax = mb.plots.energy(dataclasses.replace(comparison, idata_raw=tree))
    bfmi = mb.plots.checks.bfmi(e)
    assert ax.get_title() == "Energy (BFMI per chain: " + ", ".join(f"{v:.2f}" for v in bfmi) + ")"
