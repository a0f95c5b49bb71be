"""Findings on constructed posteriors with a known answer: per-mode comparison, poor mixing of
a weakly identified model, weak components, partial and one-chain posteriors, NaN draws, the
Wald note, and invariance of the table to the order of rows and chains."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import DRAWS, draws_around, posterior_tree

from mlrbayes.compare import compare
from mlrbayes.diagnostics import diagnose
from mlrbayes.em import fit_em
from mlrbayes.findings import LINE_DISTANCE_MIN, MODE_RHAT_MAX, WEAK_WEIGHT_MIN
from mlrbayes.simulate import simulate


@pytest.fixture(scope="module")
def separated():
    X, y, _ = simulate(200, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=1)
    em = fit_em(pd.DataFrame(X, columns=["x"]), y, 2, sigma="shared", n_init=4, random_state=0)
    return X, y, em


def _at(rng, opt, chains, sd=0.03):
    w0 = opt.weights[0] + sd * rng.standard_normal((chains, DRAWS))
    return (
        np.stack([w0, 1 - w0], -1),
        opt.intercept + sd * rng.standard_normal((chains, DRAWS, 2)),
        opt.coef + sd * rng.standard_normal((chains, DRAWS, 2, 1)),
        opt.sigma + 0.01 * rng.standard_normal((chains, DRAWS)),
    )


def test_two_modes_are_compared_per_mode_never_pooled(four_clouds):
    X, y, em = four_clouds
    rng = np.random.default_rng(5)
    good = [o for o in em.optima if not o.degenerate][:2]
    # chains 0 and 3 at the other optimum, 1 and 2 at the best: the chain order must not matter
    parts = [_at(rng, good[1], 1), _at(rng, good[0], 2), _at(rng, good[1], 1)]
    w, b, c, s = (np.concatenate(a) for a in zip(*parts, strict=True))
    cmp = compare(em, posterior_tree(X, y, w, b, c, s, features=["x0"]))
    assert cmp.verdict == "inconclusive" and "distinct_modes" in cmp.codes
    assert len(cmp.mode_comparisons) == 2
    by_opt = {m.em_optimum: m for m in cmp.mode_comparisons}
    assert set(by_opt) == {0, em.optima.index(good[1])}
    for m in cmp.mode_comparisons:
        assert m.agrees and not m.minor
        assert m.share_chains == 0.5 and m.share_draws == pytest.approx(0.5, abs=0.01)
        assert m.mass == pytest.approx(0.5, abs=0.1)  # equally good explanations
        t = m.table
        assert np.all(np.abs(t["z"]) < 3) and t["in_hdi"].all()
        assert f"agrees with EM optimum #{m.em_optimum}" in m.line
        assert "% of draws" in m.line and "% of chains" in m.line
    # the main table: the EM estimate's mode only, not a mean between the modes
    t = cmp.table.set_index("name")
    np.testing.assert_allclose(t["post_mean"], by_opt[0].table.set_index("name")["post_mean"])
    assert t["hdi_high"].sub(t["hdi_low"]).max() < 0.3  # no HDI spans the gap (~2)
    assert any("agrees with EM optimum #0" in r for r in cmp.reasons)
    from mlrbayes.report import render_markdown

    md = render_markdown(cmp)
    assert "## Findings" in md and "`distinct_modes`" in md
    assert "## EM vs each posterior mode" in md
    assert md.count("| parameter | EM optimum #") == 2
    out = json.loads(json.dumps(cmp.to_dict(), allow_nan=False))
    codes = [f["code"] for f in out["diagnosis"]["findings"]]
    assert "distinct_modes" in codes
    assert len(out["mode_comparisons"]) == 2 and out["mode_comparisons"][0]["parameters"]


def test_weakly_identified_split_is_poor_mixing_not_modes():
    """x in [0, 0.1]: intercept and slope trade off, so two chain groups far apart in the
    parameters imply the same lines at the data (within 0.05 sd); one weight's draws reach
    1e-4. Must be poor_mixing and weak_component, never distinct_modes."""
    rng = np.random.default_rng(6)
    n = 28
    X = rng.uniform(0, 0.1, (n, 1))
    y = np.where(np.arange(n) < 24, 0.0, 5.0) + X[:, 0] + rng.standard_normal(n)
    em = fit_em(X, y, 2, sigma="shared", n_init=5, random_state=0)
    d = 0.02
    w1 = np.clip(np.exp(rng.normal(np.log(0.05), 1.5, (4, DRAWS))), 1e-4, 0.5)
    w = np.stack([1 - w1, w1], -1)
    b = np.empty((4, DRAWS, 2))
    c = np.empty((4, DRAWS, 2, 1))
    for ch, (b0, c0) in enumerate([(0.0, 1.0), (0.0, 1.0), (0.05, 0.5), (0.05, 0.5)]):
        b[ch] = [b0, 5.0] + d * rng.standard_normal((DRAWS, 2))
        c[ch] = np.array([[c0], [1.0]]) + d * rng.standard_normal((DRAWS, 2, 1))
    s = 1.0 + 0.02 * rng.standard_normal((4, DRAWS))
    dg = diagnose(posterior_tree(X, y, w, b, c, s, features=["x0"]), em=em)
    mm = dg.multimodality
    assert mm.detected and mm.n_modes == 2  # two groups of chains in parameter space ...
    assert mm.line_distance[0, 1] < 0.1 < LINE_DISTANCE_MIN  # ... with the same lines
    assert "poor_mixing" in dg.codes and "distinct_modes" not in dg.codes
    assert dg.verdict == "poor_mixing"
    weak = [f for f in dg.findings if f.code == "weak_component"]
    small = int(np.argmin(em.weights))  # the draws carry the EM labels
    assert em.weights[small] < 0.3
    assert [f.numbers["component"] for f in weak] == [small]
    assert weak[0].numbers["weight_quantile"] < WEAK_WEIGHT_MIN
    assert "K = 1" in weak[0].message
    assert not any("genuinely multimodal" in r for r in dg.reasons)


def test_unconverged_groups_are_poor_mixing(four_clouds):
    """Two groups with different lines but each drifting (AR(1) 0.995): not converged within
    (R-hat > MODE_RHAT_MAX), so not distinct modes."""
    X, y, em = four_clouds
    rng = np.random.default_rng(7)
    good = [o for o in em.optima if not o.degenerate][:2]
    parts = [_at(rng, good[0], 2, sd=0.0), _at(rng, good[1], 2, sd=0.0)]
    w, b, c, s = (np.concatenate(a).copy() for a in zip(*parts, strict=True))
    walk = np.cumsum(0.02 * rng.standard_normal((4, DRAWS, 2)), axis=1)
    b += walk - walk.mean(axis=1, keepdims=True) * np.array([1, 0, 1, 0])[:, None, None]
    s = s + 0.01 * rng.standard_normal(s.shape)
    dg = diagnose(posterior_tree(X, y, w, b, c, s, features=["x0"]), em=em)
    assert max(m.rhat_max for m in dg.multimodality.modes) > MODE_RHAT_MAX
    assert dg.verdict == "poor_mixing" and "distinct_modes" not in dg.codes


def test_table_invariant_to_row_and_chain_order(separated):
    X, y, em = separated
    rng = np.random.default_rng(8)
    w, b, c, s = draws_around(em, rng)
    ref = compare(em, posterior_tree(X, y, w, b, c, s))
    rows = rng.permutation(len(y))
    chains = [2, 0, 3, 1]
    got = compare(em, posterior_tree(X[rows], y[rows], w[chains], b[chains], c[chains], s[chains]))
    num = [col for col in ref.table.columns if col not in ("name", "flag", "in_hdi")]
    np.testing.assert_allclose(
        got.table[num].to_numpy(float), ref.table[num].to_numpy(float), rtol=1e-9, atol=1e-12
    )
    assert got.verdict == ref.verdict == "agree"


def test_partial_posterior_is_never_agree(separated):
    X, y, em = separated
    w, b, c, s = draws_around(em, np.random.default_rng(9))
    tree = posterior_tree(X, y, w, b, c, s)
    assert compare(em, tree).verdict == "agree"
    tree["posterior"].attrs.update({"partial": 1, "draws_completed": 300, "draws_requested": 1000})
    cmp = compare(em, tree)
    assert cmp.verdict == "inconclusive" and "partial" in cmp.codes
    assert any("300 of 1000 draws" in r for r in cmp.reasons)
    assert "partial" in diagnose(tree, em=em).codes


def test_one_chain_says_rhat_needs_two_chains(separated):
    X, y, em = separated
    w, b, c, s = draws_around(em, np.random.default_rng(10), n_chain=1)
    tree = posterior_tree(X, y, w, b, c, s)
    d = diagnose(tree, em=em)  # filterwarnings=error: no RuntimeWarning may leak
    assert "single_chain" in d.codes
    assert not any("nan >" in r or "max nan" in r for r in d.reasons)
    assert any("R-hat needs >= 2 chains" in r for r in d.reasons)
    assert "one chain only" in d.reasons[-1]
    cmp = compare(em, tree)
    assert cmp.verdict == "inconclusive"
    assert not any("nan" in r for r in cmp.reasons)


NAN_MESSAGE = r"1 non-finite \(NaN/inf\) values of 'intercept' \(first in chain 1, draw 5"


def test_nan_draws_name_the_variable(separated):
    X, y, em = separated
    w, b, c, s = draws_around(em, np.random.default_rng(11))
    b[1, 5, 0] = np.nan
    with pytest.raises(ValueError, match=NAN_MESSAGE):
        diagnose(posterior_tree(X, y, w, b, c, s), em=em)
    with pytest.raises(ValueError, match=NAN_MESSAGE):
        compare(em, posterior_tree(X, y, w, b, c, s))


def test_wald_note_when_posterior_sd_exceeds_se(separated):
    X, y, em = separated
    rng = np.random.default_rng(12)
    w, b, c, s = draws_around(em, rng)  # posterior sd = SE: no note
    assert "wald_too_narrow" not in compare(em, posterior_tree(X, y, w, b, c, s)).codes
    w, b, c, s = draws_around(em, rng, scale=1.75)  # posterior sd = 1.75 SE: ratio 0.57
    cmp = compare(em, posterior_tree(X, y, w, b, c, s))
    f = [f for f in cmp.findings if f.code == "wald_too_narrow"]
    assert len(f) == 1 and f[0].numbers["se_ratio_min"] == pytest.approx(1 / 1.75, rel=0.15)
    assert any("Wald intervals" in r for r in cmp.reasons)
    assert cmp.verdict == "agree"  # a note: the SE ratio is inside [1/2, 2]


def _clouds_with_spread(rng, per_cloud=40):
    """x ~ +-1 (+- 0.3), y = +-1 + noise independent of x: the parallel lines y = +-1 fit,
    the crossing lines y = +-x (an EM optimum too) miss the spread of x in each cloud."""
    cx = np.repeat([-1.0, -1.0, 1.0, 1.0], per_cloud)
    x = cx + rng.uniform(-0.3, 0.3, cx.size)
    y = np.repeat([-1.0, 1.0, -1.0, 1.0], per_cloud) + 0.25 * rng.standard_normal(cx.size)
    return x[:, None], y


CROSSING = {"weights": [0.5, 0.5], "intercept": [0.0, 0.0], "coef": [[1.0], [-1.0]]}
PARALLEL = {"weights": [0.5, 0.5], "intercept": [-1.0, 1.0], "coef": [[0.0], [0.0]]}


def test_em_missed_mode_is_found(rng):
    X, y = _clouds_with_spread(np.random.default_rng(13))
    em = fit_em(X, y, 2, sigma="shared", init=CROSSING, n_init=1)  # a census of one, inferior
    best = fit_em(X, y, 2, sigma="shared", init=PARALLEL, n_init=1)
    assert best.loglik > em.loglik + 10
    w, b, c, s = _at(rng, best, 4, sd=0.02)
    cmp = compare(em, posterior_tree(X, y, w, b, c, s, features=["x0"]))
    f = [f for f in cmp.findings if f.code == "em_missed_mode"]
    assert len(f) == 1
    assert f[0].numbers["em_best"] == pytest.approx(em.loglik)
    assert f[0].numbers["loglik_at_mean"] == pytest.approx(best.loglik, abs=1.0)
    assert any("MCMC found a better optimum" in r for r in cmp.reasons)


def test_validate_refuses_a_negative_seed():
    from mlrbayes.workflow import validate

    X, y = _clouds_with_spread(np.random.default_rng(14))
    with pytest.raises(ValueError, match="random_state"):
        validate(X, y, 2, sigma="shared", random_state=-5)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_validate_repairs_em_from_a_better_mode():
    """EM is given only the inferior (crossing) start; every chain starts dispersed and finds
    the parallel lines: validate runs EM from that mode, adds the optimum and says so."""
    from mlrbayes.workflow import validate

    X, y = _clouds_with_spread(np.random.default_rng(13))
    best = fit_em(X, y, 2, sigma="shared", init=PARALLEL, n_init=1)
    cmp = validate(
        X,
        y,
        2,
        sigma="shared",
        n_init=1,
        random_state=3,
        em_kwargs={"init": CROSSING},
        draws=300,
        tune=300,
        chains=2,
        n_em_chains=0,
        sampler="pymc",
    )
    assert "em_missed_mode" in cmp.codes
    assert cmp.em.loglik == pytest.approx(best.loglik, abs=1e-4)
    assert len(cmp.em.optima) == 2 and cmp.em.optima[0].loglik > cmp.em.optima[1].loglik + 10
    assert any("MCMC found a better optimum" in r for r in cmp.reasons)
