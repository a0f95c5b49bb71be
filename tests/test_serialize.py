"""EMResult -> dict -> JSON text -> dict -> EMResult must give back the same result."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from mlrbayes import simulate
from mlrbayes.em import EMResult, Optimum, StartResult
from mlrbayes.likelihood import mixture_loglik, responsibilities
from mlrbayes.serialize import em_from_dict, em_to_dict
from mlrbayes.uncertainty import standard_errors


def _hand_result(sigma_setting="component", fit_intercept=True, singular=False):
    """An EMResult assembled by hand (no EM run), with two starts reaching two optima."""
    w = np.array([0.4, 0.6])
    b = np.array([1.0, -2.0]) if fit_intercept else np.zeros(2)
    c = np.array([[0.5, 1.5], [-1.0, 0.25]])
    s = {"known": 0.8, "shared": 0.8, "component": np.array([0.7, 0.9])}[sigma_setting]
    X, y, _ = simulate(60, w, b, c, s, random_state=3)
    names = ["height", "width"]
    ll = mixture_loglik(X, y, w, b, c, np.broadcast_to(s, (2,)))
    w2, b2 = w[::-1].copy(), b + 0.3
    ll2 = mixture_loglik(X, y, w2, b2, c, np.broadcast_to(s, (2,)))
    if singular:
        cov, se_names, se = None, ["weights[0]"], {"weights": np.full(2, np.nan)}
    else:
        cov, se_names, se = standard_errors(
            X,
            y,
            w,
            b,
            c,
            s,
            fit_intercept=fit_intercept,
            sigma_setting=sigma_setting,
            feature_names=names,
        )
    starts = (
        StartResult(0, "binned", ll, w, b, c, s, 12, True, False, optimum=0),
        StartResult(1, "random", ll2, w2, b2, c, s, 500, False, True, optimum=1),
        StartResult(2, "random", ll, w, b, c, s, 9, True, False, optimum=0),
    )
    optima = (
        Optimum(ll, w, b, c, s, 2, (0, 2), False),
        Optimum(ll2, w2, b2, c, s, 1, (1,), True),
    )
    res = EMResult(
        weights=w,
        intercept=b,
        coef=c,
        sigma=s,
        sigma_setting=sigma_setting,
        loglik=ll,
        loglik_trace=np.array([ll - 3.0, ll - 0.1, ll]),
        n_iter=12,
        converged=True,
        degenerate=False,
        responsibilities=responsibilities(X, y, w, b, c, np.broadcast_to(s, (2,))),
        starts=starts,
        optima=optima,
        fit_intercept=fit_intercept,
        feature_names=names,
        target_name="price",
        n_samples=60,
        covariance=cov,
        se_names=se_names,
        standard_errors=se,
    )
    return res, X, y


def _assert_same(a: EMResult, b: EMResult):
    for f in dataclasses.fields(EMResult):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if f.name in ("starts", "optima"):
            assert len(va) == len(vb)
            for sa, sb in zip(va, vb, strict=True):
                for g in dataclasses.fields(sa):
                    x, z = getattr(sa, g.name), getattr(sb, g.name)
                    if isinstance(x, np.ndarray | float):
                        np.testing.assert_array_equal(x, z)
                    else:
                        assert x == z, g.name
        elif f.name == "standard_errors":
            assert va.keys() == vb.keys()
            for key in va:
                np.testing.assert_array_equal(va[key], vb[key])
        elif isinstance(va, np.ndarray) or va is None:
            np.testing.assert_array_equal(va, vb)
        else:
            assert va == vb, f.name


@pytest.mark.parametrize(
    ("sigma_setting", "fit_intercept"),
    [("component", True), ("shared", False), ("known", True)],
)
def test_round_trip_through_json_text_is_exact(sigma_setting, fit_intercept):
    res, X, y = _hand_result(sigma_setting, fit_intercept)
    d = em_to_dict(res)
    text = json.dumps(d, allow_nan=False)
    back = em_from_dict(json.loads(text))
    _assert_same(res, back)
    assert back.icl == res.icl and back.bic == res.bic and back.aic == res.aic
    np.testing.assert_array_equal(back.predict(X), res.predict(X))
    np.testing.assert_array_equal(back.membership(X, y), res.membership(X, y))
    assert back.score(X, y) == res.score(X, y)


def test_required_cli_keys_and_values():
    res, _, _ = _hand_result("shared")
    d = em_to_dict(res)
    for key in (
        "weights intercept coef sigma loglik n_iter converged aic bic icl standard_errors "
        "census columns sigma_setting fit_intercept loglik_trace n_samples"
    ).split():
        assert key in d, key
    assert d["columns"] == {"y": "price", "x": ["height", "width"]}
    assert d["census"][0]["count"] == 2 and d["census"][0]["degenerate"] is False
    assert d["census"][1] == {
        "loglik": res.optima[1].loglik,
        "count": 1,
        "degenerate": True,
        "saddle": False,
        "n_variants": 1,
        "identified": True,
        "starts": [1],
        "weights": [0.6, 0.4],
        "intercept": (res.intercept + 0.3).tolist(),
        "coef": res.coef.tolist(),
        "sigma": 0.8,
    }
    assert d["sigma"] == 0.8 and d["coef"] == [[0.5, 1.5], [-1.0, 0.25]]
    assert d["standard_errors"]["sigma"] == res.standard_errors["sigma"]
    assert np.shape(d["standard_errors"]["coef"]) == (2, 2)
    assert d["aic"] == pytest.approx(-2 * res.loglik + 2 * 8)
    assert d["bic"] == pytest.approx(-2 * res.loglik + 8 * np.log(60))
    # census completeness: 2 starts at the best optimum, one optimum reached once
    assert d["census_summary"] == {
        "n_starts": len(res.starts),
        "n_screened": 0,
        "n_best_starts": 2,
        "n_singleton_optima": 1,
        "p_new_optimum": 1 / len(res.starts),
    }


def test_nan_standard_errors_and_missing_covariance_survive():
    res, _, _ = _hand_result("component", singular=True)
    text = json.dumps(em_to_dict(res), allow_nan=False)
    back = em_from_dict(json.loads(text))
    assert back.covariance is None
    assert np.all(np.isnan(back.standard_errors["weights"]))


def test_without_responsibilities_needs_the_data():
    res, X, y = _hand_result("known")
    d = json.loads(json.dumps(em_to_dict(res, include_responsibilities=False)))
    assert "responsibilities" not in d
    with pytest.raises(ValueError, match="no 'responsibilities'"):
        em_from_dict(d)
    back = em_from_dict(d, X, y)
    np.testing.assert_allclose(back.responsibilities, res.responsibilities, rtol=1e-14)
    with pytest.raises(ValueError, match=r"shape \(59, 2\)"):
        em_from_dict(d, X[:-1], y[:-1])
    with pytest.raises(ValueError, match="pass both X and y"):
        em_from_dict(d, X)
    full = em_to_dict(res)
    assert em_from_dict(full, X, y).n_samples == 60
    with pytest.raises(ValueError, match=r"shape \(60, 1\)"):
        em_from_dict(full, X[:, :1], y)
    frame = pd.DataFrame(X, columns=["width", "height"])
    with pytest.raises(ValueError, match=r"columns \['width', 'height'\] .* \['height', 'width'\]"):
        em_from_dict(full, frame, y)


def test_bad_input_is_named():
    res, _, _ = _hand_result("known")
    with pytest.raises(TypeError, match="expects an EMResult; got dict"):
        em_to_dict({"weights": [1.0]})
    d = em_to_dict(res)
    with pytest.raises(ValueError, match="format='other'"):
        em_from_dict({**d, "format": "other"})
    with pytest.raises(ValueError, match="version=99"):
        em_from_dict({**d, "version": 99})
    broken = dict(d)
    del broken["loglik"]
    with pytest.raises(ValueError, match="no 'loglik' entry"):
        em_from_dict(broken)


def test_fit_em_result_round_trip_keeps_census_traces_and_notes():
    from mlrbayes.em import fit_em

    X, y, _ = simulate(150, [0.5, 0.5], [0.0, 3.0], [[1.0], [-1.0]], [0.4, 0.7], random_state=4)
    res = fit_em(X, y, 2, sigma="component", n_init=4, random_state=2)
    back = em_from_dict(json.loads(json.dumps(em_to_dict(res), allow_nan=False)))
    _assert_same(res, back)
    assert all(s.loglik_trace is not None for s in back.starts)
    assert back.standard_errors["sigma"].shape == (2,)
    np.testing.assert_array_equal(back.covariance, res.covariance)
    # a fitted result read back can seed a new fit
    again = fit_em(X, y, 2, sigma="component", n_init=1, init=back, random_state=0)
    assert again.loglik == pytest.approx(res.loglik, abs=1e-6)


def _strict(text: str):
    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_em_json_is_strict_and_nulls_read_back_losslessly():
    """NaN standard errors and a -inf log-likelihood (a start that collapsed at once) are
    written as null and read back as NaN and -inf."""
    res, _, _ = _hand_result("component", singular=True)
    collapsed = dataclasses.replace(
        res.starts[1], loglik=-np.inf, loglik_trace=np.array([-np.inf]), notes=("collapsed",)
    )
    res = dataclasses.replace(res, starts=(res.starts[0], collapsed, res.starts[2]))
    d = em_to_dict(res)
    text = json.dumps(d)  # default allow_nan=True: strictness comes from em_to_dict itself
    data = _strict(text)
    assert data["standard_errors"]["weights"] == [None, None]
    assert data["starts"][1]["loglik"] is None and data["starts"][1]["loglik_trace"] == [None]
    back = em_from_dict(data)
    assert np.all(np.isnan(back.standard_errors["weights"]))
    assert back.starts[1].loglik == -np.inf
    np.testing.assert_array_equal(back.starts[1].loglik_trace, [-np.inf])
    assert back.starts[1].notes == ("collapsed",)
    _assert_same(res, back)


def test_fit_em_json_is_strict_with_nan_standard_errors():
    from mlrbayes.em import fit_em

    X, y, _ = simulate(120, [0.5, 0.5], [0.0, 3.0], [[1.0], [-1.0]], 0.4, random_state=4)
    res = fit_em(X, y, 2, sigma="shared", n_init=2, random_state=0, compute_se=False)
    text = json.dumps(em_to_dict(res))
    back = em_from_dict(_strict(text))
    assert set(back.standard_errors) == set(res.standard_errors)
    for key, value in back.standard_errors.items():
        assert np.all(np.isnan(value)) and np.shape(value) == np.shape(res.standard_errors[key])


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("sigma",), -1.0, "'sigma' must be a positive number"),
        (("sigma",), None, "null"),
        (("weights",), [0.5, 0.4], r"'weights' must be non-negative and sum to 1"),
        (("weights",), [1.2, -0.2], r"'weights' must be non-negative"),
        (("weights",), "ab", "'weights' must be a non-empty list"),
        (("coef",), [[1.0, 2.0]], r"'coef' must have shape \(2, 2\)"),
        (("coef",), [["a", 1.0], [1.0, 2.0]], "'coef' must hold numbers"),
        (("intercept",), [1.0, None], "'intercept' has a null"),
        (("loglik",), "high", "'loglik' must be a number"),
        (("n_iter",), 2.5, "'n_iter' must be an integer"),
        (("converged",), "yes", "'converged' must be true or false"),
        (("starts",), {"a": 1}, "'starts' must be a list"),
        (("starts", 0), 7, "a start must be a JSON object"),
        (("starts", 0, "sigma"), 0.0, "a start: 'sigma' must be a positive"),
        (("census", 0, "weights"), [0.6, 0.6], "a census entry: 'weights' must be"),
        (("responsibilities",), [[0.5, 0.5]], r"'responsibilities' must have shape \(60, 2\)"),
        (("sigma_setting",), "both", "'sigma_setting' must be"),
        (("columns", "x"), "height", "columns: 'x' must be a list of names"),
        (("version",), "1", "'version' must be an integer"),
    ],
)
def test_malformed_em_json_names_the_key(path, value, match):
    res, _, _ = _hand_result("component")
    d = json.loads(json.dumps(em_to_dict(res)))
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError, match=match):
        em_from_dict(d)
