"""The sparse-parity config, with its bounds (docs/families/sparse-parity.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...fields import ConfigError, param
from ..nets.config import SEED_MAX, NetTrainConfig


@dataclass(frozen=True)
class SparseParityConfig(NetTrainConfig):
    """(n, k)-sparse parity: an MLP on n-bit inputs labelled by the parity of k hidden bits."""

    problem: ClassVar[str] = "sparse-parity"
    #: 2: every random object draws from a named derive_seed stream (docs/seeds.md); version
    #: 1 used the legacy salted streams
    engine_version: ClassVar[int] = 2

    bits: int = param(20, "input length n: x uniform in {-1, +1}^n", data=True, low=1,
                      high=10_000)
    relevant_bits: int = param(3, "k: the label is the product of k hidden coordinates of x "
                               "(which ones: drawn from --data-seed)", data=True, low=1,
                               high=10_000)
    n_train: int = param(500, "size of the finite train set", data=True, low=1, high=10 ** 7)
    n_test: int = param(1000, "size of the test set (fresh samples)", data=True, low=1,
                        high=10 ** 7)
    data_seed: int = param(0, "seed of the relevant bits and of the train / test inputs "
                           "(separate streams)", data=True, low=0, high=SEED_MAX)
    width: int = param(256, "hidden width of the one-hidden-layer ReLU MLP", low=1,
                       high=100_000)

    def resources(self, runs: int, data_sets: int, log_points: int, save_iterates: bool) -> dict:
        out = self.mlp_resources(self.bits, 2, self.n_train, self.n_test, runs, log_points, 14,
                                 save_iterates)
        return {**out, "sizes": ("width", "n_train", "n_test")}

    def validate(self):
        if self.relevant_bits > self.bits:
            raise ConfigError("relevant_bits", f"{self.relevant_bits} is more than --bits "
                              f"{self.bits}: need k <= n")

    def batch_key(self) -> tuple:
        # one program: same shapes (n, width, train / test sizes) and training rule
        return (self.bits, self.n_train, self.n_test, self.width) + self.train_key()
