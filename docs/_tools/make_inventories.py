"""Write the small intersphinx inventories in docs/_intersphinx/ (run by hand; output committed).

CI builds the documentation without network access, so intersphinx cannot download the
projects' ``objects.inv``. This script writes, for each linked project, an inventory holding only
the names these docs link to, with the URL each project's documentation uses for that name (the
layout of its generated API pages). The URLs could not be checked from the machine that wrote
them (no network); ``MLRBAYES_DOCS_ONLINE=1 make docs`` uses the full online inventories first,
which is how to check them. Add a name here (and re-run) when the docs link to a new one.

    .venv/bin/python docs/_tools/make_inventories.py
"""

from __future__ import annotations

import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "_intersphinx"

#: project -> (display name, {object name: (role, page relative to the project's root URL)})
PROJECTS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "python": (
        "Python",
        {
            "warnings.warn": ("function", "library/warnings.html"),
            "UserWarning": ("exception", "library/exceptions.html"),
            "ValueError": ("exception", "library/exceptions.html"),
            "TypeError": ("exception", "library/exceptions.html"),
        },
    ),
    "numpy": (
        "NumPy",
        {
            "numpy.ndarray": ("class", "reference/generated/numpy.ndarray.html"),
            "numpy.random.Generator": ("class", "reference/random/generator.html"),
            "numpy.random.SeedSequence": (
                "class",
                "reference/random/bit_generators/generated/numpy.random.SeedSequence.html",
            ),
        },
    ),
    "scipy": (
        "SciPy",
        {
            "scipy.optimize.brentq": ("function", "reference/generated/scipy.optimize.brentq.html"),
            "scipy.stats.chi2": ("data", "reference/generated/scipy.stats.chi2.html"),
        },
    ),
    "pandas": (
        "pandas",
        {"pandas.DataFrame": ("class", "reference/api/pandas.DataFrame.html")},
    ),
    "pymc": (
        "PyMC",
        {
            "pymc.sample": ("function", "api/generated/pymc.sample.html"),
            "pymc.Model": ("class", "api/generated/pymc.Model.html"),
            "pymc.NormalMixture": ("class", "api/distributions/generated/pymc.NormalMixture.html"),
            "pymc.Dirichlet": ("class", "api/distributions/generated/pymc.Dirichlet.html"),
            "pymc.HalfNormal": ("class", "api/distributions/generated/pymc.HalfNormal.html"),
        },
    ),
    "arviz": (
        "ArviZ",
        {
            "arviz.rhat": ("function", "api/generated/arviz.rhat.html"),
            "arviz.ess": ("function", "api/generated/arviz.ess.html"),
        },
    ),
    "xarray": (
        "xarray",
        {"xarray.DataTree": ("class", "generated/xarray.DataTree.html")},
    ),
    "dask": (
        "Dask",
        {
            "dask.array.Array": ("class", "generated/dask.array.Array.html"),
            "dask.dataframe.DataFrame": ("class", "generated/dask.dataframe.DataFrame.html"),
            "dask.dataframe.read_parquet": (
                "function",
                "generated/dask.dataframe.read_parquet.html",
            ),
        },
    ),
    "sklearn": (
        "scikit-learn",
        {
            "sklearn.pipeline.Pipeline": (
                "class",
                "modules/generated/sklearn.pipeline.Pipeline.html",
            ),
            "sklearn.model_selection.GridSearchCV": (
                "class",
                "modules/generated/sklearn.model_selection.GridSearchCV.html",
            ),
            "sklearn.model_selection.cross_val_score": (
                "function",
                "modules/generated/sklearn.model_selection.cross_val_score.html",
            ),
        },
    ),
}


def inventory(project: str, names: dict[str, tuple[str, str]]) -> bytes:
    """An ``objects.inv`` (version 2) for ``names``: header lines, then the zlib-compressed body."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        "# Version: stable\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = "".join(
        f"{name} py:{role} 1 {page}#$ -\n" for name, (role, page) in sorted(names.items())
    )
    return header.encode() + zlib.compress(body.encode(), 9)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for key, (project, names) in PROJECTS.items():
        (OUT / f"{key}.inv").write_bytes(inventory(project, names))
        print(f"{key}.inv: {len(names)} names")


if __name__ == "__main__":
    main()
