"""The Ray backend: the same numbers as the local backend, resume after an interrupted Ray sweep,
one-line errors.  A local Ray instance (2 CPUs, no dashboard) is started once for the module."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray")  # in the dev extra, so CI runs these

import groklab  # noqa: E402
from groklab.backends import BackendError, RayBackend  # noqa: E402
from groklab.fields import ConfigError  # noqa: E402
from groklab.driver import execute  # noqa: E402
from groklab.results import load  # noqa: E402
from groklab.store import Store  # noqa: E402
from groklab.sweep import expand_grid, plan_batches  # noqa: E402

import toy_family  # noqa: E402
from conftest import assert_png, cli  # noqa: E402

# 4 data seeds x 2 l1 x 2 methods = 16 runs; 4 runs per batch -> 4 batches of 2 data sets x 2 runs
# (the batched-matmul path: different data inside one tensor program)
GRID = dict(dim=20, sparsity=2, measurements=10, lr=0.05, l1=[1e-3, 4e-3], seed=[0, 1, 2, 3],
            method=["subgradient", "ista"], steps=300, log_every=50, log_dense_until=50)
PER_BATCH = 4


@pytest.fixture(scope="module")
def ray_local(tmp_path_factory):
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline machine: no usage reports
    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             # Ray tasks run torch on one thread each (OMP_NUM_THREADS = the task's CPUs)
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}})
    yield ray
    ray.shutdown()


def numbers(runs: pd.DataFrame) -> pd.DataFrame:
    """Every column but the measured wall time, rows by run id, arrays (final_a) as tuples."""
    df = runs.drop(columns=["wall_time_s"]).sort_values("run_id").reset_index(drop=True)
    for c in df.columns:
        if df[c].dtype == object and len(df) and isinstance(df[c].iloc[0], (list, np.ndarray)):
            df[c] = [tuple(np.asarray(v).tolist()) for v in df[c]]
    return df


def sorted_curves(curves: pd.DataFrame) -> pd.DataFrame:
    return curves.sort_values(["run_id", "step"]).reset_index(drop=True)


def test_local_and_ray_give_identical_tables(tmp_path, ray_local):
    configs = expand_grid("sparse-recovery", GRID)
    batches = plan_batches(configs, PER_BATCH)
    assert len(batches) == 4 and all(len(b) == 2 for b in batches)  # the grid is what we meant
    loc = groklab.sweep(GRID, out=tmp_path / "local", batch_size=PER_BATCH)
    rr = groklab.sweep(GRID, out=tmp_path / "ray", batch_size=PER_BATCH, backend="ray")
    assert len(rr.runs) == 16 and (rr.runs.status == "done").all()
    assert rr.runs.t1.notna().any()  # something was detected, not all-NA tables compared
    pd.testing.assert_frame_equal(numbers(rr.runs), numbers(loc.runs), check_exact=True)
    pd.testing.assert_frame_equal(sorted_curves(rr.curves), sorted_curves(loc.curves),
                                  check_exact=True)
    # and the stored files say the same as what was returned
    pd.testing.assert_frame_equal(numbers(load(tmp_path / "ray").runs), numbers(rr.runs))


def test_interrupted_ray_sweep_resumes_without_redoing_runs(tmp_path, ray_local, monkeypatch):
    ref = groklab.sweep(GRID, out=None, batch_size=PER_BATCH)
    real = Store.write_part
    commits = {"k": 0}

    def flaky(self, *args, **kwargs):
        commits["k"] += 1
        if commits["k"] == 3:  # Ctrl-C while the driver commits the 3rd batch to come back
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "write_part", flaky)
    with pytest.raises(KeyboardInterrupt):
        groklab.sweep(GRID, out=tmp_path, batch_size=PER_BATCH, backend="ray")
    monkeypatch.setattr(Store, "write_part", real)
    first = set(load(tmp_path).runs.run_id)
    assert len(first) == 2 * PER_BATCH  # exactly the two committed batches, whole
    before = set((tmp_path / "runs").glob("*.parquet"))

    res = groklab.sweep(GRID, out=tmp_path, batch_size=PER_BATCH, backend="ray")
    new_parts = set((tmp_path / "runs").glob("*.parquet")) - before
    redone = [rid for p in new_parts for rid in pd.read_parquet(p).run_id]
    assert len(redone) == 16 - len(first) and not set(redone) & first  # each left run once
    pd.testing.assert_frame_equal(numbers(res.runs), numbers(ref.runs), check_exact=True)
    pd.testing.assert_frame_equal(sorted_curves(load(tmp_path).curves), sorted_curves(ref.curves),
                                  check_exact=True)


OTHER_FAMILIES = {
    "matrix-completion": dict(rows=6, cols=5, rank=2, observed=18, lr=0.1, nuclear=[1e-3, 1e-2],
                              seed=[0, 1], steps=200, log_every=50, log_dense_until=50),
    "modular": dict(modulus=7, train_fraction=0.5, steps=20, log_every=5, seed=[0, 1],
                    lr=[1e-3, 3e-3]),
    "teacher-student": dict(input_dim=6, hidden=12, outputs=2, train_size=8, test_size=20,
                            steps=15, log_every=5, log_dense_until=5, log_spacing="linear",
                            lr=1e-2, l1=[0.0, 1e-3], seed=[0, 1]),
    # a family from outside the package (tests/toy_family.py): Ray ships its module to the
    # workers, which do not have this folder on their path
    toy_family.FAMILY.name: dict(lr=[0.3, 0.6], beta=2e-2, seed=[0, 1], steps=600),
}


@pytest.mark.parametrize("problem", list(OTHER_FAMILIES))
def test_other_families_through_ray(tmp_path, ray_local, problem):
    grid = OTHER_FAMILIES[problem]
    loc = groklab.sweep(grid, problem=problem, out=None, batch_size=2)
    rr = groklab.sweep(grid, problem=problem, out=tmp_path, batch_size=2, backend="ray")
    assert len(rr.runs) == 4
    pd.testing.assert_frame_equal(numbers(rr.runs), numbers(loc.runs), check_exact=True)
    pd.testing.assert_frame_equal(sorted_curves(rr.curves), sorted_curves(loc.curves),
                                  check_exact=True)


def test_worker_failure_is_one_clear_error_and_keeps_finished_batches(tmp_path, ray_local):
    from groklab.compute import remote_batch
    configs = expand_grid("sparse-recovery", GRID)
    bad_seed = 3

    def sometimes_fails(batch, *args):  # pickled by value: runs on the worker
        if any(c.seed == bad_seed for row in batch for c in row):
            raise ValueError("boom on purpose")
        return remote_batch(batch, *args)

    class Failing(RayBackend):  # the driver's job, with the worker's function swapped
        def map(self, batches, job, device, progress=None):
            return super().map(batches, dataclasses.replace(job, remote=sometimes_fails), device,
                               progress)

    backend = Failing()
    with pytest.raises(BackendError) as err:
        execute(configs, out=tmp_path, batch_size=PER_BATCH, backend=backend)
    msg = str(err.value)
    assert "\n" not in msg and "ValueError: boom on purpose" in msg and "Ray worker" in msg
    # batches without seed 3 may have finished first; whatever was committed is whole and valid
    done = load(tmp_path).runs if (tmp_path / "runs").is_dir() else pd.DataFrame()
    assert not len(done) or (done.seed != bad_seed).all()
    assert len(done) % PER_BATCH == 0


def test_infeasible_task_is_refused_not_queued_forever(tmp_path, ray_local):
    with pytest.raises(ConfigError, match="ray-cpus-per-task"):
        groklab.sweep(GRID, out=tmp_path, batch_size=PER_BATCH, backend="ray",
                      ray_cpus_per_task=64)


CLI_ARGS = ["run", "sparse-recovery", "--dim", "20", "--sparsity", "2", "--measurements", "10",
            "--lr", "0.05", "--l1", "1e-3,4e-3", "--seed", "0,1", "--steps", "300",
            "--log-every", "50", "--runs-per-batch", "2", "--quiet"]
CLI_GRID = dict(dim=20, sparsity=2, measurements=10, lr=0.05, l1=[1e-3, 4e-3], seed=[0, 1],
                steps=300, log_every=50)


def test_cli_backend_ray_matches_local(tmp_path):
    """The whole command in a fresh process, starting its own Ray instance."""
    p = cli(*CLI_ARGS, "--out", tmp_path / "ray", "--backend", "ray",
            env_extra={"RAY_USAGE_STATS_ENABLED": "0"}, timeout=180)
    assert p.returncode == 0, p.stderr[-2000:]
    ref = groklab.sweep(CLI_GRID, out=None, batch_size=2)
    pd.testing.assert_frame_equal(numbers(load(tmp_path / "ray").runs), numbers(ref.runs),
                                  check_exact=True)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_refusals_are_one_line(tmp_path, capsys, monkeypatch):
    from groklab.cli import main
    assert main([*CLI_ARGS, "--out", str(tmp_path / "a"), "--address", "auto"]) == 2
    err = capsys.readouterr().err
    assert "--address" in err and "--backend ray" in err and len(err.splitlines()) == 1
    # nothing listens there: refused in seconds (ray.init alone retries for many minutes)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    dead = f"127.0.0.1:{free_port()}"
    assert main([*CLI_ARGS, "--out", str(tmp_path / "a"), "--backend", "ray",
                 "--address", dead]) == 2
    err = capsys.readouterr().err
    assert "no Ray cluster answers" in err and len(err.splitlines()) == 1
    # Ray not installed: one line telling how to install it, nothing written
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main([*CLI_ARGS, "--out", str(tmp_path / "b"), "--backend", "ray"]) == 2
    err = capsys.readouterr().err
    assert "pip install" in err and "[ray]" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.slow
def test_join_existing_cluster_with_address(tmp_path):
    """`ray start --head` (our own child process group), then --address HOST:PORT ships the code
    to the workers and gives the local numbers."""
    import shutil
    import tempfile
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    port = free_port()
    import secrets
    # Ray >= 2.59 authenticates local clusters with a token: give the head and the driver the same
    # one explicitly, so a stale ~/.ray/auth_token of another session cannot get in the way
    auth = dict(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token",
                RAY_AUTH_TOKEN=secrets.token_hex(16))
    env = dict(os.environ, **auth)
    # its own short temp dir (socket paths), so /tmp/ray/ray_current_cluster is not touched
    temp = tempfile.mkdtemp(prefix="gl-ray-", dir="/tmp")
    head = subprocess.Popen([ray_bin, "start", "--head", "--block", f"--port={port}",
                             "--num-cpus=2", "--include-dashboard=false", f"--temp-dir={temp}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        args = CLI_ARGS
        for _ in range(60):  # wait for the head node
            p = cli(*args, "--out", tmp_path / "ray", "--backend", "ray",
                    "--address", f"127.0.0.1:{port}", env_extra=auth)
            if p.returncode == 0 or "no Ray cluster answers" not in p.stderr:
                break
            time.sleep(1)
        assert p.returncode == 0, p.stderr[-2000:]
        ref = groklab.sweep(CLI_GRID, out=None, batch_size=2)
        pd.testing.assert_frame_equal(numbers(load(tmp_path / "ray").runs), numbers(ref.runs),
                                      check_exact=True)
    finally:
        os.killpg(head.pid, 15)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, 9)
        shutil.rmtree(temp, ignore_errors=True)


def test_reproduce_runs_a_figure_through_ray(tmp_path, ray_local, monkeypatch):
    """`groklab reproduce FIG --backend ray`: the figure's batches go to Ray (the local loop is
    made to fail) and the stored runs equal the local ones."""
    from groklab import backends
    from groklab.figures import all_figures
    fig = all_figures()["fig19a"]
    fig.reproduce(tmp_path / "local")

    def no_local(*a, **k):
        raise AssertionError("the local backend ran a batch")
    monkeypatch.setattr(backends.LocalBackend, "map", no_local)
    png = fig.reproduce(tmp_path / "ray", backend="ray")
    assert_png(png)
    loc, rr = load(tmp_path / "local").runs, load(tmp_path / "ray").runs
    assert len(rr) == len(loc) > 0
    pd.testing.assert_frame_equal(numbers(rr), numbers(loc), check_exact=True)


def test_user_data_through_ray_equals_local(tmp_path, ray_local):
    """--data: the file's bytes travel with the tasks (workers need not see the path)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 24)) / np.sqrt(12)
    a = np.zeros(24)
    a[[2, 9]] = [1.0, -1.0]
    np.savez(tmp_path / "mine.npz", X=X, y=X @ a, a_star=a)
    grid = dict(data=str(tmp_path / "mine.npz"), lr=[0.1, 0.2], l1=[1e-3, 1e-4], steps=300)
    loc = groklab.sweep(grid, out=None, batch_size=2)
    rr = groklab.sweep(grid, out=tmp_path / "ray", batch_size=2, backend="ray")
    assert len(rr.runs) == 4 and (rr.runs.dim == 24).all()
    pd.testing.assert_frame_equal(numbers(rr.runs), numbers(loc.runs), check_exact=True)
    pd.testing.assert_frame_equal(sorted_curves(rr.curves), sorted_curves(loc.curves),
                                  check_exact=True)
