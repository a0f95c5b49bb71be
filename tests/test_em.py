"""EM fitter: steps against straightforward references, recovery, census, degeneracy, bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.optimize import linear_sum_assignment

from mlrbayes import likelihood as L
from mlrbayes import simulate
from mlrbayes.em import (
    ConvergenceWarning,
    EMResult,
    NumericalWarning,
    e_step,
    fit_em,
    m_step,
)
from mlrbayes.em.starts import init_binned
from mlrbayes.uncertainty import SingularInformationWarning

TRUE = {
    "weights": np.array([0.3, 0.45, 0.25]),
    "intercept": np.array([-4.0, 0.0, 5.0]),
    "coef": np.array([[1.0, -0.5], [-1.5, 0.5], [0.5, 2.0]]),
}


def _match(est, true):
    """Permutation of estimated components matching ``true`` (rows: components)."""
    cost = np.abs(est[:, None, :] - true[None, :, :]).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(len(cols), dtype=int)
    perm[cols] = rows
    return perm


def _stack(w, b, c):
    return np.column_stack([w, b, c])


# ----------------------------------------------------------------------------- steps
def _naive_estep(X, y, w, b, c, s):
    s = np.broadcast_to(s, w.shape)
    dens = np.column_stack(
        [w[k] * stats.norm.pdf(y, b[k] + X @ c[k], s[k]) for k in range(w.shape[0])]
    )
    tot = dens.sum(axis=1)
    return dens / tot[:, None], np.log(tot).sum()


def _naive_mstep(X, y, g, mode, known=None):
    n, k = g.shape
    Z = np.column_stack([np.ones(n), X])
    betas, rss = [], []
    for j in range(k):
        sw = np.sqrt(g[:, j])
        beta = np.linalg.lstsq(Z * sw[:, None], y * sw, rcond=None)[0]
        betas.append(beta)
        rss.append(np.sum(g[:, j] * (y - Z @ beta) ** 2))
    betas, rss = np.array(betas), np.array(rss)
    nk = g.sum(axis=0)
    if mode == "known":
        s = known
    elif mode == "shared":
        s = np.sqrt(rss.sum() / n)
    else:
        s = np.sqrt(rss / nk)
    return nk / n, betas[:, 0], betas[:, 1:], s


def test_e_step_matches_naive(rng):
    X = rng.normal(size=(60, 2))
    y = rng.normal(size=60) * 2
    w = rng.dirichlet(np.ones(3))
    b, c, s = rng.normal(size=3), rng.normal(size=(3, 2)), np.array([0.8, 1.3, 2.0])
    resp, ll = e_step(X, y, w, b, c, s)
    ref_resp, ref_ll = _naive_estep(X, y, w, b, c, s)
    np.testing.assert_allclose(resp, ref_resp, atol=1e-13)
    assert ll == pytest.approx(ref_ll, rel=1e-12)
    # a point far from every line: the naive densities underflow to 0/0, log-sum-exp does not
    resp, ll = e_step(X[:1], np.array([1e4]), w, b, c, 1.0)
    assert np.all(np.isfinite(resp)) and np.isfinite(ll)
    assert resp.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("mode", ["known", "shared", "component"])
def test_m_step_matches_naive(rng, mode):
    X = rng.normal(size=(80, 2))
    y = rng.normal(size=80) * 3
    g = rng.dirichlet(np.ones(3), size=80)
    setting = 0.7 if mode == "known" else mode
    w, b, c, s = m_step(X, y, g, sigma_setting=setting)
    rw, rb, rc, rs = _naive_mstep(X, y, g, mode, known=0.7)
    np.testing.assert_allclose(w, rw, rtol=1e-12)
    np.testing.assert_allclose(b, rb, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(c, rc, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(s, rs, rtol=1e-10)


@pytest.mark.filterwarnings("ignore::mlrbayes.uncertainty.SingularInformationWarning")
@pytest.mark.parametrize("mode", ["known", "shared", "component"])
def test_fused_iterates_equal_reference_steps(rng, mode):
    """fit_em's standardised, chunked pass gives the same iterates as e_step/m_step."""
    X, y, _ = simulate(400, TRUE["weights"], TRUE["intercept"], TRUE["coef"], 1.0, random_state=rng)
    X = X * [3.0, 0.2] + [10.0, -5.0]  # unequal column scales and offsets
    start = {
        "weights": np.array([0.2, 0.5, 0.3]),
        "intercept": np.array([-1.0, 0.5, 2.0]),
        "coef": np.array([[0.3, 0.1], [-0.2, 0.4], [0.1, 1.0]]),
        "sigma": np.array([1.5, 2.0, 2.5]) if mode == "component" else 2.0,
    }
    setting = 1.2 if mode == "known" else mode
    w, b, c, s = start["weights"], start["intercept"], start["coef"], start["sigma"]
    if mode == "known":
        s = 1.2
    trace = []
    n_it = 6
    for _ in range(n_it):
        g, ll = e_step(X, y, w, b, c, s)
        trace.append(ll)
        w, b, c, s = m_step(X, y, g, sigma_setting=setting)
    trace.append(e_step(X, y, w, b, c, s)[1])
    with pytest.warns(ConvergenceWarning):
        res = fit_em(X, y, 3, sigma=setting, init=start, n_init=1, max_iter=n_it, chunk_size=37,
                     order="none")  # fmt: skip
    np.testing.assert_allclose(res.weights, w, rtol=1e-10)
    np.testing.assert_allclose(res.intercept, b, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(res.coef, c, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(res.sigma, s, rtol=1e-10)
    np.testing.assert_allclose(res.loglik_trace, trace, rtol=1e-12)
    g_final, _ = e_step(X, y, w, b, c, s)
    np.testing.assert_allclose(res.responsibilities, g_final, atol=1e-10)


def test_init_binned_equal_groups(rng):
    X, y, _ = simulate(90, [0.5, 0.5], [0.0, 3.0], [[1.0], [-1.0]], 0.5, random_state=rng)
    Z = np.column_stack([np.ones(90), X])
    B, w, s = init_binned(Z, y, 3, None, "shared", None)
    order = np.argsort(y)
    rss = 0.0
    for j in range(3):
        idx = order[30 * j : 30 * (j + 1)]
        beta = np.linalg.lstsq(Z[idx], y[idx], rcond=None)[0]
        np.testing.assert_allclose(B[j], beta, rtol=1e-10)
        rss += np.sum((y[idx] - Z[idx] @ beta) ** 2)
    np.testing.assert_allclose(w, 1 / 3)
    np.testing.assert_allclose(s, np.sqrt(rss / 90), rtol=1e-10)


# ----------------------------------------------------------------------------- fitting
@pytest.mark.parametrize("mode", ["known", "shared", "component"])
def test_recovers_truth_and_trace_is_monotone(mode):
    sig = np.array([0.6, 0.8, 1.0]) if mode == "component" else 0.8
    X, y, _ = simulate(3000, TRUE["weights"], TRUE["intercept"], TRUE["coef"], sig, random_state=11)
    res = fit_em(X, y, 3, sigma=0.8 if mode == "known" else mode, n_init=5, random_state=3)
    assert res.converged and not res.degenerate
    true = _stack(TRUE["weights"], TRUE["intercept"], TRUE["coef"])
    perm = _match(_stack(res.weights, res.intercept, res.coef), true)
    # tolerances ~4 standard errors at n = 3000
    np.testing.assert_allclose(res.weights[perm], TRUE["weights"], atol=0.03)
    np.testing.assert_allclose(res.intercept[perm], TRUE["intercept"], atol=0.15)
    np.testing.assert_allclose(res.coef[perm], TRUE["coef"], atol=0.08)
    if mode == "component":
        np.testing.assert_allclose(res.sigma[perm], sig, rtol=0.08)
    else:
        assert res.sigma == pytest.approx(0.8, rel=0.05)
    # loglik is the likelihood of the returned parameters
    assert res.loglik == pytest.approx(
        L.mixture_loglik(X, y, res.weights, res.intercept, res.coef, res._sigma_k()), rel=1e-12
    )
    for st in res.starts:  # every start's trace is non-decreasing up to rounding
        assert np.all(np.diff(st.loglik_trace) >= -1e-10 * abs(st.loglik))
    assert len(res.loglik_trace) == res.n_iter + 1
    assert sum(o.count for o in res.optima) == 5
    # responsibilities recover the labels' structure: rows sum to 1
    np.testing.assert_allclose(res.responsibilities.sum(axis=1), 1.0)
    assert res.covariance is not None and res.covariance.shape == (len(res.se_names),) * 2


def test_no_intercept_recovery():
    X, y, _ = simulate(2000, [0.5, 0.5], [0.0, 0.0], [[2.0], [-1.0]], 0.3, random_state=5)
    res = fit_em(X, y, 2, sigma="shared", fit_intercept=False, n_init=3, random_state=0)
    np.testing.assert_array_equal(res.intercept, 0.0)
    np.testing.assert_allclose(np.sort(res.coef[:, 0]), [-1.0, 2.0], atol=0.03)
    assert "intercept[0]" not in res.param_names()


def test_census_finds_two_four_cloud_optima():
    """10 points at each of (+-1, +-1), sigma = 0.25 known: two parallel lines y = +-1 or two
    crossing lines y = +-x explain the data equally well."""
    pts = np.repeat([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], 10, axis=0)
    res = fit_em(pts[:, :1], pts[:, 1], 2, sigma=0.25, n_init=20, random_state=0)
    good = [o for o in res.optima if not o.degenerate]
    assert len(good) == 2
    kinds = set()
    for o in good:
        slopes, icpts = np.sort(o.coef[:, 0]), np.sort(o.intercept)
        if np.allclose(slopes, 0, atol=1e-6) and np.allclose(icpts, [-1, 1], atol=1e-6):
            kinds.add("parallel")
        if np.allclose(slopes, [-1, 1], atol=1e-6) and np.allclose(icpts, 0, atol=1e-6):
            kinds.add("crossing")
        np.testing.assert_allclose(o.weights, 0.5, atol=1e-6)
    assert kinds == {"parallel", "crossing"}
    assert sum(o.count for o in res.optima) == 20
    assert all(o.count >= 2 for o in good)
    for i, o in enumerate(res.optima):
        assert all(res.starts[s].optimum == i for s in o.starts)
    assert res.optima[0].loglik == pytest.approx(res.loglik)


def _collapse_start(X, y):
    """Component 1 through observations 0 and 1 with a tiny sd: it collapses onto them."""
    c = (y[1] - y[0]) / (X[1, 0] - X[0, 0])
    return {
        "weights": [0.9, 0.1],
        "intercept": [float(np.mean(y)), y[0] - c * X[0, 0]],
        "coef": [[0.0], [c]],
        "sigma": [1.0, 1e-3],
    }


def test_degenerate_start_flagged_and_kept(rng):
    X, y, _ = simulate(60, [0.5, 0.5], [-2.0, 2.0], [[1.0], [-1.0]], 0.5, random_state=rng)
    res = fit_em(X, y, 2, sigma="component", init=_collapse_start(X, y), n_init=4, random_state=1)
    first = res.starts[0]
    assert first.init == "given" and first.degenerate and not first.converged
    assert any("collapsed" in note for note in first.notes)
    # its collapsed sd and likelihood are kept in the census, flagged, and not chosen
    assert first.sigma[1] < 1e-4 * first.sigma[0] and np.isfinite(first.loglik)
    assert res.optima[first.optimum].degenerate
    assert not res.degenerate and res.optima[0].starts[0] != 0
    assert np.all(np.isfinite(first.sigma))


def test_all_degenerate_warns_and_returns_best(rng):
    X = rng.uniform(-3, 3, size=(40, 1))
    y = 1.0 + X[:, 0] + rng.normal(size=40)
    with pytest.warns((NumericalWarning, SingularInformationWarning)) as rec:
        res = fit_em(X, y, 2, sigma="component", init=_collapse_start(X, y), n_init=1)
    msgs = [str(r.message) for r in rec if r.category is NumericalWarning]
    assert any("all 1 EM starts ended degenerate" in m for m in msgs)
    assert any("component 1 collapsed" in m for m in msgs)
    assert res.degenerate and np.isfinite(res.loglik)


def test_exact_fit_is_degenerate_not_a_decrease():
    """Data exactly on two lines: shared sigma -> rounding level; flagged, not iterated on."""
    x = np.linspace(-1, 1, 20)
    y = np.r_[1 + x[:10], 5 - 2 * x[10:]]
    with pytest.warns((NumericalWarning, SingularInformationWarning)) as rec:
        res = fit_em(x, y, 2, sigma="shared", init="binned", n_init=1)
    msgs = " ".join(str(r.message) for r in rec)
    assert "rounding level of y" in msgs and "decreased" not in msgs
    assert res.degenerate and res.sigma < 1e-12
    np.testing.assert_allclose(np.sort(res.coef[:, 0]), [-2.0, 1.0], atol=1e-9)


def test_emptied_component_known_sigma(rng):
    X = rng.uniform(-2, 2, size=(100, 1))
    y = 2.0 * X[:, 0] + 0.5 * rng.normal(size=100)
    start = {"weights": [0.5, 0.5], "intercept": [0.0, 1e4], "coef": [[1.0], [3.0]]}
    with pytest.warns((NumericalWarning, SingularInformationWarning)) as rec:
        res = fit_em(X, y, 2, sigma=0.5, init=start, n_init=1)
    msgs = " ".join(str(r.message) for r in rec)
    assert "component 1 emptied" in msgs and "degenerate" in msgs
    assert res.weights[1] == 0.0 and res.weights[0] == 1.0
    assert res.intercept[1] == pytest.approx(1e4) and res.coef[1, 0] == pytest.approx(3.0)
    assert res.degenerate and np.isfinite(res.loglik)
    assert res.coef[0, 0] == pytest.approx(2.0, abs=0.1)
    assert np.all(np.isfinite(res.responsibilities))


def test_constant_predictor_warns_and_is_absorbed(rng):
    X, y, _ = simulate(300, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=rng)
    Xc = np.column_stack([X, np.full(300, 7.3)])
    with pytest.warns(NumericalWarning, match=r"\['x1'\] are constant"):
        res = fit_em(Xc, y, 2, sigma="shared", n_init=3, random_state=0)
    ref = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0)
    np.testing.assert_array_equal(res.coef[:, 1], 0.0)
    # standard errors of the identifiable parameters survive; the constant's is NaN
    assert np.all(np.isnan(res.standard_errors["coef"][:, 1]))
    np.testing.assert_allclose(res.standard_errors["coef"][:, 0], ref.standard_errors["coef"][:, 0])
    assert not any("x1" in name for name in res.se_names)
    assert res.loglik == pytest.approx(ref.loglik, rel=1e-10)
    np.testing.assert_allclose(res.intercept, ref.intercept, rtol=1e-8)


def test_collinear_predictor_warns_and_fits(rng):
    X, y, _ = simulate(300, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=rng)
    Xc = np.column_stack([X, 2.0 * X[:, 0]])
    with pytest.warns((NumericalWarning, SingularInformationWarning)) as rec:
        res = fit_em(Xc, y, 2, sigma="shared", n_init=3, random_state=0)
    assert any("singular or ill-conditioned" in str(r.message) for r in rec)
    ref = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0)
    assert np.all(np.isfinite(res.coef))
    assert res.loglik == pytest.approx(ref.loglik, rel=1e-8)
    # slope along x0 is c0 + 2 c1: the same lines as the one-predictor fit
    np.testing.assert_allclose(
        np.sort(res.coef[:, 0] + 2 * res.coef[:, 1]), np.sort(ref.coef[:, 0]), atol=1e-6
    )


def test_m_step_warns_on_singular_and_emptied(rng):
    X = np.column_stack([rng.normal(size=30), np.ones(30)])
    g = np.column_stack([np.ones(30), np.zeros(30)])
    with pytest.warns(NumericalWarning) as rec:
        w, _, c, s = m_step(X, rng.normal(size=30), g, sigma_setting="component")
    msgs = " ".join(str(r.message) for r in rec)
    assert "singular" in msgs and "component 1 emptied" in msgs
    assert w.tolist() == [1.0, 0.0] and np.all(np.isfinite(c)) and np.all(np.isfinite(s))


def test_extreme_scales():
    # y ~ 1e8 with sigma ~ 1e-6
    X, y, _ = simulate(400, [0.5, 0.5], [1e8, 1e8 + 1e-4], [[1e-5], [-1e-5]], 1e-6, random_state=2)
    res = fit_em(X, y, 2, sigma="shared", n_init=4, random_state=0)
    assert np.isfinite(res.loglik) and np.all(np.isfinite(res.loglik_trace))
    assert res.sigma == pytest.approx(1e-6, rel=0.15)
    np.testing.assert_allclose(np.sort(res.intercept) - 1e8, [0.0, 1e-4], atol=2e-6)
    np.testing.assert_allclose(np.sort(res.coef[:, 0]), [-1e-5, 1e-5], atol=1e-6)
    # known tiny sigma, data of tiny scale, predictors of huge scale
    X, y, _ = simulate(400, [0.4, 0.6], [0.0, 3e-5], [[1e-11], [-1e-11]], 1e-6, random_state=3)
    X = X * 1e6
    res = fit_em(X, y, 2, sigma=1e-6, n_init=4, random_state=0)
    assert np.isfinite(res.loglik)
    np.testing.assert_allclose(np.sort(res.intercept), [0.0, 3e-5], atol=1e-6)
    np.testing.assert_allclose(np.sort(res.weights), [0.4, 0.6], atol=0.07)


def test_deterministic_and_chunk_invariant(rng):
    X, y, _ = simulate(500, [0.5, 0.5], [0.0, 2.0], [[1.0], [-1.0]], 0.7, random_state=rng)
    a = fit_em(X, y, 2, sigma="component", n_init=4, random_state=42)
    b = fit_em(X, y, 2, sigma="component", n_init=4, random_state=42)
    c = fit_em(X, y, 2, sigma="component", n_init=4, random_state=42, chunk_size=13)
    for sa, sb, sc in zip(a.starts, b.starts, c.starts, strict=True):
        np.testing.assert_array_equal(sa.coef, sb.coef)
        assert sa.loglik == sb.loglik and sa.n_iter == sb.n_iter
        np.testing.assert_allclose(sa.coef, sc.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(a.responsibilities, b.responsibilities)


def test_pandas_names_and_refit_from_result(rng):
    X, y, _ = simulate(300, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=rng)
    df = pd.DataFrame({"dose": X[:, 0]})
    res = fit_em(df, pd.Series(y, name="tone"), 2, sigma="shared", n_init=3, random_state=0)
    assert res.feature_names == ["dose"] and res.target_name == "tone"
    assert "coef[1,dose]" in res.param_names()
    assert any("dose" in name for name in res.se_names)
    again = fit_em(df, y, 2, sigma="shared", init=res, n_init=1)
    assert again.starts[0].init == "given" and again.n_iter <= 2
    assert again.loglik == pytest.approx(res.loglik, abs=1e-6)


def test_convergence_warning_with_max_iter_2(rng):
    X, y, _ = simulate(200, [0.5, 0.5], [0.0, 1.0], [[1.0], [-1.0]], 0.5, random_state=rng)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        res = fit_em(X, y, 2, sigma="shared", n_init=2, max_iter=2, random_state=0,
                     compute_se=False)  # fmt: skip
    assert not res.converged and res.n_iter == 2 and res.loglik_trace.shape == (3,)


def test_single_component_is_ols(rng):
    X = rng.normal(size=(50, 2))
    y = X @ [1.0, -2.0] + 0.5 + rng.normal(size=50)
    res = fit_em(X, y, 1, sigma="shared", n_init=2, random_state=0)
    Z = np.column_stack([np.ones(50), X])
    beta = np.linalg.lstsq(Z, y, rcond=None)[0]
    np.testing.assert_allclose(res.intercept[0], beta[0], rtol=1e-10)
    np.testing.assert_allclose(res.coef[0], beta[1:], rtol=1e-10)
    assert res.sigma == pytest.approx(np.sqrt(np.mean((y - Z @ beta) ** 2)), rel=1e-10)
    assert res.loglik == pytest.approx(np.sum(stats.norm.logpdf(y, Z @ beta, res.sigma)), rel=1e-12)
    assert len(res.optima) == 1 and res.optima[0].count == 2


# ----------------------------------------------------------------------------- bad input
X0 = np.linspace(-1, 1, 20)[:, None]
Y0 = np.linspace(0, 2, 20)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"X": np.where(np.arange(20)[:, None] == 3, np.nan, X0)}, ValueError, "nan.*row 3"),
        ({"y": np.where(np.arange(20) == 5, np.inf, Y0)}, ValueError, "inf.*row 5"),
        ({"y": Y0[:-1]}, ValueError, "X has 20 rows, y has 19"),
        ({"X": np.zeros((20, 1, 2))}, ValueError, r"shape \(20, 1, 2\)"),
        ({"y": np.zeros((20, 2))}, ValueError, r"shape \(20, 2\)"),
        ({"n_components": 0}, ValueError, "got 0"),
        ({"n_components": 11}, ValueError, "n_components=11 is more than the data support"),
        ({"n_components": 2.5}, TypeError, "2.5"),
        ({"sigma": 0.0}, ValueError, "got 0.0"),
        ({"sigma": -1.0}, ValueError, "got -1.0"),
        ({"sigma": np.nan}, ValueError, "got nan"),
        ({"sigma": "sharred"}, ValueError, "'sharred'"),
        ({"sigma": [1.0, 2.0, 3.0]}, ValueError, "sigma has 3 entries"),
        ({"init": "kmeans++"}, ValueError, "'kmeans\\+\\+'"),
        ({"init": 3}, TypeError, "got int"),
        ({"init": {"weights": [1.0], "coef": [[1.0]]}}, ValueError, r"weights \(1,\)"),
        ({"init": {"weights": [0.5, 0.5], "coef": [1, 2], "beta": 1}}, ValueError, "'beta'"),
        ({"n_init": 0}, ValueError, "n_init must be an integer >= 1; got 0"),
        ({"max_iter": -3}, ValueError, "got -3"),
        ({"tol": -1e-3}, ValueError, "got -0.001"),
        ({"tol": "small"}, TypeError, "'small'"),
        ({"fit_intercept": "yes"}, TypeError, "'yes'"),
        ({"min_weight": 1.5}, ValueError, "got 1.5"),
    ],
)
def test_bad_input(kwargs, exc, match):
    args = {"X": X0, "y": Y0, "n_components": 2, "sigma": 1.0}
    args.update(kwargs)
    X, y, k = args.pop("X"), args.pop("y"), args.pop("n_components")
    with pytest.raises(exc, match=match):
        fit_em(X, y, k, **args)


def test_sigma_is_required():
    with pytest.raises(TypeError, match="sigma"):
        fit_em(X0, Y0, 2)  # type: ignore[call-arg]


def test_result_type_and_no_pymc_import():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from mlrbayes.em import fit_em;"
        "X = np.linspace(0, 1, 30)[:, None];"
        "y = np.r_[X[:15, 0], 3 - X[15:, 0]] + np.sin(X[:, 0] * 40);"
        "fit_em(X, y, 2, sigma='shared', n_init=2, random_state=0);"
        "print('pymc' in sys.modules, 'pytensor' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = np.r_[Y0[:10], 5 - Y0[10:]] + 0.3 * np.sin(37 * Y0)
        res = fit_em(X0, y, 2, sigma="shared", random_state=0)
    assert isinstance(res, EMResult)


def test_tiny_noise_sigma_is_a_fixed_point():
    """Noise 1e-9 against lines 10 apart: the residual-sum update would cancel; the direct
    recomputation keeps the ML fixed point sigma^2 = sum_ik gamma_ik r_ik^2 / n."""
    X, y, _ = simulate(400, [0.5, 0.5], [0.0, 10.0], [[1.0], [-1.0]], 1e-9, random_state=2)
    res = fit_em(X, y, 2, sigma="shared", n_init=4, random_state=0)
    assert not res.degenerate
    r = y[:, None] - (res.intercept + X @ res.coef.T)
    direct = np.sqrt(np.sum(res.responsibilities * r**2) / 400)
    assert res.sigma == pytest.approx(direct, rel=1e-6)
    assert res.sigma == pytest.approx(1e-9, rel=0.1)


def test_known_sigma_per_component():
    sig = np.array([0.3, 1.5])
    X, y, _ = simulate(2000, [0.4, 0.6], [0.0, 3.0], [[2.0], [-1.0]], sig, random_state=9)
    res = fit_em(X, y, 2, sigma=sig, n_init=3, random_state=0)
    # a known sd per component ties the labels: no permutation needed
    np.testing.assert_array_equal(res.sigma, sig)
    np.testing.assert_allclose(res.intercept, [0.0, 3.0], atol=0.15)
    np.testing.assert_allclose(res.coef[:, 0], [2.0, -1.0], atol=0.08)
    np.testing.assert_allclose(res.weights, [0.4, 0.6], atol=0.03)


@pytest.mark.parametrize("init", ["random", "binned", "auto"])
def test_init_strategies_reach_the_truth(init):
    X, y, _ = simulate(600, [0.5, 0.5], [-2.0, 2.0], [[1.0], [-1.0]], 0.5, random_state=4)
    res = fit_em(X, y, 2, sigma="shared", init=init, n_init=4, random_state=0)
    kinds = [s.init for s in res.starts]
    expected = {
        "random": ["random"] * 4,
        "binned": ["binned"] * 4,
        "auto": ["binned", "split", "random", "subset"],
    }[init]
    assert kinds == expected
    order = np.argsort(res.intercept)
    np.testing.assert_allclose(res.intercept[order], [-2.0, 2.0], atol=0.15)
    np.testing.assert_allclose(res.coef[order, 0], [1.0, -1.0], atol=0.06)
    assert res.sigma == pytest.approx(0.5, rel=0.1)


def test_compute_se_false_gives_same_fit_and_nan_errors():
    X, y, _ = simulate(200, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=3)
    full = fit_em(X, y, 2, sigma="component", n_init=3, random_state=0)
    fast = fit_em(X, y, 2, sigma="component", n_init=3, random_state=0, compute_se=False)
    np.testing.assert_array_equal(fast.coef, full.coef)
    assert fast.loglik == full.loglik
    assert fast.covariance is None and full.covariance is not None
    assert fast.se_names == full.se_names
    assert set(fast.standard_errors) == set(full.standard_errors)
    for key, value in fast.standard_errors.items():
        assert np.shape(value) == np.shape(full.standard_errors[key])
        assert np.all(np.isnan(value))


def test_dataset_is_used_as_it_is_and_not_checked_again(monkeypatch):
    """A checked Dataset gives the same fit as the raw arrays, and is not re-checked."""
    import mlrbayes.spec as spec

    X, y, _ = simulate(300, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=8)
    ref = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0)
    data = spec.as_dataset(pd.DataFrame({"dose": X[:, 0]}), pd.Series(y, name="tone"))

    def fail(*args, **kwargs):
        raise AssertionError("a Dataset was checked again")

    monkeypatch.setattr(spec, "check_X_y", fail)
    res = fit_em(data, None, 2, sigma="shared", n_init=3, random_state=0)
    np.testing.assert_array_equal(res.coef, ref.coef)
    assert res.loglik == ref.loglik and res.feature_names == ["dose"]
    assert res.target_name == "tone" and res.se_names == [
        n.replace("x0", "dose") for n in ref.se_names
    ]
    assert res.score(data) == pytest.approx(ref.loglik / 300, rel=1e-12)
    np.testing.assert_allclose(res.membership(data), ref.responsibilities, atol=1e-10)
    with pytest.raises(TypeError, match="pass y only with array-like X"):
        fit_em(data, y, 2, sigma="shared")


# ----------------------------------------------------------------------------- hostile runs
def test_loglik_drop_is_never_convergence(monkeypatch):
    """A pass whose log-likelihood drops by more than rounding: the start keeps the iterate
    before the drop, is flagged decreased and not converged, and a NumericalWarning says so."""
    import dataclasses

    import mlrbayes.em.fit as fit_module
    from mlrbayes.em.engine import InMemoryEngine

    class DroppingEngine(InMemoryEngine):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.passes = 0

        def accumulate(self, B, w, sigma):
            stats = super().accumulate(B, w, sigma)
            self.passes += 1
            if self.passes == 3:  # the second iterate looks 500 log-units worse (a drop of 379)
                return dataclasses.replace(stats, loglik=stats.loglik - 500.0)
            return stats

    X, y, _ = simulate(300, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=3)
    start = {"weights": [0.5, 0.5], "intercept": [0.5, 3.0], "coef": [[0.5], [-0.5]]}
    monkeypatch.setattr(fit_module, "InMemoryEngine", DroppingEngine)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = fit_em(X, y, 2, sigma="shared", init=start, n_init=1, compute_se=False)
    msgs = [(r.category, str(r.message)) for r in rec]
    assert any(c is NumericalWarning and "decreased by 379" in m for c, m in msgs), msgs
    assert not any(c is ConvergenceWarning for c, _ in msgs)
    first = res.starts[0]
    assert first.decreased and not first.converged and not res.converged
    # the kept parameters are the iterate before the drop: one iteration, its likelihood
    assert res.n_iter == 1 and res.loglik_trace.shape == (2,)
    assert np.all(np.diff(res.loglik_trace) > 0)
    ll = L.mixture_loglik(X, y, res.weights, res.intercept, res.coef, res._sigma_k())
    assert res.loglik == pytest.approx(ll, rel=1e-10)
    assert res.loglik == res.loglik_trace[-1]


def test_shared_sigma_needs_more_observations_than_coefficients():
    """K * (p + 1) = n: the lines interpolate every point, shared sigma -> 0: refused."""
    X = np.linspace(-1, 1, 20)[:, None]
    y = np.sin(5 * X[:, 0])
    with pytest.raises(ValueError, match=r"n_components=10 is more than .* at most K=9 .*K\*2 < n"):
        fit_em(X, y, 10, sigma="shared")
    with pytest.raises(ValueError, match=r"at most K=6 .*more observations than its 2"):
        fit_em(X, y, 7, sigma="component")
    with pytest.raises(ValueError) as info:
        fit_em(X[:2], y[:2], 1, sigma="shared")
    msg = str(info.value)
    assert "2 observations are too few for n_components=1" in msg and "at least 3" in msg
    assert "at most K=1" not in msg and "more than the data support" not in msg


@pytest.mark.parametrize(
    ("mode", "hint", "not_hint"),
    [
        ("component", "sigma='shared'", "known/shared"),
        ("shared", "duplicated rows", "shared sigma"),
    ],
)
def test_degeneracy_hint_depends_on_the_sigma_setting(mode, hint, not_hint):
    x = np.linspace(-1, 1, 20)
    y = np.r_[1 + x[:10], 5 - 2 * x[10:]]  # exactly on two lines
    init = "binned" if mode == "shared" else _collapse_start(x[:, None], y)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit_em(x, y, 2, sigma=mode, init=init, n_init=1, compute_se=False)
    msg = next(str(r.message) for r in rec if "EM starts ended degenerate" in str(r.message))
    assert hint in msg and not_hint not in msg


def test_extreme_outlier_is_named_and_overflowing_y_refused():
    X, y, _ = simulate(200, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=1)
    y[17] = 1e20
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = fit_em(X, y, 2, sigma="shared", n_init=2, random_state=0, compute_se=False)
    extreme = [str(r.message) for r in rec if "extreme value" in str(r.message)]
    assert len(extreme) == 1 and "row 17 (y = 1e+20)" in extreme[0]
    assert any("row 17" in note for note in res.notes)
    y[17] = 1e308
    with pytest.raises(ValueError, match=r"y has a value of 1e\+308 \(row 17\).*Rescale"):
        fit_em(X, y, 2, sigma="shared")
    with pytest.raises(ValueError, match=r"predictor 'x0' has a value of -1e\+200"):
        fit_em(np.where(np.arange(200)[:, None] == 3, -1e200, X), np.sin(X[:, 0]), 2, sigma=1.0)


def test_far_apart_clusters_are_not_called_extreme():
    """Two lines 1e9 apart are data a mixture models, not outliers: no warning."""
    X, y, _ = simulate(300, [0.5, 0.5], [0.0, 1e9], [[1.0], [-1.0]], 0.5, random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fit_em(X, y, 2, sigma="shared", n_init=2, random_state=0)
    np.testing.assert_allclose(np.sort(res.intercept), [0.0, 1e9], atol=0.2)
    assert res.notes == ()


@pytest.mark.parametrize(
    ("seed", "exc", "match"),
    [
        (-5, ValueError, "from 0 to 2\\*\\*64-1 .* got -5"),
        (2**64, ValueError, "got 18446744073709551616"),
        (1.5, TypeError, "got 1.5"),
        (True, TypeError, "got True"),
    ],
)
def test_bad_random_state_gets_our_message(seed, exc, match):
    with pytest.raises(exc, match=match):
        fit_em(X0, Y0, 2, sigma=1.0, random_state=seed)
