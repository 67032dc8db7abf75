"""Batched (sub)gradient / projected / proximal descent for sparse recovery, depth 1
(docs/families/sparse-recovery.md#objective-and-methods).

A batch is D data sets x B runs per data set.  Parameters live in one tensor A of shape (D, B, n),
updated in place; one step is one or two batched GEMMs plus two or three in-place elementwise ops
over the whole batch, whatever D and B are:

    subgradient:  A <- A - alpha * (A G - c + l2 * A + l1 * sign(A))
    ista:         A <- S_{alpha l1}(A - alpha * (A G - c + l2 * A))       (soft-threshold prox)
    projected:    A <- Pi(A - alpha * (l1 * sign(A) + l2 * A)),  Pi(a) = a Q + p0,
                  Q = I - X^+ X, p0 = X^+ y   (projection onto {a : X a = y})

with G = X^T X, c = X^T y.  alpha, l1, l2 are per-run columns of shape (D, B, 1), or Python
floats when all runs of the batch agree (scalar kernels, and alpha folds into the GEMM).

Speed (benchmarks/bench_sparse.py): the step is GEMM-bound.  G has rank N,
so when N < n/2 the data term goes through X in two thin GEMMs, (A X^T - y) X: 4 B n N flops
instead of 2 B n^2 (n=100, N=30: 40% fewer flops, ~25% less time).  Otherwise one GEMM through
G (or Q - I) is used.  The step size scales the (B, N) residual rather than the (B, n) gradient,
the ops run in place on reused buffers (no step allocates), and there is no Python loop over
runs and no host synchronisation in the step loop.  Metrics are computed on the logging schedule,
several logged iterates at a time (see "metrics" below), into a preallocated (T, n_metrics, D, B)
tensor copied to the host once at the end.
"""
from __future__ import annotations

import time

import torch

from ...penalties import L1, L2, axpy_
from ...result import BatchResult
from ...schedule import log_steps
from .data import DTYPE, SparseData, initial_point

METRICS = (
    "train_error",        # |X a - y| / |y|
    "test_error",         # |a - a*| / |a*|   (recovery error)
    "l1_norm",            # |a|_1
    "l2_norm",            # |a|_2
    "grad_fit_norm",      # |X^T (X a - y)|      gradient of the fit term (deep: over the factors)
    "grad_penalty_norm",  # |l1 sign(a) + l2 a|  (sub)gradient of the penalty term (deep: idem)
    "nonzeros",           # number of exactly non-zero coordinates
    "support_recovered",  # 1 if every |a_i| on supp(a*) exceeds every |a_j| off it
    "off_support_l1",     # |a restricted to the complement of supp(a*)|_1
)


#: rows of METRICS that compare with a* (NaN when the data have none)
TRUTH_METRICS = (1, 7, 8)
#: rows (runs x stacked iterates) measured per record call; see "metrics" in run_sparse_batch
RECORD_ROWS = 2048
_l1, _l2 = L1(), L2("half")


def per_run_column(cfgs, name: str, dev):
    """Per-run hyper-parameter: a (D, B, 1) column, or a float if all runs agree."""
    vals = [[float(getattr(cf, name)) for cf in row] for row in cfgs]
    flat = {v for row in vals for v in row}
    if len(flat) == 1:
        return flat.pop()
    return torch.tensor(vals, dtype=DTYPE, device=dev).unsqueeze(-1)


def make_measure(datas, X, Xt, y, a_star, l1, l2, has_l2: bool, K: int, B: int):
    """``measure(H)``: the METRICS of iterates H (D, M, n), M <= K * B stacked rows per data set,
    as a (n_metrics, D, M) tensor; l1, l2 are floats or (D, B, 1) columns (grad_penalty_norm is
    |l1 sign(a) + l2 a| of the code a; the deep path overwrites it and grad_fit_norm with their
    norms over the factors)."""
    D, n, dev = X.shape[0], X.shape[-1], X.device
    ynorm = y.norm(dim=-1).clamp_min(1e-300)  # (D, 1)
    anorm = a_star.norm(dim=-1).clamp_min(1e-300)  # (D, 1)
    negy = -y
    # per-run strengths repeated for the K stacked iterates: row i*B + b of a chunk is run b
    l1r, l2r = (torch.as_tensor(v, dtype=DTYPE, device=dev).expand(D, B, 1).repeat(1, K, 1)
                for v in (l1, l2))
    sizes = {int(d.support.numel()) for d in datas}
    s = sizes.pop() if len(sizes) == 1 else 0
    if 0 < s < n:  # equal support sizes: gather on/off-support entries (2.5x cheaper than where)
        on = torch.zeros(D, n, dtype=torch.bool)
        for i, d in enumerate(datas):
            on[i, d.support] = True
        idx = torch.arange(n).expand(D, n)
        on_idx, off_idx = idx[on].view(D, 1, s).to(dev), idx[~on].view(D, 1, n - s).to(dev)
    else:  # mixed sparsities in one batch (or s = n): masks
        mask = torch.zeros(D, 1, n, dtype=torch.bool, device=dev)
        for i, d in enumerate(datas):
            mask[i, 0, d.support.to(dev)] = True
        inf = torch.tensor(float("inf"), dtype=DTYPE, device=dev)
    # data sets without a ground truth (a user's data without a_star): no test metrics
    blind = [i for i, d in enumerate(datas) if not d.has_truth]

    def measure(H):
        """Metrics of the iterates H (D, M, n) -> (n_metrics, D, M)."""
        M = H.shape[1]
        o = torch.empty(len(METRICS), D, M, dtype=DTYPE, device=dev)
        res = torch.baddbmm(negy, H, Xt)  # X a - y
        torch.linalg.vector_norm(res, dim=-1, out=o[0]).div_(ynorm)
        torch.linalg.vector_norm(H - a_star, dim=-1, out=o[1]).div_(anorm)
        absH = H.abs()
        torch.sum(absH, dim=-1, out=o[2])
        torch.linalg.vector_norm(H, dim=-1, out=o[3])
        torch.linalg.vector_norm(torch.bmm(res, X), dim=-1, out=o[4])
        pen = _l1.subgradient(H).mul_(l1r[:, :M])
        if has_l2:
            _l2.add_subgradient_(pen, H, l2r[:, :M])
        torch.linalg.vector_norm(pen, dim=-1, out=o[5])
        torch.sum(torch.ne(H, 0, out=pen), dim=-1, out=o[6])
        if 0 < s < n:
            on_min = absH.gather(-1, on_idx.expand(D, M, s)).amin(-1)
            off = absH.gather(-1, off_idx.expand(D, M, n - s))
            off_max = off.amax(-1)
            torch.sum(off, dim=-1, out=o[8])
        else:
            on_min = torch.where(mask, absH, inf).amin(-1)
            off_max = torch.where(mask, -inf, absH).amax(-1)
            torch.sum(torch.where(mask, 0.0, absH), dim=-1, out=o[8])
        torch.gt(on_min, off_max, out=o[7])
        for row in TRUTH_METRICS if blind else ():
            o[row, blind] = float("nan")
        return o
    return measure


def stack_inputs(datas, cfgs, dev):
    """The batch's data stacked over data sets and its per-run hyper-parameters (shared by the
    depth-1 and deep paths)."""
    X = torch.stack([d.X for d in datas]).to(dev)  # (D, N, n)
    y = torch.stack([d.y for d in datas]).to(dev).unsqueeze(1)  # (D, 1, N)
    a_star = torch.stack([d.a_star for d in datas]).to(dev).unsqueeze(1)  # (D, 1, n)
    # a transposed *view*: both thin GEMMs then read the same copy of X (half the cache footprint;
    # it matters for many data sets of one run each)
    Xt = X.transpose(1, 2)  # (D, n, N)
    alpha, l1, l2 = (per_run_column(cfgs, name, dev) for name in ("lr", "l1", "l2"))
    has_l1 = bool((torch.as_tensor(l1) != 0).any())
    has_l2 = bool((torch.as_tensor(l2) != 0).any())
    return X, y, a_star, Xt, alpha, l1, l2, has_l1, has_l2


def run_sparse_batch(datas: list[SparseData], cfgs: list[list], *, device: str = "cpu",
                     save_iterates: bool = False, progress=None) -> BatchResult:
    """Advance D x B runs together. ``cfgs[d][b]`` is run b on data set d; all configs share
    method, steps and logging schedule, and all data sets share (n, N).  Depth 1 only (a deep
    diagonal model: :func:`groklab.families.sparse_recovery.deep.run_deep_batch`)."""
    t0 = time.perf_counter()
    D, B = len(datas), len(cfgs[0])
    first = cfgs[0][0]
    if first.depth != 1:
        raise ValueError(f"run_sparse_batch is the depth-1 engine; depth {first.depth} runs go "
                         "through run_deep_batch")
    method = first.method
    if method not in ("subgradient", "ista", "projected"):
        raise ValueError(f"unknown method {method!r}")
    dev = torch.device(device)
    X, y, a_star, Xt, alpha, l1, l2, has_l1, has_l2 = stack_inputs(datas, cfgs, dev)
    N, n = X.shape[-2:]
    neg_alpha_l1 = -alpha * l1  # the step's l1 term is neg_alpha_l1 * sign(A)
    decay = 1 - alpha * l2  # A - alpha l2 A = decay * A  (multiplies, so sign(A) is taken first)
    A = torch.stack([torch.stack([initial_point(cf, d) for cf in row])
                     for row, d in zip(cfgs, datas)]).to(dev)  # (D, B, n)
    P = torch.empty_like(A)  # scratch for sign(A) / the prox clamp, reused every step

    # ---- the data term: A <- A + scale * (A L - v) Rt (thin) or A + scale * (A L - v) ---------
    thin = 2 * N < n  # 4 B n N flops through X beat 2 B n^2 through G when N < n/2
    if method == "projected":
        pinv = torch.linalg.pinv(X)  # (D, n, N)
        p0 = (pinv @ y.transpose(1, 2)).transpose(1, 2)  # (D, 1, n), row vector X^+ y
        if thin:  # Pi(a) = a - (a X^+ - w) X, w = p0 X^+: p0 lies in the row space, so p0 = w X
            L, v, Rt, scale = pinv, p0 @ pinv, X, -1.0
        else:  # Pi(a) = a + (a (Q - I) + p0), in place
            L, v, Rt, scale = -(pinv @ X), -p0, None, 1.0
    else:
        if thin:  # A G - c = (A X^T - y) X
            L, v, Rt = Xt, y, X
        else:
            L, v, Rt = Xt @ X, y @ X, None
        scale = -alpha if isinstance(alpha, float) else alpha.neg()
    negv = -v
    S = torch.empty(D, B, L.shape[-1], dtype=DTYPE, device=dev)  # residual scratch

    def fit_residual(A):  # S = A L - v; pre-scaled when a GEMM follows ((B, N) is the cheap side)
        torch.baddbmm(negv, A, L, out=S)
        if Rt is not None and torch.is_tensor(scale):
            S.mul_(scale)

    def fit_apply(A):  # A += scale * S Rt  (a uniform step size rides in the GEMM's alpha)
        if Rt is None:
            axpy_(A, scale, S)
        elif torch.is_tensor(scale):
            A.baddbmm_(S, Rt)
        else:
            A.baddbmm_(S, Rt, alpha=scale)

    # Every term of the update reads the old iterate: the residual and sign(A) are taken before
    # A is touched.  sign / soft-threshold are L1.subgradient / L1.prox_, written into the reused
    # buffer P.
    def penalty_step(A):  # A <- A - alpha (l1 sign(A) + l2 A), sign taken from the old A
        if has_l1:
            _l1.subgradient(A, out=P)
        if has_l2:
            A.mul_(decay)
        if has_l1:
            axpy_(A, neg_alpha_l1, P)

    if method == "subgradient":
        def step(A):
            fit_residual(A)  # the residual of the old A, before the penalty moves it
            penalty_step(A)
            fit_apply(A)
    elif method == "ista":
        thr = alpha * l1

        def step(A):
            fit_residual(A)
            if has_l2:
                A.mul_(decay)
            fit_apply(A)
            if has_l1:  # S_t(a) = a - clamp(a, -t, t)
                _l1.prox_(A, thr, buf=P)
    else:  # projected; the first projection makes the train error zero from step 1 on
        def step(A):
            penalty_step(A)
            fit_residual(A)
            fit_apply(A)

    # ---- metrics on the logging schedule ----------------------------------------------------
    # Every step is logged early on (the dense phase), and a record is ~20 small ops: for small
    # batches their dispatch costs more than their arithmetic.  So the iterates of up to K
    # consecutive logged steps are copied into `hist` and measured in one pass over K*B rows
    # per data set (K*D*B ~ RECORD_ROWS): per record 1.7x cheaper at B=256, 3x at 64 data sets
    # of one run; the copies cost little.  Big batches (D*B >= RECORD_ROWS) measure A directly.
    schedule = log_steps(first.steps, first.log_every, first.log_dense_until, first.log_spacing)
    T = len(schedule)
    out = torch.empty(T, len(METRICS), D, B, dtype=DTYPE, device=dev)
    iters = torch.empty(T, D, B, n, dtype=DTYPE, device=dev) if save_iterates else None
    K = max(1, min(RECORD_ROWS // (D * B), 64))
    hist = torch.empty(D, K, B, n, dtype=DTYPE, device=dev) if K > 1 else None
    measure = make_measure(datas, X, Xt, y, a_star, l1, l2, has_l2, K, B)

    def advance(to, current):
        for _ in range(to - current):
            step(A)
        if progress is not None and to > current:
            progress((to - current) * D * B)
        return to

    current, k = 0, 0
    while k < T:
        m = 1  # the next m logged steps are consecutive: measure them together
        while m < K and k + m < T and schedule[k + m] == schedule[k + m - 1] + 1:
            m += 1
        current = advance(int(schedule[k]), current)
        if m == 1:
            H = A
        else:
            hist[:, 0].copy_(A)
            for i in range(1, m):
                current = advance(current + 1, current)
                hist[:, i].copy_(A)
            H = hist[:, :m].reshape(D, m * B, n)
        out[k:k + m] = measure(H).view(len(METRICS), D, m, B).permute(2, 0, 1, 3)
        if iters is not None:
            iters[k:k + m] = H.view(D, m, B, n).transpose(0, 1)
        k += m

    R_runs = D * B
    host = out.reshape(T, len(METRICS), R_runs).cpu().numpy()
    metrics = {name: host[:, i, :] for i, name in enumerate(METRICS)}
    final = A.reshape(R_runs, -1).cpu().numpy()
    it = iters.reshape(T, R_runs, -1).cpu().numpy() if iters is not None else None
    return BatchResult(steps=schedule, metrics=metrics, final=final, iterates=it,
                       wall_time_s=time.perf_counter() - t0)
