"""The paper's predictions for sparse recovery as closed forms, to overlay on measurements
(docs/families/sparse-recovery.md#theory); the quantities they need from a data set are computed
by :mod:`.predict`:

* least-squares fit a_hat = X^+ y: what memorization converges to; its recovery error
  |a_hat - a*| / |a*| is the test error of a model that memorizes without generalizing.
* t1 = ceil(-ln(1 + (1 - rho) |a0 - a_hat| / (alpha beta sqrt n)) / ln rho), with
  rho = max over non-zero eigenvalues lambda_k of X^T X of |1 - alpha lambda_k|  (eq. 78, p = 2).
* Delta t = |a_hat - a*|_inf / (alpha beta)   (the predictor drawn in figure 4), so
  t2 ~ t1 + Delta t; no log factor.
* final error O(alpha beta) (the paper's claim).  What groklab measures instead (claims
  sparse.final-error-ab / sparse.final-error-beta): the error left by the l1 penalty is the
  lasso minimizer's, beta * |d| (:func:`lasso_bias_direction`), independent of alpha, plus a
  term that grows with alpha.
"""
from __future__ import annotations

import math

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


def lasso_bias_direction(X, a_star, tol: float = 1e-12, max_iter: int = 200_000):
    """The direction d of the lasso minimizer's bias for noiseless data y = X a*: for small beta,
    argmin_a 1/2 |X a - y|^2 + beta |a|_1 = a* + beta d (exactly linear in beta while the signs
    hold), with

        d = argmin_d 1/2 |X d|^2 + sgn(a*_S) . d_S + |d_S^c|_1,   S = supp(a*)

    (put a = a* + beta d in the objective: beta^2 times this plus a constant).  With the active
    set T = S + {the off-support coordinates d moves} and signs sigma_T (sgn a*_S, sgn d_j), the
    closed form is d_T = -(X_T^T X_T)^-1 sigma_T; where the irrepresentable condition holds T = S
    and d_S = -(X_S^T X_S)^-1 sgn(a*_S).  Solved by FISTA to find T, then the closed form on T,
    kept when it satisfies the optimality conditions (|X_j^T X d| <= 1 off T, signs on T).
    Returns (d, exact: whether the closed form was verified).  ValueError when the problem is
    unbounded (a* is not the unique minimum-l1 interpolant: l1 cannot recover it)."""
    X, a = np.asarray(X, float), np.asarray(a_star, float)
    S = a != 0
    sg = np.where(S, np.sign(a), 0.0)
    G = X.T @ X
    step = 1.0 / np.linalg.eigvalsh(G)[-1]
    d = z = np.zeros_like(a)
    t = 1.0
    for _ in range(max_iter):  # FISTA: prox of |.|_1 on S^c, the linear term on S
        u = z - step * (G @ z + sg)
        new = np.where(S, u, np.sign(u) * np.maximum(np.abs(u) - step, 0.0))
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        z = new + (t - 1) / t_new * (new - d)
        done = np.abs(new - d).max() <= tol * max(1.0, np.abs(new).max())
        d, t = new, t_new
        if not np.isfinite(d).all() or np.abs(d).max() > 1e12:
            raise ValueError("unbounded: a* is not the unique minimum-l1 interpolant")
        if done:
            break
    T = S | (np.abs(d) > 1e-9 * max(1.0, np.abs(d).max()))
    sigma = np.where(S, sg, np.sign(d))[T]
    XT = X[:, T]
    try:
        dT = -np.linalg.solve(XT.T @ XT, sigma)
    except np.linalg.LinAlgError:
        return d, False
    exact = np.zeros_like(a)
    exact[T] = dT
    off = np.abs(X[:, ~T].T @ (XT @ dT))
    extra = T & ~S
    ok = (off <= 1 + 1e-9).all() and (np.sign(exact[extra]) == sigma[extra[T]]).all()
    return (exact, True) if ok else (d, False)
