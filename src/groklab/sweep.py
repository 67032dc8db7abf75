"""Grids, batching and execution.

A sweep is a list of configs.  Runs are grouped so that each group is one tensor program:
same problem shape, method, step count and logging schedule; inside a group, runs with equal
data keys share their data (GEMM form) and different data sets are stacked along a batch
dimension (batched matmul).  Groups are cut into batches of at most ``batch_size`` runs.
Finished runs (by run id) are skipped, so a rerun of an interrupted sweep does only what is left.
"""
from __future__ import annotations

import contextlib
import itertools
import time
from collections import OrderedDict, defaultdict
from dataclasses import asdict, fields

import numpy as np
import pandas as pd
import torch

from . import __version__
from .config import ConfigError, Detection, config_dict, make_config
from .detect import detect, detect_many
from .problems import family
from .store import Results, Store

#: runs per tensor program: 1024 measured best on 2 cores (benchmarks/bench_sparse.py: 128 -> 11x,
#: 512 -> 19.6x, 1024 -> 20.6x, 2048 -> 21.5x vs numpy, at twice the memory per batch)
DEFAULT_BATCH_SIZE = 1024
#: batches smaller than this run on one torch thread.  A second thread gains little there on an idle
#: machine (fig4's 36-run batch: 0.41 s vs 0.46 s), and when another process holds a core the
#: intra-op barriers make it 10-400x slower (the same batch: 4 s, 27 s, 179 s vs 0.45 s).  Large
#: batches keep torch's thread count: their GEMMs are where two cores pay (bench_sparse.py).
SMALL_BATCH = 256


@contextlib.contextmanager
def _threads_for(n_runs: int):
    old = torch.get_num_threads()
    if n_runs < SMALL_BATCH and old > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def expand_grid(problem: str, values: dict) -> list:
    """Cartesian product over every value that is a list; scalars are fixed.  Order: first key
    varies slowest.  Duplicate configs collapse to one."""
    keys = list(values)
    axes = [v if isinstance(v, (list, tuple)) else [v] for v in values.values()]
    out: OrderedDict = OrderedDict()
    for combo in itertools.product(*axes):
        cfg = make_config(problem, **dict(zip(keys, combo)))
        out.setdefault(cfg.run_id(), cfg)
    return list(out.values())


def _batch_key(cfg) -> tuple:
    return (cfg.problem, *family(cfg.problem).batch_key(cfg))


def plan_batches(configs: list, batch_size: int = DEFAULT_BATCH_SIZE) -> list[list[list]]:
    """Return batches, each a D x B nested list (D data sets, B runs on each)."""
    groups: dict = defaultdict(lambda: defaultdict(list))
    for cfg in configs:
        groups[_batch_key(cfg)][cfg.data_key()].append(cfg)
    batches = []
    for by_data in groups.values():
        by_count: dict = defaultdict(list)
        for runs in by_data.values():
            by_count[len(runs)].append(runs)
        for B, rows in by_count.items():
            if B >= batch_size:
                for runs in rows:
                    for i in range(0, B, batch_size):
                        batches.append([runs[i:i + batch_size]])
            else:
                per = max(1, batch_size // B)
                for i in range(0, len(rows), per):
                    batches.append(rows[i:i + per])
    return batches


def prepare_data(configs: list) -> dict:
    """Generate each data set once (with its theory reference) and check every run against it.
    Raises ConfigError before anything is written."""
    cache: dict = {}
    for cfg in configs:
        fam = family(cfg.problem)
        key = (cfg.problem, cfg.data_key())
        if key not in cache:
            data = fam.make_data(cfg)
            cache[key] = (data, fam.reference(data))
        fam.check(cfg, cache[key][0])
    return cache


def run_batch_rows(batch, cache, det: Detection, device: str, save_iterates: bool, progress=None):
    """Advance one batch (D x B configs) with its family's engine; return its runs / curves /
    iterates tables.  ``cache`` holds the batch's data sets (:func:`prepare_data`)."""
    first = batch[0][0]
    datas = [cache[(first.problem, row[0].data_key())][0] for row in batch]
    with _threads_for(sum(len(row) for row in batch)):
        res = family(first.problem).run_batch(datas, batch, device=device,
                                               save_iterates=save_iterates, progress=progress)
    return _rows(batch, cache, res, det, save_iterates)


def remote_batch(batch, det: Detection, device: str, save_iterates: bool, threads: int):
    """What a Ray task runs: rebuild the batch's data from its configs (a pure function of the
    config, seed included, so the numbers equal a local run's) on ``threads`` torch threads."""
    torch.set_num_threads(threads)
    cache = prepare_data([cfg for row in batch for cfg in row])
    return run_batch_rows(batch, cache, det, device, save_iterates)


def _rows(batch, cache, res, det: Detection, save_iterates: bool):
    """Turn one engine result into runs / curves / iterates DataFrames."""
    flat = [cfg for row in batch for cfg in row]
    fam = family(flat[0].problem)
    T, R = len(res.steps), len(flat)
    run_ids = [cfg.run_id() for cfg in flat]
    m = res.metrics
    times = detect_many(res.steps, m["train_error"], m["test_error"], det)
    finite_runs = np.isfinite(res.final).all(axis=1)
    for v in m.values():
        finite_runs &= np.isfinite(v).all(axis=0)
    runs = []
    for j, cfg in enumerate(flat):
        data, ref = cache[(cfg.problem, cfg.data_key())]
        col = {k: v[:, j] for k, v in m.items()}
        finite = bool(finite_runs[j])
        row = {"run_id": run_ids[j], "problem": cfg.problem, **config_dict(cfg), **asdict(det),
               **times[j],
               "final_train_error": float(col["train_error"][-1]),
               "final_test_error": float(col["test_error"][-1]),
               "min_test_error": float(np.nanmin(col["test_error"])) if finite else float("nan")}
        for name in fam.final_metrics:
            row[f"final_{name}"] = col[name][-1]
        row.update(fam.run_columns(cfg, data, ref, res.final[j], col))
        row.update({"wall_time_s": res.wall_time_s / R, "batch_runs": R,
                    "status": "done" if finite else "diverged", "groklab_version": __version__})
        runs.append(row)
    runs_df = pd.DataFrame(runs)
    for c in ("t1", "t2", "delta_t"):
        runs_df[c] = runs_df[c].astype("Int64")
    for c in ("pred_t1", "pred_delta_t"):
        if c in runs_df:
            runs_df[c] = runs_df[c].astype("float64")
    for name in fam.final_metrics:
        dtype = fam.curve_dtypes.get(name)
        if dtype == "bool":
            runs_df[f"final_{name}"] = runs_df[f"final_{name}"] > 0.5
        elif dtype is not None:  # counts: -1 marks a diverged run
            runs_df[f"final_{name}"] = runs_df[f"final_{name}"].fillna(-1).astype(dtype)
    # One (R*T, k) float block and a categorical run id: building 1e6-row curve tables from
    # per-column arrays and repeated strings costs more than a thousand runs' bookkeeping otherwise.
    names = list(m)
    block = np.stack([m[name].T for name in names], axis=-1).reshape(R * T, len(names))
    curves_df = pd.DataFrame(block, columns=names, copy=False)
    curves_df.insert(0, "step", np.tile(res.steps, R))
    curves_df.insert(0, "run_id", pd.Categorical.from_codes(np.repeat(np.arange(R), T),
                                                            categories=run_ids))
    for name, dtype in fam.curve_dtypes.items():
        curves_df[name] = curves_df[name] > 0.5 if dtype == "bool" else \
            curves_df[name].fillna(-1).astype(dtype)
    fam.derive_curves(curves_df)
    it_df = None
    if save_iterates and res.iterates is not None:
        n = res.iterates.shape[-1]
        wide = res.iterates.transpose(1, 0, 2).reshape(R * T, n)
        it_df = pd.DataFrame(wide, columns=[f"{fam.iterate_prefix}_{i}" for i in range(n)])
        it_df.insert(0, "step", np.tile(res.steps, R))
        it_df.insert(0, "run_id", np.repeat(run_ids, T))
    return runs_df, curves_df, it_df


def redetect(runs: pd.DataFrame, curves: pd.DataFrame, det: Detection) -> pd.DataFrame:
    """Re-read t1/t2 from stored curves with other detection settings (no re-simulation)."""
    runs = runs.copy()
    by_id = {rid: g.sort_values("step") for rid, g in curves.groupby("run_id")}
    for i, rid in enumerate(runs.run_id):
        g = by_id.get(rid)
        if g is None:
            continue
        times = detect(g.step.to_numpy(), g.train_error.to_numpy(), g.test_error.to_numpy(), det)
        for k, v in {**times, **asdict(det)}.items():
            runs.at[runs.index[i], k] = v
    return runs


def check_device(device: str) -> None:
    """Raise ConfigError (one line) for a device torch cannot use here."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError("device", f"{device!r} is not a torch device (cpu, cuda, cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device", f"{device!r}: CUDA is not available on this machine; use cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError("device", f"{device!r}: only {torch.cuda.device_count()} CUDA "
                              "device(s) here")
    elif dev.type != "cpu":
        raise ConfigError("device", f"{device!r} is not supported: use cpu or cuda[:N]")


def execute(configs: list, *, out=None, detection: Detection | None = None,
            batch_size: int = DEFAULT_BATCH_SIZE, device: str = "cpu", save_iterates: bool = False,
            quiet: bool = True, shard: tuple[int, int] | None = None, backend="local",
            address: str | None = None, ray_cpus_per_task: int = 1) -> Results:
    """Run every config not already finished in ``out``; return all results for these configs.

    ``backend="ray"`` sends the batches to Ray workers (one task of ``ray_cpus_per_task`` CPUs per
    batch; ``address`` as for ``ray.init``: None = a local instance, "auto" = the cluster on this
    machine) and commits each to ``out`` as it comes back, so a rerun resumes just the same.

    ``shard=(i, k)`` runs only the runs whose id hashes to i modulo k: k processes or cluster jobs
    (a SLURM array, say) given the same grid and the same ``out`` split it without overlap, each
    committing its own parts; any later command consolidates them.
    """
    from .backends import make_backend
    if backend != "ray" or not str(device).startswith("cuda"):
        check_device(device)  # a Ray cluster's GPUs need not be on this machine
    runner = make_backend(backend, address=address, cpus_per_task=ray_cpus_per_task, quiet=quiet) \
        if isinstance(backend, str) else backend
    det = detection or (family(configs[0].problem).detection() if configs else Detection())
    store = Store(out) if out is not None else None
    if shard is not None:
        i, k = shard
        configs = [cfg for cfg in configs if int(cfg.run_id(), 16) % k == i]
    wanted = {cfg.run_id() for cfg in configs}
    done = store.finished_ids() if store is not None else set()
    todo = [cfg for cfg in configs if cfg.run_id() not in done]
    cache = prepare_data(todo)  # validates every lr before anything is written
    batches = plan_batches(todo, batch_size)
    if store is not None:
        _redetect_stale(store, wanted & done, det)
    mem_runs, mem_curves, mem_its = [], [], []
    total = sum(cfg.steps * 1 for cfg in todo)
    bar = None
    if not quiet and todo:
        from tqdm import tqdm
        import sys
        # redraw at most every 5 s into a log file (CI, cluster jobs), 10 times a second on a tty
        bar = tqdm(total=total, unit="step", unit_scale=True, desc=f"{len(todo)} runs",
                   dynamic_ncols=True, mininterval=0.1 if sys.stderr.isatty() else 5.0)
    t_start = time.perf_counter()
    # a generator of finished batches; closing it (finally) cancels work still in flight
    finished = runner.map(batches, cache, det, device, save_iterates,
                          progress=bar.update if bar is not None else None)
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
        from .store import load
        res = load(store.root)
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
    from .store import load
    curves = load(store.root).curves
    store.write_part(redetect(stale, curves[curves.run_id.isin(set(stale.run_id))], det))
