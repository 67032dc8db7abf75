"""Grids, batching and execution.

A sweep is a list of configs.  Runs are grouped so that each group is one tensor program:
equal batch keys (the family's ``batch_key``: same shapes, method, step count and logging
schedule); inside a group, runs with equal data keys share their data (GEMM form) and different
data sets are stacked along a batch dimension (batched matmul).  Groups are cut into batches of
at most ``batch_size`` runs.  Finished runs (by run id) are skipped, so a rerun of an
interrupted sweep does only what is left.

Every config has a ``steps`` field (its horizon): the progress bar counts run-steps.
"""
from __future__ import annotations

import functools
import sys
import time
from dataclasses import fields

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import family as registry
from .backends import Job, make_backend
from .detect import Detection
from .grid import DEFAULT_BATCH_SIZE, expand_grid, plan_batches  # noqa: F401 -- this module's API
from .lazy import load
from .preflight import preflight
from .store import Results, Store, load as load_results
from .tables import redetect

#: the torch side of the core, imported when a sweep first needs it (see groklab.lazy)
COMPUTE = "groklab.compute"


def execute(configs: list, *, out=None, detection: Detection | None = None,
            batch_size: int = DEFAULT_BATCH_SIZE, device: str = "cpu", save_iterates: bool = False,
            quiet: bool = True, shard: tuple[int, int] | None = None, backend="local",
            address: str | None = None, ray_cpus_per_task: int = 1,
            threads: int | None = None) -> Results:
    """Run every config not already finished in ``out``; return all results for these configs.

    ``backend="ray"`` sends the batches to Ray workers (one task of ``ray_cpus_per_task`` CPUs per
    batch; ``address`` as for ``ray.init``: None = a local instance, "auto" = the cluster on this
    machine) and commits each to ``out`` as it comes back, so a rerun resumes just the same.

    ``shard=(i, k)`` runs only the runs whose id hashes to i modulo k: k processes or cluster jobs
    (a SLURM array, say) given the same grid and the same ``out`` split it without overlap, each
    committing its own parts; any later command consolidates them.

    ``threads``: torch threads per local batch (default: one below
    ``groklab.compute.SMALL_BATCH`` runs, torch's count above).
    """
    # before torch, data or any write: one line for what cannot fit here or cannot be written
    preflight(configs, out=out, batch_size=batch_size, save_iterates=save_iterates, device=device,
              shard=shard, local=backend == "local")
    compute = load(COMPUTE)
    if backend != "ray" or not str(device).startswith("cuda"):
        compute.check_device(device)  # a Ray cluster's GPUs need not be on this machine
    runner = make_backend(backend, address=address, cpus_per_task=ray_cpus_per_task, quiet=quiet) \
        if isinstance(backend, str) else backend
    det = detection or (registry.of(configs[0]).detection if configs else Detection())
    store = Store(out) if out is not None else None
    if shard is not None:
        i, k = shard
        configs = [cfg for cfg in configs if int(cfg.run_id(), 16) % k == i]
    wanted = {cfg.run_id() for cfg in configs}
    done = store.finished_ids() if store is not None else set()
    todo = [cfg for cfg in configs if cfg.run_id() not in done]
    cache = compute.prepare_data(todo)  # validates every lr before anything is written
    batches = plan_batches(todo, batch_size)
    if store is not None:
        _redetect_stale(store, wanted & done, det)
    mem_runs, mem_curves, mem_its = [], [], []
    total = sum(cfg.steps for cfg in todo)
    bar = None
    if not quiet and todo:
        # redraw at most every 5 s into a log file (CI, cluster jobs), 10 times a second on a tty
        bar = tqdm(total=total, unit="step", unit_scale=True, desc=f"{len(todo)} runs",
                   dynamic_ncols=True, mininterval=0.1 if sys.stderr.isatty() else 5.0)
    t_start = time.perf_counter()
    job = Job(local=functools.partial(compute.run_batch_tables, cache=cache, det=det, device=device,
                                      save_iterates=save_iterates, threads=threads),
              remote=compute.remote_batch, remote_args=(det, device, save_iterates))
    # a generator of finished batches; closing it (finally) cancels work still in flight
    finished = runner.map(batches, job, device, progress=bar.update if bar is not None else None)
    try:
        n_done = 0
        for batch, (runs_df, curves_df, it_df) in finished:
            if store is not None:
                store.write_part(runs_df, curves_df, it_df)
                store.consolidate(curves=False)
            else:
                mem_runs.append(runs_df)
                mem_curves.append(curves_df)
                if it_df is not None:
                    mem_its.append(it_df)
            n_done += len(runs_df)
            if bar is not None:
                bar.set_description(f"{n_done}/{len(todo)} runs")
    finally:
        finished.close()
        if bar is not None:
            bar.close()
        if store is not None:
            store.consolidate()
    if not quiet and todo:
        el = time.perf_counter() - t_start
        print(f"groklab: {len(todo)} runs in {el:.1f} s ({total / max(el, 1e-9):.3g} run-steps/s); "
              f"{len(configs) - len(todo)} already finished", flush=True)
    if store is not None:
        res = load_results(store.root)
        keep = res.runs.run_id.isin(wanted)
        its = res.iterates[res.iterates.run_id.isin(wanted)] if res.iterates is not None else None
        return Results(runs=res.runs[keep].reset_index(drop=True),
                       curves=res.curves[res.curves.run_id.isin(wanted)].reset_index(drop=True)
                       if not res.curves.empty else res.curves,
                       iterates=its, path=store.root)
    curves = pd.concat(mem_curves, ignore_index=True) if mem_curves else pd.DataFrame()
    if not curves.empty:
        curves["run_id"] = curves["run_id"].astype(str)
    return Results(runs=pd.concat(mem_runs, ignore_index=True) if mem_runs else pd.DataFrame(),
                   curves=curves,
                   iterates=pd.concat(mem_its, ignore_index=True) if mem_its else None)


def _redetect_stale(store: Store, ids: set, det: Detection) -> None:
    """Finished runs read with other detection settings get t1/t2 re-read from their curves."""
    if not ids:
        return
    runs = store.read_runs()
    runs = runs[runs.run_id.isin(ids)]
    names = [f.name for f in fields(Detection)]
    same = np.ones(len(runs), dtype=bool)
    for n in names:
        same &= (runs[n] == getattr(det, n)).to_numpy()
    stale = runs[~same]
    if stale.empty:
        return
    curves = load_results(store.root).curves
    store.write_part(redetect(stale, curves[curves.run_id.isin(set(stale.run_id))], det))
