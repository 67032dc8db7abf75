"""The paper's claims at small scale (figure-3 data: n=100, s=5, N=30, seed 1, lr 0.1, init 1e-6).

With l1 = 1e-4 (10x the paper's 1e-5, so the click comes ~10x sooner, Delta t ~ 1/(lr l1)):
memorization within a few dozen steps, test error stuck at the least-squares value, then
generalization.  l2 alone or no penalty: memorization without generalization, forever.  All three
l1 solvers grok and agree; Delta t shrinks as lr*l1 grows and follows the figure-4 predictor.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from groklab.families.sparse_recovery.config import SparseRecoveryConfig
from groklab.families.sparse_recovery.data import make_data

from groklab.driver import execute

LR = 0.1
STEPS = 30_000
FIG3 = dict(dim=100, sparsity=5, measurements=30, seed=1, lr=LR, init="constant", init_scale=1e-6,
            steps=STEPS, log_every=100, log_dense_until=1000)
L1_GRID = (1e-4, 3e-4, 1e-3)


def cfg(**kw):
    return SparseRecoveryConfig(**{**FIG3, **kw})


@pytest.fixture(scope="module")
def data():
    d = make_data(cfg())
    return d, d.X.numpy(), d.y.numpy(), d.a_star.numpy()


@pytest.fixture(scope="module")
def results():
    """All runs of this module in one call: one batch per method."""
    configs = [cfg(l1=b) for b in L1_GRID]
    configs += [cfg(l1=0.0, l2=1e-4), cfg(l1=0.0, l2=0.0)]
    configs += [cfg(method=m, l1=1e-4) for m in ("projected", "ista")]
    res = execute(configs)
    assert len(res.runs) == len(configs)
    return res


def pick(res, **kw):
    runs = res.runs
    sel = np.ones(len(runs), bool)
    kw.setdefault("method", "subgradient")
    for k, v in kw.items():
        sel &= (runs[k] == v).to_numpy()
    assert sel.sum() == 1, kw
    row = runs[sel].iloc[0]
    return row, res.curves[res.curves.run_id == row.run_id].sort_values("step")


def test_least_squares_does_not_generalize(data):
    """N < n: the memorizing solution a_hat = X^+ y misses a*'s component outside row(X)."""
    _, X, y, a_star = data
    a_hat = np.linalg.pinv(X) @ y
    assert np.linalg.norm(X @ a_hat - y) < 1e-12 * np.linalg.norm(y)
    assert np.linalg.norm(a_hat - a_star) / np.linalg.norm(a_star) > 0.5


def test_figure3_memorizes_then_groks(results, data):
    row, c = pick(results, l1=1e-4, l2=0.0)
    # memorization early
    assert not pd.isna(row.t1) and row.t1 < 500
    # ... while the test error stays high for the first 1000 steps (at the least-squares level)
    early = c[c.step <= 1000]
    assert early.test_error.min() > 0.5
    assert row.ls_test_error > 0.5
    # ... then generalization
    assert row.final_test_error < 0.01
    assert not pd.isna(row.t2) and row.t2 > 1000
    assert row.delta_t == row.t2 - row.t1 and row.delta_t > 10 * row.t1
    assert bool(row.final_support_recovered)
    # the l1 norm falls from the memorizing fit's to about a*'s while it generalizes
    l1_at_1000 = c[c.step == 1000].l1_norm.iloc[0]
    _, X, y, a_star = data
    assert row.final_l1_norm < l1_at_1000
    assert abs(row.final_l1_norm - np.abs(a_star).sum()) < 0.05 * (l1_at_1000 - np.abs(a_star).sum())


@pytest.mark.parametrize("l2", [1e-4, 0.0], ids=["l2-only", "no-penalty"])
def test_without_l1_memorizes_but_never_generalizes(results, data, l2):
    row, c = pick(results, l1=0.0, l2=l2)
    _, X, y, a_star = data
    n = X.shape[1]
    # memorizes (train error -> ~0)
    assert row.final_train_error < 1e-3 and not pd.isna(row.t1)
    # generalizes never: no t2, the test error stays high over the whole run ...
    assert pd.isna(row.t2) and row.t2_rule == "never"
    assert c.test_error.min() > 0.5
    # ... and ends at the least-squares value: GD converges to the ridge fit (l2 > 0) or the LS fit
    # in row(X), and keeps at most the init's null-space component (|a0| = 1e-6 sqrt(n)).
    a_hat = np.linalg.pinv(X) @ y
    a_ridge = np.linalg.solve(X.T @ X + l2 * np.eye(n), X.T @ y) if l2 > 0 else a_hat
    tol = (1e-6 * np.sqrt(n) + np.linalg.norm(a_ridge - a_hat)) / np.linalg.norm(a_star) + 1e-9
    assert abs(row.final_test_error - row.ls_test_error) <= tol
    assert row.ls_test_error == pytest.approx(np.linalg.norm(a_hat - a_star) / np.linalg.norm(a_star),
                                              rel=1e-10)


def test_three_l1_solvers_grok_and_agree(results, data):
    """Subgradient, projected subgradient and ISTA with the same l1 all grok, recover the support,
    and end close to each other.  Scale of "close", from the penalty alone: each endpoint sits
    within the l1 bias on the support, beta sqrt(s) / lambda_min(X_S^T X_S) (closed form of the
    penalized fit restricted to supp(a*)), plus one step's penalty move lr beta sqrt(n), of a*."""
    _, X, y, a_star = data
    beta = 1e-4
    S = np.flatnonzero(a_star)
    n, s = X.shape[1], len(S)
    lam_S = np.linalg.eigvalsh(X[:, S].T @ X[:, S])[0]
    radius = beta * np.sqrt(s) / lam_S + LR * beta * np.sqrt(n)
    finals = {}
    for m in ("subgradient", "projected", "ista"):
        row, c = pick(results, method=m, l1=beta)
        assert not pd.isna(row.t2), m
        assert row.final_test_error < 0.01, m
        assert c[c.step <= 1000].test_error.min() > 0.5, m  # it is grokking, not fast learning
        assert bool(row.final_support_recovered), m
        finals[m] = np.asarray(row.final_a)
        assert np.linalg.norm(finals[m] - a_star) <= radius, m
    for a, b in [("subgradient", "projected"), ("subgradient", "ista"), ("projected", "ista")]:
        assert np.linalg.norm(finals[a] - finals[b]) <= 2 * radius, (a, b)


def test_projected_fits_exactly_throughout(results):
    row, c = pick(results, method="projected", l1=1e-4)
    assert c[c.step >= 1].train_error.max() < 1e-10
    assert row.t1 == 1


def test_ista_converges_to_a_lasso_solution_with_exact_zeros(results, data):
    """ISTA's limit minimizes |Xa - y|^2/2 + beta |a|_1: KKT conditions X_j^T(y - Xa) = beta
    sign(a_j) where a_j != 0 and |X_j^T (y - Xa)| <= beta elsewhere.  Zeros are exact, the
    support of a* is kept, and a lasso solution has at most N non-zeros."""
    _, X, y, a_star = data
    beta = 1e-4
    row, _ = pick(results, method="ista", l1=beta)
    a = np.asarray(row.final_a)
    g = X.T @ (y - X @ a)
    active = a != 0
    np.testing.assert_allclose(g[active], beta * np.sign(a[active]), rtol=0, atol=1e-9 * beta)
    assert np.abs(g[~active]).max() <= beta * (1 + 1e-9)
    S = a_star != 0
    assert active[S].all()
    assert active.sum() <= X.shape[0]
    assert (a[~S] == 0).sum() >= X.shape[1] - X.shape[0]  # exact zeros off the support
    assert row.final_nonzeros == active.sum()
    # the subgradient method, by contrast, never lands exactly on 0
    sub, _ = pick(results, l1=beta)
    assert (np.asarray(sub.final_a) != 0).sum() > active.sum()


def test_delta_t_shrinks_as_lr_l1_grows(results):
    dts = [pick(results, l1=b)[0].delta_t for b in L1_GRID]
    assert not any(pd.isna(d) for d in dts)
    assert all(a > b for a, b in zip(dts, dts[1:])), dts


def test_delta_t_follows_predictor(results, data):
    """Figure-4 predictor Delta t ~ |a_hat - a*|_inf / (lr l1); measured within a factor 2."""
    _, X, y, a_star = data
    gap = np.abs(np.linalg.pinv(X) @ y - a_star).max()
    for b in L1_GRID:
        row, _ = pick(results, l1=b)
        pred = gap / (LR * b)
        assert row.pred_delta_t == pytest.approx(pred, rel=1e-8)
        assert pred / 2 <= row.delta_t <= 2 * pred, (b, row.delta_t, pred)


def test_t1_scale_follows_eq78(results):
    """t1 ~ (1/(lr sigma_min+)) ln(1 + ...): short and only logarithmic in 1/l1, so t1 << Delta t
    and it changes far less than Delta t across the l1 grid; measured within a factor 2 of eq. 78."""
    rows = [pick(results, l1=b)[0] for b in L1_GRID]
    for r in rows:
        assert r.pred_t1 / 2 <= r.t1 <= 2 * r.pred_t1, (r.l1, r.t1, r.pred_t1)
    t1s, dts = [r.t1 for r in rows], [r.delta_t for r in rows]
    assert max(t1s) / min(t1s) < max(dts) / min(dts)


@pytest.mark.slow
def test_figure3_paper_scale():
    """The paper's figure-3 configuration (l1 = 1e-5): the click comes between 5e4 and 2e5."""
    res = execute([cfg(l1=1e-5, steps=200_000, log_every=1000)])
    row = res.runs.iloc[0]
    assert row.t1 < 500
    assert not pd.isna(row.t2) and 5e4 <= row.t2 <= 2e5
    assert row.final_test_error < 1e-2
    c = res.curves
    assert c[c.step <= 10_000].test_error.min() > 0.5
