"""Faults of the results directory: full and read-only disks mid-sweep, truncated and deleted
parts, read-only readers, compaction cut short, two identical commands at once, provenance and
the engine-version rule.  Every fault must end in one line, lose no committed run, and resume."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import groklab
import groklab.cli
import groklab.store as store_mod
from groklab import compaction
from groklab import family as registry
from groklab.damage import finish_compactions
from groklab.errors import StoreError
from groklab.results import DamageWarning, load
from groklab.store import Store

from conftest import REPO, cli

GRID = dict(dim=20, sparsity=2, measurements=10, lr=0.05, l1=[1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2],
            steps=400, log_every=50, log_dense_until=50)
N_RUNS = 5
CLI_ARGS = ["run", "sparse-recovery", "--dim", "20", "--sparsity", "2", "--measurements", "10",
            "--lr", "0.05", "--l1", "1e-3,2e-3,4e-3,8e-3,1.6e-2", "--steps", "400",
            "--log-every", "50", "--log-dense-until", "50", "--runs-per-batch", "1", "--quiet"]


def numbers(runs: pd.DataFrame) -> pd.DataFrame:
    keep = ["run_id", "t1", "t2", "final_train_error", "final_test_error", "status"]
    return runs[keep].sort_values("run_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return groklab.sweep(GRID, out=tmp_path_factory.mktemp("ref") / "o", batch_size=1)


def tree(root: Path) -> dict:
    """Every file under root with its size and mtime (to prove a reader wrote nothing)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


# ---------------------------------------------------------------------------------------------
# the disk refuses mid-sweep
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_disk_full_or_read_only_mid_sweep_keeps_committed_runs(tmp_path, monkeypatch, code,
                                                               reference):
    real = store_mod.pq.write_table
    calls = {"k": 0}

    def refusing(table, path, *a, **k):
        calls["k"] += ".staging" in str(path)  # batch files only (not the plan of the sweep)
        if calls["k"] > 4:  # two batches (curves + runs each) land, then the disk refuses
            raise OSError(code, os.strerror(code), str(path))
        return real(table, path, *a, **k)

    monkeypatch.setattr(store_mod.pq, "write_table", refusing)
    out = tmp_path / "o"
    with pytest.raises(StoreError) as err:
        groklab.sweep(GRID, out=out, batch_size=1)
    msg = str(err.value)
    assert "\n" not in msg and os.strerror(code) in msg and "2 runs" in msg and "resume" in msg
    monkeypatch.setattr(store_mod.pq, "write_table", real)
    assert len(load(out).runs) == 2  # the two committed batches, whole
    assert not list((out / ".staging").glob("*.parquet"))  # nothing half-written left staged
    res = groklab.sweep(GRID, out=out, batch_size=1)
    pd.testing.assert_frame_equal(numbers(res.runs), numbers(reference.runs))


DISK_FULL_DRIVER = textwrap.dedent('''
    import errno, os, sys
    import groklab.cli, groklab.store as s
    real, calls = s.pq.write_table, [0]
    def refusing(table, path, *a, **k):
        calls[0] += ".staging" in str(path)
        if calls[0] > 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(table, path, *a, **k)
    s.pq.write_table = refusing
    sys.exit(groklab.cli.main(sys.argv[1:]))
''')


def test_cli_disk_full_is_one_line_exit_1(tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(DISK_FULL_DRIVER)
    out = tmp_path / "o"
    p = subprocess.run([sys.executable, str(driver), *CLI_ARGS, "--out", str(out)],
                       capture_output=True, text=True, cwd=REPO, timeout=300,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], p.stderr
    assert "Traceback" not in p.stderr
    assert len(load(out).runs) == 2
    p = cli(*CLI_ARGS, "--out", out)  # the same command resumes
    assert p.returncode == 0, p.stderr
    assert len(load(out).runs) == N_RUNS


# ---------------------------------------------------------------------------------------------
# damaged parts
# ---------------------------------------------------------------------------------------------
def _one_part_each(out: Path) -> list[str]:
    return Store(out).committed()


@pytest.mark.parametrize("damage", ["truncate curves", "delete curves", "truncate runs"])
def test_damaged_part_is_named_skipped_and_recomputed(tmp_path, damage, reference, engine_spy):
    out = tmp_path / "o"
    groklab.sweep(GRID, out=out, batch_size=1)
    pids = _one_part_each(out)
    assert len(pids) == N_RUNS  # five batches, too few parts to merge
    victim = pids[2]
    kind = damage.split()[1]
    path = Store(out).path(kind, victim)
    victim_runs = set(pd.read_parquet(Store(out).path("runs", victim)).run_id)
    if damage.startswith("truncate"):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.unlink()
    before = tree(out)
    with pytest.warns(DamageWarning, match=f"{kind}/{victim}.parquet"):
        res = load(out)
        runs = res.runs
    assert tree(out) == before  # reading wrote nothing
    assert set(runs.run_id) == set(reference.runs.run_id) - victim_runs
    assert set(res.curves.run_id) == set(runs.run_id)
    spy = engine_spy()
    with pytest.warns(DamageWarning, match="moved to damaged/"):
        again = groklab.sweep(GRID, out=out, batch_size=1)
    assert set(spy.runs) == victim_runs  # exactly the damaged part's runs are redone
    pd.testing.assert_frame_equal(numbers(again.runs), numbers(reference.runs))
    assert list((out / "damaged").glob(f"{victim}.*"))  # set aside, not deleted


def test_report_plot_status_on_a_damaged_read_only_directory(tmp_path):
    out = tmp_path / "o"
    groklab.sweep(GRID, out=out, batch_size=1)
    victim = Store(out).path("curves", Store(out).committed()[0])
    victim.write_bytes(victim.read_bytes()[:100])
    before = tree(out)
    os.chmod(out, 0o555)
    try:
        p = cli("report", out)
        assert p.returncode == 0, p.stderr
        warn = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert len(warn) == 1 and "damaged" in warn[0] and victim.name in warn[0], p.stderr
        assert len([ln for ln in p.stdout.splitlines() if ln.strip()]) == 1 + N_RUNS - 1
        png = tmp_path / "p.png"
        p = cli("plot", out, "--file", png)
        assert p.returncode == 0 and png.exists(), p.stderr
        p = cli("status", out)
        assert p.returncode == 0 and "damaged part" in p.stdout, p.stdout + p.stderr
    finally:
        os.chmod(out, 0o755)
    assert tree(out) == before  # no reader wrote into the results directory
    p = cli("status", out, "--repair")
    assert p.returncode == 0 and "moved" in p.stdout and "damage: none" not in p.stdout.split(
        "repair:")[0], p.stdout
    assert "damage: 1 file" in p.stdout or "set aside" in p.stdout, p.stdout


def test_plot_default_path_leaves_a_read_only_directory_alone(tmp_path, monkeypatch):
    from groklab.cli import cmd_plot  # noqa: PLC0415 -- the module under test

    out = tmp_path / "o"
    out.mkdir()
    monkeypatch.setattr(cmd_plot.os, "access", lambda p, mode: False)
    monkeypatch.chdir(tmp_path)
    assert cmd_plot.output_path(out, None, "plot.png") == tmp_path / "o-plot.png"
    monkeypatch.setattr(cmd_plot.os, "access", lambda p, mode: True)
    assert cmd_plot.output_path(out, None, "plot.png") == out / "plot.png"


# ---------------------------------------------------------------------------------------------
# compaction
# ---------------------------------------------------------------------------------------------
def test_compaction_merges_and_a_crash_midway_loses_nothing(tmp_path, monkeypatch, reference):
    out = tmp_path / "o"
    groklab.sweep(GRID, out=out, batch_size=1)
    store = Store(out)
    pids = store.committed()
    # die after the merged part is committed, before the parts it replaces are removed
    real_unlink = Path.unlink

    def dying(self, *a, **k):
        if self.parent.name == "runs" and self.stem in pids:
            raise KeyboardInterrupt
        return real_unlink(self, *a, **k)

    monkeypatch.setattr(Path, "unlink", dying)
    with pytest.raises(KeyboardInterrupt):
        compaction.compact(store, pids)
    monkeypatch.setattr(Path, "unlink", real_unlink)
    assert len(store.committed()) == N_RUNS + 1  # every run twice: old parts and the merged one
    pd.testing.assert_frame_equal(numbers(load(out).runs), numbers(reference.runs))
    assert len(load(out).curves) == len(reference.curves)  # newest copy only
    monkeypatch.setattr(store_mod, "writer_alive", lambda pid: False)  # "after a restart"
    monkeypatch.setattr("groklab.damage.writer_alive", lambda pid: False)
    finish_compactions(store)
    assert len(store.committed()) == 1
    res = load(out)
    pd.testing.assert_frame_equal(numbers(res.runs), numbers(reference.runs))
    pd.testing.assert_frame_equal(res.curves.reset_index(drop=True),
                                  reference.curves.reset_index(drop=True), check_dtype=False)


def test_other_readers_scan_the_directory(tmp_path, reference):
    """pyarrow.dataset, DuckDB and polars read the folders as they are."""
    out = tmp_path / "o"
    groklab.sweep(GRID, out=out, batch_size=1)
    n_rows = len(reference.curves)
    assert ds.dataset(out / "curves", format="parquet").count_rows() == n_rows
    con = duckdb.connect()
    got = con.execute(f"SELECT count(*), count(DISTINCT run_id) FROM '{out}/curves/*.parquet'"
                      ).fetchone()
    assert got == (n_rows, N_RUNS)
    t2 = con.execute(f"SELECT run_id, t2 FROM '{out}/runs/*.parquet' ORDER BY run_id").df()
    want = reference.runs.sort_values("run_id")
    assert list(t2.run_id) == list(want.run_id)
    lazy = pl.scan_parquet(f"{out}/runs/*.parquet").select(pl.len()).collect()
    assert lazy.item() == N_RUNS


# ---------------------------------------------------------------------------------------------
# provenance and the engine version
# ---------------------------------------------------------------------------------------------
def test_manifest_and_part_metadata(tmp_path):
    out = tmp_path / "o"
    p = cli(*CLI_ARGS, "--out", out)
    assert p.returncode == 0, p.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["format"].startswith("groklab-results/")
    (cmd,) = m["commands"]
    for key in ("groklab_version", "engine_versions", "python", "torch", "numpy", "device",
                "threads", "argv", "started", "ended"):
        assert cmd.get(key) is not None, key
    assert cmd["status"] == "finished" and cmd["runs_committed"] == N_RUNS
    assert cmd["engine_versions"] == {"sparse-recovery": registry.get("sparse-recovery")
                                      .config.engine_version}
    assert "--l1" in cmd["argv"]
    if (REPO / ".git").exists():
        assert len(cmd["git_commit"]) == 40 and isinstance(cmd["git_dirty"], bool)
    part = Store(out).path("runs", Store(out).committed()[0])
    meta = json.loads(pq.read_metadata(part).metadata[b"groklab"])
    assert meta["provenance"]["command_id"] == cmd["command_id"]
    assert meta["rows"]["runs"] == pq.read_metadata(part).num_rows


def test_a_newer_engine_never_reuses_older_results(tmp_path, monkeypatch, engine_spy):
    from groklab.families.sparse_recovery.config import SparseRecoveryConfig  # noqa: PLC0415

    out = tmp_path / "o"
    old = groklab.sweep(GRID, out=out, batch_size=1)
    v = SparseRecoveryConfig.engine_version
    monkeypatch.setattr(SparseRecoveryConfig, "engine_version", v + 1)
    spy = engine_spy()
    new = groklab.sweep(GRID, out=out, batch_size=1)
    assert len(spy.runs) == N_RUNS  # all recomputed
    assert not set(new.runs.run_id) & set(old.runs.run_id)
    assert (new.runs.engine_version == v + 1).all()
    allruns = load(out).runs
    assert sorted(allruns.engine_version.value_counts().items()) == [(v, N_RUNS),
                                                                      (v + 1, N_RUNS)]
    p = cli("status", out)
    assert f"sparse-recovery v{v} (5 runs)" in p.stdout
    assert f"sparse-recovery v{v + 1} (5 runs)" in p.stdout


# ---------------------------------------------------------------------------------------------
# two identical commands at once
# ---------------------------------------------------------------------------------------------
LOGGING_DRIVER = textwrap.dedent('''
    import os, sys, time
    import groklab.cli, groklab.families.sparse_recovery.engine as lin
    import groklab.families.sparse_recovery.runtime  # noqa: F401
    log = sys.argv[1]
    orig = lin.run_sparse_batch
    def spy(datas, cfgs, *a, **k):
        with open(log, "a") as f:
            f.writelines(f"{os.getpid()} {c.run_id()}\\n" for row in cfgs for c in row)
        time.sleep(0.3)  # long enough that the two commands overlap
        return orig(datas, cfgs, *a, **k)
    for name, mod in list(sys.modules.items()):
        if name.startswith("groklab") and getattr(mod, "run_sparse_batch", None) is orig:
            setattr(mod, "run_sparse_batch", spy)
    sys.exit(groklab.cli.main(sys.argv[2:]))
''')


def test_two_identical_commands_compute_each_run_once(tmp_path, reference):
    driver = tmp_path / "driver.py"
    driver.write_text(LOGGING_DRIVER)
    out, log = tmp_path / "o", tmp_path / "calls.log"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, str(driver), str(log), *CLI_ARGS, "--out", str(out)],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    calls = [line.split() for line in log.read_text().splitlines()]
    ids = [rid for _, rid in calls]
    assert len(ids) == N_RUNS and len(set(ids)) == N_RUNS  # every run computed exactly once
    pd.testing.assert_frame_equal(numbers(load(out).runs), numbers(reference.runs))


def test_status_counts_pending_runs_and_repair_clears_leftovers(tmp_path, engine_spy):
    """A command killed mid-sweep leaves its plan (pending runs), a staged file and a claim of a
    process that no longer exists; status says so, --repair clears what no one will commit."""
    out = tmp_path / "o"
    spy = engine_spy(raise_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        groklab.sweep(GRID, out=out, batch_size=1)
    dead = "01700000000000000000-00000000-999999999-abcdef"
    (out / ".staging" / f"{dead}.curves.parquet").write_bytes(b"PAR1 half")
    (out / ".claims").mkdir(exist_ok=True)
    (out / ".claims" / ("0" * 20)).write_text(json.dumps({"host": store_mod.HOST, "pid": 999999999,
                                                         "time": 0, "token": "x"}))
    p = cli("status", out)
    assert p.returncode == 0, p.stderr
    assert "2 runs committed: 2 done" in p.stdout and "pending: 3 planned" in p.stdout, p.stdout
    assert "uncommitted file" in p.stdout and "in flight: batch" not in p.stdout  # owner dead
    p = cli("status", out, "--repair")
    assert "removed 1 uncommitted" in p.stdout and "removed 1 stale batch claim" in p.stdout, \
        p.stdout
    assert "damage: none" in p.stdout, p.stdout
    assert len(spy.runs) == 2
    groklab.sweep(GRID, out=out, batch_size=1)
    assert "pending: 0 planned" in cli("status", out).stdout


# ---------------------------------------------------------------------------------------------
# a directory this user may not change, a part this user may not read
# ---------------------------------------------------------------------------------------------
def refuse_writes(monkeypatch, denied: list[Path]) -> None:
    """Make every folder in ``denied`` (and what lies below) refuse changes, as a read-only
    mount or ``chmod -R a-w`` does for an ordinary user -- the tests run as root, which chmod
    does not stop, so the refusal is simulated at the os calls groklab makes."""
    roots = [os.path.abspath(d) for d in denied]

    def hit(path) -> bool:
        p = os.path.abspath(os.fspath(path))
        return any(p == r or p.startswith(r + os.sep) for r in roots)

    def refuse(path):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))

    real = {n: getattr(os, n) for n in ("open", "unlink", "remove", "rmdir", "mkdir", "replace",
                                        "rename", "link")}

    def os_open(path, flags, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and hit(path):
            refuse(path)
        return real["open"](path, flags, *a, **k)

    def one(name):
        def f(path, *a, **k):
            if hit(path):
                refuse(path)
            return real[name](path, *a, **k)
        return f

    def two(name):
        def f(src, dst, *a, **k):
            if hit(src) or hit(dst):
                refuse(dst)
            return real[name](src, dst, *a, **k)
        return f

    monkeypatch.setattr(os, "open", os_open)
    for n in ("unlink", "remove", "rmdir", "mkdir"):
        monkeypatch.setattr(os, n, one(n))
    for n in ("replace", "rename", "link"):
        monkeypatch.setattr(os, n, two(n))


def with_leftovers(out: Path) -> None:
    """Something for --repair to do: a dead writer's staged file, a stale claim, five parts."""
    dead = "01700000000000000000-00000000-999999999-abcdef"
    (out / ".staging" / f"{dead}.curves.parquet").write_bytes(b"PAR1 half")
    (out / ".claims").mkdir(exist_ok=True)
    (out / ".claims" / ("0" * 20)).write_text(json.dumps({"host": store_mod.HOST, "pid": 999999999,
                                                         "time": 0, "token": "x"}))


@pytest.mark.parametrize("read_only", ["the directory", "runs/ only"])
def test_repair_of_a_read_only_directory_is_one_line_and_changes_nothing(tmp_path, monkeypatch,
                                                                         capsys, read_only):
    """Every folder read-only: the lock file cannot be opened for writing.  Only runs/
    read-only: the lock is taken, and repair must not begin removing leftovers elsewhere
    before it finds runs/ will not take its merged part."""
    out = tmp_path / "o"
    groklab.sweep(GRID, out=out, batch_size=1)
    with_leftovers(out)
    before = tree(out)
    refuse_writes(monkeypatch, [out] if read_only == "the directory" else [out / "runs"])
    code = groklab.cli.main(["status", str(out), "--repair"])
    err = capsys.readouterr().err
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"groklab status: error: cannot repair {out}: "), err
    assert "Permission denied" in lines[0] and lines[0].endswith("(nothing was changed)"), err
    assert tree(out) == before
    monkeypatch.undo()
    assert "removed 1 stale batch claim" in cli("status", out, "--repair").stdout  # once writable


def deny_reading(monkeypatch, victim: Path, calls=("read_metadata", "read_table", "read_schema")
                 ) -> None:
    """pyarrow refusing to open ``victim`` as it does for a file without read permission
    (pyarrow raises OSError(EACCES, ...), i.e. PermissionError; root ignores chmod).  ``calls``:
    the pyarrow functions that refuse (all: no read permission; read_table only: permission
    taken away after the footers were checked)."""
    def refusing(fn):
        def f(source, *a, **k):
            if os.path.abspath(os.fspath(source)) == str(victim):
                raise PermissionError(errno.EACCES, f"Failed to open local file '{victim}'. "
                                      "Detail: [errno 13] Permission denied")
            return fn(source, *a, **k)
        return f

    for name in calls:
        monkeypatch.setattr(pq, name, refusing(getattr(pq, name)))


@pytest.mark.parametrize("kind, calls", [("runs", None), ("curves", None),
                                         ("runs", ("read_table",))])
def test_a_part_this_user_may_not_read_is_named_and_never_moved(tmp_path, monkeypatch, capsys,
                                                                kind, calls):
    out = tmp_path / "o"
    groklab.sweep(GRID, out=out, batch_size=1)
    victim = Store(out).path(kind, Store(out).committed()[1])
    files = lambda: {k: v for k, v in tree(out).items() if (out / k).is_file()}  # noqa: E731
    before = files()
    deny_reading(monkeypatch, victim, *([calls] if calls else []))
    want = (f"cannot read {victim}: permission denied (the file is not damaged and is left in "
            "place; give this user read access to it and rerun)")
    for argv in (["report", str(out)], ["status", str(out)], ["status", str(out), "--repair"],
                 [*CLI_ARGS, "--out", str(out)]):
        code = groklab.cli.main(argv)
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert code == 1 and lines == [f"groklab {argv[0]}: error: {want}"], (argv, captured)
        assert victim.exists() and not (out / "damaged").exists(), argv  # never set aside
    with pytest.raises(StoreError, match="permission denied"):
        groklab.sweep(GRID, out=out, batch_size=1)
    assert files() == before  # nothing moved, removed or written
    monkeypatch.undo()
    p = cli("status", out)
    assert p.returncode == 0 and "damage: none" in p.stdout, p.stdout + p.stderr
