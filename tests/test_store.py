"""The results store: atomic writes, resume after a kill, re-detection without re-simulation."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import groklab
from groklab.detect import Detection
from groklab.detect import threshold_time
import groklab.store as store_mod
from groklab.results import load
from groklab.session import Session
from groklab.store import Store, atomic_write_parquet

from conftest import REPO, tiny

GRID = dict(dim=20, sparsity=2, measurements=10, lr=0.05, l1=[1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2],
            steps=400, log_every=50, log_dense_until=50)
N_RUNS = 5


def comparable(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs table without the measured wall time, arrays as tuples, sorted by run id."""
    df = runs.drop(columns=["wall_time_s"]).sort_values("run_id").reset_index(drop=True)
    for c in df.columns:
        if df[c].dtype == object and len(df) and isinstance(df[c].iloc[0], (list, np.ndarray)):
            df[c] = [tuple(np.asarray(v).tolist()) for v in df[c]]
    return df


def assert_complete(out: Path, n_runs: int):
    res = load(out)
    assert len(res.runs) == n_runs
    assert res.runs.run_id.is_unique
    assert (res.runs.status == "done").all()
    per_run = res.curves.groupby("run_id").step
    assert set(per_run.groups) == set(res.runs.run_id)
    sizes = per_run.size()
    assert sizes.nunique() == 1  # same schedule, no duplicated or missing rows
    assert (per_run.nunique() == sizes).all()
    return res


# ---------------------------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------------------------
def test_atomic_write_roundtrip_no_temp_files(tmp_path):
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, np.nan]})
    p = tmp_path / "t.parquet"
    atomic_write_parquet(df, p)
    pd.testing.assert_frame_equal(pd.read_parquet(p), df)
    assert os.listdir(tmp_path) == ["t.parquet"]


def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch):
    p = tmp_path / "t.parquet"
    old = pd.DataFrame({"a": [1, 2, 3]})
    atomic_write_parquet(old, p)
    real = store_mod.pq.write_table

    def half_then_crash(table, path, *args, **kwargs):
        # write a truncated file where we were asked to, then die mid-write
        real(table, path, *args, **kwargs)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) // 2])
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(store_mod.pq, "write_table", half_then_crash)
    with pytest.raises(OSError, match="simulated"):
        atomic_write_parquet(pd.DataFrame({"a": [9] * 1000}), p)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(pd.read_parquet(p), old)  # the old table, whole
    assert os.listdir(tmp_path) == ["t.parquet"]  # and no temp file left behind


def test_atomic_write_failure_without_old_file_leaves_nothing(tmp_path, monkeypatch):
    def crash(table, path, *a, **k):
        Path(path).write_bytes(b"PAR1 half")
        raise RuntimeError("boom")

    monkeypatch.setattr(store_mod.pq, "write_table", crash)
    with pytest.raises(RuntimeError):
        atomic_write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
    assert os.listdir(tmp_path) == []


def finished(root) -> set:
    return Session(root, {"command_id": "t"}, []).finished_ids()


def test_part_without_commit_marker_is_ignored(tmp_path):
    """Curves are written before the runs file; a part whose runs file never landed is ignored."""
    store = Store(tmp_path)
    runs = pd.DataFrame({"run_id": ["a"], "status": ["done"], "x": [1.0]})
    curves = pd.DataFrame({"run_id": ["a", "a"], "step": [0, 1], "train_error": [1.0, 0.5]})
    store.write_part(runs, curves)
    orphan = pd.DataFrame({"run_id": ["b", "a"], "step": [0, 0], "train_error": [9.0, 9.0]})
    atomic_write_parquet(orphan, store.path("curves", "99999999999999999999-deadbeef-1-abc"))
    assert finished(tmp_path) == {"a"}
    res = load(tmp_path)
    assert list(res.runs.run_id) == ["a"]
    pd.testing.assert_frame_equal(res.curves.reset_index(drop=True), curves)


def test_newest_runs_row_wins(tmp_path):
    store = Store(tmp_path)
    store.write_part(pd.DataFrame({"run_id": ["a", "b"], "status": ["done", "done"], "t2": [10, 20]}))
    store.write_part(pd.DataFrame({"run_id": ["a"], "status": ["done"], "t2": [99]}))
    runs = load(tmp_path).runs.set_index("run_id")
    assert runs.loc["a", "t2"] == 99 and runs.loc["b", "t2"] == 20 and len(runs) == 2


# ---------------------------------------------------------------------------------------------
# resume, in process: an interrupt on the 3rd batch
# ---------------------------------------------------------------------------------------------
def test_resume_after_interrupt_in_process(tmp_path, engine_spy):
    ref = groklab.sweep(GRID, out=tmp_path / "ref", batch_size=1)
    assert len(ref.runs) == N_RUNS

    out = tmp_path / "out"
    spy = engine_spy(raise_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        groklab.sweep(GRID, out=out, batch_size=1)
    first = spy.runs
    assert len(first) == 2  # two batches of one run finished before the interrupt
    partial = load(out)
    assert sorted(partial.runs.run_id) == sorted(first)  # exactly the committed runs, whole

    spy = engine_spy()
    res = groklab.sweep(GRID, out=out, batch_size=1)
    # finished runs are not recomputed; every remaining run is computed once
    assert len(spy.runs) == N_RUNS - 2 and len(set(spy.runs)) == N_RUNS - 2
    assert not set(spy.runs) & set(first)
    assert set(spy.runs) | set(first) == set(ref.runs.run_id)
    full = assert_complete(out, N_RUNS)
    pd.testing.assert_frame_equal(comparable(full.runs), comparable(ref.runs))
    pd.testing.assert_frame_equal(
        full.curves.sort_values(["run_id", "step"]).reset_index(drop=True),
        ref.curves.sort_values(["run_id", "step"]).reset_index(drop=True))
    assert len(res.runs) == N_RUNS

    # a third call computes nothing
    spy = engine_spy()
    again = groklab.sweep(GRID, out=out, batch_size=1)
    assert spy.calls == []
    pd.testing.assert_frame_equal(comparable(again.runs), comparable(full.runs))


def test_crash_between_curves_and_commit_recomputes_that_batch(tmp_path, engine_spy, monkeypatch):
    real = store_mod.os.replace
    n_commits = {"k": 0}

    def flaky(src, dst):
        if Path(dst).parent.name == "runs":
            n_commits["k"] += 1
            if n_commits["k"] == 2:
                raise KeyboardInterrupt  # dies after the 2nd batch's curves landed in curves/
        return real(src, dst)

    monkeypatch.setattr(store_mod.os, "replace", flaky)
    spy = engine_spy()
    with pytest.raises(KeyboardInterrupt):
        groklab.sweep(GRID, out=tmp_path, batch_size=1)
    monkeypatch.setattr(store_mod.os, "replace", real)
    assert len(spy.runs) == 2
    assert finished(tmp_path) == {spy.runs[0]}  # the 2nd batch never committed
    spy2 = engine_spy()
    groklab.sweep(GRID, out=tmp_path, batch_size=1)
    assert spy2.runs[0] == spy.runs[1] and len(spy2.runs) == N_RUNS - 1
    assert_complete(tmp_path, N_RUNS)  # the orphan curves part did not duplicate rows


# ---------------------------------------------------------------------------------------------
# resume, for real: the CLI process SIGKILLs itself when its 3rd batch starts
# ---------------------------------------------------------------------------------------------
DRIVER = textwrap.dedent('''
    """Run the groklab CLI, logging every run id the engine is asked to compute and SIGKILLing
    this process (no cleanup, no finally) at the start of engine call number KILL_AT."""
    import os, signal, sys
    import groklab.cli, groklab.families.sparse_recovery.engine as lin
    import groklab.families.sparse_recovery.runtime  # noqa: F401  (everything that may bind the engine)
    log, kill_at = sys.argv[1], int(sys.argv[2])
    orig, calls = lin.run_sparse_batch, [0]

    def spy(datas, cfgs, *a, **k):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        with open(log, "a") as f:
            f.writelines(c.run_id() + "\\n" for row in cfgs for c in row)
        return orig(datas, cfgs, *a, **k)

    for name, mod in list(sys.modules.items()):
        if name.startswith("groklab") and getattr(mod, "run_sparse_batch", None) is orig:
            setattr(mod, "run_sparse_batch", spy)
    sys.exit(groklab.cli.main(sys.argv[3:]))
''')

CLI_ARGS = ["run", "sparse-recovery", "--dim", "20", "--sparsity", "2", "--measurements", "10",
            "--lr", "0.05", "--l1", "1e-3,2e-3,4e-3,8e-3,1.6e-2", "--steps", "400",
            "--log-every", "50", "--log-dense-until", "50", "--runs-per-batch", "1", "--quiet"]


def _drive(tmp_path, out, log, kill_at, *extra):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(driver), str(log), str(kill_at), *CLI_ARGS,
                           "--out", str(out), *extra], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)


def _logged(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_resume_after_sigkill(tmp_path):
    out, log = tmp_path / "out", tmp_path / "calls.log"
    p = _drive(tmp_path, out, log, 3)
    assert p.returncode == -9, p.stderr  # killed, not a clean exit
    first = _logged(log)
    assert len(first) == 2 and len(set(first)) == 2
    assert finished(out) == set(first)
    assert len(load(out).runs) == 2

    log2 = tmp_path / "calls2.log"
    p = _drive(tmp_path, out, log2, 0)
    assert p.returncode == 0, p.stderr
    second = _logged(log2)
    assert len(second) == N_RUNS - 2 and len(set(second)) == N_RUNS - 2
    assert not set(second) & set(first)  # finished runs are not recomputed
    full = assert_complete(out, N_RUNS)
    assert set(full.runs.run_id) == set(first) | set(second)

    # identical numbers to an uninterrupted run of the same command
    ref_out = tmp_path / "ref"
    p = _drive(tmp_path, ref_out, tmp_path / "calls_ref.log", 0)
    assert p.returncode == 0, p.stderr
    ref = load(ref_out)
    pd.testing.assert_frame_equal(comparable(full.runs), comparable(ref.runs))
    pd.testing.assert_frame_equal(
        full.curves.sort_values(["run_id", "step"]).reset_index(drop=True),
        ref.curves.sort_values(["run_id", "step"]).reset_index(drop=True))

    # re-detection with another threshold rewrites t2 from the stored curves, simulating nothing
    log3 = tmp_path / "calls3.log"
    p = _drive(tmp_path, out, log3, 1, "--test-threshold", "0.5")  # any engine call would die
    assert p.returncode == 0, p.stderr
    assert _logged(log3) == []
    _check_redetected(out, 0.5)


def _check_redetected(out, thr):
    res = load(out)
    assert (res.runs.test_threshold == thr).all()
    changed = 0
    for _, row in res.runs.iterrows():
        c = res.curves[res.curves.run_id == row.run_id].sort_values("step")
        expect = threshold_time(c.step.to_numpy(), c.test_error.to_numpy(), thr)
        assert expect is not None  # every run's test error passes 0.5 at some point
        assert row.t2 == expect and row.t2_rule == "threshold"
        changed += 1
    assert changed == N_RUNS


def test_redetect_in_process_without_simulation(tmp_path, engine_spy):
    before = groklab.sweep(GRID, out=tmp_path, batch_size=1)
    spy = engine_spy(raise_on_call=1, exc=AssertionError)  # any simulation fails the test
    det = Detection(test_threshold=0.5, train_threshold=0.2)
    after = groklab.sweep(GRID, out=tmp_path, batch_size=1, detection=det)
    assert spy.calls == []
    _check_redetected(tmp_path, 0.5)
    assert (after.runs.train_threshold == 0.2).all()
    # 0.5 is far above the default 1e-3: the thresholds really moved t2 earlier
    b = before.runs.set_index("run_id")
    for _, row in after.runs.iterrows():
        assert pd.isna(b.loc[row.run_id, "t2"]) or row.t2 <= b.loc[row.run_id, "t2"]
    assert (after.runs.set_index("run_id").t2.fillna(-1) != b.t2.fillna(-1)).any()
    # the numbers that do not depend on detection are untouched
    keep = ["final_train_error", "final_test_error", "final_l1_norm", "final_l2_norm"]
    pd.testing.assert_frame_equal(after.runs.set_index("run_id").loc[b.index, keep], b[keep])


def test_a_directory_of_the_old_layout_is_read_and_then_migrated(tmp_path, engine_spy):
    """Before the partitioned layout: OUT/parts/<id>.{runs,curves}.parquet plus consolidated
    OUT/runs.parquet and OUT/curves.parquet.  Readers read it as it is; the next sweep moves the
    parts into runs/ and curves/ and computes only what is missing."""
    new = groklab.sweep(GRID, out=tmp_path / "new", batch_size=1)
    old = tmp_path / "old"
    (old / "parts").mkdir(parents=True)
    three = sorted(new.runs.run_id)[:3]
    runs = new.runs[new.runs.run_id.isin(three)]
    curves = new.curves[new.curves.run_id.isin(three)]
    pid = "01700000000000000000-deadbeef"
    curves.to_parquet(old / "parts" / f"{pid}.curves.parquet", index=False)
    runs.to_parquet(old / "parts" / f"{pid}.runs.parquet", index=False)
    runs.to_parquet(old / "runs.parquet", index=False)
    curves.to_parquet(old / "curves.parquet", index=False)
    assert sorted(load(old).runs.run_id) == three
    spy = engine_spy()
    res = groklab.sweep(GRID, out=old, batch_size=1)
    assert sorted(spy.runs) == sorted(set(new.runs.run_id) - set(three))
    assert not (old / "parts").exists() and not (old / "runs.parquet").exists()
    pd.testing.assert_frame_equal(comparable(res.runs), comparable(new.runs))


def test_runs_stored_before_a_detection_setting_existed_are_re_read(tmp_path, engine_spy):
    """A Detection field added later (as plateau_slope was) is missing from older runs files:
    the rerun re-reads their t1/t2 from the curves with today's settings, simulating nothing."""
    groklab.sweep(GRID, out=tmp_path, batch_size=1)
    store = Store(tmp_path)
    for pid in store.committed():
        df = store.read_part("runs", pid).drop(columns=["plateau_slope"])
        store.rewrite_runs(pid, df)
    assert "plateau_slope" not in load(tmp_path).runs
    spy = engine_spy(raise_on_call=1, exc=AssertionError)
    again = groklab.sweep(GRID, out=tmp_path, batch_size=1)
    assert spy.calls == []
    assert (again.runs.plateau_slope == Detection().plateau_slope).all()
