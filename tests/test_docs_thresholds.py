"""The thresholds the user guide quotes are the ones the code uses, and the API reference is whole.

docs/guide/verdict.md has one table row per threshold: its code reference (a constant such as
``mlrbayes.findings.MINOR_MODE_MASS`` or a keyword default such as
``mlrbayes.compare.compare(rhat_max=)``) and the value the page states. These tests read the
table, look each reference up in the code and compare; they also check that every threshold the
code defines has a row, so a constant added without its documentation fails as well.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VERDICT = ROOT / "docs" / "guide" / "verdict.md"

# A table row: | name | `code reference` | value | ... |
_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|")
_KEYWORD = re.compile(r"^(?P<func>[\w.]+)\((?P<kw>\w+)=\)$")


def quoted_thresholds(text: str) -> dict[str, float]:
    """``{code reference: value}`` from the threshold table of the verdict page."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if not m or not m.group(2).startswith("mlrbayes."):
            continue
        ref, value = m.group(2), m.group(3)
        if ref in out:
            raise AssertionError(f"{ref} is quoted twice in {VERDICT.name}: state it once")
        out[ref] = float(value)
    return out


def _resolve_object(dotted: str):
    """Import the longest module prefix of ``dotted`` and getattr the rest."""
    return pkgutil.resolve_name(dotted)


def code_value(ref: str) -> float:
    """The value in the code for a table reference (constant or keyword default)."""
    m = _KEYWORD.match(ref)
    if m:
        func = _resolve_object(m.group("func"))
        default = inspect.signature(func).parameters[m.group("kw")].default
        assert default is not inspect.Parameter.empty, f"{ref}: no default"
        return float(default)
    return float(_resolve_object(ref))


def test_parser_reads_constants_and_keywords():
    text = (
        "| a | `mlrbayes.findings.MINOR_MODE_MASS` | 0.01 | x |\n"
        "| b | `mlrbayes.compare.compare(z_max=)` | 3 | y |\n"
        "| code | when |\n| `partial` | not a threshold |\n"
    )
    assert quoted_thresholds(text) == {
        "mlrbayes.findings.MINOR_MODE_MASS": 0.01,
        "mlrbayes.compare.compare(z_max=)": 3.0,
    }
    with pytest.raises(AssertionError, match="quoted twice"):
        quoted_thresholds(text + text)


def test_quoted_values_match_the_code():
    quoted = quoted_thresholds(VERDICT.read_text())
    assert len(quoted) >= 20, "the threshold table was not found"
    wrong = {
        ref: (value, code_value(ref))
        for ref, value in quoted.items()
        if not math.isclose(value, code_value(ref), rel_tol=1e-12)
    }
    assert not wrong, f"guide value != code value (page, code): {wrong}"


def test_a_changed_constant_is_caught(monkeypatch):
    """The check fails when the code changes alone (and, symmetrically, the page)."""
    findings = importlib.import_module("mlrbayes.findings")
    monkeypatch.setattr(findings, "MINOR_MODE_MASS", 0.02)
    quoted = quoted_thresholds(VERDICT.read_text())
    ref = "mlrbayes.findings.MINOR_MODE_MASS"
    assert not math.isclose(quoted[ref], code_value(ref))
    edited = VERDICT.read_text().replace("`mlrbayes.findings.WALD_SD_RATIO` | 1.5", "`x` | 1.5")
    assert "mlrbayes.findings.WALD_SD_RATIO" not in quoted_thresholds(edited)


def _required() -> set[str]:
    """Every threshold the code defines: the numeric constants of mlrbayes.findings, the
    census constants of fit_em, and the threshold keywords of compare, diagnose, validate and
    fit_em."""
    findings = importlib.import_module("mlrbayes.findings")
    out = {
        f"mlrbayes.findings.{name}"
        for name in findings.__all__
        if name.isupper() and isinstance(getattr(findings, name), int | float)
    }
    out |= {"mlrbayes.em.fit.CENSUS_MIN_STARTS", "mlrbayes.em.fit.CENSUS_MIN_SHARE"}
    out |= {
        f"mlrbayes.calibration.{name}"
        for name in ("COVERAGE_TOLERANCE_MIN", "COVERAGE_TOLERANCE_MC", "OVERLAP_MAX_RESP",
                     "WEAK_WEIGHT")
    }  # fmt: skip
    out.add("mlrbayes.workflow.POSTERIOR_MAX_ROWS")
    keywords = {
        "mlrbayes.compare.compare": (
            "rhat_max",
            "ess_min_per_chain",
            "z_max",
            "se_ratio_max",
            "hdi_prob",
        ),
        "mlrbayes.diagnostics.diagnose": ("rhat_threshold", "switch_threshold", "mode_threshold"),
        "mlrbayes.workflow.validate": ("hdi_prob",),
        "mlrbayes.em.fit_em": ("min_weight", "min_sigma_ratio"),
    }
    for func, names in keywords.items():
        params = inspect.signature(_resolve_object(func)).parameters
        out |= {f"{func}({kw}=)" for kw in names if kw in params}
        out |= {
            f"{func}({kw}=)"
            for kw in params
            if re.search(r"(threshold|_max|_min|_tol)$", kw) and kw != "max_iter"
        }
    return out


def test_every_threshold_in_the_code_is_documented():
    quoted = quoted_thresholds(VERDICT.read_text())
    missing = sorted(_required() - set(quoted))
    assert not missing, f"thresholds in the code without a row in {VERDICT.name}: {missing}"


def test_every_public_name_has_an_api_page():
    """The API reference is generated from __all__: every public name of the package and of
    each documented module is listed on a generated page (docs/_ext/apigen.py)."""
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        apigen = importlib.import_module("apigen")
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))
    import mlrbayes

    listing = apigen.public_names()
    top = {n for n, *_ in listing[""]}
    assert top == {n for n in mlrbayes.__all__ if not n.startswith("__")}
    assert "findings" in listing and "em" in listing and "cli" not in listing
    for mod, rows in listing.items():
        module = importlib.import_module("mlrbayes" + (f".{mod}" if mod else ""))
        assert {n for n, *_ in rows} == {n for n in module.__all__ if not n.startswith("__")}
        for name, home, home_name in rows:
            # Each object is documented once, on its home page, which lists it as its own.
            assert (home_name, home, home_name) in listing[home], (mod, name, home)
            home_module = importlib.import_module("mlrbayes" + (f".{home}" if home else ""))
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                assert getattr(home_module, home_name) is obj
