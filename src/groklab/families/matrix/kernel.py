"""A compiled step loop for depth-1 matrix completion / sensing (optional; torch is the fallback).

Why: a step needs an SVD of every run's matrix, and LAPACK (behind ``torch.linalg.svd`` *and*
``np.linalg.svd``) decomposes a batch one 10 x 10 matrix at a time at ~10 us each, so batching in
torch buys nothing over a plain numpy loop (benchmarks/bench_matrix.py).  This kernel advances
runs in lockstep groups of 8 (one SIMD lane per run) and computes each SVD by one-sided Jacobi
(Hestenes), warm-started from the previous step's right singular vectors: W = A V_prev has almost
orthogonal columns, so a few sweeps of plane rotations restore orthogonality to 1e-15 (relative,
per pair -- Jacobi is at least as accurate as LAPACK's bidiagonal SVD).  Then sigma_j = |w_j|,
U V^T = W diag(1/sigma) V^T and SVT = W diag(max(sigma - t, 0)/sigma) V^T.

The kernel is C99 source below, compiled once per machine with the system C compiler into
``$GROKLAB_CACHE`` (default ``~/.cache/groklab``) and loaded with ctypes.  ``GROKLAB_MATRIX_KERNEL``
picks the backend: ``auto`` (default: the kernel when it compiles and applies -- depth 1, CPU,
min(n1, n2) <= 32), ``c`` (the kernel or an error), ``torch`` (never the kernel).  Results agree
with the torch engine to rounding (tests/test_matrix.py).

Layout.  Inside the kernel a run's matrix is m x n column-major with m >= n: for n2 >= n1 that is
the row-major (n1, n2) torch buffer read as A^T, for n1 > n2 it is A itself (transposed on the way
in and out).  A group holds 8 runs of one data set; lane l of element e sits at [e * 8 + l].
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

LANES = 8
MAX_DIM = 64  # min(n1, n2) above this: LAPACK's O(n^3) SVD beats O(sweeps n^3) Jacobi

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
_error: str | None = None


def _cache_dir() -> Path:
    root = os.environ.get("GROKLAB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "groklab")
    return Path(root)


def _cpu_fingerprint() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln for ln in f if ln.startswith(("flags", "Features"))), "")
    except OSError:
        flags = ""
    return platform.machine() + flags


def _compile() -> ctypes.CDLL:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        raise RuntimeError("no C compiler (cc, gcc or clang) on PATH")
    # -fno-math-errno lets sqrt vectorize; no -ffast-math: IEEE semantics (NaN checks) are kept.
    flags = ["-O3", "-fno-math-errno", "-fPIC", "-shared", "-std=c99"]
    key = hashlib.sha1((SOURCE + " ".join(flags) + _cpu_fingerprint()).encode()).hexdigest()[:16]
    cache = _cache_dir()
    lib_path = cache / f"matrix_kernel_{key}.so"
    if not lib_path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "matrix_kernel.c"
            src.write_text(SOURCE)
            out = Path(tmp) / "k.so"
            err = ""
            # the host's vector width and OpenMP when the compiler has them (the .so is cached
            # per CPU fingerprint, so -march=native never runs on another CPU model)
            for extra in (["-march=native", "-fopenmp"], ["-march=native"], ["-fopenmp"], []):
                p = subprocess.run([cc, *flags, *extra, str(src), "-o", str(out), "-lm"],
                                   capture_output=True, text=True)
                if p.returncode == 0:
                    break
                err = p.stderr
            else:
                raise RuntimeError(f"compiling the matrix kernel failed: {err.strip()[:500]}")
            tmp_lib = cache / f".{lib_path.name}.{os.getpid()}.tmp"
            shutil.copyfile(out, tmp_lib)
            os.replace(tmp_lib, lib_path)  # atomic: concurrent shards never load half a file
    lib = ctypes.CDLL(str(lib_path))
    lib.advance.restype = ctypes.c_long
    P, I = ctypes.c_void_p, ctypes.c_int
    lib.advance.argtypes = [I, I, I, P, P, P, P, P, P, P, P, P, P, P, P, P, P, I, ctypes.c_long,
                            P, I]
    return lib


def library():
    """The compiled kernel, or None (the reason is in :func:`unavailable_reason`)."""
    global _lib, _error
    if _lib is None and _error is None:
        try:
            _lib = _compile()
        except Exception as e:  # noqa: BLE001 -- any failure means: use torch
            _error = str(e)
    return _lib


def unavailable_reason() -> str | None:
    library()
    return _error


def wanted(depth: int, n1: int, n2: int, device) -> bool:
    """Whether the engine should use the kernel for this batch (GROKLAB_MATRIX_KERNEL)."""
    mode = os.environ.get("GROKLAB_MATRIX_KERNEL", "auto").lower()
    if mode not in ("auto", "c", "torch"):
        raise ValueError(f"GROKLAB_MATRIX_KERNEL={mode!r}: use auto, c or torch")
    fits = depth == 1 and torch.device(device).type == "cpu" and min(n1, n2) <= MAX_DIM
    if mode == "torch" or not fits:
        if mode == "c" and not fits:
            raise RuntimeError("GROKLAB_MATRIX_KERNEL=c: the kernel needs depth 1, the CPU and "
                               f"min(rows, cols) <= {MAX_DIM}")
        return False
    if library() is None:
        if mode == "c":
            raise RuntimeError(f"GROKLAB_MATRIX_KERNEL=c but the kernel is unavailable: {_error}")
        return False
    return True


def _ptr(x) -> ctypes.c_void_p | None:
    if x is None:
        return None
    return ctypes.c_void_p(x.ctypes.data)


class KernelState:
    """Packs a (D, B, n1, n2) batch into lockstep groups of 8 runs, advances it in C, and unpacks
    it again.  Completion runs of any data sets share a group (mask and targets travel per lane);
    sensing groups hold runs of one data set (its X^T X is shared).  Lanes are ordered by
    lr * nuclear so that a group's runs need similar numbers of Jacobi sweeps (the group sweeps
    until its slowest lane has converged)."""

    def __init__(self, fit, A: torch.Tensor, cols: dict[str, torch.Tensor], method: str):
        D, B, n1, n2 = A.shape
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

    def advance(self, nsteps: int) -> int:
        h = self.hyper
        # threads split the groups; for short chunks (the dense logging phase) the fork/join costs
        # more than it saves, and spinning threads hurt a shared machine: one thread there
        threads = min(torch.get_num_threads(), self.G) if nsteps * self.G >= 4096 else 1
        return int(library().advance(
            self.G, self.m, self.n, _ptr(self.A), _ptr(self.V), _ptr(self.dat), _ptr(self.M),
            _ptr(self.Y), _ptr(self.XtX), _ptr(self.c), _ptr(self.Q), _ptr(self.p0),
            _ptr(h["lr"]), _ptr(h["nuclear"]), _ptr(h["l1"]), _ptr(h["l2"]),
            _ptr(h["nuclear_rank_tol"]), self.method, int(nsteps), _ptr(self.status), threads))
