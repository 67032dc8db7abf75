"""Modular arithmetic data (docs/families/modular.md#data).

All pairs (x1, x2) in Z_p^2 (for div: x2 != 0), in row-major order (pair index i = x1 p + x2 for
add/sub/mul), label (x1 o x2) mod p.  The train set is the first floor(train_fraction * P) pairs of
a permutation drawn from the stream ``derive_seed(data_seed, "modular/split")`` (docs/seeds.md:
never the stream of the init, whatever ``seed`` is), the test set the rest
(the authors use sklearn's ``train_test_split(train_size=0.4, random_state=0)``: the same sizes,
3763 / 5646 at p = 97, but another permutation).  Data live as index tensors: no one-hot inputs,
no DataLoader; the engine gathers embedding rows directly.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ...seeds import derive_seed


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
    perm = split_permutation(cfg, x1.numel())
    n_train = cfg.n_train()
    return ModularData(p=p, x1=x1, x2=x2, labels=y, train_idx=perm[:n_train].sort().values,
                       test_idx=perm[n_train:].sort().values)


def split_permutation(cfg, n_pairs: int) -> Tensor:
    """(P,) the seeded order of the pairs: the first n_train are the train set."""
    gen = torch.Generator().manual_seed(derive_seed(cfg.data_seed, "modular/split"))
    return torch.randperm(n_pairs, generator=gen)


def weight_shapes(cfg) -> list[tuple[str, tuple[int, int]]]:
    """Every weight matrix (all of them penalized), stored (in, out) so that h = x @ W."""
    p, d = cfg.modulus, cfg.width
    if cfg.architecture == "matrix-product":
        return [("embed1", (p, d)), ("embed2", (p, d)), ("hidden", (d, d)), ("out", (d, p))]
    return [("embed", (p, d)), ("hidden", (d, d)), ("out", (d, p))]


def param_shapes(cfg) -> list[tuple[str, tuple[int, int]]]:
    """Every parameter in the engine's order: the weight matrices, then (hadamard) the biases
    ``b1`` (1, d) and ``b2`` (1, p).  The names of a checkpoint's tensors (docs/checkpoints.md)."""
    biases = [("b1", (1, cfg.width)), ("b2", (1, cfg.modulus))]
    return weight_shapes(cfg) + (biases if cfg.architecture == "hadamard" else [])


def n_weights(cfg) -> int:
    return sum(a * b for _, (a, b) in weight_shapes(cfg))
