"""EM of the extended model: gating, fixed coefficients, groups and observation weights.

Known truths used here: the plain model (exact reduction), duplicated rows (integer
weights), singleton groups, an intercept-only gating model (= constant weights), central finite
differences of ``likelihood.extended_loglik`` (Louis SEs), simulated data with known
parameters (recovery within 4 standard errors), and flexmix's NPreg generator.
"""

import warnings

import numpy as np
import pytest
from scipy import optimize

import mlrbayes.likelihood as lik
from mlrbayes.em import NumericalWarning, fit_em, kernels
from mlrbayes.em.extended import Design, Params, e_step, m_step
from mlrbayes.em.gating import centre, gating_objective, gating_ridge, newton_steps
from mlrbayes.simulate import simulate, simulate_extended
from mlrbayes.spec import Dataset, as_dataset
from mlrbayes.uncertainty_extended import (
    extended_free_param_names,
    extended_observed_information,
)

TIGHT = dict(n_init=1, tol=1e-13, max_iter=20000, compute_se=False, order="none")


def _start(k=2):
    return {
        "weights": [0.4, 0.6],
        "intercept": [0.5, 3.0],
        "coef": [[0.5], [-0.5]],
        "sigma": 1.0,
    }


@pytest.fixture(scope="module")
def plain_data():
    X, y, _ = simulate(300, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.8, random_state=11)
    return X, y


# ----------------------------------------------------------------------------- reductions
def test_one_iteration_equals_plain_kernels(plain_data):
    """One E+M step of the extended engine with unit weights == kernels.e_step/m_step (1e-12)."""
    X, y = plain_data
    data = as_dataset(X, y, sample_weight=np.ones(len(y)))
    design = Design.from_dataset(data, True)
    for mode in ("shared", "component"):
        s = np.array([0.9, 1.3]) if mode == "component" else np.array([1.1, 1.1])
        p = Params(np.array([[0.5, 0.5], [3.0, -0.5]]), s, np.array([0.4, 0.6]))
        tau, ll = e_step(design, p)
        ref_tau, ref_ll = kernels.e_step(X, y, p.weights, p.B[:, 0], p.B[:, 1:], s)
        np.testing.assert_allclose(tau, ref_tau, rtol=0, atol=1e-12)
        assert ll == pytest.approx(ref_ll, rel=1e-13)
        new, _ = m_step(design, tau, p, mode)
        w, b, c, sig = kernels.m_step(X, y, ref_tau, sigma_setting=mode)
        np.testing.assert_allclose(new.weights, w, atol=1e-12)
        np.testing.assert_allclose(new.B[:, 0], b, atol=1e-10)
        np.testing.assert_allclose(new.B[:, 1:], c, atol=1e-10)
        np.testing.assert_allclose(new.sigma, np.broadcast_to(sig, (2,)), atol=1e-10)


@pytest.mark.parametrize("mode", ["shared", "component", 0.8])
def test_unit_weights_equal_plain_fit(plain_data, mode):
    """All weights 1 (extended path) == today's model from the same start, to 1e-8."""
    X, y = plain_data
    a = fit_em(X, y, 2, sigma=mode, init=_start(), **TIGHT)
    b = fit_em(X, y, 2, sigma=mode, init=_start(), weights=np.ones(len(y)), **TIGHT)
    assert b.weighted and not a.weighted
    assert b.loglik == pytest.approx(a.loglik, rel=1e-10)
    for name in ("weights", "intercept", "coef", "sigma"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=0, atol=1e-8)
    np.testing.assert_allclose(b.responsibilities, a.responsibilities, atol=1e-8)


def test_integer_weights_equal_duplicated_rows(plain_data):
    """Weight m == the row repeated m times: same fit to 1e-8 (same start)."""
    X, y = plain_data
    v = np.random.default_rng(0).integers(1, 4, size=len(y))
    Xd, yd = np.repeat(X, v, axis=0), np.repeat(y, v)
    a = fit_em(Xd, yd, 2, sigma="component", init=_start(), **TIGHT)
    b = fit_em(X, y, 2, sigma="component", init=_start(), weights=v.astype(float), **TIGHT)
    assert b.loglik == pytest.approx(a.loglik, rel=1e-10)
    for name in ("weights", "intercept", "coef", "sigma"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=0, atol=1e-8)
    assert b.n_bic == pytest.approx(v.sum())  # BIC's n is the total weight (flexmix)
    assert b.bic == pytest.approx(a.bic, rel=1e-10)
    assert b.icl == pytest.approx(a.icl, rel=1e-6)


def test_groups_of_size_one_equal_ungrouped(plain_data):
    X, y = plain_data
    a = fit_em(X, y, 2, sigma="shared", init=_start(), **TIGHT)
    b = fit_em(X, y, 2, sigma="shared", init=_start(), groups=np.arange(len(y))[::-1], **TIGHT)
    assert b.n_groups == len(y)
    assert b.loglik == pytest.approx(a.loglik, rel=1e-10)
    for name in ("weights", "intercept", "coef", "sigma"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=0, atol=1e-8)
    np.testing.assert_allclose(b.unit_responsibilities, a.responsibilities, atol=1e-8)


def test_intercept_only_gating_equals_constant_weights(plain_data):
    """A gating model with only the intercept column is the constant-weights model:
    gamma_k = log pi_k - mean log pi (the intercept is not penalised)."""
    X, y = plain_data
    n = len(y)
    gated = Dataset(X, y, ("x0",), concomitant=np.ones((n, 1)), concomitant_names=("(Intercept)",))
    a = fit_em(X, y, 2, sigma="shared", init=_start(), **TIGHT)
    b = fit_em(gated, None, 2, sigma="shared", init=_start(), **TIGHT)
    assert b.loglik == pytest.approx(a.loglik, rel=1e-10)
    for name in ("weights", "intercept", "coef", "sigma"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=0, atol=1e-7)
    lw = np.log(a.weights)
    np.testing.assert_allclose(b.gating_coef[:, 0], lw - lw.mean(), atol=1e-6)
    assert b.n_parameters == a.n_parameters


# ----------------------------------------------------------------------------- gating M-step
def test_gating_newton_maximises_penalised_objective():
    """Many Newton steps reach the maximiser found by BFGS on the same objective (centred)."""
    rng = np.random.default_rng(1)
    n, k = 400, 3
    W = np.column_stack([np.ones(n), rng.normal(size=(n, 2)) * [1.0, 50.0]])
    tau = rng.dirichlet(np.ones(k) * 0.5, size=n)
    v = rng.uniform(0.5, 2.0, size=n)
    lam = gating_ridge(W, v)
    var2 = np.cov(W[:, 2], aweights=v, bias=True)
    assert lam[0] == 0 and lam[2] == pytest.approx(1e-4 * v.sum() * var2, rel=1e-10)
    g = newton_steps(W, tau, v, np.zeros((k, 3)), lam, n_steps=50)
    np.testing.assert_allclose(g.sum(axis=0), 0.0, atol=1e-12)

    def neg(theta):
        return -gating_objective(W, tau, v, centre(theta.reshape(k - 1, 3)), lam)

    ref = optimize.minimize(neg, np.zeros((k - 1) * 3), method="BFGS", options={"gtol": 1e-9})
    assert -ref.fun <= gating_objective(W, tau, v, g, lam) + 1e-9
    np.testing.assert_allclose(g, centre(ref.x.reshape(k - 1, 3)), atol=1e-4)


def test_separated_gating_stays_finite():
    """A covariate that separates the components exactly: the ridge keeps gamma finite."""
    rng = np.random.default_rng(2)
    n = 400
    w0 = rng.normal(size=n)
    z = (w0 > 0).astype(int)
    X = rng.uniform(-3, 3, size=(n, 1))
    y = np.where(z == 1, 4.0 - X[:, 0], X[:, 0]) + 0.3 * rng.normal(size=n)
    res = fit_em(X, y, 2, sigma="shared", concomitant=w0, random_state=0, n_init=3)
    assert np.all(np.isfinite(res.gating_coef))
    assert 5 < np.max(np.abs(res.gating_coef[:, 1])) < 1e3
    assert np.sort(res.coef[:, 0]) == pytest.approx([-1.0, 1.0], abs=0.05)


# ----------------------------------------------------------------------------- standard errors
def _free_vector(k, p, q, r, b, c, s, gamma, delta, w, mode):
    parts = [] if q else [w[: k - 1]]
    parts += [b, c.ravel()]
    parts += [s[:1]] if mode == "shared" else [s] if mode == "component" else []
    if q:
        parts.append((gamma[:-1] - gamma[-1]).ravel())
    if r:
        parts.append(delta)
    return np.concatenate(parts)


def _unpack(theta, k, p, q, r, mode):
    pos = 0
    w = None
    if not q:
        w = np.r_[theta[: k - 1], 1 - theta[: k - 1].sum()]
        pos = k - 1
    b = theta[pos : pos + k]
    pos += k
    c = theta[pos : pos + k * p].reshape(k, p)
    pos += k * p
    if mode == "shared":
        s, pos = np.full(k, theta[pos]), pos + 1
    elif mode == "component":
        s, pos = theta[pos : pos + k], pos + k
    else:
        s = np.full(k, 0.9)
    g = None
    if q:
        g = np.vstack([theta[pos : pos + (k - 1) * q].reshape(k - 1, q), np.zeros((1, q))])
        pos += (k - 1) * q
    d = theta[pos : pos + r] if r else None
    return w, b, c, s, g, d


def _fd_hessian(f, x, h):
    """Central differences with Richardson extrapolation (steps h and h/2)."""

    def hess(step):
        m = x.size
        H = np.zeros((m, m))
        for i in range(m):
            for j in range(i, m):
                ei, ej = np.eye(m)[i] * step[i], np.eye(m)[j] * step[j]
                H[i, j] = H[j, i] = (
                    f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)
                ) / (4 * step[i] * step[j])
        return H

    return (4 * hess(h / 2) - hess(h)) / 3


@pytest.mark.parametrize(
    "mode,parts",
    [
        ("component", dict(gating=[[0.2, 1.0, -0.5], [0.0, 0.0, 0.3], [-0.2, -1.0, 0.2]],
                           fixed=[1.5], group_size=3, weighted=True)),
        ("shared", dict(fixed=[1.0, -0.5], weighted=True)),
        ("known", dict(group_size=2)),
    ],
)  # fmt: skip
def test_louis_information_equals_fd_hessian(mode, parts):
    """Louis' analytic information == minus the finite-difference Hessian of
    likelihood.extended_loglik, at a point that is not the maximum (rtol 1e-5)."""
    parts = dict(parts)
    weighted = parts.pop("weighted", False)
    k = 3 if "gating" in parts else 2
    b0, c0 = [0.0, 3.0, -2.0][:k], [[1.0], [-1.0], [0.3]][:k]
    data, _ = simulate_extended(90, b0, c0, 0.8, random_state=4, **parts)
    if weighted:
        v = np.random.default_rng(5).uniform(0.5, 2.0, size=data.n_samples)
        if data.groups is not None:
            v = v[data.groups]
        data = as_dataset(
            data.X,
            data.y,
            concomitant=None if data.concomitant is None else data.concomitant[:, 1:],
            fixed=data.fixed,
            groups=data.groups,
            sample_weight=v,
        )
    q = 0 if data.concomitant is None else data.concomitant.shape[1]
    r = 0 if data.fixed is None else data.fixed.shape[1]
    rng = np.random.default_rng(6)
    w = np.full(k, 1.0 / k)
    gamma = None if not q else rng.normal(scale=0.5, size=(k, q))
    delta = None if not r else rng.normal(size=r)
    b = np.array(b0) + 0.2
    c = np.array(c0) * 0.9
    s = np.array([0.9, 1.1, 0.8][:k]) if mode == "component" else np.full(k, 0.9)
    theta = _free_vector(k, 1, q, r, b, c, s, gamma, delta, w, mode)

    def f(t):
        ww, bb, cc, ss, gg, dd = _unpack(t, k, 1, q, r, mode)
        return lik.extended_loglik(data, bb, cc, ss, weights=ww, gating=gg, fixed=dd)

    ww, bb, cc, ss, gg, dd = _unpack(theta, k, 1, q, r, mode)
    info = extended_observed_information(
        data, bb, cc, ss if mode != "shared" else ss[0], weights=ww, gating=gg, fixed=dd,
        sigma_setting=mode,
    )  # fmt: skip
    names = extended_free_param_names(
        k, data.feature_names, sigma_setting=mode, reference=True,
        concomitant_names=data.concomitant_names if q else (),
        fixed_names=data.fixed_names if r else (),
    )  # fmt: skip
    assert info.shape == (len(names), len(names)) == (theta.size, theta.size)
    H = _fd_hessian(f, theta, 1e-3 * np.maximum(1.0, np.abs(theta)))
    scale = np.sqrt(np.outer(np.abs(np.diag(info)), np.abs(np.diag(info))))
    np.testing.assert_allclose(-H / scale, info / scale, rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------- recovery
CASES = {
    "gating": dict(gating=[[0.3, 1.2], [-0.3, -1.2]]),
    "fixed": dict(fixed=[2.0, -1.0]),
    "groups": dict(group_size=4),
    "weights": dict(),
    "all": dict(gating=[[0.3, 1.2], [-0.3, -1.2]], fixed=[2.0], group_size=3),
}


@pytest.mark.parametrize("case", list(CASES))
def test_recovery_within_four_standard_errors(case):
    """n = 3000, K = 2, shared sigma 0.8: every parameter (lines, sigma, gating, fixed,
    weights) within 4 SEs of the truth, components matched by intercept (order='intercept').
    A 4-SE miss has probability 6e-5 per parameter under the normal approximation."""
    data, truth = simulate_extended(3000, [0.0, 3.0], [[1.0], [-1.0]], 0.8, random_state=7,
                                    **CASES[case])  # fmt: skip
    if case == "weights":  # replication weights: y at weight-2 rows drawn once, counted twice
        v = np.random.default_rng(8).integers(1, 3, size=data.n_samples).astype(float)
        data = as_dataset(data.X, data.y, sample_weight=v)
    res = fit_em(data, None, 2, sigma="shared", order="intercept", random_state=0, n_init=4)
    se = res.standard_errors
    checks = [("intercept", truth["intercept"]), ("coef", truth["coef"]),
              ("sigma", truth["sigma"][0])]  # fmt: skip
    if truth["gating"] is not None:
        checks.append(("gating", truth["gating"]))
    if truth["fixed"] is not None:
        checks.append(("fixed", truth["fixed"]))
    est = {"gating": res.gating_coef, "fixed": res.fixed_coef}
    for name, true in checks:
        value = est.get(name, getattr(res, name, None))
        z = (np.asarray(value) - true) / np.asarray(se[name])
        assert np.all(np.abs(z) < 4), (case, name, value, true, se[name])
    if truth["gating"] is None:  # the weights are free parameters; with gating a sample mean
        z = (res.weights - truth["weights"]) / se["weights"]
        assert np.all(np.abs(z) < 4), (case, res.weights, truth["weights"])
    if data.groups is not None:  # memberships are per group
        u = res.responsibilities
        assert np.allclose(u, u[np.searchsorted(data.groups, data.groups)])


# ----------------------------------------------------------------------------- flexmix NPreg
def _npreg(n, rng):
    """flexmix's ExNPreg(n) (R/examples.R): 2n rows, x ~ U(0, 10); class 1: yn = 5x, class
    2: yn = 40 - (x - 5)^2, noise sd 3; yb ~ Bernoulli(logit^-1(x - 5)) / (5 - x); id2 groups
    of 4 consecutive rows (within one class)."""
    x = rng.uniform(0, 10, 2 * n)
    cls = np.repeat([0, 1], n)
    yn = np.where(cls == 0, 5 * x, 40 - (x - 5) ** 2) + 3 * rng.normal(size=2 * n)
    eta = np.where(cls == 0, x - 5, 5 - x)
    yb = (rng.uniform(size=2 * n) < 1 / (1 + np.exp(-eta))).astype(float)
    id2 = np.repeat(np.arange(n // 2), 4)
    return x, yn, yb, id2, cls


@pytest.mark.parametrize("part", ["groups", "concomitant"])
def test_npreg_loglik_at_least_long_run_and_truth(part):
    """NPreg-style data (flexmix's generator, n = 100 per class as flexmix's NPreg): the
    default fit's log-likelihood is >= that of a long run (20 starts, tol 1e-12) minus 1e-6
    and >= that at the generating lines with the ML sigma given the true classes."""
    rng = np.random.default_rng(9)
    x, yn, yb, id2, cls = _npreg(100, rng)
    X = np.column_stack([x, x**2])
    extra = {"groups": id2} if part == "groups" else {"concomitant": yb}
    res = fit_em(X, yn, 2, sigma="component", random_state=0, **extra)
    long = fit_em(X, yn, 2, sigma="component", random_state=1, n_init=20, tol=1e-12,
                  max_iter=5000, compute_se=False, **extra)  # fmt: skip
    assert res.loglik >= long.loglik - 1e-6
    data = as_dataset(X, yn, **extra)
    b, c = np.array([0.0, 15.0]), np.array([[5.0, 0.0], [10.0, -1.0]])
    mu = b[cls] + np.einsum("ij,ij->i", X, c[cls])
    s = np.array([np.sqrt(np.mean((yn - mu)[cls == j] ** 2)) for j in (0, 1)])
    if part == "groups":
        ll_true = lik.extended_loglik(data, b, c, s, weights=np.array([0.5, 0.5]))
    else:
        ll_true = lik.extended_loglik(data, b, c, s, gating=np.zeros((2, 2)))
    assert res.loglik >= ll_true
    assert np.sort(res.coef[:, 0]) == pytest.approx([5.0, 10.0], abs=1.5)


# ----------------------------------------------------------------------------- predictions
@pytest.fixture(scope="module")
def all_fit():
    data, _ = simulate_extended(800, [0.0, 3.0], [[1.0], [-1.0]], 0.6, random_state=12,
                                    gating=[[0.2, 1.0], [-0.2, -1.0]], fixed=[1.5],
                                    group_size=2)  # fmt: skip
    return data, fit_em(data, None, 2, sigma="shared", random_state=0, n_init=3)


def test_predictions_need_the_new_parts(all_fit):
    data, res = all_fit
    W0, U = data.concomitant[:, 1:], data.fixed
    with pytest.raises(ValueError, match="concomitant="):
        res.predict_proba(data.X)
    with pytest.raises(ValueError, match="fixed="):
        res.predict_components(data.X)
    with pytest.raises(ValueError, match="fixed="):
        res.membership(data.X, data.y, concomitant=W0)
    with pytest.raises(ValueError, match="without fixed"):
        fit_em(data.X, data.y, 2, sigma="shared", n_init=1, random_state=0,
               weights=np.ones(data.n_samples)).predict(data.X, fixed=U)  # fmt: skip
    prior = res.predict_proba(data.X, concomitant=W0)
    ref = np.exp(lik.log_prior_membership(as_dataset(data.X, data.y, concomitant=W0),
                                          gating=res.gating_coef))  # fmt: skip
    np.testing.assert_allclose(prior, ref, atol=1e-14)
    mem = res.membership(data.X, data.y, concomitant=W0, fixed=U, groups=data.groups)
    np.testing.assert_allclose(mem, res.responsibilities, atol=1e-10)
    mu = res.predict_components(data.X, fixed=U)
    lines = res.intercept + data.X @ res.coef.T
    np.testing.assert_allclose(mu, lines + (U @ res.fixed_coef)[:, None])
    np.testing.assert_allclose(res.predict(data.X, concomitant=W0, fixed=U),
                               np.sum(mu * prior, axis=1))  # fmt: skip
    assert res.score(data, None) == pytest.approx(res.loglik / data.n_samples, rel=1e-10)
    y_new, labels = res.sample(data.X, random_state=0, concomitant=W0, fixed=U)
    assert y_new.shape == labels.shape == (data.n_samples,)
    iv = res.predict_interval(data.X, concomitant=W0, fixed=U)
    assert np.all(iv[:, 0] < iv[:, 1])


def test_result_fields_and_counts(all_fit):
    _, res = all_fit
    k, q, r = 2, 2, 1
    assert res.concomitant_names == ["(Intercept)", "concomitant_x0"]
    assert res.fixed_names == ["fixed_x0"] and res.n_groups == 400
    assert res.gating_coef.shape == (k, q)
    np.testing.assert_allclose(res.gating_coef.sum(axis=0), 0.0, atol=1e-12)
    # (K-1) q gating + K intercepts + K slopes + r fixed + 1 sigma
    assert res.n_parameters == (k - 1) * q + k + k + r + 1
    assert res.bic == pytest.approx(-2 * res.loglik + res.n_parameters * np.log(800))
    assert res.unit_responsibilities.shape == (400, k)
    names = res.param_names()
    assert names[-5:] == [
        "gating[0,(Intercept)]", "gating[0,concomitant_x0]", "gating[1,(Intercept)]",
        "gating[1,concomitant_x0]", "fixed[fixed_x0]",
    ]  # fmt: skip
    assert res.se_names == [nm for nm in names if not nm.startswith("weights")]
    assert res.covariance.shape == (len(res.se_names),) * 2
    assert res.weights == pytest.approx(res.unit_responsibilities.mean(axis=0), abs=0.05)
    assert all(st.gating_coef is not None for st in res.starts)


def test_weights_shift_the_fit_like_duplicates():
    """Observation weights enter the M-step: up-weighting one cloud moves the weights."""
    data, _ = simulate_extended(600, [0.0, 5.0], [[1.0], [-1.0]], 0.5, random_state=13)
    hard = (data.y > 2.5 - 0.0 * data.X[:, 0]).astype(float)
    v = np.where(hard == 1, 3.0, 1.0)
    res = fit_em(data.X, data.y, 2, sigma="shared", weights=v, random_state=0, n_init=2,
                 order="intercept")  # fmt: skip
    share = v[hard == 1].sum() / v.sum()
    assert res.weights[1] == pytest.approx(share, abs=0.03)


def test_bad_inputs_raise_one_clear_error(plain_data):
    X, y = plain_data
    with pytest.raises(ValueError, match="rows"):
        fit_em(X, y, 2, sigma="shared", concomitant=np.ones((5, 1)))
    with pytest.raises(TypeError, match="n_components"):
        fit_em(X, y, sigma="shared")
    g = np.arange(len(y)) // 2
    w0 = np.arange(len(y), dtype=float)
    with pytest.raises(ValueError, match="varies within group"):
        fit_em(X, y, 2, sigma="shared", groups=g, concomitant=w0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="not positive"):
            fit_em(X, y, 2, sigma="shared", weights=np.zeros(len(y)))


def test_collinear_fixed_predictor_is_reported(plain_data):
    X, y = plain_data
    with pytest.warns(NumericalWarning, match="singular"):
        fit_em(X, y, 2, sigma="shared", fixed=X.copy(), n_init=1, random_state=0, compute_se=False)


# ----------------------------------------------------------------------------- calibration
def test_standard_errors_cover_at_the_nominal_rate():
    """200 simulated data sets (n = 400 in 200 groups of 2, gating + fixed, shared sigma):
    the Wald intervals +-1.96 SE cover the truth at 95 % up to Monte Carlo error
    (sd sqrt(0.95 * 0.05 / 200) = 0.015; band 0.95 +- 3 sd = [0.904, 0.996]) for a gating
    slope and intercept, the fixed coefficient, an intercept and sigma (~6 s)."""
    reps, hits = 200, []
    for rep in range(reps):
        data, truth = simulate_extended(
            400, [0.0, 3.0], [[1.0], [-1.0]], 0.8, gating=[[0.3, 1.0], [-0.3, -1.0]],
            fixed=[1.0], group_size=2, random_state=1000 + rep,
        )  # fmt: skip
        res = fit_em(data, None, 2, sigma="shared", order="intercept", n_init=2, random_state=rep)
        se = res.standard_errors
        z = [
            (res.gating_coef[0, 1] - truth["gating"][0, 1]) / se["gating"][0, 1],
            (res.gating_coef[0, 0] - truth["gating"][0, 0]) / se["gating"][0, 0],
            (res.fixed_coef[0] - 1.0) / se["fixed"][0],
            res.intercept[0] / se["intercept"][0],
            (res.sigma - 0.8) / se["sigma"],
        ]
        hits.append(np.abs(z) < 1.96)
    cover = np.mean(hits, axis=0)
    assert np.all((cover > 0.904) & (cover < 0.996)), cover


# ----------------------------------------------------------------------------- loop safeguards
def test_a_decrease_is_stopped_and_warned(plain_data, monkeypatch):
    """An M-step that lowers the log-likelihood (injected) stops the start at the iterate
    before, flags it ``decreased`` and warns (NumericalWarning)."""
    from mlrbayes.em import extended

    X, y = plain_data
    real = extended.m_step
    calls = {"n": 0}

    def faulty(design, tau, p, mode):
        calls["n"] += 1
        new, sing = real(design, tau, p, mode)
        if calls["n"] == 3:
            new = extended.Params(new.B[::-1] + 1.0, new.sigma, new.weights, new.delta)
        return new, sing

    monkeypatch.setattr(extended, "m_step", faulty)
    with pytest.warns(NumericalWarning, match="decreased"):
        res = fit_em(X, y, 2, sigma="shared", init=_start(), weights=np.ones(len(y)),
                     n_init=1, compute_se=False)  # fmt: skip
    st = res.starts[0]
    assert st.decreased and not st.converged and st.n_iter == 2
    assert np.all(np.diff(st.loglik_trace) >= 0)


def test_emptied_component_is_degenerate():
    """K = 3 on data from one line with a known sd: a component empties (weight below
    min_weight), the start is flagged degenerate, with a warning."""
    rng = np.random.default_rng(14)
    X = rng.uniform(-3, 3, size=(200, 1))
    y = 1.0 + X[:, 0] + 0.5 * rng.normal(size=200)
    start = {"weights": [0.98, 0.01, 0.01], "intercept": [1.0, 30.0, -30.0],
             "coef": [[1.0], [0.0], [0.0]]}  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit_em(X, y, 3, sigma=0.5, init=start, n_init=1, weights=np.ones(200),
                     compute_se=False, min_weight=1e-6)  # fmt: skip
    texts = [str(w.message) for w in caught if w.category is NumericalWarning]
    assert any("emptied" in t for t in texts) and any("degenerate" in t for t in texts)
    assert res.degenerate and res.starts[0].degenerate


def test_fit_is_equivariant_to_units():
    """y in other units (x 1e4, shifted) and X rescaled (x 1e-3): same fit, parameters
    transformed, log-likelihood shifted by -n log(1e4) (rtol 1e-6)."""
    data, _ = simulate_extended(600, [0.0, 3.0], [[1.0], [-1.0]], 0.6, random_state=15,
                                gating=[[0.2, 1.0], [-0.2, -1.0]], fixed=[1.5])  # fmt: skip
    W0, U = data.concomitant[:, 1:], data.fixed
    a = fit_em(data.X, data.y, 2, sigma="shared", concomitant=W0, fixed=U, random_state=0,
               n_init=3, tol=1e-12)  # fmt: skip
    b = fit_em(data.X * 1e-3, data.y * 1e4 + 5e4, 2, sigma="shared", concomitant=W0,
               fixed=U * 10.0, random_state=0, n_init=3, tol=1e-12)  # fmt: skip
    assert b.loglik == pytest.approx(a.loglik - 600 * np.log(1e4), rel=1e-8)
    np.testing.assert_allclose(b.coef, a.coef * 1e7, rtol=1e-5)
    np.testing.assert_allclose(b.intercept, a.intercept * 1e4 + 5e4, rtol=1e-6)
    np.testing.assert_allclose(b.fixed_coef, a.fixed_coef * 1e3, rtol=1e-5)
    np.testing.assert_allclose(b.gating_coef, a.gating_coef, atol=1e-5)
    assert b.sigma == pytest.approx(a.sigma * 1e4, rel=1e-6)


def test_summary_and_frame_show_the_new_parameters(all_fit):
    _, res = all_fit
    frame = res.to_frame()
    assert list(frame.index) == res.param_names()
    assert frame.loc["fixed[fixed_x0]", "estimate"] == res.fixed_coef[0]
    assert frame.loc["fixed[fixed_x0]", "se"] == res.standard_errors["fixed"][0]
    assert frame.loc["gating[1,concomitant_x0]", "estimate"] == res.gating_coef[1, 1]
    assert frame.loc["gating[1,concomitant_x0]", "term"] == "gating:concomitant_x0"
    assert "gating:concomitant_x0" in str(res.summary())


def test_given_start_with_extended_parts_is_checked(plain_data):
    X, y = plain_data
    w0 = np.linspace(-1, 1, len(y))
    start = {**_start(), "gating": [[0.0, 0.5], [0.0, -0.5]]}
    res = fit_em(X, y, 2, sigma="shared", concomitant=w0, init=start, n_init=1,
                 compute_se=False)  # fmt: skip
    assert res.starts[0].init == "given"
    with pytest.raises(ValueError, match=r"gating must have shape \(K, q\) = \(2, 2\)"):
        fit_em(X, y, 2, sigma="shared", concomitant=w0, init={**_start(), "gating": [0.0, 1.0]})
    with pytest.raises(ValueError, match="no fixed part"):
        fit_em(X, y, 2, sigma="shared", concomitant=w0, init={**_start(), "fixed": [1.0]})
    with pytest.raises(ValueError, match="unknown keys"):
        fit_em(X, y, 2, sigma="shared", concomitant=w0, init={**_start(), "gamma": 1})
    with pytest.raises(ValueError, match=r"coef must have shape"):
        fit_em(X, y, 2, sigma="shared", concomitant=w0, init={**_start(), "coef": [[1, 2]] * 2})


def test_one_component_is_least_squares():
    """K = 1 with gating, fixed predictors and weights: the weighted least-squares fit, the
    ML sigma, gating 0, and SEs from sigma^2 (Z' V Z)^{-1} (the ML information), to 1e-8."""
    data, _ = simulate_extended(300, [1.0], [[2.0]], 0.5, fixed=[1.5, -1.0], random_state=16)
    v = np.random.default_rng(17).uniform(0.5, 2.0, size=300)
    w0 = np.random.default_rng(18).normal(size=300)
    res = fit_em(data.X, data.y, 1, sigma="shared", concomitant=w0, fixed=data.fixed,
                 weights=v, n_init=2, random_state=0, tol=1e-14)  # fmt: skip
    Z = np.column_stack([np.ones(300), data.X, data.fixed])
    G = (Z * v[:, None]).T @ Z
    beta = np.linalg.solve(G, Z.T @ (v * data.y))
    s2 = np.sum(v * (data.y - Z @ beta) ** 2) / v.sum()
    np.testing.assert_allclose(np.r_[res.intercept, res.coef[0], res.fixed_coef], beta, atol=1e-8)
    assert res.sigma == pytest.approx(np.sqrt(s2), rel=1e-8)
    np.testing.assert_array_equal(res.gating_coef, np.zeros((1, 2)))
    se_beta = np.sqrt(np.diag(s2 * np.linalg.inv(G)))
    se = res.standard_errors
    np.testing.assert_allclose(np.r_[se["intercept"], se["coef"][0], se["fixed"]], se_beta,
                               rtol=1e-6)  # fmt: skip
    assert res.covariance.shape == (len(res.se_names),) * 2
    assert res.n_parameters == 1 + 1 + 2 + 1
