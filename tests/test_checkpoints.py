"""--save-iterates for the network families: weights at logged steps, read back as tensors
(docs/checkpoints.md).  The round trip is checked against the engine itself: a checkpoint at
step t equals the final weights of the same config trained for t steps, and loaded into the
model it gives the test error the run logged at t."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import groklab
from groklab import checkpoints
from groklab.families.modular.config import ModularConfig
from groklab.families.modular.data import make_modular_data
from groklab.families.modular.model import forward as modular_forward
from groklab.families.teacher_student.config import TeacherStudentConfig
from groklab.families.teacher_student.data import make_teacher_student_data
from groklab.families.teacher_student.engine import run_teacher_student_batch
from groklab.families.teacher_student.model import forward as ts_forward
from groklab.result import iterate_log_indices
from groklab.schedule import log_steps

from conftest import cli

TS = dict(input_dim=6, hidden=10, outputs=2, train_size=12, test_size=30, steps=60,
          log_every=10, log_dense_until=5, log_spacing="linear", lr=1e-2, l1=1e-3)


def test_log_indices_every_k_and_the_last():
    assert list(iterate_log_indices(10, 1)) == list(range(10))
    assert list(iterate_log_indices(10, 3)) == [0, 3, 6, 9]
    assert list(iterate_log_indices(11, 3)) == [0, 3, 6, 9, 10]
    assert list(iterate_log_indices(1, 5)) == [0]


def test_teacher_student_round_trip(tmp_path):
    out = tmp_path / "ts"
    res = groklab.sweep({**TS, "seed": [0, 1]}, problem="teacher-student", out=out,
                        save_iterates=2)
    logged = log_steps(TS["steps"], TS["log_every"], TS["log_dense_until"], TS["log_spacing"])
    want_steps = [int(s) for s in logged[iterate_log_indices(len(logged), 2)]]
    rid = res.runs.run_id.iloc[0]
    cfg = TeacherStudentConfig(**TS, seed=int(res.runs.seed.iloc[0]))
    assert checkpoints.steps(out, rid) == want_steps
    data = make_teacher_student_data(cfg)
    curve = res.curves[res.curves.run_id == rid].set_index("step")
    for t in (want_steps[1], want_steps[-1]):
        w = checkpoints.load(out, rid, t)
        assert list(w) == ["W", "V"] and w["W"].shape == (10, 6) and w["V"].shape == (2, 10)
        # the same panel trained for t steps ends at exactly these weights (same program)
        short = run_teacher_student_batch([data], [[TeacherStudentConfig(**{**TS, "steps": t},
                                                                         seed=s) for s in (0, 1)]])
        np.testing.assert_array_equal(np.concatenate([w["W"].flatten(), w["V"].flatten()]),
                                      short.final[int(cfg.seed)].astype(np.float32))
        # loaded into the model: the logged test MSE
        pred = ts_forward(w["W"][None].double(), w["V"][None].double(), data.X_test)[0]
        mse = float(((pred - data.Y_test) ** 2).mean())
        assert mse == pytest.approx(curve.test_mse.loc[t], rel=1e-4)
    # one row per (run, kept step, tensor)
    it = groklab.load(out).iterates
    assert len(it) == 2 * len(want_steps) * 2
    with pytest.raises(KeyError):
        checkpoints.load(out, rid, want_steps[1] + 1)


def test_modular_round_trip_with_biases_and_minibatches(tmp_path):
    out = tmp_path / "mod"
    kw = dict(modulus=7, train_fraction=0.5, width=8, architecture="hadamard", batch_size=8,
              steps=40, log_every=10, log_dense_until=0, lr=1e-2, l1=1e-4)
    res = groklab.run(problem="modular", out=out, save_iterates=True, **kw)
    rid = res.runs.run_id.iloc[0]
    cfg = ModularConfig(**kw)
    assert checkpoints.steps(out, rid) == [0, 10, 20, 30, 40]
    data = make_modular_data(cfg)
    curve = res.curves.set_index("step")
    for t in (0, 30, 40):
        w = checkpoints.load(out, rid, t)
        assert list(w) == ["embed", "hidden", "out", "b1", "b2"]
        params = [w[k][None] for k in w]  # a batch of one member
        logits = modular_forward(cfg, params, data.x1[None], data.x2[None])[0]
        correct = (logits.argmax(-1) == data.labels).float()
        assert float(correct[data.test_idx].mean()) == pytest.approx(
            curve.test_accuracy.loc[t], abs=1e-6)
        # the same weights as a plain module (the family's build_module hook): same predictions
        mod = checkpoints.load_module(out, rid, t)
        with torch.no_grad():
            pred = mod(torch.stack([data.x1, data.x2], 1)).argmax(-1)
        assert torch.equal(pred, logits.argmax(-1))


def test_save_iterates_cli_and_bad_values(tmp_path):
    out = tmp_path / "c"
    args = ["run", "teacher-student", "--input-dim", "4", "--hidden", "6", "--train-size", "8",
            "--test-size", "8", "--steps", "30", "--log-dense-until", "0", "--log-every", "10",
            "--log-spacing", "linear", "--out", out, "--quiet"]
    p = cli(*args, "--save-iterates", "2")
    assert p.returncode == 0, p.stderr
    it = groklab.load(out).iterates
    assert sorted(set(it.step)) == [0, 20, 30]
    for bad in ("-1", "x"):
        p = cli(*args[:-3], "--out", tmp_path / "bad", "--quiet", "--save-iterates", bad)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert "save-iterates" in p.stderr or "save_iterates" in p.stderr
        assert not (tmp_path / "bad").exists()


def test_sparse_iterates_keep_every_kth(tmp_path):
    res = groklab.run(dim=10, sparsity=2, measurements=6, steps=50, log_every=10,
                      log_dense_until=0, save_iterates=2, out=tmp_path / "s")
    assert sorted(set(res.iterates.step)) == [0, 20, 40, 50]
