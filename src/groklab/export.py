"""``groklab export OUT --to tensorboard|mlflow|wandb``: a results directory in the offline format
of an experiment tracker, one tracker run per groklab run (docs/export.md).

This module holds what the three writers share: which columns of the runs table are the run's
config (tracker params) and which are its results, the curves of each run, and the dispatch.  Each
writer is its own module (:mod:`groklab.export_tensorboard`, :mod:`groklab.export_mlflow`,
:mod:`groklab.export_wandb`), imported only for its target: importing mlflow or wandb costs
seconds, and a missing optional library must only matter to the target that needs it.
"""
from __future__ import annotations

import math
from dataclasses import fields as dataclass_fields
from pathlib import Path

import numpy as np
import pandas as pd

from . import family as registry
from .detect import Detection
from .fields import ConfigError
from .lazy import load
from .preflight import check_out

#: target -> the module whose ``write(runs, curves, dest, name)`` writes it
TARGETS = {"tensorboard": "groklab.export_tensorboard", "mlflow": "groklab.export_mlflow",
           "wandb": "groklab.export_wandb"}
#: run-level columns every groklab runs table has after the config and detection fields
RESULT_START = "t1"


def missing_extra(target: str, err: Exception) -> ConfigError:
    """The one line for a target whose optional library is not installed (exit 2)."""
    return ConfigError("to", f"{target} needs the optional extra {target!r}: pip install "
                       f"'groklab[{target}]' (or -e '.[{target}]' in a checkout); {err}")


def plain(v):
    """A runs-table cell as a JSON value (NaN / NA -> None, numpy scalars -> Python)."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return [plain(x) for x in v]
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def run_record(row: pd.Series) -> dict:
    """The run's row as a JSON-ready dict, without the long array columns (final iterates)."""
    return {k: plain(v) for k, v in row.items() if not isinstance(v, (list, np.ndarray))}


def curve_columns(curves: pd.DataFrame) -> list[str]:
    if curves is None or not len(curves):
        return []
    return [c for c in curves.columns if c not in ("run_id", "step")
            and pd.api.types.is_numeric_dtype(curves[c])]


def param_columns(runs: pd.DataFrame) -> list[str]:
    """The config fields of the runs' families, then the detection settings: a tracker's params.

    A family that is not installed here (a plug-in) has no dataclass to ask, so then every column
    before ``t1`` is taken: the runs table writes config and detection first (results-format)."""
    names = registry.config_fields(runs)
    if not names and RESULT_START in runs.columns:
        names = [c for c in runs.columns[:list(runs.columns).index(RESULT_START)]
                 if c not in ("run_id", "problem")]
    names += [f.name for f in dataclass_fields(Detection) if f.name in runs and f.name not in names]
    return names


def split_row(row: pd.Series, params: list[str]) -> tuple[dict, dict, dict]:
    """One runs row as (config, numbers, labels).

    config: the param columns as plain values.  numbers: every other finite int / float cell
    (t1, t2, delta_t, final errors, ...); a time never detected (NA) is left out, not written as
    NaN.  labels: every other scalar cell as a string (status, rules, problem, booleans, versions).
    Array cells (final iterates) are left out: no tracker takes them as a run value."""
    config, numbers, labels = {}, {}, {}
    for k, v in row.items():
        if k == "run_id" or isinstance(v, (list, tuple, np.ndarray)):
            continue
        if k in params:
            config[k] = plain(v)
            continue
        v = plain(v)
        if v is None:
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if math.isfinite(v):
                numbers[k] = v
        else:
            labels[k] = str(v)
    return config, numbers, labels


def curves_by_run(curves: pd.DataFrame) -> tuple[list[str], dict]:
    """The numeric curve columns and run_id -> (steps (T,) int64, values (T, C) float64, finite
    (T, C) bool) with rows by step; non-finite logs (a diverged run) are marked, not written."""
    cols = curve_columns(curves)
    out = {}
    if not cols:
        return cols, out
    for rid, g in curves.groupby("run_id", observed=True, sort=False):
        g = g.sort_values("step", kind="stable")
        vals = g[cols].to_numpy(dtype=float)
        out[str(rid)] = (g["step"].to_numpy(dtype=np.int64), vals, np.isfinite(vals))
    return cols, out


def default_name(results_path) -> str:
    """The experiment (MLflow) / project (W&B) name: the results directory's own name."""
    return Path(results_path).resolve().name if results_path is not None else "groklab"


def export(results, to: str, dest, name: str | None = None) -> list[Path]:
    """Write ``results`` (a :class:`groklab.results.Results`) for tracker ``to`` under ``dest``;
    returns one path per groklab run (its event folder, MLflow run folder or W&B run folder)."""
    if to not in TARGETS:
        raise ConfigError("to", f"{to!r} is not one of {', '.join(TARGETS)}")
    if name is not None and to == "tensorboard":
        raise ConfigError("experiment", "names an MLflow experiment or a W&B project; "
                          "--to tensorboard has none (use --dest)")
    if name is not None and not name.strip():
        raise ConfigError("experiment", f"{name!r} is empty: give a name, or leave the option "
                          "out for the results directory's name")
    check_out(dest, option="dest")  # a file, read-only, /proc: refused before the library loads
    writer = load(TARGETS[to])
    name = name if name is not None else default_name(getattr(results, "path", None))
    return writer.write(results.runs, results.curves, Path(dest), name)
