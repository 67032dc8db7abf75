"""The tensor side of the teacher-student family (the registry imports it on first use)."""
from __future__ import annotations

import numpy as np
import torch

from ...schedule import log_steps
from .data import baselines, make_teacher_student_data, n_weights
from .engine import run_teacher_student_batch


def make_data(cfg):
    return make_teacher_student_data(cfg)


def reference(data) -> dict:
    return {"target_mse_zero": float((data.Y_test ** 2).mean()),
            "teacher_l1_norm": float(data.W_star.abs().sum() + data.V_star.abs().sum()),
            "teacher_nuclear_norm": float(torch.linalg.svdvals(data.W_star).sum()
                                          + torch.linalg.svdvals(data.V_star).sum()),
            **baselines(data)}


def run_batch(datas, cfgs, *, device, save_iterates, progress=None):
    return run_teacher_student_batch(datas, cfgs, device=device, progress=progress,
                                     save_iterates=int(save_iterates))


def run_columns(cfg, data, ref, final, col) -> dict:
    mse = np.asarray(col["test_mse"], dtype=float)
    steps = log_steps(cfg.steps, cfg.log_every, cfg.log_dense_until, cfg.log_spacing)
    ok = np.isfinite(mse)
    return {"n_weights": n_weights(cfg), "target_mse_zero": ref["target_mse_zero"],
            "mean_baseline_mse": ref["mean_baseline_mse"],
            "affine_baseline_mse": ref["affine_baseline_mse"],
            "best_affine_mse": ref["best_affine_mse"],
            "teacher_l1_norm": ref["teacher_l1_norm"],
            "teacher_nuclear_norm": ref["teacher_nuclear_norm"],
            "initial_train_mse": float(col["train_mse"][0]),
            "initial_test_mse": float(col["test_mse"][0]),
            "best_test_mse": float(np.nanmin(mse)) if ok.any() else None,
            # the authors' t2: first logged step at the best test MSE (docs/detection.md)
            "t2_best": int(steps[int(np.nanargmin(mse))]) if ok.any() else None}
