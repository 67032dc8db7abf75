"""Matrix completion / sensing (docs/families/matrix.md): data, engine numerics, divergence, CLI errors, and the
paper's claims at small scale (10 x 10, rank 2).

Expectations come from closed forms (least squares, ridge fixed points, projector identities, a
plain numpy re-implementation of each update, autograd for the chain rule) or from the paper's
qualitative claims; no number is copied from a run's output.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings, strategies as st

import groklab
from groklab.fields import ConfigError
from groklab.detect import Detection
from groklab.families.matrix.config import MatrixCompletionConfig, MatrixSensingConfig
from groklab.families.matrix.engine import _Fit, chain_grads, nuclear_penalty
from groklab.penalties import Nuclear
from groklab.families.matrix.data import (initial_factors, lr_bound, make_completion_data,
                                          make_sensing_data)

from conftest import assert_png, cli

DT = torch.float64
MC, MS = "matrix-completion", "matrix-sensing"


def small_completion(**kw):
    base = dict(rows=6, cols=5, rank=2, observed=18)
    base.update(kw)
    return MatrixCompletionConfig(**base)


def small_sensing(**kw):
    base = dict(rows=4, cols=5, rank=2, measurements=15)
    base.update(kw)
    return MatrixSensingConfig(**base)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def test_ground_truth_rank_norm_and_seeding():
    a = make_completion_data(MatrixCompletionConfig(rows=10, cols=8, rank=3, seed=4))
    s = torch.linalg.svdvals(a.A_star)
    assert s[2] > 1e-3 * s[0] and s[3] < 1e-12 * s[0]  # rank exactly r
    assert float(a.A_star.norm()) == pytest.approx(math.sqrt(80), rel=1e-12)
    same = make_completion_data(MatrixCompletionConfig(rows=10, cols=8, rank=3, seed=4,
                                                       observed=30, tau=1.0))
    assert torch.equal(a.A_star, same.A_star)  # A* does not depend on N or tau
    other = make_completion_data(MatrixCompletionConfig(rows=10, cols=8, rank=3, seed=5))
    assert not torch.allclose(a.A_star, other.A_star)
    sens = make_sensing_data(MatrixSensingConfig(rows=10, cols=8, rank=3, seed=4))
    assert torch.equal(a.A_star, sens.A_star)  # same seed, same matrix, for both problems


def test_omega_uniform_nested_and_mask():
    d70 = make_completion_data(MatrixCompletionConfig(observed=70))
    d80 = make_completion_data(MatrixCompletionConfig(observed=80))
    assert len(set(d80.omega.tolist())) == 80 and float(d80.mask.sum()) == 80
    assert set(d70.omega.tolist()) <= set(d80.omega.tolist())  # tau = 0: nested in N
    assert torch.equal(d80.y, d80.A_star.reshape(-1)[d80.omega])
    assert torch.equal(d80.A_ls, d80.mask * d80.A_star)  # min-norm least squares = P_Omega(A*)


def test_leverage_matches_projector_formula():
    d = make_completion_data(MatrixCompletionConfig(rows=9, cols=7, rank=3, observed=30, seed=2))
    A = d.A_star
    # projectors onto the column / row spaces of A*, without an SVD: A A^+ and A^+ A
    Pu, Pv = A @ torch.linalg.pinv(A), torch.linalg.pinv(A) @ A
    mu, nu = (9 / 3) * torch.diagonal(Pu), (7 / 3) * torch.diagonal(Pv)
    torch.testing.assert_close(d.leverage, mu[:, None] + nu[None, :], rtol=1e-9, atol=1e-9)
    assert float(mu.sum()) == pytest.approx(9.0) and float(nu.sum()) == pytest.approx(7.0)


@pytest.mark.parametrize("tau", [0.5, 1.0])
def test_tau_takes_the_largest_leverage_first(tau):
    cfg = MatrixCompletionConfig(observed=40, tau=tau, seed=3)
    d = make_completion_data(cfg)
    k = int(math.floor(tau * 40))
    assert d.n_selected == k and len(set(d.omega.tolist())) == 40
    lev = d.leverage.reshape(-1)
    chosen = lev[d.omega[:k]]
    others = lev[[i for i in range(100) if i not in set(d.omega[:k].tolist())]]
    assert float(chosen.min()) >= float(others.max())
    base = make_completion_data(MatrixCompletionConfig(observed=40, seed=3))
    assert float(lev[d.omega].mean()) > float(lev[base.omega].mean())


@pytest.mark.parametrize("kind", ["gaussian", "rank-one"])
def test_sensing_measurements(kind):
    cfg = MatrixSensingConfig(rows=6, cols=5, rank=2, measurements=400, measurement=kind, seed=1)
    d = make_sensing_data(cfg)
    torch.testing.assert_close(d.y, d.X @ d.A_star.reshape(-1))
    # E |X_i|_F^2 = n1 n2 / N for both designs
    assert float((d.X ** 2).sum(1).mean()) * 400 / 30 == pytest.approx(1.0, rel=0.15)
    ranks = torch.linalg.matrix_rank(d.X.reshape(400, 6, 5))
    assert (ranks == 1).all() if kind == "rank-one" else (ranks == 5).all()
    assert d.lambda_max == pytest.approx(float(torch.linalg.eigvalsh(d.X.T @ d.X)[-1]), rel=1e-10)
    # overdetermined (N >= n1 n2): the least-squares fit is A* itself
    assert float((d.A_ls - d.A_star).norm()) < 1e-9


# ---------------------------------------------------------------------------------------------
# configs and the stability bound
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,option", [
    (dict(rank=11), "--rank"), (dict(observed=101), "--observed"), (dict(tau=1.5), "--tau"),
    (dict(tau=-0.1), "--tau"), (dict(nuclear=-1e-3), "--nuclear"), (dict(l2=-1.0), "--l2"),
    (dict(lr=0.0), "--lr"), (dict(depth=2, method="projected"), "--method"),
    (dict(depth=2, init="least-squares"), "--init"), (dict(method="ista"), "--method"),
])
def test_config_validation(kw, option):
    with pytest.raises(ConfigError) as e:
        MatrixCompletionConfig(**kw)
    assert str(e.value).startswith(option) and "\n" not in str(e.value)


def test_lr_bound_is_refused_with_the_bound():
    with pytest.raises(ConfigError, match=r"2/\(1 \+ l2\) = 1\.9802"):
        groklab.run(problem=MC, lr=1.99, l2=0.01, steps=1)
    d = make_sensing_data(MatrixSensingConfig())
    bound = 2.0 / d.lambda_max
    with pytest.raises(ConfigError, match="lambda_max"):
        groklab.run(problem=MS, lr=1.01 * bound, steps=1)
    groklab.run(problem=MS, lr=0.99 * bound, steps=1)  # just below: accepted


# ---------------------------------------------------------------------------------------------
# engine numerics against a plain numpy re-implementation of every update
# ---------------------------------------------------------------------------------------------
def numpy_run(cfg, data, steps):
    A = initial_factors(cfg, data)[0].numpy().copy()
    As = data.A_star.numpy()
    if data.kind == "completion":
        M = data.mask.numpy()
        grad = lambda A: M * (A - As)  # noqa: E731

        def project(B):
            return np.where(M == 1, As, B)
    else:
        X, y = data.X.numpy(), data.y.numpy()
        grad = lambda A: (X.T @ (X @ A.ravel() - y)).reshape(A.shape)  # noqa: E731
        Xp = np.linalg.pinv(X)

        def project(B):
            return B - (Xp @ (X @ B.ravel() - y)).reshape(B.shape)
    lr, nuc = cfg.lr, cfg.nuclear

    def polar(A):
        U, s, Vt = np.linalg.svd(A, full_matrices=False)
        return (U * (s > cfg.nuclear_rank_tol * s[0])) @ Vt

    for _ in range(steps):
        pen = cfg.l2 * A + cfg.l1 * np.sign(A)
        if cfg.method == "subgradient":
            A = A - lr * (grad(A) + pen + nuc * polar(A))
        elif cfg.method == "svt":
            U, s, Vt = np.linalg.svd(A - lr * (grad(A) + pen), full_matrices=False)
            A = (U * np.maximum(s - lr * nuc, 0)) @ Vt
        else:
            A = project(A - lr * (pen + nuc * polar(A)))
    return A


def kernel_available() -> bool:
    from groklab.families.matrix import kernel as matrix_kernel
    return matrix_kernel.available()


BACKENDS = ["torch", pytest.param("numba", marks=pytest.mark.skipif(
    not kernel_available(), reason="numba unavailable: no compiled kernel"))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("problem", [MC, MS])
@pytest.mark.parametrize("method", ["subgradient", "svt", "projected"])
def test_engine_matches_numpy_reference(problem, method, backend, monkeypatch):
    monkeypatch.setenv("GROKLAB_MATRIX_KERNEL", backend)
    make = small_completion if problem == MC else small_sensing
    data_fn = make_completion_data if problem == MC else make_sensing_data
    bound = min(lr_bound(data_fn(make(seed=s)), 0.1) for s in (0, 1))
    grid = dict(rows=make().rows, cols=make().cols, rank=2, method=method, seed=[0, 1],
                lr=[0.3 * bound, 0.9 * bound], nuclear=[0.0, 0.05], l1=[0.0, 0.01], l2=[0.0, 0.1],
                nuclear_rank_tol=[0.0, 0.3], init="random", init_scale=3.0, steps=4, log_every=2,
                log_dense_until=2)
    grid.update(dict(observed=18) if problem == MC else dict(measurements=15))
    res = groklab.sweep(grid, problem=problem)
    assert len(res.runs) == 2 ** 6 and (res.runs.status == "done").all()
    # two tensor programs (nuclear = 0 runs need no SVD), each D = 2 data sets x 16 runs
    assert (res.runs.batch_runs == 2 ** 5).all()
    cls = MatrixCompletionConfig if problem == MC else MatrixSensingConfig
    for _, r in res.runs.iterrows():
        cfg = cls(**{f.name: getattr(r[f.name], "item", lambda: r[f.name])()
                     for f in dataclasses.fields(cls)})
        expect = numpy_run(cfg, data_fn(cfg), 4)
        np.testing.assert_allclose(np.asarray(r.final_A).reshape(expect.shape), expect,
                                   rtol=1e-10, atol=1e-11)


def test_projected_stays_on_the_constraint():
    for cfg in (small_completion(method="projected", steps=200, log_every=50),
                small_sensing(method="projected", lr=0.1, steps=200, log_every=50)):
        res = groklab.run(cfg)
        c = res.curves
        assert (c[c.step >= 1].train_error < 1e-12).all()  # X vec A = y from step 1 on


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 3.0))
def test_fused_nuclear_equals_penalty_object(seed, t):
    gen = torch.Generator().manual_seed(seed)
    A = torch.randn(2, 3, 5, 4, generator=gen, dtype=DT)
    beta = torch.rand(2, 3, 1, 1, generator=gen, dtype=DT)
    R = torch.zeros_like(A)
    nuclear_penalty(None).add_subgradient_(R, A, beta)
    torch.testing.assert_close(R, beta * Nuclear().subgradient(A), rtol=1e-10, atol=1e-12)
    thr = beta * t
    torch.testing.assert_close(nuclear_penalty(None).prox(A, thr), Nuclear().prox(A, thr),
                               rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# deep factorization: the matrix chain rule
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("problem", [MC, MS])
def test_chain_rule_matches_autograd(L, problem):
    cfg = (small_completion if problem == MC else small_sensing)(depth=L, width=7, init="random")
    data = (make_completion_data if problem == MC else make_sensing_data)(cfg)
    fit = _Fit([data], "cpu")
    gen = torch.Generator().manual_seed(L)
    F = [torch.randn(1, 3, *f.shape, generator=gen, dtype=DT) for f in initial_factors(cfg, data)]
    G = torch.empty(1, 3, cfg.rows, cfg.cols, dtype=DT)
    P, grads = chain_grads(F, fit, G)
    leaves = [f.clone().requires_grad_() for f in F]
    prod = leaves[0]
    for f in leaves[1:]:
        prod = prod @ f
    if problem == MC:
        loss = 0.5 * ((fit.M * (prod - fit.A_star)) ** 2).sum()
    else:
        res = prod.reshape(1, 3, -1) @ data.X.T - data.y
        loss = 0.5 * (res ** 2).sum()
    auto = torch.autograd.grad(loss, leaves)
    torch.testing.assert_close(P, prod.detach())
    for g, a in zip(grads, auto):
        torch.testing.assert_close(g, a, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", ["subgradient", "svt"])
def test_deep_step_with_per_factor_penalties(method):
    cfg = small_completion(depth=3, width=4, init="random", init_scale=2.0, lr=0.05,
                           nuclear=0.03, l1=0.01, l2=0.02, method=method, steps=2, log_every=1)
    data = make_completion_data(cfg)
    F = [f.clone() for f in initial_factors(cfg, data)]
    for _ in range(2):
        leaves = [f.clone().requires_grad_() for f in F]
        P = leaves[0] @ leaves[1] @ leaves[2]
        loss = 0.5 * ((data.mask * (P - data.A_star)) ** 2).sum()
        grads = torch.autograd.grad(loss, leaves)
        new = []
        for f, g in zip(F, grads):
            g = g + cfg.l2 * f + cfg.l1 * torch.sign(f)
            if method == "subgradient":
                new.append(f - cfg.lr * (g + cfg.nuclear * Nuclear().subgradient(f)))
            else:
                new.append(Nuclear().prox(f - cfg.lr * g, cfg.lr * cfg.nuclear))
        F = new
    res = groklab.run(cfg)
    np.testing.assert_allclose(np.asarray(res.runs.final_A.iloc[0]),
                               (F[0] @ F[1] @ F[2]).reshape(-1).numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# divergence: marked, isolated, the sweep goes on
# ---------------------------------------------------------------------------------------------
def _curve(res, run_id):
    return res.curve(run_id).drop(columns="run_id").reset_index(drop=True)


def test_diverging_run_is_marked_and_isolated():
    # depth 2 from the identity: the curvature grows like |A|, so lr = 1.5 blows up, 0.01 does not
    grid = dict(depth=2, init="identity", init_scale=1.0, nuclear=1e-3, steps=300, log_every=50)
    res = groklab.sweep(dict(grid, lr=[0.01, 1.5]), problem=MC)
    st_ = dict(zip(res.runs.lr, res.runs.status))
    assert st_ == {0.01: "done", 1.5: "diverged"}
    bad = res.runs[res.runs.lr == 1.5].iloc[0]
    assert np.isnan(bad.final_A).all() and pd.isna(bad.t2)
    assert res.curve(bad.run_id).test_error.isna().iloc[-1]
    alone = groklab.run(problem=MC, **dict(grid, lr=0.01))
    good = res.runs[res.runs.lr == 0.01].run_id.iloc[0]
    pd.testing.assert_frame_equal(_curve(res, good), _curve(alone, good))


def test_svd_failure_marks_only_that_run(monkeypatch):
    real = torch.linalg.svd

    def flaky(a, *args, **kw):  # LAPACK non-convergence on every matrix with a large norm
        if bool((torch.linalg.matrix_norm(a) > 50).any()):
            raise torch.linalg.LinAlgError("fake: did not converge")
        return real(a, *args, **kw)

    monkeypatch.setattr(torch.linalg, "svd", flaky)
    monkeypatch.setenv("GROKLAB_MATRIX_KERNEL", "torch")  # the compiled kernel has its own SVD
    res = groklab.sweep(dict(init_scale=[1e-6, 100.0], lr=0.5, nuclear=1e-3, steps=50,
                             log_every=10, log_dense_until=10), problem=MC)
    st_ = dict(zip(res.runs.init_scale, res.runs.status))
    assert st_ == {1e-6: "done", 100.0: "diverged"}


@pytest.mark.skipif(not kernel_available(), reason="numba unavailable: no compiled kernel")
@pytest.mark.parametrize("problem,shape", [(MC, (7, 5)), (MC, (4, 9)), (MS, (5, 4))])
@pytest.mark.parametrize("method", ["subgradient", "svt", "projected"])
def test_compiled_kernel_matches_torch_engine(problem, shape, method, monkeypatch):
    """Jacobi (lockstep lanes, warm-started) and LAPACK agree on 300 steps, including n1 > n2
    (transposed inside the kernel), D = 2 data sets and B = 12 (padded to lanes of 8)."""
    n1, n2 = shape
    grid = dict(rows=n1, cols=n2, rank=2, method=method, seed=[3, 4], lr=[0.1, 0.2],
                nuclear=[1e-3, 3e-2, 0.0], l1=[0.0, 1e-3], steps=300, log_every=100)
    grid.update(dict(observed=n1 * n2 // 2) if problem == MC else dict(measurements=12))
    out = {}
    for backend in ("torch", "numba"):
        monkeypatch.setenv("GROKLAB_MATRIX_KERNEL", backend)
        out[backend] = groklab.sweep(grid, problem=problem)
    a, b = (out[k].runs.set_index("run_id").sort_index() for k in ("torch", "numba"))
    assert (a.status == "done").all() and (b.status == "done").all()
    np.testing.assert_allclose(np.stack(a.final_A), np.stack(b.final_A), rtol=1e-9, atol=1e-11)
    ca, cb = (out[k].curves.sort_values(["run_id", "step"]) for k in ("torch", "numba"))
    np.testing.assert_allclose(ca.test_error, cb.test_error, rtol=1e-8, atol=1e-12)


@pytest.mark.skipif(not kernel_available(), reason="numba unavailable: no compiled kernel")
def test_compiled_kernel_freezes_a_non_finite_run():
    from groklab.families.matrix.kernel import KernelState
    data = make_completion_data(MatrixCompletionConfig())
    fit = _Fit([data], "cpu")
    A = torch.zeros(1, 3, 10, 10, dtype=DT)
    A[0, 1, 2, 3] = float("nan")
    cols = {k: torch.full((1, 3), v, dtype=DT) for k, v in
            (("lr", 1.0), ("nuclear", 1e-3), ("l1", 0.0), ("l2", 0.0), ("nuclear_rank_tol", 0.0))}
    ks = KernelState(fit, A, cols, "subgradient")
    ks.advance(5)
    ks.store(A)
    assert ks.dead().tolist() == [[False, True, False]]
    assert torch.isfinite(A).all() and (A[0, 1] == 0).all()  # frozen at 0, the others go on
    assert (A[0, 0] * data.mask - data.A_star * data.mask).abs().max() < 1e-2


# ---------------------------------------------------------------------------------------------
# the paper's claims at small scale (10 x 10, rank 2, seed 0)
# ---------------------------------------------------------------------------------------------
def test_no_penalty_or_l2_memorizes_and_never_generalizes():
    d = make_completion_data(MatrixCompletionConfig())
    unseen = float(((1 - d.mask) * d.A_star).norm() / d.A_star.norm())  # |P_Omega^c A*| / |A*|
    res = groklab.sweep(dict(lr=1.0, nuclear=0.0, l2=[0.0, 1e-4], steps=3000, log_every=100),
                        problem=MC)
    for _, r in res.runs.iterrows():
        c = res.curve(r.run_id)
        c = c[c.step >= 1]
        # ridge fixed point on Omega: A_ij = A*_ij / (1 + l2), so the train error is l2 / (1 + l2)
        assert r.final_train_error == pytest.approx(r.l2 / (1 + r.l2), abs=1e-12)
        assert np.allclose(c.test_error, unseen, rtol=5e-4)  # 3 digits, at every logged step
        assert r.ls_test_error == pytest.approx(unseen, rel=1e-12)
        assert pd.isna(r.t2) and r.t2_rule == "never" and r.t1 <= 5
        assert (c.unobserved_error > 0.999).all()  # the unobserved entries never move


def test_nuclear_penalty_groks():
    res = groklab.run(problem=MC, lr=1.0, nuclear=1e-3, steps=15_000, log_every=50)
    r = res.runs.iloc[0]
    c = res.curve(r.run_id).set_index("step")
    assert r.t1 <= 20  # memorizes within tens of steps
    assert c.test_error[100] > 0.9 * r.ls_test_error  # ... while the test error sits at LS
    assert pd.notna(r.t2) and r.t2 > 50 * r.t1  # ... for a long time, then generalizes
    assert r.final_test_error < 1e-3 and r.final_numerical_rank == 2
    assert r.final_nuclear_norm == pytest.approx(r.a_star_nuclear_norm, rel=5e-3)
    # after memorization the fit balances the penalty on Omega: |G| ~ |P_Omega(beta H)|, so the
    # gradient ratio |beta H| / |G| is >= 1 and about sqrt(n1 n2 / N) (H spread evenly)
    mid = c.grad_ratio[(c.index >= 10) & (c.index <= 1000)]
    assert mid.between(1.0, 1.5).all()


def test_delta_t_scales_like_one_over_lr_nuclear():
    det = Detection(test_threshold=1e-2)  # well above the O(lr nuclear) final error of every run
    res = groklab.sweep(dict(lr=1.0, nuclear=[1e-3, 2e-3], steps=14_000, log_every=50),
                        problem=MC, detection=det)
    same = groklab.run(problem=MC, lr=0.5, nuclear=2e-3, steps=14_000, log_every=50, detection=det)
    dt = dict(zip(res.runs.nuclear, res.runs.delta_t.astype(float)))
    assert 1.6 < dt[1e-3] / dt[2e-3] < 2.4  # doubling lr*nuclear roughly halves Delta t
    # only lr*nuclear matters: lr 0.5 with nuclear 2e-3 behaves like lr 1 with nuclear 1e-3
    assert 0.8 < float(same.runs.delta_t.iloc[0]) / dt[1e-3] < 1.25


def test_svt_zeros_the_tail_subgradient_leaves_lr_nuclear():
    lr, beta = 1.0, 1e-3
    res = groklab.sweep(dict(lr=lr, nuclear=beta, method=["svt", "subgradient", "projected"],
                             steps=15_000, log_every=500), problem=MC)
    for _, r in res.runs.iterrows():
        tail = np.asarray(r.final_sigma)[2:]
        assert r.final_test_error < 2e-3
        if r.method == "svt":
            # thresholded to exact zeros; the re-assembled matrix reads them back at rounding level
            assert tail.max() < 1e-13 * r.final_sigma[0]
        else:
            # |sigma - lr beta| bounces: the tail stays at the scale lr*beta, never reaching 0
            assert tail.max() < 3 * lr * beta and tail.max() > 0.3 * lr * beta
            assert (tail > 0).all()


def test_sensing_groks_with_nuclear_and_not_without():
    res = groklab.sweep(dict(lr=0.2, nuclear=[0.0, 3e-3], steps=20_000, log_every=200),
                        problem=MS)
    none = res.runs[res.runs.nuclear == 0].iloc[0]
    nuc = res.runs[res.runs.nuclear > 0].iloc[0]
    # without a penalty gradient descent from ~0 converges to the min-norm least-squares fit
    assert none.final_test_error == pytest.approx(none.ls_test_error, rel=1e-6)
    assert none.final_unobserved_error == pytest.approx(1.0, abs=1e-6)
    assert pd.isna(none.t2)
    assert nuc.final_test_error < 1e-2 and nuc.final_numerical_rank == 2


def test_depth_gives_low_rank_without_penalty_only_from_a_small_init():
    runs = []
    for L, small in ((2, 1e-3), (3, 0.03)):  # product A_0 = small^L I, far below |A*| ~ 1 entries
        res = groklab.sweep(dict(depth=L, init="identity", init_scale=[small, 1.0], lr=0.03,
                                 nuclear=0.0, steps=4000, log_every=100), problem=MC)
        runs.append(res.runs)
    runs = pd.concat(runs)
    for _, r in runs.iterrows():
        assert r.final_train_error < 1e-3  # every run fits the observed entries
        if r.init_scale < 1.0:
            assert r.final_numerical_rank == 2 and r.final_test_error < 1e-3
        else:
            assert r.final_numerical_rank > 2 and r.final_test_error > 0.1


def test_leverage_selection_needs_fewer_entries():
    res = groklab.sweep(dict(lr=1.0, nuclear=1e-3, observed=60, tau=[0.0, 1.0], seed=[0, 1, 2],
                             steps=12_000, log_every=100), problem=MC)
    for seed, g in res.runs.groupby("seed"):
        e = dict(zip(g.tau, g.final_test_error))
        assert e[1.0] < 1e-2 and e[0.0] > 10 * e[1.0]  # 60 entries suffice only when selected


# ---------------------------------------------------------------------------------------------
# CLI: bad input exits 2 with one line; a tiny sweep writes the tables
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,needle", [
    (["--rank", "11"], "--rank"),
    (["--observed", "101"], "--observed"),
    (["--tau", "1.5"], "--tau"),
    (["--lr", "2.5"], "2/(1 + l2) = 2"),
    (["--depth", "2", "--method", "projected"], "--method"),
])
def test_cli_bad_input(tmp_path, args, needle):
    p = cli("run", MC, *args, "--steps", "10", "--out", tmp_path / "r", "--quiet")
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
    assert not (tmp_path / "r").exists()


def test_cli_run_writes_tables(tmp_path):
    out = tmp_path / "mc"
    p = cli("run", MC, "--rows", 6, "--cols", 5, "--rank", 2, "--observed", 20, "--lr", 1.0,
            "--nuclear", "1e-3,2e-3", "--steps", 300, "--log-every", 100, "--out", out, "--quiet")
    assert p.returncode == 0, p.stderr
    runs = groklab.load(out).runs
    curves = groklab.load(out).curves
    assert len(runs) == 2 and set(runs.nuclear) == {1e-3, 2e-3}
    for col in ("final_nuclear_norm", "final_numerical_rank", "final_effective_rank",
                "final_unobserved_error", "a_star_nuclear_norm", "ls_test_error", "pred_delta_t",
                "lr_max", "final_sigma"):
        assert col in runs, col
    for col in ("sigma_0", "sigma_4", "grad_ratio", "nuclear_norm", "effective_rank"):
        assert col in curves, col
    assert "sigma_5" not in curves  # min(6, 5) singular values
    assert (runs.lr_max == 2.0).all()


# ---------------------------------------------------------------------------------------------
# figures: every one draws at a tiny scale
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fig5", "fig14", "fig15", "fig6", "fig29", "fig8", "fig23"])
def test_matrix_figures_draw(name, tmp_path, monkeypatch):
    from groklab.families.matrix import figures as figs
    tiny = {"fig5": {"quick": dict(lr=1.0, nuclear=3e-3, steps=3000)},
            "fig14": {"quick": dict(lr=0.1, nuclear=3e-2, steps=3000)},
            "fig6": {"quick": 1500},
            "fig8": {"quick": dict(lr=1.0, nuclear=3e-3, steps=2000)},
            "fig23": {"quick": dict(lr=1.0, nuclear=3e-3, steps=2000, observed=[50, 70],
                                    tau=[0.0, 1.0])}}
    for k, v in tiny.items():
        monkeypatch.setitem(figs.SCALES, k, {**figs.SCALES[k], **v})
    monkeypatch.setitem(figs.BASE, "log_dense_until", 100)
    png = figs.FIGURES[name].reproduce(tmp_path / name)
    assert png.name == f"{name}.png"
    assert_png(png)
