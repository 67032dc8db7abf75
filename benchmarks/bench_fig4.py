#!/usr/bin/env python
"""The full figure-4 grid (6 lr x 6 l1 = 36 runs, 1e6 steps each) through groklab, against the
authors' one-run-at-a-time numpy loop; then how many runs fit in a core-hour.

    python benchmarks/bench_fig4.py                 # 36 x 1e6 steps, 1024 x 1e5 (~10 min idle)
    python benchmarks/bench_fig4.py --quick         # 36 x 1e5 steps, 1024 x 2e4 (~2 min)
    python benchmarks/bench_fig4.py --no-ray --no-cli --no-throughput

Part 1, the figure-4 grid (src/groklab/families/sparse_recovery/figures/curves.py: n=100, s=5, N=30, seed 1, constant
init 1e-6, log-spaced logging; lr in {0.005 ... 0.1}, l1 in {1e-6 ... 1e-1}) at 1e6 steps -- the
issue's acceptance scale; `groklab reproduce fig4 --full` runs 1e7.  All 36 runs share one data
set, so they form one batch (one GEMM-form tensor program).  Timed, each once in this process:

* numpy  -- benchmarks/bench_sparse.py's loop (the notebooks' update, float64, errors logged on
            the same schedule), timed on --numpy-runs runs of the grid for --numpy-steps steps and
            scaled per step to the grid's steps (the loop's cost is linear in steps: each step is
            the same work; the log-spaced schedule adds ~1e3 logged points either way).
* engine -- run_sparse_batch on the batch groklab.sweep forms (data made outside the timing).
* sweep  -- groklab.sweep(grid) end to end in this process (data, engine, detection, tables).
* ray    -- groklab.sweep(grid, backend="ray") with 18 runs per batch: 2 tasks on a local Ray
            instance started inside the timing (its start-up is included).
* CLI    -- `groklab run sparse-recovery ... --out TMP --quiet`: interpreter start-up and store.

Part 1 runs torch on --threads threads (default 1, the CLI child gets OMP_NUM_THREADS likewise;
Ray tasks always run one thread each): on this shared 2-core VM a 36-run batch on two intra-op
threads ran 5-30x slower than on one whenever another process held a core.

Speed-up per run = numpy seconds per run / (groklab wall seconds / 36).

Part 2, throughput per core: 1024 runs of the same shape (n=100, N=30, s=5) at the default
batch size, torch on ONE thread, CPU time of this process (or of the CLI child) as core-seconds:
(a) 32 lr x 32 l1 on one data set (GEMM form), (b) 64 data seeds x 16 configs (batched matmul).
Printed as run-steps per core-second and runs of 1e5 steps per core-hour.

The machine may be shared: "busy" is the CPU other processes used during each measurement
(0.00 = none, 1.00 = one core's worth of 2); wall times taken while busy are upper bounds.  For
the Ray row "busy" also counts Ray's own worker processes (they are not our children).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # runnable from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import groklab  # noqa: E402
from groklab.families.sparse_recovery.engine import run_sparse_batch# noqa: E402
from groklab.families.sparse_recovery.figures.curves import BASE, LRS, SCALES  # noqa: E402
from groklab.families.sparse_recovery.data import initial_point, make_data# noqa: E402
from groklab.schedule import log_steps  # noqa: E402
from groklab.sweep import DEFAULT_BATCH_SIZE, expand_grid, plan_batches  # noqa: E402

from _common import Meter, wait_quiet  # noqa: E402
from bench_sparse import numpy_run  # noqa: E402  (the authors' loop, one run at a time)

PROBLEM = "sparse-recovery"


def fig4_grid(steps: int) -> dict:
    """figures/sparse.py's fig4 grid at full width (6 l1 values), ``steps`` steps."""
    l1s = SCALES["fig4"]["full"][1]
    return dict(BASE, init_scale=1e-6, l2=0.0, lr=LRS, l1=l1s, steps=steps, log_every=100)


def cpu_seconds(t0, t1) -> float:
    return (t1.user + t1.system + t1.children_user + t1.children_system
            - t0.user - t0.system - t0.children_user - t0.children_system)


def measure(fn):
    wait_quiet()
    t0 = os.times()
    with Meter() as m:
        out = fn()
    return out, m.wall, m.busy, cpu_seconds(t0, os.times())


def cli_args(grid: dict, out: str, extra=()) -> list[str]:
    args = ["run", PROBLEM]
    for k, v in grid.items():
        vals = v if isinstance(v, (list, tuple)) else [v]
        args += ["--" + k.replace("_", "-"), ",".join(f"{x:g}" if isinstance(x, float) else str(x)
                                                      for x in vals)]
    return args + ["--out", out, "--quiet", *extra]


def run_cli(grid: dict, threads: int | None = None, extra=()):
    exe = Path(sys.executable).with_name("groklab")
    exe = str(exe) if exe.exists() else shutil.which("groklab")
    if exe is None:
        return None
    tmp = tempfile.mkdtemp(prefix="groklab-bench-")
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    try:
        proc, wall, busy, cpu = measure(lambda: subprocess.run(
            [exe, *cli_args(grid, tmp, extra)], capture_output=True, text=True, env=env))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode != 0:
        print(f"  CLI failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
        return None
    return wall, busy, cpu


def time_numpy(configs, k: int, steps: int):
    """Seconds per step of the numpy loop for one run, timed on k runs spread over the grid,
    and the final iterates (to check groklab against)."""
    pick = [configs[i] for i in np.linspace(0, len(configs) - 1, min(k, len(configs))).astype(int)]
    c0 = pick[0]
    d = make_data(c0)
    logged = np.zeros(steps + 1, dtype=bool)
    logged[log_steps(steps, c0.log_every, c0.log_dense_until, c0.log_spacing)] = True
    X, y, a_star = d.X.numpy(), d.y.numpy(), d.a_star.numpy()

    def go():
        return [numpy_run(X, y, a_star, initial_point(c, d).numpy(), c.lr, c.l1, steps, logged)[0]
                for c in pick]

    finals, wall, busy, _ = measure(go)
    return wall / len(pick) / steps, busy, pick, finals


def row(label, wall, busy, per_run_np, runs, extra=""):
    flag = "  (!) busy: upper bound" if busy > 0.3 else ""
    print(f"  {label:<34s} {wall:9.1f} {wall / runs:9.3f} {per_run_np / (wall / runs):8.1f}x "
          f"{busy:5.2f}  {extra}{flag}")


def part1(a):
    grid = fig4_grid(a.steps)
    configs = expand_grid(PROBLEM, grid)
    R = len(configs)
    batches = plan_batches(configs, DEFAULT_BATCH_SIZE)
    shape = ", ".join(f"{len(b)}x{len(b[0])}" for b in batches)
    print(f"\n== figure-4 grid: {R} runs x {a.steps:.0e} steps ({len(batches)} batch(es) of D x B = "
          f"{shape}), torch {torch.get_num_threads()} threads ==")

    per_step, np_busy, pick, np_finals = time_numpy(configs, a.numpy_runs, a.numpy_steps)
    per_run_np = per_step * a.steps
    # same numbers? groklab on the numpy-timed runs for the numpy step count
    short = [[dataclasses.replace(c, steps=a.numpy_steps) for c in pick]]
    res = run_sparse_batch([make_data(pick[0])], short)
    diff = max(float(np.abs(res.final[j] - f).max() / max(np.abs(f).max(), 1e-300))
               for j, f in enumerate(np_finals))
    print(f"numpy loop timed on {len(pick)} runs x {a.numpy_steps:.0e} steps: "
          f"{per_step * 1e6:.2f} us/step -> {per_run_np:.1f} s per run at {a.steps:.0e} steps "
          f"(scaled per step; busy {np_busy:.2f}); groklab vs numpy final iterates after "
          f"{a.numpy_steps:.0e} steps: max rel diff {diff:.1e}")
    print(f"  {'':<34s} {'wall s':>9s} {'s/run':>9s} {'speedup':>9s} {'busy':>5s}")
    row("numpy loop, one run at a time", per_run_np * R, np_busy, per_run_np, R,
        "(extrapolated)")
    summary = {}

    datas = {c.data_key(): make_data(c) for c in configs}

    def engine():
        for b in batches:
            run_sparse_batch([datas[r[0].data_key()] for r in b], b)

    _, wall, busy, _ = measure(engine)
    row("groklab engine", wall, busy, per_run_np, R)
    summary["engine"] = wall

    res, wall, busy, _ = measure(lambda: groklab.sweep(grid, quiet=True))
    n_t2 = int(res.runs.t2.notna().sum())
    row("groklab.sweep (local)", wall, busy, per_run_np, R, f"t2 detected in {n_t2}/{R} runs")
    summary["sweep"] = wall

    if not a.no_ray:
        try:
            import ray  # noqa: F401
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            tmp = tempfile.mkdtemp(prefix="groklab-bench-ray-")
            try:
                rr, wall, busy, _ = measure(lambda: groklab.sweep(
                    grid, out=tmp, backend="ray", batch_size=(R + 1) // 2))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
                ray.shutdown()
            fa = rr.runs.sort_values("run_id").final_test_error.to_numpy()
            fb = res.runs.sort_values("run_id").final_test_error.to_numpy()
            d = float(np.max(np.abs(fa - fb) / np.abs(fb)))
            row("groklab.sweep, Ray, 2 tasks x 18", wall, busy, per_run_np, R,
                f"Ray start-up included, busy counts Ray's own workers; final test errors vs "
                f"local: max rel diff {d:.1e}")
            summary["ray"] = wall
        except ImportError:
            print("  Ray: skipped (not installed)")
    if not a.no_cli:
        out = run_cli(grid, threads=torch.get_num_threads())
        if out is not None:
            row("CLI groklab run (whole command)", out[0], out[1], per_run_np, R)
            summary["cli"] = out[0]
    print(f"per-run speed-up vs numpy: " + ", ".join(f"{k} {per_run_np * R / v:.1f}x"
                                                      for k, v in summary.items()))


def part2(a):
    steps = a.throughput_steps
    grids = {
        "(a) 32 lr x 32 l1, shared data": {
            "lr": [float(v) for v in np.linspace(0.01, 0.2, 32)],
            "l1": [float(v) for v in np.logspace(-6, -3, 32)], "steps": steps},
        "(b) 64 data seeds x 16 configs": {
            "seed": list(range(64)), "lr": [0.05, 0.1],
            "l1": [float(v) for v in np.logspace(-5, -4, 8)], "steps": steps},
    }
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    print(f"\n== throughput per core: n=100, N=30, s=5, {steps:.0e} steps per run, batch size "
          f"{DEFAULT_BATCH_SIZE}, torch 1 thread; core-s = CPU seconds used ==")
    print(f"  {'':<40s} {'runs':>5s} {'wall s':>8s} {'core-s':>8s} {'Mrun-steps/core-s':>18s} "
          f"{'1e5-step runs/core-h':>21s} {'busy':>5s}")

    def show(label, R, wall, cpu, busy):
        rate = R * steps / cpu
        print(f"  {label:<40s} {R:5d} {wall:8.1f} {cpu:8.1f} {rate / 1e6:18.2f} "
              f"{rate * 3600 / 1e5:21.0f} {busy:5.2f}")

    try:
        for label, grid in grids.items():
            configs = expand_grid(PROBLEM, grid)
            batches = plan_batches(configs, DEFAULT_BATCH_SIZE)
            datas = {}
            for c in configs:
                datas.setdefault(c.data_key(), make_data(c))

            def engine():
                for b in batches:
                    run_sparse_batch([datas[r[0].data_key()] for r in b], b)

            _, wall, busy, cpu = measure(engine)
            show(f"engine {label}", len(configs), wall, cpu, busy)
            if not a.no_cli:
                out = run_cli(grid, threads=1)
                if out is not None:
                    show(f"CLI    {label}", len(configs), out[0], out[2], out[1])
    finally:
        torch.set_num_threads(old)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1e5-step fig4 grid, 2e4-step throughput")
    p.add_argument("--steps", type=int, default=None, help="fig4 steps per run (default 1e6)")
    p.add_argument("--numpy-runs", type=int, default=4, help="runs timed with numpy (default 4)")
    p.add_argument("--numpy-steps", type=int, default=50_000,
                   help="steps per numpy-timed run (default 5e4), scaled per step")
    p.add_argument("--throughput-steps", type=int, default=None,
                   help="steps per run in part 2 (default 1e5; quick 2e4)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads in part 1 (default 1: on a shared 2-core machine two "
                   "intra-op threads on a 36-run batch ran 5-30x slower when another process "
                   "held a core; 0 = torch's default)")
    p.add_argument("--no-ray", action="store_true")
    p.add_argument("--no-cli", action="store_true")
    p.add_argument("--no-fig4", action="store_true", help="skip part 1")
    p.add_argument("--no-throughput", action="store_true", help="skip part 2")
    a = p.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress visible in a log file
    a.steps = a.steps or (100_000 if a.quick else 1_000_000)
    a.throughput_steps = a.throughput_steps or (20_000 if a.quick else 100_000)
    t0 = time.perf_counter()
    print(f"groklab {groklab.__version__}, torch {torch.__version__} "
          f"({torch.backends.cpu.get_cpu_capability()}), numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs")
    if not a.no_fig4:
        if a.threads:
            torch.set_num_threads(a.threads)
        part1(a)
    if not a.no_throughput:
        part2(a)
    print(f"\nbenchmark wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
