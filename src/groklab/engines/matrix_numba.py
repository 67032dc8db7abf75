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

Layout: a group's matrix is m x n column-major with m >= n; lane l of element e sits at [e, l].
    A, W, H, R: (m*n, LN), column j at rows j*m ... j*m + m - 1
    V: (n*n, LN), V[j*n + i] = V(i, j)
    nrm: (n, LN)
Nothing here checks an index (numba does not, by default): :mod:`.matrix_kernel` checks every
shape, dtype and layout before it calls :func:`advance_serial` / :func:`advance_parallel`.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

LN = 8  # lanes per group
TOL2 = 1e-15 * 1e-15  # the rotation test is cc^2 > (tol * tol) * (a * b)
MAX_SWEEPS = 60
JIT = dict(cache=True, error_model="numpy")  # numpy model: x / 0 gives inf, no Python check
# lane-vector helpers are inlined in numba's IR: as calls, every array argument would cost an
# NRT incref/decref pair (atomic) per row
LANE = dict(JIT, inline="always")


# ---- lane vectors -------------------------------------------------------------------------------
# A run's 8 lanes travel as an 8-tuple of floats: LLVM keeps it in registers (a loop that
# accumulates into an array row must store it every iteration, since numba cannot tell LLVM that
# two arrays do not alias).  Every lane does the C kernel's operation, in its order.
assert LN == 8, "the lane-vector helpers below are written out for 8 lanes"
ZERO = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@njit(**LANE)
def _ld(X, r):
    """Row r of a (rows, 8) array as a lane vector."""
    return (X[r, 0], X[r, 1], X[r, 2], X[r, 3], X[r, 4], X[r, 5], X[r, 6], X[r, 7])


@njit(**LANE)
def _vec(x):
    """A (8,) array as a lane vector."""
    return (x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7])


@njit(**LANE)
def _st(X, r, v):
    X[r, 0], X[r, 1], X[r, 2], X[r, 3] = v[0], v[1], v[2], v[3]
    X[r, 4], X[r, 5], X[r, 6], X[r, 7] = v[4], v[5], v[6], v[7]


@njit(**LANE)
def _madd(acc, x, y):
    """acc + x * y per lane (two roundings: no FMA, as in C)."""
    return (acc[0] + x[0] * y[0], acc[1] + x[1] * y[1], acc[2] + x[2] * y[2],
            acc[3] + x[3] * y[3], acc[4] + x[4] * y[4], acc[5] + x[5] * y[5],
            acc[6] + x[6] * y[6], acc[7] + x[7] * y[7])


@njit(**LANE)
def _madd_s(acc, s, y):
    """acc + s * y with a scalar s shared by the lanes."""
    return (acc[0] + s * y[0], acc[1] + s * y[1], acc[2] + s * y[2], acc[3] + s * y[3],
            acc[4] + s * y[4], acc[5] + s * y[5], acc[6] + s * y[6], acc[7] + s * y[7])


@njit(**LANE)
def _mul(x, y):
    return (x[0] * y[0], x[1] * y[1], x[2] * y[2], x[3] * y[3], x[4] * y[4], x[5] * y[5],
            x[6] * y[6], x[7] * y[7])


@njit(**LANE)
def _sub_mul(x, s, y):
    """x - s * y per lane."""
    return (x[0] - s[0] * y[0], x[1] - s[1] * y[1], x[2] - s[2] * y[2], x[3] - s[3] * y[3],
            x[4] - s[4] * y[4], x[5] - s[5] * y[5], x[6] - s[6] * y[6], x[7] - s[7] * y[7])


@njit(**LANE)
def _add(x, y):
    return (x[0] + y[0], x[1] + y[1], x[2] + y[2], x[3] + y[3], x[4] + y[4], x[5] + y[5],
            x[6] + y[6], x[7] + y[7])


@njit(**LANE)
def _sub(x, y):
    return (x[0] - y[0], x[1] - y[1], x[2] - y[2], x[3] - y[3], x[4] - y[4], x[5] - y[5],
            x[6] - y[6], x[7] - y[7])


@njit(**LANE)
def _sub_s(x, s):
    return (x[0] - s, x[1] - s, x[2] - s, x[3] - s, x[4] - s, x[5] - s, x[6] - s, x[7] - s)


@njit(**LANE)
def _add_s(x, s):
    return (x[0] + s, x[1] + s, x[2] + s, x[3] + s, x[4] + s, x[5] + s, x[6] + s, x[7] + s)


@njit(**LANE)
def _fit_completion(mk, a, y):
    """mk * a - y per lane."""
    return (mk[0] * a[0] - y[0], mk[1] * a[1] - y[1], mk[2] * a[2] - y[2], mk[3] * a[3] - y[3],
            mk[4] * a[4] - y[4], mk[5] * a[5] - y[5], mk[6] * a[6] - y[6], mk[7] * a[7] - y[7])


@njit(**LANE)
def _project_completion(mk, a, y):
    """(1 - mk) * a + y per lane: observed entries reset to A*."""
    return ((1.0 - mk[0]) * a[0] + y[0], (1.0 - mk[1]) * a[1] + y[1],
            (1.0 - mk[2]) * a[2] + y[2], (1.0 - mk[3]) * a[3] + y[3],
            (1.0 - mk[4]) * a[4] + y[4], (1.0 - mk[5]) * a[5] + y[5],
            (1.0 - mk[6]) * a[6] + y[6], (1.0 - mk[7]) * a[7] + y[7])


@njit(**LANE)
def _rot_p(c, s, x, y):
    """c * x - s * y per lane (the first column of a plane rotation)."""
    return (c[0] * x[0] - s[0] * y[0], c[1] * x[1] - s[1] * y[1], c[2] * x[2] - s[2] * y[2],
            c[3] * x[3] - s[3] * y[3], c[4] * x[4] - s[4] * y[4], c[5] * x[5] - s[5] * y[5],
            c[6] * x[6] - s[6] * y[6], c[7] * x[7] - s[7] * y[7])


@njit(**LANE)
def _rot_q(c, s, x, y):
    """s * x + c * y per lane (the second column)."""
    return (s[0] * x[0] + c[0] * y[0], s[1] * x[1] + c[1] * y[1], s[2] * x[2] + c[2] * y[2],
            s[3] * x[3] + c[3] * y[3], s[4] * x[4] + c[4] * y[4], s[5] * x[5] + c[5] * y[5],
            s[6] * x[6] + c[6] * y[6], s[7] * x[7] + c[7] * y[7])


# ---- the kernel ---------------------------------------------------------------------------------
@njit(**LANE)
def _col_norms2(m, n, W, nrm):
    """nrm[j] = |w_j|^2 per lane."""
    for j in range(n):
        acc = ZERO
        for i in range(m):
            w = _ld(W, j * m + i)
            acc = _madd(acc, w, w)
        _st(nrm, j, acc)


@njit(**JIT)
def _pairs(n, npl, pos, P, Q):
    """This round's disjoint pairs (p < q) of the circle method; returns how many."""
    k = 0
    for i in range(npl // 2):
        p, q = pos[i], pos[npl - 1 - i]
        if p >= n or q >= n:
            continue
        P[k], Q[k] = min(p, q), max(p, q)
        k += 1
    return k


@njit(**LANE)
def _theta(a, b, cc):
    """One lane's tan of the rotation angle for columns with |w_p|^2 = a, |w_q|^2 = b and
    w_p . w_q = cc (0 when they are orthogonal to the tolerance: no rotation)."""
    rot = cc * cc > TOL2 * (a * b)
    cd = cc if rot else 1.0
    zeta = (b - a) / (2.0 * cd)
    th = math.copysign(1.0, zeta) / (abs(zeta) + math.sqrt(1.0 + zeta * zeta))
    return th if rot else 0.0


@njit(**LANE)
def _rotates(a, b, cc):
    """Whether one lane rotates (the test in _theta)."""
    return cc * cc > TOL2 * (a * b)


@njit(**LANE)
def _cos(th):
    return 1.0 / math.sqrt(1.0 + th * th)


@njit(**JIT)
def _angles(k, P, Q, nrm, c, cs, sn, skip):
    """Rotation (cos, sin) per pair and lane; updates the column norms; returns the mask of the
    lanes that rotate at all.  Written lane by lane so that the 8 square roots and divisions of
    a pair become vector instructions."""
    any_ = 0
    for t in range(k):
        p, q = P[t], Q[t]
        a, b, cc = _ld(nrm, p), _ld(nrm, q), _ld(c, t)
        th = (_theta(a[0], b[0], cc[0]), _theta(a[1], b[1], cc[1]), _theta(a[2], b[2], cc[2]),
              _theta(a[3], b[3], cc[3]), _theta(a[4], b[4], cc[4]), _theta(a[5], b[5], cc[5]),
              _theta(a[6], b[6], cc[6]), _theta(a[7], b[7], cc[7]))
        co = (_cos(th[0]), _cos(th[1]), _cos(th[2]), _cos(th[3]), _cos(th[4]), _cos(th[5]),
              _cos(th[6]), _cos(th[7]))
        _st(cs, t, co)
        _st(sn, t, _mul(co, th))
        tc = _mul(th, cc)
        _st(nrm, p, _sub(a, tc))
        _st(nrm, q, _add(b, tc))
        mask = 0
        for l in range(LN):
            if _rotates(a[l], b[l], cc[l]):
                mask |= 1 << l
        any_ |= mask
        skip[t] = mask == 0
    return any_


@njit(**LANE)
def _rotate(rows, X, p0, q0, c, s):
    """Plane rotation of the columns at rows p0.. and q0.. of X (c, s: lane vectors)."""
    for i in range(rows):
        x, y = _ld(X, p0 + i), _ld(X, q0 + i)
        _st(X, p0 + i, _rot_p(c, s, x, y))
        _st(X, q0 + i, _rot_q(c, s, x, y))


@njit(**JIT)
def _jacobi(m, n, W, V, nrm, sc):
    """One-sided Jacobi on the columns of W (rotations accumulated into V).  Returns (sweeps,
    mask of the lanes still rotating after MAX_SWEEPS), sweeps = -1 if it did not converge."""
    pos, P, Q, c, cs, sn, skip = sc
    npl = n + (n & 1)  # players of the round robin (a dummy if n is odd)
    unconverged = 0
    for sweep in range(MAX_SWEEPS):
        _col_norms2(m, n, W, nrm)
        for i in range(npl):
            pos[i] = i
        rotating = 0
        for _ in range(npl - 1):
            k = _pairs(n, npl, pos, P, Q)
            for t in range(k):  # independent dot products
                p0, q0 = P[t] * m, Q[t] * m
                acc = ZERO
                for i in range(m):
                    acc = _madd(acc, _ld(W, p0 + i), _ld(W, q0 + i))
                _st(c, t, acc)
            any_ = _angles(k, P, Q, nrm, c, cs, sn, skip)
            rotating |= any_
            if any_:
                for t in range(k):
                    if not skip[t]:
                        ct, st = _ld(cs, t), _ld(sn, t)
                        _rotate(m, W, P[t] * m, Q[t] * m, ct, st)
                        _rotate(n, V, P[t] * n, Q[t] * n, ct, st)
            last = pos[npl - 1]  # circle method: keep pos[0], rotate the others by one
            for i in range(npl - 1, 1, -1):
                pos[i] = pos[i - 1]
            pos[1] = last
        if rotating == 0:
            return sweep + 1, unconverged
        if sweep == MAX_SWEEPS - 1:
            unconverged |= rotating
    return -1, unconverged


@njit(**JIT)
def _orthonormalize(n, V, d):
    """Modified Gram-Schmidt on the columns of V (d: (LN,) scratch); every 256 steps, so plain
    loops."""
    for j in range(n):
        for k in range(j):
            for l in range(LN):
                d[l] = 0.0
            for i in range(n):
                for l in range(LN):
                    d[l] += V[k * n + i, l] * V[j * n + i, l]
            for i in range(n):
                for l in range(LN):
                    V[j * n + i, l] -= d[l] * V[k * n + i, l]
        for l in range(LN):
            d[l] = 0.0
        for i in range(n):
            for l in range(LN):
                d[l] += V[j * n + i, l] * V[j * n + i, l]
        for l in range(LN):
            d[l] = 1.0 / math.sqrt(d[l]) if d[l] > 0 else 0.0
        for i in range(n):
            for l in range(LN):
                V[j * n + i, l] *= d[l]


@njit(**LANE)
def _sqrt(x):
    return (math.sqrt(x[0]), math.sqrt(x[1]), math.sqrt(x[2]), math.sqrt(x[3]), math.sqrt(x[4]),
            math.sqrt(x[5]), math.sqrt(x[6]), math.sqrt(x[7]))


@njit(**LANE)
def _fmax1(a, b):
    """C's fmax: the larger, and the number when the other is NaN."""
    return a if (a >= b or b != b) else b


@njit(**LANE)
def _fmax(x, y):
    return (_fmax1(x[0], y[0]), _fmax1(x[1], y[1]), _fmax1(x[2], y[2]), _fmax1(x[3], y[3]),
            _fmax1(x[4], y[4]), _fmax1(x[5], y[5]), _fmax1(x[6], y[6]), _fmax1(x[7], y[7]))


@njit(**LANE)
def _weight(s, p, t, mode):
    """One lane's factor weight(sigma) / sigma (0 where sigma = 0): mode 0 p [s > t] (the
    subgradient), mode 1 max(s - p, 0) (SVT)."""
    w = (p if s > t else 0.0) if mode == 0 else _fmax1(s - p, 0.0)
    return w / s if s > 0 else 0.0


@njit(**LANE)
def _weights(s, p, t, mode):
    return (_weight(s[0], p[0], t[0], mode), _weight(s[1], p[1], t[1], mode),
            _weight(s[2], p[2], t[2], mode), _weight(s[3], p[3], t[3], mode),
            _weight(s[4], p[4], t[4], mode), _weight(s[5], p[5], t[5], mode),
            _weight(s[6], p[6], t[6], mode), _weight(s[7], p[7], t[7], mode))


@njit(**JIT)
def _svd_apply(m, n, X, V, W, nrm, par, rtol, mode, out, sc):
    """out = W diag(weight(sigma) / sigma) V^T with W = X V after Jacobi (see the C source):
    mode 0 weight = par [sigma > rtol sigma_max], mode 1 weight = max(sigma - par, 0).
    Returns (sweeps, unconverged lanes)."""
    for j in range(n):  # W = X V
        for i in range(m):
            acc = ZERO
            for k in range(n):
                acc = _madd(acc, _ld(X, k * m + i), _ld(V, j * n + k))
            _st(W, j * m + i, acc)
    sweeps, bad = _jacobi(m, n, W, V, nrm, sc)
    _col_norms2(m, n, W, nrm)
    smax = ZERO
    for j in range(n):  # sigma_j = |w_j|, whole lane vectors so that the 8 roots are one SIMD op
        sj = _sqrt(_ld(nrm, j))
        _st(nrm, j, sj)
        smax = _fmax(smax, sj)
    thr = _mul(_vec(rtol), smax)
    pv = _vec(par)
    for j in range(n):
        fj = _weights(_ld(nrm, j), pv, thr, mode)
        for i in range(m):
            _st(W, j * m + i, _mul(_ld(W, j * m + i), fj))
    for c in range(n):  # out = W V^T
        for i in range(m):
            acc = ZERO
            for j in range(n):
                acc = _madd(acc, _ld(W, j * m + i), _ld(V, j * n + c))
            _st(out, c * m + i, acc)
    return sweeps, bad


@njit(**JIT)
def _matvec(mn, X, v, out):
    """out[e] = sum_k X[e, k] v[k] (X (mn, mn) shared by the lanes)."""
    for e in range(mn):
        acc = ZERO
        for k in range(mn):
            acc = _madd_s(acc, X[e, k], _ld(v, k))
        _st(out, e, acc)


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
