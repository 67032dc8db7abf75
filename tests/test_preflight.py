"""--dry-run and the refusals before any work (groklab.preflight): counts, estimates, memory,
the logging schedule, and --out (a file, read-only, a full disk)."""
from __future__ import annotations

import dataclasses

import os
from types import SimpleNamespace

import pytest

import groklab
from groklab import preflight
from groklab.errors import ConfigError
from groklab.grid import expand_grid
from groklab.schedule import MAX_POINTS, schedule_length

from conftest import cli

SMALL = ["--dim", "20", "--sparsity", "2", "--measurements", "10", "--steps", "200",
         "--log-every", "50", "--log-dense-until", "50"]
GRID = {"dim": 20, "sparsity": 2, "measurements": 10, "steps": 200, "log_every": 50,
        "log_dense_until": 50, "lr": 0.05}


def one_line_error(p, option: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, p.stderr
    assert f"--{option}" in p.stderr, p.stderr


def test_dry_run_counts_a_32768_value_axis_and_writes_nothing(tmp_path):
    out = tmp_path / "res"
    p = cli("run", "sparse-recovery", *SMALL, "--l1", "linspace(0,1e-2,32768)",
            "--runs-per-batch", "1000", "--dry-run", "--out", out)
    assert p.returncode == 0, p.stderr
    assert "runs: 32,768" in p.stdout
    assert "batches: 33 " in p.stdout  # ceil(32768 / 1000): the real plan_batches
    for word in ("memory: ~", "disk: ~", "time: ~", "nothing was run or written"):
        assert word in p.stdout
    assert not out.exists() and sorted(os.listdir(tmp_path)) == []


@pytest.mark.parametrize("args, option", [
    (["sparse-recovery", "--steps", "1e12"], "steps"),
    (["sparse-recovery", "--dim", "100000", "--measurements", "100000"], "dim"),
    (["modular", "--modulus", "100000"], "modulus"),
])
def test_what_cannot_fit_is_refused_in_one_line(tmp_path, args, option):
    out = tmp_path / "res"
    # capped, so that the refusal does not depend on this machine's memory
    p = cli("run", *args, "--out", out, "--quiet", env_extra={"GROKLAB_MAX_MEMORY": "64G"})
    one_line_error(p, option)
    assert not out.exists()


def test_out_that_is_a_file_is_refused_before_any_batch(tmp_path, engine_spy):
    spy = engine_spy()
    target = tmp_path / "results"
    target.write_text("not a directory")
    with pytest.raises(ConfigError, match="--out: .* exists and is not a directory"):
        groklab.sweep({**GRID, "l1": [1e-3, 1e-2]}, out=target)
    assert spy.calls == [] and target.read_text() == "not a directory"
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        groklab.sweep({**GRID, "l1": [1e-3]}, out=target / "sub")
    assert spy.calls == []


def test_read_only_out_is_refused(tmp_path, monkeypatch, engine_spy):
    """os.access is mocked: as root a chmod would not stop a write."""
    spy = engine_spy()
    real = os.access
    monkeypatch.setattr(preflight.os, "access",
                        lambda path, mode: False if str(path).startswith(str(tmp_path)) and
                        mode & os.W_OK else real(path, mode))
    with pytest.raises(ConfigError, match="--out: .* is not writable"):
        groklab.sweep({**GRID, "l1": [1e-3]}, out=tmp_path / "new" / "dir")
    assert spy.calls == [] and not (tmp_path / "new").exists()


def test_full_disk_is_refused(tmp_path, monkeypatch, engine_spy):
    spy = engine_spy()
    monkeypatch.setattr(preflight.os, "statvfs",
                        lambda path: SimpleNamespace(f_bavail=1, f_frsize=4096, f_blocks=10 ** 6,
                                                     f_flag=0))
    with pytest.raises(ConfigError) as e:
        groklab.sweep({**GRID, "l1": [1e-3, 1e-2]}, out=tmp_path / "res")
    assert str(e.value).startswith("--out: ") and "4 KiB free" in str(e.value)
    assert spy.calls == [] and not (tmp_path / "res").exists()


def test_memory_refusal_names_runs_per_batch_and_a_size_that_fits(monkeypatch):
    cfgs = expand_grid("sparse-recovery", {**GRID, "steps": 100_000, "log_every": 1,
                                           "l1": "linspace(0,1e-2,512)"})
    est = preflight.estimate(cfgs, batch_size=512)
    assert est.runs == 512 and est.batches == 1 and est.largest_batch == 512
    # ~100k log points x 9 metrics x 512 runs x 8 bytes alone is ~3.4 GiB
    assert est.batch_bytes > 100_000 * 9 * 512 * 8
    limit = preflight.BASE_BYTES + est.batch_bytes / 4
    monkeypatch.setattr(preflight, "available_memory", lambda: limit)
    with pytest.raises(ConfigError) as e:
        preflight.check(est, batch_size=512)
    msg = str(e.value)
    assert msg.startswith("--runs-per-batch: 512: ") and "use --runs-per-batch" in msg
    fit = int(msg.split("use --runs-per-batch ")[1].split()[0])
    assert 1 <= fit < 512
    preflight.check(preflight.estimate(cfgs, batch_size=fit), batch_size=fit)  # now it fits
    # one run that cannot fit names the sizes instead
    monkeypatch.setattr(preflight, "available_memory", lambda: preflight.BASE_BYTES + 1)
    with pytest.raises(ConfigError, match="^--dim: 20 with --measurements 10: "):
        preflight.check(preflight.estimate(cfgs[:1], batch_size=1), batch_size=1)


def test_every_builtin_family_estimates_and_grows_with_its_sizes():
    builtin = [f for f in groklab.all_families() if f.config.__module__.startswith("groklab.")]
    assert len(builtin) >= 5
    for fam in builtin:
        small, big = fam.config(), None
        sizes = small.resources(runs=1, data_sets=1, log_points=10, save_iterates=False)["sizes"]
        name = sizes[0]
        big = {name: getattr(small, name) * 2}
        if fam.name == "matrix-completion":
            big["cols"] = small.cols * 2
        cfg = fam.config(**big)
        a = small.resources(runs=4, data_sets=1, log_points=10, save_iterates=False)
        b = cfg.resources(runs=4, data_sets=1, log_points=10, save_iterates=False)
        c = small.resources(runs=8, data_sets=1, log_points=20, save_iterates=False)
        for k in ("data", "batch", "disk", "step_seconds"):
            assert a[k] > 0, (fam.name, k)
        # the data grow with a size of the data (a data=True field); a model size (the MLP
        # families' width: their data set is a fixed sample) grows the batch alone
        is_data = dataclasses.fields(fam.config)[[f.name for f in dataclasses.fields(
            fam.config)].index(name)].metadata.get("data", False)
        assert (b["data"] > a["data"]) if is_data else (b["data"] == a["data"]), fam.name
        assert b["batch"] > a["batch"], fam.name
        assert c["batch"] > a["batch"] and c["disk"] > a["disk"], fam.name


def test_schedule_is_counted_not_made():
    assert schedule_length(10 ** 12, 1000, 1000) == 10 ** 9 + 1000 > MAX_POINTS
    with pytest.raises(ValueError):
        groklab.schedule.log_steps(10 ** 12, 1000, 1000)  # refused, not 8 GB allocated


def test_bad_runs_per_batch_in_the_api():
    cfgs = expand_grid("sparse-recovery", {**GRID, "l1": [1e-3]})
    with pytest.raises(ConfigError, match="--runs-per-batch: -1 is out of range"):
        preflight.preflight(cfgs, batch_size=-1)


def test_memory_cap_from_the_environment(monkeypatch):
    monkeypatch.setenv("GROKLAB_MAX_MEMORY", "2G")
    assert preflight.available_memory() <= 2 * 2 ** 30
    monkeypatch.setenv("GROKLAB_MAX_MEMORY", "lots")
    with pytest.raises(ConfigError, match="GROKLAB_MAX_MEMORY"):
        preflight.available_memory()
