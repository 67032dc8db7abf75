"""What a results directory holds, and repairing what can be repaired (``groklab status``).

:func:`inventory` only reads.  :func:`repair` (under the directory lock) removes what dead
writers left uncommitted, finishes cut-short compactions, sets damaged parts aside in
``OUT/damaged/`` (a rerun recomputes their runs), removes stale batch claims and merges all parts
into one per table with every run's newest copy only.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from .claiming import Claims, directory_lock
from .compaction import compact
from .damage import inspect, quarantine, recover
from .provenance import read_manifest
from .results import Reader
from .store import DAMAGED, KINDS, PLANS, STAGING, Store


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _pending(root: Path, finished: set[str]) -> int:
    planned: set[str] = set()
    for p in sorted((root / PLANS).glob("*.parquet")) if (root / PLANS).is_dir() else []:
        try:
            planned |= set(pd.read_parquet(p).run_id.astype(str))
        except (OSError, ValueError):
            continue
    return len(planned - finished)


def inventory(root) -> dict:
    root = Path(root)
    store = Store(root)
    damages = inspect(store)
    reader = Reader(root, warn=False)
    runs = reader.runs(columns=["status", "problem", "engine_version"]) \
        if reader.pids else pd.DataFrame()
    statuses = Counter(runs.status) if len(runs) else Counter()
    finished = set(runs.run_id[runs.status.isin(("done", "diverged"))]) if len(runs) else set()
    engines = Counter(zip(runs.problem, runs.engine_version.fillna(1).astype(int))) \
        if len(runs) and "engine_version" in runs else Counter()
    committed = set(store.committed())
    manifest = read_manifest(root)
    staging = list((root / STAGING).glob("*.parquet")) if (root / STAGING).is_dir() else []
    return {
        "root": root, "runs": len(runs), "statuses": dict(statuses),
        "pending": _pending(root, finished),
        "parts": {k: len(store.files(k)) for k in KINDS},
        "orphans": sum(1 for k in ("curves", "iterates") for p in store.files(k)
                       if p not in committed),
        "staged": len(staging),
        "bytes": _size(root),
        "damaged": damages,
        "set_aside": len(list((root / DAMAGED).glob("*"))) if (root / DAMAGED).is_dir() else 0,
        "engines": dict(engines),
        "in_flight": Claims(root).held_by_others(),
        "commands": manifest.get("commands", []),
    }


def repair(root) -> list[str]:
    """Fix what can be fixed; return one line per action."""
    root = Path(root)
    store = Store(root)
    done = []
    with directory_lock(root):
        removed = recover(store)
        if removed:
            done.append(f"removed {len(removed)} uncommitted leftover file(s) of dead writers")
        damages = inspect(store)
        if damages:
            moved = quarantine(store, damages)
            done.append(f"moved {len(moved)} file(s) of {len({d.pid for d in damages})} damaged "
                        f"part(s) to {DAMAGED}/; rerun the command that made them to recompute "
                        "their runs")
        n = Claims(root).clear_stale()
        if n:
            done.append(f"removed {n} stale batch claim(s)")
        pids = store.committed()
        if len(pids) > 1:
            winners = Reader(root, warn=False).winners()
            new = compact(store, pids, winners=winners)
            if new:
                done.append(f"merged {len(pids)} parts into one per table ({new})")
    return done
