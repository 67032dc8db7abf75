"""The tensor side of the sparse-recovery family (the registry imports it on first use): data,
the step-size check, the engine of each method and depth, and the theory columns of a run."""
from __future__ import annotations

from ...fields import ConfigError
from .convex import require_cvxpy, run_basis_pursuit_batch
from .data import initial_point, least_squares, lr_bound, make_data
from .deep import run_deep_batch
from .engine import run_sparse_batch
from .predict import predicted_t1, sparse_reference
from .theory import predicted_delta_t

#: the runtime contract (groklab.family), plus the least-squares fit the figures draw
__all__ = ["make_data", "reference", "check", "run_batch", "run_columns", "least_squares"]


def reference(data) -> dict:
    return sparse_reference(data)


def check(cfg, data) -> None:
    if cfg.method == "basis-pursuit":  # no step size; it needs the optional solver
        require_cvxpy()
        return
    # depth > 1: the same bound is kept, but it does not make a deep run stable (the factors
    # rescale the step); a deep run that blows up ends with status 'diverged'
    bound = lr_bound(data, cfg.l2, cfg.method)
    if cfg.lr >= bound:
        if cfg.method == "projected":  # lambda_max does not enter (data.lr_bound)
            raise ConfigError("lr", f"{cfg.lr:g} is too large: projected subgradient needs "
                              f"lr * l2 < 2, i.e. lr < 2/l2 = {bound:.6g}")
        where = f"--data {cfg.data!r}" if cfg.data else f"seed {cfg.seed}"
        raise ConfigError("lr", f"{cfg.lr:g} is too large for {where}: gradient descent "
                          f"needs lr < 2/lambda_max(X^T X + l2) = {bound:.6g}")


def run_batch(datas, cfgs, *, device, save_iterates, progress=None):
    first = cfgs[0][0]
    if first.method == "basis-pursuit":  # the convex baseline: one solve per data set
        engine = run_basis_pursuit_batch
    elif first.depth > 1:
        engine = run_deep_batch
    else:
        engine = run_sparse_batch
    return engine(datas, cfgs, device=device, save_iterates=save_iterates, progress=progress)


def run_columns(cfg, data, ref, final, col) -> dict:
    shallow = cfg.depth == 1  # the predictors are the depth-1 theory (Thm 3.1, eq. 78)
    return {
        "final_a": final.tolist(),
        "a_star_l1_norm": float(data.a_star.abs().sum()) if data.has_truth else float("nan"),
        "ls_test_error": ref["ls_test_error"],
        "lr_max": lr_bound(data, cfg.l2, cfg.method),
        "coherence": data.coherence,
        "pred_t1": predicted_t1(initial_point(cfg, data), ref, cfg.lr, cfg.l1)
        if shallow else None,
        "pred_delta_t": predicted_delta_t(ref["ls_gap_inf"], cfg.lr, cfg.l1)
        if shallow else None,
    }
