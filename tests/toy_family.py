"""A complete groklab family in one file: the example of docs/adding-a-family.md.

"Shrinkage" is the smallest model that groks the way the paper's linear problems do.  Its
parameters are a fit vector a in R^n and a spurious vector w in R^n.  The data set is a target
b ~ N(0, I_n), drawn from ``seed``.  One step of gradient descent on

    1/2 |a - b|^2  +  beta/2 |w|^2

is  a <- a - lr (a - b),  w <- (1 - lr beta) w,  from a = 0 and w = b.  The train error is the fit
residual |a - b| / |b| = (1 - lr)^t, which falls fast; the test error also counts what the
spurious part still predicts, |(a - b, w)| / |b|, which ends up (1 - lr beta)^t: memorization is
immediate, generalization waits for the small penalty.  Both errors have closed forms, so at a
threshold theta the detected times are known exactly (the first *logged* step below theta:
:func:`predicted_times`); for lr beta << 1,

    t1 ~ ln(1/theta) / -ln(1 - lr),    t2 ~ ln(1/theta) / -ln(1 - lr beta) ~ ln(1/theta) / (lr beta),

so Delta t scales as 1/(lr beta) -- the paper's law -- up to O(lr beta) and t1 corrections.  The
test suite checks groklab's detected times against the closed forms (tests/test_plugin_family.py).

Everything a family provides is here: the config (fields with bounds), a cross-field rule, the
runtime (data, a step-size check, a batched engine, run columns) and the Family record.  It is
registered when imported; ``GROKLAB_FAMILIES=toy_family`` (with this folder on PYTHONPATH) makes
the CLI and any new process find it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from groklab import Detection, Family, register
from groklab.fields import ConfigBase, ConfigError, param
from groklab.result import BatchResult
from groklab.schedule import log_steps


@dataclass(frozen=True)
class ShrinkageConfig(ConfigBase):
    """Toy shrinkage: a fast fit and a spurious part that only a penalty removes."""

    problem: ClassVar[str] = "toy-shrinkage"

    dim: int = param(8, "dimension n of the target b", data=True, low=1, high=10_000)
    seed: int = param(0, "seed of the target b ~ N(0, I_n)", data=True, low=0, high=2 ** 31)
    lr: float = param(0.5, "step size alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    beta: float = param(1e-2, "penalty beta on |w|^2 / 2", low=0.0, high=10.0)
    steps: int = param(2000, "number of steps", low=1, high=10 ** 9)
    log_every: int = param(1, "log every this many steps after the dense phase", low=1)
    log_dense_until: int = param(0, "log every step below this step", low=0)
    log_spacing: str = param("linear", "linear or log spacing after the dense phase",
                             choices=("linear", "log"))

    def validate(self):
        if self.lr * self.beta >= 1:  # w would flip sign every step and the test error would lie
            raise ConfigError("beta", f"{self.beta} with --lr {self.lr}: needs lr * beta < 1")

    def batch_key(self) -> tuple:
        # one tensor program per shape and schedule; lr, beta and the target vary per run
        return (self.dim, self.steps, self.log_every, self.log_dense_until, self.log_spacing)


# ---- runtime: what the registry calls (this module is its own runtime) -------------------------
def make_data(cfg: ShrinkageConfig) -> torch.Tensor:
    gen = torch.Generator().manual_seed(cfg.seed)
    return torch.randn(cfg.dim, generator=gen, dtype=torch.float64)  # (n,) the target b


def check(cfg: ShrinkageConfig, b: torch.Tensor) -> None:
    if float(b.norm()) == 0.0:
        raise ConfigError("seed", f"{cfg.seed} draws a zero target")


def run_batch(datas, cfgs, *, device, save_iterates, progress=None) -> BatchResult:
    """D data sets x B runs, advanced together: a and w are (D, B, n), lr and beta (D, B, 1)."""
    t0 = time.perf_counter()
    dev = torch.device(device)
    first = cfgs[0][0]
    b = torch.stack(datas).to(dev).unsqueeze(1)  # (D, 1, n)
    col = lambda name: torch.tensor([[getattr(c, name) for c in row] for row in cfgs],  # noqa: E731
                                    dtype=torch.float64, device=dev).unsqueeze(-1)  # (D, B, 1)
    lr, shrink = col("lr"), 1 - col("lr") * col("beta")
    a = torch.zeros(len(cfgs), len(cfgs[0]), b.shape[-1], dtype=torch.float64, device=dev)
    w = b.expand_as(a).clone()
    bnorm = b.norm(dim=-1)  # (D, 1)
    steps = log_steps(first.steps, first.log_every, first.log_dense_until, first.log_spacing)
    names = ("train_error", "test_error", "w_norm")
    out = np.empty((len(steps), len(names), a.shape[0] * a.shape[1]))
    its = np.empty((len(steps), a.shape[0] * a.shape[1], 2 * a.shape[-1])) if save_iterates else None
    done = 0
    for k, t in enumerate(steps):
        for _ in range(int(t) - done):
            a.addcmul_(lr, b - a)
            w.mul_(shrink)
        if progress is not None and t > done:
            progress((int(t) - done) * a.shape[0] * a.shape[1])
        done = int(t)
        fit = (a - b).norm(dim=-1)  # (D, B)
        rows = (fit / bnorm, torch.sqrt(fit ** 2 + (w * w).sum(-1)) / bnorm, w.norm(dim=-1))
        out[k] = torch.stack(rows).reshape(len(names), -1).cpu().numpy()
        if its is not None:
            its[k] = torch.cat([a, w], -1).reshape(-1, 2 * a.shape[-1]).cpu().numpy()
    final = torch.cat([a, w], -1).reshape(-1, 2 * a.shape[-1]).cpu().numpy()
    return BatchResult(steps=steps, metrics={n: out[:, i] for i, n in enumerate(names)},
                       final=final, iterates=its, wall_time_s=time.perf_counter() - t0)


def predicted_times(cfg: ShrinkageConfig, threshold: float) -> tuple[int | None, int | None]:
    """t1 and t2 at ``threshold`` from the closed forms of the errors, train (1 - lr)^t and test
    sqrt((1 - lr)^(2t) + (1 - lr beta)^(2t)): the first logged step below it (None: never)."""
    steps = log_steps(cfg.steps, cfg.log_every, cfg.log_dense_until, cfg.log_spacing)
    train = (1 - cfg.lr) ** steps.astype(float)
    test = np.sqrt(train ** 2 + (1 - cfg.lr * cfg.beta) ** (2 * steps.astype(float)))
    first = [int(steps[np.argmax(e <= threshold)]) if (e <= threshold).any() else None
             for e in (train, test)]
    return first[0], first[1]


def run_columns(cfg, b, ref, final, col) -> dict:
    thr = FAMILY.detection.test_threshold
    t1, t2 = predicted_times(cfg, thr)
    return {"target_norm": float(b.norm()), "pred_t1": float(t1) if t1 is not None else None,
            "pred_delta_t": float(t2 - t1) if None not in (t1, t2) else None}


FAMILY = Family(
    name=ShrinkageConfig.problem,
    config=ShrinkageConfig,
    runtime=__name__,  # this module is its own runtime
    detection=Detection(train_threshold=1e-3, test_threshold=1e-3),
    final_metrics=("w_norm",),
    run_dtypes={"pred_t1": "float64", "pred_delta_t": "float64"},
    iterate_prefix="p",
    key_fields=("lr", "beta"),
    labels={"dim": "n"},
    norms={"w_norm": "|w|"},
    penalties={"beta": "exact Δt"},
    predictions={"t1": "pred_t1", "delta_t": "pred_delta_t"},
)
register(FAMILY)
