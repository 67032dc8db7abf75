"""Modular arithmetic data (SPEC §3, PAPER-NOTES §2.6, §10(a)).

All pairs (x1, x2) in Z_p^2 (for div: x2 != 0), in row-major order (pair index i = x1 p + x2 for
add/sub/mul), label (x1 o x2) mod p.  The train set is the first floor(train_fraction * P) pairs of
a permutation drawn from ``torch.Generator().manual_seed(data_seed)``, the test set the rest
(the authors use sklearn's ``train_test_split(train_size=0.4, random_state=0)``: the same sizes,
3763 / 5646 at p = 97, but another permutation).  Data live as index tensors: no one-hot inputs,
no DataLoader; the engine gathers embedding rows directly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..config import Detection
from . import Family, register
from ..schedule import log_steps


@dataclass
class ModularData:
    p: int
    x1: Tensor  # (P,) long, first operand of every pair
    x2: Tensor  # (P,) long, second operand
    labels: Tensor  # (P,) long, (x1 o x2) mod p
    train_idx: Tensor  # (n_train,) long, indices into the pairs
    test_idx: Tensor  # (n_test,) long

    @property
    def n_pairs(self) -> int:
        return int(self.x1.numel())


def make_modular_data(cfg) -> ModularData:
    p = cfg.modulus
    a = torch.arange(p)
    x1 = a.repeat_interleave(p)
    x2 = a.repeat(p)
    if cfg.operation == "div":
        keep = x2 != 0
        x1, x2 = x1[keep], x2[keep]
    if cfg.operation == "add":
        y = (x1 + x2) % p
    elif cfg.operation == "sub":
        y = (x1 - x2) % p
    elif cfg.operation == "mul":
        y = (x1 * x2) % p
    elif cfg.operation == "div":
        inv = torch.tensor([pow(int(v), -1, p) for v in range(1, p)])  # inverses of 1..p-1
        y = (x1 * inv[x2 - 1]) % p
    else:
        raise ValueError(cfg.operation)
    gen = torch.Generator().manual_seed(int(cfg.data_seed))
    perm = torch.randperm(x1.numel(), generator=gen)
    n_train = cfg.n_train()
    return ModularData(p=p, x1=x1, x2=x2, labels=y, train_idx=perm[:n_train].sort().values,
                       test_idx=perm[n_train:].sort().values)


def weight_shapes(cfg) -> list[tuple[str, tuple[int, int]]]:
    """Every weight matrix (all of them penalized), stored (in, out) so that h = x @ W."""
    p, d = cfg.modulus, cfg.width
    if cfg.architecture == "matrix-product":
        return [("embed1", (p, d)), ("embed2", (p, d)), ("hidden", (d, d)), ("out", (d, p))]
    return [("embed", (p, d)), ("hidden", (d, d)), ("out", (d, p))]


def n_weights(cfg) -> int:
    return sum(a * b for _, (a, b) in weight_shapes(cfg))


class Modular(Family):
    name = "modular"
    # errors are 1 - accuracy: t1 / t2 at accuracy 0.99 (the default)
    default_detection = Detection(train_threshold=0.01, test_threshold=0.01)
    final_metrics = ("train_accuracy", "test_accuracy", "train_loss", "test_loss", "l0_norm",
                     "l1_norm", "l2_norm", "nuclear_norm")
    curve_dtypes = {"l0_norm": "int64"}
    iterate_prefix = "w"

    def make_data(self, cfg):
        return make_modular_data(cfg)

    def batch_key(self, cfg):
        # one tensor program: same shapes (p, width, architecture, train size), same optimizer
        # rule, mini-batch size, step count and logging schedule.  lr, penalties, weight decay,
        # seeds, operation and the split vary per member.  nuclear > 0 needs SVDs every step:
        # those runs are kept apart from the cheap ones.
        return (cfg.modulus, cfg.n_pairs(), cfg.n_train(), cfg.architecture, cfg.width,
                cfg.optimizer, cfg.penalty_form, cfg.batch_size, cfg.steps, cfg.log_every,
                cfg.log_dense_until, cfg.log_spacing, cfg.nuclear > 0)

    def run_batch(self, datas, cfgs, *, device, save_iterates, progress=None):
        from ..engines.nets import run_modular_batch
        return run_modular_batch(datas, cfgs, device=device, progress=progress)

    def run_columns(self, cfg, data, ref, final, col):
        acc = np.asarray(col["test_accuracy"], dtype=float)
        # the logged steps are the config's schedule (the engine logs exactly these)
        steps = log_steps(cfg.steps, cfg.log_every, cfg.log_dense_until, cfg.log_spacing)
        out = {"n_train": int(data.train_idx.numel()), "n_test": int(data.test_idx.numel()),
               "n_weights": n_weights(cfg), "chance_accuracy": 1.0 / cfg.modulus,
               "best_test_accuracy": float(np.nanmax(acc)) if np.isfinite(acc).any() else None}
        # the authors' rule (find_memorization_generalization_steps, PAPER-NOTES §10(a)): t1 / t2
        # = the first logged step at the best train / test accuracy (their error <= its minimum)
        for name, split in (("t1_best", "train_accuracy"), ("t2_best", "test_accuracy")):
            a = np.asarray(col[split], dtype=float)
            out[name] = int(steps[int(np.nanargmax(a))]) if np.isfinite(a).any() else None
        return out


register(Modular())
