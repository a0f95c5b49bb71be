"""Mode mass (Laplace from the draws) and the findings that rest on it.

The mass formula is checked where the mass is known exactly (normal modes with known
normalisers), where it is known by quadrature (a non-normal double well) and on a mixture
posterior whose two modes' log-likelihoods differ by a known amount.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import posterior_tree

from mlrbayes.diagnostics import diagnose
from mlrbayes.em import fit_em
from mlrbayes.findings import MINOR_MODE_MASS, line_distance
from mlrbayes.modemass import laplace_log_mass, relative_mass


def test_laplace_is_exact_for_normal_modes():
    rng = np.random.default_rng(0)
    log_c = [0.0, -3.0]
    out = []
    for lc, scale in zip(log_c, [0.5, 2.0], strict=True):
        d = 3
        a = rng.standard_normal((d, d))
        cov = scale * (a @ a.T + d * np.eye(d))
        theta = rng.multivariate_normal(np.full(d, 5 * lc), cov, size=20000)
        inv = np.linalg.inv(cov)
        dev = theta - 5 * lc
        _, logdet = np.linalg.slogdet(cov)
        lp = (
            lc
            - 0.5 * np.einsum("ni,ij,nj->n", dev, inv, dev)
            - 0.5 * (logdet + d * np.log(2 * np.pi))
        )
        out.append(laplace_log_mass(lp, theta))
    # the estimate of log c: error ~ sqrt(d / (2 n)) from the sampled covariance and mean lp
    np.testing.assert_allclose(out, log_c, atol=0.05)
    np.testing.assert_allclose(relative_mass(out), np.exp(log_c) / np.exp(log_c).sum(), atol=0.01)


def test_laplace_on_a_double_well_matches_quadrature():
    """U(x) = (x^2 - 4)^2 / 2 - 0.8 x: two unequal, non-normal wells at about -2 and +2."""
    grid = np.linspace(-6, 6, 200001)
    lp_grid = -((grid**2 - 4) ** 2) / 2 + 0.8 * grid
    dens = np.exp(lp_grid - lp_grid.max())
    left, right = grid < 0, grid >= 0
    mass = np.array([np.trapezoid(dens[left], grid[left]), np.trapezoid(dens[right], grid[right])])
    truth = mass / mass.sum()
    rng = np.random.default_rng(1)
    est = []
    for sel in (left, right):
        cdf = np.cumsum(dens[sel])
        cdf /= cdf[-1]
        x = np.interp(rng.uniform(size=20000), cdf, grid[sel])
        est.append(laplace_log_mass(-((x**2 - 4) ** 2) / 2 + 0.8 * x, x[:, None]))
    got = relative_mass(est)
    # truth: 0.0427 / 0.9573; the wells are skewed, so the normal approximation is not exact
    assert truth[0] == pytest.approx(0.0427, abs=0.001)
    assert got[0] == pytest.approx(truth[0], rel=0.05)  # measured: 2% off over 3 seeds


def _clouds_with_spread(rng, per_cloud=40):
    """Four clouds at x ~ +-1 (+- 0.3), y = +-1 + noise independent of x: the parallel lines
    fit, the crossing lines y = +-x miss the spread of x within each cloud."""
    cx = np.repeat([-1.0, -1.0, 1.0, 1.0], per_cloud)
    cy = np.repeat([-1.0, 1.0, -1.0, 1.0], per_cloud)
    x = cx + rng.uniform(-0.3, 0.3, cx.size)
    y = cy + 0.25 * rng.standard_normal(cy.size)
    return x[:, None], y


def _draws_at(rng, opt, chains, ndraw, sd=0.03):
    w0 = np.clip(opt.weights[0] + sd * rng.standard_normal((chains, ndraw)), 0.05, 0.95)
    return (
        np.stack([w0, 1 - w0], -1),
        opt.intercept + sd * rng.standard_normal((chains, ndraw, 2)),
        opt.coef + sd * rng.standard_normal((chains, ndraw, 2, 1)),
        np.full((chains, ndraw), float(opt.sigma)),
    )


def test_inferior_optimum_is_a_minor_mode_not_distinct():
    rng = np.random.default_rng(3)
    X, y = _clouds_with_spread(rng)
    best = fit_em(
        X,
        y,
        2,
        sigma="shared",
        init={"weights": [0.5, 0.5], "intercept": [-1, 1], "coef": [[0.0], [0.0]]},
        n_init=1,
    )
    bad = fit_em(
        X,
        y,
        2,
        sigma="shared",
        init={"weights": [0.5, 0.5], "intercept": [0, 0], "coef": [[1.0], [-1.0]]},
        n_init=1,
    )
    gap = best.loglik - bad.loglik
    assert gap > 10  # a clearly inferior optimum
    parts = [_draws_at(rng, best, 2, 300), _draws_at(rng, bad, 2, 300)]
    w, b, c, s = (np.concatenate(a) for a in zip(*parts, strict=True))
    d = diagnose(posterior_tree(X, y, w, b, c, s, features=["x0"]), em=best)
    mm = d.multimodality
    assert mm.n_modes == 2 and mm.mass_source == "loglik"
    minor = [m for m in mm.modes if m.is_minor]
    assert len(minor) == 1 and minor[0].chains == (2, 3)
    assert minor[0].share_chains == 0.5 and minor[0].mass < MINOR_MODE_MASS
    # same draw spread in both modes: the log mass ratio is the mean log-likelihood gap
    lm = sorted((m.log_mass for m in mm.modes), reverse=True)
    assert lm[0] - lm[1] == pytest.approx(gap, abs=3.0)
    assert "minor_mode" in d.codes and "distinct_modes" not in d.codes
    assert d.verdict != "multimodal"


def test_line_distance_known_values():
    rng = np.random.default_rng(4)
    X = rng.uniform(-1, 1, (200, 1))
    y = rng.standard_normal(200)

    class P:
        def __init__(self, b, c, s=0.5):
            self.weights = np.array([0.5, 0.5])
            self.intercept = np.asarray(b, float)
            self.coef = np.asarray(c, float)
            self.sigma = s

    a = P([0.0, 3.0], [[1.0], [1.0]])
    assert line_distance(X, y, a, a) == pytest.approx(0.0, abs=1e-12)
    # same lines, other labels: distance 0 (components are matched)
    assert line_distance(X, y, a, P([3.0, 0.0], [[1.0], [1.0]])) == pytest.approx(0, abs=1e-12)
    # one line shifted by 1 (2 sds): distance 2 whatever the weighting
    assert line_distance(X, y, a, P([1.0, 3.0], [[1.0], [1.0]])) == pytest.approx(2.0, rel=1e-9)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.filterwarnings("ignore::mlrbayes.bayes.SamplingWarning")  # R-hat: chains split
def test_sampled_chains_at_an_inferior_optimum_are_a_minor_mode():
    """Two PyMC chains start at the best optimum (parallel lines), two at an inferior one
    (crossing lines, 16 log-likelihood units lower). The inferior chains stay there; the mode
    they form is a minor mode, and its Laplace log mass (from the sampler's lp) is below the
    best mode's by about the log-likelihood gap (same model, similar curvature)."""
    from mlrbayes.bayes import sample_posterior

    rng = np.random.default_rng(3)
    X, y = _clouds_with_spread(rng)
    par = {"weights": [0.5, 0.5], "intercept": [-1, 1], "coef": [[0.0], [0.0]]}
    cro = {"weights": [0.5, 0.5], "intercept": [0, 0], "coef": [[1.0], [-1.0]]}
    best = fit_em(X, y, 2, sigma="shared", init=par, n_init=1)
    bad = fit_em(X, y, 2, sigma="shared", init=cro, n_init=1)
    gap = best.loglik - bad.loglik
    idata = sample_posterior(
        X,
        y,
        2,
        sigma="shared",
        init=[best, best, bad, bad],
        draws=500,
        tune=500,
        sampler="pymc",
        random_state=1,
        progressbar=False,
    )
    d = diagnose(idata, em=best)
    mm = d.multimodality
    assert mm.n_modes == 2 and mm.mass_source == "sampler"
    minor = [m for m in mm.modes if m.is_minor]
    assert len(minor) == 1 and minor[0].chains == (2, 3) and minor[0].share_chains == 0.5
    lm = sorted((m.log_mass for m in mm.modes), reverse=True)
    assert lm[0] - lm[1] == pytest.approx(gap, abs=3.0)
    assert "minor_mode" in d.codes and d.verdict != "multimodal"
