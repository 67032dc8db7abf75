"""Finding and setting aside what a crash, a full disk or a user left broken in a results directory.

:func:`inspect` only reads (``report``, ``plot`` and ``status`` use it on read-only directories):
a committed part is damaged when its runs file cannot be read, or a companion file its metadata
promises (curves, iterates) is missing, unreadable or holds another number of rows.  A file
this process has no permission to read is not damage: that is one error line (StoreError), and
the file stays where it is.
:func:`quarantine` moves every file of a damaged part to ``OUT/damaged/`` -- its runs are then
not finished, so the rerun recomputes them, and nothing is deleted.  :func:`recover` removes what
no live process will ever commit: staged files and companion files without a runs file whose
writer is gone, and finishes a compaction that was cut short.  Writers call it (under the
directory lock) before they start.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import StoreError
from .store import DAMAGED, KINDS, Store, read_meta, writer_alive

#: intent files of compactions in progress (``.staging/compact-<new part>.json``)
INTENT_PREFIX = "compact-"


@dataclass(frozen=True)
class Damage:
    pid: str
    kind: str
    reason: str
    runs: int | None  # runs the part held, when its runs file could still say

    def describe(self, root: Path) -> str:
        n = f" ({self.runs} runs)" if self.runs is not None else ""
        return f"{self.kind}/{self.pid}.parquet {self.reason}{n}"


def _footer_rows(path: Path) -> int:
    return pq.read_metadata(path).num_rows


def unreadable(path: Path, err: OSError) -> StoreError:
    """One line for a part this process may not read: not damage -- nothing is set aside."""
    return StoreError(f"cannot read {path}: permission denied (the file is not damaged and is "
                      "left in place; give this user read access to it and rerun)")


def inspect_part(store: Store, pid: str) -> list[Damage]:
    """What is wrong with committed part ``pid`` (footers only).  A file this process may not
    read raises StoreError instead: that says nothing about the file.  FileNotFoundError when
    the runs file is gone (a merge replaced the part since it was listed)."""
    runs_path = store.path("runs", pid)
    try:
        meta = read_meta(runs_path)
        n_runs = _footer_rows(runs_path)
    except FileNotFoundError:
        raise
    except PermissionError as e:
        raise unreadable(runs_path, e) from None
    except (OSError, pa.ArrowException, ValueError):
        return [Damage(pid, "runs", "is unreadable (truncated or corrupt)", None)]
    out = []
    rows = meta.get("rows") or {}
    for kind in ("curves", "iterates"):
        want = rows.get(kind, 0)
        if not want:
            continue
        p = store.path(kind, pid)
        if not p.exists():
            out.append(Damage(pid, kind, "is missing", n_runs))
            continue
        try:
            got = _footer_rows(p)
        except PermissionError as e:
            raise unreadable(p, e) from None
        except (OSError, pa.ArrowException, ValueError):
            out.append(Damage(pid, kind, "is unreadable (truncated or corrupt)", n_runs))
            continue
        if got != want:
            out.append(Damage(pid, kind, f"has {got} rows, its runs file says {want}", n_runs))
    return out


def inspect(store: Store) -> list[Damage]:
    """Every damaged committed part (footers only: O(parts), not O(rows))."""
    out = []
    for pid in store.committed():
        try:
            out += inspect_part(store, pid)
        except FileNotFoundError:
            continue  # merged into a newer part since it was listed
    return out


def summary(damages: list[Damage], root: Path, action: str) -> str:
    """One line naming every damaged part."""
    runs = sum(d.runs or 0 for d in {d.pid: d for d in damages}.values())
    what = "; ".join(d.describe(root) for d in damages)
    return f"{root}: {len({d.pid for d in damages})} damaged part(s): {what}; {action}" + \
        (f" ({runs} runs)" if runs else "")


def quarantine(store: Store, damages: list[Damage]) -> list[Path]:
    """Move every file of each damaged part to OUT/damaged/ (runs file first, so the part stops
    being committed at once).  Returns the new paths."""
    dest = store.root / DAMAGED
    dest.mkdir(exist_ok=True)
    moved = []
    for pid in dict.fromkeys(d.pid for d in damages):
        for kind in KINDS:
            src = store.path(kind, pid)
            if src.exists():
                target = dest / f"{pid}.{kind}.parquet"
                os.replace(src, target)
                moved.append(target)
    return moved


def _remove(paths) -> list[Path]:
    gone = []
    for p in paths:
        try:
            p.unlink()
            gone.append(p)
        except FileNotFoundError:
            pass
    return gone


def finish_compactions(store: Store) -> list[Path]:
    """Roll an interrupted compaction forward (its new part committed: drop the parts it
    replaced) or back (not committed: drop its partial new files)."""
    removed = []
    if not store.staging.is_dir():
        return removed
    for intent in sorted(store.staging.glob(f"{INTENT_PREFIX}*.json")):
        new = intent.name[len(INTENT_PREFIX):-len(".json")]
        if writer_alive(new):
            continue  # still running
        try:
            old = json.loads(intent.read_text())["replaces"]
        except (OSError, ValueError, KeyError):
            old = []
        if store.path("runs", new).exists():
            for kind in KINDS:  # runs files first: a replaced part stops being committed at once
                removed += _remove(store.path(kind, pid) for pid in old)
        else:
            removed += _remove(store.path(kind, new) for kind in KINDS)
        intent.unlink()
    return removed


def recover(store: Store) -> list[Path]:
    """Remove uncommitted leftovers of dead writers; finish cut-short compactions.  Returns what
    was removed.  Call under the directory lock."""
    removed = finish_compactions(store)
    if store.staging.is_dir():
        removed += _remove(p for p in store.staging.glob("*.parquet")
                           if not writer_alive(p.name.split(".")[0]))
    committed = set(store.committed())
    for kind in ("curves", "iterates"):
        removed += _remove(store.path(kind, pid) for pid in store.files(kind)
                           if pid not in committed and not writer_alive(pid))
    return removed
