"""The sparse-parity MLP and its sparsity progress measure.

Model: logits = W2 relu(W1 x + b1) + b2, W1 (width, n), W2 (2, width) (``nn.Linear`` layout).
Init (per member, from ``seed``'s own stream): PyTorch's Linear default, U(+-1/sqrt(fan_in))
for weights and biases, drawn from a seeded generator (not the global one).  The engine then
multiplies every parameter by ``init_scale``.

Progress measure (``relevant_mass``): the fraction of the first layer's l1 mass on the k
relevant input columns,

    c(W1) = sum_i sum_{j in S} |W1[i, j]| / sum_i sum_j |W1[i, j]|,

k/n in expectation at a random init, 1 when W1 reads the relevant bits only (the sparse circuit
that computes the parity needs nothing else).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ...seeds import derive_seed
from ..nets.ensemble import MemberSpec
from .data import DTYPE

#: the member's init and mini-batch streams: derive_seed(seed, name) (docs/seeds.md)
INIT_STREAM, BATCH_STREAM = "sparse-parity/init", "sparse-parity/batch-order"


def build(cfg) -> nn.Module:
    g = torch.Generator().manual_seed(derive_seed(cfg.seed, INIT_STREAM))
    net = nn.Sequential(nn.Linear(cfg.bits, cfg.width), nn.ReLU(), nn.Linear(cfg.width, 2))
    with torch.no_grad():
        for lin in (net[0], net[2]):
            bound = 1.0 / math.sqrt(lin.in_features)
            for p in (lin.weight, lin.bias):
                p.copy_((torch.rand(p.shape, generator=g, dtype=DTYPE) * 2 - 1) * bound)
    return net.to(DTYPE)


def spec(cfg) -> MemberSpec:
    return MemberSpec(lr=cfg.lr, weight_decay=cfg.weight_decay, l1=cfg.l1, l2=cfg.l2,
                      nuclear=cfg.nuclear, init_scale=cfg.init_scale)


def relevant_mass(W1: Tensor, relevant: Tensor) -> Tensor:
    """(...,) fraction of |W1|'s mass on the relevant columns; W1 (..., width, n)."""
    a = W1.abs()
    return a[..., relevant].sum((-2, -1)) / a.sum((-2, -1)).clamp_min(1e-30)


def extra_columns(ens, datas) -> dict[str, Tensor]:
    """Per member: relevant_mass of its first layer, on its own data set's relevant bits."""
    W1 = ens.params[ens.names.index("0.weight")]  # (R, width, n)
    return {"relevant_mass": torch.stack([relevant_mass(W1[r], d.relevant)
                                          for r, d in enumerate(datas)])}
