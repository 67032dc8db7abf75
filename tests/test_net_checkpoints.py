"""--save-iterates for the families on the generic ensemble engine (mnist, sparse-parity, the
modular transformer; docs/checkpoints.md).  A checkpoint is checked against the engine and the
module, not against itself: the weights saved at step t are bitwise those of the same ensemble
trained for t steps (and its independently returned final matrices); at step 0 they are the
family's freshly built module times the init scale; a module loaded from them gives exactly the
accuracies logged at t; a member of an ensemble saves the weights it saves trained alone; a
diverged member's checkpoints are NaN from its divergence on, the others' untouched."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import groklab
from groklab import checkpoints
from groklab.driver import execute
from groklab.families.mnist import runtime as mnist_runtime
from groklab.families.mnist.config import MnistConfig
from groklab.families.modular import runtime as modular_runtime
from groklab.families.modular.config import ModularConfig
from groklab.families.modular.transformer import ModularTransformer, _Split
from groklab.families.nets.config import checkpoint_points
from groklab.families.nets.trainer import run_net_batch
from groklab.families.sparse_parity import runtime as parity_runtime
from groklab.families.sparse_parity.config import SparseParityConfig
from groklab.families.sparse_parity.runtime import PROGRAM as PARITY
from groklab.result import iterate_log_indices
from groklab.schedule import log_steps

from conftest import cli

# tiny configs: 5 log points (0, 10, ..., 40); --save-iterates 3 keeps 0, 30 and the last, 40
SCHEDULE = dict(steps=40, log_every=10, log_dense_until=0, log_spacing="linear")
FAMILIES = {
    "sparse-parity": (SparseParityConfig, parity_runtime,
                      dict(bits=8, relevant_bits=2, n_train=40, n_test=40, width=16,
                           batch_size=16, **SCHEDULE)),
    "mnist": (MnistConfig, mnist_runtime,
              dict(n_train=60, n_test=80, width=12, batch_size=20, init_scale=2.0, **SCHEDULE)),
    "transformer": (ModularConfig, modular_runtime,
                    dict(modulus=5, train_fraction=0.6, architecture="transformer", width=8,
                         heads=2, mlp_width=16, batch_size=0, optimizer="adamw", lr=1e-2,
                         layer_norm="pre", **SCHEDULE)),
}
K = 3
KEPT = [0, 30, 40]


def members(family):
    cls, _, kw = FAMILIES[family]
    return [cls(**kw, seed=0), cls(**kw, seed=1, l1=1e-3)]


def fresh(cfg):
    """The family's freshly built module of ``cfg`` (the transformer has no runtime hook)."""
    if cfg.problem == "modular":
        return ModularTransformer(cfg)
    return (mnist_runtime if cfg.problem == "mnist" else parity_runtime).build_module(cfg)


def split(cfg, data):
    """(x_train, y_train, x_test, y_test) as the engine reads them."""
    d = _Split(data) if cfg.problem == "modular" else data
    return d.x_train, d.y_train, d.x_test, d.y_test


def flat(weights: dict) -> np.ndarray:
    return np.concatenate([w.numpy().ravel() for w in weights.values()])


@pytest.fixture(scope="module", params=list(FAMILIES))
def stored(request, tmp_path_factory):
    """Each family's two members trained once with --save-iterates 3, stored in OUT."""
    family = request.param
    out = tmp_path_factory.mktemp(family.replace("-", ""))
    cfgs = members(family)
    res = execute(cfgs, out=out, save_iterates=K)
    return family, cfgs, out, res


def test_kept_steps_names_and_shapes_are_the_modules(stored):
    family, cfgs, out, res = stored
    logged = log_steps(40, 10, 0, "linear")
    assert [int(s) for s in logged[iterate_log_indices(len(logged), K)]] == KEPT
    for cfg in cfgs:
        rid = cfg.run_id()
        assert checkpoints.steps(out, rid) == KEPT
        want = [(n, tuple(p.shape)) for n, p in fresh(cfg).named_parameters()]
        for t in KEPT:
            w = checkpoints.load(out, rid, t)
            assert [(n, tuple(v.shape)) for n, v in w.items()] == want
            assert all(v.dtype == torch.float32 for v in w.values())
        # step 0: the built module's parameters times the init scale (the engine's only change)
        w0 = checkpoints.load(out, rid, 0)
        for n, p in fresh(cfg).named_parameters():
            torch.testing.assert_close(w0[n], p.detach() * getattr(cfg, "init_scale", 1.0),
                                       rtol=0, atol=0)
    it = groklab.load(out).iterates
    assert len(it) == len(cfgs) * len(KEPT) * len(want)  # one row per (run, step, tensor)


def test_stored_weights_are_the_ensemble_trained_for_t_steps(stored):
    """Bitwise: the stored checkpoint at t (through Parquet) = the in-memory checkpoint of the
    same two-member ensemble = the last checkpoint of that ensemble trained for t steps only,
    whose penalized matrices are also the engine's float64 ``final``."""
    family, cfgs, out, _ = stored
    _, runtime, _ = FAMILIES[family]
    data = runtime.make_data(cfgs[0])
    long = runtime.run_batch([data], [cfgs], device="cpu", save_iterates=K)
    assert list(long.iterate_steps) == KEPT
    names = [n for n, _ in long.iterate_tensors]
    for i, t in enumerate(KEPT[1:], 1):
        short_cfgs = [dataclasses.replace(c, steps=t) for c in cfgs]
        short = runtime.run_batch([data], [short_cfgs], device="cpu", save_iterates=1)
        for r, cfg in enumerate(cfgs):
            got = flat(checkpoints.load(out, cfg.run_id(), t))
            np.testing.assert_array_equal(got, long.iterates[i, r])
            np.testing.assert_array_equal(got, short.iterates[-1, r])
            # the penalized (2-D) tensors, in order, are the engine's final matrices
            offs = np.cumsum([0] + [int(np.prod(s)) for _, s in long.iterate_tensors])
            mats = [got[a:b] for (n, s), a, b in zip(long.iterate_tensors, offs[:-1], offs[1:])
                    if len(s) == 2]
            np.testing.assert_array_equal(np.concatenate(mats), short.final[r])
    assert names == [n for n, _ in fresh(cfgs[0]).named_parameters()]


def test_loaded_module_gives_the_logged_accuracies_exactly(stored):
    family, cfgs, out, res = stored
    _, runtime, _ = FAMILIES[family]
    data = runtime.make_data(cfgs[0])
    xtr, ytr, xte, yte = split(cfgs[0], data)
    for cfg in cfgs:
        rid = cfg.run_id()
        assert checkpoints.config(out, rid) == cfg  # rebuilt from the runs row
        curve = res.curve(rid).set_index("step")
        for t in KEPT:
            # every family builds its module from the run's config (runtime hook)
            mod = checkpoints.load_module(out, rid, t)
            assert not mod.training
            with torch.no_grad():
                for x, y, col in ((xtr, ytr, "train_accuracy"), (xte, yte, "test_accuracy")):
                    acc = float((mod(x).argmax(-1) == y).double().mean())
                    assert acc == curve[col].loc[t], (family, t, col)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_member_of_an_ensemble_saves_the_weights_it_saves_alone(family):
    """Three members together (one chunk), in chunks of one (the engine's max_members), and
    each alone: the same checkpoints.  Chunks of one are solo programs, so bitwise; the stacked
    chunk to float rounding (a batched product sums in another order): measured max |diff|
    0 here, bounded at 1e-5 relative as tests/test_ensemble.py."""
    cls, runtime, kw = FAMILIES[family]
    cfgs = members(family) + [cls(**{**kw, "lr": 3e-3}, seed=2, weight_decay=0.1)]
    data = runtime.make_data(cfgs[0])
    together = runtime.run_batch([data], [cfgs], device="cpu", save_iterates=2)
    alone = [runtime.run_batch([data], [[c]], device="cpu", save_iterates=2) for c in cfgs]
    for r, solo in enumerate(alone):
        np.testing.assert_array_equal(solo.iterate_steps, together.iterate_steps)
        np.testing.assert_allclose(together.iterates[:, r], solo.iterates[:, 0], rtol=1e-5,
                                   atol=1e-6)
    if family == "sparse-parity":  # the chunking of run_net_batch itself
        chunked = run_net_batch([data], [cfgs], PARITY, max_members=1, save_iterates=2)
        for r, solo in enumerate(alone):
            np.testing.assert_array_equal(chunked.iterates[:, r], solo.iterates[:, 0])


def test_diverged_member_is_nan_from_its_divergence_the_other_untouched():
    base = dict(bits=8, relevant_bits=2, n_train=40, n_test=40, width=16, optimizer="sgd",
                loss="mse", **SCHEDULE)
    ok, bad = SparseParityConfig(**base, lr=1e-2, seed=1), SparseParityConfig(**base, lr=1e6)
    data = parity_runtime.make_data(ok)
    res = parity_runtime.run_batch([data], [[ok, bad]], device="cpu", save_iterates=1)
    lost = np.isnan(res.metrics["train_loss"][:, 1])
    assert lost.any() and not lost[0]  # sgd at lr 1e6 on the squared loss blows up
    np.testing.assert_array_equal(np.isnan(res.iterates[:, 1]).all(1), lost)
    assert not np.isnan(res.iterates[:, 1][~lost]).any()
    solo = parity_runtime.run_batch([data], [[ok]], device="cpu", save_iterates=1)
    np.testing.assert_allclose(res.iterates[:, 0], solo.iterates[:, 0], rtol=1e-5, atol=1e-6)


def test_resume_keeps_the_checkpoints_and_adds_the_new_runs(tmp_path):
    out = tmp_path / "o"
    a, b = members("sparse-parity")
    execute([a], out=out, save_iterates=K)
    first = checkpoints.load(out, a.run_id(), 30)
    execute([a, b], out=out, save_iterates=K)  # a is skipped, b trained
    assert len(groklab.load(out).runs) == 2
    for n, v in checkpoints.load(out, a.run_id(), 30).items():
        torch.testing.assert_close(v, first[n], rtol=0, atol=0)
    assert checkpoints.steps(out, b.run_id()) == KEPT


def test_estimate_counts_the_checkpoints():
    """checkpoint_points counts what iterate_log_indices keeps: 0, K, 2K, ... and the last,
    i.e. ceil(n / K) points plus the last when n - 1 is not a multiple of K (closed form); the
    transformer's count of its parameters (config.py, no torch) is its module's;
    --save-iterates raises the disk and memory estimates by the checkpoints' float32 bytes at
    least."""
    for n in range(1, 40):
        for k in range(1, 12):
            want = -(-n // k) + ((n - 1) % k != 0)
            assert checkpoint_points(n, k) == len(iterate_log_indices(n, k)) == want, (n, k)
    assert checkpoint_points(10, 0) == 0 and checkpoint_points(10, True) == 10
    for extra in (dict(), dict(layers=2, layer_norm="pre"), dict(layers=3, mlp_width=7)):
        cfg = ModularConfig(**{**FAMILIES["transformer"][2], **extra})
        named = list(ModularTransformer(cfg).named_parameters())
        assert cfg.checkpoint_size() == (sum(p.numel() for _, p in named), len(named))
    for family in FAMILIES:
        cfg = members(family)[0]
        weights = sum(p.numel() for p in fresh(cfg).parameters())
        no = cfg.resources(runs=4, data_sets=1, log_points=5, save_iterates=False)
        yes = cfg.resources(runs=4, data_sets=1, log_points=5, save_iterates=K)
        assert yes["disk"] - no["disk"] >= 3 * 4 * weights  # 3 kept points, float32
        assert yes["batch"] - no["batch"] >= 4 * 3 * 4 * weights


def test_cli_save_iterates_end_to_end(tmp_path):
    out = tmp_path / "sp"
    args = ["run", "sparse-parity", "--bits", "8", "--relevant-bits", "2", "--n-train", "40",
            "--n-test", "40", "--width", "16", "--steps", "40", "--log-every", "10",
            "--log-dense-until", "0", "--l1", "0,1e-3", "--out", out, "--quiet"]
    dry = cli(*args, "--save-iterates", "3", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert not out.exists()
    p = cli(*args, "--save-iterates", "3")
    assert p.returncode == 0, p.stderr
    res = groklab.load(out)
    for rid in res.runs.run_id:
        assert checkpoints.steps(out, rid) == KEPT
        mod = checkpoints.load_module(out, rid, 40)
        cfg = checkpoints.config(out, rid)
        data = parity_runtime.make_data(cfg)
        with torch.no_grad():
            acc = float((mod(data.x_test).argmax(-1) == data.y_test).double().mean())
        assert acc == float(res.runs.set_index("run_id").final_test_accuracy.loc[rid])
    bad = cli(*args[:-3], "--out", tmp_path / "bad", "--quiet", "--save-iterates", "0.5")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert not (tmp_path / "bad").exists()
