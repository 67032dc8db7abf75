"""Deep diagonal sparse recovery (depth L >= 2; docs/families/sparse-recovery.md).

One step of every factor is checked against torch.autograd; the paper's claims are checked on the
figure-3 data (n=100, s=5, N=30, seed 1; a* has negative entries) with beta = 0:
depth 1 only fits (test error = the least-squares error), depth 2 from a small random init
recovers a*, a larger init moves it back to a dense fit, equal (constant) factors of an even depth
cannot produce negative entries, and the signed parametrization u^L - v^L can.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import groklab
from groklab.fields import ConfigError
from groklab.families.sparse_recovery.config import SparseRecoveryConfig
from groklab.families.sparse_recovery.deep import run_deep_batch
from groklab.families.sparse_recovery.data import initial_factors, make_data, product

from conftest import tiny

#: the figure-3 data with no penalty; lr 0.2 < 2/lambda_max = 0.247 (a shorter horizon than 0.1)
FIG3 = dict(dim=100, sparsity=5, measurements=30, seed=1, l1=0.0, l2=0.0, lr=0.2,
            log_spacing="log", log_every=10)


def _one_step_expected(cfg, data):
    """Factors after one step, by autograd on 1/2|Xa - y|^2 + sum_k l1|F_k|_1 + l2/2 |F_k|^2."""
    F = initial_factors(cfg, data).clone().requires_grad_(True)
    a = product(cfg, F)
    loss = 0.5 * (data.X @ a - data.y).pow(2).sum() + cfg.l2 / 2 * F.pow(2).sum()
    if cfg.method == "subgradient":
        loss = loss + cfg.l1 * F.abs().sum()
    (g,) = torch.autograd.grad(loss, F)
    F1 = (F - cfg.lr * g).detach()
    if cfg.method == "ista":  # prox of the l1 term on every factor
        t = cfg.lr * cfg.l1
        F1 = torch.sign(F1) * torch.clamp(F1.abs() - t, min=0.0)
    return F1


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("init", ["random", "signed"])
@pytest.mark.parametrize("method", ["subgradient", "ista"])
def test_one_step_of_every_factor_equals_autograd(depth, init, method):
    scale = 1.0 if init == "random" else 0.7  # no zero factor entry: |.| is smooth there
    hypers = [dict(lr=0.05, l1=0.01, l2=0.05), dict(lr=0.1, l1=0.0, l2=0.2),
              dict(lr=0.02, l1=0.3, l2=0.0)]
    cfgs = [tiny(depth=depth, init=init, init_scale=scale, method=method, steps=1, **h)
            for h in hypers]
    data = make_data(cfgs[0])
    res = run_deep_batch([data], [cfgs])
    for j, c in enumerate(cfgs):
        F1 = _one_step_expected(c, data)
        np.testing.assert_allclose(res.extra["factors"][j], F1.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(res.final[j], product(c, F1).numpy(), rtol=1e-12, atol=1e-15)


def test_deep_run_alone_equals_run_inside_a_batch():
    cfgs = [tiny(depth=2, init="random", init_scale=0.5, l1=l1, lr=lr, steps=150)
            for lr in (0.02, 0.05) for l1 in (0.0, 1e-3)]
    data = make_data(cfgs[0])
    together = run_deep_batch([data], [cfgs])
    for j, c in enumerate(cfgs):
        alone = run_deep_batch([data], [[c]])
        np.testing.assert_allclose(together.final[j], alone.final[0], rtol=1e-12, atol=1e-15)
        for name in ("train_error", "test_error", "grad_penalty_norm"):
            np.testing.assert_allclose(together.metrics[name][:, j], alone.metrics[name][:, 0],
                                       rtol=1e-12, atol=1e-15)


def test_depth_is_a_later_option_and_validated():
    assert tiny().run_id() == tiny(depth=1).run_id() != tiny(depth=2).run_id()
    for bad, option in ((dict(depth=0), "--depth"), (dict(depth=1, init="signed"), "--init"),
                        (dict(depth=2, method="projected"), "--method"),
                        (dict(depth=2, init="least-squares"), "--init")):
        with pytest.raises(ConfigError, match=option):
            tiny(**bad)


def test_depth_1_beta_0_only_fits_depth_2_small_random_init_recovers():
    """Paper §3.5 / fig. 9 at the figure-3 scale (1e5 steps; the paper ran 1e6)."""
    res = groklab.sweep(dict(FIG3, steps=100_000, depth=[1, 2], init="random",
                             init_scale=[1e-6, 1e-2]))
    runs = res.runs.set_index(["depth", "init_scale"])
    shallow = runs.loc[(1, 1e-6)]  # (a larger depth-1 init keeps its null-space part forever)
    assert shallow.final_train_error < 1e-6  # fits ...
    assert shallow.final_test_error == pytest.approx(shallow.ls_test_error, rel=1e-4)  # ... only
    assert shallow.ls_test_error > 0.8
    deep = runs.loc[(2, 1e-2)]
    assert deep.status == "done" and deep.final_train_error < 1e-2
    assert deep.final_test_error < 0.05  # recovered a* without any penalty
    assert deep.final_support_recovered
    assert np.isnan(deep.pred_t1) and np.isnan(deep.pred_delta_t)  # depth-1 theory only


def test_larger_init_moves_depth_2_back_to_a_dense_fit():
    cfgs = [SparseRecoveryConfig(**FIG3, steps=30_000, depth=2, init="random", init_scale=z)
            for z in (1e-2, 0.3, 1.0)]
    data = make_data(cfgs[0])
    res = run_deep_batch([data], [cfgs])
    err = res.metrics["test_error"][-1]
    assert (res.metrics["train_error"][-1] < 5e-3).all()  # every run fits
    assert err[0] < 0.05 and err[0] < err[1] < err[2]
    assert err[2] > 0.5  # near the least-squares error 0.86


@pytest.mark.parametrize("depth", [2, 4])
def test_constant_init_even_depth_keeps_equal_factors_and_a_nonnegative(depth):
    """The authors' notebook default: identical factors stay identical, a = F^L >= 0, so a* with
    negative entries is out of reach; independent random factors have no such constraint."""
    steps = 20_000
    cfg = SparseRecoveryConfig(**{**FIG3, "lr": 0.1}, steps=steps, depth=depth, init="constant",
                               init_scale=1e-2 if depth == 2 else 0.3)
    data = make_data(cfg)
    assert (data.a_star < 0).any()
    res = run_deep_batch([data], [[cfg]])
    F = res.extra["factors"][0]
    assert np.array_equal(F, np.broadcast_to(F[0], F.shape))  # bit-for-bit equal factors
    assert (res.final[0] >= 0).all()
    assert res.metrics["test_error"][-1, 0] > 0.5
    assert (res.metrics["l1_norm"] >= 0).all()


def test_signed_parametrization_represents_negative_entries():
    cfg = SparseRecoveryConfig(**FIG3, steps=100_000, depth=2, init="signed", init_scale=1e-4)
    data = make_data(cfg)
    res = run_deep_batch([data], [[cfg]])
    a, a_star = res.final[0], data.a_star.numpy()
    neg = a_star < 0
    assert neg.any() and (a[neg] < 0).all()
    assert np.sign(a[data.support.numpy()]).tolist() == np.sign(a_star[data.support.numpy()]).tolist()
    assert res.metrics["test_error"][0, 0] == pytest.approx(1.0)  # u = v: a = 0 at step 0
    assert res.metrics["test_error"][-1, 0] < 0.05


def test_deep_divergence_is_a_status_not_a_crash():
    res = groklab.sweep(dict(FIG3, steps=2000, depth=2, init="random", init_scale=[1e-2, 10.0]))
    status = dict(zip(res.runs.init_scale, res.runs.status))
    assert status == {1e-2: "done", 10.0: "diverged"}


def _numpy_gradient_norms(cfg, data, steps):
    """|G| and |beta H| of eq. (1) on the factors, by an independent numpy loop of the deep
    update: G_k = d(1/2 |X a - y|^2)/dF_k = (prod_{j != k} F_j) * X^T (X a - y) (signed:
    +-L u^(L-1) * g), H_k = l1 sign(F_k) + l2 F_k; logged at steps 0 .. steps."""
    X, y = data.X.numpy(), data.y.numpy()
    F = initial_factors(cfg, data).numpy().copy()
    L, signed = cfg.depth, cfg.init == "signed"
    fit, pen = [], []
    for _ in range(steps + 1):
        a = F[0] ** L - F[1] ** L if signed else np.prod(F, axis=0)
        g = X.T @ (X @ a - y)
        if signed:
            G = np.stack([L * F[0] ** (L - 1) * g, -L * F[1] ** (L - 1) * g])
        else:
            G = np.stack([np.prod(np.delete(F, k, axis=0), axis=0) * g for k in range(L)])
        H = cfg.l1 * np.sign(F) + cfg.l2 * F
        fit.append(np.linalg.norm(G))
        pen.append(np.linalg.norm(H))
        F = F - cfg.lr * (G + H)
    return np.array(fit), np.array(pen)


@pytest.mark.parametrize("depth,init", [(2, "random"), (3, "random"), (3, "signed")])
@pytest.mark.parametrize("measurements", [6, 14])  # the thin (X) and the G = X^T X paths
def test_deep_gradient_ratio_compares_both_terms_on_the_factors(depth, init, measurements):
    """grad_fit_norm and grad_penalty_norm of a deep run are both norms over the factors (the
    parameters eq. (1) updates), so grad_ratio = |beta H| / |G| of figure 3 compares the two terms
    of one step; checked against an independent numpy loop at every one of 8 logged steps."""
    cfg = tiny(depth=depth, init=init, init_scale=0.8, measurements=measurements, lr=0.05,
               l1=1e-2, l2=1e-2, steps=8, log_dense_until=9)
    data = make_data(cfg)
    res = run_deep_batch([data], [[cfg]])
    fit, pen = _numpy_gradient_norms(cfg, data, 8)
    np.testing.assert_allclose(res.metrics["grad_fit_norm"][:, 0], fit, rtol=1e-10)
    np.testing.assert_allclose(res.metrics["grad_penalty_norm"][:, 0], pen, rtol=1e-10)
    # the code-space fit gradient |X^T (X a - y)| is another number: the test tells them apart
    a = product(cfg, initial_factors(cfg, data)).numpy()
    code_space = np.linalg.norm(data.X.numpy().T @ (data.X.numpy() @ a - data.y.numpy()))
    assert abs(code_space - fit[0]) > 1e-3 * fit[0]
    grid = dict(dim=20, sparsity=2, measurements=measurements, depth=depth, init=init,
                init_scale=0.8, lr=0.05, l1=1e-2, l2=1e-2, steps=8, log_dense_until=9)
    curves = groklab.sweep(grid, problem="sparse-recovery").curves.sort_values("step")
    np.testing.assert_allclose(curves.grad_ratio.to_numpy(float), pen / fit, rtol=1e-10)
