"""Nonlinear teacher-student and Sobolev training (docs/families/teacher-student.md).

Expectations come from closed forms (Jacobians vs finite differences and torch.func, gradients vs
autograd), from PyTorch's own Adam on the same model, from invariants (a panel member equals its
solo run; same seed, same numbers) or from the paper's qualitative claim at a small pinned size --
never from numbers copied out of a run.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import groklab
import torch
from torch.func import jacrev, vmap

from groklab.fields import ConfigError
from groklab.families.teacher_student.config import TeacherStudentConfig
from groklab.families.nets.penalty import penalty_value
from groklab.families.teacher_student.model import (forward, init_student, jacobians,
                                                     loss_and_grads, shared_loss_and_grads)
from groklab.families.teacher_student.engine import run_teacher_student_batch
from groklab.families.teacher_student.data import baselines, make_teacher_student_data, relu_jacobians

from conftest import cli

D64 = torch.float64


def _small(**kw):
    base = dict(input_dim=6, hidden=12, outputs=2, train_size=8, test_size=20, steps=15,
                log_every=5, log_dense_until=5, log_spacing="linear", lr=1e-2)
    base.update(kw)
    return TeacherStudentConfig(**base)


def _params(R=3, h=12, d=6, c=2, seed=0, dtype=D64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(R, h, d, generator=g, dtype=dtype),
            torch.randn(R, c, h, generator=g, dtype=dtype) / 3)


# ---- data ----------------------------------------------------------------------------------------
def test_teacher_and_data_are_seeded_and_shaped():
    a, b = make_teacher_student_data(_small()), make_teacher_student_data(_small())
    c = make_teacher_student_data(_small(data_seed=1))
    assert torch.equal(a.W_star, b.W_star) and torch.equal(a.X_test, b.X_test)
    assert not torch.equal(a.W_star, c.W_star)
    assert a.X_train.shape == (8, 6) and a.Y_test.shape == (20, 2) and a.J_train.shape == (8, 2, 6)
    torch.testing.assert_close(a.Y_train, torch.relu(a.X_train @ a.W_star.T) @ a.V_star.T)


def test_structured_teachers():
    cfg = _small(input_dim=20, hidden=30, teacher_sparsity=0.75)
    W = make_teacher_student_data(cfg).W_star
    assert ((W != 0).sum(1) == 5).all()  # each hidden unit keeps round(0.25 * 20) inputs
    W = make_teacher_student_data(_small(input_dim=20, hidden=30, teacher_rank=3)).W_star
    s = torch.linalg.svdvals(W)
    assert s[2] > 1e-6 * s[0] and s[3] < 1e-10 * s[0]  # rank exactly 3
    dense = make_teacher_student_data(_small(input_dim=20, hidden=30)).W_star
    assert torch.linalg.matrix_rank(dense) == 20 and (dense != 0).all()  # the authors' teacher


def test_student_init_is_the_authors():
    W, V = init_student(TeacherStudentConfig(), D64)
    assert W.shape == (500, 100) and V.shape == (2, 500)
    assert abs(float(W.std()) - 500 ** -0.5) < 0.02 * 500 ** -0.5  # std 1/sqrt(fan_out)
    assert abs(float(V.std()) - 2 ** -0.5) < 0.05 * 2 ** -0.5


# ---- Jacobians and gradients -------------------------------------------------------------------
def test_jacobian_matches_torch_func_and_finite_differences():
    W, V = _params()
    X = torch.randn(5, 6, generator=torch.Generator().manual_seed(3), dtype=D64)
    J = jacobians(W, V, X)  # closed form V diag(relu'(W x)) W, (R, n, c, d)
    f = lambda w, v, x: v @ torch.relu(w @ x)  # noqa: E731  one member, one input
    auto = vmap(vmap(jacrev(f, argnums=2), in_dims=(None, None, 0)), in_dims=(0, 0, None))(W, V, X)
    torch.testing.assert_close(J, auto)
    eps = 1e-6
    for i in range(6):
        e = torch.zeros(6, dtype=D64)
        e[i] = eps
        fd = (forward(W, V, X + e) - forward(W, V, X - e)) / (2 * eps)  # (R, n, c)
        torch.testing.assert_close(J[..., i], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("form", ["norm", "squared"])
@pytest.mark.parametrize("with_sobolev", [False, True])
def test_hand_gradient_matches_autograd(form, with_sobolev):
    """MSE + beta * Sobolev term: the hand-written gradient equals autograd through the
    torch.func Jacobian (a double backward, as the authors' create_graph=True)."""
    W, V = _params(R=3)
    g = torch.Generator().manual_seed(5)
    X = torch.randn(7, 6, generator=g, dtype=D64)
    Wt, Vt = _params(R=1, seed=9)
    Y = forward(Wt, Vt, X)
    Jt = jacobians(Wt, Vt, X)
    beta = torch.tensor([0.3, 1e-3, 0.0], dtype=D64).view(3, 1, 1) if with_sobolev else None
    loss, dW, dV = loss_and_grads(W, V, X, Y, Jt if with_sobolev else None, sobolev=beta,
                                  sobolev_form=form)
    Wa, Va = W.clone().requires_grad_(), V.clone().requires_grad_()
    f = lambda w, v, x: v @ torch.relu(w @ x)  # noqa: E731
    pred = forward(Wa, Va, X)
    # the paper's Sobolev objective (squared) sums the data term over the outputs
    ref = ((pred - Y) ** 2).mean((1, 2)) if form == "norm" else ((pred - Y) ** 2).sum(2).mean(1)
    if with_sobolev:
        Ja = vmap(vmap(jacrev(f, argnums=2), in_dims=(None, None, 0)), in_dims=(0, 0, None))(Wa, Va, X)
        D = Ja - Jt
        if form == "norm":
            ref = ref + beta.view(3) * D.flatten(1).norm(dim=1)
        else:
            ref = ref + beta.view(3) * (D ** 2).sum((1, 2, 3)) / X.shape[0]
    gW, gV = torch.autograd.grad(ref.sum(), (Wa, Va))
    torch.testing.assert_close(loss, ref.detach())
    torch.testing.assert_close(dW, gW)
    torch.testing.assert_close(dV, gV)


def _paper_sobolev_objective_numpy(W, V, X, Y, J_star, beta):
    """The paper's Sobolev objective, sample by sample in numpy: (1/N) sum_i |f(x_i) - y_i|^2 +
    (beta/N) sum_i |J_i - J*_i|_F^2 with f(x) = V relu(W x) and J_i = V diag(1[W x_i > 0]) W."""
    N = X.shape[0]
    fit = pen = 0.0
    for i in range(N):
        z = W @ X[i]
        fit += float(((V @ np.maximum(z, 0.0) - Y[i]) ** 2).sum())
        J = V @ np.diag((z > 0).astype(float)) @ W
        pen += float(((J - J_star[i]) ** 2).sum())
    return fit / N + beta * pen / N


@pytest.mark.parametrize("c", [1, 2, 3])
def test_squared_sobolev_form_is_the_papers_objective(c):
    """sobolev_form squared is (1/N) sum_i |f(x_i) - y*_i|^2 + (beta/N) sum_i |J_i - J*_i|_F^2:
    the data term summed over the c outputs, not averaged over N c (which would give the
    derivative term c x the paper's weight).  Both the batched and the shared-data paths."""
    W, V = _params(R=2, c=c)
    g = torch.Generator().manual_seed(11)
    X = torch.randn(9, 6, generator=g, dtype=D64)
    Wt, Vt = _params(R=1, c=c, seed=4)
    Y, Jt = forward(Wt, Vt, X), jacobians(Wt, Vt, X)
    beta = torch.tensor([0.7, 2e-2], dtype=D64).view(2, 1, 1)
    want = [_paper_sobolev_objective_numpy(W[r].numpy(), V[r].numpy(), X.numpy(),
                                           Y[0].numpy(), Jt[0].numpy(), float(beta[r]))
            for r in range(2)]
    loss, _, _ = loss_and_grads(W, V, X, Y, Jt, sobolev=beta, sobolev_form="squared")
    np.testing.assert_allclose(loss.numpy(), want, rtol=1e-12)
    shared, _, _ = shared_loss_and_grads(W, V, X, Y.transpose(1, 2).contiguous(), Jt,
                                         sobolev=beta, sobolev_form="squared")
    np.testing.assert_allclose(shared.numpy(), want, rtol=1e-12)
    # the authors' form keeps nn.MSELoss (mean over N c) and the unsquared whole-batch norm
    loss, _, _ = loss_and_grads(W, V, X, Y, Jt, sobolev=beta, sobolev_form="norm")
    mse = ((forward(W, V, X) - Y) ** 2).mean((1, 2))
    np.testing.assert_allclose(loss.numpy(), (mse + beta.view(2) * (jacobians(W, V, X) - Jt)
                                              .flatten(1).norm(dim=1)).numpy(), rtol=1e-12)


# ---- the engine --------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(l1=1e-3), dict(l2=1e-2), dict(nuclear=1e-2),
                                dict(sobolev=1e-2), dict(sobolev=1e-1, sobolev_form="squared"),
                                dict(optimizer="adamw", weight_decay=0.1),
                                dict(optimizer="sgd", lr=0.05, l2=1e-2, penalty_form="squared")])
def test_engine_matches_torch_optim(kw):
    """The engine equals an nn-style loop: torch.optim on MSE + autograd penalties (+ the Sobolev
    term through the torch.func Jacobian with a double backward), float64."""
    cfg = _small(steps=12, log_every=1, **kw)
    data = make_teacher_student_data(cfg)
    res = run_teacher_student_batch([data], [[cfg]], dtype=D64)
    W, V = (t.clone().requires_grad_() for t in init_student(cfg, D64))
    Opt = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    opt = Opt[cfg.optimizer]([W, V], lr=cfg.lr, weight_decay=cfg.weight_decay)
    f = lambda w, v, x: v @ torch.relu(w @ x)  # noqa: E731
    one = lambda v: torch.tensor([float(v)], dtype=D64)  # noqa: E731
    losses = []
    for t in range(cfg.steps + 1):
        pred = torch.relu(data.X_train @ W.T) @ V.T
        mse = torch.nn.functional.mse_loss(pred, data.Y_train)
        losses.append(float(mse.detach()))
        if t == cfg.steps:
            break
        # the paper's Sobolev objective (squared): (1/N) sum_i |f(x_i) - y_i|^2, not the MSE
        fit = mse if cfg.sobolev_form == "norm" else ((pred - data.Y_train) ** 2).sum(1).mean()
        loss = fit + sum(penalty_value(P[None], one(cfg.l1), one(cfg.l2), one(cfg.nuclear),
                                       cfg.penalty_form).sum() for P in (W, V))
        if cfg.sobolev:
            J = vmap(jacrev(f, argnums=2), in_dims=(None, None, 0))(W, V, data.X_train)
            D = J - data.J_train
            loss = loss + cfg.sobolev * (D.norm() if cfg.sobolev_form == "norm"
                                         else (D ** 2).sum() / len(D))
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(res.metrics["train_mse"][:, 0], losses, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.final[0], torch.cat([W.flatten(), V.flatten()]).detach(),
                               rtol=1e-9, atol=1e-12)


def test_panel_member_equals_its_solo_run():
    """Batched member k equals config k trained alone (float32 and float64)."""
    cfgs = [_small(lr=1e-2, l1=1e-3, seed=0), _small(lr=3e-3, l2=1e-2, seed=1),
            _small(lr=1e-2, sobolev=0.0, seed=2, weight_decay=0.5), _small(lr=5e-3, seed=3)]
    data = make_teacher_student_data(cfgs[0])
    for dtype, tol in ((D64, 1e-10), (torch.float32, 1e-4)):
        panel = run_teacher_student_batch([data], [cfgs], dtype=dtype)
        for k, cfg in enumerate(cfgs):
            solo = run_teacher_student_batch([data], [[cfg]], dtype=dtype)
            for name in ("train_mse", "test_mse", "test_jac_error", "l1_norm", "nuclear_norm"):
                np.testing.assert_allclose(panel.metrics[name][:, k], solo.metrics[name][:, 0],
                                           rtol=tol, atol=tol * 1e-2, err_msg=name)
            np.testing.assert_allclose(panel.final[k], solo.final[0], rtol=tol, atol=tol * 1e-2)


def test_panels_across_data_sets_and_chunks():
    a, b = _small(data_seed=0), _small(data_seed=1, l1=1e-3, sobolev=1e-2)
    b = _small(data_seed=1, l1=1e-3)
    da, db = make_teacher_student_data(a), make_teacher_student_data(b)
    both = run_teacher_student_batch([da, db], [[a], [b]], dtype=D64)
    chunked = run_teacher_student_batch([da, db], [[a], [b]], max_members=1, dtype=D64)
    for name in ("train_mse", "test_mse", "l2_norm"):
        np.testing.assert_allclose(both.metrics[name], chunked.metrics[name], rtol=1e-10)


def test_divergent_member_is_isolated():
    ok, bad = _small(optimizer="sgd", lr=0.01), _small(optimizer="sgd", lr=1e6, seed=1)
    data = make_teacher_student_data(ok)
    res = run_teacher_student_batch([data], [[ok, bad]])
    assert np.isfinite(res.metrics["train_mse"][:, 0]).all()
    assert np.isnan(res.metrics["train_mse"][-1, 1]) and np.isnan(res.final[1]).all()


def test_errors_are_relative_to_step_zero():
    cfg = _small()
    res = run_teacher_student_batch([make_teacher_student_data(cfg)], [[cfg]])
    m = res.metrics
    assert m["train_error"][0, 0] == m["test_error"][0, 0] == 1.0
    np.testing.assert_allclose(m["test_error"][:, 0], m["test_mse"][:, 0] / m["test_mse"][0, 0])


# ---- config and CLI ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,option", [(dict(hidden=0), "hidden"), (dict(lr=0.0), "lr"),
                                       (dict(teacher_sparsity=1.0), "teacher-sparsity"),
                                       (dict(teacher_rank=200), "teacher-rank"),
                                       (dict(sobolev=-1.0), "sobolev"),
                                       (dict(sobolev_form="cubed"), "sobolev-form"),
                                       (dict(optimizer="lbfgs"), "optimizer")])
def test_config_errors(kw, option):
    with pytest.raises(ConfigError, match=f"--{option}"):
        TeacherStudentConfig(**kw)


def test_cli_bad_input_exits_2(tmp_path):
    r = cli("run", "teacher-student", "--teacher-rank", "101", "--out", tmp_path / "r", "--quiet")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "--teacher-rank" in r.stderr


def test_cli_run_writes_tables(tmp_path):
    out = tmp_path / "ts"
    r = cli("run", "teacher-student", "--input-dim", "6", "--hidden", "12", "--train-size", "8",
            "--test-size", "20", "--steps", "40", "--lr", "0.01", "--l1", "0,1e-3",
            "--sobolev", "0,1e-2", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    runs = groklab.load(out).runs
    curves = groklab.load(out).curves
    assert len(runs) == 4 and (runs.status == "done").all()
    for col in ("t1", "t2", "t2_best", "best_test_mse", "final_train_mse", "final_test_mse",
                "final_test_jac_error", "final_l0_norm", "final_nuclear_norm", "initial_test_mse"):
        assert col in runs, col
    for col in ("train_mse", "test_mse", "train_jac_error", "test_jac_error", "l0_norm",
                "l1_norm", "l2_norm", "nuclear_norm", "erank_W"):
        assert col in curves, col


# ---- the paper's claims at a small pinned size -------------------------------------------------
#: d = 20, h = 100, N = 20 train / 200 test points, lr 5.5e-3: memorized in ~60 steps, and the
#: penalized students grok within 4000 steps (about a second per panel)
SCI = dict(input_dim=20, hidden=100, outputs=2, train_size=20, test_size=200, steps=4000,
           log_every=10, log_dense_until=20, lr=5.5e-3)


@pytest.fixture(scope="module")
def penalty_runs():
    from groklab.driver import execute
    cfgs = [TeacherStudentConfig(**SCI, l1=b) for b in (0.0, 1e-3, 1e-2)]
    return execute(cfgs)  # the family's default detection


@pytest.mark.numerics
def test_memorizes_then_groks_with_l1(penalty_runs):
    runs, res = penalty_runs.runs.set_index("l1"), penalty_runs
    r = runs.loc[1e-3]
    c = res.curve(r.run_id)
    assert r.t1_rule == "threshold" and r.t2_rule == "threshold"
    assert r.t2 > 3 * r.t1 and r.delta_t > 0
    at_t1 = c[c.step == r.t1].iloc[0]
    # memorized, not generalized: train MSE far below test MSE, test near its plateau
    assert at_t1.train_mse < 1e-2 * at_t1.test_mse
    assert at_t1.test_mse > 0.3 * c.test_mse.iloc[0]
    # later the test MSE drops by more than a decade below that plateau, and stays down
    assert c.test_mse.iloc[-1] < 0.1 * at_t1.test_mse
    assert c.train_mse.iloc[-1] < 1e-2 * c.test_mse.iloc[-1] or c.train_mse.iloc[-1] < 1e-3
    assert r.t2_best >= r.t2  # the authors' best-value t2 comes no earlier than the threshold


@pytest.mark.numerics
def test_no_penalty_no_grokking_and_larger_beta_groks_sooner(penalty_runs):
    runs = penalty_runs.runs.set_index("l1")
    assert pd.notna(runs.loc[0.0].t1)
    assert pd.isna(runs.loc[0.0].t2)  # memorized, never generalized within the horizon
    assert runs.loc[0.0].final_test_mse > 0.3 * runs.loc[0.0].initial_test_mse
    assert runs.loc[1e-2].t2 < runs.loc[1e-3].t2  # Delta t shrinks as alpha*beta grows
    # l1 shrinks the weights: the penalized student ends far sparser (l1 norm) than the plain one
    assert runs.loc[1e-3].final_l1_norm < 0.5 * runs.loc[0.0].final_l1_norm


@pytest.mark.numerics
def test_sobolev_accelerates_generalization():
    """Sobolev training (paper Fig. 11): a larger beta generalizes sooner and better; the
    Jacobian error falls with it."""
    from groklab.driver import execute
    res = execute([TeacherStudentConfig(**SCI, sobolev=b) for b in (1e-3, 1e-1)])
    runs = res.runs.set_index("sobolev")
    lo, hi = runs.loc[1e-3], runs.loc[1e-1]
    assert pd.notna(hi.t2) and (pd.isna(lo.t2) or hi.t2 < lo.t2)
    assert hi.final_test_mse < lo.final_test_mse
    assert hi.final_test_jac_error < lo.final_test_jac_error
    assert hi.final_test_mse < 0.5 * hi.target_mse_zero  # beats predicting 0 by a factor 2


def test_chunks_in_worker_threads_give_the_same_numbers():
    cfgs = [_small(lr=1e-2 * (k + 1), l1=1e-3, seed=k) for k in range(5)]
    data = make_teacher_student_data(cfgs[0])
    one = run_teacher_student_batch([data], [cfgs], max_members=2, workers=1)
    two = run_teacher_student_batch([data], [cfgs], max_members=2, workers=2)
    for name in ("train_mse", "test_mse", "l1_norm"):
        np.testing.assert_array_equal(one.metrics[name], two.metrics[name])
    np.testing.assert_array_equal(one.final, two.final)


def test_nuclear_student_between_the_mean_and_the_best_affine_baseline():
    """What "generalizing" is at the tests' size, read against the baselines (pinned: data seeds
    0 and 1, dense and rank-2 teachers, nuclear 3e-3, 4000 steps): the student's best test MSE
    beats predicting the train mean, yet stays above the best affine map of the test inputs
    (0.15-0.23 of the predict-0 MSE here against the student's 0.53-0.70).  Over data seeds 0-3
    the student beat the mean in 7 of 8 runs (not seed 3's rank-2 teacher) and never reached the
    best affine map; the rank-2 teacher was learned only slightly better than the dense one
    (0.77-0.97x its relative MSE), so no test claims that here (docs/families/teacher-student.md
    #measured-behaviour)."""
    from groklab.driver import execute
    cfgs = [TeacherStudentConfig(**SCI, nuclear=3e-3, data_seed=s, teacher_rank=r)
            for s in (0, 1) for r in (0, 2)]
    runs = execute(cfgs).runs
    assert (runs.best_test_mse < runs.mean_baseline_mse).all()
    assert (runs.best_test_mse > runs.best_affine_mse).all()
    assert (runs.best_test_mse < 0.75 * runs.target_mse_zero).all()


def test_baselines_closed_form():
    """One ReLU unit y = relu(w.x), |w| = sigma: E y^2 = sigma^2/2, E y = sigma/sqrt(2 pi), and the
    best affine predictor (z/2 + E|z|/2) leaves Var(|z|)/4 = sigma^2 (1 - 2/pi)/4.  Relative to
    predicting 0: the mean baseline leaves 1 - 1/pi, the best affine one (1 - 2/pi)/2.  With
    20 000 train and test points (d = 5) both affine fits are at their population value."""
    cfg = TeacherStudentConfig(input_dim=5, hidden=1, outputs=1, train_size=20_000,
                               test_size=20_000, data_seed=4)
    data = make_teacher_student_data(cfg)
    b = baselines(data)
    zero = float((data.Y_test ** 2).mean())
    assert b["mean_baseline_mse"] / zero == pytest.approx(1 - 1 / math.pi, abs=0.02)
    for k in ("affine_baseline_mse", "best_affine_mse"):
        assert b[k] / zero == pytest.approx((1 - 2 / math.pi) / 2, abs=0.01), k
    assert b["best_affine_mse"] <= b["affine_baseline_mse"]  # fitted on the test set itself
    # an exactly affine target is fitted exactly
    data.Y_train = data.X_train @ torch.ones(5, 1, dtype=data.X_train.dtype) + 2.0
    data.Y_test = data.X_test @ torch.ones(5, 1, dtype=data.X_test.dtype) + 2.0
    b = baselines(data)
    assert b["affine_baseline_mse"] < 1e-20 and b["best_affine_mse"] < 1e-20
    assert b["mean_baseline_mse"] == pytest.approx(5.0, rel=0.03)  # Var(sum of 5 N(0, 1))


@pytest.mark.parametrize("form", [None, "norm", "squared"])
def test_shared_data_fast_path_matches_float64_reference(form):
    """The CPU shared-data step (one GEMM over the panel per big product, oneDNN float32 where
    available, Sobolev via the mask product) against the plain batched float64 loss_and_grads at
    the paper's shapes (h = 500, d = 100, n = 100, c = 2)."""
    from groklab.families.teacher_student.model import loss_and_grads, shared_loss_and_grads
    g = torch.Generator().manual_seed(3)
    R, h, d, n, c = 3, 500, 100, 100, 2
    W = torch.randn(R, h, d, generator=g, dtype=D64) / d ** 0.5
    V = torch.randn(R, c, h, generator=g, dtype=D64) / h ** 0.5
    X = torch.randn(n, d, generator=g, dtype=D64)
    Y = torch.randn(1, n, c, generator=g, dtype=D64)
    J = torch.randn(1, n, c, d, generator=g, dtype=D64) * 0.1
    sob = None if form is None else torch.tensor([1e-3, 1e-2, 1e-1], dtype=D64).view(R, 1, 1)
    ref = loss_and_grads(W, V, X, Y, J, sobolev=sob, sobolev_form=form or "norm")
    f32 = lambda t: t.to(torch.float32)  # noqa: E731
    got = shared_loss_and_grads(f32(W), f32(V), f32(X), f32(Y.transpose(1, 2)).contiguous(),
                                f32(J), sobolev=None if sob is None else f32(sob),
                                sobolev_form=form or "norm")
    for a, b in zip(got, ref):
        rel = float((a.double() - b).norm() / b.norm())
        assert rel < 1e-5, rel
