"""The HTML report in a real browser: nothing overflows horizontally and every figure loads.

Renders a report (hostile column names, a wide comparison table) and opens a copy of it in
headless Chromium at phone, narrow-laptop and laptop widths. A small wrapper page (the report
itself has no script) shows the report in an iframe of the width under test, measures it after
load and writes the result into its DOM, which ``--dump-dom`` prints.
"""

import json
import re
import shutil
import subprocess
from html import escape

import numpy as np
import pandas as pd
import pytest
from helpers import draws_around, posterior_tree

from mlrbayes.compare import compare
from mlrbayes.em import fit_em
from mlrbayes.report import write_report
from mlrbayes.simulate import simulate

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH (apt-get install chromium) - the layout check needs a browser",
)

WIDTHS = (390, 800, 1366)

# The report is shown in an iframe of the width under test (headless Chromium keeps windows at
# least 500 px wide); the iframe's srcdoc shares the wrapper's origin, so the wrapper's script can
# measure it after every image has loaded and write {overflow, offenders, images} into <pre>.
WRAPPER = """<!DOCTYPE html><html><head><meta charset="utf-8"></head>
<body style="margin:0">
<iframe id="r" style="border:0;width:%dpx;height:1000px" srcdoc="%s"></iframe>
<script>
document.getElementById("r").addEventListener("load", function () {
  var doc = this.contentDocument, win = this.contentWindow;
  var vw = doc.documentElement.clientWidth;
  var offenders = [];
  doc.querySelectorAll("body *").forEach(function (el) {
    if (el.closest(".scroll") && !el.classList.contains("scroll")) return;
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 1) offenders.push(el.tagName + "#" + el.id + ":" + r.right);
  });
  var imgs = Array.prototype.map.call(doc.images, function (im) {
    return {alt: im.alt, ok: im.complete && im.naturalWidth > 0,
            w: im.getBoundingClientRect().width};
  });
  var out = document.createElement("pre");
  out.id = "check";
  out.textContent = JSON.stringify({
    viewport: vw,
    scrollWidth: doc.documentElement.scrollWidth,
    offenders: offenders.slice(0, 20),
    images: imgs,
    innerWidth: win.innerWidth
  });
  document.body.appendChild(out);
});
</script></body></html>"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    rng = np.random.default_rng(3)
    X, y, _ = simulate(150, [0.4, 0.6], [0.0, 4.0], [[1.5], [-1.5]], 0.4, random_state=4)
    name = "a_very_long_predictor_name_without_any_break_<b>`tick`</b>"
    Xdf, ys = pd.DataFrame(X, columns=[name]), pd.Series(y, name="y")
    em = fit_em(Xdf, ys, 2, sigma="shared", n_init=3, random_state=0)
    w, b, c, s = draws_around(em, rng)
    comp = compare(em, posterior_tree(X, y, w, b, c, s, features=[name]))
    out = tmp_path_factory.mktemp("browser")
    paths = write_report(comp, out)
    html = paths["html"].read_text(encoding="utf-8")
    assert "<script" not in html  # the report itself runs no code
    return out, html


def _measure(out, html, width):
    probe = out / f"probe-{width}.html"
    probe.write_text(WRAPPER % (width, escape(html, quote=True)), encoding="utf-8")
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--virtual-time-budget=10000",
        f"--window-size={max(width, 500) + 40},1200",
        "--dump-dom",
        probe.as_uri(),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    m = re.search(r'<pre id="check">(.*?)</pre>', res.stdout, re.S)
    assert m, f"no measurement in chromium's DOM (exit {res.returncode}): {res.stderr[-2000:]}"
    text = m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    return json.loads(text.replace("&amp;", "&"))


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_overflows_and_every_figure_loads(page, width):
    out, html = page
    res = _measure(out, html, width)
    assert res["innerWidth"] == width
    assert res["scrollWidth"] <= res["viewport"], res["offenders"]
    assert res["offenders"] == []
    n_img = html.count("<img ")
    assert n_img >= 8 and len(res["images"]) == n_img
    bad = [im["alt"] for im in res["images"] if not im["ok"]]
    assert bad == []
    # figures are scaled to the page, never wider than the viewport
    assert max(im["w"] for im in res["images"]) <= res["viewport"]
