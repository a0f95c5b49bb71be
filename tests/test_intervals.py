"""Interval types of mlrbayes.intervals against known truths and independent references."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from mlrbayes import resample
from mlrbayes.em import fit_em
from mlrbayes.intervals import (
    INTERVAL_COLUMNS,
    INTERVAL_KINDS,
    IntervalWarning,
    confidence_intervals,
    interval_table,
)
from mlrbayes.likelihood import mixture_loglik, pointwise_loglik
from mlrbayes.simulate import simulate
from mlrbayes.uncertainty import observation_scores

TWO = dict(weights=[0.6, 0.4], intercept=[0.0, 4.0], coef=[[1.0], [-1.0]])


@pytest.fixture(scope="module")
def fit2():
    """K=2, shared sigma, n=200, separated lines, fitted to tight tolerance."""
    X, y, _ = simulate(200, **TWO, sigma=1.0, random_state=11)
    em = fit_em(X, y, 2, sigma="shared", n_init=4, tol=1e-13, random_state=0)
    return X, y, em


def _kw(em):
    return {"fit_intercept": em.fit_intercept, "sigma_setting": em.sigma_setting}


def _widths(tab):
    return (tab["upper"] - tab["lower"]).to_numpy()


# ---------------------------------------------------------------------------- scores
def test_scores_sum_to_zero_at_the_mle(fit2):
    X, y, em = fit2
    s = observation_scores(X, y, em.weights, em.intercept, em.coef, em.sigma, **_kw(em))
    assert s.shape == (200, em.n_parameters)
    # the total score vanishes at the maximum: relative to the scores' own spread
    spread = np.sqrt(np.sum(s**2, axis=0))
    assert np.all(np.abs(s.sum(axis=0)) < 1e-5 * spread)


@pytest.mark.parametrize("setting", ["component", "shared", "known"])
def test_scores_match_finite_differences(setting):
    """Central differences of each observation's log-likelihood in the free parametrisation
    (pi_K = 1 - sum of the others), at a point that is not the maximum."""
    X, y, _ = simulate(40, [0.3, 0.3, 0.4], [0.0, 2.0, 5.0], [[1.0], [0.0], [-1.0]], 1.0,
                       random_state=3)  # fmt: skip
    w = np.array([0.25, 0.35, 0.4])
    b = np.array([0.3, 1.5, 4.0])
    c = np.array([[0.8], [0.2], [-0.7]])
    sig = {"component": np.array([0.9, 1.3, 0.7]), "shared": 1.1, "known": 1.1}[setting]
    s = observation_scores(X, y, w, b, c, sig, fit_intercept=True, sigma_setting=setting)

    def pack(w, b, c, sg):
        parts = [w[:2], b, c.ravel()]
        if setting != "known":
            parts.append(np.atleast_1d(sg))
        return np.concatenate(parts)

    def point(theta):
        w_ = np.r_[theta[:2], 1.0 - theta[:2].sum()]
        b_, c_ = theta[2:5], theta[5:8, None]
        sg = theta[8:] if setting == "component" else (theta[8] if setting == "shared" else 1.1)
        return pointwise_loglik(X, y, w_, b_, c_, sg)

    theta = pack(w, b, c, sig)
    h = 1e-6
    fd = np.empty_like(s)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        fd[:, j] = (point(theta + e) - point(theta - e)) / (2 * h)
    np.testing.assert_allclose(s, fd, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------- sandwich
def test_sandwich_of_one_line_is_hc0():
    """K=1: the coefficient block of A^-1 B A^-1 is White's HC0 covariance
    (Z'Z)^-1 Z' diag(r^2) Z (Z'Z)^-1 (A is block diagonal at the MLE)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-2, 2, 80)
    y = 1.0 + 2.0 * x + (0.3 + np.abs(x)) * rng.standard_normal(80)
    X = x[:, None]
    em = fit_em(X, y, 1, sigma="shared", n_init=1, tol=1e-14, random_state=0)
    Z = np.column_stack([np.ones(80), x])
    beta = np.linalg.lstsq(Z, y, rcond=None)[0]
    r = y - Z @ beta
    bread = np.linalg.inv(Z.T @ Z)
    hc0 = bread @ (Z.T * r**2) @ Z @ bread
    tab = confidence_intervals(em, X, y, kind="sandwich", level=0.9)
    z = stats.norm.ppf(0.95)
    se = _widths(tab)[1:3] / (2 * z)
    np.testing.assert_allclose(se, np.sqrt(np.diag(hc0)), rtol=1e-7)
    assert tab["parameter"].tolist() == em.param_names()


def test_sandwich_equals_wald_when_the_model_is_right():
    """Large n, data from the fitted model: the width ratio sandwich/Wald is 1 up to the
    sampling error of the 'meat' (about sqrt(2/n)*kurtosis-ish; tolerance 0.1 at n=4000)."""
    X, y, _ = simulate(4000, **TWO, sigma=1.0, random_state=21)
    em = fit_em(X, y, 2, sigma="shared", n_init=3, tol=1e-12, random_state=0)
    ratio = _widths(confidence_intervals(em, X, y, kind="sandwich")) / _widths(
        confidence_intervals(em, X, y, kind="wald")
    )
    ratio = ratio[1:]  # weights[0] and weights[1] have the same width; keep one
    assert np.all(np.abs(ratio - 1.0) < 0.1), ratio


def test_sandwich_differs_from_wald_under_heteroscedastic_noise():
    """Noise sd 0.2 + |x| (the model says constant): the robust slope SEs are much larger than
    the model-based ones (the large-|x| points are both noisier and more influential)."""
    rng = np.random.default_rng(8)
    n = 4000
    x = rng.uniform(-3, 3, n)
    lab = rng.random(n) < 0.5
    mean = np.where(lab, 0.0 + 1.0 * x, 6.0 - 1.0 * x)
    y = mean + (0.2 + 0.5 * np.abs(x)) * rng.standard_normal(n)
    X = x[:, None]
    em = fit_em(X, y, 2, sigma="shared", n_init=3, tol=1e-12, random_state=0)
    names = em.param_names()
    ratio = _widths(confidence_intervals(em, X, y, kind="sandwich")) / _widths(
        confidence_intervals(em, X, y, kind="wald")
    )
    slopes = [i for i, nm in enumerate(names) if nm.startswith("coef")]
    assert np.all(ratio[slopes] > 1.2), dict(zip(names, ratio, strict=True))


# ---------------------------------------------------------------------------- profile
def _reference_profile(X, y, em, j_fixed, value):
    """Independent max of the log-likelihood with coef[0,x] held at value: L-BFGS-B with
    numerical gradients in the natural parameters (pi_1, b, c_1, sigma), from the MLE."""

    def negll(t):
        w = np.array([t[0], 1.0 - t[0]])
        c = np.array([[value], [t[3]]])
        return -mixture_loglik(X, y, w, t[1:3], c, t[4])

    t0 = np.r_[em.weights[0], em.intercept, em.coef[1, 0], em.sigma]
    bounds = [(1e-6, 1 - 1e-6), (None, None), (None, None), (None, None), (1e-6, None)]
    res = optimize.minimize(negll, t0, method="L-BFGS-B", bounds=bounds,
                            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10000})  # fmt: skip
    return -res.fun


def test_profile_bounds_solve_the_chi2_equation(fit2):
    X, y, em = fit2
    tab = confidence_intervals(em, X, y, kind="profile", level=0.95)
    assert tab["parameter"].tolist() == em.param_names()
    est, lo, hi = (tab[c].to_numpy() for c in ("estimate", "lower", "upper"))
    assert np.all(lo < est) and np.all(est < hi)
    crit = stats.chi2.ppf(0.95, 1)
    ll_hat = mixture_loglik(X, y, em.weights, em.intercept, em.coef, em.sigma)
    j = em.param_names().index("coef[0,x0]")
    for bound in (lo[j], hi[j]):
        ll = _reference_profile(X, y, em, j, bound)
        assert abs(2 * (ll_hat - ll) - crit) < 1e-6
    # intervals close to Wald's in a well-separated design (n=200): within 15% in width
    wald = confidence_intervals(em, kind="wald")
    np.testing.assert_allclose(hi - lo, _widths(wald), rtol=0.15)


def test_profile_of_one_line_with_known_sigma_is_the_exact_interval():
    """K=1, sigma known: 2(l_hat - l_p(beta)) = (beta - beta_hat)^2 / Var(beta_hat) exactly,
    so the profile interval is beta_hat +- z sigma sqrt((Z'Z)^-1_jj)."""
    rng = np.random.default_rng(2)
    n, sigma = 60, 0.7
    X = rng.normal(size=(n, 2))
    y = 1.0 + X @ [2.0, -0.5] + sigma * rng.standard_normal(n)
    em = fit_em(X, y, 1, sigma=sigma, n_init=1, tol=1e-14, random_state=0)
    tab = confidence_intervals(em, X, y, kind="profile", level=0.9)
    Z = np.column_stack([np.ones(n), X])
    beta = np.linalg.lstsq(Z, y, rcond=None)[0]
    half = stats.norm.ppf(0.95) * sigma * np.sqrt(np.diag(np.linalg.inv(Z.T @ Z)))
    np.testing.assert_allclose(tab["lower"].to_numpy()[1:], beta - half, atol=1e-6)
    np.testing.assert_allclose(tab["upper"].to_numpy()[1:], beta + half, atol=1e-6)
    assert tab["lower"].iloc[0] == tab["upper"].iloc[0] == 1.0  # the single weight


def test_profile_sigma_and_weights_stay_in_their_space(fit2):
    X, y, em = fit2
    tab = confidence_intervals(em, X, y, kind="profile").set_index("parameter")
    assert 0 < tab.loc["weights[0]", "lower"] < tab.loc["weights[0]", "upper"] < 1
    # the two weights' intervals mirror each other (w1 = 1 - w0)
    np.testing.assert_allclose(tab.loc["weights[1]", "lower"], 1 - tab.loc["weights[0]", "upper"],
                               atol=1e-6)  # fmt: skip
    assert 0 < tab.loc["sigma", "lower"] < tab.loc["sigma", "estimate"]


# ---------------------------------------------------------------------------- bootstrap
@pytest.fixture(scope="module")
def small():
    X, y, _ = simulate(80, **TWO, sigma=0.8, random_state=4)
    em = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0)
    return X, y, em


def test_bootstrap_reproducible_and_independent_of_n_jobs(small):
    X, y, em = small
    opts = dict(n_boot=10, n_init=2, random_state=7)
    a = confidence_intervals(em, X, y, kind="bootstrap_percentile", n_jobs=1, **opts)
    b = confidence_intervals(em, X, y, kind="bootstrap_percentile", n_jobs=1, **opts)
    c = confidence_intervals(em, X, y, kind="bootstrap_percentile", n_jobs=2, **opts)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    d = confidence_intervals(em, X, y, kind="bootstrap_percentile", n_jobs=1,
                             **{**opts, "random_state": 8})  # fmt: skip
    assert not np.allclose(a["lower"], d["lower"])
    assert np.all(a["lower"] < a["upper"])


def test_bootstrap_of_one_line_matches_normal_theory():
    """K=1, sigma known: beta* ~ N(beta_hat, Var) exactly, so both bootstrap intervals are
    beta_hat +- z SE up to Monte Carlo error: with B=400 the 5% quantile's sd is
    sqrt(.05*.95/400)/phi(1.645) = 0.106 SE; tolerance 0.45 SE (over 4 sd)."""
    rng = np.random.default_rng(12)
    n, sigma = 50, 1.0
    x = rng.uniform(-2, 2, n)
    y = 0.5 + 1.5 * x + sigma * rng.standard_normal(n)
    X = x[:, None]
    em = fit_em(X, y, 1, sigma=sigma, n_init=1, random_state=0)
    se = sigma * np.sqrt(np.diag(np.linalg.inv(np.column_stack([np.ones(n), x]).T
                                               @ np.column_stack([np.ones(n), x]))))  # fmt: skip
    z = stats.norm.ppf(0.95)
    for kind in ("bootstrap_percentile", "bootstrap_bca"):
        tab = confidence_intervals(em, X, y, kind=kind, level=0.9, n_boot=400, n_init=1,
                                   n_jobs=1, random_state=1)  # fmt: skip
        est = tab["estimate"].to_numpy()[1:]
        assert np.all(np.abs(tab["lower"].to_numpy()[1:] - (est - z * se)) < 0.45 * se)
        assert np.all(np.abs(tab["upper"].to_numpy()[1:] - (est + z * se)) < 0.45 * se)


def test_bca_acceleration_shifts_a_skewed_parameter(small):
    """sigma's bootstrap distribution is right-skewed (a scaled chi): BCa and percentile differ,
    and both intervals contain the estimate."""
    X, y, em = small
    opts = dict(n_boot=60, n_init=2, n_jobs=1, random_state=3)
    tabs = interval_table(em, X, y, kinds=("bootstrap_percentile", "bootstrap_bca"), **opts)
    assert len(tabs) == 2 * len(em.param_names())
    sig = tabs[tabs["parameter"] == "sigma"]
    assert np.all(sig["lower"] < sig["estimate"]) and np.all(sig["estimate"] < sig["upper"])
    assert not np.isclose(sig["lower"].iloc[0], sig["lower"].iloc[1])
    # one set of refits served both types: the same as each type alone with the same seed
    alone = confidence_intervals(em, X, y, kind="bootstrap_bca", **opts)
    pd.testing.assert_frame_equal(tabs.iloc[len(alone) :].reset_index(drop=True), alone)


def test_profile_survives_a_multimodal_profile():
    """A data set of the overlapping design whose profile of intercept[0] has several local
    maxima: the bracketing values are memoised (brentq once failed with 'f(a) and f(b) must
    have different signs' when a re-evaluation landed on another local maximum)."""
    truth = SimpleNamespace(n_components=2, weights=np.array([0.6, 0.4]),
                            intercept=np.array([0.0, 1.2]), coef=np.array([[1.0], [0.5]]),
                            sigma=1.0)  # fmt: skip
    X, y, _ = simulate(150, [0.6, 0.4], [0.0, 1.2], [[1.0], [0.5]], 1.0, random_state=1002)
    em = fit_em(X, y, 2, sigma="shared", n_init=10, random_state=1002)
    em = resample.permute_result(em, resample.align_to(em, truth))
    with pytest.warns(IntervalWarning, match="swapped roles"):
        tab = confidence_intervals(em, X, y, kind="profile")
    assert np.all(np.isfinite(tab[["lower", "upper"]].to_numpy()))
    assert np.all(tab["lower"] < tab["estimate"]) and np.all(tab["estimate"] < tab["upper"])


def test_profile_warns_when_a_bound_reaches_the_relabelled_solution():
    """Overlapping lines (the issue's design, n=150): the profile of a slope runs into the
    region where the two components have swapped roles; the bound says so."""
    X, y, _ = simulate(150, [0.6, 0.4], [0.0, 1.2], [[1.0], [0.5]], 1.0, random_state=5)
    em = fit_em(X, y, 2, sigma="shared", random_state=0)
    with pytest.warns(IntervalWarning, match=r"lies where the components have swapped roles"):
        tab = confidence_intervals(em, X, y, kind="profile")
    assert np.all(tab["lower"] <= tab["estimate"]) and np.all(tab["estimate"] <= tab["upper"])


def test_bca_of_sigma_matches_the_exact_chi2_interval():
    """K=1, shared sigma, n=25: the exact 90% interval is sqrt(RSS / chi2_{n-2}(.95, .05)).
    The ML sigma is biased down and its distribution skewed, so the percentile interval is
    off by about 0.15 at both ends, while BCa (bias correction + acceleration from the
    scores) is second-order right. B=600: the 5%/95% quantiles' Monte Carlo sd is about
    0.014 here; tolerance 0.06."""
    rng = np.random.default_rng(3)
    n = 25
    x = np.linspace(-1, 1, n)[:, None]
    y = 1 + 2 * x[:, 0] + rng.standard_normal(n)
    em = fit_em(x, y, 1, sigma="shared", n_init=1, random_state=0)
    exact = np.sqrt(n * em.sigma**2 / stats.chi2.ppf([0.95, 0.05], n - 2))
    tab = interval_table(em, x, y, kinds=("bootstrap_percentile", "bootstrap_bca"), level=0.9,
                         n_boot=600, n_init=1, n_jobs=1, random_state=0)  # fmt: skip
    sig = tab[tab["parameter"] == "sigma"].set_index("interval")
    np.testing.assert_allclose(sig.loc["bootstrap_bca", ["lower", "upper"]].to_numpy(float),
                               exact, atol=0.06)  # fmt: skip
    perc = sig.loc["bootstrap_percentile", ["lower", "upper"]].to_numpy(float)
    assert np.all(np.abs(perc - exact) > 0.1)


def test_bca_refuses_an_acceleration_that_wraps_the_level(small, monkeypatch):
    """With a * (z0 + z_alpha) >= 1 the BCa level formula wraps round (a large upper level
    maps to a small quantile); those bounds must be NaN with a warning, not wrong."""
    from mlrbayes import intervals

    X, y, em = small
    monkeypatch.setattr(intervals, "_acceleration", lambda em, data: np.full(7, 2.0))
    with pytest.warns(IntervalWarning, match=r"the BCa bounds of \['weights\[0\]'.* are NaN"):
        tab = confidence_intervals(em, X, y, kind="bootstrap_bca", n_boot=12, n_init=1,
                                   n_jobs=1, random_state=0)  # fmt: skip
    assert tab["upper"].isna().all()


def test_failed_refits_are_counted_and_excluded(small, monkeypatch):
    X, y, em = small
    real = resample.refit
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] % 4 == 0:
            raise ValueError("simulated failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(resample, "refit", flaky)
    with pytest.warns(IntervalWarning, match=r"4 of 16 bootstrap refits failed and were "
                                             r"excluded \(4 error \(ValueError\)\)"):  # fmt: skip
        tab = confidence_intervals(em, X, y, kind="bootstrap_percentile", n_boot=16,
                                   n_init=1, n_jobs=1, random_state=0)  # fmt: skip
    assert np.all(np.isfinite(tab["lower"]))


# ---------------------------------------------------------------------------- sigma df
def test_wald_df_sigma_is_unbiased_for_one_line():
    """K=1, shared sigma, n=12, q=2: E[sigma_hat^2] = sigma^2 * 10/12 while the corrected
    estimate's square is unbiased. 400 replications; MC error of the mean of s^2/sigma^2 is
    sqrt(2/10/400) = 0.022: tolerance 3 MC errors."""
    rng = np.random.default_rng(30)
    x = np.linspace(-1, 1, 12)[:, None]
    raw, corrected = [], []
    for _ in range(400):
        y = 2.0 - x[:, 0] + rng.standard_normal(12)
        em = fit_em(x, y, 1, sigma="shared", n_init=1, compute_se=True, random_state=0)
        tab = confidence_intervals(em, kind="wald_df").set_index("parameter")
        raw.append(em.sigma**2)
        corrected.append(tab.loc["sigma", "estimate"] ** 2)
    assert abs(np.mean(corrected) - 1.0) < 3 * 0.022
    assert abs(np.mean(raw) - 10 / 12) < 3 * 0.022 * 10 / 12


def test_wald_df_changes_only_sigma(fit2):
    _, _, em = fit2
    w = confidence_intervals(em, kind="wald")
    d = confidence_intervals(em, kind="wald_df")
    assert (d["interval"] == "wald_df").all()
    pd.testing.assert_frame_equal(w.iloc[:-1, 2:], d.iloc[:-1, 2:])
    factor = np.sqrt(200 / (200 - 4))
    cols = ["estimate", "lower", "upper"]
    np.testing.assert_allclose(
        d.iloc[-1][cols].to_numpy(float), w.iloc[-1][cols].to_numpy(float) * factor
    )


# ---------------------------------------------------------------------------- table and errors
def test_interval_table_concatenates_the_types(fit2):
    X, y, em = fit2
    tab = interval_table(em, X, y, kinds=("wald", "sandwich"), level=0.8)
    assert list(tab.columns) == list(INTERVAL_COLUMNS)
    assert tab["interval"].tolist() == ["wald"] * 7 + ["sandwich"] * 7
    assert (tab["level"] == 0.8).all()
    pd.testing.assert_frame_equal(
        tab.iloc[:7].reset_index(drop=True), confidence_intervals(em, kind="wald", level=0.8)
    )


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (dict(kind="robust"), ValueError, r"kind='robust' is not one of \['wald'"),
        (dict(level=1.5), ValueError, r"level=1.5 is not in \(0, 1\)"),
        (dict(level="high"), TypeError, r"level must be a number"),
        (dict(kind="wald", n_boot=10), TypeError, r"kind='wald' does not take \['n_boot'\]"),
        (dict(kind="sandwich", X=None), ValueError, r"needs the data the model was fitted to"),
        (dict(kind="bootstrap_percentile", n_boot=1), ValueError, r"n_boot must be an integer"),
        (dict(kind="bootstrap_bca", n_jobs=0), ValueError, r"n_jobs must be -1"),
    ],
)
def test_bad_input_gives_one_clear_error(fit2, call, err, match):
    X, y, em = fit2
    kwargs = dict(call)
    data = kwargs.pop("X", X)
    with pytest.raises(err, match=match):
        confidence_intervals(em, data, None if data is None else y, **kwargs)


def test_wrong_data_is_refused(fit2):
    X, y, em = fit2
    with pytest.raises(ValueError, match=r"the data have shape \(100, 1\) but the fit"):
        confidence_intervals(em, X[:100], y[:100], kind="sandwich")
    with pytest.raises(ValueError, match=r"kind='nope' is not one of"):
        interval_table(em, X, y, kinds=("wald", "nope"))
    with pytest.raises(TypeError, match=r"no interval type in \['wald'\] takes \['n_boot'\]"):
        interval_table(em, X, y, kinds=("wald",), n_boot=5)


def test_every_kind_is_covered():
    assert set(INTERVAL_KINDS) == {
        "wald", "wald_df", "sandwich", "bootstrap_percentile", "bootstrap_bca", "profile",
    }  # fmt: skip
