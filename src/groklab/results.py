"""Reading a results directory: :func:`load` and the lazy :class:`Results`.

Reading never writes (``report`` and ``plot`` work on read-only directories and full disks).
Damaged parts are named in one warning (:class:`DamageWarning`) and skipped; the rest of the
directory reads as usual.  Tables are read on first use: ``res.runs`` reads the runs files only,
``res.curve(run_id)`` one run's curve rows, ``res.curves`` every curve row.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa

from .damage import inspect, summary, unreadable
from .store import Store

LEGACY = {"runs": "runs.parquet", "curves": "curves.parquet", "iterates": "iterates.parquet"}


class DamageWarning(UserWarning):
    """A part of a results directory is damaged (named in the message); it is skipped."""


class Reader:
    """The committed, undamaged parts of a directory and which part holds each run."""

    def __init__(self, root: Path, warn: bool = True):
        self.store = Store(root)
        damages = inspect(self.store)
        if damages and warn:
            warnings.warn(summary(damages, root, "skipped (a rerun recomputes their runs)"),
                          DamageWarning, stacklevel=3)
        self.skip = {d.pid for d in damages}
        self.pids = [p for p in self.store.committed() if p not in self.skip]
        self._winner: dict[str, str] | None = None
        #: run id -> the parts holding it, for runs stored more than once (set by :meth:`runs`);
        #: raw Parquet readers count such a run once per copy
        self.copies: dict[str, list[str]] = {}

    def _read(self, kind: str, pid: str, **kw) -> pd.DataFrame | None:
        try:
            return self.store.read_part(kind, pid, **kw)
        except PermissionError as e:  # not damage: one line, nothing skipped silently
            raise unreadable(self.store.path(kind, pid), e) from None
        except (OSError, pa.ArrowException) as e:  # damage the footer check could not see
            warnings.warn(f"{self.store.path(kind, pid)}: unreadable ({e}); skipped",
                          DamageWarning, stacklevel=4)
            self.skip.add(pid)
            return None

    def runs(self, columns=None) -> pd.DataFrame:
        frames, owners = [], []
        cols = None if columns is None else list(dict.fromkeys(["run_id", *columns]))
        for pid in self.pids:
            df = self._read("runs", pid, columns=cols)
            if df is not None and len(df):
                frames.append(df)
                owners.append(pd.Series(pid, index=df.index))
        if not frames:
            self._winner = {}
            return pd.DataFrame()
        df = pd.concat(frames, ignore_index=True)
        owner = pd.concat(owners, ignore_index=True)
        twice = df.run_id.duplicated(keep=False)
        self.copies = owner[twice].groupby(df.run_id[twice]).agg(list).to_dict()
        last = ~df.run_id.duplicated(keep="last")  # the newest committed copy wins
        self._winner = dict(zip(df.run_id[last], owner[last]))
        return df[last].reset_index(drop=True)

    def winners(self) -> dict[str, str]:
        if self._winner is None:
            self.runs(columns=["run_id"])
        return self._winner

    def table(self, kind: str, ids=None) -> pd.DataFrame | None:
        """Rows of ``kind`` for runs ``ids`` (all when None), each from its run's part."""
        win = self.winners()
        frames = []
        small = ids is not None and len(ids) <= 256
        for pid in self.pids:
            if not self.store.path(kind, pid).exists():
                continue
            filters = [("run_id", "in", sorted(ids))] if small else None
            df = self._read(kind, pid, filters=filters)
            if df is None or not len(df):
                continue
            keep = df.run_id.map(win).eq(pid)
            if ids is not None and not small:
                keep &= df.run_id.isin(ids)
            frames.append(df[keep] if not keep.all() else df)
        if not frames:
            return None
        return pd.concat(frames, ignore_index=True).sort_values(["run_id", "step"], kind="stable") \
            .reset_index(drop=True)


class Results:
    """What a run or a sweep returns: tidy DataFrames, read from disk on first use when the
    results are stored (``iterates`` is None unless saved).  ``run_ids`` limits a stored view to
    the runs of one sweep."""

    def __init__(self, runs: pd.DataFrame | None = None, curves: pd.DataFrame | None = None,
                 iterates: pd.DataFrame | None = None, path: Path | None = None,
                 reader: Reader | None = None, run_ids: set | None = None):
        self.path = Path(path) if path is not None else None
        self._reader = reader
        self._ids = run_ids
        self._runs, self._curves, self._iterates = runs, curves, iterates
        self._iterates_read = iterates is not None or reader is None

    @property
    def run_ids(self) -> set | None:
        """The run ids a stored view is limited to (None: every run of the directory)."""
        return self._ids

    @property
    def runs(self) -> pd.DataFrame:
        if self._runs is None:
            df = self._reader.runs() if self._reader is not None else pd.DataFrame()
            if self._ids is not None and len(df):
                df = df[df.run_id.isin(self._ids)].reset_index(drop=True)
            self._runs = df
        return self._runs

    @property
    def curves(self) -> pd.DataFrame:
        if self._curves is None:
            df = self._reader.table("curves", self._ids) if self._reader is not None else None
            self._curves = df if df is not None else pd.DataFrame()
        return self._curves

    @property
    def iterates(self) -> pd.DataFrame | None:
        if not self._iterates_read:
            self._iterates = self._reader.table("iterates", self._ids)
            self._iterates_read = True
        return self._iterates

    def curve(self, run_id: str) -> pd.DataFrame:
        """One run's curve rows, by step (reads only that run's rows when not loaded)."""
        if self._curves is None and self._reader is not None:
            df = self._reader.table("curves", {run_id})
            return df if df is not None else pd.DataFrame()
        return self.curves[self.curves.run_id == run_id].sort_values("step")

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        rows = f", {len(self._curves)} curve rows" if self._curves is not None else ""
        return f"Results({len(self.runs)} runs{rows}{where})"


def _legacy(root: Path) -> Results | None:
    """A directory written before the partitioned layout (consolidated OUT/runs.parquet)."""
    if not (root / LEGACY["runs"]).is_file():
        return None
    tables = {k: pd.read_parquet(root / v) if (root / v).is_file() else None
              for k, v in LEGACY.items()}
    for df in tables.values():
        if df is not None and "run_id" in df and df["run_id"].dtype == "category":
            df["run_id"] = df["run_id"].astype(str)
    return Results(runs=tables["runs"], curves=tables["curves"]
                   if tables["curves"] is not None else pd.DataFrame(),
                   iterates=tables["iterates"], path=root)


def is_results_dir(root: Path) -> bool:
    return (Path(root) / "runs").is_dir() or (Path(root) / LEGACY["runs"]).is_file()


def load(path, run_ids=None) -> Results:
    """Read a results directory (lazily; nothing is written)."""
    root = Path(path)
    if not (root / "runs").is_dir():
        old = _legacy(root)
        if old is not None:
            return old
        raise FileNotFoundError(f"{root}: not a groklab results directory (no runs/ folder)")
    return Results(path=root, reader=Reader(root), run_ids=set(run_ids) if run_ids else None)
