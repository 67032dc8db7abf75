"""Your own sparse-recovery data (``--data F.npz``): the arrays, checked, with one-line errors.

The file holds ``X`` (N, n), the design; ``y`` (N,), the targets; and optionally ``a_star``
(n,), the code to recover.  Without ``a_star`` there is nothing to generalize to: the test
metrics are null and only the train metrics and t1 are read.  numpy only (the config checks a
file when it is made, before torch is loaded).  docs/families/sparse-recovery.md#your-own-data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...datafiles import array, load_npz, nonzero, require
from ...errors import ConfigError

OPTION = "data"
NEEDS = "arrays X (N, n), y (N,), optional a_star (n,)"


@dataclass(frozen=True)
class SparseArrays:
    X: np.ndarray  # (N, n) float64
    y: np.ndarray  # (N,) float64
    a_star: np.ndarray | None  # (n,) float64, or None: no ground truth


_CACHE: dict[str, SparseArrays] = {}


def read(path: str, sha256: str) -> SparseArrays:
    """The checked arrays of the file (parsed once per content)."""
    if sha256 in _CACHE:
        return _CACHE[sha256]
    z = load_npz(OPTION, path, sha256, NEEDS)
    require(OPTION, path, z, ("X", "y"), NEEDS)
    X = array(OPTION, path, z, "X", 2)
    y = array(OPTION, path, z, "y", 1)
    N, n = X.shape
    if N < 1 or n < 1:
        raise ConfigError(OPTION, f"{path!r}: X has shape {X.shape}; needs N >= 1 rows, n >= 1")
    if y.shape != (N,):
        raise ConfigError(OPTION, f"{path!r}: y has shape {y.shape}, X has {N} rows: needs ({N},)")
    a_star = None
    if "a_star" in z:
        a_star = array(OPTION, path, z, "a_star", 1)
        if a_star.shape != (n,):
            raise ConfigError(OPTION, f"{path!r}: a_star has shape {a_star.shape}, X has {n} "
                              f"columns: needs ({n},)")
        nonzero(OPTION, path, "a_star", a_star, "test error |a - a*| / |a*|",
                "; leave it out instead")
    # with or without a_star: the train error divides by |y|
    nonzero(OPTION, path, "y", y, "train error |Xa - y| / |y|")
    arrays = SparseArrays(X=X, y=y, a_star=a_star)
    _CACHE[sha256] = arrays
    return arrays
