"""Execute notebooks/*.ipynb into docs/notebooks/, extract their figures (make docs-notebooks).

The site renders these stored, executed copies (``nb_execution_mode = "off"`` in docs/conf.py);
the sources in ``notebooks/`` stay without outputs (tests/test_notebooks.py checks that and runs
them with few draws). Each notebook runs in a fresh kernel with its default settings unless
``MLRBAYES_NOTEBOOK_DRAWS`` is set; the reports it writes go to a temporary directory. Every PNG
output is also written to ``docs/guide/figures/<notebook>-<cell>-<k>.png`` so the user guide can
show the notebooks' figures (a figure the guide names that no longer exists fails the -W build).

    .venv/bin/python docs/_tools/execute_notebooks.py [NAME ...]
"""

from __future__ import annotations

import base64
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "notebooks"
STORED = ROOT / "docs" / "notebooks"
FIGURES = ROOT / "docs" / "guide" / "figures"


def execute(path: Path, out_dir: Path) -> nbformat.NotebookNode:
    """Run one notebook top to bottom in a fresh kernel (in notebooks/, like a user would)."""
    book = nbformat.read(path, as_version=4)
    os.environ["MLRBAYES_NOTEBOOK_OUT"] = str(out_dir)
    client = nbclient.NotebookClient(
        book, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(SOURCE)}}
    )
    client.execute()
    for cell in book.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                raise RuntimeError(f"{path.name}: a cell failed: {out.ename}: {out.evalue}")
    return book


def _is_empty(output) -> bool:
    """A display with no visible content (a finished terminal progress bar leaves an empty
    ``<pre>`` and an empty text/plain behind)."""
    if output.get("output_type") != "display_data":
        return False
    data = output.get("data", {})
    text = "".join(data.get("text/plain", ""))
    html = "".join(data.get("text/html", ""))
    bare = re.sub(r"<[^>]*>", "", html)
    return set(data) <= {"text/plain", "text/html"} and not text.strip() and not bare.strip()


def drop_empty_outputs(book: nbformat.NotebookNode) -> None:
    """Remove the empty displays from every code cell (they render as blank boxes)."""
    for cell in book.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not _is_empty(o)]


def save_figures(stem: str, book: nbformat.NotebookNode) -> int:
    """Write every PNG output of ``book``; remove the notebook's figures that no longer exist."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    for old in FIGURES.glob(f"{stem}-*.png"):
        old.unlink()
    count = 0
    code_cells = [c for c in book.cells if c.cell_type == "code"]
    for i, cell in enumerate(code_cells):
        outputs = cell.get("outputs", [])
        pngs = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
        for k, data in enumerate(pngs):
            (FIGURES / f"{stem}-{i:02d}-{k}.png").write_bytes(base64.b64decode(data))
            count += 1
    return count


def main(names: list[str]) -> None:
    paths = sorted(SOURCE.glob("*.ipynb"))
    if names:
        paths = [p for p in paths if p.stem in names or p.name in names]
    STORED.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            start = time.perf_counter()
            book = execute(path, Path(tmp))
            # Execution metadata (timestamps) would make every refresh a diff of every cell.
            for cell in book.cells:
                cell.metadata.pop("execution", None)
            drop_empty_outputs(book)
            nbformat.write(book, STORED / path.name)
            n_fig = save_figures(path.stem, book)
            print(f"{path.name}: {time.perf_counter() - start:.0f} s, {n_fig} figures")


if __name__ == "__main__":
    main(sys.argv[1:])
