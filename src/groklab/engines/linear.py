"""Batched (sub)gradient / projected / proximal descent for sparse recovery.

A batch is D data sets x B runs per data set.  Parameters live in one tensor A of shape (D, B, n);
the data enter only through G = X^T X (D, n, n) and c = X^T y (D, 1, n), so one step is one
batched GEMM plus a few fused elementwise ops over the whole batch, whatever D and B are:

    subgradient:  A <- A - alpha * (A G - c + l2 * A + l1 * sign(A))
    ista:         A <- S_{alpha l1}(A - alpha * (A G - c + l2 * A))       (soft-threshold prox)
    projected:    A <- Pi(A - alpha * (l1 * sign(A) + l2 * A)),  Pi(a) = a Q + p0,
                  Q = I - X^+ X, p0 = X^+ y   (projection onto {a : X a = y})

alpha, l1, l2 are per-run columns of shape (D, B, 1).  There is no Python loop over runs and no
host synchronisation inside the step loop: metrics are computed on the logging schedule into a
preallocated (T, n_metrics, D, B) tensor and copied to the host once at the end.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..penalties import L1, L2
from ..problems.sparse_recovery import DTYPE, SparseData, initial_point
from ..schedule import log_steps

METRICS = (
    "train_error",        # |X a - y| / |y|
    "test_error",         # |a - a*| / |a*|   (recovery error)
    "l1_norm",            # |a|_1
    "l2_norm",            # |a|_2
    "grad_fit_norm",      # |X^T (X a - y)|      gradient of the fit term
    "grad_penalty_norm",  # |l1 sign(a) + l2 a|  (sub)gradient of the penalty term
    "nonzeros",           # number of exactly non-zero coordinates
    "support_recovered",  # 1 if every |a_i| on supp(a*) exceeds every |a_j| off it
    "off_support_l1",     # |a restricted to the complement of supp(a*)|_1
)

_l1, _l2 = L1(), L2()


@dataclass
class BatchResult:
    steps: np.ndarray  # (T,) logged steps
    metrics: dict[str, np.ndarray]  # name -> (T, R) with R = D * B runs, run-major order
    final: np.ndarray  # (R, n) final iterates
    iterates: np.ndarray | None  # (T, R, n) if requested
    wall_time_s: float


def run_sparse_batch(datas: list[SparseData], cfgs: list[list], *, device: str = "cpu",
                     save_iterates: bool = False, progress=None) -> BatchResult:
    """Advance D x B runs together. ``cfgs[d][b]`` is run b on data set d; all configs share
    method, steps and logging schedule, and all data sets share (n, N)."""
    t0 = time.perf_counter()
    D, B = len(datas), len(cfgs[0])
    first = cfgs[0][0]
    dev = torch.device(device)
    X = torch.stack([d.X for d in datas]).to(dev)  # (D, N, n)
    y = torch.stack([d.y for d in datas]).to(dev)  # (D, N)
    a_star = torch.stack([d.a_star for d in datas]).to(dev).unsqueeze(1)  # (D, 1, n)
    Xt = X.transpose(1, 2)  # (D, n, N)
    G = Xt @ X  # (D, n, n)
    c = (Xt @ y.unsqueeze(-1)).transpose(1, 2)  # (D, 1, n)
    negc = -c

    def col(name):  # per-run hyper-parameter as a (D, B, 1) column
        return torch.tensor([[getattr(cf, name) for cf in row] for row in cfgs],
                            dtype=DTYPE, device=dev).unsqueeze(-1)

    alpha, l1, l2 = col("lr"), col("l1"), col("l2")
    neg_alpha = -alpha
    has_l1, has_l2 = bool((l1 != 0).any()), bool((l2 != 0).any())
    A = torch.stack([torch.stack([initial_point(cf, d) for cf in row])
                     for row, d in zip(cfgs, datas)]).to(dev)  # (D, B, n)
    R = torch.empty_like(A)  # scratch, reused every step
    method = first.method

    if method == "subgradient":
        def step(A):
            torch.baddbmm(negc, A, G, out=R)  # A G - c
            if has_l2:
                _l2.add_subgradient_(R, A, l2)
            if has_l1:
                _l1.add_subgradient_(R, A, l1)
            return A.addcmul_(neg_alpha, R)
    elif method == "ista":
        thr = alpha * l1

        def step(A):
            torch.baddbmm(negc, A, G, out=R)
            if has_l2:
                _l2.add_subgradient_(R, A, l2)
            A.addcmul_(neg_alpha, R)
            return _l1.prox_(A, thr) if has_l1 else A
    elif method == "projected":
        pinv = torch.linalg.pinv(X)  # (D, n, N)
        Q = torch.eye(X.shape[-1], dtype=DTYPE, device=dev) - pinv @ X  # (D, n, n)
        p0 = (pinv @ y.unsqueeze(-1)).transpose(1, 2)  # (D, 1, n)
        bufs = [A, torch.empty_like(A)]  # ping-pong: the projection cannot run in place

        def step(A):
            if has_l1 or has_l2:
                R.zero_()
                if has_l1:
                    _l1.add_subgradient_(R, A, l1)
                if has_l2:
                    _l2.add_subgradient_(R, A, l2)
                A.addcmul_(neg_alpha, R)
            out = bufs[1] if A is bufs[0] else bufs[0]
            return torch.baddbmm(p0, A, Q, out=out)
        # the first projection makes the train error zero from step 1 on
    else:
        raise ValueError(f"unknown method {method!r}")

    schedule = log_steps(first.steps, first.log_every, first.log_dense_until, first.log_spacing)
    T = len(schedule)
    mask = torch.zeros(D, 1, A.shape[-1], dtype=torch.bool, device=dev)
    for i, d in enumerate(datas):
        mask[i, 0, d.support.to(dev)] = True
    ynorm = y.norm(dim=-1, keepdim=True).clamp_min(1e-300)  # (D, 1)
    anorm = a_star.norm(dim=-1).clamp_min(1e-300)  # (D, 1)
    out = torch.empty(T, len(METRICS), D, B, dtype=DTYPE, device=dev)
    iters = torch.empty(T, D, B, A.shape[-1], dtype=DTYPE, device=dev) if save_iterates else None
    inf = torch.tensor(float("inf"), dtype=DTYPE, device=dev)

    def record(k, A):
        res = torch.baddbmm(-y.unsqueeze(1), A, Xt)  # (D, B, N)
        absA = A.abs()
        o = out[k]
        torch.div(res.norm(dim=-1), ynorm, out=o[0])
        torch.div((A - a_star).norm(dim=-1), anorm, out=o[1])
        torch.sum(absA, dim=-1, out=o[2])
        torch.linalg.vector_norm(A, dim=-1, out=o[3])
        torch.linalg.vector_norm(torch.bmm(res, X), dim=-1, out=o[4])
        pen = l1 * torch.sign(A) + l2 * A
        torch.linalg.vector_norm(pen, dim=-1, out=o[5])
        o[6] = (A != 0).sum(-1)
        on_min = torch.where(mask, absA, inf).amin(-1)
        off_max = torch.where(mask, -inf, absA).amax(-1)
        o[7] = (on_min > off_max).to(DTYPE)
        o[8] = torch.where(mask, 0.0, absA).sum(-1)
        if iters is not None:
            iters[k] = A

    current = 0
    for k, t in enumerate(schedule):
        for _ in range(int(t) - current):
            A = step(A)
        if progress is not None and t > current:
            progress((int(t) - current) * D * B)
        current = int(t)
        record(k, A)

    R_runs = D * B
    host = out.reshape(T, len(METRICS), R_runs).cpu().numpy()
    metrics = {name: host[:, i, :] for i, name in enumerate(METRICS)}
    final = A.reshape(R_runs, -1).cpu().numpy()
    it = iters.reshape(T, R_runs, -1).cpu().numpy() if iters is not None else None
    return BatchResult(steps=schedule, metrics=metrics, final=final, iterates=it,
                       wall_time_s=time.perf_counter() - t0)
