"""Convex basis-pursuit baseline (--method basis-pursuit, families/sparse_recovery/convex.py)."""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from groklab.fields import ConfigError
from groklab.families.sparse_recovery.config import SparseRecoveryConfig

from conftest import assert_png, cli

pytest.importorskip("cvxpy")


def _run(tmp_path, **kw):
    from groklab.driver import execute
    cfg = SparseRecoveryConfig(method="basis-pursuit", **kw)
    return execute([cfg], out=tmp_path / "bp", quiet=True)


def test_basis_pursuit_recovers_a_star_with_enough_measurements(tmp_path):
    from groklab.families.sparse_recovery.data import make_data
    # s log(n/s) = 3 ln(50/3) ~ 8.4: N = 30 is well above
    kw = dict(dim=50, sparsity=3, measurements=30, seed=2)
    res = _run(tmp_path, **kw)
    row = res.runs.iloc[0]
    a_star = make_data(SparseRecoveryConfig(**kw)).a_star.numpy()
    assert np.abs(np.asarray(row.final_a) - a_star).max() < 1e-6
    assert row.status == "done" and row.t1 == 0 and row.t2 == 0 and row.delta_t == 0
    c = res.curve(row.run_id)
    assert c.step.tolist() == [0]  # one logged point: the solution
    assert c.test_error.iloc[0] < 1e-6 and bool(c.support_recovered.iloc[0])


def test_basis_pursuit_fails_far_below_the_transition(tmp_path):
    res = _run(tmp_path, dim=50, sparsity=3, measurements=5, seed=2)
    row = res.runs.iloc[0]
    assert row.final_test_error > 0.1
    assert row.final_train_error < 1e-6  # it still fits the measurements
    assert row.t1 == 0 and pd.isna(row.t2)  # fitted, never generalized: "fitted only"


def test_basis_pursuit_needs_depth_one():
    with pytest.raises(ConfigError, match="--method"):
        SparseRecoveryConfig(method="basis-pursuit", depth=2, init="random")


def test_missing_cvxpy_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "cvxpy", None)  # import cvxpy -> ImportError
    with pytest.raises(ConfigError, match="--method.*cvxpy"):
        _run(tmp_path, dim=20, sparsity=2, measurements=10)


def test_cli_basis_pursuit_sweep_and_plot(tmp_path):
    out = tmp_path / "bpcli"
    r = cli("run", "sparse-recovery", "--method", "basis-pursuit", "--dim", 30, "--sparsity", 2,
            "--measurements", "4,20", "--quiet", "--out", out)
    assert r.returncode == 0, r.stderr
    r = cli("plot", out)
    assert r.returncode == 0, r.stderr
    assert_png(out / "plot.png")
