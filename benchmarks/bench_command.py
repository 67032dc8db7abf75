#!/usr/bin/env python
"""The whole command against the authors' one-run-at-a-time numpy loop, measured in one process.

    python benchmarks/bench_command.py                  # 1024 and 4096 runs x 2e4 steps
    python benchmarks/bench_command.py --runs 1024 --steps 5000

For each sweep (sparse recovery, n=100, s=5, N=30, shared data, lr x l1 grid):

* numpy   -- the loop of benchmarks/bench_sparse.py (float64), timed on --numpy-runs runs spread
             over the sweep and extrapolated per run;
* engine  -- run_sparse_batch alone on the batches groklab forms (data made outside);
* command -- ``python -m groklab.cli run sparse-recovery ... --out DIR --quiet`` as a fresh
             process: interpreter start-up, imports, grid, data, engine, detection, tables, the
             store, the manifest -- everything a user waits for.

Each contender is timed once per round, the rounds interleaved (--rounds, default 3), and the
best round of each is used: the VM's speed drifts by 10-50 % between seconds, and only ever
downwards.  Speed-up = numpy seconds per run / groklab seconds per run.  The gap between engine
and command is groklab's overhead (printed).  ``--breakdown`` splits it: the start-up of a one-step command
(interpreter, imports, torch, argparse, grid, data, the store's files: fixed costs), then, in
this process on the engine's own batch result, detection plus tables and the Parquet commit
(they grow with runs x log points).  "busy" is other processes' CPU load during each measurement
(cores); ratios taken with busy > 0.3 are lower bounds.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from _common import Meter  # noqa: E402
from bench_sparse import time_engine, time_numpy  # noqa: E402
from groklab import family as registry  # noqa: E402
from groklab.compute import prepare_data  # noqa: E402
from groklab.detect import Detection  # noqa: E402
from groklab.store import Store  # noqa: E402
from groklab.tables import batch_tables  # noqa: E402
from groklab.sweep import DEFAULT_BATCH_SIZE, expand_grid, plan_batches  # noqa: E402


def grid_for(runs: int) -> tuple[list[float], list[float]]:
    side = int(round(runs ** 0.5))
    assert side * side == runs, "--runs must be a square (a side x side lr x l1 grid)"
    return ([float(v) for v in np.linspace(0.01, 0.2, side)],
            [float(v) for v in np.logspace(-6, -3, side)])


def command(lrs, l1s, steps, batch_size, out) -> list[str]:
    return [sys.executable, "-m", "groklab.cli", "run", "sparse-recovery",
            "--lr", ",".join(map(repr, lrs)), "--l1", ",".join(map(repr, l1s)),
            "--steps", str(steps), "--runs-per-batch", str(batch_size), "--out", out, "--quiet"]


def breakdown(configs, lrs, l1s, batch_size, env) -> None:
    """Where the overhead goes (seconds; see the module docstring)."""
    tmp = tempfile.mkdtemp(prefix="groklab-bench-breakdown-")
    try:
        with Meter() as m:  # same runs, one step: everything but the engine's steps and curves
            subprocess.run(command(lrs, l1s, 1, batch_size, f"{tmp}/one"), check=True, env=env)
        with Meter() as imp:
            subprocess.run([sys.executable, "-c", "import torch"], check=True, env=env)
        batches = plan_batches(configs, batch_size)
        fam = registry.of(configs[0])
        cache = prepare_data(configs)
        det, tables_s, write_s, rows = fam.detection or Detection(), 0.0, 0.0, 0
        store = Store(Path(tmp) / "store")
        for batch in batches:
            flat = [c for row in batch for c in row]
            datas = [cache[(c.problem, c.data_key())][0] for c in (row[0] for row in batch)]
            res = fam.run_batch(datas, batch, device="cpu", save_iterates=False)
            t0 = time.perf_counter()  # what compute.run_batch_tables does after the engine
            extra = [fam.run_columns(c, *cache[(c.problem, c.data_key())], res.final[j],
                                     {k: v[:, j] for k, v in res.metrics.items()})
                     for j, c in enumerate(flat)]
            runs, curves, _ = batch_tables(fam, flat, res, extra, det, False)
            t1 = time.perf_counter()
            store.write_part(runs, curves)
            write_s += time.perf_counter() - t1
            tables_s += t1 - t0
            rows += len(curves)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"  breakdown ({len(configs)} runs, {rows:,} curve rows): one-step command "
          f"{m.wall:.2f} s (import torch alone {imp.wall:.2f} s), detection + tables "
          f"{tables_s:.2f} s, Parquet commit {write_s:.2f} s", flush=True)


def measure_round(configs, cmd, numpy_runs, steps, batch_size, env):
    """One interleaved round: (numpy s/run, engine s, command s, busy)."""
    np_per_run, np_busy, _, _ = time_numpy(configs, numpy_runs, steps, 1)
    eng_wall, eng_busy, _, _ = time_engine(configs, batch_size, 1)
    tmp = tempfile.mkdtemp(prefix="groklab-bench-command-")
    try:
        with Meter() as m:
            subprocess.run(cmd(f"{tmp}/o"), check=True, env=env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return np_per_run, eng_wall, m.wall, max(np_busy, eng_busy, m.busy)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="1024,4096", help="comma list of square run counts")
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--numpy-runs", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds of numpy / engine / command; each is the best of "
                    "them")
    ap.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    ap.add_argument("--breakdown", action="store_true", help="also split the overhead")
    a = ap.parse_args()
    # A shared VM only ever slows a measurement down, and by 10-50 % from one second to the
    # next: each contender is timed in every round (interleaved, so all see the same spells)
    # and its best round is kept; the spread over the rounds is printed beside it.
    print(f"{'runs':>6} {'numpy ms/run':>13} {'engine ms/run':>14} {'command ms/run':>15} "
          f"{'engine x':>9} {'command x':>10} {'overhead s':>11} {'busy':>5}  command s (rounds)")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    for runs in (int(x) for x in a.runs.split(",")):
        lrs, l1s = grid_for(runs)
        configs = expand_grid("sparse-recovery", {"lr": lrs, "l1": l1s, "steps": a.steps})
        rounds = [measure_round(configs, lambda o: command(lrs, l1s, a.steps, a.batch_size, o),
                                a.numpy_runs, a.steps, a.batch_size, env)
                  for _ in range(a.rounds)]
        np_per_run, eng_wall, cmd_wall = (min(r[i] for r in rounds) for i in range(3))
        busy = max(r[3] for r in rounds)
        spread = ", ".join(f"{r[2]:.2f}" for r in rounds)
        print(f"{runs:>6} {1e3 * np_per_run:>13.2f} {1e3 * eng_wall / runs:>14.3f} "
              f"{1e3 * cmd_wall / runs:>15.3f} {np_per_run * runs / eng_wall:>8.1f}x "
              f"{np_per_run * runs / cmd_wall:>9.1f}x {cmd_wall - eng_wall:>11.1f} {busy:>5.2f}"
              f"  {spread}", flush=True)
        if a.breakdown:
            breakdown(configs, lrs, l1s, a.batch_size, env)


if __name__ == "__main__":
    main()
