"""Your own matrix data (``--data F.npz``): the arrays, checked, with one-line errors.

* completion: ``rows`` (N,), ``cols`` (N,) integer indices of the observed entries, ``values``
  (N,) what was observed there, ``shape`` (2,) = (n1, n2) (optional when ``A_star`` is given);
* sensing: ``X`` (N, n1, n2) measurement matrices (or (N, n1 n2), rows vec(X_i) row-major, with
  ``shape``), ``y`` (N,) the measurements;
* both: optionally ``A_star`` (n1, n2), the matrix to recover.  Without it the test metrics are
  null and only the train metrics and t1 are read.

numpy only (the config checks a file when it is made, before torch is loaded).
docs/families/matrix.md#your-own-data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...datafiles import array, load_npz, nonzero, require
from ...errors import ConfigError

OPTION = "data"
#: what each kind of file holds, for the messages
NEEDS = {"completion": "arrays rows, cols, values (N,), shape (2,) or A_star (n1, n2)",
         "sensing": "arrays X (N, n1, n2) or (N, n1 n2) with shape, y (N,)"}


@dataclass(frozen=True)
class MatrixArrays:
    shape: tuple[int, int]
    A_star: np.ndarray | None  # (n1, n2) or None: no ground truth
    rows: np.ndarray | None = None  # (N,) completion
    cols: np.ndarray | None = None
    values: np.ndarray | None = None
    X: np.ndarray | None = None  # (N, n1 n2) sensing, rows vec(X_i)
    y: np.ndarray | None = None  # (N,) sensing

    @property
    def n_obs(self) -> int:
        return len(self.values) if self.values is not None else len(self.y)


_CACHE: dict[tuple[str, str], MatrixArrays] = {}


def _shape_and_truth(path, z, shape_needed: bool):
    A_star = array(OPTION, path, z, "A_star", 2) if "A_star" in z else None
    if "shape" in z:
        s = array(OPTION, path, z, "shape", 1, kind="int")
        if s.shape != (2,) or (s < 1).any():
            raise ConfigError(OPTION, f"{path!r}: shape is {s.tolist()}, needs (n1, n2) >= 1")
        shape = (int(s[0]), int(s[1]))
        if A_star is not None and A_star.shape != shape:
            raise ConfigError(OPTION, f"{path!r}: A_star has shape {A_star.shape}, shape says "
                              f"{shape}")
    elif A_star is not None:
        shape = tuple(int(v) for v in A_star.shape)
    elif shape_needed:
        raise ConfigError(OPTION, f"{path!r} has neither shape nor A_star: the matrix size is "
                          "unknown")
    else:
        shape = None
    if A_star is not None:
        nonzero(OPTION, path, "A_star", A_star, "test error |A - A*|_F / |A*|_F",
                "; leave it out instead")
    return shape, A_star


def read(kind: str, path: str, sha256: str) -> MatrixArrays:
    """The checked arrays of a completion or sensing file (parsed once per content)."""
    key = (kind, sha256)
    if key in _CACHE:
        return _CACHE[key]
    z = load_npz(OPTION, path, sha256, NEEDS[kind])
    if kind == "completion":
        require(OPTION, path, z, ("rows", "cols", "values"), NEEDS[kind])
        shape, A_star = _shape_and_truth(path, z, shape_needed=True)
        rows, cols = (array(OPTION, path, z, k, 1, kind="int") for k in ("rows", "cols"))
        values = array(OPTION, path, z, "values", 1)
        N = len(values)
        if not (len(rows) == len(cols) == N >= 1):
            raise ConfigError(OPTION, f"{path!r}: rows, cols, values have lengths {len(rows)}, "
                              f"{len(cols)}, {N}: need one equal length >= 1")
        for name, idx, n in (("rows", rows, shape[0]), ("cols", cols, shape[1])):
            if (idx < 0).any() or (idx >= n).any():
                raise ConfigError(OPTION, f"{path!r}: {name} has indices outside [0, {n - 1}] "
                                  f"(shape {shape})")
        flat = rows * shape[1] + cols
        if len(np.unique(flat)) != N:
            raise ConfigError(OPTION, f"{path!r}: {N - len(np.unique(flat))} observed entries "
                              "appear twice")
        nonzero(OPTION, path, "values", values, "train error |P_Omega(A) - values| / |values|")
        out = MatrixArrays(shape=shape, A_star=A_star, rows=rows, cols=cols, values=values)
    else:
        require(OPTION, path, z, ("X", "y"), NEEDS[kind])
        Xr = array(OPTION, path, z, "X", (2, 3))
        shape, A_star = _shape_and_truth(path, z, shape_needed=Xr.ndim == 2)
        if Xr.ndim == 3:
            if shape is not None and Xr.shape[1:] != shape:
                raise ConfigError(OPTION, f"{path!r}: X has shape {Xr.shape}, the matrices are "
                                  f"{shape}")
            shape = (int(Xr.shape[1]), int(Xr.shape[2]))
            Xr = Xr.reshape(Xr.shape[0], -1)
        elif Xr.shape[1] != shape[0] * shape[1]:
            raise ConfigError(OPTION, f"{path!r}: X has {Xr.shape[1]} columns, shape {shape} needs "
                              f"{shape[0] * shape[1]}")
        y = array(OPTION, path, z, "y", 1)
        if y.shape != (Xr.shape[0],) or not len(y):
            raise ConfigError(OPTION, f"{path!r}: y has shape {y.shape}, X has {Xr.shape[0]} "
                              "measurements")
        nonzero(OPTION, path, "y", y, "train error |X vec(A) - y| / |y|")
        out = MatrixArrays(shape=shape, A_star=A_star, X=Xr, y=y)
    _CACHE[key] = out
    return out
