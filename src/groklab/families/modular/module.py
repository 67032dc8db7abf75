"""The modular-arithmetic MLP as a plain ``torch.nn.Module``, for the generic ensemble engine
(:mod:`groklab.families.nets.ensemble`).  The family's own engine keeps its hand-written
gradients (the fast path); this module is what checks it against the generic one
(tests/test_ensemble_modular.py) and what other architectures are compared with.

Same model and parameter layout as :mod:`.model` (weights stored (in, out), h = x @ W); input
x: (n, 2) long operand pairs.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import weight_shapes
from .model import init_params


class ModularMLP(nn.Module):
    def __init__(self, cfg, params: list[Tensor] | None = None):
        super().__init__()
        self.arch, self.width = cfg.architecture, cfg.width
        prm = init_params(cfg) if params is None else params
        names = [n for n, _ in weight_shapes(cfg)]
        if cfg.architecture == "hadamard":
            names += ["b1", "b2"]
        for n, t in zip(names, prm):
            # biases as vectors (d,): the generic engine penalizes matrices only, as the
            # hand-written engine (which stores them (1, d) and skips them by position)
            self.register_parameter(n, nn.Parameter(t.clone().view(-1) if n[0] == "b" else
                                                    t.clone()))

    def forward(self, x: Tensor) -> Tensor:  # (n, 2) long -> (n, p) logits
        a, b = x[..., 0], x[..., 1]
        if self.arch == "matrix-product":
            s = math.isqrt(self.width)
            h1 = F.embedding(a, self.embed1).unflatten(-1, (s, s))  # (n, s, s)
            h2 = F.embedding(b, self.embed2).unflatten(-1, (s, s))
            h = (h1 @ h2).flatten(-2)  # (n, d)
            return torch.relu(h @ self.hidden) @ self.out
        h = F.embedding(a, self.embed) * F.embedding(b, self.embed)
        return torch.relu(h @ self.hidden + self.b1) @ self.out + self.b2
