"""The notebooks run top to bottom (few draws) and print what their text says they show."""

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _execute(name: str, tmp_path: Path, monkeypatch) -> str:
    """Execute a notebook in a fresh kernel; return all its text output."""
    # The kernel inherits this environment: shared PyTensor cache (set in conftest), few draws,
    # reports into the test's temporary directory.
    assert "PYTENSOR_FLAGS" in os.environ
    monkeypatch.setenv("MLRBAYES_NOTEBOOK_DRAWS", "500")
    monkeypatch.setenv("MLRBAYES_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), (
        "notebooks are committed without outputs"
    )
    client = nbclient.NotebookClient(
        book,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    texts = []
    for cell in book.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out
            if out.output_type == "stream":
                texts.append(out.text)
            elif "data" in out:
                texts.append(out["data"].get("text/plain", ""))
                texts.append(out["data"].get("text/html", ""))
    return "\n".join(texts)


@pytest.mark.slow
def test_quickstart(tmp_path, monkeypatch):
    text = _execute("01_quickstart", tmp_path, monkeypatch)
    assert "verdict: agree" in text
    assert (tmp_path / "quickstart" / "report.html").is_file()
    assert "<iframe srcdoc=" in text


@pytest.mark.slow
def test_label_switching_and_multimodality(tmp_path, monkeypatch):
    text = _execute("02_label_switching_and_multimodality", tmp_path, monkeypatch)
    assert "verdict: agree" in text and "label switching was found and resolved" in text
    assert "verdict: inconclusive" in text and "genuinely multimodal (2 modes" in text


@pytest.mark.slow
def test_tone_perception(tmp_path, monkeypatch):
    text = _execute("03_tone_perception", tmp_path, monkeypatch)
    assert "(150, 2)" in text
    assert "verdict: agree" in text
    assert (tmp_path / "tone" / "report.json").is_file()
    assert "EM SE / posterior sd ranges from" in text


def test_calibration(tmp_path, monkeypatch):
    """No sampling (EM refits only), 30 replications per study: about half a minute."""
    monkeypatch.setenv("MLRBAYES_NOTEBOOK_REPLICATIONS", "30")
    text = _execute("04_calibration", tmp_path, monkeypatch)
    assert "replications: 30" in text
    assert text.count("Calibration study: ") >= 3
    assert "recommended interval: none" in text and "the components overlap" in text
    assert "recommended: None" in text


@pytest.mark.slow
def test_model_specification(tmp_path, monkeypatch):
    text = _execute("05_model_specification", tmp_path, monkeypatch)
    assert "predictors: ['x', 'I(x ** 2)', 'site=south']" in text
    assert "gating columns: ['(Intercept)', 'w']" in text
    assert "60 groups of 5 observations" in text
    assert "verdict: agree" in text
    html = (tmp_path / "specification" / "report.html").read_text()
    assert 'id="gating-table"' in html and 'id="fig-gating"' in html
