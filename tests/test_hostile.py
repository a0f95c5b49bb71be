"""Property-based tests with hostile input (issue 9, "tests that catch the class").

Hypothesis generates data frames with hostile column names (quotes, commas, newlines,
backticks, markup, unicode, "Unnamed: 0", blanks, duplicates), NaN / ±inf / extreme / constant
values, odd shapes (0 to 40 rows, 1 to 3 predictors) and dtypes (int, float, bool, text). For
``fit_em``, the estimator and the ``mlrbayes fit`` command the outcome must be one of:

* a ``ValueError``/``TypeError`` (CLI: one line on stderr, exit 2, no output file) whose
  message names the offending value or column, or
* a finite result: finite log-likelihood and parameters, weights summing to 1, sigma > 0, and a
  log-likelihood trace that never decreases beyond rounding (EM is monotone).

Never a traceback from the CLI; never an output file after an error. Runs derandomised (the same
examples on every run) with a bounded number of examples, so it is stable in CI and takes
well under a minute.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlrbayes.cli import main  # noqa: E402
from mlrbayes.em import fit_em  # noqa: E402
from mlrbayes.estimator import MixtureRegressionEM  # noqa: E402

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HOSTILE_NAMES = st.one_of(
    st.sampled_from(
        [
            "x",
            "y",
            "Unnamed: 0",
            "",
            " ",
            "a,b",
            'q"uote',
            "new\nline",
            "tab\there",
            "`tick`",
            "<b>&amp;</b>",
            "\\(x\\)",
            "ünï©ødé",
            "x.1",
            "NaN",
            "1e5",
            "-",
            "#",
            "x" * 200,
        ]
    ),
    st.text(min_size=1, max_size=12),
)
SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308, 1e-308, 0.0, 1e20, -1e20])


@st.composite
def columns(draw, n):
    """One column of n values of a hostile kind."""
    kind = draw(st.sampled_from(["normal"] * 12 + ["special", "constant", "int", "bool", "text",
                                                   "huge"]))  # fmt: skip
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "normal":
        return rng.normal(0, draw(st.sampled_from([1e-6, 1.0, 1e3])), n)
    if kind == "special":
        v = rng.normal(size=n)
        if n:
            idx = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
            v[idx] = draw(SPECIAL)
        return v
    if kind == "constant":
        return np.full(n, draw(st.sampled_from([0.0, 3.0, -1e10])))
    if kind == "int":
        return rng.integers(-5, 5, n)
    if kind == "bool":
        return rng.integers(0, 2, n).astype(bool)
    if kind == "text":
        return np.array([draw(st.sampled_from(["a", "1", "2024-01-01", "1+2j"])) for _ in range(n)])
    return rng.normal(0, 1, n) * 1e150


@st.composite
def frames(draw):
    n = draw(st.one_of(st.integers(0, 8), st.integers(9, 60)))
    p = draw(st.integers(1, 3))
    names = [draw(HOSTILE_NAMES) for _ in range(p)]  # may repeat: refused with a ValueError
    data = {f"c{j}": draw(columns(n)) for j in range(p)}
    y = draw(columns(n))
    df = pd.DataFrame(data)
    df.columns = names  # may hold duplicates
    k = draw(st.integers(1, 3))
    sigma = draw(st.sampled_from(["shared", "component", 0.5]))
    return df, pd.Series(y, name="y"), k, sigma


def _finite_result(weights, intercept, coef, sigma, loglik, trace=None):
    assert np.isfinite(loglik)
    for arr in (weights, intercept, coef, sigma):
        assert np.all(np.isfinite(arr))
    assert np.all(np.asarray(sigma) > 0)
    assert np.sum(weights) == pytest.approx(1.0)
    if trace is not None:
        trace = np.asarray(trace, dtype=float)
        drops = np.diff(trace)
        scale = 1e-8 * (1.0 + np.abs(trace[1:]))
        assert np.all(drops >= -scale), f"log-likelihood decreased: {trace}"


def _names_the_problem(message: str, df: pd.DataFrame, y: pd.Series) -> None:
    """The message quotes something concrete: a value, a column, a count or a parameter."""
    assert message.strip()
    cols = [str(c) for c in df.columns] + [str(y.name)]
    concrete = any(c and c in message for c in cols) or re.search(
        r"nan|inf|\d|n_components|sigma|column|row|feature|numeric|dtype", message, re.I
    )
    assert concrete, message


def _api_call(fn, df, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are allowed; errors are what is checked
        try:
            return fn(), None
        except (ValueError, TypeError) as exc:
            event(f"error: {type(exc).__name__}")
            _names_the_problem(str(exc), df, y)
            return None, exc


@SETTINGS
@given(frames())
def test_fit_em_hostile_frames(case):
    df, y, k, sigma = case
    res, _ = _api_call(lambda: fit_em(df, y, k, sigma=sigma, n_init=2, random_state=0), df, y)
    event("fitted" if res is not None else "refused")
    if res is not None:
        _finite_result(res.weights, res.intercept, res.coef, res.sigma, res.loglik,
                       res.loglik_trace)  # fmt: skip


@SETTINGS
@given(frames())
def test_estimator_hostile_frames(case):
    df, y, k, sigma = case
    est = MixtureRegressionEM(k, sigma=sigma, n_init=2, random_state=0)
    res, _ = _api_call(lambda: est.fit(df, y), df, y)
    if res is not None:
        _finite_result(est.weights_, est.intercept_, est.coef_, est.sigma_,
                       est.result_.loglik, est.result_.loglik_trace)  # fmt: skip
        assert np.all(np.isfinite(est.predict(df)))


@SETTINGS
@given(frames())
def test_cli_fit_hostile_csv(tmp_path_factory, capsys, case):
    df, y, k, sigma = case
    d = tmp_path_factory.mktemp("hostile")
    data = df.copy()
    data["y"] = y.to_numpy()
    path = d / "data.csv"
    index = len(df) % 5 == 1  # sometimes the pandas index column as well
    data.to_csv(path, index=index)
    out = d / "out" / "em.json"
    argv = ["fit", str(path), "--y", "y", "-k", str(k), "--sigma", str(sigma), "--n-init", "2",
            "--seed", "0", "--json", str(out)]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may leak past the CLI's own warning lines
        rc = main(argv)  # an exception escaping main fails the test: a traceback
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    event(f"exit {rc}")
    if rc == 2:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mlrbayes fit: error: "), captured.err
        assert not out.exists() and not (d / "out").exists()
        assert [p.name for p in d.iterdir()] == ["data.csv"]
        return
    assert rc == 0, captured.err
    for line in captured.err.strip().splitlines():
        assert line.startswith("mlrbayes fit: warning: "), captured.err
    payload = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert np.isfinite(payload["loglik"])


@pytest.mark.parametrize("value", [1e20, 1e308])
def test_extreme_outlier(value):
    """The example hypothesis found (y = 1e308 among small values): finite, or a clear error;
    at 1e20 the split start gives the outlier a component of its own (sigma of the rest ~ 1,
    a far higher log-likelihood than a sigma inflated to its size), with the warning naming
    the row."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=60)})
    y = pd.Series(rng.normal(size=60), name="y")
    y.iloc[0] = value
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0)
        except ValueError as exc:
            assert "1e+" in str(exc) or "outlier" in str(exc) or "scale" in str(exc)
            return
    assert any("row 0 (y = 1e+20)" in str(w.message) for w in caught)
    _finite_result(res.weights, res.intercept, res.coef, res.sigma, res.loglik,
                   res.loglik_trace)  # fmt: skip
    # absorbing the outlier in one component must beat a sigma inflated to its size
    assert float(np.max(res.sigma)) < 10.0
    assert res.weights.min() == pytest.approx(1 / 60)
    assert res.intercept[1] == pytest.approx(value, rel=1e-12) and res.coef[1, 0] == 0.0
    inflated = [s for s in res.starts if np.max(s.sigma) > 1e18]
    assert inflated and all(s.loglik < res.loglik - 2000 for s in inflated)
