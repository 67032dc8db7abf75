"""The paper's predictions for sparse recovery, to overlay on measurements
(docs/families/sparse-recovery.md#theory):

* least-squares fit a_hat = X^+ y: what memorization converges to; its recovery error
  |a_hat - a*| / |a*| is the test error of a model that memorizes without generalizing.
* t1 = ceil(-ln(1 + (1 - rho) |a0 - a_hat| / (alpha beta sqrt n)) / ln rho), with
  rho = max over non-zero eigenvalues lambda_k of X^T X of |1 - alpha lambda_k|  (eq. 78, p = 2).
* Delta t = |a_hat - a*|_inf / (alpha beta)   (the predictor drawn in figure 4), so
  t2 ~ t1 + Delta t; no log factor.
* final error O(alpha beta).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .data import SparseData, initial_point, least_squares, make_data


def sparse_reference(data: SparseData) -> dict:
    """Quantities that depend on the data only (computed once per data set)."""
    a_hat = least_squares(data.X, data.y)
    evals = torch.linalg.eigvalsh(data.X.T @ data.X)
    nz = evals[evals > evals[-1] * 1e-10]
    return {
        "a_hat": a_hat,
        "ls_test_error": float((a_hat - data.a_star).norm() / data.a_star.norm()),
        "ls_gap_inf": float((a_hat - data.a_star).abs().max()),
        "eig_min_nonzero": float(nz[0]),
        "eig_max": float(evals[-1]),
    }


def predicted_delta_t(gap_inf: float, lr: float, beta: float) -> float | None:
    """Figure-4 heuristic |a_hat - a*|_inf / (alpha beta); None without a penalty."""
    if beta <= 0:
        return None
    return gap_inf / (lr * beta)


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


def predicted_t2(pred_t1: float | None, pred_delta_t: float | None) -> float | None:
    """t2 ~ t1 + |a_hat - a*|_inf / (alpha beta): eq. (78) plus the figure-4 delay."""
    if pred_t1 is None or pred_delta_t is None:
        return None
    return pred_t1 + pred_delta_t


def cs_sample_guide(s, n: int, c: float = 2.0):
    """c * s * ln(n / s): the classical order of the number of Gaussian measurements basis pursuit
    needs to recover an s-sparse code in R^n (N = Omega(s log(n/s)); the paper's appendix G);
    a guide for figures 19b / 20, not a fitted or sharp threshold.  Array-friendly."""
    s = np.asarray(s, dtype=float)
    return c * s * np.log(n / s)


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
