"""Command-line input faults: one line naming the option, exit 2, nothing run or written.

Most cases call the CLI's ``main`` in this process (parsing is all they exercise); one goes
through a real subprocess end to end."""
from __future__ import annotations

import re

import pytest

from groklab.cli import main

from conftest import REPO, cli

SMALL = ["--dim", "20", "--sparsity", "2", "--measurements", "10", "--steps", "200",
         "--log-every", "50", "--log-dense-until", "50"]


def run_main(capsys, *args) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # argparse's own errors exit from inside parse_args
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, option: str, *args) -> str:
    code, out, err = run_main(capsys, *args)
    assert code == 2, (code, out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert option in err, err
    return err


def test_flags_are_never_abbreviated(capsys, engine_spy):
    spy = engine_spy()
    err = refused(capsys, "--step", "run", "sparse-recovery", *SMALL[:6], "--step", "10")
    assert "unrecognized" in err and spy.calls == []
    refused(capsys, "--runs-per", "reproduce", "fig3", "--runs-per", "4")


@pytest.mark.parametrize("flag, value", [
    ("--lr", "٠.١"),          # Arabic-Indic digits: float() reads them as 0.1
    ("--steps", "１００"),     # full-width digits
    ("--l1", "1e-3,٣e-3"),
    ("--l1", "1_000"),         # float() accepts underscores too
    ("--runs-per-batch", "٣"),
    ("--shard", "٠/2"),
])
def test_only_ascii_numbers(capsys, flag, value):
    refused(capsys, flag, "run", "sparse-recovery", *SMALL, flag, value, "--dry-run")


def test_empty_out_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default results/<problem> would be created here
    refused(capsys, "--out", "run", "sparse-recovery", *SMALL, "--out", "", "--quiet")
    refused(capsys, "--out", "reproduce", "fig3", "--out", "")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["-1", "0"])
def test_reproduce_refuses_runs_per_batch_below_one(capsys, tmp_path, value, engine_spy):
    spy = engine_spy()
    out = tmp_path / "fig"
    err = refused(capsys, "--runs-per-batch", "reproduce", "fig3", "--runs-per-batch", value,
                  "--out", out)
    assert "runs.parquet" not in err and spy.calls == [] and not out.exists()
    refused(capsys, "--runs-per-batch", "run", "sparse-recovery", *SMALL, "--runs-per-batch", value)


def test_negative_numbers_still_reach_the_range_check(capsys):
    err = refused(capsys, "--l1", "run", "sparse-recovery", *SMALL, "--l1", "-1e-3", "--dry-run")
    assert "out of range" in err
    refused(capsys, "--lr", "run", "sparse-recovery", *SMALL, "--lr", "-0.5", "--dry-run")


def test_shard_counts_from_zero(capsys):
    code, out, _ = run_main(capsys, "run", "sparse-recovery", *SMALL, "--seed", "range(0,40)",
                            "--shard", "0/2", "--dry-run")
    code1, out1, _ = run_main(capsys, "run", "sparse-recovery", *SMALL, "--seed", "range(0,40)",
                              "--shard", "1/2", "--dry-run")
    n0 = int(re.search(r"runs: (\d+)", out).group(1))
    n1 = int(re.search(r"runs: (\d+)", out1).group(1))
    assert code == code1 == 0 and n0 + n1 == 40 and n0 > 0 and n1 > 0
    refused(capsys, "--shard", "run", "sparse-recovery", *SMALL, "--shard", "2/2", "--dry-run")
    readme = (REPO / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("| `--shard I/K`"))
    assert re.search(r"count\w* from 0|0 <= I < K|0 ≤ I < K", line), line


def test_end_to_end_bad_input_writes_nothing(tmp_path):
    out = tmp_path / "res"
    p = cli("run", "sparse-recovery", *SMALL, "--lr", "٠.١", "--out", out)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--lr" in p.stderr
    assert not out.exists()


def _tree(root) -> dict:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_bad_kernel_setting_leaves_an_existing_results_directory_untouched(tmp_path, capsys,
                                                                              monkeypatch):
    """GROKLAB_MATRIX_KERNEL=foo once logged an "interrupted" command in the manifest of the
    directory it had just created: now it is refused before the store is opened."""
    out = tmp_path / "res"
    grid = ["run", "matrix-completion", "--rows", "6", "--cols", "5", "--observed", "20",
            "--steps", "20", "--log-every", "10", "--log-dense-until", "0", "--quiet",
            "--out", out]
    monkeypatch.setenv("GROKLAB_MATRIX_KERNEL", "torch")
    assert run_main(capsys, *grid)[0] == 0
    before = _tree(out)
    monkeypatch.setenv("GROKLAB_MATRIX_KERNEL", "foo")
    code, _, err = run_main(capsys, *grid, "--nuclear", "1e-3,2e-3")  # new runs to do
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("groklab run: error: GROKLAB_MATRIX_KERNEL='foo': not a backend: use "
                          "auto, numba or torch"), err
    assert _tree(out) == before  # the manifest too: no command was logged


def test_a_plug_in_that_fails_to_import_is_one_line(tmp_path):
    """In a real process (the parser lists every family, so even --help meets it)."""
    for args in (["--help"], ["run", "sparse-recovery", "--out", tmp_path / "res"]):
        p = cli(*args, env_extra={"GROKLAB_FAMILIES": "no_such_module"})
        assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
        assert "GROKLAB_FAMILIES='no_such_module': cannot import the family module " \
               "'no_such_module': ModuleNotFoundError" in p.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_ray_address_is_named_as_given(capsys, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "res"
    code, _, err = run_main(capsys, "run", "sparse-recovery", *SMALL, "--backend", "ray",
                            "--address", "127.0.0.1:1", "--out", out)
    assert code == 2 and err.count("\n") == 1, err
    # the address the user gave comes first; Ray's reading of it (this node's IP) only after
    assert err.startswith("groklab run: error: --address: '127.0.0.1:1': no Ray cluster answers "
                          "there"), err
    assert not out.exists()
