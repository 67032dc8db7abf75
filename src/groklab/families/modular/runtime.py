"""The tensor side of the modular-arithmetic family (the registry imports it on first use)."""
from __future__ import annotations

import numpy as np

from ...schedule import log_steps
from .data import make_modular_data, n_weights
from .engine import run_modular_batch
from .module import ModularMLP
from .transformer import ModularTransformer, run_transformer_batch, transformer_weights


def make_data(cfg):
    return make_modular_data(cfg)


def run_batch(datas, cfgs, *, device, save_iterates, progress=None):
    if cfgs[0][0].architecture == "transformer":  # the generic engine (an nn.Module)
        return run_transformer_batch(datas, cfgs, device=device, progress=progress,
                                     save_iterates=save_iterates)
    return run_modular_batch(datas, cfgs, device=device, progress=progress,
                             save_iterates=int(save_iterates))


def build_module(cfg):
    """A fresh module of the run's architecture, for :func:`groklab.checkpoints.load_module`:
    the transformer, or the MLP as a plain module (same parameter names as its checkpoints)."""
    return ModularTransformer(cfg) if cfg.architecture == "transformer" else ModularMLP(cfg)


def run_columns(cfg, data, ref, final, col) -> dict:
    acc = np.asarray(col["test_accuracy"], dtype=float)
    # the logged steps are the config's schedule (the engine logs exactly these)
    steps = log_steps(cfg.steps, cfg.log_every, cfg.log_dense_until, cfg.log_spacing)
    out = {"n_train": int(data.train_idx.numel()), "n_test": int(data.test_idx.numel()),
           "n_weights": n_weights(cfg) if cfg.architecture != "transformer" else
           transformer_weights(cfg), "chance_accuracy": 1.0 / cfg.modulus,
           "best_test_accuracy": float(np.nanmax(acc)) if np.isfinite(acc).any() else None}
    # the authors' rule (docs/detection.md): t1 / t2 = the first logged step at the best train /
    # test accuracy (their error <= its minimum)
    for name, split in (("t1_best", "train_accuracy"), ("t2_best", "test_accuracy")):
        a = np.asarray(col[split], dtype=float)
        out[name] = int(steps[int(np.nanargmax(a))]) if np.isfinite(a).any() else None
    return out
