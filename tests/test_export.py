"""groklab export --to tensorboard|mlflow|wandb: what each writer wrote, read back with that
tracker's own reader (TensorBoard's EventAccumulator, MLflow's client, wandb's transaction-log
reader), against the runs and curves tables it was written from."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from groklab.cli import main
from groklab.export import param_columns, split_row

from conftest import REPO

LONG = "x" * 7000  # longer than an MLflow param value may be (6000)


def _results(tmp_path):
    """Two runs in a legacy-layout results directory: r0 grokked (t2 = 500), r1 never did (no
    t2, no delta_t), r1's l1_norm is NaN at step 100 (a diverged log)."""
    runs = pd.DataFrame([dict(run_id=f"r{i}", problem="sparse-recovery", lr=0.1, l1=b, seed=1,
                              data=LONG if i else "", train_threshold=1e-3,
                              t1=10, t2=[500, None][i], delta_t=[490, None][i],
                              t1_rule="threshold", t2_rule=["threshold", "never"][i],
                              final_test_error=[1e-4, 0.8][i], final_support_recovered=not i,
                              final_a=np.arange(3.0) + i, status="done")
                         for i, b in enumerate((1e-3, 0.0))])
    runs = runs.astype({"t1": "Int64", "t2": "Int64", "delta_t": "Int64"})
    steps = np.array([0, 1, 10, 100, 1000])
    curves = pd.DataFrame([dict(run_id=r, step=s, train_error=1 / (1 + s), test_error=k / (2 + s),
                                l1_norm=np.nan if (r == "r1" and s == 100) else 3.0 + s / 7,
                                nonzeros=np.int32(s % 7))
                           for k, r in ((1.0, "r0"), (0.5, "r1")) for s in steps])
    out = tmp_path / "res"
    out.mkdir()
    runs.to_parquet(out / "runs.parquet", index=False)
    curves.to_parquet(out / "curves.parquet", index=False)
    return out, runs, curves


CURVES = ("train_error", "test_error", "l1_norm", "nonzeros")


def _finite(curves, rid, col):
    w = curves[curves.run_id == rid]
    return w[np.isfinite(w[col].astype(float))]


@pytest.fixture
def no_network(monkeypatch):
    """Any connection but a local socket (wandb's service) from this process fails the test."""
    real = socket.socket.connect

    def connect(self, addr):
        if self.family != socket.AF_UNIX:
            raise AssertionError(f"export tried the network: {addr}")
        return real(self, addr)
    monkeypatch.setattr(socket.socket, "connect", connect)


def test_tensorboard_round_trip(tmp_path, capsys):
    pytest.importorskip("tensorboardX")
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    out, runs, curves = _results(tmp_path)
    assert main(["export", str(out), "--to", "tensorboard", "--dest", str(tmp_path / "tb")]) == 0
    assert "wrote 2 runs" in capsys.readouterr().out
    for rid in ("r0", "r1"):
        acc = ea.EventAccumulator(str(tmp_path / "tb" / rid))
        acc.Reload()
        assert set(acc.Tags()["scalars"]) == set(CURVES)
        for col in CURVES:
            ev = acc.Scalars(col)
            w = _finite(curves, rid, col)  # a non-finite log is left out
            assert [e.step for e in ev] == list(w.step)
            np.testing.assert_allclose([e.value for e in ev], w[col], rtol=1e-7)  # float32
        text = acc.Tensors("run/text_summary")[0].tensor_proto.string_val[0].decode()
        rec = json.loads(text)
        row = runs.set_index("run_id").loc[rid]
        assert rec["run_id"] == rid and rec["l1"] == row.l1 and rec["status"] == "done"
        assert rec["t2"] == (None if pd.isna(row.t2) else int(row.t2))
    # a second export into the same folders would double every point: refused, one line
    assert main(["export", str(out), "--to", "tensorboard", "--dest", str(tmp_path / "tb")]) == 2
    err = capsys.readouterr().err
    assert "--dest" in err and len(err.strip().splitlines()) == 1


def test_params_are_config_and_detection_fields(tmp_path):
    """The family's config fields and the detection settings are params; results, labels and
    arrays are not.  A family not installed here: every column before t1."""
    _, runs, _ = _results(tmp_path)
    assert sorted(param_columns(runs)) == ["data", "l1", "lr", "seed", "train_threshold"]
    config, numbers, labels = split_row(runs.iloc[1], param_columns(runs))
    assert config == dict(lr=0.1, l1=0.0, seed=1, data=LONG, train_threshold=1e-3)
    assert numbers == dict(t1=10, final_test_error=0.8)  # no t2, no delta_t: never detected
    assert labels == dict(problem="sparse-recovery", t1_rule="threshold", t2_rule="never",
                          final_support_recovered="False", status="done")
    plug = runs.assign(problem="not-installed", extra_knob=3)  # a column after t1: a result
    assert param_columns(plug) == ["lr", "l1", "seed", "data", "train_threshold"]


def test_mlflow_round_trip(tmp_path, capsys, monkeypatch, no_network):
    """Read back with MLflow's own client: params, tags, run-level metrics and every curve's
    history at its steps (the file store keeps a float's repr: equal, not close)."""
    pytest.importorskip("mlflow")
    tracking = pytest.importorskip("mlflow.tracking")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    out, runs, curves = _results(tmp_path)
    dest = tmp_path / "ml"
    assert main(["export", str(out), "--to", "mlflow", "--dest", str(dest)]) == 0
    assert "wrote 2 runs" in capsys.readouterr().out
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # set for the export's client only
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow >= 3.18 refuses file stores
    client = tracking.MlflowClient(tracking_uri=f"file:{dest}")
    exp = client.get_experiment_by_name("res")  # named after the results directory
    found = client.search_runs([exp.experiment_id])
    assert sorted(r.data.tags["groklab.run_id"] for r in found) == ["r0", "r1"]
    for r in found:
        rid = r.data.tags["groklab.run_id"]
        row = runs.set_index("run_id").loc[rid]
        assert r.info.run_name == rid and r.info.status == "FINISHED"
        want = dict(lr="0.1", l1=str(row.l1), seed="1", train_threshold="0.001",
                    data=row.data if len(row.data) <= 6000 else row.data[:5997] + "...")
        assert r.data.params == want
        assert r.data.tags["status"] == "done" and r.data.tags["t2_rule"] == row.t2_rule
        assert r.data.tags["final_support_recovered"] == str(row.final_support_recovered)
        m = r.data.metrics
        assert m["t1"] == 10 and m["final_test_error"] == row.final_test_error
        if pd.isna(row.t2):
            assert "t2" not in m and "delta_t" not in m
        else:
            assert (m["t2"], m["delta_t"]) == (500, 490)
        assert "final_a" not in m and "final_a" not in r.data.params
        for col in CURVES:
            hist = client.get_metric_history(r.info.run_id, col)
            w = _finite(curves, rid, col)
            assert [h.step for h in hist] == list(w.step)
            assert [h.value for h in hist] == list(w[col].astype(float))
    # the experiment exists now: a second export is refused in one line naming the option
    assert main(["export", str(out), "--to", "mlflow", "--dest", str(dest)]) == 2
    err = capsys.readouterr().err
    assert "--experiment" in err and len(err.strip().splitlines()) == 1
    assert main(["export", str(out), "--to", "mlflow", "--dest", str(dest),
                 "--experiment", "again"]) == 0


def _wandb_records(run_dir):
    """The records of a run's .wandb file, parsed by wandb's own reader: ``wandb leet inspect
    --json`` (a public CLI command; the parser is wandb-core's, the one ``wandb sync`` replays).
    The export itself writes through ``wandb.init`` / ``log`` only and never reads these files."""
    res = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json",
                          str(run_dir)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "WANDB_SILENT": "true"})
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


def test_wandb_round_trip(tmp_path, capsys, no_network):
    """Config, history at the logged steps and summary, read back from the offline runs."""
    pytest.importorskip("wandb")
    out, runs, curves = _results(tmp_path)
    dest = tmp_path / "wb"
    assert main(["export", str(out), "--to", "wandb", "--dest", str(dest),
                 "--experiment", "grok"]) == 0
    assert "wrote 2 runs" in capsys.readouterr().out
    for rid in ("r0", "r1"):
        (run_dir,) = (dest / "wandb").glob(f"offline-run-*-{rid}")
        recs = _wandb_records(run_dir)
        (head,) = [r["run"] for r in recs if r["type"] == "run"]
        assert head["run_id"] == rid and head["display_name"] == rid and head["project"] == "grok"
        row = runs.set_index("run_id").loc[rid]
        config = {k: v for k, v in head["config"]["update"].items() if k != "_wandb"}
        assert config == dict(lr=0.1, l1=row.l1, seed=1, data=row.data, train_threshold=1e-3)
        hist = [r["history"] for r in recs if r["type"] == "history"]
        got = {int(h["step"]["num"]): h["item"] for h in hist}
        assert sorted(got) == list(curves[curves.run_id == rid].step)
        for col in CURVES:
            w = _finite(curves, rid, col)
            assert [s for s in sorted(got) if col in got[s]] == list(w.step)
            assert [got[s][col] for s in w.step] == list(w[col].astype(float))
        summary = {}
        for r in recs:  # later updates win, as in the W&B run page
            if r["type"] == "summary":
                summary.update(r["summary"].get("update", {}))
        assert summary["t1"] == 10 and summary["status"] == "done"
        assert summary["final_test_error"] == row.final_test_error
        assert summary["t2_rule"] == row.t2_rule
        if pd.isna(row.t2):
            assert "t2" not in summary and "delta_t" not in summary
        else:
            assert (summary["t2"], summary["delta_t"]) == (500, 490)
    assert main(["export", str(out), "--to", "wandb", "--dest", str(dest)]) == 2
    err = capsys.readouterr().err
    assert "--dest" in err and len(err.strip().splitlines()) == 1


MISSING = """
import contextlib, io, json, sys
for name in ("tensorboardX", "mlflow", "wandb"):
    sys.modules[name] = None  # import of it now raises ImportError, as when not installed
from groklab.cli import main
out = {}
for to in ("tensorboard", "mlflow", "wandb"):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["export", sys.argv[1], "--to", to, "--dest", sys.argv[2] + "/" + to])
    out[to] = [rc, err.getvalue()]
print(json.dumps(out))
"""


def test_missing_extra_is_one_line(tmp_path):
    """Without the tracker's library: one line naming the extra to install, exit 2, nothing
    written (a fresh interpreter, where importing the library fails)."""
    out, _, _ = _results(tmp_path)
    res = subprocess.run([sys.executable, "-c", MISSING, str(out), str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert res.returncode == 0, res.stderr
    for to, (rc, err) in json.loads(res.stdout.splitlines()[-1]).items():
        assert rc == 2 and len(err.strip().splitlines()) == 1, (to, err)
        assert f"groklab[{to}]" in err and "--to" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("argv, option", [(["--to", "csv"], "--to"),
                                          (["--to", "tensorboard", "--experiment", "e"],
                                           "--experiment")])
def test_bad_input_is_one_line(tmp_path, capsys, argv, option):
    out, _, _ = _results(tmp_path)
    try:
        rc = main(["export", str(out), *argv])
    except SystemExit as e:  # argparse's choices
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err
    assert option in err and len(err.strip().splitlines()) == 1
