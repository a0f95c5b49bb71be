"""MixtureRegressionEM: parameters, fitted attributes and methods against independent formulas."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

from mlrbayes import simulate
from mlrbayes.em import fit_em
from mlrbayes.estimator import MixtureRegressionEM, NotFittedError

TRUE = {
    "weights": np.array([0.35, 0.65]),
    "intercept": np.array([-2.0, 3.0]),
    "coef": np.array([[1.5, -0.5], [-1.0, 0.75]]),
    "sigma": 0.4,
}


@pytest.fixture(scope="module")
def data():
    X, y, z = simulate(
        400, TRUE["weights"], TRUE["intercept"], TRUE["coef"], TRUE["sigma"], random_state=5
    )
    return pd.DataFrame(X, columns=["dose", "age"]), pd.Series(y, name="response"), z


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _ = data
    return MixtureRegressionEM(2, n_init=4, random_state=3).fit(X, y)


def _reference_logpdf(X, y, w, b, c, s):
    """log pi_k + log N(y | b_k + c_k x, s_k^2) by scipy.stats, shape (n, K)."""
    s = np.broadcast_to(s, w.shape)
    return np.column_stack(
        [np.log(w[k]) + stats.norm.logpdf(y, b[k] + X @ c[k], s[k]) for k in range(len(w))]
    )


def test_params_are_stored_untouched_and_settable():
    m = MixtureRegressionEM(3, sigma=0.5, n_init=2, tol=1e-6, random_state=7)
    assert m.get_params() == {
        "n_components": 3,
        "sigma": 0.5,
        "fit_intercept": True,
        "n_init": 2,
        "init": "auto",
        "tol": 1e-6,
        "max_iter": 1000,
        "random_state": 7,
        "order": "weight",
    }
    clone = MixtureRegressionEM(**m.get_params())
    assert clone.get_params() == m.get_params()
    assert m.set_params(n_components=2, sigma="component") is m
    assert m.n_components == 2 and m.sigma == "component"
    with pytest.raises(ValueError, match=r"'n_comp' is not a parameter .*\['n_components', 'sig"):
        m.set_params(n_comp=2)
    assert repr(m) == (
        "MixtureRegressionEM(n_components=2, sigma='component', n_init=2, tol=1e-06, "
        "random_state=7)"
    )
    # invalid values are only checked at fit time, by fit_em
    bad = MixtureRegressionEM(0)
    with pytest.raises(ValueError, match="n_components must be >= 1; got 0"):
        bad.fit(np.ones((5, 1)), np.ones(5))


def test_not_fitted_errors_are_clear(data):
    X, y, _ = data
    m = MixtureRegressionEM()
    for call in (
        lambda: m.predict(X),
        lambda: m.predict_proba(X),
        lambda: m.membership(X, y),
        lambda: m.predict_components(X),
        lambda: m.predict_interval(X),
        lambda: m.score(X, y),
        lambda: m.sample(X),
        lambda: m.aic(),
        lambda: m.bic(X, y),
        lambda: m.icl(),
    ):
        with pytest.raises(NotFittedError, match=r"not fitted yet; call fit\(X, y\)"):
            call()
    assert not hasattr(m, "weights_")


def test_attributes_equal_fit_em_and_recover_truth(data, fitted):
    X, y, _ = data
    ref = fit_em(X, y, 2, sigma="shared", n_init=4, random_state=3)
    m = fitted
    np.testing.assert_array_equal(m.weights_, ref.weights)
    np.testing.assert_array_equal(m.intercept_, ref.intercept)
    np.testing.assert_array_equal(m.coef_, ref.coef)
    assert m.sigma_ == ref.sigma and m.loglik_ == ref.loglik
    assert m.converged_ is True and m.n_iter_ == ref.n_iter
    np.testing.assert_array_equal(m.responsibilities_, ref.responsibilities)
    assert m.standard_errors_.keys() == {"weights", "intercept", "coef", "sigma"}
    assert list(m.feature_names_in_) == ["dose", "age"] and m.n_features_in_ == 2
    assert m.result_.target_name == "response"
    # recovery up to label order, within ~4 standard errors
    o = np.argsort(m.intercept_)
    se = m.standard_errors_
    assert np.all(np.abs(m.weights_[o] - TRUE["weights"]) < 4 * se["weights"][o])
    assert np.all(np.abs(m.intercept_[o] - TRUE["intercept"]) < 4 * se["intercept"][o])
    assert np.all(np.abs(m.coef_[o] - TRUE["coef"]) < 4 * se["coef"][o])
    assert abs(m.sigma_ - TRUE["sigma"]) < 4 * se["sigma"]


def test_predictions_against_independent_formulas(data, fitted):
    X, y, _ = data
    m = fitted
    Xa, ya = X.to_numpy()[:50], y.to_numpy()[:50]
    w, b, c, s = m.weights_, m.intercept_, m.coef_, m.sigma_
    mean = sum(w[k] * (b[k] + Xa @ c[k]) for k in range(2))
    np.testing.assert_allclose(m.predict(X.iloc[:50]), mean, rtol=1e-12)
    joint = _reference_logpdf(Xa, ya, w, b, c, s)
    resp = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    np.testing.assert_allclose(m.membership(X.iloc[:50], y.iloc[:50]), resp, atol=1e-12)
    np.testing.assert_allclose(m.membership(X, y), m.responsibilities_, atol=1e-12)
    ll = logsumexp(joint, axis=1)
    assert m.score(X.iloc[:50], y.iloc[:50]) == pytest.approx(ll.mean(), rel=1e-12)
    # criteria: on the training data they equal the result's; on new data the formulas
    assert m.aic() == pytest.approx(m.result_.aic, rel=1e-12)
    assert m.bic() == pytest.approx(m.result_.bic, rel=1e-12)
    assert m.icl() == m.result_.icl
    d = 2 - 1 + 2 + 4 + 1
    log_resp = joint - logsumexp(joint, axis=1, keepdims=True)  # finite where resp underflows
    ent = -np.sum(resp * log_resp)
    Xf, yf = X.iloc[:50], y.iloc[:50]
    assert m.icl(Xf, yf) == pytest.approx(-2 * ll.sum() + d * np.log(50) + 2 * ent, rel=1e-12)
    assert m.aic(Xf, yf) == pytest.approx(-2 * ll.sum() + 2 * d, rel=1e-12)
    assert m.bic(Xf, yf) == pytest.approx(-2 * ll.sum() + d * np.log(50), rel=1e-12)
    with pytest.raises(ValueError, match="pass both X and y"):
        m.aic(Xf)


def test_sample_is_reproducible_and_follows_the_fit(data, fitted):
    X, _, _ = data
    m = fitted
    Xbig = pd.concat([X] * 10, ignore_index=True)
    y1, z1 = m.sample(Xbig, random_state=9)
    y2, z2 = m.sample(Xbig, random_state=9)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(z1, z2)
    assert y1.shape == z1.shape == (4000,)
    # label frequencies ~ weights (binomial sd ~ 0.008) and residuals ~ N(0, sigma)
    np.testing.assert_allclose(np.bincount(z1, minlength=2) / 4000, m.weights_, atol=0.03)
    mu = m.intercept_[z1] + np.einsum("ij,ij->i", Xbig.to_numpy(), m.coef_[z1])
    resid = y1 - mu
    assert abs(resid.mean()) < 0.03
    assert np.std(resid) == pytest.approx(m.sigma_, rel=0.05)


def test_column_checks(data, fitted):
    """scikit-learn's rules: names in the same order, the same number of columns; a plain
    array is accepted by position, with scikit-learn's warning that it has no names."""
    X, _, _ = data
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        fitted.predict(X[["age", "dose"]])
    with pytest.raises(ValueError, match="Feature names seen at fit time, yet now missing:\n- age"):
        fitted.predict(X[["dose"]])
    with (
        pytest.warns(UserWarning, match="X does not have valid feature names"),
        pytest.raises(ValueError, match="X has 1 features, but MixtureRegressionEM is expecting 2"),
    ):
        fitted.predict(np.ones((3, 1)))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        by_position = fitted.predict(X.to_numpy()[:5])
    np.testing.assert_allclose(by_position, fitted.predict(X.iloc[:5]))


def test_known_sigma_and_no_intercept():
    X, y, _ = simulate(300, [0.5, 0.5], [0.0, 0.0], [[2.0], [-2.0]], 0.3, random_state=8)
    m = MixtureRegressionEM(2, sigma=0.3, fit_intercept=False, n_init=3, random_state=0)
    m.fit(X, y)
    assert m.sigma_ == 0.3
    np.testing.assert_array_equal(m.intercept_, [0.0, 0.0])
    assert "sigma" not in m.standard_errors_ and "intercept" not in m.standard_errors_
    np.testing.assert_allclose(np.sort(m.coef_[:, 0]), [-2.0, 2.0], atol=0.1)
    assert m.result_.feature_names == ["x0"] and not hasattr(m, "feature_names_in_")


def test_fit_and_score_a_dataset(data, monkeypatch):
    import mlrbayes.spec as spec

    X, y, _ = data
    ref = MixtureRegressionEM(2, random_state=0).fit(X, y)
    ds = spec.as_dataset(X, y)
    ref_score, ref_aic = ref.score(X, y), ref.aic()

    def fail(*args):
        raise AssertionError("a Dataset was checked again")

    monkeypatch.setattr(spec, "check_X_y", fail)
    m = MixtureRegressionEM(2, random_state=0).fit(ds)
    np.testing.assert_array_equal(m.coef_, ref.coef_)
    assert list(m.feature_names_in_) == list(ref.feature_names_in_)
    assert m.score(ds) == pytest.approx(ref_score, rel=1e-12)
    assert m.aic(ds) == pytest.approx(ref_aic, rel=1e-12)
