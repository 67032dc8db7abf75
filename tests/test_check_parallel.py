"""``groklab check --jobs N``: recipes side by side in worker processes give the verdicts and the
numbers of the serial checker (every sweep runs on one torch thread either way)."""
from __future__ import annotations

import pandas as pd
import toy_family  # noqa: F401 -- registers the toy family in this process

from conftest import REPO
from groklab.claims import check, load_claims_file
from groklab.cli import main

FILE = REPO / "tests" / "claims_toy_pair.py"


def _numbers(out):
    t = pd.read_parquet(out / "claims.parquet").set_index("id")
    runs = {name: pd.read_parquet(out / name / "runs").sort_values("run_id").reset_index(
        drop=True) for name in ("toy-a", "toy-b")}
    return t[["status", "measured"]], runs


def test_two_jobs_equal_one_job(tmp_path, monkeypatch):
    # the spawned workers find the toy family the way a user's would: GROKLAB_FAMILIES
    monkeypatch.setenv("GROKLAB_FAMILIES", "toy_family")
    monkeypatch.setenv("PYTHONPATH", str(REPO / "tests"))
    claims = load_claims_file(FILE)
    lines = []
    serial = check(claims, tmp_path / "serial", jobs=1)
    parallel = check(claims, tmp_path / "parallel", jobs=2, log=lines.append,
                     claims_file=FILE)
    assert [v.status for v in serial] == [v.status for v in parallel] == ["pass", "pass"]
    (t1, runs1), (t2, runs2) = _numbers(tmp_path / "serial"), _numbers(tmp_path / "parallel")
    pd.testing.assert_frame_equal(t1, t2)
    for name in runs1:
        a = runs1[name].drop(columns=["wall_time_s"])
        b = runs2[name].drop(columns=["wall_time_s"])
        pd.testing.assert_frame_equal(a, b)
    assert sorted(ln.split(":")[0] for ln in lines) == ["recipe toy-a", "recipe toy-b"]


def test_a_recipe_failing_in_a_worker_makes_its_claims_inconclusive(tmp_path, monkeypatch):
    """Without GROKLAB_FAMILIES the workers do not know the toy family: each recipe fails in
    its worker, and the failure comes back as the claims' reason instead of a crash."""
    monkeypatch.delenv("GROKLAB_FAMILIES", raising=False)
    claims = load_claims_file(FILE)
    verdicts = check(claims, tmp_path / "c", jobs=2)
    assert [v.status for v in verdicts] == ["inconclusive", "inconclusive"]
    assert all("toy-shrinkage" in v.reason for v in verdicts), [v.reason for v in verdicts]


def test_jobs_below_one_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["check", "--jobs", "0", "--claims", "sparse.l1-groks", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--jobs" in err and "0" in err, err
    assert not out.exists()
