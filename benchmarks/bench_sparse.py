#!/usr/bin/env python
"""groklab's batched sparse-recovery engine against the authors' one-run-at-a-time numpy loop.

    python benchmarks/bench_sparse.py            # 2e4 steps, best of 2, batch-size scan (~100 s)
    python benchmarks/bench_sparse.py --quick    # 5e3 steps, best of 1, no scan (~30 s)

(times on an otherwise idle 2-core machine).

Everything is measured in one process, on the same data (n=100, s=5, N=30):

* numpy  -- the notebooks' loop, float64, one run at a time:
            a = a - lr*(X.T@(X@a - y) + l1*np.sign(a)), train/test relative errors appended at
            groklab's logging steps (every step below 1000, then every 1000).  It is timed on a
            few runs of each sweep and extrapolated per run (printed as "numpy runs timed").
* engine -- groklab.families.sparse_recovery.engine.run_sparse_batch on the batches groklab.sweep would form.
* sweep  -- groklab.sweep(grid, out=None, quiet=True) end to end (data, detection, DataFrames).
* CLI    -- `groklab run sparse-recovery ...` as a subprocess, interpreter start-up and the parquet
            store included (skipped if the console script is not installed).

Speed-up = numpy seconds per run / groklab seconds per run.  GFLOP/s counts 4 n N + 4 n flops per
run-step (the two products through X -- X a and X^T r -- plus sign, scale and add) for both
codes, so the GFLOP/s ratio equals the speed-up; metrics and logging are not counted.

The machine may be shared: each measurement is the best of --repeat, and "busy" is the CPU load of
*other* processes during it (0.00 = none, 1.00 = one core's worth); treat numbers taken with a
busy other core as lower bounds -- two OpenMP threads slow down many-fold when one is preempted.
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
sys.path.insert(0, str(ROOT / "src"))  # runnable from a checkout without installing

import numpy as np  # noqa: E402
import torch  # noqa: E402

import groklab  # noqa: E402
from groklab.families.sparse_recovery.engine import run_sparse_batch# noqa: E402
from groklab.families.sparse_recovery.data import initial_point, make_data# noqa: E402
from groklab.schedule import log_steps  # noqa: E402
from groklab.sweep import DEFAULT_BATCH_SIZE, expand_grid, plan_batches  # noqa: E402

N_DIM, N_MEAS = 100, 30
PROBLEM = "sparse-recovery"


from _common import Meter, best_of, wait_quiet  # noqa: E402  (benchmarks/_common.py)


# ---- the two codes ------------------------------------------------------------------------------
def numpy_run(X, y, a_star, a0, lr, l1, steps, logged):
    """The authors' loop for one run (float64), logging train/test errors like groklab."""
    a = a0.copy()
    yn, an = np.linalg.norm(y), np.linalg.norm(a_star)
    train, test = [], []
    for t in range(steps + 1):
        if logged[t]:
            train.append(np.linalg.norm(X @ a - y) / yn)
            test.append(np.linalg.norm(a - a_star) / an)
        if t < steps:
            a = a - lr * (X.T @ (X @ a - y) + l1 * np.sign(a))
    return a, train, test


def time_numpy(configs, k, steps, repeat):
    """Seconds per run of the numpy loop, timed on k runs spread over the sweep."""
    pick = [configs[i] for i in np.linspace(0, len(configs) - 1, min(k, len(configs))).astype(int)]
    datas = {}
    for c in pick:
        datas.setdefault(c.data_key(), make_data(c))
    sched = log_steps(steps)
    logged = np.zeros(steps + 1, dtype=bool)
    logged[sched] = True
    args = []
    for c in pick:
        d = datas[c.data_key()]
        args.append((d.X.numpy(), d.y.numpy(), d.a_star.numpy(), initial_point(c, d).numpy(),
                     c.lr, c.l1))

    def go():
        return [numpy_run(X, y, s, a0, lr, l1, steps, logged) for X, y, s, a0, lr, l1 in args]

    finals, wall, busy = best_of(repeat, go)
    return wall / len(pick), busy, pick, [f[0] for f in finals]


def time_engine(configs, batch_size, repeat):
    """Seconds for run_sparse_batch over the batches groklab.sweep forms (data made outside)."""
    datas = {}
    for c in configs:
        datas.setdefault(c.data_key(), make_data(c))
    batches = plan_batches(configs, batch_size)

    def go():
        finals = {}
        for batch in batches:
            res = run_sparse_batch([datas[row[0].data_key()] for row in batch], batch)
            for j, c in enumerate(c for row in batch for c in row):
                finals[c.run_id()] = res.final[j]
        return finals

    finals, wall, busy = best_of(repeat, go)
    shapes = sorted({(len(b), len(b[0])) for b in batches})
    desc = f"{len(batches)} batch(es) of D x B = " + ", ".join(f"{d}x{b}" for d, b in shapes)
    return wall, busy, finals, desc


def time_sweep(grid, batch_size, repeat):
    res, wall, busy = best_of(repeat, lambda: groklab.sweep(
        grid, problem=PROBLEM, out=None, quiet=True, batch_size=batch_size))
    return wall, busy, res


def flops_per_run_step(n=N_DIM, N=N_MEAS):
    return 4 * n * N + 4 * n


def gemm_peak(threads_note):
    """Attainable fp64 GEMM rates here: (B, n) @ (n, n), and the thin pair through X."""
    B, n, N = 2048, N_DIM, N_MEAS
    A, G = torch.randn(B, n, dtype=torch.float64), torch.randn(n, n, dtype=torch.float64)
    X = torch.randn(N, n, dtype=torch.float64)
    R, S = torch.empty(B, n, dtype=torch.float64), torch.empty(B, N, dtype=torch.float64)

    def rate(fn, flops, reps=200):
        for _ in range(10):
            fn()
        best = 1e9
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(reps):
                fn()
            best = min(best, (time.perf_counter() - t) / reps)
        return flops / best / 1e9

    wait_quiet()
    sq = rate(lambda: torch.mm(A, G, out=R), 2 * B * n * n)
    thin = rate(lambda: (torch.mm(A, X.T, out=S), torch.mm(S, X, out=R)), 4 * B * n * N)
    print(f"fp64 GEMM here ({threads_note}): (2048,100)@(100,100) {sq:.0f} GFLOP/s; "
          f"thin pair (2048,100)@(100,30)@(30,100) {thin:.0f} GFLOP/s")
    return sq, thin


# ---- scenarios ----------------------------------------------------------------------------------
def shared_grid(n_lr, n_l1, steps):
    return {"lr": [float(v) for v in np.linspace(0.01, 0.2, n_lr)],
            "l1": [float(v) for v in np.logspace(-6, -3, n_l1)], "steps": steps}


def seeds_grid(n_seeds, n_cfg, steps):
    lrs = [0.1] if n_cfg == 1 else [0.05, 0.1]
    l1s = [1e-5] if n_cfg == 1 else [float(v) for v in np.logspace(-5, -4, n_cfg // len(lrs))]
    return {"seed": list(range(n_seeds)), "lr": lrs, "l1": l1s, "steps": steps}


def row(label, runs, steps, np_per_run, wall, busy, extra=""):
    per_run = wall / runs
    gf = flops_per_run_step() * steps * runs / wall / 1e9
    if busy > 0.3:
        extra += " (!) other processes busy: lower bound"
    print(f"  {label:<30s} {runs:5d} {wall:8.2f} {per_run * 1e3:9.3f} {np_per_run / per_run:7.1f}x "
          f"{gf:7.1f} {busy:5.2f}  {extra}")


def header():
    print(f"  {'':<30s} {'runs':>5s} {'wall s':>8s} {'ms/run':>9s} {'speedup':>8s} {'GFLOP/s':>7s} "
          f"{'busy':>5s}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="5e3 steps, one repeat, no batch-size scan")
    p.add_argument("--steps", type=int, default=None, help="steps per run (default 2e4, quick 5e3)")
    p.add_argument("--repeat", type=int, default=None, help="best of this many (default 2; quick 1)")
    p.add_argument("--numpy-runs", type=int, default=None, help="runs timed with numpy (default 8)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default torch's)")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--no-cli", action="store_true")
    a = p.parse_args(argv)
    steps = a.steps or (5000 if a.quick else 20000)
    repeat = a.repeat or (1 if a.quick else 2)
    k_np = a.numpy_runs or (4 if a.quick else 8)
    if a.threads:
        torch.set_num_threads(a.threads)
    threads = torch.get_num_threads()
    t_start = time.perf_counter()

    print(f"groklab {groklab.__version__}, torch {torch.__version__} ({threads} threads, "
          f"{torch.backends.cpu.get_cpu_capability()}), numpy {np.__version__}, {os.cpu_count()} CPUs")
    print(f"n={N_DIM}, s=5, N={N_MEAS}, {steps} steps per run, float64, batch_size={a.batch_size}, "
          f"best of {repeat}; numpy runs timed: {k_np} per sweep, extrapolated per run")
    print(f"flop count: {flops_per_run_step()} per run-step (4nN + 4n)")
    gemm_peak(f"{threads} threads")

    # shared data: (a) 256 runs, (b) 1024 runs; (c) data seeds
    cases = [("(a) shared data, 16 lr x 16 l1", shared_grid(16, 16, steps)),
             ("(b) shared data, 32 lr x 32 l1", shared_grid(32, 32, steps)),
             ("(c) 64 data seeds x 1 config", seeds_grid(64, 1, steps)),
             ("(c) 64 data seeds x 4 configs", seeds_grid(64, 4, steps))]
    summary = {}
    for label, grid in cases:
        configs = expand_grid(PROBLEM, grid)
        R = len(configs)
        np_per_run, np_busy, pick, np_final = time_numpy(configs, k_np, steps, repeat)
        eng_wall, eng_busy, finals, shape = time_engine(configs, a.batch_size, repeat)
        sw_wall, sw_busy, res = time_sweep(grid, a.batch_size, repeat)
        # same numbers as the numpy loop?
        diff = max(float(np.abs(finals[c.run_id()] - f).max() / np.abs(f).max())
                   for c, f in zip(pick, np_final))
        print(f"\n{label}: {R} runs, {shape}; groklab vs numpy final iterates: max rel diff {diff:.1e}")
        header()
        row("numpy loop (extrapolated)", R, steps, np_per_run, np_per_run * R, np_busy,
            f"timed on {len(pick)} runs")
        row("groklab engine", R, steps, np_per_run, eng_wall, eng_busy)
        row("groklab.sweep (in-process)", R, steps, np_per_run, sw_wall, sw_busy)
        summary[label] = {"runs": R, "numpy": np_per_run, "engine": eng_wall, "sweep": sw_wall}

    # batch-size scan on the 1024-run shared-data sweep (engine alone)
    if not a.quick:
        configs = expand_grid(PROBLEM, shared_grid(32, 32, steps))
        np_per_run = summary[cases[1][0]]["numpy"]
        print("\nbatch size scan, 1024 runs on shared data (engine alone):")
        header()
        for bs in (128, 256, 512, 1024):
            wall, busy, _, shape = time_engine(configs, bs, 1)
            row(f"batch_size={bs}", len(configs), steps, np_per_run, wall, busy, shape)
        configs = expand_grid(PROBLEM, shared_grid(64, 32, steps))
        for bs in (2048,):
            wall, busy, _, shape = time_engine(configs, bs, 1)
            row(f"batch_size={bs} (2048 runs)", len(configs), steps, np_per_run, wall, busy, shape)

    # whole command, start-up included
    exe = Path(sys.executable).with_name("groklab")
    if a.no_cli:
        pass
    elif not exe.exists() and shutil.which("groklab") is None:
        print("\nwhole command: skipped (no `groklab` console script next to this python)")
    else:
        exe = str(exe) if exe.exists() else shutil.which("groklab")
        print("\nwhole command, `groklab run sparse-recovery ... --out TMP --quiet` (start-up, store):")
        header()
        for label, grid in cases[:2]:
            R, np_per_run = summary[label]["runs"], summary[label]["numpy"]
            lr = ",".join(f"{v:g}" for v in grid["lr"])
            l1 = ",".join(f"{v:g}" for v in grid["l1"])
            tmp = tempfile.mkdtemp(prefix="groklab-bench-")
            cmd = [exe, "run", PROBLEM, "--lr", lr, "--l1", l1, "--steps", str(steps),
                   "--runs-per-batch", str(a.batch_size), "--out", tmp, "--quiet"]
            try:
                wait_quiet()
                with Meter() as m:
                    proc = subprocess.run(cmd, capture_output=True, text=True)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            if proc.returncode != 0:
                print(f"  {label}: command failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
                continue
            row(f"CLI {label[:3]} ({R} runs)", R, steps, np_per_run, m.wall, m.busy)
            summary[label]["cli"] = m.wall
        with Meter() as m:
            proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
        print(f"  (`groklab --version` alone: {m.wall:.2f} s of start-up)")

    print("\nsummary: per-run speed-up over the numpy loop (numpy s/run / groklab s/run)")
    print(f"  {'':<32s} {'engine':>7s} {'sweep':>7s} {'CLI':>7s}")
    for label, v in summary.items():
        cells = [f"{v['numpy'] * v['runs'] / v[key]:6.1f}x" if key in v else f"{'-':>7s}"
                 for key in ("engine", "sweep", "cli")]
        print(f"  {label:<32s} " + " ".join(cells))
    print(f"\nbenchmark wall time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
