"""Writing output files: atomic writes with ordinary file modes, strict JSON, path checks.

Used by the command line (every file it writes) and usable by the report writer. Nothing here
imports PyMC, pandas or matplotlib.

* :func:`atomic_path` yields a hidden temporary name beside the target and renames it onto the
  target only when the block succeeds; on any exception (``KeyboardInterrupt`` included) the
  temporary file is removed. The file ends with the mode an ordinary ``open(path, "w")`` would
  give it: the existing file's mode when it is overwritten, else ``0o666`` minus the umask.
* :func:`strict_json` turns NaN and infinities into ``null`` (strict parsers such as
  ``JSON.parse`` and ``jq`` reject bare ``NaN``) and NumPy scalars/arrays into plain values.
* :func:`check_output_file` and :func:`check_output_dir` say, before any expensive work, why an
  output path cannot be written, naming the user's path and the fix.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "check_output_dir",
    "check_output_file",
    "file_mode_for",
    "strict_json",
    "write_json_atomic",
    "write_text_atomic",
]


def current_umask() -> int:
    """The process umask (read without changing it where ``/proc`` allows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode_for(target: str | os.PathLike) -> int:
    """The mode ``open(target, "w")`` would leave: the existing file's, else 0o666 & ~umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    Parameters
    ----------
    path : str or PathLike
        The file to write. Its folder is created if missing.
    suffix : str
        Suffix of the temporary name (some writers choose a format by it).

    Yields
    ------
    pathlib.Path
        Write the complete file here. It is removed if the block raises (including
        ``KeyboardInterrupt``); otherwise given the ordinary mode (:func:`file_mode_for`) and
        renamed onto ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, file_mode_for(target))
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path, Path(path).suffix or ".tmp") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def strict_json(obj: Any) -> Any:
    """``obj`` with NaN/±inf as ``None`` and NumPy values as plain Python (for strict JSON)."""
    if isinstance(obj, Mapping):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict_json(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, str | bytes):
        return strict_json(obj.tolist())  # NumPy arrays and scalars
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as strict JSON (NaN/inf as null, see :func:`strict_json`) atomically."""
    text = json.dumps(strict_json(obj), indent=2, allow_nan=False) + "\n"
    return write_text_atomic(path, text)


def _first_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_parent(path: Path, flag: str, shown: str) -> None:
    """Every existing ancestor of ``path`` must be a writable directory."""
    anc = _first_existing(path.parent if str(path.parent) else Path("."))
    if not anc.is_dir():
        raise ValueError(
            f"{flag} {shown!r}: {str(anc)!r} is a file, not a directory; pass a path whose "
            "folders are directories."
        )
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ValueError(
            f"{flag} {shown!r}: cannot write in {str(anc)!r} (permission denied); pass a path "
            "in a folder you can write to."
        )


def check_output_file(path: str | os.PathLike, flag: str, example: str) -> Path:
    """Check that ``path`` can be written as a file; raise ValueError saying why not.

    Parameters
    ----------
    path : str or PathLike
        The output file the user named.
    flag : str
        The option that named it (``--json``), quoted in the message.
    example : str
        A file name to suggest (``em.json``).
    """
    p = Path(path)
    shown = str(path)
    if p.is_dir():
        raise ValueError(f"{flag} {shown!r} is a directory; pass a file name such as {example}.")
    if p.exists() and not os.access(p, os.W_OK):
        raise ValueError(f"{flag} {shown!r} is not writable (permission denied).")
    _check_parent(p, flag, shown)
    return p


def check_output_dir(path: str | os.PathLike, flag: str) -> Path:
    """Check that ``path`` is, or can be created as, a writable directory."""
    p = Path(path)
    shown = str(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{flag} {shown!r} exists and is not a directory; pass a directory.")
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise ValueError(f"{flag} {shown!r}: cannot write in it (permission denied).")
        return p
    _check_parent(p, flag, shown)
    return p
