"""``groklab reproduce``: rerun a paper figure (quick or --full) and draw it."""
from __future__ import annotations

import sys
from pathlib import Path

from ..backends import BackendError
from ..fields import ConfigError
from ..figures import all_figures
from .options import out_dir, positive


def main(ns) -> int:
    figures = all_figures()
    if ns.figure == "list":
        for name, fig in figures.items():
            print(f"{name:8s} {fig.title}")
        return 0
    if ns.figure not in figures:
        raise ConfigError("figure", f"{ns.figure!r} is not one of {', '.join(figures)}")
    if ns.runs_per_batch is not None and ns.runs_per_batch < 1:
        raise ConfigError("runs_per_batch", f"{ns.runs_per_batch} is out of range: must be an "
                          "integer >= 1")
    positive("ray_cpus_per_task", ns.ray_cpus_per_task)
    fig = figures[ns.figure]
    out = Path(out_dir(ns, f"results/{ns.figure}"))
    try:
        png = fig.reproduce(out, full=ns.full, quiet=ns.quiet, batch_size=ns.runs_per_batch,
                            device=ns.device, backend=ns.backend, address=ns.address,
                            ray_cpus_per_task=ns.ray_cpus_per_task)
    except BackendError as e:
        print(f"groklab reproduce: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {png}")
    return 0
