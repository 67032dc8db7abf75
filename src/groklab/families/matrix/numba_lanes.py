"""Lane vectors and the lockstep one-sided Jacobi SVD of the matrix kernel (:mod:`.numba_kernel`).

A run's 8 lanes travel as an 8-tuple of floats; every helper does, per lane, the operation of the
C kernel it replaces, in its order (IEEE arithmetic: no fastmath, no reassociation, no FMA).

Layout: a group's matrix is m x n column-major with m >= n; lane l of element e sits at [e, l].
    A, W, H, R: (m*n, LN), column j at rows j*m ... j*m + m - 1
    V: (n*n, LN), V[j*n + i] = V(i, j)
    nrm: (n, LN)
Nothing here checks an index: :mod:`.kernel` checks every array before the kernel runs.
"""
from __future__ import annotations

import math

from numba import njit

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
