"""One engine result -> the runs / curves / iterates tables, and re-detection from stored curves.

Everything here is numpy / pandas: the family's columns arrive already computed (the family's
``run_columns``, see :mod:`groklab.compute`), and its declarations (``final_metrics``,
``curve_dtypes``, ``run_dtypes``, ``ratios``, ``iterate_prefix``) say how to shape them.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import numpy as np
import pandas as pd

from . import __version__
from .detect import Detection, detect, detect_many
from .family import Family
from .fields import config_dict
from .result import BatchResult, iterate_log_indices


def finite_runs(res: BatchResult) -> np.ndarray:
    """(R,) True for the runs whose final parameters and every measured metric stay finite.  A
    metric that is NaN from step 0 on is not measured for that run (e.g. test errors without a
    ground truth), which is no divergence (the same test as :func:`mark_unmeasured`)."""
    ok = np.isfinite(res.final).all(axis=1)
    for v in res.metrics.values():
        ok &= np.isfinite(v).all(axis=0) | np.isnan(v[0])
    return ok


def mark_unmeasured(times: list[dict], train_err: np.ndarray, test_err: np.ndarray) -> None:
    """A run whose train or test curve is NaN from step 0 on was not measured there (e.g. the
    test error of a user's data without a ground truth): its rule says ``unmeasured``, not
    ``never`` (the detector alone cannot tell it from a run that failed)."""
    for key, err in (("t1_rule", train_err), ("t2_rule", test_err)):
        for j in np.flatnonzero(np.isnan(np.asarray(err, dtype=float)[0])):
            times[j][key] = "unmeasured"


def batch_tables(fam: Family, flat: list, res: BatchResult, extra: list[dict], det: Detection,
                 save_iterates: bool):
    """runs, curves and iterates (or None) DataFrames of the R = len(flat) runs of one batch;
    ``extra[j]``: the family's run columns of run j."""
    run_ids = [cfg.run_id() for cfg in flat]
    m = res.metrics
    # t1/t2 are read in a second thread while this one lays out the curves: both are numpy passes
    # over the (T, R) curves that mostly release the GIL (measured at 1024 runs x 1020 logs:
    # 0.18 s for the two together against 0.30 s one after the other)
    with ThreadPoolExecutor(max_workers=1) as pool:
        detected = pool.submit(detect_many, res.steps, m["train_error"], m["test_error"], det)
        curves_df = curves_frame(fam, res, run_ids)
        times = detected.result()
    mark_unmeasured(times, m["train_error"], m["test_error"])
    runs_df = runs_frame(fam, flat, run_ids, res, extra, det, times)
    it_df = None
    if save_iterates and res.iterates is not None:
        it_df = iterates_frame(fam, res, run_ids, int(save_iterates))
    return runs_df, curves_df, it_df


def runs_frame(fam: Family, flat: list, run_ids: list[str], res: BatchResult, extra: list[dict],
               det: Detection, times: list[dict]) -> pd.DataFrame:
    """One row per run: config, detection settings and times, final numbers, status."""
    R, m = len(flat), res.metrics
    finite = finite_runs(res)
    det_cols = asdict(det)  # once per batch: the same settings for every run
    runs = []
    for j, cfg in enumerate(flat):
        col = {k: v[:, j] for k, v in m.items()}
        ok = bool(finite[j])
        row = {"run_id": run_ids[j], "problem": cfg.problem, **config_dict(cfg),
               # a data file's content hash next to its path (the path may move; the hash is
               # what the run id was made from)
               **{f"{name}_sha256": sha for name, sha in cfg.file_digests().items()},
               **det_cols, **times[j],
               "final_train_error": float(col["train_error"][-1]),
               "final_test_error": float(col["test_error"][-1]),
               "min_test_error": float(np.nanmin(col["test_error"]))
               if ok and np.isfinite(col["test_error"]).any() else float("nan")}
        for name in fam.final_metrics:
            row[f"final_{name}"] = col[name][-1]
        row.update(extra[j])
        row.update({"wall_time_s": res.wall_time_s / R, "batch_runs": R,
                    "status": "done" if ok else "diverged", "groklab_version": __version__,
                    "engine_version": cfg.engine_version})
        runs.append(row)
    runs_df = pd.DataFrame(runs)
    for c in ("t1", "t2", "delta_t"):
        runs_df[c] = runs_df[c].astype("Int64")
    for c, dtype in fam.run_dtypes.items():
        if c in runs_df:
            runs_df[c] = runs_df[c].astype(dtype)
    for name in fam.final_metrics:
        dtype = fam.curve_dtypes.get(name)
        if dtype == "bool":
            runs_df[f"final_{name}"] = runs_df[f"final_{name}"] > 0.5
        elif dtype is not None:  # counts: -1 marks a diverged run
            runs_df[f"final_{name}"] = runs_df[f"final_{name}"].fillna(-1).astype(dtype)
    return runs_df


def curves_frame(fam: Family, res: BatchResult, run_ids: list[str]) -> pd.DataFrame:
    """One row per (run, logged step), run-major."""
    T, R = len(res.steps), len(run_ids)
    # Run-major columns, each one contiguous (R*T,) array taken as it is (copy=False keeps one
    # block per column), and a categorical run id: a 1e6-row curves table costs one transposed
    # copy per metric, and Arrow then reads every column without striding (measured at 1024 runs
    # x 1020 logs x 9 metrics: 0.12 s against 0.21 s for one stacked (R*T, k) block).  Always a
    # copy (also for one run, where v.T is already contiguous): the frame must not share memory
    # with the engine's metrics, which the detection thread and the runs table still read.
    curves_df = pd.DataFrame({name: v.T.copy(order="C").reshape(R * T)
                              for name, v in res.metrics.items()}, copy=False)
    curves_df.insert(0, "step", np.tile(res.steps, R))
    curves_df.insert(0, "run_id", pd.Categorical.from_codes(np.repeat(np.arange(R), T),
                                                            categories=run_ids))
    for name, dtype in fam.curve_dtypes.items():
        curves_df[name] = curves_df[name] > 0.5 if dtype == "bool" else \
            curves_df[name].fillna(-1).astype(dtype)
    fam.derive_curves(curves_df)
    return curves_df


def iterates_frame(fam: Family, res: BatchResult, run_ids: list[str],
                   every: int) -> pd.DataFrame:
    """The saved iterates: every ``every``-th log point and the last (docs/checkpoints.md)."""
    T, R = len(res.steps), len(run_ids)
    it, it_steps = res.iterates, res.iterate_steps
    if it_steps is None:  # the engine kept every log point: keep every K-th
        idx = iterate_log_indices(T, every)
        it, it_steps = it[idx], res.steps[idx]
    if res.iterate_tensors is not None:
        return long_iterates(it, it_steps, run_ids, res.iterate_tensors)
    Ti, n = len(it_steps), it.shape[-1]
    wide = it.transpose(1, 0, 2).reshape(R * Ti, n)
    it_df = pd.DataFrame(wide, columns=[f"{fam.iterate_prefix}_{i}" for i in range(n)])
    it_df.insert(0, "step", np.tile(it_steps, R))
    it_df.insert(0, "run_id", np.repeat(run_ids, Ti))
    return it_df


def long_iterates(it: np.ndarray, steps: np.ndarray, run_ids: list[str],
                  tensors) -> pd.DataFrame:
    """iterates (T, R, n) of named tensors -> one row per (run, step, tensor): ``tensor``,
    ``shape`` (list of ints) and ``values`` (the flat float32 entries, row-major);
    docs/checkpoints.md.  Run-major, then step, then the tensors in the engine's order."""
    T, R, _ = it.shape
    offs = np.cumsum([0] + [int(np.prod(shape)) for _, shape in tensors])
    rows = {"run_id": [], "step": [], "tensor": [], "shape": [], "values": []}
    for r in range(R):
        for t in range(T):
            for (name, shape), a, b in zip(tensors, offs[:-1], offs[1:]):
                rows["run_id"].append(run_ids[r])
                rows["step"].append(int(steps[t]))
                rows["tensor"].append(name)
                rows["shape"].append(list(shape))
                rows["values"].append(np.ascontiguousarray(it[t, r, a:b], dtype=np.float32))
    df = pd.DataFrame(rows)
    df["step"] = df["step"].astype("int64")
    return df


def redetect(runs: pd.DataFrame, curves: pd.DataFrame, det: Detection) -> pd.DataFrame:
    """Re-read t1/t2 from stored curves with other detection settings (no re-simulation)."""
    runs = runs.copy()
    for k, v in asdict(det).items():
        if k not in runs:  # a setting added after these runs were stored
            runs[k] = v
    by_id = {rid: g.sort_values("step") for rid, g in curves.groupby("run_id")}
    for i, rid in enumerate(runs.run_id):
        g = by_id.get(rid)
        if g is None:
            continue
        train, test = g.train_error.to_numpy(float), g.test_error.to_numpy(float)
        times = detect(g.step.to_numpy(), train, test, det)
        mark_unmeasured([times], train[:, None], test[:, None])
        for k, v in {**times, **asdict(det)}.items():
            runs.at[runs.index[i], k] = v
    return runs
