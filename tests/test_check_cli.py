"""``groklab check`` end to end on a user's claims file over the toy family (no real figure)."""
from __future__ import annotations

import json

import pandas as pd
import toy_family  # noqa: F401 -- registers the toy family in this process

import groklab

from conftest import REPO, cli
from groklab.cli import main

FILE = REPO / "tests" / "claims_toy.py"
IDS = "toy.delay,toy.wrong,toy.too-few"


def _parquet_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))


def test_check_end_to_end_then_resume(tmp_path, capsys):
    """In-process (the CLI's own main), to spare the suite a torch start-up per call."""
    out = tmp_path / "check"
    assert main(["check", "--claims-file", str(FILE), "--claims", IDS, "--out", str(out),
                 "--quiet"]) == 0
    stdout = capsys.readouterr().out
    t = pd.read_parquet(out / "claims.parquet")
    assert dict(zip(t.id, t.status)) == {"toy.delay": "pass", "toy.wrong": "fail",
                                         "toy.too-few": "inconclusive"}
    m = json.loads(t.set_index("id").measured["toy.delay"])
    assert abs(m["exponent"] + 1) < 0.05 and m["n"] == 6 and m["n_censored"] == 0
    lines = [ln for ln in stdout.splitlines() if ln.startswith("toy.")]
    assert [ln.split()[:2] for ln in lines] == [["toy.delay", "PASS"], ["toy.wrong", "FAIL"],
                                                ["toy.too-few", "INCONCLUSIVE"]]
    assert len(groklab.load(out / "toy-grid").runs) == 6  # the normal store, one dir per recipe
    page = (out / "report.html").read_text()
    assert "toy.wrong" in page and 'class="badge fail"' in page and "(no figure)" in page
    # a rerun resumes: every run is finished, nothing is simulated again
    parts = _parquet_files(out / "toy-grid")
    assert main(["check", "--claims-file", str(FILE), "--claims", "toy.delay", "--out",
                 str(out), "--quiet"]) == 0
    assert _parquet_files(out / "toy-grid") == parts  # no new batch was written
    assert list(pd.read_parquet(out / "claims.parquet").id) == ["toy.delay"]


def test_check_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys):
    out = tmp_path / "never"
    p = cli("check", "--claims", "sparse.l1-groks,no.such", "--out", out)  # the real entry point
    assert p.returncode == 2 and "no.such" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    for args in (["--claims-file", str(tmp_path / "x.py")], ["--claims", "a,,b"]):
        assert main(["check", *args, "--out", str(out)]) == 2, args
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "--claims" in err.replace("_", "-"), err
    assert not out.exists()


def test_check_list_names_every_paper_claim(capsys):
    assert main(["check", "--list"]) == 0
    ids = [ln.split()[0] for ln in capsys.readouterr().out.splitlines()
           if not ln.startswith(" ")]  # a claim's block: its head line, then indented lines
    assert len(ids) >= 25 and "sparse.delay-inverse-ab" in ids and "ts.sobolev" in ids
