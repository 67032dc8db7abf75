"""``groklab export OUT --to tensorboard|mlflow|wandb [--dest DIR] [--experiment NAME]``: the
runs of a results directory in an experiment tracker's offline format (:mod:`groklab.export`)."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, StoreError
from ..export import export
from ..results import load

#: how to open what each target wrote (DEST filled in)
OPEN = {"tensorboard": "tensorboard --logdir {dest}",
        "mlflow": "MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri file:{dest}",
        "wandb": "wandb sync {dest}/wandb/offline-run-*  uploads them"}


def main(ns) -> int:
    if ns.dest is not None and not ns.dest.strip():
        raise ConfigError("dest", f"{ns.dest!r} is empty: give a folder, or leave the option out "
                          "for RESULTS/export/TO")
    res = load(ns.results)
    dest = Path(ns.dest) if ns.dest else Path(ns.results) / "export" / ns.to
    try:
        folders = export(res, ns.to, dest, ns.experiment)
    except ConfigError as e:
        if e.option == "dest" and ns.dest is None:  # the default, inside the results directory
            raise ConfigError("dest", f"{str(e).split(': ', 1)[1]}; it is the default, inside "
                              "the results directory: give --dest a folder elsewhere") from None
        raise
    except OSError as e:  # mid-export (disk full, ...): one line, exit 1
        raise StoreError(f"cannot write {e.filename or dest}: {e.strerror or e}; the export in "
                         f"{dest} is incomplete: remove it and rerun") from None
    print(f"wrote {len(folders)} runs to {dest} ({OPEN[ns.to].format(dest=dest)})")
    return 0
