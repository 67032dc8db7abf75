"""Batched two-layer ReLU students (teacher-student and Sobolev training; SPEC §3).

A *panel* of R members (one config each, typically an alpha x beta grid) lives in two stacked
tensors W (R, h, d) and V (R, c, h); member r predicts y = V_r relu(W_r x).  One full-batch step
advances every member with a handful of batched GEMMs and one stacked optimizer update
(``engines.optim.update_``) with per-member learning rates, weight decays and penalty strengths as
(R, 1, 1) columns.  There is no autograd in the step: the gradient is written by hand (checked
against autograd in tests/test_teacher_student.py):

    Z = X W^T (R, N, h),  A = relu(Z),  Y = A V^T,  E = Y - Y*
    MSE = mean(E^2) over N x c (nn.MSELoss, as the authors)     G = 2 E / (N c)
    dV = G^T A,   dW = (G V * 1[Z > 0])^T X

Sobolev term (first derivatives; ReLU has no second).  The student's input Jacobian at x_i is
J_i = V diag(m_i) W with m_i = 1[W x_i > 0], so all N Jacobians of a member are ONE GEMM:
B = (m_i * V) stacked over i as an (N c, h) matrix, J = B W (N c, d).  With D = J - J* and
K = dL/dJ (``norm``: beta D / |D|_F, the authors' unsquared whole-batch norm; ``squared``:
2 beta D / N for (beta/N) sum_i |D_i|_F^2), the gradients are (relu'' = 0 a.e.)

    dW += B^T K (h, d),     dV[c, k] += sum_i m_i[k] (K_i W^T)[c, k]

i.e. two more GEMMs of the forward's size; no loop over samples and no double backward.

CPU, shared data (the usual case: every member of a panel sees the same X): the step is
``shared_loss_and_grads``, with the hidden layer laid out (R, h, n) so that the two big products
of all members are ONE GEMM each, Z = W_flat X^T ((R h) x d x n) and dW = dZ_flat X, through
oneDNN's float32 matmul (``engines.nets._fast_linear``: AVX-512 on the Zen 5 dev box, ~2x MKL's
sgemm, relu fused); the c-row products are small bmm's.  Its Sobolev term needs two GEMMs per
member instead of three: with m = 1[Z > 0] (h, n) and Wc = [V[0] W | ... | V[c-1] W] (h, c d),
J = m^T Wc (n, c d), and Q = m K (h, c d) gives both dW[k] += sum_c V[c, k] Q[k, c] and
dV[c, k] += <W[k], Q[k, c]>.  Adam / AdamW go through torch's fused CPU kernel (one pass instead
of ~10 elementwise ops).  A GPU, or members with their own data, keep the batched path above.

Penalties: beta * sum over both layers of h(W) (l1 entrywise, l2 = |W|_F unsquared or squared,
nuclear = sum of singular values), gradient in closed form by ``engines.nets.add_penalty_grad_``.

Precision: float32 by default.  Adam's step is scale-free (about lr per coordinate whatever the
size of the gradient), so the tiny penalty gradients (beta ~ 1e-7) enter through the ratio of
the fit and penalty gradients, which float32 resolves; the smallest learning rate (1e-4) moves
weights of size ~0.05 by 2e-3 relative per step, far above float32's 1.2e-7.  Denormals are
flushed (Adam's second moment of vanishing gradients).  Metrics are accumulated in float64.
Float64 (``dtype=``) is used by the tests.  Checked at the paper's size over 3000 steps (lr, beta)
= (5.5e-3, l1 1e-3), (1e-4, l1 1e-7), (5.5e-3, Sobolev 1e-7), (5.5e-3, Sobolev 1e-2): final test
MSEs agree with float64 to 1.5%, logged test MSEs to 5e-5 .. 16% (Adam's loss spikes are
chaotic); only the train-MSE floor differs (~1e-12 against ~1e-14), far below the detector's
1e-3 x initial.  A float64 step costs 3.5-5x a float32 one on the dev box (1.2-1.7 ms against
0.34 ms per member, l1, 1 thread).

Logging (the config's schedule, log-spaced by default): train / test MSE (no penalty, no
Sobolev term); ``train_error`` / ``test_error`` = MSE / MSE at step 0 (what the detector reads;
see problems.teacher_student); relative Jacobian errors |J - J*|_F / |J*|_F on both splits; l0
(|w| > 1e-4), l1, l2 of all weights; the sum of both layers' nuclear norms and the effective rank
of W (SVDs at log points only).  A member whose loss or weights go non-finite is marked dead
(state zeroed, metrics NaN from then on); the others go on.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from ..problems.teacher_student import TeacherStudentData
from ..schedule import log_steps
from .linear import BatchResult
from .nets import _fast_linear, add_penalty_grad_, effective_rank
from .optim import BETAS, EPS, update_

DTYPE = torch.float32
#: members per tensor program on the CPU.  A member's state (W, V, Adam moments, gradient,
#: activations: ~1.4 MB at d = 100, h = 500 in float32) is streamed through the cache every step;
#: measured on the 2-core dev box (1 thread, fp32, l1, shared-data path): 0.16-0.18 ms per
#: member-step for 4..21 members (0.21 ms for 1: the panel-wide GEMMs amortize), 0.26 ms at 42,
#: when the panel's state no longer fits the 32 MB L3.  So a 42-member panel runs as near-equal
#: chunks of at most 8 (6 x 7) on the CPU, trained by one worker thread per core; on a GPU
#: (H100: 26x the sequential engine, benchmarks/bench_teacher_student.py) it is one program,
#: since a single member is launch-bound there.
CPU_MEMBERS = 8
GPU_MEMBERS = 512
#: members x points x hidden units per evaluation chunk (Jacobians of the test set)
EVAL_ELEMS = 2 ** 23
L0_THRESHOLD = 1e-4
LinAlgError = getattr(torch.linalg, "LinAlgError", RuntimeError)
METRICS = ("train_error", "test_error", "train_mse", "test_mse", "train_jac_error",
           "test_jac_error", "l0_norm", "l1_norm", "l2_norm", "nuclear_norm", "erank_W")


def init_student(cfg, dtype=DTYPE) -> tuple[Tensor, Tensor]:
    """One member's (W (h, d), V (c, h)): normal init with std 1/sqrt(fan_out), the authors'
    (W std 1/sqrt(h), V std 1/sqrt(c)), from ``torch.Generator().manual_seed(seed)``."""
    gen = torch.Generator().manual_seed(int(cfg.seed))
    h, d, c = cfg.hidden, cfg.input_dim, cfg.outputs
    W = torch.randn(h, d, generator=gen, dtype=torch.float64) / h ** 0.5
    V = torch.randn(c, h, generator=gen, dtype=torch.float64) / c ** 0.5
    return W.to(dtype), V.to(dtype)


def forward(W: Tensor, V: Tensor, X: Tensor) -> Tensor:
    """(R, n, c) outputs of stacked members W (R, h, d), V (R, c, h) on X (n, d) or (R, n, d)."""
    return torch.relu(X @ W.transpose(1, 2)) @ V.transpose(1, 2)


def jacobians(W: Tensor, V: Tensor, X: Tensor) -> Tensor:
    """(R, n, c, d) input Jacobians V diag(relu'(W x_i)) W (closed form)."""
    from ..problems.teacher_student import relu_jacobians
    return relu_jacobians(W, V, X)


def loss_and_grads(W, V, X, Y, J_star=None, *, sobolev=None, sobolev_form="norm"):
    """Hand-written MSE (+ Sobolev) loss and gradients of stacked members.

    X (n, d) or (R, n, d), Y (R or 1, n, c), J_star (R or 1, n, c, d); ``sobolev`` an (R, 1, 1)
    column of betas or None.  Returns (loss (R,), dW (R, h, d), dV (R, c, h)); the loss is the MSE
    plus the Sobolev term (no weight penalties)."""
    R, h, d = W.shape
    c = V.shape[1]
    n = X.shape[-2]
    Xe = X.expand(R, n, d) if X.dim() == 2 else X  # shared data: a stride-0 batch, no copy
    A = torch.bmm(Xe, W.transpose(1, 2)).relu_()  # (R, n, h)
    E = torch.bmm(A, V.transpose(1, 2)).sub_(Y)  # (R, n, c)
    loss = (E * E).mean((1, 2))
    G = E.mul_(2.0 / (n * c))
    dV = torch.bmm(G.transpose(1, 2), A)  # (R, c, h)
    # relu's backward in one fused op: G V where A > 0 (i.e. W x > 0), else 0
    dZ = torch.ops.aten.threshold_backward(torch.bmm(G, V), A, 0)
    dW = torch.bmm(dZ.transpose(1, 2), Xe)  # (R, h, d)
    if sobolev is not None:
        m = (A > 0).to(W.dtype)
        B = (m.unsqueeze(2) * V.unsqueeze(1)).reshape(R, n * c, h)  # rows m_i * V[c]
        D = (B @ W).view(R, n, c, d) - J_star
        if sobolev_form == "norm":
            nrm = D.flatten(1).norm(dim=1)
            loss = loss + sobolev.view(R) * nrm
            K = D * (sobolev.view(R, 1, 1, 1) / torch.where(nrm > 0, nrm, torch.ones_like(nrm))
                     .view(R, 1, 1, 1))
        else:
            loss = loss + sobolev.view(R) * (D * D).sum((1, 2, 3)) / n
            K = D * (sobolev.view(R, 1, 1, 1) * (2.0 / n))
        K = K.reshape(R, n * c, d)
        dW.baddbmm_(B.transpose(1, 2), K)
        P = (K @ W.transpose(1, 2)).view(R, n, c, h)  # K_i W^T
        dV.add_((P * m.unsqueeze(2)).sum(1))
    return loss, dW, dV


def _mm_fn(dev, dtype):
    """a @ b (optionally relu-fused) for the shared-data step: oneDNN's float32 matmul on the CPU
    when this torch has it (``engines.nets._fast_linear``, AVX-512 on the Zen 5 dev box: ~2x MKL's
    sgemm on these products), else torch.mm."""
    lin = _fast_linear() if dev.type == "cpu" and dtype == torch.float32 else None
    if lin is not None:
        return lambda a, b, relu=False: lin(a, b.t(), None, "relu" if relu else "none", [], "")
    return lambda a, b, relu=False: torch.mm(a, b).relu_() if relu else torch.mm(a, b)


def shared_loss_and_grads(W, V, X, Yt, J_star=None, *, sobolev=None, sobolev_form="norm",
                          mm=None):
    """loss_and_grads for members that share X (n, d), with the hidden layer laid out (R, h, n):
    the two big products are each ONE GEMM over the whole panel,

        Z = W_flat X^T  ((R h) x d times d x n),    dW = dZ_flat X  ((R h) x n times n x d),

    and the c-row products (E = V A, dV = G A^T, dA = V^T G) are small batched ones.  ``Yt``:
    targets transposed, (R or 1, c, n); ``mm(a, b, relu=False)`` the matmul (``_mm_fn``).  The
    Sobolev products (per member: the mask differs) go member by member through ``mm``.  Same
    sums as loss_and_grads (checked against autograd in the tests)."""
    mm = mm or _mm_fn(W.device, W.dtype)
    R, h, d = W.shape
    c = V.shape[1]
    n = X.shape[0]
    A = mm(W.view(R * h, d), X.t(), relu=True).view(R, h, n)
    E = torch.bmm(V, A).sub_(Yt)  # (R, c, n)
    loss = (E * E).mean((1, 2))
    G = E.mul_(2.0 / (n * c))
    dV = torch.bmm(G, A.transpose(1, 2))  # (R, c, h)
    dZ = torch.bmm(V.transpose(1, 2), G)  # (R, h, n)
    torch.ops.aten.threshold_backward.grad_input(dZ, A, 0, grad_input=dZ)  # relu', in place
    dW = mm(dZ.view(R * h, n), X).view(R, h, d)
    if sobolev is not None:
        m = torch.sign(A)  # (R, h, n): relu'(W x_i) in {0, 1} (A >= 0), unit k by point i
        mT = m.transpose(1, 2).contiguous()  # (R, n, h): oneDNN is ~1.5x faster unstrided
        # J_i[c] = sum_k m[k, i] V[c, k] W[k]: all n points and c outputs of a member are ONE
        # (n x h) (h x c d) product with the c row-scaled copies of W side by side
        Wc = torch.mul(V.transpose(1, 2).unsqueeze(3), W.unsqueeze(2),
                       out=W.new_empty(R, h, c, d)).view(R, h, c * d)
        D = torch.stack([mm(mT[r], Wc[r]) for r in range(R)]).view(R, n, c, d) - J_star
        if sobolev_form == "norm":
            nrm = D.flatten(1).norm(dim=1)
            loss = loss + sobolev.view(R) * nrm
            K = D.mul_(sobolev.view(R, 1, 1, 1) / torch.where(nrm > 0, nrm, torch.ones_like(nrm))
                       .view(R, 1, 1, 1))
        else:
            loss = loss + sobolev.view(R) * (D * D).sum((1, 2, 3)) / n
            K = D.mul_(sobolev.view(R, 1, 1, 1) * (2.0 / n))
        # with Q = m K (h, c d) per member (K = dL/dJ as (n, c d)):
        #   dW[k] += sum_c V[c, k] Q[k, c],   dV[c, k] += <W[k], Q[k, c]>
        for r in range(R):  # member by member: Q stays in cache
            Q = mm(m[r], K[r].view(n, c * d)).view(h, c, d)
            for j in range(c):
                dW[r].addcmul_(V[r, j].unsqueeze(1), Q[:, j])
                dV[r, j].add_((Q[:, j] * W[r]).sum(1))
    return loss, dW, dV


class _Panel:
    """R members trained together (the tensor program)."""

    def __init__(self, datas: list[TeacherStudentData], members, dev, dtype):
        self.cfg = cfg = members[0][1]
        self.cfgs = [c for _, c in members]
        self.R = R = len(members)
        self.dev, self.dtype = dev, dtype
        idx = [i for i, _ in members]
        self.shared = len(set(idx)) == 1
        put = lambda name: torch.stack([getattr(datas[i], name) for i in  # noqa: E731
                                        ([idx[0]] if self.shared else idx)]).to(dev, dtype)
        # shared data: X is (n, d) and the member axis broadcasts (one GEMM for the whole panel)
        self.X_train = put("X_train")[0] if self.shared else put("X_train")
        self.X_test = put("X_test")[0] if self.shared else put("X_test")
        self.Y_train, self.Y_test = put("Y_train"), put("Y_test")
        self.J_train, self.J_test = put("J_train"), put("J_test")
        # shared data on the CPU: the (R, h, n) layout with panel-wide GEMMs (a GPU keeps bmm)
        self.fast = self.shared and dev.type == "cpu"
        self.Yt_train = self.Y_train.transpose(1, 2).contiguous()
        self.mm = _mm_fn(dev, dtype)
        self.J_train_norm = self.J_train.flatten(1).norm(dim=1).to(torch.float64)
        self.J_test_norm = self.J_test.flatten(1).norm(dim=1).to(torch.float64)
        per = [init_student(c, dtype) for c in self.cfgs]
        self.W = torch.stack([p[0] for p in per]).to(dev)
        self.V = torch.stack([p[1] for p in per]).to(dev)
        col = lambda name: torch.tensor([float(getattr(c, name)) for c in self.cfgs],  # noqa: E731
                                        dtype=dtype, device=dev).view(R, 1, 1)
        self.lr, self.wd = col("lr"), col("weight_decay")
        self.l1, self.l2, self.nuc = col("l1"), col("l2"), col("nuclear")
        self.sob = col("sobolev") if any(c.sobolev > 0 for c in self.cfgs) else None
        self.use = tuple(any(getattr(c, n) > 0 for c in self.cfgs) for n in ("l1", "l2", "nuclear"))
        self.use_wd = any(c.weight_decay > 0 for c in self.cfgs)
        self.mW, self.vW = torch.zeros_like(self.W), torch.zeros_like(self.W)
        self.mV, self.vV = torch.zeros_like(self.V), torch.zeros_like(self.V)
        self.t = 0
        # Adam / AdamW on the CPU: torch's fused kernel, members grouped by (lr, weight decay)
        self.fused = None
        if dev.type == "cpu" and cfg.optimizer in ("adam", "adamw"):
            self.fused = getattr(torch, "_fused_adam_" if cfg.optimizer == "adam"
                                 else "_fused_adamw_", None)
        self.step_t = torch.zeros((), dtype=dtype, device=dev)
        hp = [(float(c.lr), float(c.weight_decay)) for c in self.cfgs]
        cut = [0] + [r for r in range(1, R) if hp[r] != hp[r - 1]] + [R]
        self.groups = [(a, b) + hp[a] for a, b in zip(cut[:-1], cut[1:])]
        self.alive = torch.ones(R, dtype=torch.bool)
        self.mse0 = None  # (R,) train / test MSE at step 0

    def step(self):
        cfg = self.cfg
        if self.fast:
            _, gW, gV = shared_loss_and_grads(self.W, self.V, self.X_train, self.Yt_train,
                                              self.J_train if self.sob is not None else None,
                                              sobolev=self.sob, sobolev_form=cfg.sobolev_form,
                                              mm=self.mm)
        else:
            _, gW, gV = loss_and_grads(self.W, self.V, self.X_train, self.Y_train,
                                       self.J_train if self.sob is not None else None,
                                       sobolev=self.sob, sobolev_form=cfg.sobolev_form)
        if any(self.use):
            for g, P in ((gW, self.W), (gV, self.V)):
                try:
                    add_penalty_grad_(g, P, self.l1, self.l2, self.nuc, cfg.penalty_form, self.use)
                except LinAlgError:  # a member went non-finite between logs: kill it, redo
                    self._kill(~(torch.isfinite(self.W).flatten(1).all(1)
                                 & torch.isfinite(self.V).flatten(1).all(1)).cpu())
                    g.nan_to_num_(0.0)
                    add_penalty_grad_(g, P, self.l1, self.l2, self.nuc, cfg.penalty_form, self.use)
        self.t += 1
        if self.fused is not None:
            self._fused_update(gW, gV)
            return
        wd = self.wd if self.use_wd else None
        update_(self.W, gW, self.mW, self.vW, opt=cfg.optimizer, lr=self.lr, t=self.t, wd=wd)
        update_(self.V, gV, self.mV, self.vV, opt=cfg.optimizer, lr=self.lr, t=self.t, wd=wd)

    def _fused_update(self, gW, gV):
        """Adam / AdamW through torch's fused CPU kernel (one pass over W, m, v, g instead of
        ~10 elementwise ops; the update rule of ``engines.optim.update_`` and torch.optim), one
        call per run of consecutive members with the same (lr, weight decay)."""
        self.step_t.fill_(self.t)
        for a, b, lr, wd in self.groups:
            self.fused([self.W[a:b], self.V[a:b]], [gW[a:b], gV[a:b]], [self.mW[a:b], self.mV[a:b]],
                       [self.vW[a:b], self.vV[a:b]], [], [self.step_t, self.step_t], lr=lr,
                       beta1=BETAS[0], beta2=BETAS[1], weight_decay=wd, eps=EPS,
                       amsgrad=False, maximize=False)

    def _kill(self, bad: Tensor):
        bad = bad & self.alive
        if not bool(bad.any()):
            return
        self.alive &= ~bad
        keep = (~bad).to(self.dev).view(-1, 1, 1)
        for t in (self.W, self.V, self.mW, self.vW, self.mV, self.vV):
            t.copy_(torch.where(keep, t, torch.zeros_like(t)))

    @torch.no_grad()
    def evaluate(self) -> dict[str, Tensor]:
        R = self.R
        out = {}
        for split, X, Y, J, Jn in (("train", self.X_train, self.Y_train, self.J_train,
                                    self.J_train_norm),
                                   ("test", self.X_test, self.Y_test, self.J_test,
                                    self.J_test_norm)):
            n = X.shape[-2]
            per = max(1, EVAL_ELEMS // (n * self.cfg.hidden * self.cfg.outputs))
            mse, jerr = [], []
            if self.fast:  # member by member through self.mm, no (n c, h) Jacobian factors
                mse, jerr = self._eval_shared(X, Y[0], J[0])
            for i in range(0 if not self.fast else R, R, per):
                W, V = self.W[i:i + per], self.V[i:i + per]
                Xi = X if self.shared else X[i:i + per]
                Yi = Y if self.shared else Y[i:i + per]
                Ji = J if self.shared else J[i:i + per]
                E = (forward(W, V, Xi) - Yi).to(torch.float64)
                mse.append((E * E).mean((1, 2)))
                D = (jacobians(W, V, Xi) - Ji).to(torch.float64)
                jerr.append(D.flatten(1).norm(dim=1))
            out[f"{split}_mse"] = torch.cat(mse)
            out[f"{split}_jac_error"] = torch.cat(jerr) / Jn.clamp_min(1e-300)
        if self.mse0 is None:
            self.mse0 = {s: out[f"{s}_mse"].clamp_min(1e-300) for s in ("train", "test")}
        for s in ("train", "test"):
            out[f"{s}_error"] = out[f"{s}_mse"] / self.mse0[s]
        flat = torch.cat([self.W.flatten(1), self.V.flatten(1)], 1).to(torch.float64)
        out["l0_norm"] = (flat.abs() > L0_THRESHOLD).sum(1).to(torch.float64)
        out["l1_norm"] = flat.abs().sum(1)
        out["l2_norm"] = flat.norm(dim=1)
        finite = torch.isfinite(flat).all(1)
        fin = finite.view(-1, 1, 1)
        sW = torch.linalg.svdvals(torch.where(fin, self.W, torch.zeros_like(self.W))).to(torch.float64)
        sV = torch.linalg.svdvals(torch.where(fin, self.V, torch.zeros_like(self.V))).to(torch.float64)
        out["nuclear_norm"] = sW.sum(-1) + sV.sum(-1)
        out["erank_W"] = effective_rank(sW)
        bad = (~torch.isfinite(out["train_mse"]) | ~finite).cpu()
        self._kill(bad)
        dead = (~self.alive).to(self.dev)
        return {k: torch.where(dead, torch.full_like(v, float("nan")), v) for k, v in out.items()}

    def _eval_shared(self, X, Y, J):
        """(R,) MSEs and |J - J*|_F on shared inputs X (n, d): per member Z = X W^T (n, h),
        the outputs relu(Z) V^T and all n Jacobians as ONE (n x h) (h x c d) product
        1[Z > 0] [V[0] W | V[1] W | ...] (see shared_loss_and_grads)."""
        mm, (c, h), d, n = self.mm, self.V.shape[1:], self.W.shape[2], X.shape[0]
        mse, jerr = [], []
        for W, V in zip(self.W, self.V):
            A = mm(X, W.t(), relu=True)  # (n, h)
            E = (mm(A, V.t()) - Y).to(torch.float64)
            mse.append((E * E).mean().view(1))
            Wc = torch.mul(V.t().unsqueeze(2), W.unsqueeze(1), out=W.new_empty(h, c, d))
            D = (mm(torch.sign(A), Wc.view(h, c * d)).view(n, c, d) - J).to(torch.float64)
            jerr.append(D.norm().view(1))
        return mse, jerr

    def final(self) -> np.ndarray:
        flat = torch.cat([self.W.flatten(1), self.V.flatten(1)], 1).cpu().numpy().astype(np.float64)
        flat[~self.alive.numpy()] = np.nan
        return flat


def _train_chunk(datas, chunk, steps, dev, dtype, progress, lock):
    """Train one chunk of members to the end; returns (metrics rows, final weights)."""
    first = chunk[0][1]
    torch.set_flush_denormal(True)  # per thread: the FTZ/DAZ bits are thread state
    try:
        with torch.no_grad():
            panel = _Panel(datas, chunk, dev, dtype)
            R = panel.R
            logs, done = [], 0
            for t in range(first.steps + 1):
                if t > 0:
                    panel.step()
                if t == steps[len(logs)]:
                    logs.append({k: v.cpu().numpy() for k, v in panel.evaluate().items()})
                    if progress is not None:
                        with lock:
                            progress(R * (t - done))
                        done = t
                    if len(logs) == len(steps):
                        break
            return {k: np.stack([row[k] for row in logs]) for k in METRICS}, panel.final()
    finally:
        torch.set_flush_denormal(False)


def run_teacher_student_batch(datas: list[TeacherStudentData], cfgs: list[list], *,
                              device: str = "cpu", progress=None, max_members: int | None = None,
                              dtype=DTYPE, workers: int | None = None) -> BatchResult:
    """Train D x B teacher-student runs (``cfgs[d][b]`` on data set d) as panels of at most
    ``max_members`` (default: CPU_MEMBERS on the CPU, GPU_MEMBERS on a GPU); all configs share
    the family's batch key.

    On the CPU the chunks of a large panel are independent programs: ``workers`` of them run at
    once in Python threads (torch ops release the GIL), each on one intra-op thread, so a 42-member
    panel uses every core it is given without OpenMP spin-waits.  Default: the cores this process
    may run on (``os.sched_getaffinity``), at most one per chunk -- also under ``groklab
    reproduce``, whose single intra-op thread policy is about spin-waits, which single-threaded
    workers do not have.  Results do not depend on ``workers``: each chunk is the same
    computation whichever thread runs it."""
    from ..problems.teacher_student import TeacherStudent
    t0 = time.perf_counter()
    members = [(i, c) for i, row in enumerate(cfgs) for c in row]
    first = members[0][1]
    fam = TeacherStudent()
    key = fam.batch_key(first)
    if any(fam.batch_key(c) != key for _, c in members):
        raise ValueError("run_teacher_student_batch: every config must share the family's batch "
                         "key (shapes, optimizer, forms, steps, logging schedule)")
    steps = log_steps(first.steps, first.log_every, first.log_dense_until, first.log_spacing)
    dev = torch.device(device)
    if max_members is None:
        max_members = CPU_MEMBERS if dev.type == "cpu" else GPU_MEMBERS
    n_threads = torch.get_num_threads()
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            workers = os.cpu_count() or 1
    n_chunks = -(-len(members) // max_members)
    workers = max(1, min(workers, n_chunks)) if dev.type == "cpu" else 1
    # near-equal chunks, as many as a multiple of the workers (42 members, 2 workers: 6 x 7)
    n_chunks = min(len(members), -(-n_chunks // workers) * workers)
    bounds = np.linspace(0, len(members), n_chunks + 1).round().astype(int)
    chunks = [members[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    lock = threading.Lock()
    run = lambda ch: _train_chunk(datas, ch, steps, dev, dtype, progress, lock)  # noqa: E731
    if workers == 1:
        out = [run(ch) for ch in chunks]
    else:
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                out = list(pool.map(run, chunks))
        finally:
            torch.set_num_threads(n_threads)
    metrics = {k: np.concatenate([m[k] for m, _ in out], axis=1) for k in METRICS}
    return BatchResult(steps=steps, metrics=metrics, final=np.concatenate([f for _, f in out]),
                       iterates=None, wall_time_s=time.perf_counter() - t0)
