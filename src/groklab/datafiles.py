"""Data files a user brings (``--data F.npz``): their content hash, and reading them back.

A config field made with ``param(..., file=True)`` names a file.  The file must exist when the
config is made (a one-line error otherwise); its SHA-256 enters the run id (so two files are two
runs and the same file resumes, wherever it lies) and the data key.  Reading goes through
:func:`read`, which checks the content against that hash, so a file changed after the sweep was
planned is refused instead of silently mixing two data sets.  A Ray worker gets the bytes with
its task (:mod:`groklab.backends`) and never needs the path.
"""
from __future__ import annotations

import hashlib
import io
import os
import zipfile

import numpy as np

from .errors import ConfigError

#: content shipped to this process (a Ray worker), by SHA-256
SHIPPED: dict[str, bytes] = {}
#: (real path, size, mtime_ns) -> SHA-256: a sweep asks for the same file's hash many times
_DIGESTS: dict[tuple, str] = {}


def digest(option: str, path: str) -> str:
    """The SHA-256 of the file at ``path``; ConfigError naming ``option`` when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ConfigError(option, f"{path!r}: {e.strerror.lower() if e.strerror else e}") from None
    if not os.path.isfile(path):
        raise ConfigError(option, f"{path!r} is not a file")
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError as e:
            raise ConfigError(option, f"{path!r}: {e.strerror or e}") from None
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def read(option: str, path: str, sha256: str) -> bytes:
    """The file's content, as shipped or from disk, checked against ``sha256``."""
    if sha256 in SHIPPED:
        return SHIPPED[sha256]
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise ConfigError(option, f"{path!r}: {e.strerror or e}") from None
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise ConfigError(option, f"{path!r} changed since the sweep was planned (its content "
                          "hash differs); rerun the command")
    return blob


#: how a zip archive (what numpy.savez writes) begins: a local file header, or the end-of-
#: directory record of an empty archive
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def load_npz(option: str, path: str, sha256: str, needs: str = "arrays") -> dict[str, np.ndarray]:
    """The arrays of an .npz file (no pickled objects), as a dict.  Anything else -- a plain
    .npy, a text file, a damaged archive -- is one ConfigError naming ``option``; ``needs`` says
    which arrays the archive should hold (e.g. "X (N, n), y (N,)")."""
    blob = read(option, path, sha256)
    if not blob.startswith(ZIP_MAGIC):  # np.load would read a .npy, or talk about pickles
        raise ConfigError(option, f"{path!r}: not an .npz archive (numpy.savez) with {needs}")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, TypeError) as e:
        raise ConfigError(option, f"{path!r}: not a readable .npz archive (numpy.savez) with "
                          f"{needs}: {' '.join(str(e).split())[:200]}") from None


def array(option: str, path: str, arrays: dict, name: str, ndims, kind: str = "real") -> np.ndarray:
    """``arrays[name]`` checked: ``ndims`` dimensions (an int or a tuple of allowed ones), and
    ``kind`` "real" (float64, every entry finite) or "int" (int64); ConfigError naming
    ``option`` otherwise."""
    a = arrays[name]
    if a.ndim not in (ndims if isinstance(ndims, tuple) else (ndims,)):
        raise ConfigError(option, f"{path!r}: {name} has shape {a.shape}, needs {ndims} "
                          "dimension(s)")
    if kind == "int":
        if not np.issubdtype(a.dtype, np.integer):
            raise ConfigError(option, f"{path!r}: {name} has dtype {a.dtype}, needs integers")
        return a.astype(np.int64)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ConfigError(option, f"{path!r}: {name} has dtype {a.dtype}, needs real numbers")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ConfigError(option, f"{path!r}: {name} has {int((~np.isfinite(a)).sum())} "
                          "non-finite entries (NaN or inf)")
    return a


def require(option: str, path: str, arrays: dict, names, needs: str) -> None:
    """ConfigError naming ``option`` when ``arrays`` lacks one of ``names`` (``needs``: what the
    file should hold, for the message)."""
    missing = [k for k in names if k not in arrays]
    if missing:
        raise ConfigError(option, f"{path!r} has no array {', '.join(missing)} (it has "
                          f"{', '.join(sorted(arrays)) or 'none'}; needs {needs})")


#: the smallest norm the engines divide by (they clamp there): below it a relative error is not
#: the one the docs define
TINY = 1e-300


def norm(v: np.ndarray) -> float:
    """|v| (Frobenius) without underflow: entries of 1e-200 square to 0."""
    m = float(np.abs(v).max(initial=0.0))
    return m * float(np.linalg.norm(v / m)) if m > 0 else 0.0


def nonzero(option: str, path: str, name: str, a: np.ndarray, error: str, hint: str = "") -> None:
    """ConfigError naming ``option`` when ``a`` is all zeros (or its norm is below :data:`TINY`):
    ``error``, the relative error that divides by its norm, would be undefined."""
    n = norm(a)
    if not n >= TINY:
        what = "is all zeros" if n == 0 else f"has norm {n:.3g}, below {TINY:g}"
        raise ConfigError(option, f"{path!r}: {name} {what} (the {error} is undefined){hint}")

