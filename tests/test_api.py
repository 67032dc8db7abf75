"""Configs, run ids, grids, logging schedules and the Python API (in process, tiny)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

import groklab
from groklab.fields import ConfigError
from groklab.families.sparse_recovery.config import SparseRecoveryConfig
from groklab.family import make_config
from groklab.schedule import log_steps

from conftest import sweep_module, tiny


# ---------------------------------------------------------------------------------------------
# run ids
# ---------------------------------------------------------------------------------------------
def test_run_id_is_a_function_of_the_values():
    assert tiny().run_id() == tiny().run_id()
    assert tiny(lr=0.05).run_id() == tiny(lr=float("0.05")).run_id()
    assert len(tiny().run_id()) >= 12


def test_int_and_float_values_give_the_same_run_id():
    assert tiny(l1=0).run_id() == tiny(l1=0.0).run_id()  # the CLI parses `--l1 0` as 0.0
    assert tiny(lr=1).run_id() == tiny(lr=1.0).run_id()


ALTERNATIVES = dict(dim=21, sparsity=3, measurements=11, basis="orthonormal", tau=0.5, snr=1e6,
                    measurement_variance="1/n", seed=2, method="ista", lr=0.04, l1=2e-3, l2=1e-3,
                    init="random", init_scale=2e-6, steps=201, log_every=51, log_dense_until=51,
                    log_spacing="log")


def test_every_config_field_changes_the_run_id():
    base = tiny()
    names = {f.name for f in dataclasses.fields(SparseRecoveryConfig)}
    assert len(names & set(ALTERNATIVES)) == len(ALTERNATIVES)  # all still config fields
    for name in names & set(ALTERNATIVES):
        other = dataclasses.replace(base, **{name: ALTERNATIVES[name]})
        assert other.run_id() != base.run_id(), name


def test_data_key_ignores_optimizer_fields():
    a = tiny()
    assert a.data_key() == tiny(lr=0.01, l1=0.5, method="ista", init="random", steps=7).data_key()
    assert a.data_key() != tiny(seed=9).data_key()


def test_make_config_rejects_unknown_fields():
    with pytest.raises(ConfigError, match="--learning-rate"):
        make_config("sparse-recovery", learning_rate=0.1)
    with pytest.raises(ConfigError, match="--problem"):
        make_config("no-such-problem")


@pytest.mark.parametrize("kw,option", [
    (dict(dim=0), "--dim"), (dict(sparsity=30, dim=20), "--sparsity"), (dict(lr=0.0), "--lr"),
    (dict(lr=float("nan")), "--lr"), (dict(l1=-1e-9), "--l1"), (dict(tau=-0.1), "--tau"),
    (dict(snr=0.0), "--snr"), (dict(steps=2.5), "--steps"), (dict(steps=True), "--steps"),
    (dict(method="adam"), "--method"), (dict(init_scale=float("inf")), "--init-scale"),
])
def test_config_validation_names_the_option(kw, option):
    with pytest.raises(ConfigError) as e:
        tiny(**kw)
    msg = str(e.value)
    assert msg.startswith(option) and "\n" not in msg


# ---------------------------------------------------------------------------------------------
# grids
# ---------------------------------------------------------------------------------------------
def test_expand_grid_product_order_and_dedup():
    sw = sweep_module()
    cfgs = sw.expand_grid("sparse-recovery", {"lr": [0.01, 0.02], "l1": [0.0, 1e-3, 1e-2], "dim": 20,
                                              "sparsity": 2, "measurements": 10})
    assert len(cfgs) == 6
    assert [(c.lr, c.l1) for c in cfgs] == [(a, b) for a in (0.01, 0.02) for b in (0.0, 1e-3, 1e-2)]
    dup = sw.expand_grid("sparse-recovery", {"lr": [0.01, 0.01, 0.02], "dim": 20, "sparsity": 2,
                                             "measurements": 10})
    assert len(dup) == 2


def test_plan_batches_covers_every_run_once_and_respects_the_size():
    sw = sweep_module()
    cfgs = [tiny(seed=s, l1=b, method=m) for s in (1, 2, 3) for b in (0.0, 1e-3, 1e-2, 0.1)
            for m in ("subgradient", "ista")]
    for size in (1, 3, 4, 100):
        batches = sw.plan_batches(cfgs, size)
        flat = [c.run_id() for batch in batches for row in batch for c in row]
        assert sorted(flat) == sorted(c.run_id() for c in cfgs)
        for batch in batches:
            runs = [c for row in batch for c in row]
            assert len(runs) <= max(size, 1)
            assert len({c.method for c in runs}) == 1  # one tensor program per method
            for row in batch:  # a row shares its data
                assert len({c.data_key() for c in row}) == 1
            assert len({len(row) for row in batch}) == 1  # rectangular D x B


# ---------------------------------------------------------------------------------------------
# logging schedule
# ---------------------------------------------------------------------------------------------
@given(steps=st.integers(1, 50_000), every=st.integers(1, 5000), dense=st.integers(0, 3000),
       spacing=st.sampled_from(["linear", "log"]))
def test_log_steps_invariants(steps, every, dense, spacing):
    s = log_steps(steps, every, dense, spacing)
    assert s[0] == 0 and s[-1] == steps
    assert np.all(np.diff(s) > 0)
    dense_part = np.arange(0, min(dense, steps + 1))
    assert np.isin(dense_part, s).all()  # every step below dense_until is logged
    if spacing == "linear":
        tail = s[s >= max(dense, 1)]
        assert np.all((tail % every == 0) | (tail == steps))


def test_log_steps_log_spacing_is_per_decade():
    s = log_steps(100_000, every=10, dense_until=100, spacing="log")
    tail = s[s >= 100]
    for lo in (100, 1000, 10_000):
        k = ((tail >= lo) & (tail < 10 * lo)).sum()
        assert 8 <= k <= 11  # about `every` points per decade (rounding can merge a couple)


# ---------------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------------
def test_run_with_config_equals_run_with_fields():
    c = tiny(steps=150)
    a = groklab.run(c)
    b = groklab.run(**{f.name: getattr(c, f.name) for f in dataclasses.fields(c)})
    cols = ["run_id", "t1", "t2", "final_train_error", "final_test_error"]
    pd.testing.assert_frame_equal(a.runs[cols], b.runs[cols])
    assert len(a.runs) == 1 and a.runs.run_id.iloc[0] == c.run_id()
    curve = a.curve(c.run_id())
    assert np.array_equal(curve.step.to_numpy(), log_steps(150, 50, 50))
    with pytest.raises(TypeError):
        groklab.run(c, lr=0.1)


def test_sweep_in_memory_equals_sweep_on_disk(tmp_path):
    grid = dict(dim=20, sparsity=2, measurements=10, lr=0.05, l1=[1e-3, 1e-2], seed=[1, 2], steps=200,
                log_every=50, log_dense_until=50)
    mem = groklab.sweep(grid)
    disk = groklab.sweep(grid, out=tmp_path)
    assert len(mem.runs) == 4 and mem.path is None and disk.path == tmp_path
    key = ["run_id", "t1", "t2", "final_train_error", "final_test_error", "final_l1_norm"]
    pd.testing.assert_frame_equal(mem.runs[key].sort_values("run_id").reset_index(drop=True),
                                  disk.runs[key].sort_values("run_id").reset_index(drop=True))
    reloaded = groklab.load(tmp_path)
    assert set(reloaded.runs.run_id) == set(mem.runs.run_id)


def test_lr_above_bound_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="--lr"):
        groklab.sweep({"dim": 20, "sparsity": 2, "measurements": 10, "lr": [0.05, 5.0], "steps": 10},
                      out=out)
    assert not out.exists()


def test_diverging_engine_run_is_detected_as_never():
    """lr far above 2/lambda_max: the iterate blows up to inf/nan; detection must say never."""
    from groklab.detect import detect
    from groklab.families.sparse_recovery.engine import run_sparse_batch
    from groklab.families.sparse_recovery.data import make_data

    c = tiny(lr=0.05, l1=0.0, steps=2000)
    d = make_data(c)
    bad = dataclasses.replace(c, lr=3 * 2 / d.lambda_max)  # |1 - lr lambda_max| = 5: 5^t blows up
    with np.errstate(all="ignore"):
        res = run_sparse_batch([d], [[bad]])
    e = res.metrics["train_error"][:, 0]
    assert not np.isfinite(e[-1])
    r = detect(res.steps, e, res.metrics["test_error"][:, 0])
    assert r["t1"] is None and r["t2"] is None and r["delta_t"] is None


def test_an_added_option_at_its_default_keeps_earlier_run_ids():
    """Options introduced later (metadata added=True) must not invalidate stored results."""
    import dataclasses as dc

    from groklab.families.sparse_recovery.config import SparseRecoveryConfig
    from groklab.fields import param, run_id

    @dc.dataclass(frozen=True)
    class Extended(SparseRecoveryConfig):
        depth: int = param(1, "a later option", added=True, low=1, high=64)

    base = tiny()
    same = Extended(**dc.asdict(base))
    other = Extended(**{**dc.asdict(base), "depth": 2})
    assert run_id(same) == run_id(base)
    assert run_id(other) != run_id(base)
