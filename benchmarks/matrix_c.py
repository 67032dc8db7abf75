"""The C kernel groklab compiled at run time before the numba kernel replaced it, kept here to
measure against (benchmarks/bench_matrix.py): the same lockstep one-sided Jacobi, the same
updates, the same order of floating-point operations as groklab.families.matrix.numba_kernel (their
results are bitwise equal on the machines tried).

``CKernelState`` is groklab's ``KernelState`` (same packing, same argument checks) with the step
loop in C.  The library is compiled once per process into a fresh private temporary directory
(mkdtemp: mode 0700) and loaded from there, so nothing is cached between runs.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

from groklab.families.matrix.kernel import KernelState

SOURCE = r"""
#include <math.h>
#include <stdlib.h>
#include <string.h>
#define LN 8

/* One-sided Jacobi on the columns of W (m x n, lanes), rotations accumulated into V (n x n).
   Parallel (round-robin) ordering: each round rotates n/2 disjoint column pairs, so their dot
   products, rotation angles (sqrt / div latency) and updates are independent and pipeline well.
   Returns the number of sweeps, or -1 if some lane still rotated after max_sweeps (its bit is set
   in *unconverged). */
static int jacobi(int m, int n, double *restrict W, double *restrict V, double *restrict nrm,
                  int max_sweeps, unsigned *unconverged) {
    const double tol = 1e-15;
    const int np = n + (n & 1);          /* players of the round robin (a dummy if n is odd) */
    int pos[66], P[33], Q[33];
    double c[33 * LN], cs[33 * LN], sn[33 * LN];
    for (int sweep = 0; sweep < max_sweeps; ++sweep) {
        for (int j = 0; j < n; ++j) {
            double acc[LN] = {0};
            const double *w = W + (size_t)j * m * LN;
            for (int i = 0; i < m; ++i)
                for (int l = 0; l < LN; ++l) acc[l] += w[i * LN + l] * w[i * LN + l];
            for (int l = 0; l < LN; ++l) nrm[j * LN + l] = acc[l];
        }
        for (int i = 0; i < np; ++i) pos[i] = i;
        unsigned rotating = 0;
        for (int round = 0; round < np - 1; ++round) {
            int k = 0;
            for (int i = 0; i < np / 2; ++i) {
                int p = pos[i], q = pos[np - 1 - i];
                if (p >= n || q >= n) continue;
                P[k] = p < q ? p : q; Q[k] = p < q ? q : p; ++k;
            }
            for (int t = 0; t < k; ++t) {  /* independent dot products */
                const double *wp = W + (size_t)P[t] * m * LN, *wq = W + (size_t)Q[t] * m * LN;
                double acc[LN] = {0};
                for (int i = 0; i < m; ++i)
                    for (int l = 0; l < LN; ++l) acc[l] += wp[i * LN + l] * wq[i * LN + l];
                for (int l = 0; l < LN; ++l) c[t * LN + l] = acc[l];
            }
            unsigned any = 0;
            for (int t = 0; t < k; ++t) {  /* independent rotation angles */
                unsigned rot_mask = 0;
                for (int l = 0; l < LN; ++l) {
                    double a = nrm[P[t] * LN + l], b = nrm[Q[t] * LN + l], cc = c[t * LN + l];
                    int rot = cc * cc > tol * tol * (a * b);
                    double cd = rot ? cc : 1.0;
                    double zeta = (b - a) / (2.0 * cd);
                    double th = copysign(1.0, zeta) / (fabs(zeta) + sqrt(1.0 + zeta * zeta));
                    th = rot ? th : 0.0;
                    double co = 1.0 / sqrt(1.0 + th * th);
                    cs[t * LN + l] = co;
                    sn[t * LN + l] = co * th;
                    nrm[P[t] * LN + l] = a - th * cc;
                    nrm[Q[t] * LN + l] = b + th * cc;
                    rot_mask |= (unsigned)rot << l;
                }
                any |= rot_mask;
                if (!rot_mask) cs[t * LN] = 2.0;  /* marker: nothing to rotate for this pair */
            }
            rotating |= any;
            if (any)
                for (int t = 0; t < k; ++t) {  /* independent plane rotations of W and V */
                    if (cs[t * LN] == 2.0) continue;
                    const double *ct = cs + t * LN, *st = sn + t * LN;
                    double *wp = W + (size_t)P[t] * m * LN, *wq = W + (size_t)Q[t] * m * LN;
                    double *vp = V + (size_t)P[t] * n * LN, *vq = V + (size_t)Q[t] * n * LN;
                    for (int i = 0; i < m; ++i)
                        for (int l = 0; l < LN; ++l) {
                            double x = wp[i * LN + l], y = wq[i * LN + l];
                            wp[i * LN + l] = ct[l] * x - st[l] * y;
                            wq[i * LN + l] = st[l] * x + ct[l] * y;
                        }
                    for (int i = 0; i < n; ++i)
                        for (int l = 0; l < LN; ++l) {
                            double x = vp[i * LN + l], y = vq[i * LN + l];
                            vp[i * LN + l] = ct[l] * x - st[l] * y;
                            vq[i * LN + l] = st[l] * x + ct[l] * y;
                        }
                }
            /* circle method: keep pos[0], rotate the others by one */
            int last = pos[np - 1];
            for (int i = np - 1; i > 1; --i) pos[i] = pos[i - 1];
            pos[1] = last;
        }
        if (!rotating) return sweep + 1;
        if (sweep == max_sweeps - 1) *unconverged |= rotating;
    }
    return -1;
}

/* Modified Gram-Schmidt on the columns of V: rotations accumulate rounding over millions of steps. */
static void orthonormalize(int n, double *V) {
    for (int j = 0; j < n; ++j) {
        double *vj = V + (size_t)j * n * LN;
        for (int k = 0; k < j; ++k) {
            const double *vk = V + (size_t)k * n * LN;
            double d[LN] = {0};
            for (int i = 0; i < n; ++i) for (int l = 0; l < LN; ++l) d[l] += vk[i * LN + l] * vj[i * LN + l];
            for (int i = 0; i < n; ++i) for (int l = 0; l < LN; ++l) vj[i * LN + l] -= d[l] * vk[i * LN + l];
        }
        double s[LN] = {0};
        for (int i = 0; i < n; ++i) for (int l = 0; l < LN; ++l) s[l] += vj[i * LN + l] * vj[i * LN + l];
        for (int l = 0; l < LN; ++l) s[l] = s[l] > 0 ? 1.0 / sqrt(s[l]) : 0.0;
        for (int i = 0; i < n; ++i) for (int l = 0; l < LN; ++l) vj[i * LN + l] *= s[l];
    }
}

static void set_identity(int n, double *V, int lane) {
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) V[((size_t)j * n + i) * LN + lane] = (i == j);
}

/* out[e] = sum_k X[e, k] v[k] for a dense (mn x mn) X shared by the lanes and lane vectors v */
static void matvec(int mn, const double *restrict X, const double *restrict v, double *restrict out) {
    for (int e = 0; e < mn; ++e) {
        double acc[LN] = {0};
        const double *row = X + (size_t)e * mn;
        for (int k = 0; k < mn; ++k)
            for (int l = 0; l < LN; ++l) acc[l] += row[k] * v[k * LN + l];
        for (int l = 0; l < LN; ++l) out[e * LN + l] = acc[l];
    }
}

/* Decompose X (m x n lanes) as W V^T with W = X V orthogonal columns; then
   out = W diag(f(sigma)) V^T with f = weight(sigma) / sigma (0 where sigma = 0). mode 0:
   weight = nuc * [sigma > rtol sigma_max] (subgradient nuc U V^T); mode 1: weight = max(sigma - t, 0)
   (SVT).  Returns sweeps or -1. */
static int svd_apply(int m, int n, const double *X, double *V, double *W, double *nrm,
                     const double *par, const double *rtol, int mode, double *out, unsigned *bad) {
    for (int j = 0; j < n; ++j)  /* W = X V, accumulating one row of 8 lanes in registers */
        for (int i = 0; i < m; ++i) {
            double acc[LN] = {0};
            for (int k = 0; k < n; ++k)
                for (int l = 0; l < LN; ++l)
                    acc[l] += X[((size_t)k * m + i) * LN + l] * V[((size_t)j * n + k) * LN + l];
            for (int l = 0; l < LN; ++l) W[((size_t)j * m + i) * LN + l] = acc[l];
        }
    int sweeps = jacobi(m, n, W, V, nrm, 60, bad);
    double smax[LN] = {0};
    for (int j = 0; j < n; ++j) {
        double ss[LN] = {0};
        const double *w = W + (size_t)j * m * LN;
        for (int i = 0; i < m; ++i) for (int l = 0; l < LN; ++l) ss[l] += w[i * LN + l] * w[i * LN + l];
        for (int l = 0; l < LN; ++l) { nrm[j * LN + l] = sqrt(ss[l]); smax[l] = fmax(smax[l], nrm[j * LN + l]); }
    }
    for (int j = 0; j < n; ++j) {
        double f[LN];
        for (int l = 0; l < LN; ++l) {
            double s = nrm[j * LN + l];
            double wgt = mode == 0 ? (s > rtol[l] * smax[l] ? par[l] : 0.0) : fmax(s - par[l], 0.0);
            f[l] = s > 0 ? wgt / s : 0.0;
        }
        double *w = W + (size_t)j * m * LN;
        for (int i = 0; i < m; ++i) for (int l = 0; l < LN; ++l) w[i * LN + l] *= f[l];
    }
    for (int c = 0; c < n; ++c)  /* out = W V^T */
        for (int i = 0; i < m; ++i) {
            double acc[LN] = {0};
            for (int j = 0; j < n; ++j)
                for (int l = 0; l < LN; ++l)
                    acc[l] += W[((size_t)j * m + i) * LN + l] * V[((size_t)j * n + c) * LN + l];
            for (int l = 0; l < LN; ++l) out[((size_t)c * m + i) * LN + l] = acc[l];
        }
    return sweeps;
}

/* Advance G groups of LN lanes by nsteps.  method: 0 subgradient, 1 svt, 2 projected.
   A (G, mn, LN) and V (G, n*n, LN) are updated in place.  Completion (XtX == NULL): mask M and
   targets Y per lane, (G, mn, LN).  Sensing: group g uses data set dat[g] of XtX, c, Q, p0
   (shared by its lanes).  Hyper-parameters (G, LN).
   status (G, LN): 1 = non-finite iterate, 2 = Jacobi did not converge; such lanes are frozen at 0.
   Returns the total number of Jacobi sweeps. */
long advance(int G, int m, int n, double *A, double *V, const int *dat,
             const double *M, const double *Y, const double *XtX, const double *cvec,
             const double *Q, const double *p0,
             const double *lr, const double *nuc, const double *l1, const double *l2,
             const double *rtol, int method, long nsteps, int *status, int nthreads) {
    const int mn = m * n;
    long total = 0;
#ifdef _OPENMP
    #pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) reduction(+:total)
#endif
    for (int g = 0; g < G; ++g) {
        double *a = A + (size_t)g * mn * LN, *v = V + (size_t)g * n * n * LN;
        double *W = malloc(sizeof(double) * mn * LN), *R = malloc(sizeof(double) * mn * LN);
        double *H = malloc(sizeof(double) * mn * LN), *nrm = malloc(sizeof(double) * n * LN);
        const int d = dat[g];
        /* completion: mask and targets per lane (lanes may come from different data sets) */
        const double *mk = M ? M + (size_t)g * mn * LN : NULL, *y = Y ? Y + (size_t)g * mn * LN : NULL;
        const double *xtx = XtX ? XtX + (size_t)d * mn * mn : NULL, *cv = cvec ? cvec + (size_t)d * mn : NULL;
        const double *qq = Q ? Q + (size_t)d * mn * mn : NULL, *pp = p0 ? p0 + (size_t)d * mn : NULL;
        double lr_[LN], nuc_[LN], l1_[LN], l2_[LN], thr[LN];
        int *st = status + (size_t)g * LN;
        int has_nuc = 0, has_l1 = 0, has_l2 = 0;
        for (int l = 0; l < LN; ++l) {
            int live = st[l] == 0;
            lr_[l] = live ? lr[g * LN + l] : 0.0;
            nuc_[l] = live ? nuc[g * LN + l] : 0.0;
            l1_[l] = live ? l1[g * LN + l] : 0.0;
            l2_[l] = live ? l2[g * LN + l] : 0.0;
            thr[l] = lr_[l] * nuc_[l];
            has_nuc |= nuc_[l] != 0; has_l1 |= l1_[l] != 0; has_l2 |= l2_[l] != 0;
        }
        const double *rt = rtol + g * LN;
        orthonormalize(n, v);
        for (long s = 0; s < nsteps; ++s) {
            unsigned bad = 0;
            if (s && (s & 255) == 0) orthonormalize(n, v);
            /* R = fit gradient (skipped by the projected method: the projection removes it) */
            if (method != 2) {
                if (xtx) {
                    matvec(mn, xtx, a, R);
                    for (int e = 0; e < mn; ++e) for (int l = 0; l < LN; ++l) R[e * LN + l] -= cv[e];
                } else {
                    for (int e = 0; e < mn; ++e) for (int l = 0; l < LN; ++l)
                        R[e * LN + l] = mk[e * LN + l] * a[e * LN + l] - y[e * LN + l];
                }
            } else {
                memset(R, 0, sizeof(double) * mn * LN);
            }
            if (has_l2 || has_l1)
                for (int e = 0; e < mn; ++e) for (int l = 0; l < LN; ++l) {
                    double x = a[e * LN + l];
                    R[e * LN + l] += l2_[l] * x + l1_[l] * (double)((x > 0) - (x < 0));
                }
            if (method == 1) { /* svt: gradient step, then threshold the singular values */
                for (int e = 0; e < mn * LN; ++e) H[e] = a[e] - lr_[e % LN] * R[e];
                if (has_nuc) total += svd_apply(m, n, H, v, W, nrm, thr, rt, 1, a, &bad);
                else memcpy(a, H, sizeof(double) * mn * LN);
            } else {
                if (has_nuc) {
                    total += svd_apply(m, n, a, v, W, nrm, nuc_, rt, 0, H, &bad);
                    for (int e = 0; e < mn * LN; ++e) R[e] += H[e];
                }
                for (int e = 0; e < mn; ++e) for (int l = 0; l < LN; ++l) a[e * LN + l] -= lr_[l] * R[e * LN + l];
                if (method == 2) {
                    if (qq) {
                        matvec(mn, qq, a, H);
                        for (int e = 0; e < mn; ++e) for (int l = 0; l < LN; ++l) a[e * LN + l] = H[e * LN + l] + pp[e];
                    } else {
                        for (int e = 0; e < mn; ++e) for (int l = 0; l < LN; ++l)
                            a[e * LN + l] = (1.0 - mk[e * LN + l]) * a[e * LN + l] + y[e * LN + l];
                    }
                }
            }
            /* a non-finite lane (or a Jacobi failure) is frozen at 0 and reported */
            double sum[LN] = {0};
            for (int e = 0; e < mn; ++e) for (int l = 0; l < LN; ++l) sum[l] += fabs(a[e * LN + l]);
            for (int l = 0; l < LN; ++l) {
                int code = !isfinite(sum[l]) ? 1 : ((bad >> l) & 1u) ? 2 : 0;
                if (code && st[l] == 0) {
                    st[l] = code;
                    lr_[l] = nuc_[l] = l1_[l] = l2_[l] = thr[l] = 0.0;
                    for (int e = 0; e < mn; ++e) a[e * LN + l] = 0.0;
                    set_identity(n, v, l);
                }
            }
        }
        free(W); free(R); free(H); free(nrm);
    }
    return total;
}
"""

_lib = None


def library() -> ctypes.CDLL:
    """Compile (once per process) and load the C kernel; raises if there is no C compiler."""
    global _lib
    if _lib is not None:
        return _lib
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        raise RuntimeError("no C compiler (cc, gcc or clang) on PATH")
    tmp = Path(tempfile.mkdtemp(prefix="groklab-bench-c-"))
    atexit.register(shutil.rmtree, tmp, True)
    src, out = tmp / "matrix_kernel.c", tmp / "matrix_kernel.so"
    src.write_text(SOURCE)
    # -fno-math-errno lets sqrt vectorize; no -ffast-math: IEEE semantics.  The host's vector
    # width and OpenMP when the compiler has them (the flags groklab's C build used).
    flags = ["-O3", "-fno-math-errno", "-fPIC", "-shared", "-std=c99"]
    err = ""
    for extra in (["-march=native", "-fopenmp"], ["-march=native"], ["-fopenmp"], []):
        p = subprocess.run([cc, *flags, *extra, str(src), "-o", str(out), "-lm"],
                           capture_output=True, text=True)
        if p.returncode == 0:
            break
        err = p.stderr
    else:
        raise RuntimeError(f"compiling the C kernel failed: {err.strip()[:500]}")
    lib = ctypes.CDLL(str(out))
    lib.advance.restype = ctypes.c_long
    P, I = ctypes.c_void_p, ctypes.c_int
    lib.advance.argtypes = [I, I, I, P, P, P, P, P, P, P, P, P, P, P, P, P, P, I, ctypes.c_long,
                            P, I]
    _lib = lib
    return lib


def _ptr(x):
    """A C pointer to a checked array; the kernel's unused inputs (size 0) are NULL."""
    return None if x.size == 0 else ctypes.c_void_p(x.ctypes.data)


class CKernelState(KernelState):
    """groklab's packing and argument checks, with the C step loop."""

    def advance(self, nsteps: int) -> int:
        G, m, n, *arrays, method, steps, status = self._args(nsteps)
        threads = min(torch.get_num_threads(), self.G) if nsteps * self.G >= 4096 else 1  # as groklab
        return int(library().advance(G, m, n, *map(_ptr, arrays), method, steps, _ptr(status),
                                     threads))

