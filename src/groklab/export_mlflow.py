"""``groklab export OUT --to mlflow``: a results directory as an MLflow file store.

The store is ``DEST`` (tracking URI ``file:DEST``), with one experiment (default: the results
directory's name) and one MLflow run per groklab run, named by its run id:

- params: the config fields and the detection settings, as strings (MLflow's limits: keys of at
  most 250 characters, values of at most 6000; longer values are cut and end in "...");
- metrics: every numeric curve column as a history at its logged steps (non-finite logs of a
  diverged run are left out), and the run-level numbers (t1, t2, delta_t, final errors, ...) as
  single values at step 0; a time never detected (no t2) is not written;
- tags: ``groklab.run_id``, ``status``, ``problem``, the detection rules and every other string or
  boolean column.

Written with MLflow's own client (the optional extra ``mlflow``: mlflow-skinny) in batches
(``MlflowClient.log_batch``, at most 1000 metrics, 100 params and tags per call: MLflow's limits).
MLflow 3.18 keeps the file store in maintenance mode and refuses it unless
``MLFLOW_ALLOW_FILE_STORE=true``: the export sets that for its own client; ``mlflow ui`` needs it
too (docs/export.md).  Telemetry is switched off before mlflow is imported (no network).
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pandas as pd

from .export import curves_by_run, missing_extra, param_columns, split_row
from .fields import ConfigError

# before the import: mlflow reads it when it starts its telemetry client
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
try:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient
    _MISSING = None
except ImportError as e:  # the optional extra is not installed: only this target fails
    Metric = Param = RunTag = MlflowClient = None
    _MISSING = e

#: MLflow's documented limits on one log_batch call and on key / value lengths
MAX_METRICS, MAX_PARAMS_TAGS, MAX_KEY, MAX_PARAM, MAX_TAG = 1000, 100, 250, 6000, 8000
RUN_ID_TAG = "groklab.run_id"


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[:n - 3] + "..."


@contextlib.contextmanager
def _file_store_allowed():
    """MLflow >= 3.18 refuses a file store unless this variable is set: set it for our client
    only, and put the caller's value back."""
    old = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = old


def _chunks(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _metric_key(k: str, curve_cols: list[str]) -> str:
    # a run-level number named like a curve column would merge into that column's history
    return _cut(f"run/{k}" if k in curve_cols else k, MAX_KEY)


def write(runs: pd.DataFrame, curves: pd.DataFrame, dest: Path, name: str) -> list[Path]:
    """One MLflow run per groklab run in experiment ``name`` of the file store ``dest``; returns
    the run folders."""
    if _MISSING is not None:
        raise missing_extra("mlflow", _MISSING)
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    uri = f"file:{dest}"
    with _file_store_allowed():
        client = MlflowClient(tracking_uri=uri)
        if client.get_experiment_by_name(name) is not None:
            raise ConfigError("experiment", f"{name!r} already exists in {uri}: choose another "
                              "--experiment or --dest")
        exp = client.create_experiment(name)
        return _write_runs(client, exp, runs, curves, dest)


def _write_runs(client, exp: str, runs: pd.DataFrame, curves: pd.DataFrame,
                dest: Path) -> list[Path]:
    params = param_columns(runs)
    cols, by_id = curves_by_run(curves)
    now = int(time.time() * 1000)  # ms: the export's time; a groklab log has no wall clock
    out = []
    for _, row in runs.iterrows():
        rid = str(row.run_id)
        config, numbers, labels = split_row(row, params)
        tags = {RUN_ID_TAG: rid, **{_cut(k, MAX_KEY): _cut(v, MAX_TAG) for k, v in labels.items()}}
        run = client.create_run(exp, start_time=now, tags=tags, run_name=rid)
        mid = run.info.run_id
        ps = [Param(_cut(k, MAX_KEY), _cut(str(v), MAX_PARAM)) for k, v in config.items()]
        for chunk in _chunks(ps, MAX_PARAMS_TAGS):
            client.log_batch(mid, params=chunk)
        ms = [Metric(_metric_key(k, cols), float(v), now, 0) for k, v in numbers.items()]
        if rid in by_id:
            steps, vals, ok = by_id[rid]
            for j, c in enumerate(cols):
                key = _cut(c, MAX_KEY)
                ms += [Metric(key, float(v), now, int(s))
                       for s, v in zip(steps[ok[:, j]], vals[ok[:, j], j])]
        for chunk in _chunks(ms, MAX_METRICS):
            client.log_batch(mid, metrics=chunk)
        client.set_terminated(mid, status="FINISHED", end_time=now)
        out.append(dest / exp / mid)
    return out
