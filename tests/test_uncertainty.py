"""Louis (1982) observed information against finite differences and closed forms."""

import numpy as np
import pytest

from mlrbayes import simulate
from mlrbayes.likelihood import mixture_loglik
from mlrbayes.uncertainty import (
    SingularInformationWarning,
    free_param_names,
    observed_information,
    standard_errors,
)

SETTINGS = [(fi, ss) for fi in (True, False) for ss in ("known", "shared", "component")]


# ------------------------------------------------------------------------ independent reference
def _pack(w, b, c, s, fit_intercept, sigma_setting):
    """Free-parameter vector in the documented order."""
    parts = [np.asarray(w)[:-1]]
    if fit_intercept:
        parts.append(b)
    parts.append(np.ravel(c))
    if sigma_setting != "known":
        parts.append(np.atleast_1d(s))
    return np.concatenate(parts).astype(float)


def _unpack(theta, k, p, fit_intercept, sigma_setting, sigma_known):
    """Batched inverse of _pack: theta of shape (m, d) -> parameters with a leading (m,)."""
    m = theta.shape[0]
    w = np.concatenate([theta[:, : k - 1], 1 - theta[:, : k - 1].sum(1, keepdims=True)], 1)
    pos = k - 1
    if fit_intercept:
        b = theta[:, pos : pos + k]
        pos += k
    else:
        b = np.zeros((m, k))
    c = theta[:, pos : pos + k * p].reshape(m, k, p)
    pos += k * p
    if sigma_setting == "shared":
        s = theta[:, pos : pos + 1]
    elif sigma_setting == "component":
        s = theta[:, pos : pos + k]
    else:
        s = np.broadcast_to(np.asarray(sigma_known, dtype=float), (m, k))
    return w, b, c, s


def _fd_hessian(X, y, theta, k, p, fit_intercept, sigma_setting, sigma_known):
    """Central-difference Hessian of the marginal log-likelihood (4-point stencil)."""
    d = theta.size
    h = 1e-4 * np.maximum(1.0, np.abs(theta))
    E = np.diag(h)
    signs = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    pts = np.array(
        [theta + sa * E[a] + sb * E[b] for a in range(d) for b in range(d) for sa, sb in signs]
    )
    f = mixture_loglik(X, y, *_unpack(pts, k, p, fit_intercept, sigma_setting, sigma_known))
    v = np.asarray(f).reshape(d, d, 4)
    return (v[..., 0] - v[..., 1] - v[..., 2] + v[..., 3]) / (4 * np.outer(h, h))


def _data(k, fit_intercept, random_state):
    w = np.array([0.3, 0.7]) if k == 2 else np.array([0.25, 0.35, 0.4])
    b = np.array([0.0, 4.0, -4.0][:k]) if fit_intercept else np.zeros(k)
    c = np.array([[1.5, 0.5], [-1.0, 0.2], [0.3, -1.2]][:k])
    s = np.array([0.6, 0.9, 0.5][:k])
    X, y, _ = simulate(300, w, b, c, s, random_state=random_state)
    return X, y, w, b, c, s


# ------------------------------------------------------------------------ the information matrix
@pytest.mark.parametrize(("fit_intercept", "sigma_setting"), SETTINGS)
@pytest.mark.parametrize("k", [2, 3])
def test_information_equals_minus_fd_hessian_anywhere(k, fit_intercept, sigma_setting):
    """Louis' identity holds at every parameter value, not only at the maximum."""
    X, y, w, b, c, s = _data(k, fit_intercept, random_state=10 + k)
    # a point away from the truth and from the MLE
    w = (w + 0.05) / (w + 0.05).sum()
    b = b + 0.2 if fit_intercept else b
    c = c * 0.9
    s = {"known": 0.8, "shared": 0.8, "component": s * 1.1}[sigma_setting]
    info = observed_information(
        X, y, w, b, c, s, fit_intercept=fit_intercept, sigma_setting=sigma_setting
    )
    theta = _pack(w, b, c, s, fit_intercept, sigma_setting)
    H = _fd_hessian(X, y, theta, k, 2, fit_intercept, sigma_setting, s)
    assert info.shape == H.shape == (theta.size, theta.size)
    np.testing.assert_allclose(info, -H, rtol=0, atol=1e-5 * np.abs(H).max())
    np.testing.assert_allclose(info, info.T, rtol=1e-12, atol=1e-9)


def test_chunked_accumulation_matches_one_block(monkeypatch):
    import mlrbayes.uncertainty as U

    X, y, w, b, c, s = _data(3, True, random_state=4)
    full = observed_information(X, y, w, b, c, s, sigma_setting="component")
    monkeypatch.setattr(U, "_CHUNK", 7)
    chunked = observed_information(X, y, w, b, c, s, sigma_setting="component")
    np.testing.assert_allclose(chunked, full, rtol=1e-11, atol=1e-9)


# ----------------------------------------------------------------------------- closed forms, K = 1
def test_single_component_known_sigma_is_ols():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2))
    y = 1.0 + X @ [2.0, -1.0] + 0.5 * rng.normal(size=80)
    Z = np.column_stack([np.ones(80), X])
    beta = np.linalg.lstsq(Z, y, rcond=None)[0]
    cov, names, se = standard_errors(
        X, y, [1.0], beta[:1], beta[None, 1:], 0.5, feature_names=["a", "b"]
    )
    assert names == ["intercept[0]", "coef[0,a]", "coef[0,b]"]
    ols_cov = 0.25 * np.linalg.inv(Z.T @ Z)
    np.testing.assert_allclose(cov, ols_cov, rtol=1e-10)
    np.testing.assert_allclose(se["intercept"], np.sqrt(ols_cov[0, 0]), rtol=1e-10)
    np.testing.assert_allclose(se["coef"][0], np.sqrt(np.diag(ols_cov)[1:]), rtol=1e-10)
    np.testing.assert_array_equal(se["weights"], [0.0])
    assert "sigma" not in se


def test_single_component_shared_sigma_closed_form():
    """At the Gaussian MLE the sigma SE is sigma / sqrt(2 n), independent of the slopes."""
    rng = np.random.default_rng(2)
    n = 120
    X = rng.normal(size=(n, 1))
    y = -2.0 + 3.0 * X[:, 0] + 1.5 * rng.normal(size=n)
    Z = np.column_stack([np.ones(n), X])
    beta = np.linalg.lstsq(Z, y, rcond=None)[0]
    sig = np.sqrt(np.mean((y - Z @ beta) ** 2))
    cov, _, se = standard_errors(X, y, [1.0], beta[:1], beta[None, 1:], sig, sigma_setting="shared")
    assert se["sigma"] == pytest.approx(sig / np.sqrt(2 * n), rel=1e-10)
    np.testing.assert_allclose(cov[:2, :2], sig**2 * np.linalg.inv(Z.T @ Z), rtol=1e-10)
    np.testing.assert_allclose(cov[:2, 2], 0.0, atol=1e-12)


# ----------------------------------------------------------------------------- the returned pieces
def test_names_and_delta_method_for_last_weight():
    X, y, w, b, c, s = _data(3, True, random_state=5)
    cov, names, se = standard_errors(
        X, y, w, b, c, s, sigma_setting="component", feature_names=["u", "v"]
    )
    assert names == free_param_names(3, ["u", "v"], sigma_setting="component")
    assert names[:3] == ["weights[0]", "weights[1]", "intercept[0]"]
    assert names[-3:] == ["sigma[0]", "sigma[1]", "sigma[2]"]
    assert cov.shape == (len(names), len(names))
    assert se["weights"][2] == pytest.approx(np.sqrt(cov[:2, :2].sum()), rel=1e-12)
    np.testing.assert_allclose(se["weights"][:2], np.sqrt(np.diag(cov)[:2]), rtol=1e-12)
    assert se["coef"].shape == (3, 2)
    assert se["sigma"].shape == (3,)
    assert np.all(np.isfinite(se["coef"]))


def test_no_intercept_key_without_intercept():
    X, y, w, b, c, _ = _data(2, False, random_state=6)
    _, names, se = standard_errors(X, y, w, b, c, 0.7, fit_intercept=False, sigma_setting="shared")
    assert "intercept" not in se
    assert not any(n.startswith("intercept") for n in names)
    assert isinstance(se["sigma"], float)


def test_emptied_component_warns_and_gives_nan():
    X, y, _, b, c, _ = _data(2, True, random_state=7)
    with pytest.warns(SingularInformationWarning, match="infinite or undefined"):
        cov, names, se = standard_errors(X, y, [1.0, 0.0], b, c, 0.7, sigma_setting="shared")
    assert cov is None
    assert len(names) == 1 + 2 + 4 + 1
    assert np.all(np.isnan(se["coef"])) and np.isnan(se["sigma"])
    assert np.all(np.isnan(se["weights"]))


def test_identical_components_are_singular():
    """Two copies of the single-line MLE: the split between their weights is not identified."""
    X, y, *_ = _data(2, True, random_state=8)
    Z = np.column_stack([np.ones(len(y)), X])
    beta = np.linalg.lstsq(Z, y, rcond=None)[0]
    sig = np.sqrt(np.mean((y - Z @ beta) ** 2))
    with pytest.warns(SingularInformationWarning, match="singular or not positive definite"):
        cov, _, se = standard_errors(
            X, y, [0.5, 0.5], [beta[0]] * 2, [beta[1:]] * 2, sig, sigma_setting="shared"
        )
    assert cov is None and np.all(np.isnan(se["intercept"]))


def test_bad_arguments_name_the_value():
    X, y, w, b, c, s = _data(2, True, random_state=9)
    with pytest.raises(ValueError, match="sigma_setting='fixed'"):
        standard_errors(X, y, w, b, c, s, sigma_setting="fixed")
    with pytest.raises(ValueError, match="feature_names has 1 entries"):
        standard_errors(X, y, w, b, c, s, feature_names=["a"])
    with pytest.raises(ValueError, match="coef has 3 columns"):
        standard_errors(X, y, w, b, np.ones((2, 3)), s)
    with pytest.raises(ValueError, match="fit_intercept=False"):
        standard_errors(X, y, w, [1.0, 2.0], c, s, fit_intercept=False)
    with pytest.raises(ValueError, match="single sigma"):
        standard_errors(X, y, w, b, c, [1.0, 2.0], sigma_setting="shared")


# ----------------------------------------------------------------------------- at the EM estimate
@pytest.mark.parametrize(("fit_intercept", "sigma_setting"), SETTINGS)
def test_standard_errors_at_fit_em_mle_match_fd_hessian(fit_intercept, sigma_setting):
    from mlrbayes.em import fit_em

    b = [0.0, 4.0] if fit_intercept else [0.0, 0.0]
    c = [[1.5, 0.5], [-1.0, 0.2]]
    s = [0.6, 0.9] if sigma_setting == "component" else 0.7
    X, y, _ = simulate(400, [0.35, 0.65], b, c, s, random_state=21)
    sigma_arg = 0.7 if sigma_setting == "known" else sigma_setting
    res = fit_em(
        X, y, 2, sigma=sigma_arg, fit_intercept=fit_intercept, n_init=3, tol=1e-12, random_state=0
    )
    assert res.converged and not res.degenerate
    theta = _pack(res.weights, res.intercept, res.coef, res.sigma, fit_intercept, sigma_setting)
    H = _fd_hessian(X, y, theta, 2, 2, fit_intercept, sigma_setting, 0.7)
    fd_cov = np.linalg.inv(-H)
    assert res.covariance is not None
    np.testing.assert_allclose(res.covariance, fd_cov, rtol=1e-3, atol=1e-3 * np.abs(fd_cov).max())
    fd_se = np.sqrt(np.diag(fd_cov))
    cov, names, se = standard_errors(
        X,
        y,
        res.weights,
        res.intercept,
        res.coef,
        res.sigma,
        fit_intercept=fit_intercept,
        sigma_setting=sigma_setting,
    )
    assert names == res.se_names
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), fd_se, rtol=1e-3)
    coef_idx = [names.index(f"coef[{k},x{f}]") for k in range(2) for f in range(2)]
    np.testing.assert_allclose(se["coef"].ravel(), fd_se[coef_idx], rtol=1e-3)
    if sigma_setting != "known":
        sig_idx = [i for i, name in enumerate(names) if name.startswith("sigma")]
        np.testing.assert_allclose(np.atleast_1d(se["sigma"]), fd_se[sig_idx], rtol=1e-3)
    # a maximum: the finite-difference curvature is negative definite
    assert np.all(np.linalg.eigvalsh(-H) > 0)


def test_standard_errors_match_parametric_bootstrap_spread():
    """Sanity check of scale: SEs vs the sd of EM estimates over 120 simulated data sets."""
    from mlrbayes.em import fit_em

    w, b, c, s = [0.4, 0.6], [0.0, 3.0], [[1.0], [-1.0]], 0.6
    X, y, _ = simulate(250, w, b, c, s, random_state=30)
    res = fit_em(X, y, 2, sigma="shared", n_init=2, random_state=0)
    order = np.argsort(res.intercept)
    est = []
    rng = np.random.default_rng(31)
    for _ in range(120):
        yb, _ = res.sample(X, random_state=rng)
        rb = fit_em(X, yb, 2, sigma="shared", n_init=2, random_state=rng)
        o = np.argsort(rb.intercept)
        est.append(np.r_[rb.weights[o], rb.intercept[o], rb.coef[o, 0], rb.sigma])
    spread = np.std(est, axis=0, ddof=1)
    se = res.standard_errors
    louis = np.r_[se["weights"][order], se["intercept"][order], se["coef"][order, 0], se["sigma"]]
    # 120 replicates estimate an sd to about 7 %; allow 25 %
    np.testing.assert_allclose(spread, louis, rtol=0.25)


@pytest.mark.parametrize("scale", [1e8, 1e-6])
def test_standard_errors_are_scale_equivariant(scale):
    """y in other units: SEs of b, c, sigma scale with it, SEs of the weights do not."""
    X, y, _ = simulate(300, [0.4, 0.6], [0.0, 5.0], [[1.0], [-1.0]], 0.3, random_state=0)
    w, b, c, s = [0.4, 0.6], np.array([0.05, 4.9]), np.array([[1.02], [-0.98]]), 0.31
    _, _, ref = standard_errors(X, y, w, b, c, s, sigma_setting="shared")
    _, _, out = standard_errors(
        X, y * scale, w, b * scale, c * scale, s * scale, sigma_setting="shared"
    )
    np.testing.assert_allclose(out["weights"], ref["weights"], rtol=1e-8)
    np.testing.assert_allclose(out["intercept"], ref["intercept"] * scale, rtol=1e-8)
    np.testing.assert_allclose(out["coef"], ref["coef"] * scale, rtol=1e-8)
    assert out["sigma"] == pytest.approx(ref["sigma"] * scale, rel=1e-8)


def test_standard_errors_of_a_dataset_equal_those_of_arrays():
    from mlrbayes.spec import as_dataset

    X, y, _ = simulate(300, [0.4, 0.6], [0.0, 5.0], [[1.0], [-1.0]], 0.3, random_state=0)
    w, b, c, s = [0.4, 0.6], [0.05, 4.9], [[1.02], [-0.98]], 0.31
    ref = standard_errors(X, y, w, b, c, s, sigma_setting="shared")
    out = standard_errors(as_dataset(X, y), None, w, b, c, s, sigma_setting="shared")
    np.testing.assert_array_equal(out[0], ref[0])
    assert out[1] == ref[1]


def test_standard_errors_of_a_fitted_result_match_the_array_call():
    from mlrbayes.em import fit_em

    X, y, _ = simulate(300, [0.6, 0.4], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=8)
    res = fit_em(X, y, 2, sigma="component", n_init=3, random_state=0)
    cov, names, se = standard_errors(X, y, res)
    ref_cov, ref_names, _ = standard_errors(X, y, res.weights, res.intercept, res.coef, res.sigma,
                                            sigma_setting="component")  # fmt: skip
    assert names == ref_names == res.se_names
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-12)
    np.testing.assert_allclose(cov, res.covariance, rtol=1e-8)
    np.testing.assert_allclose(se["sigma"], res.standard_errors["sigma"], rtol=1e-8)
