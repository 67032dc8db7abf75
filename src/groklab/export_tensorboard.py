"""``groklab export OUT --to tensorboard``: a results directory as TensorBoard event files.

One run directory per groklab run (``DEST/<run_id>/``): every numeric curve column as a scalar
series at its logged steps, and the run's row of the runs table (config, t1, t2, Delta t, rules,
final errors, status) as a text summary ``run`` holding JSON.  Written offline with tensorboardX's
event-file writer (the optional extra ``tensorboard``); TensorBoard reads the folder as is
(``tensorboard --logdir DEST``).  TensorBoard stores scalars as float32.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .export import curves_by_run, missing_extra, run_record
from .fields import ConfigError

try:
    from tensorboardX import FileWriter
    from tensorboardX.proto.summary_pb2 import Summary
    from tensorboardX.summary import text
    _MISSING = None
except ImportError as e:  # the optional extra is not installed: only this target fails
    FileWriter = Summary = text = None
    _MISSING = e


def write(runs: pd.DataFrame, curves: pd.DataFrame, dest: Path, name: str) -> list[Path]:
    """One TensorBoard run per groklab run under ``dest``; returns their folders.  ``name`` is
    unused (TensorBoard names runs by folder)."""
    if _MISSING is not None:
        raise missing_extra("tensorboard", _MISSING)
    taken = [str(r) for r in runs.run_id if (dest / str(r)).exists()]
    if taken:  # a second event file in a run's folder would show every point twice
        raise ConfigError("dest", f"{dest} already holds {len(taken)} of these runs (e.g. "
                          f"{taken[0]}): remove them or choose another --dest")
    cols, by_id = curves_by_run(curves)
    out = []
    for _, row in runs.iterrows():
        folder = dest / str(row.run_id)
        writer = FileWriter(str(folder), max_queue=1000, flush_secs=3600)
        try:
            writer.add_summary(text("run", json.dumps(run_record(row), sort_keys=True)), 0)
            if str(row.run_id) in by_id:
                steps, vals, ok = by_id[str(row.run_id)]
                # one event per logged step holding every column's value (what add_scalar
                # writes, one value each): 7x faster than one event per value
                for i in np.flatnonzero(ok.any(axis=1)):
                    writer.add_summary(Summary(value=[
                        Summary.Value(tag=c, simple_value=float(vals[i, j]))
                        for j, c in enumerate(cols) if ok[i, j]]), int(steps[i]))
        finally:
            writer.close()
        out.append(folder)
    return out
