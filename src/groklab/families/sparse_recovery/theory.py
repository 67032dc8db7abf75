"""The paper's predictions for sparse recovery as closed forms, to overlay on measurements
(docs/families/sparse-recovery.md#theory); the quantities they need from a data set are computed
by :mod:`.predict`:

* least-squares fit a_hat = X^+ y: what memorization converges to; its recovery error
  |a_hat - a*| / |a*| is the test error of a model that memorizes without generalizing.
* t1 = ceil(-ln(1 + (1 - rho) |a0 - a_hat| / (alpha beta sqrt n)) / ln rho), with
  rho = max over non-zero eigenvalues lambda_k of X^T X of |1 - alpha lambda_k|  (eq. 78, p = 2).
* Delta t = |a_hat - a*|_inf / (alpha beta)   (the predictor drawn in figure 4), so
  t2 ~ t1 + Delta t; no log factor.
* final error O(alpha beta).
"""
from __future__ import annotations

import numpy as np


def predicted_delta_t(gap_inf: float, lr: float, beta: float) -> float | None:
    """Figure-4 heuristic |a_hat - a*|_inf / (alpha beta); None without a penalty."""
    if beta <= 0:
        return None
    return gap_inf / (lr * beta)


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
