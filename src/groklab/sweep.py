"""Grids and batching (torch-free, light to import; running them is :mod:`groklab.driver`).

A sweep is a list of configs.  Runs are grouped so that each group is one tensor program:
equal batch keys (the family's ``batch_key``: same shapes, method, step count and logging
schedule); inside a group, runs with equal data keys share their data (GEMM form) and different
data sets are stacked along a batch dimension (batched matmul).  Groups are cut into batches of
at most ``batch_size`` runs.

Every config has a ``steps`` field (its horizon): the progress bar counts run-steps.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict, defaultdict

from . import family as registry

#: runs per tensor program: 1024 measured best on 2 cores (README, "Speed": 128 -> 11x,
#: 512 -> 19.6x, 1024 -> 20.6x, 2048 -> 21.5x vs numpy, at twice the memory per batch)
DEFAULT_BATCH_SIZE = 1024


def expand_grid(problem: str, values: dict) -> list:
    """Cartesian product over every value that is a list; scalars are fixed.  Order: first key
    varies slowest.  Duplicate configs collapse to one."""
    keys = list(values)
    axes = [v if isinstance(v, (list, tuple)) else [v] for v in values.values()]
    out: OrderedDict = OrderedDict()
    for combo in itertools.product(*axes):
        cfg = registry.make_config(problem, **dict(zip(keys, combo)))
        out.setdefault(cfg.run_id(), cfg)
    return list(out.values())


def plan_batches(configs: list, batch_size: int = DEFAULT_BATCH_SIZE) -> list[list[list]]:
    """Return batches, each a D x B nested list (D data sets, B runs on each)."""
    groups: dict = defaultdict(lambda: defaultdict(list))
    for cfg in configs:
        groups[(cfg.problem, *cfg.batch_key())][cfg.data_key()].append(cfg)
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
