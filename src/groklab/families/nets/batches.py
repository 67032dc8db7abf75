"""Per-member mini-batch orders for an ensemble.

Each member reshuffles its own train set every epoch from its own generator, seeded by
``derive_seed(seed, stream)`` (the member's seed, a stream named by the family, e.g.
"mnist/batch-order"; docs/seeds.md), and takes
batches of ``batch_size`` in that order with a smaller last batch (DataLoader's shuffle=True,
drop_last=False).  All members share n_train and batch_size (the family's batch key), so every
step's batches have one shape; member r sees exactly the batches it would see trained alone.
``batch_size`` 0 or >= n_train is full batch (:meth:`next` returns None).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ...seeds import derive_seed


class MemberBatches:
    def __init__(self, seeds: list[int], n_train: int, batch_size: int, stream: str,
                 device="cpu"):
        self.n = n_train
        self.full = not 0 < batch_size < n_train
        self.mb = n_train if self.full else batch_size
        self.dev = device
        self.gens = [torch.Generator().manual_seed(derive_seed(s, stream)) for s in seeds]
        self.order, self.pos = None, n_train

    def next(self) -> Tensor | None:
        """(R, mb) indices into the train set of every member's next batch; None = full batch."""
        if self.full:
            return None
        if self.pos >= self.n:
            self.order = torch.stack([torch.randperm(self.n, generator=g)
                                      for g in self.gens]).to(self.dev)  # (R, n_train)
            self.pos = 0
        idx = self.order[:, self.pos:self.pos + self.mb]
        self.pos += self.mb
        return idx
