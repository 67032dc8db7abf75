"""``groklab export OUT --to tensorboard [--dest DIR]``: the runs of a results directory in an
experiment tracker's offline format (:mod:`groklab.export`)."""
from __future__ import annotations

from pathlib import Path

from ..export import export
from ..results import load


def main(ns) -> int:
    res = load(ns.results)
    dest = Path(ns.dest) if ns.dest else Path(ns.results) / "export" / ns.to
    folders = export(res, ns.to, dest)
    print(f"wrote {len(folders)} runs to {dest} (tensorboard --logdir {dest})")
    return 0
