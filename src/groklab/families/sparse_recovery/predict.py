"""The paper's predictions for one sparse-recovery data set and config: the least-squares fit and
the spectrum of X^T X (:func:`sparse_reference`), eq. (78)'s t1, and everything at once for a
config (:func:`sparse_predictions`).  The formulas: :mod:`.theory`."""
from __future__ import annotations

import math

import torch

from .data import SparseData, initial_point, least_squares, make_data
from .theory import predicted_delta_t, predicted_t2


def sparse_reference(data: SparseData) -> dict:
    """Quantities that depend on the data only (computed once per data set)."""
    a_hat = least_squares(data.X, data.y)
    evals = torch.linalg.eigvalsh(data.X.T @ data.X)
    nz = evals[evals > evals[-1] * 1e-10]
    nan = float("nan")  # without a ground truth there is no recovery error to predict
    return {
        "a_hat": a_hat,
        "ls_test_error": float((a_hat - data.a_star).norm() / data.a_star.norm())
        if data.has_truth else nan,
        "ls_gap_inf": float((a_hat - data.a_star).abs().max()) if data.has_truth else nan,
        "eig_min_nonzero": float(nz[0]),
        "eig_max": float(evals[-1]),
    }


def predicted_t1(a0: torch.Tensor, ref: dict, lr: float, beta: float) -> float | None:
    """Eq. (78) with p = 2: the step from which |a_t - a_hat| <= 2 alpha beta sqrt(n)/(1 - rho)."""
    if beta <= 0:
        return None
    rho = max(abs(1 - lr * ref["eig_min_nonzero"]), abs(1 - lr * ref["eig_max"]))
    if not (0 < rho < 1):
        return None
    n = a0.numel()
    dist = float((a0 - ref["a_hat"]).norm())
    return float(math.ceil(-math.log1p((1 - rho) * dist / (lr * beta * math.sqrt(n))) / math.log(rho)))


def sparse_predictions(cfg) -> dict:
    """The paper's predictions for one sparse-recovery config (depth 1), as functions of alpha =
    lr, beta = l1, the initialization (init, init_scale) and the data (n, s, N, tau, seed):

    * ``t1``: eq. (78); None without a penalty or when the step is unstable (rho >= 1);
    * ``delta_t``: |a_hat - a*|_inf / (alpha beta) (figure 4), exactly proportional to 1/(alpha beta);
    * ``t2``: t1 + delta_t;
    * ``memorized_error``: |a_hat - a*| / |a*|, the test error of the least-squares fit (what a run
      that memorizes without generalizing shows);
    * ``error_scale``: alpha * beta, the order of the final error (a scale, not a value).

    The same numbers are stored per run as ``pred_t1`` / ``pred_delta_t`` / ``ls_test_error``."""
    if getattr(cfg, "depth", 1) != 1:
        raise ValueError("the predictions are the depth-1 theory (Thm 3.1, eq. 78)")
    data = make_data(cfg)
    ref = sparse_reference(data)
    t1 = predicted_t1(initial_point(cfg, data), ref, cfg.lr, cfg.l1)
    dt = predicted_delta_t(ref["ls_gap_inf"], cfg.lr, cfg.l1)
    return {"t1": t1, "delta_t": dt, "t2": predicted_t2(t1, dt),
            "memorized_error": ref["ls_test_error"], "error_scale": cfg.lr * cfg.l1}
