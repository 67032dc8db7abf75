"""What a results directory holds, and repairing what can be repaired (``groklab status``).

:func:`inventory` only reads.  It counts a run stored in more than one part as damage (raw
Parquet readers count it once per copy) and tells a command the manifest calls running from one
whose process is gone (killed).  :func:`repair` (under the directory lock) first checks that it
may write every folder it would touch -- on a read-only directory it is one error line and
nothing changes -- then removes what dead writers left uncommitted, finishes cut-short
compactions, sets damaged parts aside in ``OUT/damaged/`` (a rerun recomputes their runs),
removes stale batch claims, marks dead commands interrupted in the manifest and merges all parts
into one per table with every run's newest copy only (so duplicated runs are stored once).
"""
from __future__ import annotations

import os
import uuid
from collections import Counter
from pathlib import Path

import pandas as pd

from .claiming import CLAIMS, Claims, directory_lock
from .compaction import compact
from .damage import inspect, quarantine, recover
from .errors import StoreError
from .provenance import read_manifest, write_manifest
from .results import Reader
from .store import DAMAGED, KINDS, PLANS, STAGING, Store, process_alive


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


def command_state(cmd: dict) -> str:
    """A manifest entry's status, with "running" checked: "interrupted (pid N is gone)" when
    its process, on this machine, no longer runs."""
    status = cmd.get("status", "?")
    if status != "running" or "pid" not in cmd:
        return status
    try:
        alive = process_alive(cmd.get("host"), int(cmd["pid"]))
    except (TypeError, ValueError):
        return status
    if alive is None:
        return f"running on {cmd.get('hostname', 'another machine')} (not checked from here)"
    return f"running (pid {cmd['pid']})" if alive else f"interrupted (pid {cmd['pid']} is gone)"


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
    claims = Claims(root).listing()
    return {
        "root": root, "runs": len(runs), "statuses": dict(statuses),
        "pending": _pending(root, finished),
        "parts": {k: len(store.files(k)) for k in KINDS},
        "orphans": sum(1 for k in ("curves", "iterates") for p in store.files(k)
                       if p not in committed),
        "staged": len(staging),
        "bytes": _size(root),
        "damaged": damages,
        "duplicates": reader.copies,
        "set_aside": len(list((root / DAMAGED).glob("*"))) if (root / DAMAGED).is_dir() else 0,
        "engines": dict(engines),
        "in_flight": [c for c in claims if c["alive"]],
        "stale_claims": [c for c in claims if not c["alive"]],
        "commands": [{**c, "state": command_state(c)} for c in manifest.get("commands", [])],
    }


def _check_writable(root: Path) -> None:
    """Create and remove a file in every folder :func:`repair` may write; OSError if one
    refuses (before anything is changed)."""
    for d in (root, *(root / k for k in (*KINDS, STAGING, CLAIMS, DAMAGED))):
        if not d.is_dir():
            continue
        probe = d / f".repair-probe-{uuid.uuid4().hex[:8]}"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)


def _mark_dead_commands(root: Path) -> int:
    """Manifest entries still "running" whose process is gone become "interrupted"."""
    manifest = read_manifest(root)
    dead = [c for c in manifest.get("commands", []) if command_state(c).startswith("interrupted")]
    for c in dead:
        c["status"] = "interrupted"
    if dead:
        write_manifest(root, manifest)
    return len(dead)


def repair(root) -> list[str]:
    """Fix what can be fixed; return one line per action.  StoreError (one line) when the
    directory cannot be written: then nothing was changed, or it says what was."""
    root = Path(root)
    done: list[str] = []
    try:
        with directory_lock(root):
            _check_writable(root)
            _repair(root, Store(root), done)
    except OSError as e:
        if isinstance(e, StoreError):
            raise
        where = f"{e.filename}: " if e.filename else ""
        so_far = "; ".join(done) if done else "nothing was changed"
        raise StoreError(f"cannot repair {root}: {where}{e.strerror or e} ({so_far})") from None
    return done


def _repair(root: Path, store: Store, done: list[str]) -> None:
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
    n = _mark_dead_commands(root)
    if n:
        done.append(f"marked {n} command(s) whose process is gone as interrupted in manifest.json")
    pids = store.committed()
    if len(pids) > 1:
        reader = Reader(root, warn=False)
        winners = reader.winners()
        twice = len(reader.copies)
        new = compact(store, pids, winners=winners)
        if new:
            done.append(f"merged {len(pids)} parts into one per table ({new})"
                        + (f", keeping the newest copy of {twice} run(s) stored more than once"
                           if twice else ""))
