"""The teacher-student (and Sobolev) config, with its bounds (docs/families/teacher-student.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from ... import estimates as est
from ...fields import ConfigBase, ConfigError, param

BIG = 10 ** 12
SEED_MAX = 2 ** 63 - 1


@dataclass(frozen=True)
class TeacherStudentConfig(ConfigBase):
    """Two-layer ReLU student y = V relu(W x) learning a two-layer ReLU teacher."""

    problem: ClassVar[str] = "teacher-student"
    #: 2: every random object has its own stream (docs/seeds.md); version 1 drew the student's
    #: init (or the split and the embeddings) from streams correlated with the data's.
    #: 3: ``sobolev_form squared`` is the paper's objective, its data term summed over the c
    #: outputs (version 2 averaged it over N c, so the derivative term weighed c x the paper's);
    #: every other number is version 2's
    engine_version: ClassVar[int] = 3

    input_dim: int = param(100, "input dimension d (x ~ N(0, I_d))", data=True, low=1,
                           high=100_000)
    hidden: int = param(500, "hidden width h of the teacher and of the student (no biases)",
                        data=True, low=1, high=1_000_000)
    outputs: int = param(2, "number c of outputs", data=True, low=1, high=100_000)
    train_size: int = param(100, "number N of training inputs (full batch)", data=True, low=1,
                            high=10 ** 8)
    test_size: int = param(1000, "number of test inputs", data=True, low=1, high=10 ** 8)
    teacher_sparsity: float = param(
        0.0, "fraction of zero entries in each row of the teacher's first layer W* (0 = dense, "
        "the authors' teacher); kept entries are rescaled by sqrt(d / kept) so w*.x keeps its "
        "variance", data=True, low=0.0, high=1.0, high_open=True)
    teacher_rank: int = param(0, "rank of the teacher's first layer W* = A B (A, B Gaussian, "
                              "entries of W* of variance 1); 0 = full rank (the authors' dense "
                              "teacher)", data=True, low=0, high=100_000)
    data_seed: int = param(0, "seed of the teacher and of the inputs", data=True, low=0,
                           high=SEED_MAX)
    optimizer: str = param("adam", "optimizer (PyTorch's update rules, betas 0.9/0.999, eps 1e-8)",
                           choices=("adam", "adamw", "sgd"))
    lr: float = param(5.5e-3, "learning rate alpha", low=0.0, high=1e6, low_open=True)
    weight_decay: float = param(0.0, "weight decay (adam: added to the gradient; adamw: "
                                "decoupled; sgd: added to the gradient)", low=0.0, high=1e6)
    l1: float = param(0.0, "l1 penalty beta on |W|_1 + |V|_1 (entrywise, both layers)",
                      low=0.0, high=1e6)
    l2: float = param(0.0, "l2 penalty beta on |W|_F + |V|_F (unsquared, as the authors' code; "
                      "--penalty-form squared for |W|_F^2 + |V|_F^2)", low=0.0, high=1e6)
    nuclear: float = param(0.0, "nuclear-norm penalty beta on |W|_* + |V|_* (an SVD per step)",
                           low=0.0, high=1e6)
    penalty_form: str = param("norm", "l2 penalty as the Frobenius norm |W|_F (norm) or its "
                              "square", choices=("norm", "squared"))
    sobolev: float = param(0.0, "Sobolev strength beta of the first-derivative term: match the "
                           "student's input Jacobians V diag(relu'(W x_i)) W to the teacher's on "
                           "the train inputs", low=0.0, high=1e6)
    sobolev_form: str = param("norm", "Sobolev objective: norm = MSE + beta |J - J*|_F over the "
                              "whole batch (unsquared, not averaged: the authors' code); squared "
                              "= the paper's (1/N) sum_i |f(x_i) - y*_i|^2 + (beta/N) sum_i "
                              "|J_i - J*_i|_F^2 (data term summed over the outputs)",
                              choices=("norm", "squared"))
    seed: int = param(0, "seed of the student's initialization", low=0, high=SEED_MAX)
    steps: int = param(1_000_000, "number of full-batch optimizer steps", low=1, high=BIG)
    log_every: int = param(20, "after the dense phase: points per decade (log spacing) or the "
                           "period (linear spacing)", low=1, high=BIG)
    log_dense_until: int = param(100, "log every step below this step", low=0, high=BIG)
    log_spacing: str = param("log", "spacing of logs after the dense phase: log (log_every points "
                             "per decade) or linear (every log_every steps)",
                             choices=("log", "linear"))

    def validate(self):
        if self.teacher_rank > min(self.hidden, self.input_dim):
            raise ConfigError("teacher_rank", f"{self.teacher_rank} is larger than min(--hidden, "
                              f"--input-dim) = {min(self.hidden, self.input_dim)}")

    def batch_key(self) -> tuple:
        # one tensor program: same shapes, optimizer rule, penalty / Sobolev forms, steps and
        # logging schedule.  lr, betas, weight decay, seeds and the data set vary per member.
        # A nuclear penalty needs SVDs every step and the Sobolev term its own Jacobian GEMMs:
        # those runs are kept apart from the cheap ones.
        return (self.input_dim, self.hidden, self.outputs, self.train_size, self.test_size,
                self.optimizer, self.penalty_form, self.sobolev_form, self.steps, self.log_every,
                self.log_dense_until, self.log_spacing, self.nuclear > 0, self.sobolev > 0)

    def resources(self, runs: int, data_sets: int, log_points: int, save_iterates: bool) -> dict:
        """What a batch of these runs allocates (groklab.estimates), read from data.py and
        engine.py.  Data (float64): inputs, outputs and the teacher's Jacobians (n, c, d) on both
        splits, with the (n, h) and (n, c, h) temporaries that make them.  Per member (float32):
        W, V, their gradients and Adam moments, the (h, N) activations and their gradients
        (the Sobolev term adds its masks and (N, c, d) Jacobians); panels of at most 8 members
        run on every core at once (engine.CPU_MEMBERS)."""
        d, h, c, N, M, T, R = self.input_dim, self.hidden, self.outputs, self.train_size, \
            self.test_size, log_points, runs
        n = N + M
        data = est.F64 * (n * (d + c + 2 * c * d + h + c * h) + h * d + c * h)
        stacked = est.F32 * n * (d + c + c * d)  # a panel's float32 copy of one data set
        weights = h * d + c * h
        member = est.F32 * (7 * weights + 4 * h * N)
        if self.sobolev > 0:
            member += est.F32 * (3 * h * N + 2 * N * c * d)
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:
            workers = os.cpu_count() or 1
        panels = min(workers, -(-R // 8))
        panel = min(R, 8)
        batch = panels * (panel * member + min(data_sets, panel) * stacked + est.F32 * 3 * 2 ** 23) \
            + est.F64 * T * R * 11 + est.tables(T, R, 11) + est.F64 * R * weights
        flops = 6.0 * N * h * (d + c) + (2.0 * N * h * c * d if self.sobolev > 0 else 0)
        return {"data": data, "batch": batch, "disk": est.disk(T, 11),
                "step_seconds": flops / (est.GEMM_RATE / 4),
                "sizes": ("hidden", "input_dim", "train_size", "test_size")}
