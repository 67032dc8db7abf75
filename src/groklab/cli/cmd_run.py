"""``groklab run`` / ``groklab sweep``: one experiment or a grid of them, stored in --out."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import family as registry
from ..backends import BackendError
from ..driver import execute
from ..fields import ConfigError
from ..sweep import DEFAULT_BATCH_SIZE, expand_grid
from .options import detection, dry_run, out_dir, positive, sweep_values
from .report import print_runs


def parse_shard(text: str) -> tuple[int, int]:
    """``--shard I/K``: shard I of K, counted from 0."""
    allowed = "expected I/K with 0 <= I < K (ASCII digits; shards count from 0)"
    shown = text if text.strip() and text.isprintable() else repr(text)
    parts = text.split("/")
    if len(parts) != 2 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        raise ConfigError("shard", f"{shown}: {allowed}")
    i, k = (int(x) for x in parts)
    if not (k >= 1 and 0 <= i < k):
        raise ConfigError("shard", f"{shown}: {allowed}")
    return i, k


def main(ns) -> int:
    fam = registry.get(ns.problem)
    positive("runs_per_batch", ns.runs_per_batch)
    positive("ray_cpus_per_task", ns.ray_cpus_per_task)  # refused with --backend local too
    out = Path(out_dir(ns, f"results/{ns.problem}"))
    values = sweep_values(ns, fam)
    det = detection(ns, ns.problem)
    configs = expand_grid(ns.problem, values)
    shard = parse_shard(ns.shard) if ns.shard is not None else None
    batch_size = ns.runs_per_batch or DEFAULT_BATCH_SIZE
    if ns.dry_run:
        return dry_run(configs, out=out, batch_size=batch_size, save_iterates=ns.save_iterates,
                       device=ns.device, shard=shard, local=ns.backend == "local")
    try:
        res = execute(configs, out=out, detection=det, batch_size=batch_size, device=ns.device,
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
