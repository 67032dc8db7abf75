"""The matrix kernel's step loop, compiled with numba: lockstep one-sided Jacobi over 8 runs.

Why: a step needs an SVD of every run's matrix, and LAPACK (behind ``torch.linalg.svd`` *and*
``np.linalg.svd``) decomposes a batch one 10 x 10 matrix at a time at ~10 us each, so batching in
torch buys nothing over a plain numpy loop (benchmarks/bench_matrix.py).  This kernel advances
runs in lockstep groups of 8 (one SIMD lane per run) and computes each SVD by one-sided Jacobi
(Hestenes), warm-started from the previous step's right singular vectors: W = A V_prev has almost
orthogonal columns, so a few sweeps of plane rotations restore orthogonality to 1e-15 (relative,
per pair -- Jacobi is at least as accurate as LAPACK's bidiagonal SVD).  Then sigma_j = |w_j|,
U V^T = W diag(1/sigma) V^T and SVT = W diag(max(sigma - t, 0)/sigma) V^T.

It replaces a C kernel that groklab compiled at run time (same algorithm, same order of
floating-point operations, bitwise equal results; benchmarks/matrix_c.py keeps it to measure
against).  Arithmetic is IEEE: no fastmath, so no reassociation and no contraction into FMA.

Layout and the lane-vector helpers: :mod:`.numba_lanes`.  Nothing here checks an index (numba
does not, by default): :mod:`.kernel` checks every shape, dtype and layout before it calls
:func:`advance_serial` / :func:`advance_parallel`.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .numba_lanes import (JIT, LANE, LN, ZERO, _add, _add_s, _fit_completion, _ld, _matvec,
                          _orthonormalize, _project_completion, _st, _sub_mul, _sub_s, _svd_apply)


@njit(**LANE)
def _pen(x, a1, a2):
    """a2 * x + a1 * sign(x) for one lane."""
    return a2 * x + a1 * float((x > 0) - (x < 0))


@njit(**LANE)
def _penalty(x, l1, l2):
    """l2 * x + l1 * sign(x) per lane (l1, l2: lane vectors)."""
    return (_pen(x[0], l1[0], l2[0]), _pen(x[1], l1[1], l2[1]), _pen(x[2], l1[2], l2[2]),
            _pen(x[3], l1[3], l2[3]), _pen(x[4], l1[4], l2[4]), _pen(x[5], l1[5], l2[5]),
            _pen(x[6], l1[6], l2[6]), _pen(x[7], l1[7], l2[7]))


@njit(**JIT)
def _group(m, n, a, v, mk, y, xtx, cv, qq, pp, lr, nuc, l1, l2, rt, method, nsteps, st):
    """Advance one lane group nsteps (a: (mn, LN), v: (n*n, LN) in place; completion: mk, y
    (mn, LN); sensing: xtx, qq (mn, mn), cv, pp (mn,); hyper-parameters (LN,); st (LN,) status).
    Returns the number of Jacobi sweeps."""
    mn = m * n
    sensing = xtx.shape[0] > 0
    W, R, H = np.empty((mn, LN)), np.empty((mn, LN)), np.empty((mn, LN))
    nrm = np.empty((n, LN))
    npl = n + (n & 1)
    sc = (np.empty(npl, np.int64), np.empty(npl // 2, np.int64), np.empty(npl // 2, np.int64),
          np.empty((npl // 2, LN)), np.empty((npl // 2, LN)), np.empty((npl // 2, LN)),
          np.empty(npl // 2, np.bool_))
    f = np.empty(LN)
    hyp = np.empty((5, LN))  # live lanes' lr, nuclear, l1, l2, lr * nuclear (0 once frozen)
    _live_hyper(lr, nuc, l1, l2, st, hyp)
    # decided once per call, as in C (a lane frozen later keeps them, with its parameters at 0)
    has_nuc, has_pen = _any(_ld(hyp, 1)), _any(_ld(hyp, 2)) or _any(_ld(hyp, 3))
    total = 0
    _orthonormalize(n, v, f)
    for s in range(nsteps):
        lr_, l1_, l2_ = _ld(hyp, 0), _ld(hyp, 2), _ld(hyp, 3)
        bad = 0
        if s and (s & 255) == 0:
            _orthonormalize(n, v, f)
        if method != 2:  # R = fit gradient (the projection removes it for the projected method)
            if sensing:
                _matvec(mn, xtx, a, R)
                for e in range(mn):
                    _st(R, e, _sub_s(_ld(R, e), cv[e]))
            else:
                for e in range(mn):
                    _st(R, e, _fit_completion(_ld(mk, e), _ld(a, e), _ld(y, e)))
        else:
            R[:] = 0.0
        if has_pen:
            for e in range(mn):
                _st(R, e, _add(_ld(R, e), _penalty(_ld(a, e), l1_, l2_)))
        if method == 1:  # svt: gradient step, then threshold the singular values
            for e in range(mn):
                _st(H, e, _sub_mul(_ld(a, e), lr_, _ld(R, e)))
            if has_nuc:
                sw, bad = _svd_apply(m, n, H, v, W, nrm, hyp[4], rt, 1, a, sc)
                total += sw
            else:
                a[:] = H
        else:
            if has_nuc:
                sw, bad = _svd_apply(m, n, a, v, W, nrm, hyp[1], rt, 0, H, sc)
                total += sw
                for e in range(mn):
                    _st(R, e, _add(_ld(R, e), _ld(H, e)))
            for e in range(mn):
                _st(a, e, _sub_mul(_ld(a, e), lr_, _ld(R, e)))
            if method == 2:
                if sensing:
                    _matvec(mn, qq, a, H)
                    for e in range(mn):
                        _st(a, e, _add_s(_ld(H, e), pp[e]))
                else:
                    for e in range(mn):
                        _st(a, e, _project_completion(_ld(mk, e), _ld(a, e), _ld(y, e)))
        if _freeze(m, n, a, v, st, bad):
            _live_hyper(lr, nuc, l1, l2, st, hyp)
    return total


@njit(**LANE)
def _any(x):
    return (x[0] != 0 or x[1] != 0 or x[2] != 0 or x[3] != 0 or x[4] != 0 or x[5] != 0
            or x[6] != 0 or x[7] != 0)


@njit(**JIT)
def _live_hyper(lr, nuc, l1, l2, st, hyp):
    """hyp = the hyper-parameters of the live lanes, 0 for frozen ones (as the C kernel zeroes
    them when it freezes a lane)."""
    for l in range(LN):
        live = st[l] == 0
        hyp[0, l] = lr[l] if live else 0.0
        hyp[1, l] = nuc[l] if live else 0.0
        hyp[2, l] = l1[l] if live else 0.0
        hyp[3, l] = l2[l] if live else 0.0
        hyp[4, l] = hyp[0, l] * hyp[1, l]


@njit(**JIT)
def _freeze(m, n, a, v, st, bad):
    """A lane with a non-finite iterate (status 1) or a Jacobi failure (2) is frozen at 0 (its
    V reset to I); returns whether one was."""
    mn = m * n
    acc = ZERO
    for e in range(mn):
        x = _ld(a, e)
        acc = _add(acc, (abs(x[0]), abs(x[1]), abs(x[2]), abs(x[3]), abs(x[4]), abs(x[5]),
                         abs(x[6]), abs(x[7])))
    froze = False
    for l in range(LN):
        code = 1 if not np.isfinite(acc[l]) else (2 if (bad >> l) & 1 else 0)
        if code and st[l] == 0:
            st[l] = code
            froze = True
            for e in range(mn):
                a[e, l] = 0.0
            for j in range(n):
                for i in range(n):
                    v[j * n + i, l] = 1.0 if i == j else 0.0
    return froze


@njit(**JIT)
def _one(g, m, n, A, V, dat, M, Y, XtX, C, Q, P0, lr, nuc, l1, l2, rtol, method, nsteps, status):
    """Group g.  Unused inputs are (1, 0, ...) placeholders: completion has no XtX, C, Q, P0,
    sensing no M, Y (its groups read data set dat[g])."""
    sensing = XtX.shape[1] > 0
    d = dat[g] if sensing else 0
    gm = 0 if sensing else g
    return _group(m, n, A[g], V[g], M[gm], Y[gm], XtX[d], C[d], Q[d], P0[d], lr[g], nuc[g],
                  l1[g], l2[g], rtol[g], method, nsteps, status[g])


# Two entry points (two functions: numba's cache names an entry by function and line, so one
# function jitted twice would share it).  Arguments: G lane groups advanced nsteps in place;
# A (G, mn, LN) and V (G, n*n, LN); completion: M, Y (G, mn, LN) per lane; sensing: data set dat[g]
# of XtX, Q (D, mn, mn) and C, P0 (D, mn); hyper-parameters (G, LN); method 0 subgradient, 1 svt,
# 2 projected; status (G, LN): 1 = non-finite iterate, 2 = Jacobi did not converge (such lanes are
# frozen at 0).  They return the total number of Jacobi sweeps.
@njit(parallel=True, **JIT)
def advance_parallel(G, m, n, A, V, dat, M, Y, XtX, C, Q, P0, lr, nuc, l1, l2, rtol, method,
                     nsteps, status):
    """One group per task over numba's threads (numba.set_num_threads)."""
    total = 0
    for g in prange(G):  # numba's prange index may be unsigned: mixed with int64 it becomes float
        total += _one(np.int64(g), m, n, A, V, dat, M, Y, XtX, C, Q, P0, lr, nuc, l1, l2, rtol,
                      method, nsteps, status)
    return total


@njit(**JIT)
def advance_serial(G, m, n, A, V, dat, M, Y, XtX, C, Q, P0, lr, nuc, l1, l2, rtol, method,
                   nsteps, status):
    """All groups on the calling thread (short chunks: a parallel region costs more than it
    saves)."""
    total = 0
    for g in range(G):
        total += _one(g, m, n, A, V, dat, M, Y, XtX, C, Q, P0, lr, nuc, l1, l2, rtol, method,
                      nsteps, status)
    return total


_F3, _F2, _I1, _I2 = numba.float64[:, :, ::1], numba.float64[:, ::1], numba.int32[::1], \
    numba.int32[:, ::1]
#: the only types the entry points are compiled for (matrix_kernel checks arguments against them)
SIGNATURE = numba.int64(numba.int64, numba.int64, numba.int64, _F3, _F3, _I1, _F3, _F3, _F3, _F2,
                        _F3, _F2, _F2, _F2, _F2, _F2, _F2, numba.int64, numba.int64, _I2)


class BuildError(RuntimeError):
    """numba could not compile the kernel or load it from its cache (the message says which)."""


def compile_kernels() -> None:
    """Compile both entry points for SIGNATURE (or load them from numba's cache), then allow no
    other compilation: a call with other types raises instead of compiling a slow variant.

    numba leaves LLVM's SLP vectorizer off by default, and the lane vectors become SIMD only with
    it (3.5x here).  It is a process-wide setting read when numba compiles, so it is switched on
    for these two compilations only.  (numba's cache does not key on it; nothing else compiles
    these functions, so whatever the cache holds was compiled with it on.)"""
    old = numba.config.SLP_VECTORIZE
    numba.config.SLP_VECTORIZE = 1
    try:
        for fn in (advance_serial, advance_parallel):
            if not fn.signatures:  # once per process (a frozen dispatcher refuses compile())
                try:
                    fn.compile(SIGNATURE)
                except Exception as e:  # noqa: BLE001 -- say where the cache is: a damaged one
                    raise BuildError(f"{type(e).__name__}: {e} (numba's cache for it: "
                                     f"{cache_dir(fn)})") from e
                fn.disable_compile()
    finally:
        numba.config.SLP_VECTORIZE = old


def cache_dir(fn) -> str:
    """Where numba caches fn (its own choice: __pycache__ beside this file, the user's cache
    directory, or NUMBA_CACHE_DIR); '?' if this numba does not say."""
    return str(getattr(getattr(fn, "_cache", None), "_cache_path", "?"))


def advance(args: tuple, threads: int) -> int:
    """Run the compiled kernel on checked arguments (matrix_kernel.KernelState._args) with
    `threads` of numba's threads (1: the serial entry point, no parallel region at all)."""
    if threads > 1:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        return int(advance_parallel(*args))
    return int(advance_serial(*args))
