"""The MNIST MLP y = B relu(A x): A (width, 784), B (10, width), no biases (the paper's
two-layer ReLU network).  Init per member from its ``seed``'s own stream
(``derive_seed(seed, "mnist/init")``): PyTorch's Linear
default U(+-1/sqrt(fan_in)), then multiplied by ``init_scale`` (by the engine)."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ...seeds import derive_seed
from ..nets.ensemble import MemberSpec
from .data import DTYPE

#: the names of the member's streams (docs/seeds.md)
INIT_STREAM, BATCH_STREAM = "mnist/init", "mnist/batch-order"
N_PIXELS, N_CLASSES = 784, 10


def build(cfg) -> nn.Module:
    g = torch.Generator().manual_seed(derive_seed(cfg.seed, INIT_STREAM))
    net = nn.Sequential(nn.Linear(N_PIXELS, cfg.width, bias=False), nn.ReLU(),
                        nn.Linear(cfg.width, N_CLASSES, bias=False))
    with torch.no_grad():
        for lin in (net[0], net[2]):
            bound = 1.0 / math.sqrt(lin.in_features)
            lin.weight.copy_((torch.rand(lin.weight.shape, generator=g, dtype=DTYPE) * 2 - 1)
                             * bound)
    return net.to(DTYPE)


def spec(cfg) -> MemberSpec:
    return MemberSpec(lr=cfg.lr, weight_decay=cfg.weight_decay, l1=cfg.l1, l2=cfg.l2,
                      nuclear=cfg.nuclear, init_scale=cfg.init_scale)


def extra_columns(ens, datas) -> dict[str, Tensor]:
    """Per-layer norms: l1 and Frobenius of A and of B."""
    out = {}
    for name, key in (("A", "0.weight"), ("B", "2.weight")):
        W = ens.params[ens.names.index(key)]  # (R, a, b)
        out[f"l1_{name}"] = W.abs().sum((1, 2))
        out[f"l2_{name}"] = W.flatten(1).norm(dim=1)
    return out


EXTRA = ("l1_A", "l2_A", "l1_B", "l2_B")
