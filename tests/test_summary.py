"""Short reprs, R-style summaries, DataFrames and HTML of EMResult, Comparison and Diagnosis."""

import html
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from helpers import draws_around, posterior_tree
from scipy.stats import norm

import mlrbayes as mb
from mlrbayes import summary as sm
from mlrbayes.em import fit_em


@pytest.fixture(scope="module")
def big():
    """n = 10^4, two lines, shared sigma: the size at which repr used to dump (n, K) arrays."""
    X, y, _ = mb.simulate(10_000, [0.6, 0.4], [0.0, 3.0], [[1.0], [-1.0]], 0.5, random_state=1)
    return X, y, fit_em(X, y, 2, sigma="shared", n_init=4, random_state=1)


@pytest.fixture(scope="module")
def comparison(big):
    X, y, em = big
    w, b, c, s = draws_around(em, np.random.default_rng(0))
    tree = posterior_tree(X, y, w, b, c, s, features=list(em.feature_names))
    return mb.compare(em, tree, X=X, y=y)


# ----------------------------------------------------------------------------- EM
def test_em_frame_numbers(big):
    _, _, em = big
    f = em.to_frame()
    assert list(f.index) == em.param_names()
    assert list(f.columns) == ["component", "term", "estimate", "se", "z", "p"]
    se = em.standard_errors
    np.testing.assert_array_equal(f.loc[["weights[0]", "weights[1]"], "estimate"], em.weights)
    np.testing.assert_array_equal(f.loc[["intercept[0]", "intercept[1]"], "se"], se["intercept"])
    assert f.loc["coef[1,x0]", "estimate"] == em.coef[1, 0]
    assert f.loc["coef[1,x0]", "se"] == se["coef"][1, 0]
    assert f.loc["sigma", "estimate"] == em.sigma and f.loc["sigma", "se"] == se["sigma"]
    # z = estimate / se and the two-sided normal p-value, for the regression coefficients
    for name in ["intercept[0]", "intercept[1]", "coef[0,x0]", "coef[1,x0]"]:
        z = f.loc[name, "estimate"] / f.loc[name, "se"]
        assert f.loc[name, "z"] == pytest.approx(z, rel=1e-12)
        assert f.loc[name, "p"] == pytest.approx(2 * (1 - norm.cdf(abs(z))), abs=1e-15)
    # intercept[0] is truly 0: a non-significant z; the slopes are hugely significant
    assert abs(f.loc["intercept[0]", "z"]) < 3 and f.loc["intercept[0]", "p"] > 0.001
    assert f.loc["coef[0,x0]", "p"] < 1e-100
    # weights and sigma are bounded: no z-test against 0
    assert f.loc[["weights[0]", "weights[1]", "sigma"], ["z", "p"]].isna().all().all()
    assert f["component"].tolist() == [0, 1, 0, 1, 0, 1, -1]
    assert f["term"].tolist() == ["weight"] * 2 + ["intercept"] * 2 + ["x0"] * 2 + ["sigma"]


def test_em_repr_is_short_and_one_line(big):
    _, _, em = big
    r = repr(em)
    assert len(r) < 300 and "\n" not in r
    assert r.startswith("EMResult(K=2, sigma='shared', n=10000")
    assert f"loglik={em.loglik:.6g}" in r and "converged" in r
    assert f"optima={len(em.optima)}, starts=4" in r


def test_em_summary_text(big):
    _, _, em = big
    s = em.summary()
    assert isinstance(s, str) and repr(s) == str(s)  # a notebook shows the text, not '...\n'
    assert f"log-likelihood {em.loglik:.4f}" in s
    assert f"AIC {em.aic:.4f}" in s and f"BIC {em.bic:.4f}" in s and f"ICL {em.icl:.4f}" in s
    assert f"n = 10000, sigma shared, {em.n_parameters} free parameters" in s
    assert f"converged in {em.n_iter} iterations" in s
    assert "census: 1 distinct optimum from 4 starts; the best reached by 4 of 4" in s
    w_se = em.standard_errors["weights"][1]
    assert f"component 1: weight {em.weights[1]:.4g} (se {w_se:.4g})" in s
    f = em.to_frame()
    block = s.split("component 0:")[1].splitlines()
    line = next(x for x in block if x.strip().startswith("intercept"))
    z0, p0 = f.loc["intercept[0]", "z"], f.loc["intercept[0]", "p"]
    assert line.split()[-2:] == [f"{z0:.2f}", f"{p0:.3g}"]
    assert "<2e-16" in s  # the slopes' p-values, as R prints them
    assert f"sigma {em.sigma:.4g} (se {em.standard_errors['sigma']:.4g})" in s
    pd.testing.assert_frame_equal(s.to_frame(), f)


def test_em_summary_known_and_component_sigma():
    X, y, _ = mb.simulate(300, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=2)
    known = fit_em(X, y, 2, sigma=0.5, n_init=3, random_state=0)
    assert "sigma (known): 0.5" in known.summary()
    assert "sigma" not in set(known.to_frame()["term"])
    comp = fit_em(X, y, 2, sigma="component", n_init=3, random_state=0)
    f = comp.to_frame()
    assert list(f.loc[["sigma[0]", "sigma[1]"], "estimate"]) == list(comp.sigma)
    assert f.loc[["sigma[0]", "sigma[1]"], "component"].tolist() == [0, 1]
    assert f"sigma[1] {comp.sigma[1]:.4g} (se" in comp.summary()


def test_census_line_counts_optima():
    """Four clouds with known sigma: several optima; Good-Turing = optima seen once / starts."""
    rng = np.random.default_rng(7)
    x = np.repeat([-1.0, -1.0, 1.0, 1.0], 10)
    y = np.repeat([-1.0, 1.0, -1.0, 1.0], 10) + 0.25 * rng.standard_normal(40)
    em = fit_em(x[:, None], y, 2, sigma=0.25, n_init=20, random_state=0)
    counts = [o.count for o in em.optima]
    assert len(counts) >= 2 and sum(counts) == 20
    once = sum(c == 1 for c in counts)
    line = sm.census_line(em)
    assert f"census: {len(counts)} distinct optima" in line
    assert f"the best reached by {counts[0]} of 20" in line
    assert f"{once} optima reached by one start only: one more start finds a new optimum " in line
    assert f"with chance ~ {once / 20:.2g} (Good-Turing)" in line
    assert line in em.summary()


def test_not_converged_is_said(big):
    X, y, _ = big
    with pytest.warns(mb.em.ConvergenceWarning):
        em = fit_em(X[:500], y[:500], 2, sigma="shared", n_init=1, max_iter=2, random_state=0)
    assert "NOT converged: stopped after 2 iterations" in em.summary()
    assert "not converged" in repr(em)


def test_html_is_escaped():
    X, y, _ = mb.simulate(200, [0.5, 0.5], [0.0, 4.0], [[1.0], [-1.0]], 0.5, random_state=2)
    name = "<b>dose & 'x'</b>"
    em = fit_em(pd.DataFrame({name: X[:, 0]}), pd.Series(y, name="y<1>"), 2, sigma="shared")
    h = em._repr_html_()
    assert "<b>dose" not in h and html.escape(name) in h and "y&lt;1&gt;" in h
    assert h.startswith("<div>") and h.count("<table") == 2  # one small table per component
    assert len(h) < 5000


# ----------------------------------------------------------------------------- comparison
def test_comparison_repr_summary_frame(comparison):
    cmp = comparison
    r = repr(cmp)
    assert len(r) < 300 and "\n" not in r
    assert r.startswith(f"Comparison(verdict={cmp.verdict!r}, K=2, n=10000, parameters=7")
    s = cmp.summary()
    assert s.splitlines()[0] == f"EM vs posterior: verdict {cmp.verdict}"
    for reason in cmp.reasons:
        assert f"  - {reason}" in s
    assert "94% HDI" in s and "4 chains x 300 draws" in s
    rows = [x for x in s.splitlines() if x.startswith("coef[1,x0]")]
    assert len(rows) == 1
    t = cmp.table.set_index("name")
    assert f"{t.loc['coef[1,x0]', 'em']:.4g}" in rows[0]
    assert f"{t.loc['coef[1,x0]', 'post_sd']:.4g}" in rows[0]
    assert len(s) < 3000  # the old repr was 49,693 characters
    pd.testing.assert_frame_equal(cmp.to_frame(), t)
    h = cmp._repr_html_()
    assert "<table" in h and html.escape(cmp.reasons[0]) in h and len(h) < 6000


def test_diagnosis_repr_summary_frame(comparison):
    d = comparison.diagnosis
    r = repr(d)
    assert len(r) < 300 and "\n" not in r
    assert r == (
        f"Diagnosis(verdict={d.verdict!r}, method='stephens', chains=4, draws=300, "
        "converged_after=True, modes=1)"
    )
    s = d.summary()
    assert s.startswith(f"verdict: {d.verdict}\n") and "rhat_before" in s
    pd.testing.assert_frame_equal(d.to_frame(), d.table)
    assert "<table" in d._repr_html_()


def test_findings_are_read_whatever_their_form(comparison):
    """Diagnoses carrying ``findings`` (codes with their numbers) show them first."""
    d = comparison.diagnosis
    fake = SimpleNamespace(
        verdict="inconclusive",
        method="stephens",
        reasons=("one reason",),
        table=d.table,
        findings=[
            {"code": "weak_component", "component": 1, "min_weight": 0.0001},
            SimpleNamespace(code="poor_mixing", numbers={"rhat_within": 1.3}),
            "label_switching",
        ],
    )
    s = sm.diagnosis_summary(fake)
    lines = s.splitlines()
    assert lines[:5] == [
        "verdict: inconclusive",
        "findings:",
        "  * weak_component: component 1, min_weight 0.0001",
        "  * poor_mixing: rhat_within 1.3",
        "  * label_switching",
    ]
    assert sm.findings_lines(SimpleNamespace()) == []
