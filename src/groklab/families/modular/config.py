"""The modular-arithmetic config, with its bounds (docs/families/modular.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ... import estimates as est
from ...fields import ConfigBase, ConfigError, param
from ..nets.config import checkpoint_resources

BIG = 10 ** 12
SEED_MAX = 2 ** 63 - 1


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % k for k in range(2, int(math.isqrt(n)) + 1))


@dataclass(frozen=True)
class ModularConfig(ConfigBase):
    """Modular arithmetic: an MLP on (x1 o x2) mod p with l1 / l2 / nuclear penalties."""

    problem: ClassVar[str] = "modular"
    #: 2: every random object has its own stream (docs/seeds.md); version 1 drew the student's
    #: init (or the split and the embeddings) from streams correlated with the data's.
    #: 3: the transformer's init and mini-batch order moved to named derive_seed streams (the
    #: MLPs' numbers are those of version 2).
    #: 4: the hadamard MLP's embedding starts from the paper's N(0, 1/p) (was the notebook's
    #: U(+-1/sqrt(p))); matrix-product and transformer numbers are version 3's
    engine_version: ClassVar[int] = 4

    modulus: int = param(97, "modulus p: inputs are all pairs (x1, x2) in Z_p^2", data=True,
                         low=2, high=100_000)
    operation: str = param("add", "label (x1 o x2) mod p; div = x1 * x2^-1 (needs a prime p; "
                           "pairs with x2 = 0 are left out)", data=True,
                           choices=("add", "sub", "mul", "div"))
    train_fraction: float = param(0.4, "fraction of the pairs in the train set (floor, as "
                                  "sklearn's train_test_split)", data=True, low=0, high=1,
                                  low_open=True, high_open=True)
    data_seed: int = param(0, "seed of the train/test split (a seeded permutation of the pairs)",
                           data=True, low=0, high=SEED_MAX)
    architecture: str = param(
        "matrix-product", "matrix-product: two bias-free p->width embeddings, each reshaped to a "
        "square and multiplied as matrices (the authors' notebook); hadamard: one shared "
        "embedding, Hadamard product, biases in the MLP, the paper's N(0, 1/n1) init (the "
        "paper's text); transformer: "
        "decoder-only on 'x1 x2 =' (d_model = width; generic engine)",
        choices=("matrix-product", "hadamard", "transformer"))
    width: int = param(64, "embedding and hidden width d (a perfect square for matrix-product)",
                       low=1, high=100_000)
    layers: int = param(1, "transformer: number of blocks", low=1, high=64, added=True)
    heads: int = param(4, "transformer: attention heads (divide the width)", low=1, high=1024,
                       added=True)
    mlp_width: int = param(512, "transformer: hidden width of each block's ReLU MLP", low=1,
                           high=100_000, added=True)
    layer_norm: str = param("none", "transformer: pre-layer-norm in every block (pre) or none",
                            choices=("none", "pre"), added=True)
    optimizer: str = param("adam", "optimizer (PyTorch's update rules, betas 0.9/0.999, eps 1e-8)",
                           choices=("adam", "adamw", "sgd"))
    lr: float = param(1e-2, "learning rate alpha", low=0.0, high=1e6, low_open=True)
    weight_decay: float = param(0.0, "weight decay (adam: added to the gradient; adamw: "
                                "decoupled; sgd: added to the gradient)", low=0.0, high=1e6)
    l1: float = param(0.0, "l1 penalty beta on sum_W |W|_1 (entrywise, every weight matrix)",
                      low=0.0, high=1e6)
    l2: float = param(0.0, "l2 penalty beta on sum_W |W|_F (unsquared, as the authors' code; "
                      "--penalty-form squared for |W|_F^2)", low=0.0, high=1e6)
    nuclear: float = param(0.0, "nuclear-norm penalty beta on sum_W |W|_* (every weight matrix)",
                           low=0.0, high=1e6)
    penalty_form: str = param("norm", "l2 penalty as the Frobenius norm |W|_F (norm) or its "
                              "square", choices=("norm", "squared"))
    batch_size: int = param(2048, "train mini-batch size (0 = full batch); each run reshuffles "
                            "its train set every epoch with its own seed, last batch of an epoch "
                            "smaller", low=0, high=10 ** 9)
    seed: int = param(0, "seed of the initialization and of the mini-batch order", low=0,
                      high=SEED_MAX)
    steps: int = param(20_002, "number of optimizer steps", low=1, high=BIG)
    log_every: int = param(10, "log every this many steps after the dense phase", low=1, high=BIG)
    log_dense_until: int = param(100, "log every step below this step", low=0, high=BIG)
    log_spacing: str = param("linear", "spacing of logs after the dense phase: linear (every "
                             "log_every) or log (log_every points per decade)",
                             choices=("linear", "log"))

    def validate(self):
        if self.operation == "div" and not is_prime(self.modulus):
            raise ConfigError("modulus", f"{self.modulus} is not prime: div needs a prime modulus")
        n = self.n_pairs()
        n_train = self.n_train()
        if n_train < 1 or n_train >= n:
            raise ConfigError("train_fraction", f"{self.train_fraction} leaves {n_train} of {n} "
                              "pairs for training: both splits must be non-empty")
        if self.architecture == "transformer" and self.width % self.heads:
            raise ConfigError("heads", f"{self.heads} does not divide --width {self.width}")
        if self.architecture == "matrix-product" and math.isqrt(self.width) ** 2 != self.width:
            raise ConfigError("width", f"{self.width} is not a perfect square (matrix-product "
                              "reshapes each embedding to a square matrix)")

    def n_pairs(self) -> int:
        return self.modulus * (self.modulus - 1) if self.operation == "div" else self.modulus ** 2

    def n_train(self) -> int:
        return int(math.floor(self.train_fraction * self.n_pairs()))

    def batch_key(self) -> tuple:
        # one tensor program: same shapes (p, width, architecture, train size), same optimizer
        # rule, mini-batch size, step count and logging schedule.  lr, penalties, weight decay,
        # seeds, operation and the split vary per member.  nuclear > 0 needs SVDs every step:
        # those runs are kept apart from the cheap ones.
        return (self.modulus, self.n_pairs(), self.n_train(), self.architecture, self.width,
                self.optimizer, self.penalty_form, self.batch_size, self.steps, self.log_every,
                self.log_dense_until, self.log_spacing, self.nuclear > 0, self.layers,
                self.heads, self.mlp_width, self.layer_norm)

    def checkpoint_size(self) -> tuple[int, int]:
        """(parameters, named tensors) of one member: what a checkpoint holds
        (docs/checkpoints.md; the MLPs: data.param_shapes, the transformer: its
        ``named_parameters``, counted here without building it)."""
        p, d = self.modulus, self.width
        if self.architecture == "matrix-product":
            return 2 * p * d + d * d + d * p, 4
        if self.architecture == "hadamard":
            return p * d + d * d + d * p + d + p, 5
        norm = self.layer_norm == "pre"
        m = self.mlp_width
        block = 4 * d * d + 2 * m * d + m + d + (4 * d if norm else 0)  # qkv, proj, fc1, fc2, ln
        n = (p + 1) * d + 3 * d + self.layers * block + (2 * d if norm else 0) + p * d
        return n, 3 + self.layers * (6 + (4 if norm else 0)) + (2 if norm else 0)

    def resources(self, runs: int, data_sets: int, log_points: int, save_iterates: bool) -> dict:
        """What a batch of these runs allocates (groklab.estimates), read from data.py and
        engine.py.  Data: the pairs, labels and split, int64 (P,) each.  Per member: parameters,
        gradients and two Adam moments (float32), its labels and split (int64 (P,) each), the
        whole-set predictions and losses (P,) at each log, a mini-batch's logits and
        activations; members train in chunks of at most 64 (engine.MAX_MEMBERS).  With
        ``save_iterates`` K: the checkpoints of every K-th log point (float32, all members of
        the batch, nets.config.checkpoint_resources)."""
        p, d, P, T, R = self.modulus, self.width, self.n_pairs(), log_points, runs
        n_train = self.n_train()
        mb = self.batch_size if 0 < self.batch_size < n_train else n_train
        layers = 4 if self.architecture == "matrix-product" else 3
        W = (2 * p * d if layers == 4 else p * d + d + p) + d * d + d * p
        Rc = min(R, 64)
        member = 4 * est.F32 * W + 3 * est.F64 * P + 2 * est.F32 * P \
            + est.F32 * mb * (3 * p + 6 * d) + 2 * est.F64 * n_train
        cols = 10 + layers
        ckpt_mem, ckpt_disk = checkpoint_resources(T, R, *self.checkpoint_size(),
                                                   save_iterates)
        batch = Rc * member + est.F32 * 3 * 2 ** 24 + est.F64 * T * R * cols \
            + est.tables(T, R, cols) + est.F64 * R * W + ckpt_mem
        s = math.isqrt(d)
        flops = 6.0 * mb * (s ** 3 + d * d + d * p)
        return {"data": est.F64 * 7 * P, "batch": batch, "disk": est.disk(T, cols) + ckpt_disk,
                "step_seconds": flops / est.SMALL_RATE, "sizes": ("modulus",)}
