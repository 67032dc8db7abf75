"""Progress measures (groklab.progress): lead time before t2 and rank correlation with the test
error over [t1, t2], on synthetic curves whose lead is known by construction."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from groklab.progress import measure_columns, progress_measures, spearman, window_stats

STEPS = np.arange(0, 3001, 10)
T1, T2 = 100, 2000


def sigmoid_drop(t, at, width, hi, lo):
    return lo + (hi - lo) / (1 + np.exp((t - at) / width))


def synthetic():
    """Train error memorized at 100; test error drops around 1800 and crosses 1e-3 at 2000.
    l1_norm makes its move around 605 (a progress measure leading by ~1400 steps), l2_norm
    jumps up at 1900 only, fro_norm bumps and comes back (no net move), grad_fit_norm is a
    gradient norm (not a measure)."""
    train = np.where(STEPS >= T1, 1e-5, 1.0)
    tilt = 1e-6 * (3000 - STEPS)  # keeps the saturated sigmoid tails strictly decreasing
    test = np.where(STEPS >= T2, 1e-4, sigmoid_drop(STEPS, 1800, 40, 0.8, 2e-3) + tilt)
    return pd.DataFrame({
        "run_id": "r", "step": STEPS, "train_error": train, "test_error": test,
        "l1_norm": sigmoid_drop(STEPS, 605, 30, 10.0, 2.0) + tilt,
        "l2_norm": np.where(STEPS >= 1900, 3.0, 1.0) + 1e-6 * STEPS,
        "fro_norm": 1 + np.exp(-((STEPS - 1000) / 100.0) ** 2),
        "grad_fit_norm": np.exp(-STEPS / 500.0),
    })


def test_measure_columns():
    c = synthetic()
    assert measure_columns(c) == ["l1_norm", "l2_norm", "fro_norm", "test_error"]
    c["effective_rank"] = 1.0
    c["fourier_gini"] = 0.5
    assert {"effective_rank", "fourier_gini"} <= set(measure_columns(c))


def test_known_leads():
    c = synthetic()
    runs = pd.DataFrame([dict(run_id="r", t1=T1, t2=T2)]).astype({"t1": "Int64", "t2": "Int64"})
    pm = progress_measures(runs, c).set_index("measure")
    # l1: half of its move (10 -> 2) is done where the sigmoid crosses 6, at t = 605: the first
    # log after it is 610
    assert pm.loc["l1_norm", "t_half"] == 610
    assert pm.loc["l1_norm", "lead"] == T2 - 610
    assert pm.loc["l1_norm", "lead_fraction"] == pytest.approx((T2 - 610) / (T2 - T1))
    # monotone decreasing with the test error over the window: rank correlation +1
    assert pm.loc["l1_norm", "spearman"] == pytest.approx(1.0)
    # l2 moves only at 1900 and the other way: a short lead, correlation near -1
    assert pm.loc["l2_norm", "t_half"] == 1900 and pm.loc["l2_norm", "lead"] == 100
    assert pm.loc["l2_norm", "spearman"] < -0.5
    # the test error's own half-way time is ~1800: l1 leads it, l2 does not
    assert 1780 <= pm.loc["test_error", "t_half"] <= 1820
    assert pm.loc["l1_norm", "lead"] > pm.loc["test_error", "lead"] > pm.loc["l2_norm", "lead"]
    # a bump that comes back (1 + e^-81 == 1.0 at both ends) has no net move: no half-way time
    assert pm.loc["fro_norm", "move"] == 0 and np.isnan(pm.loc["fro_norm", "t_half"])
    assert "grad_fit_norm" not in pm.index


def test_window_stats_fraction():
    m = np.linspace(0, 1, STEPS.size)  # linear in t from 0 to 1 over [0, 3000]
    st = window_stats(STEPS, m, -m, 0, 3000, fraction=0.25)
    assert st["t_half"] == 750 and st["lead"] == 2250 and st["spearman"] == pytest.approx(-1)


def test_spearman_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    a[::7] = a[0]  # ties
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert np.isnan(spearman(np.ones(10), b[:10]))


def test_runs_without_both_times_are_skipped():
    c = synthetic()
    runs = pd.DataFrame([dict(run_id="r", t1=T1, t2=None), dict(run_id="s", t1=50, t2=40)])
    runs = runs.astype({"t1": "Int64", "t2": "Int64"})
    assert progress_measures(runs, c).empty


def test_report_progress_measures(tmp_path, capsys):
    from groklab.cli import main

    c = synthetic()
    runs = pd.DataFrame([dict(run_id="r", problem="sparse-recovery", lr=0.1, l1=1e-3, t1=T1,
                              t2=T2, delta_t=T2 - T1, status="done")])
    runs.to_parquet(tmp_path / "runs.parquet", index=False)
    c.to_parquet(tmp_path / "curves.parquet", index=False)
    assert main(["report", str(tmp_path), "--progress-measures", "--format", "csv"]) == 0
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert list(table.measure) == ["l1_norm", "l2_norm", "fro_norm", "test_error"]
    assert table.set_index("measure").loc["l1_norm", "lead"] == T2 - 610
    runs.assign(t2=None).to_parquet(tmp_path / "runs.parquet", index=False)
    assert main(["report", str(tmp_path), "--progress-measures"]) == 2  # nothing to measure
    assert "--progress-measures" in capsys.readouterr().err
