"""``groklab run`` / ``groklab sweep``: one experiment or a grid of them, stored in --out."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import family as registry
from ..backends import BackendError
from ..driver import execute
from ..fields import ConfigError
from ..sweep import DEFAULT_BATCH_SIZE, expand_grid
from .options import collect, detection
from .report import print_runs


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, k = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError("shard", f"{text!r} is not of the form I/K") from None
    if not (k >= 1 and 0 <= i < k):
        raise ConfigError("shard", f"{text!r}: need K >= 1 and 0 <= I < K (shards count from 0)")
    return i, k


def main(ns) -> int:
    fam = registry.get(ns.problem)
    values = collect(ns, fam.config)
    det = detection(ns, ns.problem)
    configs = expand_grid(ns.problem, values)
    if ns.runs_per_batch is not None and ns.runs_per_batch < 1:
        raise ConfigError("runs_per_batch", f"{ns.runs_per_batch} is out of range: must be an "
                          "integer >= 1")
    shard = parse_shard(ns.shard) if ns.shard is not None else None
    out = Path(ns.out or f"results/{ns.problem}")
    try:
        res = execute(configs, out=out, detection=det,
                      batch_size=ns.runs_per_batch or DEFAULT_BATCH_SIZE, device=ns.device,
                      save_iterates=ns.save_iterates, quiet=ns.quiet, shard=shard,
                      backend=ns.backend, address=ns.address,
                      ray_cpus_per_task=ns.ray_cpus_per_task)
    except BackendError as e:  # a batch failed on a worker: one line; finished batches are kept
        print(f"groklab {ns.command}: error: {e}", file=sys.stderr)
        return 1
    if not ns.quiet:
        print_runs(res.runs)
        print(f"results: {out}/ (runs/, curves/; groklab report {out})")
    return 0
