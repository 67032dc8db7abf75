"""The tensor side of the matrix-completion and matrix-sensing families (the registry imports it
on first use): data, the step-size check, the engine and the theory columns of a run."""
from __future__ import annotations

import os

import numpy as np

from ...fields import ConfigError
from .config import MatrixCompletionConfig
from .data import lr_bound, make_completion_data, make_sensing_data
from . import kernel
from .engine import run_matrix_batch
from .theory import matrix_reference, predicted_t1


def make_data(cfg):
    if isinstance(cfg, MatrixCompletionConfig):
        return make_completion_data(cfg)
    return make_sensing_data(cfg)


def reference(data) -> dict:
    return matrix_reference(data)


def check(cfg, data) -> None:
    bound = lr_bound(data, cfg.l2, cfg.method)
    if cfg.lr >= bound:
        if cfg.method == "projected":  # no fit-gradient step: only the l2 shrink bounds lr
            raise ConfigError("lr", f"{cfg.lr:g} is too large: the projected method shrinks A by "
                              f"(1 - lr * l2) each step and needs lr < 2/l2 = {bound:.6g}")
        what = "2/(1 + l2)" if data.kind == "completion" else "2/(lambda_max(X^T X) + l2)"
        where = f"--data {cfg.data!r}" if cfg.data else f"seed {cfg.seed}"
        raise ConfigError("lr", f"{cfg.lr:g} is too large for {where}: gradient "
                          f"descent needs lr < {what} = {bound:.6g}")


def run_batch(datas, cfgs, *, device, save_iterates, progress=None):
    return run_matrix_batch(datas, cfgs, device=device, save_iterates=save_iterates,
                            progress=progress)


def provenance() -> dict:
    """For OUT/manifest.json: the kernel setting and the backends batches here ran on."""
    return {"matrix_kernel_mode": os.environ.get("GROKLAB_MATRIX_KERNEL", "auto"),
            "matrix_kernel_used": sorted(kernel.USED)}


def run_columns(cfg, data, ref, final, col) -> dict:
    k = min(data.shape)
    beta = cfg.nuclear
    out = {
        "final_A": np.asarray(final, dtype=float).tolist(),
        "final_sigma": [float(col[f"sigma_{i}"][-1]) for i in range(k)],
        "a_star_nuclear_norm": ref["a_star_nuclear_norm"],
        "a_star_spectral_norm": float(data.S_star[0]) if data.has_truth else float("nan"),
        "ls_test_error": ref["ls_test_error"],
        "ls_gap_spectral": ref["ls_gap_spectral"],
        # the method's step-size bound (inf: the projected method without l2 has none; as in
        # sparse recovery)
        "lr_max": lr_bound(data, cfg.l2, cfg.method),
        "pred_t1_paper": predicted_t1(cfg, data, ref, paper_form=True),
        "pred_t1": predicted_t1(cfg, data, ref),
        # figure-6 predictor |A_LS - A*|_2 / (alpha beta) and final error ~ alpha beta
        "pred_delta_t": ref["ls_gap_spectral"] / (cfg.lr * beta) if beta > 0 else None,
        "pred_final_error": cfg.lr * beta if beta > 0 else None,
        "degrees_of_freedom": cfg.rank * (cfg.rows + cfg.cols - cfg.rank),
    }
    if data.kind == "completion":
        out["n_selected"] = data.n_selected
        out["mean_leverage_observed"] = float(data.leverage.reshape(-1)[data.omega].mean()) \
            if data.has_truth else float("nan")
    return out
