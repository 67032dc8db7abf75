"""End-to-end: the real ``groklab`` command in a subprocess, at tiny scale."""
from __future__ import annotations

import dataclasses
import io
import itertools
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import groklab

from groklab.families.sparse_recovery.config import SparseRecoveryConfig
from groklab.families.sparse_recovery.data import make_data
from groklab.schedule import log_steps

from conftest import cli

AXES = {"lr": ["0.02", "0.05"], "l1": ["1e-3", "1e-2", "0"], "seed": ["1", "2"]}
FIXED = ["--dim", "20", "--sparsity", "2", "--measurements", "10", "--steps", "300",
         "--log-every", "50", "--log-dense-until", "100"]


def grid_args(out):
    args = ["run", "sparse-recovery", *FIXED]
    for k, v in AXES.items():
        args += [f"--{k}", ",".join(v)]
    return [*args, "--out", str(out), "--quiet"]


@pytest.fixture(scope="module")
def grid_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "grid"
    p = cli(*grid_args(out))
    assert p.returncode == 0, p.stderr
    return out


RUN_COLUMNS = ["run_id", "t1", "t2", "delta_t", "final_train_error", "final_test_error",
               "final_l1_norm", "final_l2_norm", "wall_time_s", "status"]
CURVE_COLUMNS = ["run_id", "step", "train_error", "test_error", "l1_norm", "l2_norm",
                 "grad_fit_norm", "grad_penalty_norm"]


def test_run_writes_documented_tables(grid_out):
    runs = groklab.load(grid_out).runs
    curves = groklab.load(grid_out).curves
    config_fields = [f.name for f in dataclasses.fields(SparseRecoveryConfig)]
    missing = [c for c in RUN_COLUMNS + config_fields if c not in runs.columns]
    assert not missing
    assert not [c for c in CURVE_COLUMNS if c not in curves.columns]
    assert runs.run_id.is_unique and (runs.status == "done").all()
    # the fixed flags arrived in the configs
    assert (runs.dim == 20).all() and (runs.measurements == 10).all() and (runs.steps == 300).all()
    # one curve row per run and logged step, on the documented schedule
    sched = log_steps(300, every=50, dense_until=100)
    for rid, g in curves.groupby("run_id"):
        assert np.array_equal(np.sort(g.step.to_numpy()), sched)
    assert set(curves.run_id) == set(runs.run_id)
    # delta_t = t2 - t1 where both exist
    both = runs.t1.notna() & runs.t2.notna()
    assert (runs.delta_t[both] == (runs.t2 - runs.t1)[both]).all()
    assert runs.delta_t[~both].isna().all()
    # final_* columns are the last logged values
    last = curves.sort_values("step").groupby("run_id").last()
    for m in ("train_error", "test_error", "l1_norm", "l2_norm"):
        np.testing.assert_array_equal(runs.set_index("run_id")[f"final_{m}"].sort_index(),
                                      last[m].sort_index())


def test_comma_lists_make_the_full_grid(grid_out):
    runs = groklab.load(grid_out).runs
    assert len(runs) == math.prod(len(v) for v in AXES.values())
    got = set(zip(runs.lr, runs.l1, runs.seed))
    want = {(float(a), float(b), int(c)) for a, b, c in itertools.product(*AXES.values())}
    assert got == want


def test_rerun_skips_finished_runs(grid_out):
    before = groklab.load(grid_out).runs
    parts_before = sorted((grid_out / "runs").iterdir())
    p = cli(*grid_args(grid_out))
    assert p.returncode == 0, p.stderr
    after = groklab.load(grid_out).runs
    # nothing recomputed: no new committed part, and even the measured wall times are unchanged
    assert sorted((grid_out / "runs").iterdir()) == parts_before
    pd.testing.assert_frame_equal(after.sort_values("run_id").reset_index(drop=True),
                                  before.sort_values("run_id").reset_index(drop=True))


def test_same_command_same_numbers(grid_out, tmp_path):
    out2 = tmp_path / "again"
    p = cli(*grid_args(out2))
    assert p.returncode == 0, p.stderr
    a = groklab.load(grid_out).runs.sort_values("run_id").reset_index(drop=True)
    b = groklab.load(out2).runs.sort_values("run_id").reset_index(drop=True)
    num = [c for c in a.select_dtypes("number").columns if c != "wall_time_s"]
    assert {"t1", "t2", "final_test_error", "lr", "l1"} <= set(num)
    pd.testing.assert_frame_equal(a[["run_id", *num]], b[["run_id", *num]])
    ca = groklab.load(grid_out).curves.sort_values(["run_id", "step"]).reset_index(drop=True)
    cb = groklab.load(out2).curves.sort_values(["run_id", "step"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(ca, cb)


def test_report_table_and_csv(grid_out):
    runs = groklab.load(grid_out).runs
    p = cli("report", grid_out)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == len(runs) + 1  # header + one line per run
    for col in ("run_id", "t1", "t2", "final_test_error"):
        assert col in lines[0]
    for rid in runs.run_id:
        assert sum(rid in ln for ln in lines) == 1

    p = cli("report", grid_out, "--format", "csv")
    assert p.returncode == 0, p.stderr
    df = pd.read_csv(io.StringIO(p.stdout))
    assert len(df) == len(runs) and set(df.run_id) == set(runs.run_id)
    m = df.set_index("run_id").join(runs.set_index("run_id").add_suffix("_pq"))
    np.testing.assert_allclose(m.final_test_error, m.final_test_error_pq, rtol=1e-12)
    assert (m.t2.fillna(-1) == m.t2_pq.astype("float").fillna(-1)).all()


def test_report_redetects_without_rewriting(grid_out):
    """report --test-threshold re-reads t2 from the curves (threshold rule) and prints it."""
    curves = groklab.load(grid_out).curves
    p = cli("report", grid_out, "--format", "csv", "--test-threshold", "0.9")
    assert p.returncode == 0, p.stderr
    df = pd.read_csv(io.StringIO(p.stdout)).set_index("run_id")
    for rid, g in curves.groupby("run_id"):
        g = g.sort_values("step")
        hit = g.step[g.test_error <= 0.9]
        expect = float(hit.iloc[0]) if len(hit) else np.nan
        got = df.loc[rid, "t2"]
        assert (np.isnan(expect) and np.isnan(got)) or got == expect


def test_report_missing_dir(tmp_path):
    p = cli("report", tmp_path / "nothing")
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_version_and_console_script():
    import groklab

    p = cli("--version")
    assert p.returncode == 0 and p.stdout.strip() == groklab.__version__
    # the installed console script (pip install -e, as make test does) is the same entry point
    script = Path(sys.executable).parent / "groklab"
    assert script.exists(), f"no console script next to {sys.executable}: is groklab installed?"
    import subprocess
    q = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert q.returncode == 0 and q.stdout.strip() == groklab.__version__


# ---------------------------------------------------------------------------------------------
# bad input: status 2, one line naming the option, no traceback, nothing written
# ---------------------------------------------------------------------------------------------
BAD = [
    (["--lr", "1.0"], "--lr"),  # above 2 / lambda_max for the default data
    (["--sparsity", "10", "--dim", "5"], "--sparsity"),
    (["--dim", "0"], "--dim"),
    (["--measurements", "-1"], "--measurements"),
    (["--l1", "-1"], "--l1"),
    (["--l1", "-1e-3"], "--l1"),  # exponent notation must not be mistaken for a flag
    (["--lr", "abc"], "--lr"),
    (["--tau", "1.5"], "--tau"),
    (["--method", "foo"], "--method"),
    (["--basis", "foo"], "--basis"),
    (["--init", "foo"], "--init"),
    (["--bogus-flag", "3"], "--bogus-flag"),
    (["--steps", "1.5"], "--steps"),
    (["--l1", "1e-3,"], "--l1"),
    (["--test-threshold", "0.1,0.2"], "--test-threshold"),
    (["--runs-per-batch", "0"], "--runs-per-batch"),
]


@pytest.mark.parametrize("args,option", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input(tmp_path, args, option):
    out = tmp_path / "out"
    p = cli("run", "sparse-recovery", "--steps", "10", *args, "--out", out)
    assert p.returncode == 2
    err = p.stderr.strip().splitlines()
    assert len(err) == 1, p.stderr
    assert option in err[0]
    assert "Traceback" not in p.stderr + p.stdout
    assert not out.exists()


def test_lr_bound_message_prints_the_bound(tmp_path):
    out = tmp_path / "out"
    p = cli("run", "sparse-recovery", "--lr", "1.0", "--l2", "0.5", "--out", out)
    assert p.returncode == 2 and not out.exists()
    nums = re.findall(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?", p.stderr.split("=")[-1])
    assert nums, p.stderr
    X = make_data(SparseRecoveryConfig()).X.numpy()
    bound = 2.0 / (np.linalg.eigvalsh(X.T @ X)[-1] + 0.5)
    assert float(nums[0]) == pytest.approx(bound, rel=1e-5)
    assert float(nums[0]) < 1.0


def test_lr_just_below_bound_is_accepted(tmp_path):
    X = make_data(SparseRecoveryConfig(dim=20, sparsity=2, measurements=10)).X.numpy()
    bound = 2.0 / np.linalg.eigvalsh(X.T @ X)[-1]
    out = tmp_path / "ok"
    p = cli("run", "sparse-recovery", "--dim", "20", "--sparsity", "2", "--measurements", "10",
            "--lr", repr(float(0.999 * bound)), "--l1", "0", "--steps", "20", "--out", out, "--quiet")
    assert p.returncode == 0, p.stderr
    runs = groklab.load(out).runs
    assert runs.status.iloc[0] == "done" and np.isfinite(runs.final_train_error.iloc[0])


@pytest.mark.parametrize("dev,msg", [("tpu", "--device"), ("cuda:99", "--device"),
                                     ("nonsense", "--device")])
def test_bad_device_one_line(tmp_path, dev, msg):
    import torch
    if dev == "cuda:99" and not torch.cuda.is_available():
        msg = "CUDA is not available"
    r = cli("run", "sparse-recovery", "--steps", "10", "--device", dev, "--out", tmp_path / "r",
            "--quiet")
    assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()


def test_reproduce_takes_device(tmp_path):
    r = cli("reproduce", "fig3", "--device", "nonsense", "--out", tmp_path / "f")
    assert r.returncode == 2 and "--device" in r.stderr and "Traceback" not in r.stderr
