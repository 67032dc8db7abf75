"""The sparse-parity family: labels by construction, the relevant-mass measure in closed form,
CLI behaviour, and the science at small scale."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import groklab

from groklab.families.sparse_parity import runtime
from groklab.families.sparse_parity.config import SparseParityConfig
from groklab.families.sparse_parity.data import make_parity_data
from groklab.families.sparse_parity.model import build, relevant_mass
from groklab.fields import ConfigError

from conftest import cli


def test_labels_are_the_parity_of_the_hidden_bits():
    cfg = SparseParityConfig(bits=10, relevant_bits=4, n_train=300, n_test=200, data_seed=3)
    d = make_parity_data(cfg)
    S = d.relevant.numpy()
    assert len(set(S.tolist())) == 4 and (np.diff(S) > 0).all() and S.max() < 10
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        x = x.numpy()
        assert set(np.unique(x)) == {-1.0, 1.0}
        want = np.array([1 if np.prod(row[S]) < 0 else 0 for row in x])  # by construction
        np.testing.assert_array_equal(y.numpy(), want)
        assert 0.35 < y.float().mean() < 0.65  # parity of uniform bits is balanced
    # another data seed: another hidden set or other inputs; the same seed: the same data
    d2 = make_parity_data(SparseParityConfig(bits=10, relevant_bits=4, n_train=300, n_test=200,
                                             data_seed=3))
    torch.testing.assert_close(d2.x_train, d.x_train)
    d3 = make_parity_data(SparseParityConfig(bits=10, relevant_bits=4, n_train=300, n_test=200,
                                             data_seed=4))
    assert not torch.equal(d3.x_train, d.x_train)


def test_init_is_independent_of_the_data():
    """seed == data_seed must not make the init a function of the inputs: separate streams."""
    cfg = SparseParityConfig(bits=8, relevant_bits=2, width=8, seed=0, data_seed=0)
    W1 = build(cfg)[0].weight.detach()  # (8, 8)
    x = make_parity_data(cfg).x_train[:8]
    c = torch.corrcoef(torch.stack([W1.flatten(), x.flatten()]))[0, 1]
    assert abs(float(c)) < 0.5


def test_relevant_mass_closed_form():
    """W1 with |a| on the k relevant columns and |b| elsewhere: k a / (k a + (n - k) b)."""
    n, k, width, a, b = 7, 2, 5, 0.3, 0.1
    S = torch.tensor([1, 4])
    W = torch.full((width, n), -b)
    W[:, S] = a
    want = k * a / (k * a + (n - k) * b)
    assert float(relevant_mass(W, S)) == pytest.approx(want, rel=1e-6)
    W2 = torch.zeros(3, width, n)  # batched over members, and 1 when only S is read
    W2[:, :, S] = torch.randn(3, width, k)
    torch.testing.assert_close(relevant_mass(W2, S), torch.ones(3))


@pytest.mark.parametrize("kw,option", [(dict(bits=3, relevant_bits=4), "relevant-bits"),
                                       (dict(bits=0), "bits"), (dict(optimizer="lbfgs"), "optimizer"),
                                       (dict(init_scale=0.0), "init-scale")])
def test_config_errors(kw, option):
    with pytest.raises(ConfigError, match=f"--{option}"):
        SparseParityConfig(**kw)


@pytest.mark.parametrize("args", [["--save-iterates", "-2"], ["--bits", "0"]])
def test_cli_bad_input_exits_2(tmp_path, args):
    """Bad input: one line, exit 2, nothing written.  (--save-iterates itself works:
    tests/test_net_checkpoints.py; more bad values: test_config_errors, in-process.)"""
    r = cli("run", "sparse-parity", "--steps", "5", "--bits", "6", "--n-train", "20",
            "--n-test", "20", "--width", "8", *args, "--out", tmp_path / "r", "--quiet")
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert args[0] in r.stderr
    assert not (tmp_path / "r").exists()


def test_cli_run_writes_tables(tmp_path):
    out = tmp_path / "sp"
    r = cli("run", "sparse-parity", "--bits", "8", "--relevant-bits", "2", "--n-train", "40",
            "--n-test", "40", "--width", "16", "--steps", "20", "--log-every", "5",
            "--l1", "0,1e-3", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    res = groklab.load(out)
    runs, curves = res.runs, res.curves
    assert len(runs) == 2 and (runs.status == "done").all()
    for col in ("t1", "t2", "final_test_accuracy", "final_relevant_mass", "relevant",
                "chance_relevant_mass"):
        assert col in runs
    c = curves[curves.run_id == runs.run_id[0]].sort_values("step")
    np.testing.assert_allclose(c.train_error, 1 - c.train_accuracy)
    assert c.relevant_mass.iloc[0] == pytest.approx(2 / 8, abs=0.1)  # ~ k / n at init


def test_member_of_a_sweep_equals_its_solo_run():
    base = dict(bits=8, relevant_bits=2, n_train=40, n_test=40, width=16, steps=40,
                log_every=10, batch_size=16)
    cfgs = [SparseParityConfig(**base, l1=1e-3, seed=1), SparseParityConfig(**base, l2=1e-2,
            seed=2, lr=3e-3), SparseParityConfig(**base, init_scale=3.0, seed=3)]
    d = runtime.make_data(cfgs[0])
    ens = runtime.run_batch([d], [cfgs], device="cpu", save_iterates=False)
    for r, c in enumerate(cfgs):
        solo = runtime.run_batch([d], [[c]], device="cpu", save_iterates=False)
        for k in ("train_loss", "test_loss", "relevant_mass"):
            np.testing.assert_allclose(ens.metrics[k][:, r], solo.metrics[k][:, 0], rtol=1e-5)


@pytest.mark.numerics
def test_l1_makes_the_mlp_grok_and_concentrate_on_the_hidden_bits():
    """n = 14, k = 3, 200 examples, width 64, AdamW lr 1e-3, 1200 full-batch steps, data seed 0,
    init seeds 0-3 (not picked: the first four).  Measured (streams of engine version 2): with
    l1 = 3e-3 all memorize (train accuracy 0.99 at steps 500-620) and reach test accuracy 0.98-1
    with 0.72-1.0 of |W1| on the 3 relevant inputs (chance 3/14 = 0.21); test accuracy 0.9 comes
    20-310 steps after memorization, so the curves are logged every 10 steps (at every 40th the
    two fell into one log interval for seed 2).  Without a penalty they memorize sooner (step
    270-300) and stay at 0.61-0.73 test accuracy, relevant mass 0.25-0.30."""
    base = dict(bits=14, relevant_bits=3, n_train=200, n_test=1000, width=64, steps=1200,
                log_every=10, log_dense_until=0, lr=1e-3, optimizer="adamw")
    cfgs = [SparseParityConfig(**base, l1=l1, seed=s) for l1 in (3e-3, 0.0) for s in range(4)]
    d = runtime.make_data(cfgs[0])
    res = runtime.run_batch([d], [cfgs], device="cpu", save_iterates=False)
    m = res.metrics
    assert (m["train_accuracy"][-1] >= 0.98).all()  # everyone memorizes
    pen, plain = slice(0, 4), slice(4, 8)
    assert (m["test_accuracy"][-1, pen] >= 0.9).all()
    assert (m["test_accuracy"][-1, plain] <= 0.75).all()
    assert (m["relevant_mass"][-1, pen] >= 2 * 3 / 14).all()
    assert m["relevant_mass"][-1, plain].max() < m["relevant_mass"][-1, pen].min()
    # memorization comes first: train accuracy 0.99 is reached before test accuracy 0.9
    for r in range(4):
        t_train = res.steps[np.argmax(m["train_accuracy"][:, r] >= 0.99)]
        t_test = res.steps[np.argmax(m["test_accuracy"][:, r] >= 0.9)]
        assert t_train < t_test
