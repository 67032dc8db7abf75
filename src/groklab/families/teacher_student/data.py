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
ReLU, so only the first-derivative term exists).  Every random object has its own torch.Generator
seeded by ``derive_seed(data_seed, name)`` (docs/seeds.md; the authors' notebooks use unseeded
RNGs): W* ("teacher-student/teacher-W"), its sparsity mask ("teacher-student/teacher-mask"), V*
("teacher-student/teacher-V") and the inputs ("teacher-student/inputs"), in float64, so the data
depend only on the data fields of the config, the inputs and V* are the same for every teacher
structure, and none of them is correlated with the student's init (its own streams, from ``seed``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ...seeds import derive_seed

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


def data_stream(cfg, name: str) -> torch.Generator:
    """The generator of the data object ``name`` (docs/seeds.md)."""
    return torch.Generator().manual_seed(derive_seed(cfg.data_seed, f"teacher-student/{name}"))


def make_teacher(cfg) -> tuple[Tensor, Tensor]:
    d, h, c = cfg.input_dim, cfg.hidden, cfg.outputs
    gen = data_stream(cfg, "teacher-W")
    if cfg.teacher_rank:
        r = cfg.teacher_rank
        W = torch.randn(h, r, generator=gen, dtype=DTYPE) @ (
            torch.randn(r, d, generator=gen, dtype=DTYPE) / math.sqrt(r))
    else:
        W = torch.randn(h, d, generator=gen, dtype=DTYPE)
    if cfg.teacher_sparsity > 0:
        k = max(1, int(round((1.0 - cfg.teacher_sparsity) * d)))
        keep = torch.rand(h, d, generator=data_stream(cfg, "teacher-mask"),
                          dtype=DTYPE).argsort(dim=1)[:, :k]
        mask = torch.zeros(h, d, dtype=DTYPE).scatter_(1, keep, 1.0)
        W = W * mask * math.sqrt(d / k)
    V = torch.randn(c, h, generator=data_stream(cfg, "teacher-V"), dtype=DTYPE) / h
    return W, V


def make_teacher_student_data(cfg) -> TeacherStudentData:
    W, V = make_teacher(cfg)
    X = torch.randn(cfg.train_size + cfg.test_size, cfg.input_dim,
                    generator=data_stream(cfg, "inputs"), dtype=DTYPE)
    Y = torch.relu(X @ W.T) @ V.T
    J = relu_jacobians(W, V, X)
    n = cfg.train_size
    return TeacherStudentData(W_star=W, V_star=V, X_train=X[:n], Y_train=Y[:n], J_train=J[:n],
                              X_test=X[n:], Y_test=Y[n:], J_test=J[n:])


def n_weights(cfg) -> int:
    return cfg.hidden * (cfg.input_dim + cfg.outputs)


def _affine_fit(X: Tensor, Y: Tensor) -> Tensor:
    """(d + 1, c) minimum-norm least-squares [W; b] of Y (n, c) on [X, 1] (n, d + 1): the
    interpolating fit of least norm when n <= d + 1 (as at the paper's N = 100, d = 100)."""
    Xa = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], dim=1)
    return torch.linalg.pinv(Xa) @ Y


def baselines(data: TeacherStudentData) -> dict[str, float]:
    """Test MSEs of the trivial predictors a student should beat (docs/families/teacher-student.md
    #baselines), all as nn.MSELoss (mean over M x c):

    * ``mean_baseline_mse``: predict the train targets' mean (per output);
    * ``affine_baseline_mse``: the affine least-squares fit on the train inputs (minimum norm);
    * ``best_affine_mse``: the best affine map for the test inputs themselves (fitted on the
      test set: a lower bound on what any affine predictor reaches there; it measures how much
      of the teacher is linear, about 0.18 of E y^2 for a dense ReLU teacher)."""
    Xt, Yt = data.X_test, data.Y_test  # (M, d), (M, c)
    ones = torch.ones(Xt.shape[0], 1, dtype=Xt.dtype)
    mse = lambda P: float(((P - Yt) ** 2).mean())  # noqa: E731
    return {"mean_baseline_mse": mse(data.Y_train.mean(0, keepdim=True).expand_as(Yt)),
            "affine_baseline_mse": mse(torch.cat([Xt, ones], 1) @ _affine_fit(data.X_train,
                                                                              data.Y_train)),
            "best_affine_mse": mse(torch.cat([Xt, ones], 1) @ _affine_fit(Xt, Yt))}
