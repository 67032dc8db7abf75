"""Writing one output file (a plot, a page) all at once: through a temporary file in the same
folder and a rename, so a full or read-only disk leaves no partial file behind and ends in one
:class:`groklab.errors.StoreError` line.  (The results store's Parquet parts have their own
staged commit: :mod:`groklab.store`.)"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable

from .errors import StoreError


def write_atomically(path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary name beside ``path``, then rename it to ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise StoreError(f"cannot write {path}: {e.strerror or e}; nothing was written") from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder turned read-only: nothing more to do
            pass
    return path
