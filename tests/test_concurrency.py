"""Several commands into one results directory at once: every run computed once and stored once,
whatever the interleaving or the batching; a killed command is told from a running one; what
each command says at its end.

The race the claims close is timing-dependent, so it is tested twice: deterministically, by
replaying the bad interleaving in one process (the other command runs start to end at the
instant this one is about to take its claims, or to commit), and for real, with two processes
started together on many short batches, trial after trial.  Raw Parquet readers (pyarrow,
DuckDB) must count one runs row per run and one curves row per (run, logged step)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest

import groklab
import groklab.families.sparse_recovery.runtime  # noqa: F401  (binds the engine before any spy)
from groklab import compaction
from groklab.claiming import Claims
from groklab.damage import Damage, quarantine
from groklab.ledger import Ledger
from groklab.results import load
from groklab.schedule import log_steps
from groklab.store import HOST, Store

from conftest import REPO, cli

GRID = dict(dim=20, sparsity=2, measurements=10, lr=0.05, l1=[1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2],
            steps=400, log_every=50, log_dense_until=50)
N_RUNS = 5
N_LOGGED = len(log_steps(400, 50, 50))


def raw_counts(out: Path) -> dict:
    """What readers that know nothing of groklab count in ``out``."""
    con = duckdb.connect()
    runs = con.execute(f"SELECT count(*), count(DISTINCT run_id) FROM '{out}/runs/*.parquet'"
                       ).fetchone()
    curves = con.execute(f"SELECT count(*), count(DISTINCT (run_id, step)) "
                         f"FROM '{out}/curves/*.parquet'").fetchone()
    return {"pyarrow runs": ds.dataset(out / "runs", format="parquet").count_rows(),
            "pyarrow curves": ds.dataset(out / "curves", format="parquet").count_rows(),
            "duckdb runs": runs, "duckdb curves": curves}


def assert_stored_once(out: Path, n_runs: int, n_logged: int = N_LOGGED) -> None:
    n_curves = n_runs * n_logged
    assert raw_counts(out) == {"pyarrow runs": n_runs, "pyarrow curves": n_curves,
                               "duckdb runs": (n_runs, n_runs),
                               "duckdb curves": (n_curves, n_curves)}


def numbers(runs: pd.DataFrame) -> pd.DataFrame:
    keep = ["run_id", "t1", "t2", "final_train_error", "final_test_error", "status"]
    return runs[keep].sort_values("run_id").reset_index(drop=True)


def last_line(capsys) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


# ---------------------------------------------------------------------------------------------
# the bad interleavings, replayed in one process
# ---------------------------------------------------------------------------------------------
def test_a_claim_freed_after_its_batch_was_committed_is_not_computed_again(
        tmp_path, monkeypatch, engine_spy, capsys):
    """This command read what was committed (nothing), then -- before it takes its claims --
    the other command computes, commits and releases every batch.  The claims it then finds
    free belong to committed batches: nothing is computed twice, nothing stored twice."""
    out = tmp_path / "o"
    real_take = Claims.take
    other = {"ran": False}

    def take(self, key):
        if not other["ran"]:
            other["ran"] = True
            groklab.sweep(GRID, out=out, batch_size=1)  # the other command, start to end
        return real_take(self, key)

    monkeypatch.setattr(Claims, "take", take)
    spy = engine_spy()
    res = groklab.sweep(GRID, out=out, batch_size=1, quiet=False)
    assert other["ran"]
    assert sorted(spy.runs) == sorted(set(spy.runs)) and len(spy.runs) == N_RUNS
    assert_stored_once(out, N_RUNS)
    assert len(res.runs) == N_RUNS
    assert last_line(capsys) == ("groklab: 5 runs, all committed by another process meanwhile; "
                                 "0 already finished")


def test_two_batchings_at_once_store_each_run_once(tmp_path, monkeypatch, engine_spy, capsys):
    """Claims cannot see that two commands batched the same runs differently (other batch
    keys); the commit can: the other command commits all five runs in one batch while this one
    computes its first, and this one then commits none of them."""
    out = tmp_path / "o"
    real_write = Store.write_part
    other = {"ran": False}

    def write_part(self, *a, **k):
        if not other["ran"]:
            other["ran"] = True
            groklab.sweep(GRID, out=out, batch_size=N_RUNS)  # one batch of all five runs
        return real_write(self, *a, **k)

    monkeypatch.setattr(Store, "write_part", write_part)
    spy = engine_spy()
    res = groklab.sweep(GRID, out=out, batch_size=1, quiet=False)
    assert other["ran"] and len(spy.runs) == 2 * N_RUNS  # computed by both, as planned
    assert_stored_once(out, N_RUNS)
    assert len(Store(out).committed()) == 1  # the other command's part only
    assert len(res.runs) == N_RUNS
    assert re.fullmatch(r"groklab: 5 runs: 5 computed here in [\d.]+ s \(\S+ run-steps/s\), 5 "
                        r"committed by another process \(5 of them also computed here, stored "
                        r"once\); 0 already finished", last_line(capsys))


def test_a_batch_partly_committed_by_another_batching_keeps_the_rest(tmp_path, monkeypatch):
    """The other command's batch holds two of this batch's five runs: the three others are
    committed, with their curves; the two are not stored again."""
    out = tmp_path / "o"
    real_write = Store.write_part
    other = {"ran": False}

    def write_part(self, *a, **k):
        if not other["ran"]:
            other["ran"] = True
            groklab.sweep(dict(GRID, l1=GRID["l1"][:2]), out=out, batch_size=2)
        return real_write(self, *a, **k)

    monkeypatch.setattr(Store, "write_part", write_part)
    res = groklab.sweep(GRID, out=out, batch_size=N_RUNS)
    assert_stored_once(out, N_RUNS)
    parts = {pid: set(Store(out).read_part("runs", pid).run_id) for pid in Store(out).committed()}
    assert sorted(map(len, parts.values())) == [2, 3]
    alone = groklab.sweep(GRID, out=None, batch_size=N_RUNS)
    pd.testing.assert_frame_equal(numbers(res.runs), numbers(alone.runs), rtol=1e-12)


def test_the_ledger_reads_each_part_once_and_follows_merges_and_set_asides(tmp_path):
    store = Store(tmp_path)

    def part(*ids):
        return store.write_part(pd.DataFrame({"run_id": list(ids), "status": "done"}))

    a, b, c = part("r1", "r2"), part("r3"), part("r4")
    ledger = Ledger(store)
    assert ledger.refresh() == 3 and ledger.ids() == {"r1", "r2", "r3", "r4"}
    assert ledger.refresh() == 0  # incremental: nothing new, nothing read
    compaction.compact(store, [a, b])
    assert ledger.refresh() == 1 and ledger.ids() == {"r1", "r2", "r3", "r4"}
    quarantine(store, [Damage(c, "runs", "test", 1)])
    assert ledger.refresh() == 0 and ledger.ids() == {"r1", "r2", "r3"}
    cut = part("r5")
    store.path("runs", cut).write_bytes(b"PAR1 cut short")
    lost = store.write_part(pd.DataFrame({"run_id": ["r6"], "status": "done"}),
                            pd.DataFrame({"run_id": ["r6"], "step": [0]}))
    store.path("curves", lost).unlink()
    assert ledger.refresh() == 2  # damaged parts, as readers skip them: their runs are to do
    assert "r5" not in ledger and "r6" not in ledger and len(ledger) == 3


# ---------------------------------------------------------------------------------------------
# two real processes, many short batches, trial after trial
# ---------------------------------------------------------------------------------------------
TWIN = textwrap.dedent('''
    """One of two twins: for each trial directory, meet the other twin, then sweep into it."""
    import sys, time
    from pathlib import Path
    import groklab, groklab.driver
    groklab.driver.WAIT_S = 0.02  # the waiting twin looks often: more trials per second
    base, me, trials, per_batch, runs = Path(sys.argv[1]), sys.argv[2], *map(int, sys.argv[3:6])
    grid = dict(dim=10, sparsity=2, measurements=6, lr=0.05, steps=40, log_every=10,
                log_dense_until=10, l1=[1e-3 * (1 + i / 10) for i in range(runs)])
    for t in range(trials):
        (base / f"ready-{t}-{me}").touch()
        deadline = time.time() + 60
        while len(list(base.glob(f"ready-{t}-*"))) < 2:
            if time.time() > deadline:
                sys.exit(f"twin {me}: the other twin never reached trial {t}")
            time.sleep(0.001)
        groklab.sweep(grid, out=base / f"t{t}", batch_size=per_batch, quiet=False)
''')


def computed_here(line: str, n_runs: int) -> int:
    """Runs a command says it computed, from its closing line."""
    if m := re.search(r": (\d+) computed here", line):
        return int(m.group(1))
    if re.search(rf"groklab: {n_runs} runs in ", line):
        return n_runs
    assert re.search(r"all \d+ runs already finished|all committed by another", line), line
    return 0


def twins(tmp_path: Path, trials: int, per_batch: int, runs: int) -> None:
    driver = tmp_path / "twin.py"
    driver.write_text(TWIN)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, str(driver), str(tmp_path), me, str(trials),
                               str(per_batch), str(runs)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for me in "ab"]
    said = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-3000:]
        said.append([ln for ln in stdout.splitlines() if ln.startswith("groklab: ")
                     and ("runs" in ln) and "waiting" not in ln])
    stored = [raw_counts(tmp_path / f"t{t}") for t in range(trials)]
    n_logged = len(log_steps(40, 10, 10))
    want = {"pyarrow runs": runs, "pyarrow curves": runs * n_logged, "duckdb runs": (runs, runs),
            "duckdb curves": (runs * n_logged, runs * n_logged)}
    assert [t for t in range(trials) if stored[t] != want] == [], stored
    for t in range(trials):  # and each run was computed by one of the twins only
        a, b = said[0][t], said[1][t]
        assert computed_here(a, runs) + computed_here(b, runs) == runs, (a, b)


def test_two_processes_into_one_out_store_every_run_once(tmp_path):
    twins(tmp_path, trials=8, per_batch=2, runs=32)


@pytest.mark.slow
@pytest.mark.parametrize("per_batch", [1, 4])
def test_two_processes_into_one_out_many_trials(tmp_path, per_batch):
    twins(tmp_path, trials=30, per_batch=per_batch, runs=16 * per_batch)


# ---------------------------------------------------------------------------------------------
# status: runs stored twice, killed commands, stale claims
# ---------------------------------------------------------------------------------------------
def test_status_names_runs_stored_twice_and_repair_keeps_one(tmp_path):
    out = tmp_path / "o"
    ref = groklab.sweep(GRID, out=out, batch_size=2)
    store = Store(out)
    first = store.committed()[0]
    twin = f"{first[:-6]}abcdef"  # its copy, as a racing command would have stored it
    for kind in ("curves", "runs"):
        (store.path(kind, twin)).write_bytes(store.path(kind, first).read_bytes())
    n_twice = len(store.read_part("runs", first))
    assert raw_counts(out)["pyarrow runs"] == N_RUNS + n_twice  # what users of DuckDB saw
    p = cli("status", out)
    assert p.returncode == 0, p.stderr
    damage = [ln for ln in p.stdout.splitlines() if ln.startswith("damage:")]
    assert damage == [f"damage: {n_twice} run(s) stored more than once ({n_twice} extra row(s) "
                      "in runs/ across 2 parts: DuckDB, polars and pyarrow count them twice; "
                      "`groklab status --repair` keeps the newest copy)"], p.stdout
    p = cli("status", out, "--repair")
    assert p.returncode == 0, p.stderr
    assert f"keeping the newest copy of {n_twice} run(s)" in p.stdout, p.stdout
    assert "damage: none" in p.stdout, p.stdout
    assert_stored_once(out, N_RUNS)
    pd.testing.assert_frame_equal(numbers(load(out).runs), numbers(ref.runs))


KILLED = textwrap.dedent('''
    """The groklab CLI, SIGKILLed (no cleanup) when its engine is called the 3rd time."""
    import os, signal, sys
    import groklab.cli, groklab.families.sparse_recovery.engine as lin
    import groklab.families.sparse_recovery.runtime  # noqa: F401
    orig, calls = lin.run_sparse_batch, [0]
    def spy(*a, **k):
        calls[0] += 1
        if calls[0] == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return orig(*a, **k)
    for name, mod in list(sys.modules.items()):
        if name.startswith("groklab") and getattr(mod, "run_sparse_batch", None) is orig:
            setattr(mod, "run_sparse_batch", spy)
    sys.exit(groklab.cli.main(sys.argv[1:]))
''')
CLI_ARGS = ["run", "sparse-recovery", "--dim", "20", "--sparsity", "2", "--measurements", "10",
            "--lr", "0.05", "--l1", "1e-3,2e-3,4e-3,8e-3,1.6e-2", "--steps", "400",
            "--log-every", "50", "--log-dense-until", "50", "--runs-per-batch", "1", "--quiet"]


def test_status_tells_a_killed_command_from_a_running_one(tmp_path):
    out, driver = tmp_path / "o", tmp_path / "killed.py"
    driver.write_text(KILLED)
    p = subprocess.run([sys.executable, str(driver), *CLI_ARGS, "--out", str(out)], cwd=REPO,
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == -signal.SIGKILL, p.stderr
    (cmd,) = json.loads((out / "manifest.json").read_text())["commands"]
    assert cmd["status"] == "running"  # what the manifest says: it never recorded its end
    dead = cmd["pid"]
    st = cli("status", out)
    assert st.returncode == 0, st.stderr
    assert re.search(rf"^commands: 1; last \S+ interrupted \(pid {dead} is gone\): ", st.stdout,
                     re.M), st.stdout
    assert "in flight: batch" not in st.stdout, st.stdout  # its claims are stale, not in flight
    assert (f"stale claims: 3 batch claim(s) whose process is gone (pid {dead})"
            in st.stdout), st.stdout
    st = cli("status", out, "--repair")
    assert "marked 1 command(s) whose process is gone as interrupted" in st.stdout, st.stdout
    assert "removed 3 stale batch claim(s)" in st.stdout, st.stdout
    assert "stale claims" not in st.stdout.split("repair:")[-1], st.stdout
    (cmd,) = json.loads((out / "manifest.json").read_text())["commands"]
    assert cmd["status"] == "interrupted"


def test_status_calls_a_live_command_running(tmp_path):
    out = tmp_path / "o"
    groklab.sweep(GRID, out=out, batch_size=1)
    m = json.loads((out / "manifest.json").read_text())
    m["commands"][0].update(status="running", pid=os.getpid())  # this process: alive
    (out / "manifest.json").write_text(json.dumps(m))
    st = cli("status", out)
    assert f" running (pid {os.getpid()}): " in st.stdout, st.stdout


# ---------------------------------------------------------------------------------------------
# what a command says at its end
# ---------------------------------------------------------------------------------------------
def test_a_rerun_with_every_run_finished_says_so(tmp_path, capsys, engine_spy):
    out = tmp_path / "o"
    groklab.sweep(GRID, out=out, batch_size=1, quiet=False)
    assert re.fullmatch(r"groklab: 5 runs in [\d.]+ s \(\S+ run-steps/s\); 0 already finished",
                        last_line(capsys))
    spy = engine_spy()
    groklab.sweep(GRID, out=out, batch_size=1, quiet=False)
    assert spy.runs == []
    assert last_line(capsys) == f"groklab: all 5 runs already finished in {out}; nothing to compute"


# ---------------------------------------------------------------------------------------------
# claims
# ---------------------------------------------------------------------------------------------
def test_clearing_stale_claims_spares_a_live_takers_file(tmp_path):
    """A command opening the directory clears stale claims while the other may be taking one:
    the other's temporary claim file (about to be linked into place) must survive -- removing
    it made that os.link fail with a traceback -- while a dead taker's goes."""
    claims = Claims(tmp_path)
    claims.dir.mkdir()
    key = "1" * 20
    live = claims.dir / f".new-{key}-{HOST}-{os.getpid()}-abcd1234"
    dead = claims.dir / f".new-{key}-{HOST}-999999999-abcd1234"
    aside = claims.dir / f".stale-{key}-abcd1234"
    for p in (live, dead, aside):
        p.write_text("{}")
    (claims.dir / key).write_text(json.dumps({"host": HOST, "pid": 999999999, "time": 0,
                                              "token": "x"}))
    assert claims.clear_stale() == 1
    assert sorted(p.name for p in claims.dir.iterdir()) == [live.name]
    assert claims.take(key) and Claims(tmp_path).owner(key)["pid"] == os.getpid()
    assert not Claims(tmp_path).take(key)  # held by a live process (this one)


def test_a_stale_claim_is_taken_over_once(tmp_path, monkeypatch):
    """Two takers find the same stale claim: one gets it, the other sees it held."""
    first, second = Claims(tmp_path), Claims(tmp_path)
    first.dir.mkdir()
    key = "2" * 20
    (first.dir / key).write_text(json.dumps({"host": HOST, "pid": 999999999, "time": 0,
                                             "token": "x"}))
    real_owner = Claims.owner
    calls = {"n": 0}

    def owner(self, k):
        # the second taker read the stale claim before the first replaced it
        calls["n"] += 1
        seen = real_owner(self, k)
        if self is second and calls["n"] == 1:
            assert seen is None and first.take(k)
        return seen

    monkeypatch.setattr(Claims, "owner", owner)
    took = second.take(key)
    assert not took and key in first.mine and key not in second.mine
    assert json.loads((first.dir / key).read_text())["token"] != "x"
