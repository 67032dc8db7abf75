"""``groklab export OUT --to wandb``: a results directory as Weights & Biases offline runs.

One offline run per groklab run (``DEST/wandb/offline-run-<time>-<run_id>/run-<run_id>.wandb``,
W&B run id = groklab run id, display name the same, project = the results directory's name):

- config: the config fields and the detection settings;
- history: every numeric curve column at its logged step (``step=`` the groklab step; the
  non-finite logs of a diverged run are left out of that row);
- summary: the run-level numbers (t1, t2, delta_t, final errors, ...) and labels (status, rules,
  problem); a time never detected (no t2) is left out.

Written with wandb's own SDK in offline mode (the optional extra ``wandb``), all runs from this
one process (``reinit="create_new"``, each finished before the next): the SDK's service process
starts once, a run costs about 0.1 s to open (docs/export.md).  Nothing is sent: the runs are
uploaded only by an explicit ``wandb sync``.  Console capture, system stats, code, git and
requirements snapshots are off; error reporting is switched off before wandb is imported unless
``WANDB_ERROR_REPORTING`` is set.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .export import curves_by_run, missing_extra, param_columns, split_row
from .fields import ConfigError

# before the import: wandb reads these when it sets up its service and error reporting
os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
os.environ.setdefault("WANDB_SILENT", "true")
try:
    import wandb
    _MISSING = None
except ImportError as e:  # the optional extra is not installed: only this target fails
    wandb, _MISSING = None, e


def _settings():
    return wandb.Settings(mode="offline", silent=True, console="off", save_code=False,
                          disable_code=True, disable_git=True, x_disable_stats=True,
                          x_disable_meta=True, x_save_requirements=False)


def write(runs: pd.DataFrame, curves: pd.DataFrame, dest: Path, name: str) -> list[Path]:
    """One W&B offline run per groklab run under ``dest/wandb``; returns the run folders."""
    if _MISSING is not None:
        raise missing_extra("wandb", _MISSING)
    dest = Path(dest).resolve()
    ids = [str(r) for r in runs.run_id]
    taken = [r for r in ids if any((dest / "wandb").glob(f"offline-run-*-{r}"))]
    if taken:  # wandb sync would upload both copies into one W&B run
        raise ConfigError("dest", f"{dest} already holds {len(taken)} of these runs (e.g. "
                          f"{taken[0]}): remove them or choose another --dest")
    dest.mkdir(parents=True, exist_ok=True)
    params = param_columns(runs)
    cols, by_id = curves_by_run(curves)
    out = []
    for _, row in runs.iterrows():
        rid = str(row.run_id)
        config, numbers, labels = split_row(row, params)
        run = wandb.init(dir=str(dest), project=name, id=rid, name=rid, config=config,
                         tags=[labels["problem"]] if "problem" in labels else None,
                         reinit="create_new", settings=_settings())
        try:
            if rid in by_id:
                steps, vals, ok = by_id[rid]
                for i in np.flatnonzero(ok.any(axis=1)):  # a row of only NaN: no row
                    run.log({c: float(vals[i, j]) for j, c in enumerate(cols) if ok[i, j]},
                            step=int(steps[i]))
            # after the history: wandb sets a metric's summary to its last logged value, and
            # the run-level numbers must not be overwritten by it
            run.summary.update({**numbers, **labels})
            folder = Path(run.settings.sync_dir)
        finally:
            run.finish()
        out.append(folder)
    return out
