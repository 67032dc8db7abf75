"""Which finished runs a results directory's committed parts hold, kept current incrementally.

A writer asks "is this run committed?" at every commit (under the directory lock, so that no run
lands in two parts) and while it waits for another command's batches.  Re-reading every part at
each question would make a sweep of n batches cost O(n^2); the ledger remembers what each part it
has read holds and, on :meth:`Ledger.refresh`, lists ``OUT/runs/`` and reads only the parts it
has not seen (the footer check of :func:`groklab.damage.inspect_part` and two columns).  Parts
that disappeared -- merged into a newer part, or set aside as damaged -- are forgotten; a part
that vanishes between the listing and the read was merged, and its merged part is read at the
same or the next refresh (a merge writes the new part before it deletes the old ones).
"""
from __future__ import annotations

import os

import pyarrow as pa

from .damage import inspect_part, unreadable
from .store import FINISHED, Store


def committed_names(store: Store) -> set[str]:
    """Part ids with a runs file (unsorted; one directory listing)."""
    try:
        with os.scandir(store.dir("runs")) as it:
            return {e.name[: -len(".parquet")] for e in it
                    if e.name.endswith(".parquet") and not e.name.startswith(".")}
    except FileNotFoundError:
        return set()


class Ledger:
    def __init__(self, store: Store):
        self.store = store
        self._parts: dict[str, tuple[str, ...]] = {}  # part id -> its finished run ids
        self._copies: dict[str, int] = {}  # run id -> how many known parts hold it finished

    def __contains__(self, run_id: str) -> bool:
        return run_id in self._copies

    def __len__(self) -> int:
        return len(self._copies)

    def ids(self) -> set[str]:
        return set(self._copies)

    def refresh(self) -> int:
        """Catch up with the directory; return how many parts were read."""
        names = committed_names(self.store)
        for pid in [p for p in self._parts if p not in names]:
            self._forget(pid)
        read = 0
        for pid in sorted(names.difference(self._parts)):
            ids = self._read(pid)
            if ids is not None:
                self.add(pid, ids)
                read += 1
        return read

    def add(self, pid: str, run_ids) -> None:
        """Record part ``pid`` (this process just committed it, or :meth:`refresh` read it)."""
        ids = tuple(run_ids)
        self._parts[pid] = ids
        for rid in ids:
            self._copies[rid] = self._copies.get(rid, 0) + 1

    def _forget(self, pid: str) -> None:
        for rid in self._parts.pop(pid):
            n = self._copies[rid] - 1
            if n:
                self._copies[rid] = n
            else:
                del self._copies[rid]

    def _read(self, pid: str) -> tuple[str, ...] | None:
        """The finished run ids of a part; () when it is damaged (readers skip it, so its runs
        are to do); None when it is gone (merged since it was listed)."""
        path = self.store.path("runs", pid)
        try:
            if inspect_part(self.store, pid):
                return ()
            df = self.store.read_part("runs", pid, columns=["run_id", "status"])
        except FileNotFoundError:
            return None
        except PermissionError as e:
            raise unreadable(path, e) from None
        except (OSError, pa.ArrowException, ValueError):
            return ()
        return tuple(df.run_id[df.status.isin(FINISHED)])
