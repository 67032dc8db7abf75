"""The paper's predictions for matrix completion / sensing (docs/families/matrix.md#theory):
the memorizing fit A_LS (its test error, and |A_LS - A*|_2 / (alpha beta*), figure 6's Delta t
predictor), and an eq. (78)-style memorization time."""
from __future__ import annotations

import math

import torch

from .data import MatrixData, initial_factors


def matrix_reference(data: MatrixData) -> dict:
    """Data-only quantities (theory), computed once per data set."""
    if not data.has_truth:  # a user's data without A*: nothing to compare with
        nan = float("nan")
        return {"a_star_nuclear_norm": nan, "ls_test_error": nan, "ls_gap_spectral": nan,
                "ls_gap_fro": nan}
    gap = data.A_ls - data.A_star
    a_norm = float(data.A_star.norm())
    return {
        "a_star_nuclear_norm": float(data.S_star.sum()),
        "ls_test_error": float(gap.norm()) / a_norm,
        "ls_gap_spectral": float(torch.linalg.matrix_norm(gap, ord=2)),
        "ls_gap_fro": float(gap.norm()),
    }


def predicted_t1(cfg, data: MatrixData, ref: dict, paper_form: bool = False) -> float | None:
    """Eq. (78)-style memorization time: the fit contracts |A_t - A_LS| by rho per step, rho =
    max(|1 - lr lambda|) over the non-zero eigenvalues of X^T X, until it reaches the level
    lr*nuclear*c/(1 - rho) where the penalty balances it.  Depth 1 only.

    c = |H|_F, the norm of the nuclear subgradient H = U V^T: sqrt(min(n1, n2)) (groklab's
    ``pred_t1``, the exact constant).  Thm 3.4 writes the level with sqrt(n), n = n1 n2 (the
    vector bound |sign(a)|_2 <= sqrt(n) carried over to vec(A)): ``paper_form`` uses that
    (``pred_t1_paper``); the two differ by ln(max(n1, n2))/2 / -ln(rho) steps at most."""
    beta = cfg.nuclear
    if beta <= 0 or cfg.depth > 1:
        return None
    rho = max(abs(1 - cfg.lr * data.lambda_min_nonzero), abs(1 - cfg.lr * data.lambda_max))
    if rho >= 1:
        return None
    if rho == 0:
        return 1.0
    A0 = initial_factors(cfg, data)[0]
    dist = float((A0 - data.A_ls).norm())
    n1, n2 = data.shape
    c = math.sqrt(n1 * n2) if paper_form else math.sqrt(min(n1, n2))
    level = cfg.lr * beta * c / (1 - rho)
    return float(max(1, math.ceil(math.log1p(dist / level) / -math.log(rho))))
