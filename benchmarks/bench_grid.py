"""Expanding and batching large grids: groklab.grid.expand_grid + plan_batches at 1e4, 1e5 and
1e6 configs, against building the same configs the plain way (one constructor call per config,
every field checked, the run id hashed from its whole JSON payload) in the same process.
Not a test; prints per-config times and the peak memory.

    python benchmarks/bench_grid.py            # 1e4, 1e5, 1e6 (the plain loop up to 1e5)
    python benchmarks/bench_grid.py 1e4 1e5    # other sizes
"""
from __future__ import annotations

import gc
import hashlib
import itertools
import json
import resource
import sys
import time

from groklab import family as registry
from groklab.fields import _id_payload
from groklab.grid import expand_grid, plan_batches

#: the plain loop costs ~35 us a config: measured up to this size only
PLAIN_MAX = 10 ** 5


def grid(n: int) -> dict:
    """A sparse-recovery grid of n runs: 4 lr x 10 seeds x n/40 l1 values."""
    return {"dim": 20, "sparsity": 2, "measurements": 10, "steps": 200, "log_every": 50,
            "log_dense_until": 50, "lr": [0.01, 0.02, 0.03, 0.04],
            "l1": f"linspace(1e-6,1e-2,{n // 40})", "seed": "range(0,10)"}


def plain(problem: str, values: dict) -> list:
    """The reference: every config built and hashed one at a time."""
    from groklab.grid import grid_axes  # noqa: PLC0415 -- the benchmark's own reference

    cls = registry.get(problem).config
    keys, axes = grid_axes(problem, values)
    out = {}
    for combo in itertools.product(*axes):
        cfg = cls(**dict(zip(keys, combo)))
        rid = hashlib.sha1(json.dumps(_id_payload(cfg), sort_keys=True, default=str)
                           .encode()).hexdigest()[:16]
        out.setdefault(rid, cfg)
    return list(out.values())


def main(sizes: list[int]) -> None:
    print(f"{'configs':>9s} {'expand':>9s} {'plan':>8s} {'us/config':>9s} {'plain us/config':>15s} "
          f"{'ratio':>6s} {'peak RSS':>9s}")
    for n in sizes:
        values = grid(n)
        gc.collect()
        t0 = time.perf_counter()
        cfgs = expand_grid("sparse-recovery", values)
        t1 = time.perf_counter()
        batches = plan_batches(cfgs, 1024)
        t2 = time.perf_counter()
        assert len(cfgs) == n and sum(len(r) for b in batches for r in b) == n
        per = 1e6 * (t2 - t0) / n
        ref = ""
        ratio = ""
        if n <= PLAIN_MAX:
            t3 = time.perf_counter()
            ref_cfgs = plain("sparse-recovery", values)
            plan_batches(ref_cfgs, 1024)
            ref_per = 1e6 * (time.perf_counter() - t3) / n
            assert [c.run_id() for c in cfgs[:1000]] == [c.run_id() for c in ref_cfgs[:1000]]
            ref, ratio = f"{ref_per:15.1f}", f"{ref_per / per:6.1f}"
            del ref_cfgs
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{n:9d} {t1 - t0:8.2f}s {t2 - t1:7.2f}s {per:9.1f} {ref:>15s} {ratio:>6s} "
              f"{rss:8.0f}M", flush=True)
        del cfgs, batches


if __name__ == "__main__":
    args = [int(float(a)) for a in sys.argv[1:]] or [10 ** 4, 10 ** 5, 10 ** 6]
    main(args)
