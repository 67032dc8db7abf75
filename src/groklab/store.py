"""The results directory: a partitioned Parquet dataset, one file per committed batch and table.

    OUT/manifest.json            how the results were made (groklab.provenance)
    OUT/runs/<part>.parquet      one row per run: config, t1/t2, final numbers, status
    OUT/curves/<part>.parquet    one row per (run, logged step)
    OUT/iterates/<part>.parquet  the logged iterates, when saved
    OUT/damaged/                 parts found truncated or incomplete, moved aside (never deleted)

Any Parquet reader scans the three folders as they are (``pyarrow.dataset.dataset(OUT/'runs')``,
DuckDB ``'OUT/runs/*.parquet'``, ``polars.scan_parquet``); :func:`groklab.results.load` does the
same lazily.  Nothing is rewritten when a batch lands, so a batch costs the same whether it is
the first or the 10 000th.

Commit protocol.  A batch's files are written (and fsynced) under ``OUT/.staging/`` first, then
renamed into place: curves and iterates, then the runs file -- the commit marker.  A part whose
runs file is absent is not committed and readers ignore it; so a kill loses at most the batch in
flight, and a rerun skips every committed run.  The runs file's Parquet key-value metadata
(``groklab``) records how many curve and iterate rows belong to it and the provenance of the
command that wrote it, so a truncated or deleted companion file is noticed (:mod:`.damage`).

A run id lives in one committed part: a writer renames a batch into place under the directory
lock after checking which of its runs are committed already (``write_part``'s guard), so two
commands never both store a run, whatever their batching.  If a run still lies in two parts (a
compaction cut short, a directory written by an older groklab) the newest part wins, for its
runs row and its curves alike; ``groklab status`` calls it damage and ``--repair`` keeps one.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
import zlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import StoreError

KINDS = ("runs", "curves", "iterates")
STAGING, DAMAGED, MANIFEST, PLANS = ".staging", "damaged", "manifest.json", ".plans"
FINISHED = ("done", "diverged")
META_KEY = b"groklab"
#: this machine, as it appears in part names (a short hash: host names may hold any character)
HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"


def new_part_id() -> str:
    """Time-ordered and collision-free across processes and machines: parts sort in commit
    order, and the name says which process wrote it (for telling a crash from a batch in
    flight)."""
    return f"{time.time_ns():020d}-{HOST}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def part_writer(pid: str) -> tuple[str, int]:
    """(host hash, process id) of the process that wrote part ``pid``."""
    fields = pid.split("-")
    try:
        return fields[1], int(fields[2])
    except (IndexError, ValueError):
        return "", -1  # a name from an older layout: no writer recorded


def process_alive(host: str, pid: int) -> bool | None:
    """Whether process ``pid`` of machine ``host`` (a :data:`HOST` hash) runs; None when that
    cannot be told from here (another machine)."""
    if host != HOST:
        return None
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    except (OverflowError, ValueError):
        return False
    return True


def writer_alive(pid: str) -> bool:
    return bool(process_alive(*part_writer(pid)))


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems do not sync directories; the rename is still atomic
    finally:
        os.close(fd)


def to_table(df: pd.DataFrame, meta: dict | None = None) -> pa.Table:
    table = pa.Table.from_pandas(df, preserve_index=False)
    if meta is not None:
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), META_KEY: json.dumps(meta, default=str).encode()})
    return table


def _floating(t: pa.DataType) -> bool:
    """A float column, or a list of floats (checkpoint values)."""
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _floating(t.value_type)
    return pa.types.is_floating(t)


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary-encoding: the run ids, strings, integers and flags, which repeat.
    Floating-point columns (curves, final metrics, the ``values`` lists of network checkpoints,
    docs/checkpoints.md) are written plain: their values rarely repeat, so a dictionary page
    saves no space, and building it made writing a 1M-row curves table 4x slower (measured:
    0.34 s against 0.08 s)."""
    return [f.name for f in schema if not _floating(f.type)]


def write_synced(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` and fsync it (the caller renames it into place)."""
    pq.write_table(table, path, use_dictionary=dictionary_columns(table.schema))
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_parquet(df: pd.DataFrame, path: Path, meta: dict | None = None) -> None:
    """Write ``df`` to a temporary name beside ``path``, fsync, rename: readers see the old file
    or the new one, never half of one; a failure leaves no temporary file behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write_synced(to_table(df, meta), tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(path.parent)


def read_meta(path: Path) -> dict:
    """The ``groklab`` key-value metadata of a part file ({} if none); raises on a damaged file."""
    md = pq.read_metadata(path).metadata or {}
    raw = md.get(META_KEY)
    return json.loads(raw) if raw else {}


def failure(path: Path, err: OSError, committed: int | None = None) -> StoreError:
    """One line for a write that failed (disk full, read-only, ...)."""
    what = err.strerror or str(err)
    tail = (f"; the {committed} runs this command committed before it are intact"
            if committed is not None
            else "") + "; fix that and rerun the same command to resume"
    return StoreError(f"cannot write {path}: {what}{tail}")


class Store:
    """Writing and reading the parts of one results directory."""

    def __init__(self, root):
        self.root = Path(root)
        self.staging = self.root / STAGING

    def dir(self, kind: str) -> Path:
        return self.root / kind

    def path(self, kind: str, pid: str) -> Path:
        return self.root / kind / f"{pid}.parquet"

    # ---- writing ----------------------------------------------------------------------------
    def prepare(self) -> None:
        for d in (self.staging, *(self.dir(k) for k in KINDS)):
            d.mkdir(parents=True, exist_ok=True)

    def write_part(self, runs: pd.DataFrame, curves: pd.DataFrame | None = None,
                   iterates: pd.DataFrame | None = None, provenance: dict | None = None,
                   pid: str | None = None, committed: int | None = None,
                   guard=None) -> str | None:
        """Commit one batch; return its part id.  Raises StoreError (one line) when the disk
        refuses, after removing what it had staged: committed parts are never touched.

        ``guard(run_ids)``, when given, is a context manager entered after the files are staged
        and held while they are renamed into place (the writer's directory lock); it yields the
        run ids of this batch already committed by someone else.  Their rows are dropped (the
        part is staged again without them, a rare path), and nothing is committed -- None is
        returned -- when that is every run.  So a run never lands in two parts, whatever two
        commands planned."""
        pid = pid or new_part_id()
        tables = {"curves": curves, "iterates": iterates, "runs": runs}
        staged: dict[str, Path] = {}
        target = self.staging
        try:
            self.prepare()
            target = self._stage(pid, tables, provenance, staged)
            held = guard(list(runs.run_id)) if guard is not None else contextlib.nullcontext(())
            with held as taken:
                if len(taken):
                    tables = {k: None if df is None else df[~df.run_id.isin(taken)]
                              for k, df in tables.items()}
                    if tables["runs"].empty:
                        self._unstage(staged)
                        return None
                    target = self._stage(pid, tables, provenance, staged)
                for kind in ("curves", "iterates", "runs"):  # the runs file last: the commit marker
                    if kind in staged:
                        target = self.path(kind, pid)
                        os.replace(staged.pop(kind), target)
            fsync_dir(self.dir("runs"))  # durability, not visibility: outside the guard's lock
        except BaseException as e:  # a full disk, or Ctrl-C mid-write: leave nothing staged
            self._unstage(staged)
            if isinstance(e, OSError) and not isinstance(e, StoreError):
                raise failure(Path(getattr(e, "filename", None) or target), e,
                              committed) from None
            raise
        return pid

    def _stage(self, pid: str, tables: dict, provenance: dict | None,
               staged: dict[str, Path]) -> Path:
        """Write (and fsync) the batch's tables under .staging/; return the last path written."""
        meta = {"part": pid, "rows": {k: (0 if df is None else len(df)) for k, df in tables.items()},
                "provenance": provenance or {}}
        target = self.staging
        for kind, df in tables.items():
            if df is None:
                continue
            target = self.staging / f"{pid}.{kind}.parquet"
            staged[kind] = target
            write_synced(to_table(df, meta), target)
        return target

    @staticmethod
    def _unstage(staged: dict[str, Path]) -> None:
        for p in staged.values():
            try:
                p.unlink()
            except OSError:
                pass
        staged.clear()

    def rewrite_runs(self, pid: str, runs: pd.DataFrame) -> None:
        """Replace the runs file of committed part ``pid`` (a re-detection), keeping its metadata:
        one atomic rename, so a reader sees the old rows or the new ones."""
        path = self.path("runs", pid)
        try:
            atomic_write_parquet(runs, path, read_meta(path))
        except OSError as e:
            raise failure(path, e) from None

    # ---- reading ----------------------------------------------------------------------------
    def committed(self) -> list[str]:
        """Part ids with a runs file, oldest first."""
        d = self.dir("runs")
        if not d.is_dir():
            return []
        return sorted(p.name[: -len(".parquet")] for p in d.glob("*.parquet"))

    def files(self, kind: str) -> list[str]:
        d = self.dir(kind)
        return sorted(p.name[: -len(".parquet")] for p in d.glob("*.parquet")) if d.is_dir() else []

    def read_part(self, kind: str, pid: str, columns=None, filters=None) -> pd.DataFrame:
        df = pq.read_table(self.path(kind, pid), columns=columns, filters=filters).to_pandas()
        if "run_id" in df and df["run_id"].dtype == "category":
            df["run_id"] = df["run_id"].astype(str)  # parts keep it dictionary-encoded on disk
        return df
