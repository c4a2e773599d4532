"""Writing files so that nothing is left half-written: a temporary file, then an atomic rename.

A process killed (or a disk filling up) while writing leaves the previous file, or none, never a
truncated one; the temporary file is removed on any error. This module imports no torch.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=encoding) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes reach the disk before the name points at them
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; this is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, value: Any) -> Path:
    """``value`` as indented JSON (UTF-8, non-ASCII kept), written atomically."""
    return write_text_atomic(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")
