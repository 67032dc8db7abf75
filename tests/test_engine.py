"""The batched linear engine and the sparse-recovery data, against closed forms.

One step of every method is recomputed independently in numpy (and with torch.autograd); the
long-run behaviour is checked against what convex analysis guarantees: monotone loss for
lr < 2/L, linear convergence to the ridge solution (Thm 3.6) or to the projection of the init on
{X a = y}, exact feasibility of the projected method, and batching invariance (a run's numbers do
not depend on which other runs share its tensor program).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from groklab import family as registry
from groklab.fields import ConfigError
from groklab.families.sparse_recovery.engine import run_sparse_batch
from groklab.families.sparse_recovery.data import initial_point, least_squares, make_data

from conftest import tiny


def np_data(cfg):
    d = make_data(cfg)
    return d, d.X.numpy(), d.y.numpy(), d.a_star.numpy()


def run(cfg_rows, **kw):
    """cfg_rows: list over data sets of lists of configs."""
    datas = [make_data(row[0]) for row in cfg_rows]
    return run_sparse_batch(datas, cfg_rows, **kw)


def soft(a, t):
    return np.sign(a) * np.maximum(np.abs(a) - t, 0.0)


# ---------------------------------------------------------------------------------------------
# one step == the closed-form update
# ---------------------------------------------------------------------------------------------
HYPERS = [dict(lr=0.05, l1=0.01, l2=0.05), dict(lr=0.1, l1=0.0, l2=0.2), dict(lr=0.02, l1=0.3, l2=0.0)]


def _batch(method, **extra):
    return [tiny(method=method, init="random", init_scale=1.0, steps=1, **h, **extra) for h in HYPERS]


def test_subgradient_step_closed_form():
    cfgs = _batch("subgradient")
    data, X, y, _ = np_data(cfgs[0])
    res = run([cfgs], save_iterates=True)
    assert list(res.steps) == [0, 1]
    for j, c in enumerate(cfgs):
        a0 = initial_point(c, data).numpy()
        assert np.all(a0 != 0)
        expect = a0 - c.lr * (X.T @ (X @ a0 - y) + c.l2 * a0 + c.l1 * np.sign(a0))
        np.testing.assert_allclose(res.iterates[0, j], a0, rtol=0, atol=0)
        np.testing.assert_allclose(res.iterates[1, j], expect, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(res.final[j], expect, rtol=1e-12, atol=1e-15)


def test_subgradient_step_equals_autograd():
    cfgs = _batch("subgradient")
    data = make_data(cfgs[0])
    res = run([cfgs])
    for j, c in enumerate(cfgs):
        a = initial_point(c, data).clone().requires_grad_(True)  # no zero coordinate: |.| smooth
        loss = (0.5 * (data.X @ a - data.y).pow(2).sum() + c.l2 / 2 * a.pow(2).sum()
                + c.l1 * a.abs().sum())
        (g,) = torch.autograd.grad(loss, a)
        np.testing.assert_allclose(res.final[j], (a - c.lr * g).detach().numpy(), rtol=1e-12, atol=1e-15)


def test_ista_step_is_soft_threshold_of_gradient_step():
    cfgs = _batch("ista")
    data, X, y, _ = np_data(cfgs[0])
    res = run([cfgs])
    n_zero = 0
    for j, c in enumerate(cfgs):
        a0 = initial_point(c, data).numpy()
        expect = soft(a0 - c.lr * (X.T @ (X @ a0 - y) + c.l2 * a0), c.lr * c.l1)
        np.testing.assert_allclose(res.final[j], expect, rtol=1e-12, atol=1e-15)
        assert np.array_equal(res.final[j] == 0, expect == 0)  # thresholded coordinates are exact 0
        n_zero += int((expect == 0).sum())
    assert n_zero > 0  # the test exercises the threshold


def test_projected_step_closed_form_and_feasible():
    cfgs = [tiny(method="projected", init="random", init_scale=1.0, steps=300, **h) for h in HYPERS]
    data, X, y, _ = np_data(cfgs[0])
    res = run([cfgs], save_iterates=True)
    P = np.linalg.pinv(X)
    for j, c in enumerate(cfgs):
        a0 = initial_point(c, data).numpy()
        z = a0 - c.lr * (c.l1 * np.sign(a0) + c.l2 * a0)
        expect = z - P @ (X @ z - y)  # projection onto {a : X a = y}
        np.testing.assert_allclose(res.iterates[1, j], expect, rtol=1e-10, atol=1e-13)
    # X a = y holds (to round-off) from step 1 on, at every logged step, for every run
    assert res.metrics["train_error"][0].min() > 0.1  # the random init does not fit
    assert res.metrics["train_error"][1:].max() < 1e-12


def test_projected_step_size_bound_is_lr_l2_below_2_not_the_fit_bound():
    """Projected subgradient never uses the fit gradient, so lambda_max(X^T X) does not bound its
    step (the issue's --method projected --measurements 10 --lr 0.2 ran into 'lr < 0.107'); its
    update scales a by (1 - lr l2) before the projection: stable iff lr l2 < 2 (no bound when
    l2 = 0).  Checked both ways: on the config check, and on the dynamics (the engine run
    directly, past the check: just under 2 stays bounded, just over 2 blows up)."""
    runtime = registry.get("sparse-recovery").runtime_module()
    issue = dict(dim=100, sparsity=5, measurements=10)  # the issue's case: bound 0.107
    ok = tiny(method="projected", lr=0.2, l2=0.0, **issue)
    data = make_data(ok)
    fit_bound = 2 / data.lambda_max
    assert ok.lr > fit_bound  # above the subgradient / ISTA bound ...
    runtime.check(ok, data)  # ... and accepted for projected
    with pytest.raises(ConfigError, match="lr"):  # still refused for the fit-gradient methods
        runtime.check(tiny(method="subgradient", lr=0.2, **issue), data)
    runtime.check(tiny(method="projected", lr=0.19, l2=10.0, **issue), data)
    with pytest.raises(ConfigError, match=r"lr \* l2 < 2"):
        runtime.check(tiny(method="projected", lr=0.21, l2=10.0, **issue), data)
    cols = runtime.run_columns(ok, data, runtime.reference(data), np.zeros(ok.dim), {})
    assert cols["lr_max"] == math.inf
    assert runtime.run_columns(tiny(method="projected", l2=4.0, **issue), data,
                               runtime.reference(data), np.zeros(ok.dim), {})["lr_max"] == 0.5
    # the dynamics: lr l2 = 1.9 stays bounded, lr l2 = 2.1 grows like 1.1^t in the null space
    cfgs = [tiny(method="projected", lr=0.2, l1=1e-3, l2=l2, steps=400, init="random",
                 init_scale=1.0, **issue) for l2 in (0.0, 9.5, 10.5)]
    res = run_sparse_batch([data], [cfgs])
    norms = res.metrics["l2_norm"]
    assert np.isfinite(norms).all() and norms[:, :2].max() < 10 * norms[0, :2].max()
    assert norms[-1, 2] > 1e6 * norms[0, 2]
    assert res.metrics["train_error"][1:, :2].max() < 1e-10  # feasible throughout


def test_logged_metrics_match_their_definitions():
    cfgs = [tiny(method="subgradient", l1=0.02, l2=0.01, steps=120, init="random", init_scale=1.0)]
    data, X, y, a_star = np_data(cfgs[0])
    res = run([cfgs], save_iterates=True)
    supp = np.zeros(X.shape[1], bool)
    supp[data.support.numpy()] = True
    c = cfgs[0]
    for k in range(len(res.steps)):
        a = res.iterates[k, 0]
        m = {name: v[k, 0] for name, v in res.metrics.items()}
        r = X @ a - y
        assert m["train_error"] == pytest.approx(np.linalg.norm(r) / np.linalg.norm(y), rel=1e-12)
        assert m["test_error"] == pytest.approx(np.linalg.norm(a - a_star) / np.linalg.norm(a_star), rel=1e-12)
        assert m["l1_norm"] == pytest.approx(np.abs(a).sum(), rel=1e-12)
        assert m["l2_norm"] == pytest.approx(np.linalg.norm(a), rel=1e-12)
        assert m["grad_fit_norm"] == pytest.approx(np.linalg.norm(X.T @ r), rel=1e-10)
        assert m["grad_penalty_norm"] == pytest.approx(
            np.linalg.norm(c.l1 * np.sign(a) + c.l2 * a), rel=1e-12)
        if "nonzeros" in m:
            assert m["nonzeros"] == np.count_nonzero(a)
        if "off_support_l1" in m:
            assert m["off_support_l1"] == pytest.approx(np.abs(a[~supp]).sum(), rel=1e-12, abs=1e-300)
        if "support_recovered" in m:
            assert bool(m["support_recovered"]) == bool(np.abs(a[supp]).min() > np.abs(a[~supp]).max())


# ---------------------------------------------------------------------------------------------
# batching invariance
# ---------------------------------------------------------------------------------------------
def _assert_same_run(res_a, ja, res_b, jb, rtol=1e-10):
    """Same curves to 1e-10 relative.  Values below 1e-12 of the curve's own scale are round-off
    (the projected method's residual sits at ~1e-15 whatever GEMM blocking computed it), so they
    compare absolutely at that scale."""
    assert np.array_equal(res_a.steps, res_b.steps)
    for name in ("train_error", "test_error", "l1_norm", "l2_norm", "grad_fit_norm"):
        a, b = res_a.metrics[name][:, ja], res_b.metrics[name][:, jb]
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12 * np.abs(a).max(), err_msg=name)
    np.testing.assert_allclose(res_a.final[ja], res_b.final[jb], rtol=rtol, atol=1e-14)


@pytest.mark.parametrize("method", ["subgradient", "ista", "projected"])
def test_run_alone_equals_run_inside_a_batch(method):
    base = dict(method=method, steps=600, init="random", init_scale=1.0)
    grid = [tiny(lr=lr, l1=l1, **base) for lr in (0.02, 0.05, 0.1) for l1 in (0.0, 1e-3, 1e-2, 3e-2)]
    target = tiny(lr=0.05, l1=1e-2, l2=0.01, **base)
    batch = grid[:5] + [target] + grid[5:]
    res_batch = run([batch])
    res_alone = run([[target]])
    _assert_same_run(res_alone, 0, res_batch, 5)
    # and the batch is not trivially uniform: different hyper-parameters give different curves
    assert not np.allclose(res_batch.metrics["test_error"][:, 0], res_batch.metrics["test_error"][:, 5])


@pytest.mark.parametrize("method", ["subgradient", "projected"])
def test_different_data_stacked_equals_separate(method):
    base = dict(method=method, steps=400)
    rows = [[tiny(seed=s, lr=0.05, l1=l1, **base) for l1 in (1e-3, 1e-2)] for s in (1, 2, 3)]
    stacked = run(rows)
    for d, row in enumerate(rows):
        alone = run([row])
        for b in range(len(row)):
            _assert_same_run(alone, b, stacked, d * len(row) + b)
    # different seeds really are different problems
    assert not np.allclose(stacked.final[0], stacked.final[2])


# ---------------------------------------------------------------------------------------------
# invariants of gradient descent on the smooth part
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("frac", [0.05, 0.5, 0.95])
def test_loss_monotone_without_penalty(frac):
    """l1 = l2 = 0: GD on a convex quadratic with lr < 2/lambda_max never increases the loss."""
    data = make_data(tiny())
    lr = frac * 2.0 / data.lambda_max
    res = run([[tiny(lr=lr, l1=0.0, l2=0.0, steps=400, init="random", init_scale=1.0)]])
    e = res.metrics["train_error"][:, 0]
    assert e[-1] < e[0]
    # non-increasing up to float round-off of the norm (relative 1e-12)
    assert np.all(np.diff(e) <= 1e-12 * e[:-1] + 1e-15)


def test_objective_monotone_with_l2():
    data, X, y, _ = np_data(tiny())
    l2 = 0.3
    lr = 1.9 / (data.lambda_max + l2)
    res = run([[tiny(lr=lr, l1=0.0, l2=l2, steps=300, init="random", init_scale=1.0)]], save_iterates=True)
    A = res.iterates[:, 0]
    f = 0.5 * ((A @ X.T - y) ** 2).sum(1) + 0.5 * l2 * (A ** 2).sum(1)
    assert np.all(np.diff(f) <= 1e-12 * f[:-1])


def test_ista_objective_monotone():
    """ISTA with lr <= 1/L is a descent method for F = g + l1 |a|_1 (Beck & Teboulle)."""
    data, X, y, _ = np_data(tiny())
    l1 = 0.02
    lr = 1.0 / data.lambda_max
    res = run([[tiny(method="ista", lr=lr, l1=l1, steps=300, init="random", init_scale=1.0)]],
              save_iterates=True)
    A = res.iterates[:, 0]
    F = 0.5 * ((A @ X.T - y) ** 2).sum(1) + l1 * np.abs(A).sum(1)
    assert F[-1] < F[0]
    assert np.all(np.diff(F) <= 1e-12 * F[:-1])


def test_l2_only_converges_linearly_to_ridge():
    """Thm 3.6: |a_t - a_ridge| <= rho^t |a_0 - a_ridge|, rho = max_i |1 - lr (lambda_i + l2)|,
    a_ridge = (X^T X + l2 I)^{-1} X^T y (here N < n, so l2 > 0 is what makes it unique)."""
    data, X, y, _ = np_data(tiny())
    n = X.shape[1]
    assert X.shape[0] < n
    l2 = 0.5
    lam = np.linalg.eigvalsh(X.T @ X)
    lr = 1.5 / (lam[-1] + l2)
    rho = np.abs(1 - lr * (lam + l2)).max()
    ridge = np.linalg.solve(X.T @ X + l2 * np.eye(n), X.T @ y)
    steps = int(math.ceil(math.log(1e-13) / math.log(rho)))
    res = run([[tiny(lr=lr, l1=0.0, l2=l2, steps=steps, init="random", init_scale=1.0)]],
              save_iterates=True)
    a0 = res.iterates[0, 0]
    dist0 = np.linalg.norm(a0 - ridge)
    dist = np.linalg.norm(res.iterates[:, 0] - ridge, axis=1)
    bound = rho ** res.steps * dist0
    assert np.all(dist <= bound * (1 + 1e-9) + 1e-13)
    assert dist[-1] <= 1e-12 * max(1.0, np.linalg.norm(ridge))


def test_unpenalized_limit_is_projection_of_init():
    """l1 = l2 = 0, N < n: GD keeps the null-space component of a_0, so its limit is
    (I - X^+ X) a_0 + X^+ y, reached linearly with rate max over non-zero eigenvalues."""
    data, X, y, _ = np_data(tiny())
    lam = np.linalg.eigvalsh(X.T @ X)
    nz = lam[lam > 1e-10 * lam[-1]]
    lr = 1.0 / lam[-1]
    rho = np.abs(1 - lr * nz).max()
    steps = int(math.ceil(math.log(1e-13) / math.log(rho)))
    res = run([[tiny(lr=lr, l1=0.0, l2=0.0, steps=steps, init="random", init_scale=1.0)]],
              save_iterates=True)
    a0 = res.iterates[0, 0]
    P = np.linalg.pinv(X)
    limit = a0 - P @ (X @ a0 - y)
    dist = np.linalg.norm(res.iterates[:, 0] - limit, axis=1)
    assert np.all(dist <= rho ** res.steps * dist[0] * (1 + 1e-9) + 1e-13)
    assert dist[-1] < 1e-12
    # it memorizes (train error -> 0) without leaving the init's null-space component
    assert res.metrics["train_error"][-1, 0] < 1e-10


def test_least_squares_init_fits_at_step_zero():
    cfg = tiny(init="least-squares", l1=1e-3, steps=5)
    data, X, y, a_star = np_data(cfg)
    res = run([[cfg]], save_iterates=True)
    a_hat = np.linalg.pinv(X) @ y
    np.testing.assert_allclose(res.iterates[0, 0], a_hat, rtol=1e-10, atol=1e-14)
    assert res.metrics["train_error"][0, 0] < 1e-12
    ls_err = np.linalg.norm(a_hat - a_star) / np.linalg.norm(a_star)
    assert res.metrics["test_error"][0, 0] == pytest.approx(ls_err, rel=1e-10)
    assert ls_err > 0.1  # N < n: least squares memorizes without recovering a*
    np.testing.assert_allclose(least_squares(data.X, data.y).numpy(), a_hat, rtol=1e-10, atol=1e-14)


def test_inits():
    c = tiny(init="constant", init_scale=1e-3)
    data = make_data(c)
    assert np.array_equal(initial_point(c, data).numpy(), np.full(c.dim, 1e-3))
    r1 = initial_point(tiny(init="random", init_scale=2.0), data).numpy()
    r2 = initial_point(tiny(init="random", init_scale=4.0), data).numpy()
    np.testing.assert_allclose(r2, 2 * r1, rtol=1e-15)  # scale is a pure multiplier
    assert np.unique(r1).size == r1.size  # random, not constant
    r3 = initial_point(tiny(init="random", init_scale=2.0, seed=2), make_data(tiny(seed=2))).numpy()
    assert not np.allclose(r1, r3)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def test_data_shapes_and_sparse_code():
    cfg = tiny(dim=30, sparsity=4, measurements=12)
    d = make_data(cfg)
    assert d.X.shape == (12, 30) and d.y.shape == (12,) and d.a_star.shape == (30,)
    nz = np.flatnonzero(d.a_star.numpy())
    assert len(nz) == 4
    assert np.array_equal(np.sort(d.support.numpy()), nz)
    np.testing.assert_allclose(d.y.numpy(), d.X.numpy() @ d.a_star.numpy(), rtol=1e-13)  # snr = inf
    assert d.lambda_max == pytest.approx(np.linalg.eigvalsh(d.X.numpy().T @ d.X.numpy())[-1], rel=1e-12)


def test_data_deterministic_function_of_data_fields():
    a, b = make_data(tiny(seed=7)), make_data(tiny(seed=7))
    for f in ("X", "y", "a_star", "M"):
        assert torch.equal(getattr(a, f), getattr(b, f))
    # non-data fields do not touch the data
    c = make_data(tiny(seed=7, lr=0.01, l1=0.5, l2=0.1, method="ista", init="random", steps=3))
    assert torch.equal(a.X, c.X) and torch.equal(a.y, c.y)
    # another seed: other data
    e = make_data(tiny(seed=8))
    assert not torch.allclose(a.X, e.X)
    assert not torch.allclose(a.a_star, e.a_star)


def test_measurement_variance_scales_M():
    a = make_data(tiny(measurement_variance="1/N"))
    b = make_data(tiny(measurement_variance="1/n"))
    N, n = a.X.shape
    np.testing.assert_allclose(b.M.numpy(), a.M.numpy() * math.sqrt(N / n), rtol=1e-13)


def test_noise_follows_snr():
    """E|xi|^2 = E|a*|^2 / SNR = (s/n) / SNR; the same seed draws the same xi, so the noise
    vector scales exactly as 1/sqrt(SNR)."""
    kw = dict(dim=10, sparsity=2, measurements=4000)
    clean = make_data(tiny(**kw))
    noisy = {snr: make_data(tiny(snr=snr, **kw)) for snr in (1e2, 1e4)}
    xi = {snr: (d.y - clean.y).numpy() for snr, d in noisy.items()}
    np.testing.assert_allclose(xi[1e2], 10 * xi[1e4], rtol=1e-9)
    expected = (2 / 10) / 1e2
    # chi-square with 4000 dof: relative sd sqrt(2/4000) = 2.2 %, so 15 % is > 6 sd
    assert np.sum(xi[1e2] ** 2) == pytest.approx(expected, rel=0.15)


@pytest.mark.parametrize("basis", ["identity", "orthonormal", "fourier"])
def test_tau_one_gives_canonical_rows_and_coherence_one(basis):
    cfg = tiny(tau=1.0, basis=basis)
    d = make_data(cfg)
    X = d.X.numpy()
    N = cfg.measurements
    Xre = X[:N]
    for row in Xre:  # each row of X is a multiple of a canonical basis vector
        k = np.argmax(np.abs(row))
        rest = np.delete(row, k)
        assert np.abs(rest).max() < 1e-12 * np.abs(row[k])
    cols = np.argmax(np.abs(Xre), axis=1)
    assert len(set(cols)) == N  # distinct columns while tau N <= n
    if X.shape[0] > N:  # fourier: imaginary parts of canonical rows vanish
        assert np.abs(X[N:]).max() < 1e-12
    assert d.coherence == pytest.approx(1.0, abs=1e-12)


def test_tau_fraction_and_low_coherence_without_selection():
    cfg = tiny(tau=0.5, measurements=10)
    X = make_data(cfg).X.numpy()
    canonical = [np.count_nonzero(np.abs(r) > 1e-12 * np.abs(r).max()) == 1 for r in X]
    assert canonical[:5] == [True] * 5 and not any(canonical[5:])
    assert make_data(tiny(tau=0.0)).coherence < 1 - 1e-3


def test_orthonormal_basis_is_orthonormal():
    d = make_data(tiny(basis="orthonormal"))
    Phi = d.Phi.numpy()
    np.testing.assert_allclose(Phi.T @ Phi, np.eye(Phi.shape[0]), atol=1e-12)
    np.testing.assert_allclose(d.X.numpy(), d.M.numpy() @ Phi, rtol=1e-12, atol=1e-14)
    assert not np.allclose(Phi, np.eye(Phi.shape[0]))


def test_fourier_design_is_real_and_imaginary_parts_of_dft():
    """X a = [Re; Im] of M (F a) with F the unitary DFT, i.e. fft(a)/sqrt(n)."""
    cfg = tiny(basis="fourier")
    d = make_data(cfg)
    n, N = cfg.dim, cfg.measurements
    assert d.X.shape == (2 * N, n)
    a = np.random.default_rng(0).standard_normal(n)
    z = d.M.numpy().astype(complex) @ (np.fft.fft(a) / math.sqrt(n))
    np.testing.assert_allclose(d.X.numpy() @ a, np.concatenate([z.real, z.imag]), atol=1e-12)
