"""Where PyTensor keeps compiled models.

PyTensor compiles each model to C once (about a minute cold) and reuses the result from its
``base_compiledir``. When mlrbayes runs from a source checkout and the user has not set
``PYTENSOR_FLAGS``, the cache goes in ``<checkout>/.pytensor_cache`` (git-ignored) so tests, the
CLI and notebooks share one warm cache. This must run before ``pytensor`` is first imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def configure_pytensor_cache() -> str | None:
    """Set ``PYTENSOR_FLAGS=base_compiledir=...`` if unset and pytensor is not yet imported.

    Returns the directory chosen, or ``None`` when the user's setting (or an already imported
    pytensor) is left alone.
    """
    if "PYTENSOR_FLAGS" in os.environ or "pytensor" in sys.modules:
        return None
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    cache = root / ".pytensor_cache"
    os.environ["PYTENSOR_FLAGS"] = f"base_compiledir={cache}"
    return str(cache)
