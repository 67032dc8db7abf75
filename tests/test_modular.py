"""Modular arithmetic MLP (docs/families/modular.md): data, model, penalties, optimizer, ensembles, CLI errors and
the paper's claims at small scale (p = 31, 70% train, full batch, 2500 Adam steps).

Expectations come from closed forms (labels, split sizes, weight counts, penalty gradients vs
autograd), from PyTorch's own Adam on the same model, or from the paper's qualitative claims --
never from numbers copied out of a run.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import groklab
import torch
from scipy import stats

from groklab.fields import ConfigError
from groklab.detect import Detection
from groklab.driver import execute
from groklab.families.modular.config import ModularConfig
from groklab.families.nets.penalty import add_penalty_grad_, penalty_value
from groklab.families.modular.model import forward, init_params, loss_grads, square_product
from groklab.families.modular.engine import run_modular_batch
from groklab.families.modular.data import make_modular_data, n_weights

from conftest import cli

D64 = torch.float64


# ---- data --------------------------------------------------------------------------------------
def test_split_sizes_match_the_authors():
    d = make_modular_data(ModularConfig())
    assert d.n_pairs == 97 ** 2
    assert (d.train_idx.numel(), d.test_idx.numel()) == (3763, 5646)  # sklearn's floor rule
    both = torch.cat([d.train_idx, d.test_idx]).sort().values
    assert torch.equal(both, torch.arange(97 ** 2))  # disjoint and covering


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_labels(op):
    p = 13
    d = make_modular_data(ModularConfig(modulus=p, operation=op))
    x1, x2, y = d.x1.tolist(), d.x2.tolist(), d.labels.tolist()
    for a, b, c in zip(x1, x2, y):
        if op == "add":
            assert c == (a + b) % p
        elif op == "sub":
            assert c == (a - b) % p
        elif op == "mul":
            assert c == (a * b) % p
        else:
            assert b != 0 and (c * b) % p == a
    assert d.n_pairs == (p * (p - 1) if op == "div" else p * p)


def test_split_is_seeded():
    a = make_modular_data(ModularConfig(modulus=11, data_seed=3))
    b = make_modular_data(ModularConfig(modulus=11, data_seed=3))
    c = make_modular_data(ModularConfig(modulus=11, data_seed=4))
    assert torch.equal(a.train_idx, b.train_idx)
    assert not torch.equal(a.train_idx, c.train_idx)


# ---- model -------------------------------------------------------------------------------------
def test_weight_count_of_the_authors_model():
    cfg = ModularConfig()
    assert n_weights(cfg) == 2 * 97 * 64 + 64 * 64 + 64 * 97 == 22_720
    assert sum(t.numel() for t in init_params(cfg)) == 22_720  # no biases
    had = ModularConfig(architecture="hadamard")
    assert sum(t.numel() for t in init_params(had)) == 97 * 64 + 64 * 64 + 64 * 97 + 64 + 97


@pytest.mark.parametrize("seed", [0, 1])
def test_init_distributions(seed):
    """The hadamard model (the paper's description) starts from the paper's N(0, 1/n1) for every
    matrix A in R^{n1 x n2} (y = A x): the embedding E in R^{p x d} from N(0, 1/p); the
    matrix-product model (the authors' notebook) keeps PyTorch's U(+-1/sqrt(p)) embeddings.  The
    dense layers are N(0, 1/out_features) in both.  Kolmogorov-Smirnov tests of the scaled
    entries against the law (6208 draws: a wrong law or a wrong scale gives p-values < 1e-10)."""
    p, d = 97, 64
    had = init_params(ModularConfig(architecture="hadamard", seed=seed))
    mp = init_params(ModularConfig(seed=seed))
    E, W1, W2 = (t.flatten().double().numpy() for t in had[:3])
    assert stats.kstest(E * math.sqrt(p), "norm").pvalue > 1e-3
    assert stats.kstest(E * math.sqrt(p), "uniform", args=(-1, 2)).pvalue < 1e-10
    for w in (mp[0], mp[1]):
        u = w.flatten().double().numpy() * math.sqrt(p)
        assert stats.kstest(u, "uniform", args=(-1, 2)).pvalue > 1e-3
        assert stats.kstest(u, "norm").pvalue < 1e-10
    for prm in (had, mp):
        hidden, out = prm[-2:] if prm is mp else prm[1:3]
        assert stats.kstest(hidden.flatten().double().numpy() * math.sqrt(d), "norm").pvalue > 1e-3
        assert stats.kstest(out.flatten().double().numpy() * math.sqrt(p), "norm").pvalue > 1e-3
    assert not had[3].any() and not had[4].any()  # biases start at 0


def test_square_product_is_a_matrix_product():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 5, 16, generator=g, dtype=D64, requires_grad=True)
    b = torch.randn(3, 5, 16, generator=g, dtype=D64, requires_grad=True)
    ref = torch.bmm(a.reshape(15, 4, 4), b.reshape(15, 4, 4)).reshape(3, 5, 16)
    torch.testing.assert_close(square_product(a, b), ref)
    assert torch.autograd.gradcheck(square_product, (a, b))


def test_forward_matches_one_hot_model():
    """The index-tensor model equals the authors' one-hot Linear layers."""
    cfg = ModularConfig(modulus=7, width=16)
    E1, E2, W1, W2 = [t.to(D64) for t in init_params(cfg)]
    x1, x2 = torch.tensor([[0, 3, 6]]), torch.tensor([[1, 2, 5]])
    logits = forward(cfg, [E1[None], E2[None], W1[None], W2[None]], x1, x2)[0]
    o1, o2 = torch.eye(7, dtype=D64)[x1[0]], torch.eye(7, dtype=D64)[x2[0]]
    h = torch.bmm((o1 @ E1).reshape(3, 4, 4), (o2 @ E2).reshape(3, 4, 4)).reshape(3, 16)
    torch.testing.assert_close(logits, torch.relu(h @ W1) @ W2)


@pytest.mark.parametrize("arch", ["matrix-product", "hadamard"])
def test_hand_written_gradients_match_autograd(arch):
    """loss_grads (no autograd) equals autograd of the summed members' mean cross-entropy, in
    float64, with repeated pairs and x1 = x2 in the batch (both index_adds hit one row)."""
    cfg = ModularConfig(modulus=7, width=16, architecture=arch)
    R, n, p = 3, 40, 7
    g = torch.Generator().manual_seed(5)
    per = [init_params(ModularConfig(modulus=7, width=16, architecture=arch, seed=r))
           for r in range(R)]
    params = [torch.stack([m[k] for m in per]).to(D64) for k in range(len(per[0]))]
    if arch == "hadamard":  # non-zero biases, so their gradients are exercised
        params[3] += 0.1 * torch.randn(params[3].shape, generator=g, dtype=D64)
        params[4] += 0.1 * torch.randn(params[4].shape, generator=g, dtype=D64)
    a = torch.randint(0, p, (R, n), generator=g)
    b = torch.randint(0, p, (R, n), generator=g)
    b[:, :5] = a[:, :5]
    y = torch.randint(0, p, (R, n), generator=g)
    leaves = [t.clone().requires_grad_() for t in params]
    ce = torch.nn.functional.cross_entropy(forward(cfg, leaves, a, b).reshape(R * n, p),
                                           y.reshape(-1), reduction="sum") / n
    auto = torch.autograd.grad(ce, leaves)
    mine = loss_grads(cfg, params, a, b, y, fast=False)  # batched matmuls (any device, dtype)
    for k, (u, v) in enumerate(zip(mine, auto)):
        torch.testing.assert_close(u, v, rtol=1e-10, atol=1e-12, msg=f"param {k}")
    # float32: oneDNN member by member where this torch has it (else the same bmm path)
    mine = loss_grads(cfg, [t.float() for t in params], a, b, y)
    for k, (u, v) in enumerate(zip(mine, auto)):
        torch.testing.assert_close(u.double(), v, rtol=1e-4, atol=1e-6, msg=f"param {k}, f32")


# ---- penalties ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,form", [("l1", "norm"), ("l2", "norm"), ("l2", "squared"),
                                       ("nuclear", "norm")])
def test_penalty_gradient_matches_autograd(kind, form):
    g = torch.Generator().manual_seed(1)
    W = torch.randn(3, 6, 4, generator=g, dtype=D64, requires_grad=True)
    beta = torch.tensor([0.5, 2.0, 0.0], dtype=D64)
    betas = {k: beta if k == kind else torch.zeros(3, dtype=D64) for k in ("l1", "l2", "nuclear")}
    v = penalty_value(W, betas["l1"], betas["l2"], betas["nuclear"], form)
    # closed forms of the values (torch.norm as the authors call it)
    expect = {"l1": W.abs().sum((1, 2)), "nuclear": torch.linalg.svdvals(W).sum(-1),
              "l2": W.flatten(1).norm(dim=1) ** (2 if form == "squared" else 1)}[kind]
    torch.testing.assert_close(v, beta * expect)
    (auto,) = torch.autograd.grad(v.sum(), W)
    use = tuple(k == kind for k in ("l1", "l2", "nuclear"))
    cols = {k: b.view(3, 1, 1) for k, b in betas.items()}
    closed = add_penalty_grad_(torch.zeros_like(W), W.detach(), cols["l1"], cols["l2"],
                               cols["nuclear"], form, use)
    torch.testing.assert_close(closed, auto)


# ---- optimizer and ensembles ---------------------------------------------------------------------
def _tiny(**kw):
    base = dict(modulus=11, width=16, train_fraction=0.5, batch_size=16, steps=30, log_every=5,
                log_dense_until=10, lr=1e-2)
    base.update(kw)
    return ModularConfig(**base)


@pytest.mark.parametrize("kw", [dict(l1=1e-3), dict(l2=1e-2), dict(nuclear=1e-2),
                                dict(optimizer="adamw", weight_decay=0.1),
                                dict(optimizer="sgd", lr=0.5, l2=1e-2, penalty_form="squared")])
def test_engine_matches_torch_optim(kw):
    """Full-batch training equals an nn-style loop: torch.optim on the same loss, autograd on
    the penalty (float32: rounding only)."""
    cfg = _tiny(batch_size=0, steps=12, log_every=1, **kw)
    data = make_modular_data(cfg)
    res = run_modular_batch([data], [[cfg]])
    params = [t.clone().requires_grad_() for t in init_params(cfg)]
    Opt = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    opt = Opt[cfg.optimizer](params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    idx = data.train_idx[None]
    one = lambda v: torch.tensor([float(v)])  # noqa: E731
    losses = []
    for t in range(cfg.steps + 1):
        logits = forward(cfg, [p[None] for p in params], data.x1[idx], data.x2[idx])[0]
        ce = torch.nn.functional.cross_entropy(logits, data.labels[idx[0]])
        losses.append(float(ce.detach()))
        if t == cfg.steps:
            break
        pen = sum(penalty_value(W[None], one(cfg.l1), one(cfg.l2), one(cfg.nuclear),
                                cfg.penalty_form).sum() for W in params[:4])
        opt.zero_grad()
        (ce + pen).backward()
        opt.step()
    np.testing.assert_allclose(res.metrics["train_loss"][:, 0], losses, rtol=2e-4, atol=1e-5)


def test_ensemble_member_reproduces_its_solo_run():
    cfgs = [_tiny(lr=1e-2, l1=1e-4, seed=0), _tiny(lr=3e-3, l2=1e-3, seed=1),
            _tiny(lr=1e-2, seed=2, weight_decay=0.5)]
    data = make_modular_data(cfgs[0])
    ens = run_modular_batch([data], [cfgs])
    for k, cfg in enumerate(cfgs):
        solo = run_modular_batch([data], [[cfg]])
        for name in ("train_loss", "test_loss", "l1_norm", "l2_norm", "nuclear_norm"):
            np.testing.assert_allclose(ens.metrics[name][:, k], solo.metrics[name][:, 0],
                                       rtol=1e-4, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(ens.final[k], solo.final[0], rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("arch", ["matrix-product", "hadamard"])
def test_ensemble_on_worker_threads_reproduces_solo_runs(arch):
    """With 2 torch threads the members are split over 2 worker threads (one core each); every
    member still reproduces its solo run, mini-batches and all."""
    cfgs = [_tiny(architecture=arch, lr=1e-2, l1=1e-4, seed=0),
            _tiny(architecture=arch, lr=3e-3, l2=1e-3, seed=1),
            _tiny(architecture=arch, lr=1e-2, seed=2)]
    data = make_modular_data(cfgs[0])
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ens = run_modular_batch([data], [cfgs])
        assert torch.get_num_threads() == 2  # restored after the workers
    finally:
        torch.set_num_threads(old)
    for k, cfg in enumerate(cfgs):
        solo = run_modular_batch([data], [[cfg]])
        for name in ("train_loss", "test_accuracy", "l1_norm", "nuclear_norm"):
            np.testing.assert_allclose(ens.metrics[name][:, k], solo.metrics[name][:, 0],
                                       rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("arch", ["matrix-product", "hadamard"])
def test_member_by_member_evaluation_matches_batched_forward(arch):
    """The logged accuracy / loss (oneDNN, member by member, in row blocks) equal argmax and
    cross-entropy of the plain batched forward on every pair."""
    from groklab.families.modular import engine as nets

    cfgs = [_tiny(architecture=arch, seed=s, lr=0.05) for s in range(3)]
    data = make_modular_data(cfgs[0])
    chunk = nets._Chunk([data], [(0, c) for c in cfgs], torch.device("cpu"))
    for _ in range(20):  # trained a little: accuracies away from chance
        chunk.step()
    correct, loss = chunk._eval_batched()
    out = chunk.evaluate()
    for split, idx in (("train", data.train_idx), ("test", data.test_idx)):
        np.testing.assert_allclose(out[f"{split}_accuracy"].numpy(),
                                   correct[:, idx].double().mean(1).numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(out[f"{split}_loss"].numpy(),
                                   loss[:, idx].double().mean(1).numpy(), rtol=1e-5)
    assert out["train_accuracy"].min() > 2 / cfgs[0].modulus


def test_ensemble_across_data_sets_and_chunks():
    """Members on different splits (D = 2) and chunked ensembles give the same numbers."""
    a, b = _tiny(data_seed=0), _tiny(data_seed=1, l1=1e-4)
    da, db = make_modular_data(a), make_modular_data(b)
    both = run_modular_batch([da, db], [[a], [b]])
    chunked = run_modular_batch([da, db], [[a], [b]], max_members=1)
    for name in ("train_accuracy", "test_loss", "l2_norm"):
        np.testing.assert_allclose(both.metrics[name], chunked.metrics[name], rtol=1e-4, atol=1e-6)


def test_divergent_member_is_isolated():
    ok, bad = _tiny(optimizer="sgd", lr=0.1), _tiny(optimizer="sgd", lr=1e6, seed=1)
    data = make_modular_data(ok)
    res = run_modular_batch([data], [[ok, bad]])
    assert np.isfinite(res.metrics["train_loss"][:, 0]).all()
    assert np.isnan(res.metrics["train_loss"][-1, 1]) and np.isnan(res.final[1]).all()
    solo = run_modular_batch([data], [[ok]])
    np.testing.assert_allclose(res.metrics["train_loss"][:, 0], solo.metrics["train_loss"][:, 0],
                               rtol=1e-4, atol=1e-6)


def test_diverged_status_in_runs_table():
    """Through the sweep (one tensor program for both lrs): the NaN member is 'diverged' in
    runs.parquet, the other 'done' with finite numbers; a nuclear run (SVD every step) too."""
    from groklab.driver import execute

    for extra in ({}, {"nuclear": 1e-3}):
        res = execute([_tiny(optimizer="sgd", lr=lr, **extra) for lr in (0.1, 1e6)],
                      detection=Detection(train_threshold=0.01, test_threshold=0.01))
        runs = res.runs.set_index("lr")
        assert runs.batch_runs.iloc[0] == 2  # trained together
        assert runs.status[1e6] == "diverged" and runs.status[0.1] == "done"
        assert np.isfinite(runs.final_test_accuracy[0.1])


# ---- config and CLI ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,option", [(dict(modulus=1), "modulus"),
                                       (dict(modulus=12, operation="div"), "modulus"),
                                       (dict(train_fraction=1.0), "train-fraction"),
                                       (dict(train_fraction=0.0), "train-fraction"),
                                       (dict(architecture="cnn"), "architecture"),
                                       (dict(optimizer="lbfgs"), "optimizer"),
                                       (dict(width=50), "width"),
                                       (dict(batch_size=-1), "batch-size")])
def test_config_errors(kw, option):
    with pytest.raises(ConfigError, match=f"--{option}"):
        ModularConfig(**kw)


@pytest.mark.parametrize("args", [["--modulus", "1"], ["--modulus", "12", "--operation", "div"],
                                  ["--train-fraction", "1.5"], ["--architecture", "cnn"],
                                  ["--optimizer", "lbfgs"]])
def test_cli_bad_input_exits_2(tmp_path, args):
    r = cli("run", "modular", "--steps", "5", *args, "--out", tmp_path / "r", "--quiet")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_run_writes_tables(tmp_path):
    out = tmp_path / "mod"
    r = cli("run", "modular", "--modulus", "11", "--width", "16", "--batch-size", "0",
            "--steps", "30", "--lr", "0.01", "--l1", "0,1e-4", "--train-threshold", "0.01",
            "--test-threshold", "0.01", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    runs = groklab.load(out).runs
    curves = groklab.load(out).curves
    assert len(runs) == 2 and (runs.status == "done").all()
    for col in ("t1", "t2", "t1_best", "t2_best", "final_train_accuracy", "final_test_accuracy",
                "final_l0_norm", "final_l1_norm", "final_l2_norm", "final_nuclear_norm",
                "wall_time_s", "status"):
        assert col in runs
    for col in ("train_accuracy", "test_accuracy", "train_loss", "test_loss", "l0_norm",
                "l1_norm", "l2_norm", "nuclear_norm", "erank_embed1", "erank_embed2",
                "erank_hidden", "erank_out"):
        assert col in curves
    c = curves[curves.run_id == runs.run_id[0]]
    np.testing.assert_allclose(c.train_error, 1 - c.train_accuracy)
    for _, row in runs.iterrows():  # the authors' rule: first logged step at the best value
        c = curves[curves.run_id == row.run_id].sort_values("step")
        for col, split in (("t1_best", "train_accuracy"), ("t2_best", "test_accuracy")):
            best = c[split].max()
            assert row[col] == c.step[c[split] == best].min()
            assert (c[split][c.step < row[col]] < best).all()
        assert row.final_test_accuracy == c.test_accuracy.iloc[-1]
        assert row.final_l2_norm == pytest.approx(c.l2_norm.iloc[-1])
        assert row.wall_time_s > 0


# ---- the paper's claims at small scale -----------------------------------------------------------
SCI = dict(modulus=31, train_fraction=0.7, batch_size=0, steps=2500, log_every=25,
           log_dense_until=0, lr=1e-2)
#: Seeds of the l1 runs.  A float32 run's trajectory moves with the CPU's kernels and with its
#: batch mates (README, Reproducibility), so every claim about l1 runs below is read over these
#: seeds with a majority rule, never from one run crossing a threshold.  benchmarks/
#: kernel_spread.py (probe ``modular``) prints every number ``science_measures`` reads, under
#: five kernel sets (tests/kernels.py); the margins it measured are in docs/families/modular.md.
L1_SEEDS = (0, 1, 2, 3, 4)
#: how many of the L1_SEEDS must show a claim (measured: 4 of 5 grok and climb under every
#: kernel set; seed 1 is still at 68-75% test accuracy at step 2500)
MAJORITY = 3
#: t1 at 99% train accuracy, t2 at 95% test accuracy.  Not 99%: at this scale a generalized run's
#: test accuracy hovers between 98% and 100%, and whether it touches 99% by step 2500 depends on
#: the CPU's kernels (seed 4 did natively and not with AVX2 kernels; measured)
DETECTION = Detection(train_threshold=0.01, test_threshold=0.05)


def grokking_configs() -> list:
    """No penalty, l2 1e-3, then l1 1e-4 for each of L1_SEEDS: one batch, as the tests read it."""
    return [ModularConfig(**SCI), ModularConfig(**SCI, l2=1e-3),
            *(ModularConfig(**SCI, l1=1e-4, seed=s) for s in L1_SEEDS)]


def grokking_batch():
    cfgs = grokking_configs()
    res = execute(cfgs, detection=DETECTION)
    runs = res.runs.set_index("run_id").loc[[c.run_id() for c in cfgs]].reset_index()
    return runs, res.curves


@pytest.fixture(scope="module")
def grokking_runs():
    return grokking_batch()


def _curve(curves, rid):
    return curves[curves.run_id == rid].sort_values("step")


def _climb(c, lo=0.1, hi=0.9):
    """Rows of the curve from the first step at test accuracy >= lo to the first at >= hi."""
    a = int(c.step[c.test_accuracy >= lo].min())
    b = int(c.step[c.test_accuracy >= hi].min())
    return c[(c.step >= a) & (c.step <= b)]


def grok_measures(row, c) -> dict[str, float]:
    """What ``test_penalty_groks`` reads from one run (nan where the run never got there)."""
    nan = float("nan")
    if pd.isna(row.t1):
        return {"t1": nan}
    t1 = int(row.t1)
    after = c[c.step >= t1]
    reach = after.step[after.test_accuracy >= 0.2]
    t2 = nan if pd.isna(row.t2) else int(row.t2)
    return {"t1": t1,
            "train_accuracy_after_t1_min": float(after.train_accuracy.min()),
            "test_accuracy_at_t1_over_chance": float(
                c.test_accuracy[c.step == t1].iloc[0]) * SCI["modulus"],
            "plateau_over_t1": (int(reach.min()) - t1) / t1 if len(reach) else nan,
            "final_test_accuracy": float(row.final_test_accuracy),
            "t2_over_t1": t2 / t1,
            "t2_best_minus_t2": float(row.t2_best) - t2 if not pd.isna(row.t2_best) else nan}


def groks(m: dict) -> bool:
    """Train accuracy 100% early and from then on; test accuracy near chance for a long stretch
    after that (>= 5 t1 steps below 20%, under 5x chance at t1), then >= 95% much later
    (t2 >= 10 t1), and the authors' rule: the best test accuracy comes at or after t2."""
    return bool(m["t1"] <= 200 and m.get("train_accuracy_after_t1_min", 0) >= 0.99
                and m.get("test_accuracy_at_t1_over_chance", 99) < 5
                and m.get("plateau_over_t1", 0) >= 5 and m.get("final_test_accuracy", 0) >= 0.95
                and m.get("t2_over_t1", 0) >= 10 and m.get("t2_best_minus_t2", -1) >= 0)


def norm_measures(c) -> dict[str, float]:
    """What the l2-is-no-progress-measure test reads from one l1 run (nan: no climb to 90%)."""
    if not (c.test_accuracy >= 0.9).any():
        return {"climb_logs": float("nan")}
    w = _climb(c)
    l1, l2 = w.l1_norm.to_numpy(), w.l2_norm.to_numpy()
    return {"climb_logs": float(len(w)),
            "climb_l1_ratio": float(l1[-1] / l1[0]),
            # how far l2 moves over the climb, relative to how far l1 moves (log scale: a fall
            # and a rise of the same factor count the same)
            "climb_l2_over_l1_log_change": float(abs(np.log(l2[-1] / l2[0]))
                                                 / abs(np.log(l1[-1] / l1[0])))}


def l2_is_no_progress_measure(m: dict) -> bool:
    """While the test accuracy climbs from 10% to 90% (over >= 10 logs: gradual, not a jump),
    the l1 norm falls by more than 40% while the l2 norm moves by less than a third of l1's
    change (log scale).  Measured over the seeds and kernel sets: l1 falls to 0.29-0.47 of its
    value, l2 moves by 0.04-0.12 of l1's log change."""
    return bool(m["climb_logs"] >= 10 and m["climb_l1_ratio"] < 0.6
                and m["climb_l2_over_l1_log_change"] < 1 / 3)


def science_measures(batch=None) -> dict[str, float]:
    """Every number the science tests below read, by run ("l1.seed0.t1", ...): what
    benchmarks/kernel_spread.py prints under each kernel set."""
    runs, curves = batch or grokking_batch()
    out: dict[str, float] = {}
    names = ["none", "l2", *(f"l1.seed{s}" for s in L1_SEEDS)]
    for name, row in zip(names, runs.itertuples()):
        c = _curve(curves, row.run_id)
        m = grok_measures(row, c)
        if name.startswith("l1"):
            m |= norm_measures(c) | fourier_measures(c)
        if name == "none":
            m = {"max_test_accuracy": float(c.test_accuracy.max()),
                 "final_train_accuracy": float(row.final_train_accuracy)}
            m |= {f"{g}_final": float(c[g].iloc[-1]) for g in GINI}
        out |= {f"{name}.{k}": float(v) for k, v in m.items()}
    return out


def _l1_runs(grokking_runs):
    runs, curves = grokking_runs
    return [(row, _curve(curves, row.run_id)) for row in runs.iloc[2:].itertuples()]


@pytest.mark.numerics
def test_l1_groks_in_most_seeds(grokking_runs):
    """l1 1e-4: memorizes within 200 steps, sits near chance on the test set, then generalizes
    much later (``groks``), in at least MAJORITY of the L1_SEEDS."""
    ok = [groks(grok_measures(row, c)) for row, c in _l1_runs(grokking_runs)]
    assert sum(ok) >= MAJORITY, ok


@pytest.mark.numerics
def test_l2_groks(grokking_runs):
    """l2 1e-3 (one seed: its margins are wide -- t2 / t1 and the plateau several times their
    bounds under every kernel set measured, docs/families/modular.md)."""
    runs, curves = grokking_runs
    row = runs.iloc[1]
    assert groks(grok_measures(row, _curve(curves, row.run_id)))


@pytest.mark.numerics
def test_no_penalty_does_not_generalize(grokking_runs):
    """beta = 0 on the same budget: memorizes, never generalizes (test accuracy stays low)."""
    runs, curves = grokking_runs
    row = runs.iloc[0]
    assert row.final_train_accuracy == 1.0
    c = _curve(curves, row.run_id)
    assert c.test_accuracy.max() < 0.2
    assert row.t2 is pd.NA


@pytest.mark.numerics
def test_under_l1_the_l2_norm_is_no_progress_measure(grokking_runs):
    """The paper's point (figure 1, bottom) at small scale, in at least MAJORITY of the l1 seeds
    (``l2_is_no_progress_measure``): the l1 norm tracks generalization, the l2 norm does not.
    Whether l2 *rises* during or after the climb is seed-dependent at this scale and horizon (in
    about half the runs tried it rises inside the climb, in the others it falls by ~10%; after
    the climb it wanders by ~1% and may fall again by step 4000: docs/families/modular.md), so no
    test here claims a rise."""
    ok = [l2_is_no_progress_measure(norm_measures(c)) for _, c in _l1_runs(grokking_runs)]
    assert sum(ok) >= MAJORITY, ok


def test_the_no_progress_rule_fails_on_an_l2_progress_measure():
    """The rule above can fail: a run whose l2 norm falls as much as its l1 norm over the climb
    (l2 tracking generalization), or whose l1 norm stops falling, is not passed."""
    good = {"climb_logs": 30, "climb_l1_ratio": 0.45, "climb_l2_over_l1_log_change": 0.1}
    assert l2_is_no_progress_measure(good)
    for bad in ({"climb_l2_over_l1_log_change": 1.0}, {"climb_l1_ratio": 0.9},
                {"climb_logs": 2}):
        assert not l2_is_no_progress_measure(good | bad), bad
    assert not groks({"t1": 50, "train_accuracy_after_t1_min": 1.0,
                      "test_accuracy_at_t1_over_chance": 1.0, "plateau_over_t1": 1.0,
                      "final_test_accuracy": 1.0, "t2_over_t1": 3.0, "t2_best_minus_t2": 0})


GINI = ("fourier_gini_embed1", "fourier_gini_embed2")


def fourier_measures(c) -> dict[str, float]:
    """The Fourier Gini of each embedding at step 0, where the test accuracy reaches 10% and 90%,
    and at the end (nan where the run never climbs to 90%)."""
    climbs = bool((c.test_accuracy >= 0.9).any())
    w = _climb(c) if climbs else None
    out = {}
    for g in GINI:
        out |= {f"{g}_start": float(c[g].iloc[0]), f"{g}_final": float(c[g].iloc[-1]),
                f"{g}_at_10pct": float(w[g].iloc[0]) if climbs else float("nan"),
                f"{g}_at_90pct": float(w[g].iloc[-1]) if climbs else float("nan")}
    return out


def fourier_concentrates(m: dict) -> bool:
    """The embeddings start as white noise (Gini < 0.1), are already gathering when the test
    accuracy reaches 10% (twice the start), are higher at 90%, and end concentrated (> 0.4)."""
    return all(m[f"{g}_start"] < 0.1 and m[f"{g}_at_10pct"] > 2 * m[f"{g}_start"]
               and m[f"{g}_at_90pct"] > m[f"{g}_at_10pct"] and m[f"{g}_final"] > 0.4
               for g in GINI)


@pytest.mark.numerics
def test_fourier_sparsity_rises_while_generalizing(grokking_runs):
    """Nanda et al.'s progress measure under l1 (docs/families/modular.md#fourier-sparsity): the
    embeddings start as white noise (Gini ~0.03), gather on a few frequencies while the test
    accuracy climbs, and end concentrated; without a penalty they stay spread.  Read over the
    l1 seeds that climb to 90% (at least MAJORITY of them must)."""
    runs, curves = grokking_runs
    plain = _curve(curves, runs.iloc[0].run_id)
    rising = [fourier_concentrates(fourier_measures(c)) for _, c in _l1_runs(grokking_runs)]
    assert sum(rising) >= MAJORITY, rising
    for g in GINI:
        assert plain[g].iloc[-1] < 0.1


def test_accuracy_0_99_is_the_default_detection_for_networks(tmp_path):
    """Networks log 1 - accuracy as their error: without flags, t1/t2 are read at accuracy 0.99
    (error 0.01), not at the linear problems' 1e-3; a flag overrides one threshold only."""
    import groklab

    res = groklab.run(problem="modular", modulus=7, train_fraction=0.5, steps=5, log_every=1,
                      log_dense_until=5)
    assert (res.runs.train_threshold == 0.01).all() and (res.runs.test_threshold == 0.01).all()
    out = tmp_path / "o"
    p = cli("run", "modular", "--modulus", "7", "--train-fraction", "0.5", "--steps", "5",
            "--test-threshold", "0.2", "--out", out, "--quiet")
    assert p.returncode == 0, p.stderr
    runs = groklab.load(out).runs
    assert (runs.train_threshold == 0.01).all() and (runs.test_threshold == 0.2).all()
