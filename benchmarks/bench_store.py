"""Store overhead per run as sweeps grow: short runs, so bookkeeping is most of the cost.

For each sweep size N (sparse recovery n=20, s=2, N_meas=10, 200 steps, 256 runs per batch, one
shared data set, l1 swept over N values) one fresh process runs ``groklab.sweep`` twice:
    in memory (out=None)         -> the compute and table building alone
    into a results directory     -> the same plus the store (staging, fsync, commit, compaction)
and reports per-run wall time of each, their difference (the store's overhead per run), runs/s,
peak RSS of the process (the stored sweep runs first, so its peak is the one measured) and disk
per run.  Usage:

    python benchmarks/bench_store.py                 # 1e3, 4096, 1e4, 32768, 1e5
    python benchmarks/bench_store.py --sizes 1000000 --no-memory   # the 1e6-run sweep

Flat bookkeeping means per-run time at 32 768 within 1.3x of 4 096; bounded memory means peak RSS
does not grow with N beyond the runs table itself (~1 KiB per run).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from _common import Meter  # noqa: E402

GRID = dict(dim=20, sparsity=2, measurements=10, lr=0.05, steps=200, log_every=50,
            log_dense_until=50)


def one(n: int, out: str, memory: bool) -> dict:
    import torch  # noqa: PLC0415 -- measured in the child process only

    import groklab  # noqa: PLC0415

    torch.set_num_threads(1)
    l1 = np.logspace(-6, -2, n).tolist()
    groklab.sweep({**GRID, "l1": l1[:256]}, batch_size=256)  # warm-up: imports, first batch
    with Meter() as m_store:
        res = groklab.sweep({**GRID, "l1": l1}, out=out, batch_size=256)
    assert len(res.runs) == n
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    disk = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    t_mem = float("nan")
    if memory:
        with Meter() as m_mem:
            groklab.sweep({**GRID, "l1": l1}, batch_size=256)
        t_mem = m_mem.wall
    return {"n": n, "store_s": m_store.wall, "memory_s": t_mem, "rss_mib": rss,
            "disk_bytes": disk, "busy": m_store.busy}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,4096,10000,32768,100000")
    ap.add_argument("--no-memory", action="store_true", help="skip the in-memory comparison")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child is not None:
        print(json.dumps(one(a.child, a.out, not a.no_memory)))
        return
    print(f"{'runs':>8} {'ms/run stored':>14} {'ms/run memory':>14} {'store ms/run':>13} "
          f"{'runs/s':>8} {'peak RSS':>10} {'disk/run':>9} {'others busy':>11}")
    rows = []
    for n in (int(float(x)) for x in a.sizes.split(",")):
        tmp = tempfile.mkdtemp(prefix="groklab-bench-store-")
        try:
            env = dict(os.environ, OMP_NUM_THREADS="1")
            cmd = [sys.executable, __file__, "--child", str(n), "--out", f"{tmp}/o"]
            if a.no_memory:
                cmd.append("--no-memory")
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode != 0:
                sys.exit(p.stderr)
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r["total_s"] = time.perf_counter() - t0
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows.append(r)
        per_s, per_m = 1e3 * r["store_s"] / n, 1e3 * r["memory_s"] / n
        print(f"{n:>8} {per_s:>14.3f} {per_m:>14.3f} {per_s - per_m:>13.3f} "
              f"{n / r['store_s']:>8.0f} {r['rss_mib']:>8.0f} MiB {r['disk_bytes'] / n:>7.0f} B "
              f"{r['busy']:>10.2f}", flush=True)
    by_n = {r["n"]: r for r in rows}
    if 4096 in by_n and 32768 in by_n:
        ratio = (by_n[32768]["store_s"] / 32768) / (by_n[4096]["store_s"] / 4096)
        print(f"per-run time 32768 / 4096 runs: {ratio:.2f}x (flat: <= 1.3x)")


if __name__ == "__main__":
    main()
