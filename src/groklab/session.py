"""One command writing into one results directory, from opening to closing.

Opening (under the directory lock): move a pre-partitioned layout into place, remove what dead
writers left uncommitted, set damaged parts aside with one warning (their runs are then
recomputed), and add this command to ``OUT/manifest.json`` (with its host and pid).  Then every
finished batch is committed as its own part, stamped with this command's provenance: staged
outside the lock, then -- under the lock, briefly -- checked against the runs committed so far
(:mod:`groklab.ledger`) and renamed into place without any run another command committed
meanwhile, so no run is ever stored twice, even by two commands that batched the same runs
differently.  Closing merges this command's parts into one per table (O(what this command
wrote); a failure there only warns -- the parts are the data) and records the end in the
manifest.
"""
from __future__ import annotations

import contextlib
import os
import socket
import warnings
from pathlib import Path

import pandas as pd

from . import provenance as prov
from .claiming import Claims, directory_lock
from .compaction import AUTO_MIN_PARTS, compact
from .damage import inspect, quarantine, recover, summary
from .errors import StoreError
from .ledger import Ledger
from .results import DamageWarning, LEGACY, Reader
from .store import FINISHED, HOST, PLANS, Store, atomic_write_parquet, failure


def migrate_legacy(store: Store) -> bool:
    """A directory from before the partitioned layout (parts/<id>.<kind>.parquet plus
    consolidated tables): move its parts into runs/ curves/ iterates/ and drop the consolidated
    copies (they hold nothing the parts do not).  True if it was one."""
    old = store.root / "parts"
    if not old.is_dir():
        return False
    store.prepare()
    for kind in ("curves", "iterates", "runs"):  # runs last, as when they were written
        for p in sorted(old.glob(f"*.{kind}.parquet")):
            os.replace(p, store.path(kind, p.name[: -len(f".{kind}.parquet")]))
    for name in LEGACY.values():
        (store.root / name).unlink(missing_ok=True)
    for p in old.iterdir():
        if p.name.endswith(".tmp"):
            p.unlink()
    try:
        old.rmdir()
    except OSError:
        pass
    return True


class Session:
    def __init__(self, root, record: dict, families: list):
        self.root = Path(root)
        self.store = Store(self.root)
        self.record = record
        self.families = families
        self.claims = Claims(self.root)
        self.ledger = Ledger(self.store)
        self.parts: list[str] = []
        self.committed_runs = 0  # runs this command committed
        self.dropped_runs = 0  # runs it computed that another command had committed meanwhile
        self._taken: set[str] = set()

    # ---- open / close ------------------------------------------------------------------------
    def open(self) -> None:
        try:
            with directory_lock(self.root):
                migrate_legacy(self.store)
                recover(self.store)
                self.claims.clear_stale()
                damages = inspect(self.store)
                if damages:
                    quarantine(self.store, damages)
                    warnings.warn(summary(damages, self.root, "moved to damaged/; their runs "
                                          "are recomputed"), DamageWarning, stacklevel=3)
                self.store.prepare()
                # host and pid: `groklab status` tells a command that was killed from one that runs
                prov.record_command(self.root, self.record, status="running", host=HOST,
                                    hostname=socket.gethostname(), pid=os.getpid())
        except OSError as e:
            if isinstance(e, StoreError):
                raise
            raise failure(Path(e.filename or self.root), e) from None

    def close(self, status: str) -> None:
        self.claims.release_all()
        info = {fam.name: fam.runtime_info() for fam in self.families}
        try:
            with directory_lock(self.root):
                if status == "finished":
                    self.drop_plan()
                merged = compact(self.store, self.parts) \
                    if len(self.parts) >= AUTO_MIN_PARTS else None
                prov.record_command(self.root, self.record, status=status, ended=prov.now(),
                                    runs_committed=self.committed_runs,
                                    parts_written=len(self.parts),
                                    compacted_into=merged, runtime=info)
        except OSError as e:
            warnings.warn(f"{self.root}: could not merge this command's parts or update "
                          f"manifest.json ({e.strerror or e}); the committed runs are intact",
                          DamageWarning, stacklevel=2)

    def record_plan(self, run_ids) -> None:
        """The runs this command means to finish (``groklab status`` counts the ones missing
        as pending until a command finishes them); dropped when this command finishes."""
        plans = self.root / PLANS
        plans.mkdir(exist_ok=True)
        atomic_write_parquet(pd.DataFrame({"run_id": sorted(run_ids)}),
                             plans / f"{self.record['command_id']}.parquet")

    def drop_plan(self) -> None:
        (self.root / PLANS / f"{self.record['command_id']}.parquet").unlink(missing_ok=True)

    # ---- reading / writing -------------------------------------------------------------------
    def finished_ids(self) -> set[str]:
        """The finished runs committed now (incremental: reads only parts not seen before)."""
        self.ledger.refresh()
        return self.ledger.ids()

    def unfinished(self, batch, refresh: bool = True) -> list:
        """The rows of ``batch`` (D x B configs) left with only runs not committed now; []
        when every run is.  ``refresh=False``: as of the ledger's last refresh."""
        if refresh:
            self.ledger.refresh()
        rows = [[c for c in row if c.run_id() not in self.ledger] for row in batch]
        return [r for r in rows if r]

    def commit(self, runs: pd.DataFrame, curves, iterates) -> str | None:
        """Commit a finished batch, less any run another command committed meanwhile; return
        the part id (None when every run was)."""
        pid = self.store.write_part(runs, curves, iterates, provenance=self.record,
                                    committed=self.committed_runs, guard=self._guard)
        keep = ~runs.run_id.isin(self._taken)
        self.dropped_runs += len(runs) - int(keep.sum())
        if pid is not None:
            self.ledger.add(pid, runs.run_id[keep & runs.status.isin(FINISHED)])
            self.parts.append(pid)
            self.committed_runs += int(keep.sum())
        return pid

    @contextlib.contextmanager
    def _guard(self, run_ids):
        """Held while a staged batch is renamed into place: the directory lock, and which of its
        runs are committed already (another command's, whatever its batching)."""
        self._taken = set()
        with directory_lock(self.root):
            self.ledger.refresh()
            self._taken = {rid for rid in run_ids if rid in self.ledger}
            yield self._taken

    def rewrite_runs(self, updated: pd.DataFrame, columns: list[str]) -> None:
        """Replace ``columns`` of committed runs rows (re-detection: the times, their rules and
        the detection settings) in the parts that hold them."""
        with directory_lock(self.root):
            reader = Reader(self.root, warn=False)
            owner = reader.winners()
            by_part: dict[str, list] = {}
            for rid in updated.run_id:
                by_part.setdefault(owner[rid], []).append(rid)
            new = updated.set_index("run_id")[columns]
            for pid, ids in by_part.items():
                df = self.store.read_part("runs", pid)
                idx = df.run_id.isin(ids).to_numpy()
                rows = new.loc[df.run_id[idx]]
                for col in columns:
                    if col not in df:
                        df[col] = pd.Series([None] * len(df), dtype=rows[col].dtype)
                    df.loc[idx, col] = rows[col].to_numpy()
                self.store.rewrite_runs(pid, df)

