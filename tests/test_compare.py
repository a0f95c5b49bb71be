"""compare/validate: the table against independent computations, and the verdict rule.

Fast tests build the posterior by hand (draws around known values, in a DataTree with the layout
of mlrbayes.bayes) so every number has a known truth; the slow tests sample with PyMC on three
generated cases.
"""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import CHAINS, DRAWS, draws_around, posterior_tree

from mlrbayes.compare import Comparison, compare, dispersed_starts, validate
from mlrbayes.em import fit_em
from mlrbayes.simulate import simulate


@pytest.fixture(scope="module")
def separated():
    X, y, _ = simulate(200, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=1)
    em = fit_em(pd.DataFrame(X, columns=["x"]), y, 2, sigma="shared", n_init=4, random_state=0)
    return X, y, em


def _hdi(a, prob):
    """Shortest interval holding ceil(prob * n) sorted draws (independent of arviz)."""
    a = np.sort(a)
    m = int(np.ceil(prob * a.size))
    widths = a[m - 1 :] - a[: a.size - m + 1]
    i = int(np.argmin(widths))
    return a[i], a[i + m - 1]


def test_table_matches_independent_summaries(separated, rng):
    X, y, em = separated
    w, b, c, s = draws_around(em, rng)
    cmp = compare(em, posterior_tree(X, y, w, b, c, s), hdi_prob=0.9)
    assert isinstance(cmp, Comparison)
    t = cmp.table.set_index("name")
    assert list(t.index) == em.param_names()
    flat = {
        "weights[0]": w[..., 0],
        "intercept[1]": b[..., 1],
        "coef[0,x]": c[..., 0, 0],
        "sigma": s,
    }
    for name, d in flat.items():
        d = d.ravel()
        assert t.loc[name, "post_mean"] == pytest.approx(d.mean(), rel=1e-12)
        assert t.loc[name, "post_median"] == pytest.approx(np.median(d), rel=1e-12)
        assert t.loc[name, "post_sd"] == pytest.approx(d.std(ddof=1), rel=1e-12)
        lo, hi = _hdi(d, 0.9)
        # arviz's interval may differ from ours by one draw at either end
        step = 2 * np.max(np.diff(np.sort(d))[int(0.02 * d.size) : int(0.98 * d.size)])
        assert t.loc[name, "hdi_low"] == pytest.approx(lo, abs=step)
        assert t.loc[name, "hdi_high"] == pytest.approx(hi, abs=step)
        z = (t.loc[name, "em"] - d.mean()) / d.std(ddof=1)
        assert t.loc[name, "z"] == pytest.approx(z, rel=1e-10)
    np.testing.assert_allclose(t.loc["intercept[0]", "em"], em.intercept[0])
    np.testing.assert_allclose(t.loc["sigma", "em_se"], em.standard_errors["sigma"])
    # draws have sd = SE, so the ratio is 1 up to Monte Carlo error (1200 draws: ~2% sd)
    np.testing.assert_allclose(t["se_ratio"], 1.0, atol=0.1)
    assert t["in_hdi"].all()
    assert cmp.verdict == "agree", cmp.reasons
    assert cmp.sampler["n_divergent"] == 0 and cmp.sampler["chains"] == CHAINS
    assert not cmp.label_switching["detected"] and not cmp.multimodality["detected"]


def test_label_switching_between_chains_is_resolved(separated, rng):
    X, y, em = separated
    w, b, c, s = draws_around(em, rng)
    ref = compare(em, posterior_tree(X, y, w, b, c, s))
    # chains 2 and 3 use the other labelling
    w2, b2, c2 = w.copy(), b.copy(), c.copy()
    for a in (w2, b2, c2):
        a[2:] = a[2:, :, ::-1]
    cmp = compare(em, posterior_tree(X, y, w2, b2, c2, s))
    assert cmp.label_switching["detected"]
    assert cmp.label_switching["chains_relabelled"] == [0.0, 0.0, 1.0, 1.0]
    assert cmp.sampler["rhat_max_before"] > 1.5
    assert cmp.sampler["rhat_max_after"] < 1.01
    pd.testing.assert_frame_equal(cmp.table, ref.table)
    assert cmp.verdict == "agree"
    assert any("label switching was found and resolved" in r for r in cmp.reasons)


def test_shifted_location_disagrees(separated, rng):
    X, y, em = separated
    w, b, c, s = draws_around(em, rng)
    sd = em.standard_errors["intercept"][0]
    cmp = compare(em, posterior_tree(X, y, w, b + np.array([5 * sd, 0.0]), c, s))
    assert cmp.verdict == "disagree"
    bad = cmp.disagreements
    assert list(bad["name"]) == ["intercept[0]"]
    z = bad["z"].iloc[0]
    assert z == pytest.approx(-5.0, abs=0.3)
    assert "intercept[0]" in cmp.reasons[0] and "|z|" in cmp.reasons[0]
    assert not bad["in_hdi"].iloc[0]


def test_mismatched_spread_disagrees(separated, rng):
    X, y, em = separated
    w, b, c, s = draws_around(em, rng)
    wide = em.coef + 3.0 * np.asarray(em.standard_errors["coef"]) * (c - em.coef) / np.asarray(
        em.standard_errors["coef"]
    )
    cmp = compare(em, posterior_tree(X, y, w, b, wide, s))
    assert cmp.verdict == "disagree"
    bad = cmp.disagreements.set_index("name")
    assert set(bad.index) == {"coef[0,x]", "coef[1,x]"}
    np.testing.assert_allclose(bad["se_ratio"], 1 / 3, atol=0.04)
    assert all("SE ratio" in f for f in bad["flag"])


def test_divergences_make_it_inconclusive(separated, rng):
    X, y, em = separated
    w, b, c, s = draws_around(em, rng)
    div = np.zeros((CHAINS, DRAWS), bool)
    div[1, [3, 50, 200]] = True
    cmp = compare(em, posterior_tree(X, y, w, b, c, s, diverging=div))
    assert cmp.verdict == "inconclusive"
    assert cmp.sampler["n_divergent"] == 3
    assert "3 divergent transitions" in cmp.reasons[0]


def test_unconverged_chains_make_it_inconclusive(separated, rng):
    X, y, em = separated
    w, b, c, s = draws_around(em, rng)
    b = b.copy()
    b[0] += 1.5 * np.asarray(em.standard_errors["intercept"])  # one chain off-centre
    cmp = compare(em, posterior_tree(X, y, w, b, c, s))
    assert cmp.verdict == "inconclusive"
    assert any("R-hat > 1.01" in r and "intercept[0]" in r for r in cmp.reasons)


def test_low_ess_makes_it_inconclusive(separated, rng):
    X, y, em = separated
    w, b, c, s = draws_around(em, rng, rho=0.97)
    cmp = compare(em, posterior_tree(X, y, w, b, c, s), rhat_max=1.2)
    assert cmp.verdict == "inconclusive"
    assert any("too few effective draws" in r for r in cmp.reasons)
    assert cmp.sampler["ess_bulk_min_after"] < 100 * CHAINS


def test_two_modes_make_it_inconclusive_and_are_listed(four_clouds, rng):
    X, y, em = four_clouds
    good = [o for o in em.optima if not o.degenerate][:2]
    assert len(good) == 2 and abs(good[0].loglik - good[1].loglik) < 1.0
    parts = []
    for opt in good:  # chains 0, 1 at the best optimum, chains 2, 3 at the other one
        sd = 0.03
        w0 = opt.weights[0] + sd * rng.standard_normal((2, DRAWS))
        parts.append(
            (
                np.stack([w0, 1 - w0], -1),
                opt.intercept + sd * rng.standard_normal((2, DRAWS, 2)),
                opt.coef + sd * rng.standard_normal((2, DRAWS, 2, 1)),
                opt.sigma + 0.01 * rng.standard_normal((2, DRAWS)),
            )
        )
    w, b, c, s = (np.concatenate(a) for a in zip(*parts, strict=True))
    cmp = compare(em, posterior_tree(X, y, w, b, c, s, features=["x0"]))
    assert cmp.verdict == "inconclusive"
    mm = cmp.multimodality
    assert mm["detected"] and mm["n_modes"] == 2
    by_chain = {tuple(m["chains"]): m for m in mm["modes"]}
    assert set(by_chain) == {(0, 1), (2, 3)}
    assert by_chain[(0, 1)]["contains_em"] and not by_chain[(2, 3)]["contains_em"]
    for chains, opt in zip([(0, 1), (2, 3)], good, strict=True):
        m = by_chain[chains]
        assert m["share_chains"] == pytest.approx(0.5)
        assert m["share_draws"] == pytest.approx(0.5, abs=0.01)
        # the mode's lines are the optimum's lines, in some order
        got = sorted(zip(m["intercept"], np.ravel(m["coef"]), strict=True))
        want = sorted(zip(opt.intercept, np.ravel(opt.coef), strict=True))
        np.testing.assert_allclose(got, want, atol=0.02)
    assert any("genuinely multimodal (2 modes" in r for r in cmp.reasons)


def test_to_dict_is_json_and_matches_table(separated, rng):
    X, y, em = separated
    cmp = compare(em, posterior_tree(X, y, *draws_around(em, rng)))
    d = json.loads(json.dumps(cmp.to_dict(), allow_nan=False))
    for key in ("verdict", "parameters", "label_switching", "multimodality", "em", "sampler"):
        assert key in d
    assert d["verdict"] == cmp.verdict
    rows = pd.DataFrame(d["parameters"])
    for col in ("em", "em_se", "post_mean", "post_sd", "hdi_low", "hdi_high", "z"):
        np.testing.assert_array_equal(rows[col].to_numpy(float), cmp.table[col].to_numpy(float))
    assert rows["in_hdi"].tolist() == cmp.table["in_hdi"].tolist()
    assert d["em"]["loglik"] == em.loglik


def test_bad_input(separated, rng):
    X, y, em = separated
    tree = posterior_tree(X, y, *draws_around(em, rng))
    with pytest.raises(TypeError, match="EMResult"):
        compare({"weights": em.weights}, tree)
    with pytest.raises(TypeError, match="DataTree"):
        compare(em, {"posterior": None})
    with pytest.raises(ValueError, match=r"hdi_prob must be in \(0, 1\); got 1.5"):
        compare(em, tree, hdi_prob=1.5)
    Xdf = pd.DataFrame(X, columns=["x"])
    em3 = fit_em(Xdf, y, 3, sigma="shared", n_init=2, random_state=0)
    with pytest.raises(ValueError, match=r"3 components|K=3"):
        compare(em3, tree)
    em_c = fit_em(Xdf, y, 2, sigma="component", n_init=2, random_state=0)
    with pytest.raises(ValueError, match="same sigma setting"):
        compare(em_c, tree)
    with pytest.raises(ValueError, match="pass both X and y"):
        compare(em, tree, X=X)
    em_other = fit_em(X, y, 2, sigma="shared", n_init=2, random_state=0)  # column named x0
    with pytest.raises(ValueError, match=r"features \['x'\] do not match"):
        compare(em_other, tree)


def test_dispersed_starts(rng):
    X = rng.uniform(0, 10, size=(50, 2))
    y = rng.normal(5, 2, size=50)
    starts = dispersed_starts(X, y, 3, 4, sigma="component", rng=rng)
    assert len(starts) == 4
    for st in starts:
        assert st["weights"].shape == (3,) and st["weights"].sum() == pytest.approx(1)
        assert st["coef"].shape == (3, 2) and st["sigma"].shape == (3,)
        # each line passes through the data range at the mean of X
        level = st["intercept"] + st["coef"] @ X.mean(axis=0)
        assert np.all((level >= y.min()) & (level <= y.max()))
    assert "sigma" not in dispersed_starts(X, y, 2, 1, sigma=0.5, rng=rng)[0]


@pytest.mark.parametrize("n", [200, 100_000])
@pytest.mark.parametrize("sigma", ["shared", "component"])
def test_dispersed_starts_are_sensible_at_any_size(n, sigma):
    """Per observation, no dispersed start is more than 5 nats below one normal fitted to y
    (measured: at most 3.3; the old sd(y)/K sigma gave down to 11 at both sizes)."""
    from mlrbayes.likelihood import mixture_loglik

    X, y, _ = simulate(n, [0.5, 0.5], [0.0, 6.0], [[1.0], [-1.0]], 0.3, random_state=1)
    one_normal = -0.5 * np.log(2 * np.pi * np.var(y)) - 0.5
    rng = np.random.default_rng(0)
    for st in dispersed_starts(X, y, 2, 50, sigma=sigma, rng=rng):
        sk = np.broadcast_to(st["sigma"], (2,))
        ll = mixture_loglik(X, y, st["weights"], st["intercept"], st["coef"], sk)
        assert np.isfinite(ll) and ll / n > one_normal - 5.0


# ----------------------------------------------------------------------------- sampling
@pytest.mark.slow
def test_validate_agrees_on_separated_data():
    X, y, _ = simulate(200, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=1)
    saved = {}
    cmp = validate(
        X,
        y,
        2,
        sigma="shared",
        draws=400,  # 250 left R-hat at the 1.01 edge (1.012 with the residual-based starts)
        tune=400,
        chains=4,
        random_state=3,
        on_em=lambda em: saved.setdefault("em", em),
        on_posterior=lambda idata: saved.setdefault("idata", idata),
    )
    assert cmp.verdict == "agree", cmp.reasons
    assert saved["em"] is cmp.em and saved["idata"] is cmp.idata_raw
    t = cmp.table.set_index("name")
    # truth recovered up to labels: the EM labels put intercept ~4 first or second
    order = np.argsort(cmp.em.intercept)
    np.testing.assert_allclose(t["post_mean"][[f"intercept[{k}]" for k in order]], [0, 4], atol=0.2)
    np.testing.assert_allclose(t["post_mean"]["sigma"], 0.4, atol=0.06)
    assert (t["z"].abs() < 1).all()
    assert "2 chain(s) at EM optima" in cmp.sampler["init"]
    assert cmp.settings["priors"]["weights"]["alpha"] == 1.0


@pytest.mark.slow
def test_validate_resolves_label_switching_then_agrees():
    X, y, _ = simulate(
        240, [1 / 3] * 3, [-3.0, 0.0, 3.0], [[1.0], [-1.0], [0.0]], 0.5, random_state=3
    )
    cmp = validate(X, y, 3, sigma="shared", draws=250, tune=250, chains=4, random_state=3)
    assert cmp.label_switching["detected"], cmp.label_switching
    assert cmp.sampler["rhat_max_before"] > 1.1
    assert cmp.sampler["rhat_max_after"] <= 1.01
    assert cmp.verdict == "agree", cmp.reasons
    assert not cmp.multimodality["detected"]


@pytest.mark.slow
def test_validate_four_clouds_is_inconclusive_with_both_modes():
    X = np.resize([-1.0, 1.0], 120)[:, None]
    X, y, _ = simulate(120, [0.5, 0.5], [1.0, -1.0], [[0.0], [0.0]], 0.25, X=X, random_state=2)
    cmp = validate(X, y, 2, sigma="shared", draws=250, tune=250, chains=4, random_state=3)
    assert cmp.verdict == "inconclusive"
    mm = cmp.multimodality
    assert mm["detected"] and mm["n_modes"] == 2
    kinds = set()
    for m in mm["modes"]:
        b, c = np.asarray(m["intercept"]), np.ravel(m["coef"])
        if np.allclose(np.abs(c), 0, atol=0.15) and np.allclose(np.sort(b), [-1, 1], atol=0.15):
            kinds.add("flat lines y = -1, y = 1")
        if np.allclose(b, 0, atol=0.15) and np.allclose(np.sort(c), [-1, 1], atol=0.15):
            kinds.add("diagonals y = -x, y = x")
    assert kinds == {"flat lines y = -1, y = 1", "diagonals y = -x, y = x"}
    assert any("genuinely multimodal" in r for r in cmp.reasons)
