"""The results store: OUT/runs.parquet and OUT/curves.parquet (plus OUT/iterates.parquet when
iterates are saved), readable with pandas, polars or DuckDB.

Crash safety.  Each finished batch is written to ``OUT/parts/`` as its own files: curves first,
then runs -- the runs file is the commit marker, so a part without one is ignored.  Every file is
written to a temporary name and renamed (atomic on POSIX).  The consolidated tables are rebuilt
from the parts (also atomically) after every batch for runs.parquet and at the end of each command
for the curves, and again by :func:`load` whenever a part is newer than them, so a killed sweep
loses at most the batch in flight and a rerun skips every committed run.  If one run id is
committed twice (a re-detection with other thresholds), the newest row wins.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

RUNS, CURVES, ITERATES = "runs.parquet", "curves.parquet", "iterates.parquet"
FINISHED = ("done", "diverged")


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        # the float lists of long iterates (network checkpoints, docs/checkpoints.md) are not
        # dictionary-encoded: random float32 weights never repeat, and a dictionary page plus
        # indices costs ~6 bytes per weight instead of 4
        kw = {"use_dictionary": [c for c in df.columns if c != "values"]} \
            if "values" in df.columns else {}
        df.to_parquet(tmp, index=False, **kw)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@dataclass
class Results:
    """What a run or a sweep returns: tidy DataFrames (``iterates`` is None unless saved)."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    iterates: pd.DataFrame | None = None
    path: Path | None = None

    def curve(self, run_id: str) -> pd.DataFrame:
        return self.curves[self.curves.run_id == run_id].sort_values("step")

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"Results({len(self.runs)} runs, {len(self.curves)} curve rows{where})"


class Store:
    def __init__(self, root):
        self.root = Path(root)
        self.parts = self.root / "parts"

    # ---- writing ----------------------------------------------------------------------------
    def prepare(self) -> None:
        self.parts.mkdir(parents=True, exist_ok=True)

    def write_part(self, runs: pd.DataFrame, curves: pd.DataFrame | None = None,
                   iterates: pd.DataFrame | None = None) -> str:
        self.prepare()
        # time-ordered, collision-free names: parts sort in commit order across processes
        pid = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        if curves is not None:
            atomic_write_parquet(curves, self.parts / f"{pid}.curves.parquet")
        if iterates is not None:
            atomic_write_parquet(iterates, self.parts / f"{pid}.iterates.parquet")
        atomic_write_parquet(runs, self.parts / f"{pid}.runs.parquet")  # commit marker, last
        return pid

    # ---- reading ----------------------------------------------------------------------------
    def _committed(self) -> list[str]:
        if not self.parts.is_dir():
            return []
        return sorted(p.name[: -len(".runs.parquet")] for p in self.parts.glob("*.runs.parquet"))

    def read_runs(self) -> pd.DataFrame:
        ids = self._committed()
        if not ids:
            return pd.DataFrame()
        df = pd.concat([pd.read_parquet(self.parts / f"{i}.runs.parquet") for i in ids],
                       ignore_index=True)
        return df.drop_duplicates("run_id", keep="last").reset_index(drop=True)

    def finished_ids(self) -> set[str]:
        runs = self.read_runs()
        if runs.empty:
            return set()
        return set(runs.loc[runs.status.isin(FINISHED), "run_id"])

    def _read_kind(self, kind: str, keep: set[str]) -> pd.DataFrame | None:
        frames = []
        seen: set[str] = set()
        for i in self._committed():
            p = self.parts / f"{i}.{kind}.parquet"
            if p.exists():
                df = pd.read_parquet(p)
                new = set(df.run_id.unique()) - seen  # first committed copy of a run's curve wins
                df = df[df.run_id.isin(new & keep)]
                seen |= new
                frames.append(df)
        if not frames:
            return None
        df = pd.concat(frames, ignore_index=True)
        # parts store run_id dictionary-encoded (cheap to build); the tables hold plain strings
        # whatever the number of parts, so users see one dtype
        df["run_id"] = df["run_id"].astype(str)
        return df

    def consolidate(self, curves: bool = True) -> None:
        runs = self.read_runs()
        if runs.empty:
            return
        atomic_write_parquet(runs, self.root / RUNS)
        if curves:
            keep = set(runs.run_id)
            for kind, name in (("curves", CURVES), ("iterates", ITERATES)):
                df = self._read_kind(kind, keep)
                if df is not None:
                    atomic_write_parquet(df.sort_values(["run_id", "step"], kind="stable"),
                                         self.root / name)

    def stale(self) -> bool:
        ids = self._committed()
        if not ids:
            return False
        newest = max((self.parts / f"{i}.runs.parquet").stat().st_mtime_ns for i in ids)
        for name in (RUNS, CURVES):
            p = self.root / name
            if not p.exists() or p.stat().st_mtime_ns < newest:
                return True
        return False


def load(path) -> Results:
    """Read a results directory (consolidating committed parts first if needed)."""
    root = Path(path)
    store = Store(root)
    if store.stale():
        store.consolidate()
    if not (root / RUNS).exists():
        raise FileNotFoundError(f"{root}: no {RUNS} (not a groklab results directory)")
    runs = pd.read_parquet(root / RUNS)
    curves = pd.read_parquet(root / CURVES) if (root / CURVES).exists() else pd.DataFrame()
    it = pd.read_parquet(root / ITERATES) if (root / ITERATES).exists() else None
    for df in (curves, it):
        if df is not None and "run_id" in df and df["run_id"].dtype == "category":
            df["run_id"] = df["run_id"].astype(str)  # tables written before parts were cast
    return Results(runs=runs, curves=curves, iterates=it, path=root)
