"""``groklab plot`` faults end in one line and leave nothing behind: an output name matplotlib
cannot write (exit 2, before anything is read), a full disk (exit 1, no partial picture, no
temporary file); a results directory that is not writable sends the picture to the current
directory with a one-line note."""
from __future__ import annotations

import errno
from pathlib import Path

import pytest
import toy_family  # noqa: F401 -- registers the toy family

import groklab
from groklab.cli import cmd_plot, main
from html_pages import tree_state

GRID = {"lr": 0.5, "beta": [1e-2, 1e-1], "steps": 300, "log_every": 10}


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    out = tmp_path_factory.mktemp("plot") / "r"
    groklab.sweep(GRID, problem="toy-shrinkage", out=out)
    return out


def stderr_lines(capsys) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


def test_unsupported_extension_is_refused_before_anything_is_read(out, tmp_path, monkeypatch,
                                                                  capsys):
    def no_reading(path):
        raise AssertionError("the results were read before --file was checked")

    monkeypatch.setattr(cmd_plot, "load", no_reading)
    target = tmp_path / "p.txt"
    assert main(["plot", str(out), "--file", str(target)]) == 2
    assert stderr_lines(capsys) == [f"groklab plot: error: --file: {target}: unsupported "
                                    "extension; use .png, .pdf, .svg"]
    assert not target.exists()


@pytest.mark.parametrize("ext, magic", [(".svg", b"<?xml"), (".pdf", b"%PDF"),
                                        (".PNG", b"\x89PNG")])
def test_every_format_named_is_written(out, tmp_path, ext, magic):
    target = tmp_path / f"p{ext}"
    assert main(["plot", str(out), "--file", str(target)]) == 0
    assert target.read_bytes().startswith(magic)


def test_full_disk_is_one_line_exit_1_and_leaves_no_file(out, monkeypatch, capsys):
    from matplotlib.figure import Figure

    def full(self, fname, **kw):  # part of the picture reaches the disk, then it is full
        Path(fname).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    before = tree_state(out)
    monkeypatch.setattr(Figure, "savefig", full)
    assert main(["plot", str(out)]) == 1
    err = stderr_lines(capsys)
    assert len(err) == 1 and err[0].startswith("groklab plot: error: cannot write ") and \
        str(out / "plot.png") in err[0] and "No space left on device" in err[0], err
    assert tree_state(out) == before  # neither plot.png nor a temporary file


def test_read_only_results_go_to_the_current_directory_with_a_note(out, tmp_path, monkeypatch,
                                                                   capsys):
    before = tree_state(out)
    monkeypatch.setattr(cmd_plot.os, "access", lambda p, mode: False)
    monkeypatch.chdir(tmp_path)
    assert main(["plot", str(out)]) == 0
    png = tmp_path / "r-plot.png"
    assert stderr_lines(capsys) == [f"groklab plot: note: {out} is not writable; writing {png} "
                                    "instead"]
    assert png.read_bytes()[:4] == b"\x89PNG" and tree_state(out) == before
