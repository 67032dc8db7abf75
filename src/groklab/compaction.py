"""Merging many small parts into one part per table: optional, atomic, O(the parts merged).

A sweep of 4 096 batches leaves 4 096 files per table; readers pay per file.  At the end of a
command its own parts are merged into one (the CLI and ``groklab.sweep`` do it automatically;
``groklab status OUT --repair`` merges everything).  Each table is streamed part by part into one
Parquet file with one row group per part, so memory stays at one part, never the sweep.

Atomicity: the new part is written like any batch (companions first, runs file last) after an
intent file ``.staging/compact-<new>.json`` lists the parts it replaces; only then are those
deleted.  A kill in between leaves a run in two parts -- readers take the newest, which holds the
same rows -- and the next writer finishes the job (:func:`groklab.damage.finish_compactions`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .damage import INTENT_PREFIX
from .store import (KINDS, META_KEY, Store, dictionary_columns, fsync_dir, new_part_id,
                    read_meta)

#: merge only when at least this many parts are there to merge
MIN_PARTS = 2
#: at the end of a command, merge its parts only when it wrote at least this many: a few parts
#: cost readers nothing worth rewriting them for (merging costs ~1/4 of a short sweep's time)
AUTO_MIN_PARTS = 32


def _unified_schema(paths: list[Path]) -> pa.Schema | None:
    """One schema for all files (columns missing in some become nulls); None when the files
    disagree on a column's type (then those parts stay as they are)."""
    schemas = [pq.read_schema(p) for p in paths]
    try:
        unified = pa.unify_schemas([s.remove_metadata() for s in schemas],
                                   promote_options="permissive")
    except (pa.ArrowException, TypeError):
        return None
    # keep pandas' description of the columns (nullable integers, categories) from the newest
    pandas_meta = (schemas[-1].metadata or {}).get(b"pandas")
    return unified.with_metadata({b"pandas": pandas_meta}) if pandas_meta else unified


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    for name in schema.names:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(len(table), schema.field(name).type))
    return table.select(schema.names).cast(schema)


def _stream(paths: list[Path], schema: pa.Schema, dest: Path, meta: dict,
            keep: dict[Path, set] | None = None) -> int:
    meta_schema = schema.with_metadata({**(schema.metadata or {}),
                                        META_KEY: json.dumps(meta, default=str).encode()})
    n = 0
    with pq.ParquetWriter(dest, meta_schema,
                          use_dictionary=dictionary_columns(schema)) as w:
        for p in paths:
            t = pq.read_table(p)
            if keep is not None:  # drop rows of runs whose newest copy lies in another part
                t = t.filter(pc.is_in(pc.cast(t["run_id"], pa.string()),
                                      value_set=pa.array(sorted(keep[p]), pa.string())))
            t = _conform(t, schema)
            n += len(t)
            w.write_table(t.replace_schema_metadata(meta_schema.metadata))
    fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return n


def compact(store: Store, pids: list[str], winners: dict[str, str] | None = None) -> str | None:
    """Merge parts ``pids`` (committed, this process's or under the directory lock) into one new
    part; return its id, or None when there was nothing to merge or the schemas disagree.
    ``winners`` (run id -> the part holding its newest copy) drops every other copy."""
    pids = [p for p in pids if store.path("runs", p).exists()]
    if len(pids) < MIN_PARTS:
        return None
    paths = {k: [store.path(k, p) for p in pids if store.path(k, p).exists()] for k in KINDS}
    schemas = {k: _unified_schema(v) for k, v in paths.items() if v}
    if any(s is None for s in schemas.values()):
        return None
    metas = [read_meta(store.path("runs", p)) for p in pids]
    provenance = metas[-1].get("provenance", {})
    new = new_part_id()
    intent = store.staging / f"{INTENT_PREFIX}{new}.json"
    store.prepare()
    intent.write_text(json.dumps({"replaces": pids}))
    rows: dict[str, int] = {"runs": sum(pq.read_metadata(p).num_rows for p in paths["runs"])}
    staged: dict[str, Path] = {}
    try:
        for kind in ("curves", "iterates", "runs"):  # the runs file last: the commit marker
            if kind not in schemas:
                continue
            staged[kind] = store.staging / f"{new}.{kind}.parquet"
            meta = {"part": new, "rows": dict(rows), "provenance": provenance, "merged": len(pids)}
            keep = None
            if winners is not None:
                by_pid = {}
                for rid, owner in winners.items():
                    by_pid.setdefault(owner, set()).add(rid)
                keep = {store.path(kind, p): by_pid.get(p, set()) for p in pids}
            if winners is not None and kind == "runs":
                meta["rows"]["runs"] = sum(len(v) for v in keep.values())
            rows[kind] = _stream(paths[kind], schemas[kind], staged[kind], meta, keep)
        for kind in ("curves", "iterates", "runs"):
            if kind in staged:
                os.replace(staged.pop(kind), store.path(kind, new))
        fsync_dir(store.dir("runs"))
    except BaseException:
        for p in staged.values():
            p.unlink(missing_ok=True)
        if not store.path("runs", new).exists():
            for kind in KINDS:
                store.path(kind, new).unlink(missing_ok=True)
            intent.unlink(missing_ok=True)
        raise
    for kind in KINDS:  # runs files first: a replaced part stops being committed at once
        for p in pids:
            try:
                store.path(kind, p).unlink()
            except FileNotFoundError:
                pass
    intent.unlink()
    return new
