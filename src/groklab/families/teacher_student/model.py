"""Batched two-layer ReLU students: forward pass, Jacobians and hand-written gradients
(teacher-student and Sobolev training; docs/families/teacher-student.md#objective-and-methods).

A *panel* of R members (one config each, typically an alpha x beta grid) lives in two stacked
tensors W (R, h, d) and V (R, c, h); member r predicts y = V_r relu(W_r x).  One full-batch step
advances every member with a handful of batched GEMMs and one stacked optimizer update
(``groklab.families.nets.optim.update_``) with per-member learning rates, weight decays and penalty strengths as
(R, 1, 1) columns.  There is no autograd in the step: the gradient is written by hand (checked
against autograd in tests/test_teacher_student.py):

    Z = X W^T (R, N, h),  A = relu(Z),  Y = A V^T,  E = Y - Y*
    MSE = mean(E^2) over N x c (nn.MSELoss, as the authors)     G = 2 E / (N c)
    dV = G^T A,   dW = (G V * 1[Z > 0])^T X

With ``sobolev_form = "squared"`` the objective is the paper's Sobolev objective as written,
(1/N) sum_i |E_i|^2 + (beta/N) sum_i |J_i - J*_i|_F^2: its data term sums over the c outputs
(c x the MSE, G = 2 E / N), so the derivative term carries the paper's weight relative to it
(with the MSE it would carry c x that weight).

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
oneDNN's float32 matmul (``groklab.families.nets.ops.fast_linear``, relu fused); the c-row
products are small bmm's.  Its Sobolev term needs two GEMMs per
member instead of three: with m = 1[Z > 0] (h, n) and Wc = [V[0] W | ... | V[c-1] W] (h, c d),
J = m^T Wc (n, c d), and Q = m K (h, c d) gives both dW[k] += sum_c V[c, k] Q[k, c] and
dV[c, k] += <W[k], Q[k, c]>.  Adam / AdamW go through torch's fused CPU kernel (one pass instead
of ~10 elementwise ops).  A GPU, or members with their own data, keep the batched path above.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ...seeds import derive_seed
from ..nets.ops import fast_linear
from .data import relu_jacobians

DTYPE = torch.float32


def _init_stream(cfg, name: str) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(cfg.seed, f"teacher-student/student-{name}"))


def init_student(cfg, dtype=DTYPE) -> tuple[Tensor, Tensor]:
    """One member's (W (h, d), V (c, h)): normal init with std 1/sqrt(fan_out), the authors'
    (W std 1/sqrt(h), V std 1/sqrt(c)), each from its own stream of ``seed``: W from
    ``derive_seed(seed, "teacher-student/student-W")``, V from ".../student-V" (docs/seeds.md;
    never the teacher's streams, whatever ``data_seed`` is)."""
    h, d, c = cfg.hidden, cfg.input_dim, cfg.outputs
    W = torch.randn(h, d, generator=_init_stream(cfg, "W"), dtype=torch.float64) / h ** 0.5
    V = torch.randn(c, h, generator=_init_stream(cfg, "V"), dtype=torch.float64) / c ** 0.5
    return W.to(dtype), V.to(dtype)


def forward(W: Tensor, V: Tensor, X: Tensor) -> Tensor:
    """(R, n, c) outputs of stacked members W (R, h, d), V (R, c, h) on X (n, d) or (R, n, d)."""
    return torch.relu(X @ W.transpose(1, 2)) @ V.transpose(1, 2)


def jacobians(W: Tensor, V: Tensor, X: Tensor) -> Tensor:
    """(R, n, c, d) input Jacobians V diag(relu'(W x_i)) W (closed form)."""
    return relu_jacobians(W, V, X)


def data_weight(sobolev_form: str, c: int) -> float:
    """The data term as a multiple of the MSE: 1 (nn.MSELoss, the authors' code), or c for the
    paper's Sobolev objective (``squared``: (1/N) sum_i |f(x_i) - y*_i|^2, summed over the c
    outputs)."""
    return float(c) if sobolev_form == "squared" else 1.0


def loss_and_grads(W, V, X, Y, J_star=None, *, sobolev=None, sobolev_form="norm"):
    """Hand-written data (+ Sobolev) loss and gradients of stacked members.

    X (n, d) or (R, n, d), Y (R or 1, n, c), J_star (R or 1, n, c, d); ``sobolev`` an (R, 1, 1)
    column of betas or None.  Returns (loss (R,), dW (R, h, d), dV (R, c, h)); the loss is the
    data term (the MSE; ``squared``: its sum over outputs, :func:`data_weight`) plus the Sobolev
    term (no weight penalties)."""
    R, h, d = W.shape
    c = V.shape[1]
    n = X.shape[-2]
    w = data_weight(sobolev_form, c)
    Xe = X.expand(R, n, d) if X.dim() == 2 else X  # shared data: a stride-0 batch, no copy
    A = torch.bmm(Xe, W.transpose(1, 2)).relu_()  # (R, n, h)
    E = torch.bmm(A, V.transpose(1, 2)).sub_(Y)  # (R, n, c)
    loss = (E * E).mean((1, 2)) * w
    G = E.mul_(2.0 * w / (n * c))
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


def mm_fn(dev, dtype):
    """a @ b (optionally relu-fused) for the shared-data step: oneDNN's float32 matmul on the CPU
    when this torch has it (``groklab.families.nets.ops.fast_linear``), else torch.mm."""
    lin = fast_linear() if dev.type == "cpu" and dtype == torch.float32 else None
    if lin is not None:
        return lambda a, b, relu=False: lin(a, b.t(), None, "relu" if relu else "none", [], "")
    return lambda a, b, relu=False: torch.mm(a, b).relu_() if relu else torch.mm(a, b)


def shared_loss_and_grads(W, V, X, Yt, J_star=None, *, sobolev=None, sobolev_form="norm",
                          mm=None):
    """loss_and_grads for members that share X (n, d), with the hidden layer laid out (R, h, n):
    the two big products are each ONE GEMM over the whole panel,

        Z = W_flat X^T  ((R h) x d times d x n),    dW = dZ_flat X  ((R h) x n times n x d),

    and the c-row products (E = V A, dV = G A^T, dA = V^T G) are small batched ones.  ``Yt``:
    targets transposed, (R or 1, c, n); ``mm(a, b, relu=False)`` the matmul (``mm_fn``).  The
    Sobolev products (per member: the mask differs) go member by member through ``mm``.  Same
    sums as loss_and_grads (checked against autograd in the tests)."""
    mm = mm or mm_fn(W.device, W.dtype)
    R, h, d = W.shape
    c = V.shape[1]
    n = X.shape[0]
    w = data_weight(sobolev_form, c)
    A = mm(W.view(R * h, d), X.t(), relu=True).view(R, h, n)
    E = torch.bmm(V, A).sub_(Yt)  # (R, c, n)
    loss = (E * E).mean((1, 2)) * w
    G = E.mul_(2.0 * w / (n * c))
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
