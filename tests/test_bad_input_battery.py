"""A battery of bad input for every sub-command: each case must end with exit status 2 (bad input)
or 1 (a fault), exactly one line on stderr starting ``groklab <command>``, with ``error:`` and the
option (or environment variable) it is about, no traceback, and nothing written.

The ``run`` cases are generated from the registry: every registered family, every field of its
config and every detection setting gets a value of the wrong type and each value its declared
bounds exclude (``choices``, ``low`` / ``high``, open or closed), so an option added tomorrow is
covered without touching this file.  The other sub-commands and the execution flags come from
the tables below.

Every case runs ``groklab.cli.main`` in this process (about 10 ms each).  A results store that
would be opened, or a sweep of ``check`` that would start, fails the case at once (the input was
accepted); the working directory is a fresh temporary one whose listing (names, sizes and
modification times) must be the same after the command.
"""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import groklab
from groklab import driver, export_tensorboard, family as registry, preflight
from groklab.cli import check as check_cmd
from groklab.cli import main
from groklab.detect import Detection
from groklab.fields import is_float_field, is_int_field

from conftest import tiny


# ---- generated cases: every field of every family ------------------------------------------------
def bad_values(f: dataclasses.Field) -> list[tuple[str, str]]:
    """(label, text) of values ``f``'s declaration refuses: a wrong type, and one past each
    bound it declares."""
    m = f.metadata
    if m.get("file"):
        return [("absent-file", "{tmp}/absent.npz"), ("a-folder", "{tmp}")]
    if m.get("choices"):
        return [("not-a-choice", "no-such-choice")]
    out = []
    if is_int_field(f):
        out += [("fraction", "1.5"), ("word", "abc")]
        if m.get("low") is not None:
            out.append(("below", str(m["low"] - 1)))
        if m.get("high") is not None:
            out.append(("above", str(m["high"] + 1)))
    elif is_float_field(f):
        out += [("word", "abc"), ("nan", "nan")]
        if not m.get("allow_inf"):
            out.append(("inf", "inf"))
        lo, hi = m.get("low"), m.get("high")
        if lo is not None:
            out.append(("below", repr(float(lo) if m.get("low_open") else lo - 1.0)))
        if hi is not None:
            out.append(("above", repr(float(hi) if m.get("high_open") else hi * 2 + 1.0)))
    else:  # a free string (a folder, say): a path that does not exist
        out.append(("absent-path", "{tmp}/absent"))
    return out


def _field_cases():
    cases = []
    for fam in registry.all_families():
        # the detection flags are the same code for every family: checked with the first one
        det = dataclasses.fields(Detection) if fam is registry.all_families()[0] else ()
        for f in dataclasses.fields(fam.config) + det:
            flag = "--" + f.name.replace("_", "-")
            for label, text in bad_values(f):
                cases.append(pytest.param(("run", fam.name, flag, text), flag, None,
                                          id=f"run-{fam.name}{flag}-{label}"))
        # a sweep axis with one bad value among good ones: the whole command is refused
        f = next(f for f in dataclasses.fields(fam.config) if bad_values(f)[0][0] == "fraction")
        flag = "--" + f.name.replace("_", "-")
        cases.append(pytest.param(("sweep", fam.name, flag, f"{f.default},{f.default},abc"), flag,
                                  None, id=f"sweep-{fam.name}{flag}-list"))
    return cases


# ---- the execution flags of run / sweep, for every family ----------------------------------------
EXEC = [
    (["--runs-per-batch", "0"], "--runs-per-batch"),
    (["--runs-per-batch", "-1"], "--runs-per-batch"),
    (["--runs-per-batch", "abc"], "--runs-per-batch"),
    (["--save-iterates", "-1"], "--save-iterates"),
    (["--save-iterates", "abc"], "--save-iterates"),
    (["--device", "no-such-device"], "--device"),
    (["--device", ""], "--device"),
    (["--shard", "-1/4"], "--shard", r"--shard: -1/4: expected I/K with 0 <= I < K"),
    (["--shard=-1/4"], "--shard", r"--shard: -1/4: expected I/K with 0 <= I < K"),
    (["--shard", "4/4"], "--shard"),
    (["--shard", "1/0"], "--shard"),
    (["--shard", "a/b"], "--shard"),
    (["--shard", ""], "--shard"),
    (["--backend", "slurm"], "--backend"),
    (["--address", "127.0.0.1:6379"], "--address", "only applies to --backend ray"),
    (["--ray-cpus-per-task", "0"], "--ray-cpus-per-task"),
    (["--ray-cpus-per-task", "abc"], "--ray-cpus-per-task"),
    (["--backend", "ray", "--ray-cpus-per-task", "0"], "--ray-cpus-per-task"),
    (["--grid", "{tmp}/absent.toml"], "--grid"),
    (["--grid", "{tmp}"], "--grid"),
    (["--grid", "{tmp}/bad.toml"], "--grid"),
    (["--grid", "{tmp}/other.toml"], "--grid"),
    (["--out", ""], "--out"),
    (["--out", "{tmp}/file.txt"], "--out"),
    (["--out", "{tmp}/file.txt/sub"], "--out"),
    (["--out", "/proc/groklab-x"], "--out", "'/proc/groklab-x' is not writable"),
    (["--out", "-x"], "--out", "--out=VALUE"),
    (["--no-such-flag", "1"], "--no-such-flag"),
    (["--step", "10"], "--step"),  # never an abbreviation of --steps
]


def _exec_cases():
    cases = []
    for fam in registry.all_families():
        # every flag with the first family, every third with the others (one parser makes them)
        for args, option, *says in EXEC if fam is registry.all_families()[0] else EXEC[::3]:
            if args[0] == "--step" and not any(f.name == "steps"
                                               for f in dataclasses.fields(fam.config)):
                continue
            cases.append(pytest.param(("run", fam.name, *args), option, (says or [None])[0],
                                      id=f"run-{fam.name}-{'-'.join(args)}"))
    for args, option, *says in EXEC[::4]:
        cases.append(pytest.param(("sweep", "sparse-recovery", *args), option,
                                  (says or [None])[0], id=f"sweep-{'-'.join(args)}"))
    return cases


# ---- the other sub-commands ----------------------------------------------------------------------
NOT_NPZ = r"not an \.npz archive \(numpy\.savez\)"
RES = "{res}"  # a real results directory (module fixture), checked unchanged afterwards
OTHER = [
    # --data: files that are not what the family reads
    (("run", "sparse-recovery", "--data", "{tmp}/x.npy"), "--data", NOT_NPZ + " with arrays X"),
    (("run", "sparse-recovery", "--data", "{tmp}/text.npz"), "--data", NOT_NPZ),
    (("run", "sparse-recovery", "--data", "{tmp}/y-zero.npz", "--lr", "0.01"), "--data",
     "y is all zeros"),
    (("run", "sparse-recovery", "--data", "{tmp}/y-tiny.npz", "--lr", "0.01"), "--data",
     "y has norm"),
    (("run", "matrix-completion", "--data", "{tmp}/x.npy"), "--data",
     NOT_NPZ + " with arrays rows"),
    (("run", "matrix-sensing", "--data", "{tmp}/text.npz"), "--data", NOT_NPZ + " with arrays X"),
    (("run", "matrix-completion", "--data", "{tmp}/values-zero.npz"), "--data",
     "values is all zeros"),
    # plot / report / status: a missing or wrong directory, bad flags (what the report helper
    # fixes in issue 20 -- `plot --file p.txt`, `report --columns ''`, a full disk -- is not here)
    (("plot", "{tmp}/absent"), None),
    (("plot", "{tmp}/file.txt"), None),
    (("plot", RES, "--metric", "speed"), "--metric"),
    (("plot", RES, "--x", "lr"), "--y"),
    (("report", "{tmp}/absent"), None),
    (("report", RES, "--format", "xml"), "--format"),
    (("report", RES, "--fit", "t9"), "--fit"),
    (("report", RES, "--train-threshold", "-1"), "--train-threshold"),
    (("report", RES, "--plateau-window", "abc"), "--plateau-window"),
    (("report", RES, "--plateau-mode", "last"), "--plateau-mode"),
    (("status", "{tmp}/absent"), None),
    (("status", "{tmp}/file.txt"), None),
    # reproduce
    (("reproduce", "fig99"), "--figure"),
    (("reproduce", "fig3", "--runs-per-batch", "0"), "--runs-per-batch"),
    (("reproduce", "fig3", "--runs-per-batch", "abc"), "--runs-per-batch"),
    (("reproduce", "fig3", "--out", ""), "--out"),
    (("reproduce", "fig3", "--backend", "slurm"), "--backend"),
    (("reproduce", "fig3", "--ray-cpus-per-task", "0"), "--ray-cpus-per-task"),
    (("reproduce", "fig3", "--device", "no-such-device"), "--device"),
    (("reproduce", "fig3", "--out", "{tmp}/file.txt"), "--out", "exists and is not a directory"),
    (("reproduce", "fig3", "--out", "/proc/groklab-x"), "--out", "not writable"),
    (("reproduce", "fig3", "--address", "auto"), "--address", "only applies to --backend ray"),
    # check
    (("check", "--claims", "no-such-claim"), "--claims"),
    (("check", "--claims", ","), "--claims"),
    (("check", "--jobs", "0"), "--jobs"),
    (("check", "--jobs", "abc"), "--jobs"),
    (("check", "--claims-file", "{tmp}/absent.py"), "--claims-file"),
    (("check", "--claims-file", "{tmp}/file.txt"), "--claims-file"),
    (("check", "--claims-file", "{tmp}/broken.py"), "--claims-file"),
    (("check", "--out", "{tmp}/file.txt"), "--out"),
    (("check", "--out", ""), "--out"),
    (("check", "--out", "/proc/groklab-x"), "--out", "not writable"),
    # export
    (("export", RES), "--to"),
    (("export", RES, "--to", "csv"), "--to"),
    (("export", "{tmp}/absent", "--to", "tensorboard"), None),
    (("export", RES, "--to", "tensorboard", "--experiment", "e"), "--experiment"),
    (("export", RES, "--to", "mlflow", "--experiment", ""), "--experiment"),
    (("export", RES, "--to", "wandb", "--experiment", " "), "--experiment"),
    (("export", RES, "--to", "tensorboard", "--dest", "{tmp}/file.txt"), "--dest",
     "exists and is not a directory"),
    (("export", RES, "--to", "mlflow", "--dest", ""), "--dest"),
    (("export", RES, "--to", "tensorboard", "--dest", "/proc/groklab-x"), "--dest", "not writable"),
]
#: bad environment variables: (env, argv, the variable the line must name)
ENV = [
    ({"GROKLAB_MAX_MEMORY": "lots"}, ("run", "sparse-recovery"), "GROKLAB_MAX_MEMORY"),
    ({"GROKLAB_MAX_MEMORY": "-1G"}, ("run", "sparse-recovery"), "GROKLAB_MAX_MEMORY"),
    ({"GROKLAB_MAX_MEMORY": "1M"}, ("run", "sparse-recovery"), "GROKLAB_MAX_MEMORY"),
    ({"GROKLAB_MAX_MEMORY": "1M"}, ("run", "modular", "--dry-run"), "GROKLAB_MAX_MEMORY"),
    ({"GROKLAB_MATRIX_KERNEL": "foo"}, ("run", "matrix-completion"), "GROKLAB_MATRIX_KERNEL"),
    ({"GROKLAB_MATRIX_KERNEL": "foo"}, ("run", "matrix-sensing", "--dry-run"),
     "GROKLAB_MATRIX_KERNEL"),
    ({"GROKLAB_FAMILIES": "no_such_module"}, ("run", "sparse-recovery"), "GROKLAB_FAMILIES"),
    ({"GROKLAB_FAMILIES": "no_such_module"}, ("report", RES), "GROKLAB_FAMILIES"),
]


# ---- the harness ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    """One finished tiny sweep (two runs) for the commands that read a results directory."""
    out = tmp_path_factory.mktemp("battery") / "res"
    groklab.sweep({**dataclasses.asdict(tiny()), "l1": [1e-3, 1e-2], "lr": 0.05}, out=out)
    return out


def _files(tmp: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 20)) / np.sqrt(10)
    a = np.zeros(20)
    a[:2] = 1.0
    np.save(tmp / "x.npy", X)
    (tmp / "text.npz").write_text("X,y\n1,2\n")
    np.savez(tmp / "y-zero.npz", X=X, y=np.zeros(10), a_star=a)  # docs: refused
    np.savez(tmp / "y-tiny.npz", X=X, y=np.full(10, 1e-310), a_star=a)  # |y| underflows
    np.savez(tmp / "values-zero.npz", rows=[0, 1], cols=[1, 0], values=[0.0, 0.0], shape=[3, 3])
    (tmp / "file.txt").write_text("a file, not a directory\n")
    (tmp / "bad.toml").write_text("lr = [0.1,\n")
    (tmp / "other.toml").write_text('problem = "no-such-problem"\nlr = 0.1\n')
    (tmp / "broken.py").write_text("CLAIMS = [\n")


def listing(*roots: Path) -> dict:
    """Every path under ``roots`` with its size and modification time."""
    out = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                st = p.lstat()
                out[str(p)] = (st.st_size if not p.is_dir() else 0, st.st_mtime_ns)
    return out


class Accepted(AssertionError):
    """The bad input got as far as opening a results store or starting a check."""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The working directory of every case, with the bad files the cases name."""
    work = tmp_path_factory.mktemp("work")
    _files(work)
    return work


@pytest.fixture
def harness(workdir, monkeypatch, results_dir):
    """The CLI in the working directory, with the points of no return guarded."""
    work = workdir
    monkeypatch.chdir(work)

    def accepted(*_, **__):
        raise Accepted("the input was accepted: a results store was opened or a check started")
    monkeypatch.setattr(driver, "Session", accepted)
    monkeypatch.setattr(check_cmd, "check", accepted)

    def run(argv, env=None):
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        if env and "GROKLAB_FAMILIES" in env:
            monkeypatch.setattr(registry, "_discovered", False)  # discover again, with the plug-in
        argv = [a.format(tmp=work, res=results_dir) for a in argv]
        before = listing(work, results_dir)
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's own errors exit from inside parse_args
            code = e.code
        after = listing(work, results_dir)
        assert after == before, f"written: {sorted(set(after) ^ set(before))}"
        return code
    return run


def assert_one_line(capsys, argv, code, want_code, option, says=None) -> str:
    out, err = capsys.readouterr()
    assert code == want_code, (code, err)
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err, err
    cmd = next(a for a in argv if not a.startswith("-"))
    assert re.match(rf"groklab {cmd}( [\w-]+)?: error: ", err), err
    if option is not None:
        assert option in err, err
    if says is not None:
        assert re.search(says, err), (says, err)
    return err


@pytest.mark.parametrize("argv, option, says", _field_cases() + _exec_cases())
def test_run_and_sweep(harness, capsys, argv, option, says):
    code = harness(argv)
    assert_one_line(capsys, argv, code, 2, option, says)


@pytest.mark.parametrize("argv, option, says", [(*c, None)[:3] for c in OTHER],
                         ids=["-".join(c[0]).replace("{tmp}/", "") for c in OTHER])
def test_other_commands(harness, capsys, argv, option, says):
    code = harness(argv)
    assert_one_line(capsys, argv, code, 2, option, says)


@pytest.mark.parametrize("env, argv, variable", ENV,
                         ids=[f"{'-'.join(e)}={list(e.values())[0]}-{a[0]}-{a[1]}"
                              for e, a, _ in ENV])
def test_environment(harness, capsys, env, argv, variable):
    code = harness(argv, env=env)
    err = assert_one_line(capsys, argv, code, 2, variable)
    assert f"{variable}={env[variable]!r}" in err  # the line names the variable and its value
    assert not err.split("error: ")[1].startswith("--"), err  # not an option it does not come from


def test_generated_values_cover_every_declared_bound():
    """The generator itself: a field with a bound gets a value past it, an enum a non-member."""
    f = {f.name: f for f in dataclasses.fields(tiny())}
    assert dict(bad_values(f["dim"])) == {"fraction": "1.5", "word": "abc", "below": "0",
                                          "above": "100001"}
    assert ("below", "0.0") in bad_values(f["lr"])  # open at 0: 0 itself is out
    assert ("above", "3.0") in bad_values(f["tau"])  # closed at 1
    assert ("inf", "inf") not in bad_values(f["snr"])  # a noiseless SNR is allowed
    assert bad_values(f["basis"]) == [("not-a-choice", "no-such-choice")]
    n = sum(len(bad_values(f)) for fam in registry.all_families()
            for f in dataclasses.fields(fam.config))
    assert n >= 3 * sum(len(dataclasses.fields(fam.config)) for fam in registry.all_families()) / 2


# ---- what cannot be written or read: mocked (as root, a chmod stops nothing) ---------------------
def _read_only(monkeypatch, under: Path) -> None:
    """os.access says no write under ``under`` (the preflight's look at a directory)."""
    real = os.access
    monkeypatch.setattr(preflight.os, "access", lambda path, mode: False if mode & os.W_OK and
                        str(Path(path).absolute()).startswith(str(under)) else real(path, mode))


def test_export_from_a_read_only_results_directory(harness, capsys, monkeypatch, results_dir):
    """The default --dest is inside the results directory: refused before the library loads,
    naming --dest and saying where else to go."""
    _read_only(monkeypatch, results_dir)
    argv = ("export", str(results_dir), "--to", "tensorboard")
    err = assert_one_line(capsys, argv, harness(argv), 2, "--dest", "is not writable")
    assert "give --dest a folder elsewhere" in err


def test_run_into_a_read_only_out(harness, capsys, monkeypatch, workdir):
    _read_only(monkeypatch, workdir)
    argv = ("run", "sparse-recovery", "--out", "res")
    assert_one_line(capsys, argv, harness(argv), 2, "--out", "'res' is not writable")


def test_run_onto_a_full_disk(harness, capsys, monkeypatch):
    disk = dict(f_bavail=1, f_frsize=4096, f_blocks=10 ** 6, f_flag=0)
    monkeypatch.setattr(preflight.os, "statvfs", lambda p: SimpleNamespace(**disk))
    argv = ("run", "sparse-recovery", "--out", "res")
    assert_one_line(capsys, argv, harness(argv), 2, "--out", "its disk has 4 KiB free")


def test_an_unreadable_grid_file(harness, capsys, monkeypatch, workdir):
    (workdir / "locked.toml").write_text("lr = 0.1\n")
    real = Path.open

    def open_(self, *a, **k):
        if self.name == "locked.toml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **k)
    monkeypatch.setattr(Path, "open", open_)
    argv = ("run", "sparse-recovery", "--grid", "locked.toml")
    assert_one_line(capsys, argv, harness(argv), 2, "--grid", "cannot be read: Permission denied")


def test_export_that_fails_mid_write_is_a_fault(harness, capsys, monkeypatch, results_dir,
                                                workdir):
    """A write that fails once the export has started (a full disk): exit status 1, one line
    saying what to remove."""
    def full(*a, **k):
        raise OSError(28, "No space left on device", str(workdir / "tb" / "x"))
    monkeypatch.setattr(export_tensorboard, "FileWriter", full)
    argv = ("export", str(results_dir), "--to", "tensorboard", "--dest", str(workdir / "tb"))
    err = assert_one_line(capsys, argv, harness(argv), 1, None, "No space left on device")
    assert "incomplete: remove it and rerun" in err
