"""``groklab export OUT --to tensorboard|mlflow|wandb [--dest DIR] [--experiment NAME]``: the
runs of a results directory in an experiment tracker's offline format (:mod:`groklab.export`)."""
from __future__ import annotations

from pathlib import Path

from ..export import export
from ..results import load

#: how to open what each target wrote (DEST filled in)
OPEN = {"tensorboard": "tensorboard --logdir {dest}",
        "mlflow": "MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri file:{dest}",
        "wandb": "wandb sync {dest}/wandb/offline-run-*  uploads them"}


def main(ns) -> int:
    res = load(ns.results)
    dest = Path(ns.dest) if ns.dest else Path(ns.results) / "export" / ns.to
    folders = export(res, ns.to, dest, ns.experiment)
    print(f"wrote {len(folders)} runs to {dest} ({OPEN[ns.to].format(dest=dest)})")
    return 0
