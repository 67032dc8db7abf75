"""Sparse-parity data: x uniform in {-1, +1}^n, label = prod_{j in S} x_j for a hidden set S
of k coordinates, as a class index (0 for +1, 1 for -1).

Three streams of ``data_seed`` (``derive_seed(data_seed, name)`` with the names below): S (a seeded
permutation's first k entries, sorted), the train inputs, the test inputs.  The test set is
drawn independently of the train set (for n >= 20 a repeat has probability < n_train 2^-n).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ...seeds import derive_seed

RELEVANT_STREAM, TRAIN_STREAM, TEST_STREAM = ("sparse-parity/relevant", "sparse-parity/train",
                                              "sparse-parity/test")
DTYPE = torch.float32


@dataclass
class ParityData:
    relevant: Tensor  # (k,) long, sorted: the hidden coordinates S
    x_train: Tensor  # (n_train, n) float, entries +-1
    y_train: Tensor  # (n_train,) long: 0 where prod x_S = +1, 1 where -1
    x_test: Tensor  # (n_test, n)
    y_test: Tensor  # (n_test,)


def parity_class(x: Tensor, relevant: Tensor) -> Tensor:
    """(N,) class index of prod_{j in S} x_j: 0 for +1, 1 for -1."""
    return (x[:, relevant].prod(1) < 0).long()


def _inputs(n_rows: int, n: int, seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (n_rows, n), generator=g).to(DTYPE) * 2 - 1


def make_parity_data(cfg) -> ParityData:
    g = torch.Generator().manual_seed(derive_seed(cfg.data_seed, RELEVANT_STREAM))
    relevant = torch.randperm(cfg.bits, generator=g)[:cfg.relevant_bits].sort().values
    xtr = _inputs(cfg.n_train, cfg.bits, derive_seed(cfg.data_seed, TRAIN_STREAM))
    xte = _inputs(cfg.n_test, cfg.bits, derive_seed(cfg.data_seed, TEST_STREAM))
    return ParityData(relevant=relevant, x_train=xtr, y_train=parity_class(xtr, relevant),
                      x_test=xte, y_test=parity_class(xte, relevant))
