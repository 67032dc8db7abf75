"""Depth-1 matrix completion / sensing on the CPU through the lockstep Jacobi kernel of
:mod:`.numba_kernel` (compiled with numba), with the torch engine as the fallback.

``GROKLAB_MATRIX_KERNEL`` picks the backend: ``auto`` (default: the kernel when numba imports and
compiles it and the batch fits -- depth 1, CPU, min(n1, n2) <= MAX_DIM), ``numba`` (the kernel or
an error; ``c``, the name from when the kernel was C, means the same), ``torch`` (never the
kernel).  When ``auto`` cannot use the kernel for a batch that fits, one line on stderr (once per
process) says why and that the torch path is ~10x slower; choosing ``torch`` explicitly is silent.
Results agree with the torch engine to rounding (tests/test_matrix.py), except where the
subgradient dynamics amplify it: converged runs whose tail singular values bounce at ~lr*nuclear
part ways with any other SVD code (README, "Depth-1 matrix runs").

Safety: groklab compiles and loads no shared library of its own.  numba keeps the compiled kernel
in its cache (``__pycache__`` beside numba_kernel.py when that is writable, else the user's cache
directory; ``NUMBA_CACHE_DIR`` overrides), next to the code it was compiled from and as
trustworthy.  numba checks no index at run time, so :meth:`KernelState.advance` checks every array
it hands over -- shape, dtype, layout, data-set indices -- and raises ValueError instead.

Layout.  Inside the kernel a run's matrix is m x n column-major with m >= n: for n2 >= n1 that is
the row-major (n1, n2) torch buffer read as A^T, for n1 > n2 it is A itself (transposed on the way
in and out).  A group holds 8 runs (of one data set, for sensing); lane l of element e sits at
[e, l].
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from .config import kernel_mode

try:  # numba is a dependency, but a broken or missing one must leave the torch path working
    from . import numba_kernel as _numba_kernel
    _IMPORT_ERROR: str | None = None
except Exception as e:  # noqa: BLE001 -- ImportError, or a numba / llvmlite that fails to load
    _numba_kernel = None
    _IMPORT_ERROR = f"numba does not import: {type(e).__name__}: {e}"

LANES = 8  # runs per lockstep group (numba_kernel.LN)
MAX_DIM = 64  # min(n1, n2) above this: LAPACK's O(n^3) SVD beats O(sweeps n^3) Jacobi
SLOWER = "~10x slower"  # the torch path per run-step, figure-6 grid (benchmarks/bench_matrix.py)

_compiled = False
_error: str | None = None
_noticed = False


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def available() -> bool:
    """Whether the kernel is compiled (compiling it, or loading numba's cache, on first use)."""
    global _compiled, _error
    if not _compiled and _error is None:
        if _numba_kernel is None:
            _error = _IMPORT_ERROR
        else:
            try:
                _numba_kernel.compile_kernels()
                _compiled = True
            except Exception as e:  # noqa: BLE001 -- any failure means: use torch, and say so
                what = e if isinstance(e, _numba_kernel.BuildError) else f"{type(e).__name__}: {e}"
                _error = f"numba could not compile or load it: {what}"
    return _compiled


def unavailable_reason() -> str | None:
    available()
    return None if _error is None else _one_line(_error)


def notice_fallback(reason: str) -> None:
    """One line on stderr, once per process: the kernel is not used, why, and what it costs."""
    global _noticed
    if _noticed:
        return
    _noticed = True
    print(f"groklab: the compiled matrix kernel is unavailable ({_one_line(reason)}); depth-1 "
          f"matrix runs on the CPU fall back to the {SLOWER} torch path "
          "(GROKLAB_MATRIX_KERNEL=torch chooses it silently)", file=sys.stderr, flush=True)


def mode() -> str:
    return kernel_mode()


def fits(depth: int, n1: int, n2: int, device) -> bool:
    """Whether the kernel handles such a batch at all (a design limit, not a failure)."""
    return depth == 1 and torch.device(device).type == "cpu" and 1 <= min(n1, n2) <= MAX_DIM


#: the backends batches in this process actually ran on (provenance: OUT/manifest.json)
USED: set[str] = set()


def wanted(depth: int, n1: int, n2: int, device) -> bool:
    """Whether the engine should use the kernel for this batch (GROKLAB_MATRIX_KERNEL)."""
    use = _wanted(depth, n1, n2, device)
    USED.add("numba" if use else "torch")
    return use


def _wanted(depth: int, n1: int, n2: int, device) -> bool:
    m = mode()
    if m == "torch":
        return False
    if not fits(depth, n1, n2, device):
        if m == "numba":
            raise RuntimeError("GROKLAB_MATRIX_KERNEL=numba: the kernel needs depth 1, the CPU "
                               f"and min(rows, cols) <= {MAX_DIM}")
        return False
    if not available():
        if m == "numba":
            raise RuntimeError("GROKLAB_MATRIX_KERNEL=numba but the kernel is unavailable: "
                               f"{unavailable_reason()}")
        notice_fallback(unavailable_reason())
        return False
    return True


F8, I4 = np.dtype(np.float64), np.dtype(np.int32)
# placeholders for the inputs a problem does not have (size 0: the kernel reads none of them)
_NONE3, _NONE2, _NONE_LANES = np.zeros((1, 0, 0)), np.zeros((1, 0)), np.zeros((1, 0, LANES))
_WRITTEN = ("A", "V", "status")  # the arrays the kernel writes


def _fail(what: str):
    raise ValueError(f"matrix kernel: {what}")


def _check_array(name: str, x, dtype: np.dtype, shape: tuple) -> None:
    """x is a C-contiguous, aligned numpy array of that dtype and shape (the compiled
    signature's), writeable if the kernel writes it.  The test runs before every call (the dense
    logging phase makes 1000 of them), so the message is only built for a failure."""
    if (isinstance(x, np.ndarray) and x.dtype == dtype and x.shape == shape
            and x.flags.c_contiguous and x.flags.aligned
            and (x.flags.writeable or name not in _WRITTEN)):
        return
    if not isinstance(x, np.ndarray):
        _fail(f"{name} is {type(x).__name__}, not a numpy array")
    if x.dtype != dtype:
        _fail(f"{name} has dtype {x.dtype}, want {dtype}")
    if x.shape != shape:
        _fail(f"{name} has shape {x.shape}, want {shape}")
    if not (x.flags.c_contiguous and x.flags.aligned):
        _fail(f"{name} is not C-contiguous and aligned")
    _fail(f"{name} is read-only")


class KernelState:
    """Packs a (D, B, n1, n2) batch into lockstep groups of 8 runs, advances it with the compiled
    kernel, and unpacks it again.  Completion runs of any data sets share a group (mask and
    targets travel per lane); sensing groups hold runs of one data set (its X^T X is shared).
    Lanes are ordered by lr * nuclear so that a group's runs need similar numbers of Jacobi sweeps
    (the group sweeps until its slowest lane has converged)."""

    def __init__(self, fit, A: torch.Tensor, cols: dict[str, torch.Tensor], method: str):
        D, B, n1, n2 = A.shape
        if not 1 <= min(n1, n2) <= MAX_DIM:
            _fail(f"min(n1, n2) = {min(n1, n2)} is outside 1..{MAX_DIM}")
        if method not in ("subgradient", "svt", "projected"):
            _fail(f"unknown method {method!r}")
        self.D, self.B, self.n1, self.n2 = D, B, n1, n2
        self.flip = n1 > n2  # the kernel wants m >= n: (n1, n2) row-major is A^T column-major
        self.m, self.n = (n1, n2) if self.flip else (n2, n1)
        self.method = {"subgradient": 0, "svt": 1, "projected": 2}[method]
        cols = {k: v.reshape(D, B).cpu() for k, v in cols.items()}
        key = (cols["lr"] * cols["nuclear"]).numpy()
        runs = [(d, b) for d in range(D) for b in range(B)]
        if fit.kind == "completion":  # one pool of lanes
            runs.sort(key=lambda r: key[r])
            chunks = [runs[i:i + LANES] for i in range(0, len(runs), LANES)]
        else:  # one pool per data set
            chunks = []
            for d in range(D):
                mine = sorted(runs[d * B:(d + 1) * B], key=lambda r: key[r])
                chunks += [mine[i:i + LANES] for i in range(0, B, LANES)]
        G = self.G = len(chunks)
        self.dd = np.zeros((G, LANES), dtype=np.int64)  # lane -> data set
        self.slot = np.full((G, LANES), -1, dtype=np.int64)  # lane -> run b (-1: padding)
        for g, ch in enumerate(chunks):
            for l, (d, b) in enumerate(ch):
                self.dd[g, l], self.slot[g, l] = d, b
        self.valid = self.slot >= 0
        self.dat = np.ascontiguousarray(self.dd[:, 0].astype(np.int32))
        mn = self.m * self.n

        def lanes(x: np.ndarray) -> np.ndarray:  # (D, B, ...) -> (G, ..., LANES), padding = 0
            out = np.zeros((G, LANES) + x.shape[2:])
            out[self.valid] = x[self.dd[self.valid], self.slot[self.valid]]
            return np.ascontiguousarray(np.moveaxis(out, 1, -1))

        self._lanes = lanes
        self.hyper = {k: lanes(cols[k].numpy()) for k in
                      ("lr", "nuclear", "l1", "l2", "nuclear_rank_tol")}
        self.status = np.zeros((G, LANES), dtype=np.int32)
        eye = np.eye(self.n)
        self.V = np.ascontiguousarray(np.broadcast_to(eye.reshape(1, -1, 1), (G, self.n * self.n,
                                                                               LANES)))
        self.A = np.zeros((G, mn, LANES))
        self.M = self.Y = self.XtX = self.c = self.Q = self.p0 = None
        if fit.kind == "completion":
            per_run = (D, B, mn)
            self.M = lanes(np.broadcast_to(self._vec(fit.M[:, 0])[:, None], per_run))
            self.Y = lanes(np.broadcast_to(self._vec(fit.Y[:, 0])[:, None], per_run))
        else:
            perm = self._perm()
            self.XtX = np.ascontiguousarray(fit.XtX.numpy()[:, perm][:, :, perm])
            self.c = np.ascontiguousarray(-fit.negc[:, 0].numpy()[:, perm])
            self.Q = np.ascontiguousarray(fit.Q.numpy()[:, perm][:, :, perm])
            self.p0 = np.ascontiguousarray(fit.p0[:, 0].numpy()[:, perm])
        self.load(A)

    def _perm(self) -> np.ndarray:
        """Kernel element order (column-major m x n) -> row-major (n1, n2) index."""
        idx = np.arange(self.n1 * self.n2).reshape(self.n1, self.n2)
        return (idx.T if self.flip else idx).reshape(-1)

    def _vec(self, X: torch.Tensor) -> np.ndarray:
        """(..., n1, n2) row-major -> (..., mn) in kernel element order."""
        X = X.numpy()
        return (X.swapaxes(-1, -2) if self.flip else X).reshape(*X.shape[:-2], -1)

    def load(self, A: torch.Tensor) -> None:
        self.A = self._lanes(self._vec(A.detach().cpu()))  # (G, mn, LANES)

    def store(self, A: torch.Tensor) -> None:
        """Write the kernel's iterates back into the torch (D, B, n1, n2) tensor."""
        lanes = self.A.transpose(0, 2, 1)  # (G, LANES, mn)
        out = np.empty((self.D, self.B, lanes.shape[-1]))
        out[self.dd[self.valid], self.slot[self.valid]] = lanes[self.valid]
        if self.flip:
            mats = out.reshape(self.D, self.B, self.n2, self.n1).swapaxes(-1, -2)
        else:
            mats = out.reshape(self.D, self.B, self.n1, self.n2)
        A.copy_(torch.from_numpy(np.ascontiguousarray(mats)))

    def dead(self) -> torch.Tensor:
        """(D, B) runs the kernel froze (non-finite iterate or Jacobi failure)."""
        out = np.zeros((self.D, self.B), dtype=bool)
        out[self.dd[self.valid], self.slot[self.valid]] = self.status[self.valid] != 0
        return torch.from_numpy(out)

    def _args(self, nsteps: int) -> tuple:
        """The kernel's arguments, every array checked against what its loops index (numba
        checks no index: a wrong shape would read or write outside the buffers)."""
        G, m, n, mn = self.G, self.m, self.n, self.m * self.n
        if not (1 <= n <= m and n <= MAX_DIM):
            _fail(f"m x n = {m} x {n}: want 1 <= n <= m, n <= {MAX_DIM}")
        if not (G >= 1 and self.method in (0, 1, 2)):
            _fail(f"G = {G}, method = {self.method}")
        if not (isinstance(nsteps, (int, np.integer)) and 0 <= nsteps < 2 ** 62):
            _fail(f"nsteps = {nsteps!r}")
        _check_array("A", self.A, F8, (G, mn, LANES))
        _check_array("V", self.V, F8, (G, n * n, LANES))
        _check_array("status", self.status, I4, (G, LANES))
        _check_array("dat", self.dat, I4, (G,))
        for k, v in self.hyper.items():
            _check_array(k, v, F8, (G, LANES))
        if self.XtX is None:  # completion: mask and targets per lane; no data-set tables
            _check_array("M", self.M, F8, (G, mn, LANES))
            _check_array("Y", self.Y, F8, (G, mn, LANES))
            M, Y, XtX, c, Q, p0 = self.M, self.Y, _NONE3, _NONE2, _NONE3, _NONE2
        else:  # sensing: group g reads data set dat[g]
            D = len(self.XtX) if isinstance(self.XtX, np.ndarray) and self.XtX.ndim else 0
            if D < 1:
                _fail("sensing needs at least one data set")
            _check_array("XtX", self.XtX, F8, (D, mn, mn))
            _check_array("Q", self.Q, F8, (D, mn, mn))
            _check_array("c", self.c, F8, (D, mn))
            _check_array("p0", self.p0, F8, (D, mn))
            if not ((self.dat >= 0) & (self.dat < D)).all():
                _fail(f"a data-set index outside 0..{D - 1}")
            M, Y, XtX, c, Q, p0 = _NONE_LANES, _NONE_LANES, self.XtX, self.c, self.Q, self.p0
        h = self.hyper
        return (G, m, n, self.A, self.V, self.dat, M, Y, XtX, c, Q, p0, h["lr"], h["nuclear"],
                h["l1"], h["l2"], h["nuclear_rank_tol"], self.method, int(nsteps), self.status)

    def advance(self, nsteps: int) -> int:
        if not available():
            _fail(f"the kernel is unavailable: {unavailable_reason()}")
        args = self._args(nsteps)
        # threads split the groups; for short chunks (the dense logging phase) the fork/join costs
        # more than it saves, and spinning threads hurt a shared machine: one thread there
        threads = min(torch.get_num_threads(), self.G) if nsteps * self.G >= 4096 else 1
        return _numba_kernel.advance(args, threads)
