"""Reports: files, the numbers they carry, escaping, self-containment and atomic writing."""

import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import DRAWS, draws_around, posterior_tree

from mlrbayes.compare import compare
from mlrbayes.em import fit_em
from mlrbayes.report import figures as figures_mod
from mlrbayes.report import fmt, render_html, write_report
from mlrbayes.report import render as render_mod
from mlrbayes.simulate import simulate

EVIL = "<script>alert(1)</script>"
FIGURES = (
    "fit",
    "loglik_trace",
    "trace_before",
    "trace_after",
    "rank",
    "ppc",
    "residuals",
    "prior_posterior",
    "forest",
)


@pytest.fixture(scope="module")
def comparison():
    rng = np.random.default_rng(5)
    X, y, _ = simulate(150, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=4)
    Xdf = pd.DataFrame(X, columns=[EVIL])
    em = fit_em(Xdf, pd.Series(y, name="y & <b>"), 2, sigma="shared", n_init=3, random_state=0)
    w, b, c, s = draws_around(em, rng)
    return compare(em, posterior_tree(X, y, w, b, c, s, features=[EVIL]))


@pytest.fixture(scope="module")
def written(comparison, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    paths = write_report(comparison, out, title="Test <report>", notes=["note with <tag>"])
    return out, paths


def test_files_exist(written):
    out, paths = written
    for name in ("report.html", "report.md", "report.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 1000
    assert paths["html"] == out / "report.html"
    figs = sorted(p.name for p in (out / "report_files").iterdir())
    # one EM optimum: the census is a sentence, not a figure; no energy in a hand-built tree
    assert figs == sorted(f"{n}.png" for n in FIGURES)
    for p in (out / "report_files").iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # nothing temporary left behind
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_json_equals_comparison(written, comparison):
    out, _ = written
    d = json.loads((out / "report.json").read_text())
    for key in ("verdict", "parameters", "label_switching", "multimodality", "em", "sampler"):
        assert key in d
    assert d["verdict"] == comparison.verdict == "agree"
    rows = d["parameters"]
    assert [r["name"] for r in rows] == list(comparison.table["name"])
    for r, (_, t) in zip(rows, comparison.table.iterrows(), strict=True):
        for col in ("em", "em_se", "post_mean", "post_sd", "hdi_low", "hdi_high", "z"):
            assert r[col] == t[col], (r["name"], col)
        assert r["in_hdi"] is bool(t["in_hdi"])
    assert d["em"]["loglik"] == comparison.em.loglik
    assert d["sampler"]["n_divergent"] == 0
    assert d["report"]["notes"] == ["note with <tag>"]


def test_numbers_appear_in_html_and_markdown(written, comparison):
    out, _ = written
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    assert html.index("Verdict: agree") < html.index("Data and settings")
    assert md.index("## Verdict: agree") < md.index("## Data and settings")
    for _, r in comparison.table.iterrows():
        for col in ("em", "em_se", "post_mean", "post_sd", "hdi_low", "hdi_high"):
            assert fmt(r[col]) in html, (r["name"], col)
            assert fmt(r[col]) in md, (r["name"], col)
        assert fmt(r["z"], 3) in html and fmt(r["z"], 3) in md
    assert fmt(comparison.em.loglik) in html
    assert f"<dd>{comparison.settings['n']}</dd>" in html
    assert "| observations (n) | 150 |" in md


def test_user_strings_are_escaped(written):
    out, _ = written
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert" in html and "&lt;/script&gt;" in html
    assert "<tag>" not in html and "<report>" not in html and "<b>" not in html
    assert "&lt;tag&gt;" in html and "y &amp; &lt;b&gt;" in html
    assert "coef[0,&lt;script&gt;" in html
    # Markdown: names verbatim in code spans, prose with a backslash before "<"; no entities
    assert "&lt;" not in md and "&amp;" not in md and "\\(" not in md
    assert "| response | `y & <b>` |" in md
    assert "| `coef[0,<script>alert(1)</script>]` |" in md
    assert "# Test \\<report>" in md and "- note with \\<tag>" in md
    outside_code = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", md)
    assert re.search(r"(?<!\\)<", outside_code) is None


def test_html_is_self_contained(written):
    out, _ = written
    html = (out / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    imgs = re.findall(r'<img src="([^"]+)"', html)
    assert len(imgs) == len(FIGURES) and all(i.startswith("data:image/png;base64,") for i in imgs)


def test_markdown_links_figures_beside_it(written):
    out, _ = written
    md = (out / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == len(FIGURES)
    for link in links:
        assert not link.startswith(("/", "http")) and (out / link).is_file()


def test_failed_render_leaves_nothing_and_keeps_old_report(comparison, tmp_path, monkeypatch):
    write_report(comparison, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}

    def boom(*args, **kwargs):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(render_mod, "render_html", boom)
    with pytest.raises(RuntimeError, match="renderer failed"):
        write_report(comparison, tmp_path, title="second")
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "report_files"])

    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError):
        write_report(comparison, fresh)
    assert list(fresh.iterdir()) == []


def test_interrupt_while_rendering_figures_leaves_nothing(comparison, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(render_mod, "_png", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report(comparison, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_write_report_rejects_bad_input(comparison, tmp_path):
    with pytest.raises(TypeError, match="Comparison"):
        write_report({"verdict": "agree"}, tmp_path)
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        write_report(comparison, f)


def _two_mode_comparison():
    """Chains 0, 1 at the best EM optimum, chains 2, 3 at the other (four point clouds)."""
    rng = np.random.default_rng(1)
    X = np.resize([-1.0, 1.0], 120)[:, None]
    X, y, _ = simulate(120, [0.5, 0.5], [1.0, -1.0], [[0.0], [0.0]], 0.25, X=X, random_state=2)
    em = fit_em(X, y, 2, sigma="shared", n_init=10, random_state=0)
    parts = []
    for opt in [o for o in em.optima if not o.degenerate][:2]:
        w0 = opt.weights[0] + 0.03 * rng.standard_normal((2, DRAWS))
        parts.append(
            (
                np.stack([w0, 1 - w0], -1),
                opt.intercept + 0.03 * rng.standard_normal((2, DRAWS, 2)),
                opt.coef + 0.03 * rng.standard_normal((2, DRAWS, 2, 1)),
                opt.sigma + 0.01 * rng.standard_normal((2, DRAWS)),
            )
        )
    w, b, c, s = (np.concatenate(a) for a in zip(*parts, strict=True))
    return compare(em, posterior_tree(X, y, w, b, c, s, features=["x0"]))


def _html_modes_table(html):
    """Header cells and rows (lists of cell texts) of the HTML modes table."""
    table = re.search(r'<table id="modes-table">(.*?)</table>', html, re.S).group(1)
    header = re.findall(r"<th[^>]*>(.*?)</th>", table)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", table)]
    return header, [r for r in rows if r]


def _md_modes_table(md):
    lines = [ln for ln in md.splitlines() if ln.startswith("| mode |")]
    start = md.splitlines().index(lines[0])
    body = md.splitlines()[start:]
    header = [c.strip() for c in body[0].strip("|").split("|")]
    rows = []
    for ln in body[2:]:
        if not ln.startswith("|"):
            break
        rows.append([c.strip() for c in ln.strip("|").split("|")])
    return header, rows


def test_modes_table_headers_match_their_numbers():
    """The bug of v0.1: "share of draws" headed the share of chains. Here the two shares
    differ (set on the typed modes), so each column must show the number its header names."""
    cmp = _two_mode_comparison()
    mm = cmp.diagnosis.multimodality
    modes = tuple(
        dataclasses.replace(m, share_chains=0.5, share_draws=sd)
        for m, sd in zip(mm.modes, (0.3, 0.7), strict=True)
    )
    diag = dataclasses.replace(cmp.diagnosis, multimodality=dataclasses.replace(mm, modes=modes))
    cmp = dataclasses.replace(cmp, diagnosis=diag)
    html = render_html(cmp)
    md = render_mod.render_markdown(cmp)
    for header, rows in (_html_modes_table(html), _md_modes_table(md)):
        col_c, col_d = header.index("share of chains"), header.index("share of draws")
        assert len(rows) == 2
        for row, m in zip(rows, modes, strict=True):
            assert row[col_c] == f"{fmt(100 * m.share_chains, 3)}%" == "50%"
            assert row[col_d] == f"{fmt(100 * m.share_draws, 3)}%"
    assert [r[col_d] for r in rows] == ["30%", "70%"]
    assert [m["share_draws"] for m in cmp.to_dict()["multimodality"]["modes"]] == [0.3, 0.7]


def test_multimodal_report_lists_modes(tmp_path):
    cmp = _two_mode_comparison()
    assert cmp.verdict == "inconclusive"
    html = render_html(cmp)
    assert 'id="modes-table"' in html
    # census (several optima), the report's figures, and the modes' lines
    assert html.count("data:image/png;base64,") == len(FIGURES) + 2
    for m in cmp.multimodality["modes"]:
        assert f"{fmt(100 * m['share_chains'], 3)}%" in html
        assert f"{fmt(100 * m['share_draws'], 3)}%" in html
        for b_k in m["intercept"]:  # the lines' equations use the minus sign U+2212
            assert fmt(b_k, 3).replace("-", "\u2212") in html
    figs = render_mod.make_figures(cmp)
    try:
        ax = figs["modes"].axes[0]
        assert len(ax.lines) == 4  # K = 2 lines per mode
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == ["data", "mode 0 (EM) (50% of chains)", "mode 1 (50% of chains)"]
    finally:
        import matplotlib.pyplot as plt

        for f in figs.values():
            plt.close(f)


# ----------------------------------------------------------------------------- v0.2 report
def test_two_renders_differ_only_in_the_generation_line(comparison, tmp_path):
    first = write_report(comparison, tmp_path / "a")
    second = write_report(comparison, tmp_path / "b")
    for key in ("html", "md"):
        a = first[key].read_text().splitlines()
        b = second[key].read_text().splitlines()
        assert len(a) == len(b)
        diff = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
        assert len(diff) <= 1
        assert all("Generated by mlrbayes" in x for pair in diff for x in pair)
    for png in (tmp_path / "a" / "report_files").iterdir():
        assert png.read_bytes() == (tmp_path / "b" / "report_files" / png.name).read_bytes()
        assert b"Software" not in png.read_bytes()


def test_text_fixes(written, comparison):
    out, _ = written
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    for text in (html, md):
        assert "<=" not in text and "&lt;=" not in text and ">=" not in text
        assert "≤" in text
        assert "+ -" not in text and "+ −" not in text
        assert "relabelling method" in text and "d(relabelling" not in text
    n = comparison.em.optima[0].count
    assert len(comparison.em.optima) == 1
    assert f"All {n} starts reached the same optimum" in html and "census.png" not in md


def test_rhat_message_is_labelled_before_relabelling():
    d = {
        "label_switching": {"detected": True},
        "sampler": {
            "warnings": ["chains have not converged: max R-hat 1.536 > 1.01", "low ESS"],
            "rhat_max_after": 1.004,
        },
    }
    got = render_mod._sampler_warnings(d)
    assert got[0] == (
        "Before relabelling (expected under label switching, which was found and resolved; "
        "max R-hat after relabelling 1.004): chains have not converged: max R-hat 1.536 > 1.01"
    )
    assert got[1] == "Before relabelling: low ESS"
    d["label_switching"]["detected"] = False
    assert render_mod._sampler_warnings(d)[0] == (
        "Before relabelling: chains have not converged: max R-hat 1.536 > 1.01"
    )


def test_mcse_column_matches_the_ar1_reference():
    """AR(1) draws with coefficient rho: MCSE of the mean = sd sqrt((1 + rho) / (1 - rho) / N).
    Tolerance 25% per parameter (the ESS estimate is itself noisy), 10% on average."""
    rng = np.random.default_rng(11)
    X, y, _ = simulate(150, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=4)
    em = fit_em(X, y, 2, sigma="shared", n_init=3, random_state=0)
    rho, n_draw = 0.5, 1500
    w, b, c, s = draws_around(em, rng, rho=rho, n_draw=n_draw)
    cmp = compare(em, posterior_tree(X, y, w, b, c, s, features=["x0"]))
    got = figures_mod.mcse_mean(cmp)
    sd = cmp.table["post_sd"].to_numpy()
    want = sd * np.sqrt((1 + rho) / (1 - rho) / (4 * n_draw))
    ratio = got / want
    assert np.all(np.abs(ratio - 1) < 0.25), ratio
    assert abs(np.mean(ratio) - 1) < 0.1
    html = render_html(cmp, figures={})
    assert "MCSE of mean" in html and fmt(got[0], 2) in html


def test_energy_text_with_and_without_energy(comparison):
    html = render_html(comparison, figures={})
    assert "the sampler stored no <code>energy</code>" in html
    tree = comparison.idata_raw.copy()
    e = np.random.default_rng(0).normal(size=(4, DRAWS))
    ss = tree["sample_stats"].to_dataset().assign(energy=(("chain", "draw"), e))
    tree["sample_stats"] = xr.DataTree(ss)
    cmp = dataclasses.replace(comparison, idata_raw=tree)
    html = render_html(cmp, figures={})
    bfmi = 2 * (1 - 0.0)  # iid energy: BFMI near 2
    got = figures_mod.energy_summary(cmp)
    assert got["available"] and not got["low"]
    np.testing.assert_allclose(got["bfmi"], bfmi, rtol=0.15)
    assert "Energy BFMI per chain: " + ", ".join(f"{v:.2f}" for v in got["bfmi"]) in html
    pngs = render_mod._render_pngs(cmp, dpi=40)
    assert "energy" in pngs and "energy" not in render_mod._render_pngs(comparison, dpi=40)


def test_markdown_round_trips_through_a_commonmark_parser(tmp_path):
    """Independent reference: markdown-it (CommonMark + GFM tables) renders the names, title and
    notes back to exactly the strings given, backticks and pipes included."""
    markdown_it = pytest.importorskip("markdown_it")
    rng = np.random.default_rng(7)
    X, y, _ = simulate(150, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=4)
    name = "a`b``c | d_<i>"
    em = fit_em(
        pd.DataFrame(X, columns=[name]), pd.Series(y, name="`y`"), 2, sigma="shared", n_init=2
    )
    w, b, c, s = draws_around(em, rng)
    cmp = compare(em, posterior_tree(X, y, w, b, c, s, features=[name]))
    title, note = "Run *1* <b> [x](y) _z_ (a) \\ #", "- starts <with> a dash & 50% | pipes"
    md = render_mod.render_markdown(cmp, title=title, notes=[note])
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    from html import unescape

    assert unescape(re.search(r"<h1>(.*?)</h1>", html).group(1)) == title
    codes = [unescape(t) for t in re.findall(r"<code>(.*?)</code>", html)]
    assert name in codes and "`y`" in codes and f"coef[0,{name}]" in codes
    assert note in [unescape(t) for t in re.findall(r"<li>(.*?)</li>", html)]
    assert "<table>" in html and html.count("<table>") == md.count("\n|---")
