"""Nonlinear teacher-student data (docs/families/teacher-student.md#data).

Teacher y*(x) = V* relu(W* x), W* in R^{h x d}, V* in R^{c x h}, no biases; the authors' teacher
(the default) has W* ~ N(0, 1) dense and full rank, V* ~ N(0, 1/h^2).  Two structured teachers
(the paper's thesis is about sparse / low-rank ground truths):

* ``teacher_sparsity = s``: each row of W* keeps k = max(1, round((1 - s) d)) entries at random
  positions, rescaled by sqrt(d / k) so that w*.x keeps variance d (targets keep their scale);
* ``teacher_rank = r``: W* = A B with A ~ N(0, 1) (h x r), B ~ N(0, 1/r) (r x d), so entries of
  W* still have variance 1.  With both, the sparsity mask is applied to the low-rank product.

Inputs x ~ N(0, I_d): ``train_size`` train then ``test_size`` test points.  The teacher's input
Jacobians J*_i = V* diag(relu'(W* x_i)) W* (c x d) are the Sobolev targets (its Hessians are 0 for
ReLU, so only the first-derivative term exists).  Everything is drawn from one torch.Generator
seeded by ``data_seed`` in a fixed order (the authors' notebooks use unseeded RNGs), in float64,
so the data depend only on the data fields of the config.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

DTYPE = torch.float64


@dataclass
class TeacherStudentData:
    W_star: Tensor  # (h, d) teacher first layer
    V_star: Tensor  # (c, h) teacher readout
    X_train: Tensor  # (N, d)
    Y_train: Tensor  # (N, c)
    J_train: Tensor  # (N, c, d) teacher input Jacobians at the train inputs
    X_test: Tensor  # (M, d)
    Y_test: Tensor  # (M, c)
    J_test: Tensor  # (M, c, d)


def relu_jacobians(W: Tensor, V: Tensor, X: Tensor) -> Tensor:
    """Input Jacobians V diag(relu'(W x_i)) W of y = V relu(W x) at every row x_i of X: (n, c, d).
    Stacked weights (R, h, d), (R, c, h) with X (n, d) or (R, n, d) give (R, n, c, d)."""
    mask = (X @ W.transpose(-1, -2) > 0).to(W.dtype)  # (..., n, h)
    n, (c, h), d = mask.shape[-2], V.shape[-2:], W.shape[-1]
    B = mask.unsqueeze(-2) * V.unsqueeze(-3)  # (..., n, c, h): V diag(mask_i), one row per (i, c)
    lead = B.shape[:-3]
    # all n Jacobians as ONE (n c, h) x (h, d) product (per member)
    return (B.reshape(*lead, n * c, h) @ W).reshape(*lead, n, c, d)


def make_teacher(cfg, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    d, h, c = cfg.input_dim, cfg.hidden, cfg.outputs
    if cfg.teacher_rank:
        r = cfg.teacher_rank
        W = torch.randn(h, r, generator=gen, dtype=DTYPE) @ (
            torch.randn(r, d, generator=gen, dtype=DTYPE) / math.sqrt(r))
    else:
        W = torch.randn(h, d, generator=gen, dtype=DTYPE)
    if cfg.teacher_sparsity > 0:
        k = max(1, int(round((1.0 - cfg.teacher_sparsity) * d)))
        keep = torch.rand(h, d, generator=gen, dtype=DTYPE).argsort(dim=1)[:, :k]
        mask = torch.zeros(h, d, dtype=DTYPE).scatter_(1, keep, 1.0)
        W = W * mask * math.sqrt(d / k)
    V = torch.randn(c, h, generator=gen, dtype=DTYPE) / h
    return W, V


def make_teacher_student_data(cfg) -> TeacherStudentData:
    gen = torch.Generator().manual_seed(int(cfg.data_seed))
    W, V = make_teacher(cfg, gen)
    X = torch.randn(cfg.train_size + cfg.test_size, cfg.input_dim, generator=gen, dtype=DTYPE)
    Y = torch.relu(X @ W.T) @ V.T
    J = relu_jacobians(W, V, X)
    n = cfg.train_size
    return TeacherStudentData(W_star=W, V_star=V, X_train=X[:n], Y_train=Y[:n], J_train=J[:n],
                              X_test=X[n:], Y_test=Y[n:], J_test=J[n:])


def n_weights(cfg) -> int:
    return cfg.hidden * (cfg.input_dim + cfg.outputs)
