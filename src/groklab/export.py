"""``groklab export OUT --to tensorboard``: a results directory as TensorBoard event files.

One run directory per groklab run (``DEST/<run_id>/``): every numeric curve column as a scalar
series at its logged steps, and the run's row of runs.parquet (config, t1, t2, Delta t, rules,
final errors, status) as a text summary ``run`` holding JSON.  Written offline with tensorboardX
(the optional extra ``pip install -e '.[tensorboard]'``); TensorBoard reads the folder as is
(``tensorboard --logdir DEST``).  TensorBoard stores scalars as float32.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .fields import ConfigError

TARGETS = ("tensorboard",)


def _plain(v):
    """A runs-table cell as a JSON value (NaN / NA -> None, numpy scalars -> Python)."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in v]
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def run_record(row: pd.Series) -> dict:
    """The run's row as a JSON-ready dict, without the long array columns (final iterates)."""
    return {k: _plain(v) for k, v in row.items() if not isinstance(v, (list, np.ndarray))}


def curve_columns(curves: pd.DataFrame) -> list[str]:
    return [c for c in curves.columns if c not in ("run_id", "step")
            and pd.api.types.is_numeric_dtype(curves[c])]


def export_tensorboard(runs: pd.DataFrame, curves: pd.DataFrame, dest) -> list[Path]:
    """Write one TensorBoard run per groklab run under ``dest``; returns their folders."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ConfigError("to", "tensorboard needs tensorboardX: pip install -e "
                          "'.[tensorboard]'") from None
    dest = Path(dest)
    cols = curve_columns(curves) if curves is not None and len(curves) else []
    by_id = {rid: g.sort_values("step") for rid, g in curves.groupby("run_id", observed=True)} \
        if cols else {}
    out = []
    for _, row in runs.iterrows():
        folder = dest / str(row.run_id)
        writer = SummaryWriter(logdir=str(folder), flush_secs=3600)
        try:
            writer.add_text("run", json.dumps(run_record(row), sort_keys=True), 0)
            g = by_id.get(row.run_id)
            if g is not None:
                steps = g.step.to_numpy()
                for c in cols:
                    vals = g[c].to_numpy(dtype=float)
                    for s, v in zip(steps, vals):
                        if math.isfinite(v):  # a diverged log is left out, not written as NaN
                            writer.add_scalar(c, v, int(s))
        finally:
            writer.close()
        out.append(folder)
    return out


def export(results, to: str, dest) -> list[Path]:
    if to not in TARGETS:
        raise ConfigError("to", f"{to!r} is not one of {', '.join(TARGETS)}")
    return export_tensorboard(results.runs, results.curves, dest)
