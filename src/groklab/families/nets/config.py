"""The training fields every family on the generic ensemble engine shares (no torch here: the
CLI imports configs for ``--help``).  A family's config subclasses :class:`NetTrainConfig`,
adds its data and model fields, and may redeclare a field to change its default."""
from __future__ import annotations

from dataclasses import dataclass

from ... import estimates as est
from ...fields import ConfigBase, param
from ...result import iterate_log_indices

BIG = 10 ** 12
SEED_MAX = 2 ** 63 - 1
#: float32 copies of a batch's checkpoints alive at once: the engine's per-chunk stack, their
#: concatenation into the batch's result, the iterates table's Arrow form while it is written
CHECKPOINT_COPIES = 3
#: bytes of one checkpoint row (run, step, tensor) beyond its values: the run id, the name, the
#: shape and Parquet's list offsets (an upper figure; dictionary-encoded on disk)
CHECKPOINT_ROW = 64


def checkpoint_points(log_points: int, save_iterates) -> int:
    """How many of ``log_points`` log points keep their weights with ``--save-iterates K``:
    those :func:`groklab.result.iterate_log_indices` picks (0 without K or log points)."""
    k = int(save_iterates)
    if k <= 0 or log_points <= 0:
        return 0
    return len(iterate_log_indices(log_points, k))


def checkpoint_resources(log_points: int, runs: int, weights: int, tensors: int,
                         save_iterates) -> tuple[float, float]:
    """(batch memory, disk per run) of the checkpoints of ``runs`` networks of ``weights``
    parameters in ``tensors`` named tensors (docs/checkpoints.md: float32, one row per tensor)."""
    points = checkpoint_points(log_points, save_iterates)
    one = points * (est.F32 * weights + CHECKPOINT_ROW * tensors)
    return CHECKPOINT_COPIES * runs * one, one


@dataclass(frozen=True)
class NetTrainConfig(ConfigBase):
    optimizer: str = param("adamw", "optimizer (PyTorch's update rules, betas 0.9/0.999, eps 1e-8; "
                           "sgd without momentum)", choices=("adam", "adamw", "sgd"))
    lr: float = param(1e-3, "learning rate alpha", low=0.0, high=1e6, low_open=True)
    weight_decay: float = param(0.0, "weight decay (adam, sgd: added to the gradient; adamw: "
                                "decoupled)", low=0.0, high=1e6)
    l1: float = param(0.0, "l1 penalty beta on sum_W |W|_1 (entrywise, every weight matrix)",
                      low=0.0, high=1e6)
    l2: float = param(0.0, "l2 penalty beta on sum_W |W|_F (unsquared; --penalty-form squared "
                      "for |W|_F^2)", low=0.0, high=1e6)
    nuclear: float = param(0.0, "nuclear-norm penalty beta on sum_W |W|_* (every weight matrix)",
                           low=0.0, high=1e6)
    penalty_form: str = param("norm", "l2 penalty as the Frobenius norm |W|_F (norm) or its "
                              "square", choices=("norm", "squared"))
    init_scale: float = param(1.0, "every initial parameter multiplied by this (a large init "
                              "makes a network memorize first)", low=0.0, high=1e6,
                              low_open=True)
    loss: str = param("cross-entropy", "cross-entropy of the logits, or mse: squared distance "
                      "of the outputs to the one-hot label", choices=("cross-entropy", "mse"))
    batch_size: int = param(0, "train mini-batch size (0 = full batch); each run reshuffles "
                            "its train set every epoch with its own seed", low=0, high=10 ** 9)
    seed: int = param(0, "seed of the initialization and of the mini-batch order (separate "
                      "streams)", low=0, high=SEED_MAX)
    steps: int = param(10_000, "number of optimizer steps", low=1, high=BIG)
    log_every: int = param(50, "log every this many steps after the dense phase", low=1, high=BIG)
    log_dense_until: int = param(0, "log every step below this step", low=0, high=BIG)
    log_spacing: str = param("linear", "spacing of logs after the dense phase: linear (every "
                             "log_every) or log (log_every points per decade)",
                             choices=("linear", "log"))

    def train_key(self) -> tuple:
        """What must agree to share one program: optimizer rule, forms, loss, mini-batch
        size, steps and schedule; nuclear > 0 (SVDs every step) is kept apart from the rest."""
        return (self.optimizer, self.penalty_form, self.loss, self.batch_size, self.steps,
                self.log_every, self.log_dense_until, self.log_spacing, self.nuclear > 0)

    def mlp_resources(self, inputs: int, outputs: int, n_train: int, n_test: int, runs: int,
                      log_points: int, curve_columns: int, save_iterates=0,
                      biases: bool = True) -> dict:
        """The ``resources`` estimate (groklab.estimates) of a one-hidden-layer MLP of this
        config's ``width`` trained by the generic ensemble engine: data float32 (x and one-hot
        labels of both splits); per member (float32) the parameters with their gradient, two
        Adam moments and the stacked engine's per-member copies (6 x), and a mini-batch's (and
        an evaluation block's) activations; the batch's curve tables; with ``save_iterates``
        K, the checkpoints of every K-th log point (:func:`checkpoint_resources`)."""
        d, h, c, N, M, T, R = inputs, self.width, outputs, n_train, n_test, log_points, runs
        weights = h * d + c * h + ((h + c) if biases else 0)
        ckpt_mem, ckpt_disk = checkpoint_resources(T, R, weights, 4 if biases else 2,
                                                   save_iterates)
        mb = self.batch_size if 0 < self.batch_size < N else N
        member = est.F32 * (6 * weights + 3 * mb * (h + c) + max(N, M) * (h + c))
        batch = R * member + est.F64 * T * R * curve_columns + est.tables(T, R, curve_columns) \
            + ckpt_mem
        flops = 6.0 * mb * (d * h + h * c)
        return {"data": est.F32 * (N + M) * (d + c) * 2, "batch": batch,
                "disk": est.disk(T, curve_columns) + ckpt_disk,
                "step_seconds": flops / est.GEMM_RATE, "sizes": ("width",)}

