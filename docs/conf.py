"""Sphinx configuration of the mlrbayes documentation (``make docs``; see docs/README.md).

Decisions, in short (the reasons are in docs/README.md):

* The notebooks are rendered from **stored, executed copies** in ``docs/notebooks/``
  (``nb_execution_mode = "off"``), refreshed by ``make docs-notebooks``. The test suite already
  executes every notebook (tests/test_notebooks.py); executing them again at build time would add
  minutes of MCMC to every CI run. A stored copy whose code differs from ``notebooks/`` (or a
  notebook without a stored copy) is a build warning, so ``-W`` fails until it is refreshed.
* **intersphinx** reads small inventories shipped in ``docs/_intersphinx/`` (made by
  ``docs/_tools/make_inventories.py`` for the names the docs link to), because CI has no network.
  ``MLRBAYES_DOCS_ONLINE=1`` tries the projects' full online inventories first.
* The API reference is generated from ``__all__`` (``docs/_ext/apigen.py``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from sphinx.util import logging

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))

import mlrbayes  # noqa: E402

project = "mlrbayes"
author = "the mlrbayes developers"
copyright = "the mlrbayes developers"
version = release = mlrbayes.__version__

extensions = [
    "apigen",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax 3 served from the built site itself (docs/_build/html/_static/mathjax), so the
    # formulas render without network access (CI, an offline laptop); the package's import
    # name has hyphens, which Sphinx's importlib loader accepts.
    "sphinx-mathjax-offline",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "README.md", "_tools", "**.ipynb_checkpoints", "Thumbs.db"]
templates_path = ["_templates"]
nitpicky = False

# --------------------------------------------------------------------------- API reference
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

# --------------------------------------------------------------------------- notebooks / MyST
nb_execution_mode = "off"
# Sampler logs, progress bars and warnings go to stderr: not part of what a notebook shows.
nb_output_stderr = "remove"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]

# --------------------------------------------------------------------------- intersphinx
_INVENTORIES = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "pandas": "https://pandas.pydata.org/docs/",
    "pymc": "https://www.pymc.io/projects/docs/en/stable/",
    "arviz": "https://python.arviz.org/en/stable/",
    "xarray": "https://docs.xarray.dev/en/stable/",
    "dask": "https://docs.dask.org/en/stable/",
    "sklearn": "https://scikit-learn.org/stable/",
}
_ONLINE = os.environ.get("MLRBAYES_DOCS_ONLINE") == "1"
intersphinx_mapping = {
    name: (
        url,
        (None, str(HERE / "_intersphinx" / f"{name}.inv"))
        if _ONLINE
        else (str(HERE / "_intersphinx" / f"{name}.inv"),),
    )
    for name, url in _INVENTORIES.items()
}
intersphinx_timeout = 10

# --------------------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"mlrbayes {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False


# --------------------------------------------------------------------------- stale notebooks
def _code(path: Path) -> list[str]:
    book = json.loads(path.read_text())
    return ["".join(c["source"]) for c in book["cells"] if c["cell_type"] == "code"]


def _check_notebooks(app) -> None:
    """Warn (so -W fails) when a stored notebook copy is missing or its code is out of date."""
    log = logging.getLogger("mlrbayes.docs")
    for source in sorted((ROOT / "notebooks").glob("*.ipynb")):
        stored = HERE / "notebooks" / source.name
        if not stored.exists():
            log.warning(
                f"notebooks/{source.name} has no executed copy in docs/notebooks/: run "
                "`make docs-notebooks`"
            )
        elif _code(stored) != _code(source):
            log.warning(
                f"docs/notebooks/{source.name} is stale (its code differs from "
                f"notebooks/{source.name}): run `make docs-notebooks`"
            )


def _skip_member(app, what, name, obj, skip, options):
    """Skip scikit-learn's generated metadata-routing methods (``set_*_request``): their
    docstrings point into scikit-learn's own glossary, and scikit-learn documents them."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("builder-inited", _check_notebooks)
    app.connect("autodoc-skip-member", _skip_member)
