"""Batched (sub)gradient / projected / proximal descent for matrix completion and sensing,
shallow (one matrix A) or deep (A = A_1 A_2 ... A_L) (docs/families/matrix.md#objective-and-methods).

A batch is D data sets x B runs per data set.  Every factor lives in one tensor of shape
(D, B, p, q); per-run hyper-parameters are (D, B, 1, 1) columns.  The data enter only through
the gradient of the fit term g(A) = |X vec A - y|^2 / 2:

    completion:  G = M * A - Y        (M the (D, 1, n1, n2) 0/1 mask of Omega, Y = M * A*;
                                       runs on one data set share their mask)
    sensing:     vec G = vec(A) X^T X - X^T y   (one batched GEMM, as in the sparse engine)

Methods (depth 1):

    subgradient:  A <- A - lr (G + l2 A + l1 sign(A) + nuclear U V^T)
    svt:          A <- SVT_{lr nuclear}(A - lr (G + l2 A + l1 sign(A)))
    projected:    A <- Pi(A - lr (l2 A + l1 sign(A) + nuclear U V^T)),  Pi = projection onto
                  {X vec A = y} (completion: reset the observed entries to A*_Omega).  The fit
                  gradient is left out because it is exact: G lies in range(X^T), which Pi removes.

U V^T comes from one batched ``torch.linalg.svd`` per step; by default it uses every singular
vector with sigma > 0 (all min(n1, n2) of them in floating point, as the authors' code does), so
spurious singular values oscillate at ~ lr*nuclear instead of reaching 0 (``nuclear_rank_tol``
drops those below a fraction of sigma_max).  The penalty objects of :mod:`groklab.penalties` do
the work (Nuclear.prox is SVT; Nuclear.add_from_svd_ adds beta U V^T with one batched GEMM); the
SVD they use here reports failures as :class:`_Dead` (:func:`checked_svd`).

Depth L: A = A_1 ... A_L; with prefix products P_k = A_1 ... A_k and suffixes S_k = A_k ... A_L,
the gradient of g(A) with respect to A_k is P_{k-1}^T G S_{k+1}^T (the matrix chain rule, correct
for every L -- the authors' code takes elementwise products, wrong for L >= 3).  Penalties apply
to every factor (l2 A_k, l1 sign(A_k), nuclear U_k V_k^T or per-factor SVT).

Backends: this file is the reference implementation (torch, any depth, any device).  On the CPU,
depth-1 batches go by default through the lockstep kernel of :mod:`.kernel` (compiled with
numba: warm-started one-sided Jacobi instead of LAPACK; same updates, agreeing to rounding),
because a batched ``torch.linalg.svd`` decomposes one small matrix at a time and is no faster than
a numpy loop.  ``GROKLAB_MATRIX_KERNEL=torch`` forces this file's loop (silently; falling back
because the kernel is unavailable prints one line).  Metrics are always computed here.

Divergence: a run whose iterate turns non-finite, or whose SVD fails, is marked dead: its state is
zeroed so the rest of the batch goes on, and its metrics and final iterate are NaN (the sweep
records it as 'diverged').  The only host synchronisation in the step loop is one finiteness
check before each SVD (LAPACK raises on NaN but silently returns NaN for inf).

Metrics (on the product A, at every logged step; see METRICS) include the full singular-value
spectrum sigma_0 >= ... >= sigma_{k-1}, k = min(n1, n2).
"""
from __future__ import annotations

import time

import torch
from torch import Tensor

from ...penalties import L1, L2, Nuclear
from ...result import BatchResult
from ...schedule import log_steps
from . import kernel as matrix_kernel
from .data import DTYPE, MatrixData, initial_factors

METRICS = (
    "train_error",        # |P_Omega(A - A*)|_F / |P_Omega A*|_F   (sensing: |X vec A - y| / |y|)
    "test_error",         # |A - A*|_F / |A*|_F over the whole matrix (the authors' choice)
    "unobserved_error",   # error on the unobserved entries, |P_Omega^c(A - A*)| / |P_Omega^c A*|
                          # (sensing: the part of vec(A - A*) in the null space of X)
    "nuclear_norm",       # |A|_*
    "fro_norm",           # |A|_F
    "l1_norm",            # |A|_1 (entrywise)
    "numerical_rank",     # #{sigma_i > RANK_RTOL * sigma_max}
    "effective_rank",     # exp(entropy of sigma / sum(sigma))  (Roy & Vetterli 2007)
    "spectral_error",     # |A - A*|_2
    "nuclear_error",      # |A - A*|_*  (figure 6 plots it / sqrt(n1 n2))
    "grad_fit_norm",      # |grad of the fit term| w.r.t. the parameters (all factors)
    "grad_penalty_norm",  # |l2 A_k + l1 sign(A_k) + nuclear U_k V_k^T| over all factors
)
#: rows of METRICS that compare with A* (NaN when the data have none)
TRUTH_METRICS = (1, 2, 8, 9)
#: relative threshold of the numerical rank.  The subgradient method leaves spurious singular
#: values at ~ lr*nuclear, so rank r is reported once lr*nuclear < 1e-3 sigma_max(A*).
RANK_RTOL = 1e-3

_l1, _l2 = L1(), L2("half")
LinAlgError = torch.linalg.LinAlgError


class _Dead(Exception):
    """Raised inside a step when an SVD fails (``args[0]``: its (D, B, p, q) input); the loop
    marks the failing runs dead and redoes the step."""


def failing_runs(t: Tensor) -> Tensor:
    """(D, B) mask of the runs whose matrix makes an SVD fail: non-finite entries, or (rare)
    LAPACK non-convergence, found by decomposing the finite ones one at a time."""
    bad = ~torch.isfinite(t).all(-1).all(-1)
    for idx in torch.nonzero(~bad).tolist():
        try:
            torch.linalg.svd(t[tuple(idx)], full_matrices=False)
        except LinAlgError:
            bad[tuple(idx)] = True
    return bad


def checked_svd(a: Tensor):
    """Thin SVD of a batch that raises :class:`_Dead` instead of returning garbage."""
    # LAPACK raises on NaN but not on inf (MKL prints to stderr and returns NaN): check first
    if not bool(torch.isfinite(a).all()):
        raise _Dead(a)
    try:
        return torch.linalg.svd(a, full_matrices=False)
    except LinAlgError:
        raise _Dead(a) from None


def nuclear_penalty(rtol: Tensor | None) -> Nuclear:
    """The nuclear norm with per-run rank tolerances (D, B, 1) (None: keep every sigma > 0) and
    the checked SVD."""
    return Nuclear(rank_tol=0.0 if rtol is None else rtol, svd=checked_svd)


class _Fit:
    """The fit term for D stacked data sets: gradient, residual norm, projection, null part."""

    def __init__(self, datas: list[MatrixData], dev):
        self.kind = datas[0].kind
        self.n1, self.n2 = datas[0].shape
        A_star = torch.stack([d.A_star for d in datas]).to(dev).unsqueeze(1)  # (D, 1, n1, n2)
        self.A_star = A_star
        if self.kind == "completion":
            self.M = torch.stack([d.mask for d in datas]).to(dev).unsqueeze(1)  # (D, 1, n1, n2)
            self.Mc = 1.0 - self.M
            # the observations (0 elsewhere): M * A* for generated data, a user's values otherwise
            self.Y = torch.stack([d.A_ls for d in datas]).to(dev).unsqueeze(1)
            self.negY = -self.Y
        else:
            X = torch.stack([d.X for d in datas]).to(dev)  # (D, N, n)
            y = torch.stack([d.y for d in datas]).to(dev)  # (D, N)
            self.X, self.Xt = X, X.transpose(1, 2)
            self.XtX = self.Xt @ X  # (D, n, n)
            self.negc = -(self.Xt @ y.unsqueeze(-1)).transpose(1, 2)  # (D, 1, n)
            self.negy = -y.unsqueeze(1)  # (D, 1, N)
            pinv = torch.linalg.pinv(X)  # (D, n, N)
            eye = torch.eye(X.shape[-1], dtype=DTYPE, device=dev)
            self.Q = eye - pinv @ X  # (D, n, n) projector onto the null space of X (symmetric)
            self.p0 = (pinv @ y.unsqueeze(-1)).transpose(1, 2)  # (D, 1, n) minimum-norm solution
        self.ynorm = self.residual_norm(torch.zeros_like(A_star)).clamp_min(1e-300)  # (D, 1)
        self.null_star = self.null_norm(A_star).clamp_min(1e-300)  # (D, 1)
        #: data sets without a ground truth (a user's data without A_star): no test metrics
        self.blind = [i for i, d in enumerate(datas) if not d.has_truth]

    def _flat(self, A):
        return A.reshape(A.shape[0], A.shape[1], -1)

    def grad(self, A: Tensor, out: Tensor) -> Tensor:
        if self.kind == "completion":
            return torch.addcmul(self.negY, self.M, A, out=out)
        torch.baddbmm(self.negc, self._flat(A), self.XtX, out=out.view(*out.shape[:2], -1))
        return out

    def residual_norm(self, A: Tensor) -> Tensor:  # (D, B) |X vec A - y|
        if self.kind == "completion":
            return torch.linalg.vector_norm(self.M * A - self.Y, dim=(-2, -1))
        return torch.linalg.vector_norm(torch.baddbmm(self.negy, self._flat(A), self.Xt), dim=-1)

    def null_norm(self, E: Tensor) -> Tensor:  # (D, B) norm of the part X cannot see
        if self.kind == "completion":
            return torch.linalg.vector_norm(self.Mc * E, dim=(-2, -1))
        return torch.linalg.vector_norm(torch.bmm(self._flat(E), self.Q), dim=-1)

    def project_(self, A: Tensor) -> Tensor:
        if self.kind == "completion":
            return A.mul_(self.Mc).add_(self.Y)
        flat = torch.baddbmm(self.p0, self._flat(A), self.Q)
        return A.copy_(flat.view_as(A))


def _product(F: list[Tensor]) -> Tensor:
    P = F[0]
    for f in F[1:]:
        P = P @ f
    return P


def chain_grads(F: list[Tensor], fit: _Fit, G_out: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Product A = F_1 ... F_L, the fit gradient G at A, and dg/dF_k = P_{k-1}^T G S_{k+1}^T."""
    L = len(F)
    if L == 1:
        return F[0], [fit.grad(F[0], G_out)]
    pre = [F[0]]
    for f in F[1:]:
        pre.append(pre[-1] @ f)
    suf = [None] * L
    suf[-1] = F[-1]
    for k in range(L - 2, 0, -1):
        suf[k] = F[k] @ suf[k + 1]
    P = pre[-1]
    G = fit.grad(P, G_out)
    grads = [G @ suf[1].mT]
    for k in range(1, L - 1):
        grads.append(pre[k - 1].mT @ G @ suf[k + 1].mT)
    grads.append(pre[-2].mT @ G)
    return P, grads


def run_matrix_batch(datas: list[MatrixData], cfgs: list[list], *, device: str = "cpu",
                     save_iterates: bool = False, progress=None) -> BatchResult:
    """Advance D x B runs together.  ``cfgs[d][b]`` is run b on data set d; all configs share
    method, depth, width, steps and logging schedule, and all data sets share their shapes."""
    t0 = time.perf_counter()
    D, B = len(datas), len(cfgs[0])
    first = cfgs[0][0]
    dev = torch.device(device)
    fit = _Fit(datas, dev)
    n1, n2 = fit.n1, fit.n2
    k_sv = min(n1, n2)

    def col(name):  # per-run hyper-parameter as a (D, B, 1, 1) column
        return torch.tensor([[float(getattr(cf, name)) for cf in row] for row in cfgs],
                            dtype=DTYPE, device=dev)[..., None, None]

    lr, nuc, l1, l2 = col("lr"), col("nuclear"), col("l1"), col("l2")
    rtol = col("nuclear_rank_tol")[..., 0]
    neg_lr, thr = -lr, lr * nuc
    has_l1, has_l2, has_nuc = (bool((v != 0).any()) for v in (l1, l2, nuc))
    nuclear = nuclear_penalty(rtol if bool((rtol != 0).any()) else None)
    method, L = first.method, first.depth

    init = [initial_factors(cf, d) for row, d in zip(cfgs, datas) for cf in row]
    F = [torch.stack([f[k] for f in init]).reshape(D, B, *init[0][k].shape).to(dev).contiguous()
         for k in range(L)]
    G = torch.empty(D, B, n1, n2, dtype=DTYPE, device=dev)  # scratch: fit gradient at the product
    dead = torch.zeros(D, B, dtype=torch.bool, device=dev)
    smooth = method == "svt"  # the nuclear term goes to the prox, not to the subgradient

    def add_penalties(R: Tensor, f: Tensor, nuclear_too: bool) -> Tensor:
        if has_l2:
            _l2.add_subgradient_(R, f, l2)
        if has_l1:
            _l1.add_subgradient_(R, f, l1)
        if has_nuc and nuclear_too:
            nuclear.add_subgradient_(R, f, nuc)
        return R

    if L == 1 and method == "projected":
        R = torch.zeros_like(F[0])

        def step(F):
            A = F[0]
            if has_l1 or has_l2 or has_nuc:
                R.zero_()
                add_penalties(R, A, True)  # every SVD happens before the state changes
                A.addcmul_(neg_lr, R)
            fit.project_(A)
            return F
    elif L == 1:
        def step(F):
            A = F[0]
            R = add_penalties(fit.grad(A, G), A, not smooth)
            if smooth and has_nuc:
                return [nuclear.prox(torch.addcmul(A, neg_lr, R), thr)]
            A.addcmul_(neg_lr, R)
            return F
    else:
        def step(F):
            _, grads = chain_grads(F, fit, G)
            grads = [add_penalties(g, f, not smooth) for g, f in zip(grads, F)]
            if smooth and has_nuc:
                return [nuclear.prox(torch.addcmul(f, neg_lr, g), thr) for f, g in zip(F, grads)]
            for f, g in zip(F, grads):
                f.addcmul_(neg_lr, g)
            return F

    def kill(F, bad: Tensor) -> list[Tensor]:
        """Mark runs dead and zero their state so the rest of the batch goes on."""
        dead.logical_or_(bad)
        return [f.masked_fill_(dead[..., None, None], 0.0) for f in F]

    def safe_step(F):
        for _ in range(8):
            try:
                return step(F)
            except _Dead as e:  # every SVD runs before the state changes: kill and redo
                F = kill(F, failing_runs(e.args[0]))
        raise RuntimeError("batched SVD keeps failing after removing the failing runs")

    schedule = log_steps(first.steps, first.log_every, first.log_dense_until, first.log_spacing)
    T = len(schedule)
    n_m = len(METRICS) + k_sv
    out = torch.empty(T, n_m, D, B, dtype=DTYPE, device=dev)
    iters = torch.empty(T, D, B, n1 * n2, dtype=DTYPE, device=dev) if save_iterates else None
    a_norm = torch.linalg.vector_norm(fit.A_star, dim=(-2, -1))  # (D, 1)

    def record(k, F):
        o = out[k]
        Gr = torch.empty_like(G)
        P, grads = chain_grads(F, fit, Gr)
        finite = torch.isfinite(P).all(-1).all(-1)
        for f in F[:-1] if L > 1 else ():  # the product can overflow when the factors do not
            finite &= torch.isfinite(f).all(-1).all(-1)
        if not bool(finite.all()):
            F = kill(F, ~finite)
            P, grads = chain_grads(F, fit, Gr)
        E = P - fit.A_star
        torch.div(fit.residual_norm(P), fit.ynorm, out=o[0])
        torch.div(torch.linalg.vector_norm(E, dim=(-2, -1)), a_norm, out=o[1])
        torch.div(fit.null_norm(E), fit.null_star, out=o[2])
        shallow_nuc = L == 1 and has_nuc  # then one SVD of A gives sigma and U V^T
        try:
            if shallow_nuc:
                u, s, vh = torch.linalg.svd(P, full_matrices=False)  # s: (D, B, k)
            else:
                s = torch.linalg.svdvals(P)
            se = torch.linalg.svdvals(E)
        except LinAlgError:  # LAPACK non-convergence on finite input (rare): drop those runs
            F = kill(F, failing_runs(P) | failing_runs(E))
            P, grads = chain_grads(F, fit, Gr)
            E = P - fit.A_star
            u, s, vh = torch.linalg.svd(P, full_matrices=False)
            se = torch.linalg.svdvals(E)
        torch.sum(s, dim=-1, out=o[3])
        torch.linalg.vector_norm(P, dim=(-2, -1), out=o[4])
        torch.sum(P.abs(), dim=(-2, -1), out=o[5])
        o[6] = (s > RANK_RTOL * s[..., :1]).sum(-1)
        p = s / s.sum(-1, keepdim=True).clamp_min(1e-300)
        ent = -torch.where(p > 0, p * torch.log(p.clamp_min(1e-300)), 0.0).sum(-1)
        o[7] = torch.where(s[..., 0] > 0, torch.exp(ent), 0.0)
        o[8] = se[..., 0]
        torch.sum(se, dim=-1, out=o[9])
        fit_sq = sum(torch.linalg.vector_norm(g, dim=(-2, -1)) ** 2 for g in grads)
        o[10] = torch.sqrt(fit_sq)
        pen_sq = torch.zeros_like(o[10])
        if has_l1 or has_l2 or has_nuc:
            for f in F:
                Rp = torch.zeros_like(f)
                if has_l2:
                    _l2.add_subgradient_(Rp, f, l2)
                if has_l1:
                    _l1.add_subgradient_(Rp, f, l1)
                if shallow_nuc:
                    nuclear.add_from_svd_(Rp, u, s, vh, nuc)
                elif has_nuc:
                    try:
                        nuclear.add_subgradient_(Rp, f, nuc)
                    except _Dead:
                        pass  # metric only; the step's own SVD reports real failures
                pen_sq = pen_sq + torch.linalg.vector_norm(Rp, dim=(-2, -1)) ** 2
        o[11] = torch.sqrt(pen_sq)
        o[len(METRICS):] = s.permute(2, 0, 1)
        for row in TRUTH_METRICS if fit.blind else ():
            o[row, fit.blind] = float("nan")
        if dead.any():
            o[:, dead] = float("nan")
        if iters is not None:
            iters[k] = torch.where(dead[..., None], float("nan"), P.reshape(D, B, -1))

    # depth 1 on the CPU: the lockstep kernel, when available (see .kernel)
    kernel = None
    if L == 1 and matrix_kernel.wanted(L, n1, n2, dev):
        raw = {k: torch.tensor([[float(getattr(cf, k)) for cf in row] for row in cfgs], dtype=DTYPE)
               for k in ("lr", "nuclear", "l1", "l2", "nuclear_rank_tol")}
        kernel = matrix_kernel.KernelState(fit, F[0], raw, method)

    current = 0
    for k, t in enumerate(schedule):
        if kernel is not None and t > current:
            kernel.advance(int(t) - current)
            kernel.store(F[0])
            frozen = kernel.dead().to(dev) & ~dead
            if frozen.any():
                kill(F, frozen)
        else:
            for _ in range(int(t) - current):
                F = safe_step(F)
        if progress is not None and t > current:
            progress((int(t) - current) * D * B)
        current = int(t)
        record(k, F)

    R_runs = D * B
    host = out.reshape(T, n_m, R_runs).cpu().numpy()
    names = METRICS + tuple(f"sigma_{i}" for i in range(k_sv))
    metrics = {name: host[:, i, :] for i, name in enumerate(names)}
    P = _product(F).reshape(D, B, -1)
    P = torch.where(dead[..., None], float("nan"), P)
    final = P.reshape(R_runs, -1).cpu().numpy()
    it = iters.reshape(T, R_runs, -1).cpu().numpy() if iters is not None else None
    return BatchResult(steps=schedule, metrics=metrics, final=final, iterates=it,
                       wall_time_s=time.perf_counter() - t0)
