"""The deep diagonal model for sparse recovery (depth L >= 2): a = a_1 * ... * a_L entrywise.

Same data term, metrics and batching as the depth-1 engine (:mod:`.engine`); every factor is
trained by (sub)gradient descent or ISTA on its own penalty
(docs/families/sparse-recovery.md#objective-and-methods).
"""
from __future__ import annotations

import time

import torch

from ...penalties import L1, L2, axpy_
from ...result import BatchResult
from ...schedule import log_steps
from .data import DTYPE, SparseData, initial_factors
from .engine import METRICS, make_measure, stack_inputs

_l1, _l2 = L1(), L2("half")


def run_deep_batch(datas: list[SparseData], cfgs: list[list], *, device: str = "cpu",
                   save_iterates: bool = False, progress=None) -> BatchResult:
    """a = F_1 * ... * F_L (entrywise), or a = u^L - v^L (init 'signed'); every factor takes a
    (sub)gradient step on 1/2 |X a - y|^2 + sum_k (l1 |F_k|_1 + l2/2 |F_k|^2), all from the old
    iterate (docs/families/sparse-recovery.md#objective-and-methods):

        F_k <- F_k - alpha * (prod_{j != k} F_j * g + l1 sign(F_k) + l2 F_k),  g = X^T (X a - y)
        signed:  u <- u - alpha * (L u^(L-1) g + ...),  v <- v - alpha * (-L v^(L-1) g + ...)

    ista: the l1 term is a soft-threshold of each factor by alpha*l1 instead.  The factors are one
    (L, D, B, n) tensor, so a step is the product, the data term through X (the same thin or G
    GEMMs as depth 1), and a handful of elementwise ops over all factors at once.  Metrics are
    those of depth 1, on the code a, except the two gradient norms, which are taken over all
    factors (the parameters the step updates): grad_fit_norm = |(prod_{j != k} F_j * g)_k| and
    grad_penalty_norm = |(l1 sign(F_k) + l2 F_k)_k|.  Each logged step is measured on its own (no stacking: the deep step dominates).
    ``extra["factors"]``: the final factors, (R, L, n) ((R, 2, n) = u, v when signed)."""
    t0 = time.perf_counter()
    D, B = len(datas), len(cfgs[0])
    first = cfgs[0][0]
    L, signed, method = first.depth, first.init == "signed", first.method
    if method not in ("subgradient", "ista"):
        raise ValueError(f"method {method!r} has no deep (depth > 1) variant")
    dev = torch.device(device)
    X, y, a_star, Xt, alpha, l1, l2, has_l1, has_l2 = stack_inputs(datas, cfgs, dev)
    N, n = X.shape[-2:]
    neg_alpha = -alpha if isinstance(alpha, float) else alpha.neg()
    F = torch.stack([torch.stack([initial_factors(cf, d) for cf in row])
                     for row, d in zip(cfgs, datas)])  # (D, B, L', n)
    F = F.permute(2, 0, 1, 3).contiguous().to(dev)  # (L', D, B, n): factor-major
    a = torch.empty(D, B, n, dtype=DTYPE, device=dev)  # the code (product)
    g = torch.empty(D, B, n, dtype=DTYPE, device=dev)  # X^T (X a - y)
    thin = 2 * N < n
    if thin:
        S = torch.empty(D, B, N, dtype=DTYPE, device=dev)
        negy = -y
    else:
        G, negc = Xt @ X, -(y @ X)  # (D, n, n), (D, 1, n)
    coef = torch.tensor([L, -L], dtype=DTYPE, device=dev).view(2, 1, 1, 1) if signed else None

    def code(F):  # a <- product of the factors
        if signed:
            torch.sub(F[0].pow(L), F[1].pow(L), out=a)
        else:
            torch.prod(F, 0, out=a)

    def fit_gradient(F):
        """The gradient of the fit term 1/2 |X a - y|^2 with respect to each factor, (L', D, B,
        n) (a fresh tensor: the step adds the penalty terms to it in place)."""
        code(F)
        if thin:
            torch.baddbmm(negy, a, Xt, out=S)
            torch.bmm(S, X, out=g)
        else:
            torch.baddbmm(negc, a, G, out=g)
        if signed:  # d a / d u = L u^(L-1), d a / d v = -L v^(L-1)
            W = F.pow(L - 1).mul_(coef)
        elif L == 2:
            W = F.flip(0)
        else:  # prod_{j != k} F_j: the rolls by 1 .. L-1 visit every other factor once
            W = F.roll(1, 0)
            for j in range(2, L):
                W.mul_(F.roll(j, 0))
        return W.mul_(g)

    def step(F):
        W = fit_gradient(F)
        if has_l2:
            _l2.add_subgradient_(W, F, l2)
        if has_l1 and method == "subgradient":
            _l1.add_subgradient_(W, F, l1)
        axpy_(F, neg_alpha, W)
        if has_l1 and method == "ista":
            _l1.prox_(F, alpha * l1)

    measure = make_measure(datas, X, Xt, y, a_star, l1, l2, has_l2, 1, B)
    schedule = log_steps(first.steps, first.log_every, first.log_dense_until, first.log_spacing)
    T = len(schedule)
    out = torch.empty(T, len(METRICS), D, B, dtype=DTYPE, device=dev)
    iters = torch.empty(T, D, B, n, dtype=DTYPE, device=dev) if save_iterates else None
    current = 0
    for k, t in enumerate(schedule):
        for _ in range(int(t) - current):
            step(F)
        if progress is not None and t > current:
            progress((int(t) - current) * D * B)
        current = int(t)
        # the fit and penalty gradients of eq. (1) live where the update does, on the factors:
        # |G| = |d g / d(F_1..F_L)| and |beta H| over all factors, so grad_ratio = |beta H|/|G|
        # compares the two terms of one step (the code-space |X^T (X a - y)| would mix spaces)
        W = fit_gradient(F)  # also sets a to the product of the factors
        o = measure(a)
        torch.linalg.vector_norm(W, dim=(0, -1), out=o[4])
        pen = torch.zeros_like(F)
        if has_l1:
            _l1.add_subgradient_(pen, F, l1)
        if has_l2:
            _l2.add_subgradient_(pen, F, l2)
        torch.linalg.vector_norm(pen, dim=(0, -1), out=o[5])
        out[k] = o
        if iters is not None:
            iters[k] = a
    R_runs = D * B
    host = out.reshape(T, len(METRICS), R_runs).cpu().numpy()
    code(F)
    return BatchResult(steps=schedule, metrics={name: host[:, i, :] for i, name in enumerate(METRICS)},
                       final=a.reshape(R_runs, n).cpu().numpy(),
                       iterates=iters.reshape(T, R_runs, n).cpu().numpy() if iters is not None else None,
                       wall_time_s=time.perf_counter() - t0,
                       extra={"factors": F.permute(1, 2, 0, 3).reshape(R_runs, -1, n).cpu().numpy()})
