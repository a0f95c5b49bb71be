"""The report's parts of the extended model: gating table and figure, fixed coefficients,
group memberships, in HTML, Markdown and JSON; the EM-vs-posterior table covers every
parameter. A plain model's report has none of them.

The extended comparison is constructed: an EM result set to the known truth and hand-built
draws around it (the layers under test only read their fields). Its memberships are checked
against explicit scipy loops.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from helpers import draws_around, posterior_tree
from scipy import stats
from spec_helpers import TRUTH, extended_em, extended_frame

from mlrbayes.compare import compare
from mlrbayes.em import fit_em
from mlrbayes.posterior.draws import PosteriorDraws
from mlrbayes.report import write_report
from mlrbayes.simulate import simulate
from mlrbayes.specparts import prior_membership_curves

CHAINS, DRAWS, NOISE = 4, 150, 0.01


def _reference_memberships(df: pd.DataFrame) -> np.ndarray:
    """Group memberships at the truth by explicit loops (scipy), shape (n_groups, 2)."""
    out = []
    for _, sub in df.groupby("id", sort=False):
        eta = TRUTH["gating"][:, 0] + TRUTH["gating"][:, 1] * sub["w"].iloc[0]
        prior = np.exp(eta) / np.exp(eta).sum()
        mean = (
            TRUTH["intercept"][None, :]
            + np.outer(sub["x"], TRUTH["coef"][:, 0])
            + TRUTH["fixed"][0] * sub["u"].to_numpy()[:, None]
        )
        dens = stats.norm.pdf(sub["y"].to_numpy()[:, None], mean, TRUTH["sigma"]).prod(axis=0)
        out.append(prior * dens / np.sum(prior * dens))
    return np.array(out)


@pytest.fixture(scope="module")
def frame():
    return extended_frame(n_groups=60, size=3, seed=11)


@pytest.fixture(scope="module")
def spec_comparison(frame):
    em, data = extended_em(frame)
    ref = _reference_memberships(frame)
    em = dataclasses.replace(
        em,
        intercept=TRUTH["intercept"].copy(),
        coef=TRUTH["coef"].copy(),
        sigma=TRUTH["sigma"],
        weights=ref.mean(axis=0),
        responsibilities=ref[data.groups],
    )
    rng = np.random.default_rng(2)
    shape = (CHAINS, DRAWS)
    b = TRUTH["intercept"] + NOISE * rng.normal(size=(*shape, 2))
    c = TRUTH["coef"] + NOISE * rng.normal(size=(*shape, 2, 1))
    s = TRUTH["sigma"] + NOISE * rng.normal(size=shape)
    w0 = em.weights[0] + NOISE * rng.normal(size=shape)
    w = np.stack([w0, 1 - w0], axis=-1)
    g = TRUTH["gating"] + NOISE * rng.normal(size=(*shape, 2, 2))
    g -= g.mean(axis=2, keepdims=True)  # centred per draw
    f = TRUTH["fixed"] + NOISE * rng.normal(size=(*shape, 1))
    tree = posterior_tree(data.X, data.y, w, b, c, s)
    draws = dataclasses.replace(
        PosteriorDraws.from_datatree(tree),
        gating=g,
        fixed=f,
        concomitant_names=tuple(data.concomitant_names),
        fixed_names=tuple(data.fixed_names),
    )
    return compare(em, draws, X=data), ref, g, f


@pytest.fixture(scope="module")
def spec_written(spec_comparison, tmp_path_factory):
    out = tmp_path_factory.mktemp("spec_report")
    write_report(spec_comparison[0], out, title="extended model")
    return out


def test_table_covers_gating_and_fixed_rows(spec_comparison):
    cmp, _, g, f = spec_comparison
    table = cmp.table.set_index("name")
    for k in range(2):
        for j, name in enumerate(["(Intercept)", "w"]):
            row = table.loc[f"gating[{k},{name}]"]
            assert row["em"] == TRUTH["gating"][k, j]
            assert row["post_mean"] == pytest.approx(g[..., k, j].mean(), rel=1e-12, abs=1e-14)
    assert table.loc["fixed[u]", "em"] == TRUTH["fixed"][0]
    assert table.loc["fixed[u]", "post_mean"] == pytest.approx(f[..., 0].mean(), rel=1e-12)
    assert table.loc["fixed[u]", "post_sd"] == pytest.approx(f[..., 0].std(ddof=1), rel=1e-12)
    assert list(cmp.convergence["name"]) == list(cmp.table["name"])


def test_json_has_the_specification(spec_written, spec_comparison):
    _, ref, _, _ = spec_comparison
    d = json.loads((spec_written / "report.json").read_text())
    spec = d["specification"]
    assert spec["weighted"] is True
    assert spec["gating"]["names"] == ["(Intercept)", "w"]
    assert [r["name"] for r in spec["gating"]["rows"]] == [
        "gating[0,(Intercept)]", "gating[0,w]", "gating[1,(Intercept)]", "gating[1,w]"
    ]  # fmt: skip
    assert [r["name"] for r in spec["fixed"]["rows"]] == ["fixed[u]"]
    groups = spec["groups"]
    assert groups["n_groups"] == 60 and groups["sizes"] == [3] * 60
    np.testing.assert_allclose(groups["em_membership"], ref, rtol=1e-12, atol=1e-15)
    # draws within 0.01 of the truth: the posterior mean membership is near the truth's
    np.testing.assert_allclose(groups["post_membership"], ref, atol=0.05)
    assert groups["assigned"] == np.argmax(ref, axis=1).tolist()
    names = [r["name"] for r in d["parameters"]]
    assert "gating[1,w]" in names and "fixed[u]" in names


def test_html_and_markdown_show_the_parts(spec_written):
    html = (spec_written / "report.html").read_text()
    for marker in ('id="specification"', 'id="gating-table"', 'id="fixed-table"',
                   'id="groups-table"', 'id="fig-gating"', 'id="fig-groups"'):  # fmt: skip
        assert marker in html, marker
    assert "the 60 groups' 20 least clearly assigned are listed" in html
    table = html[html.index('id="groups-table"') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr><td") == 20
    md = (spec_written / "report.md").read_text()
    for marker in ("## Model specification", "### Gating model", "### Fixed coefficients",
                   "### Group memberships", "report_files/gating.png",
                   "report_files/groups.png", "| `fixed[u]` |"):  # fmt: skip
        assert marker in md, marker
    figs = {p.name for p in (spec_written / "report_files").iterdir()}
    assert {"gating.png", "groups.png"} <= figs


def test_gating_curve_numbers(spec_comparison):
    cmp, _, g, _ = spec_comparison
    (curve,) = prior_membership_curves(cmp.em, cmp.draws, cmp.dataset, n_grid=5, prob=0.9)
    wmin, wmax = cmp.dataset.concomitant[:, 1].min(), cmp.dataset.concomitant[:, 1].max()
    np.testing.assert_allclose(curve["grid"], np.linspace(wmin, wmax, 5))
    eta = TRUTH["gating"][:, 0] + np.outer(curve["grid"], TRUTH["gating"][:, 1])
    expected = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(curve["em"], expected, rtol=1e-12)
    # the band: pointwise 5% / 95% quantiles of softmax over the draws (400 of the 600 used)
    eta_d = g[..., 0][..., None, :] + g[..., 1][..., None, :] * curve["grid"][:, None]
    p = np.exp(eta_d) / np.exp(eta_d).sum(axis=-1, keepdims=True)  # (C, D, grid, K)
    low, high = np.quantile(p.reshape(-1, 5, 2), [0.05, 0.95], axis=0)
    np.testing.assert_allclose(curve["low"], low, atol=2e-3)
    np.testing.assert_allclose(curve["high"], high, atol=2e-3)


def test_plain_report_has_no_specification_parts(tmp_path):
    rng = np.random.default_rng(5)
    X, y, _ = simulate(120, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=4)
    em = fit_em(X, y, 2, sigma="shared", n_init=2, random_state=0)
    w, b, c, s = draws_around(em, rng)
    cmp = compare(em, posterior_tree(X, y, w, b, c, s, features=["x0"]))
    assert cmp.to_dict()["specification"] == {
        "gating": None, "fixed": None, "groups": None, "weighted": False
    }  # fmt: skip
    write_report(cmp, tmp_path)
    assert 'id="specification"' not in (tmp_path / "report.html").read_text()
    assert "Model specification" not in (tmp_path / "report.md").read_text()
    assert not (tmp_path / "report_files" / "gating.png").exists()
