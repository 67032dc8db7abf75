"""Grids and batching (torch-free, light to import; running them is :mod:`groklab.driver`).

A sweep is a list of configs.  Runs are grouped so that each group is one tensor program:
equal batch keys (the family's ``batch_key``: same shapes, method, step count and logging
schedule); inside a group, runs with equal data keys share their data (GEMM form) and different
data sets are stacked along a batch dimension (batched matmul).  Groups are cut into batches of
at most ``batch_size`` runs.  The code lives in :mod:`groklab.grid` (ranges, 1e6-run grids).

Every config has a ``steps`` field (its horizon): the progress bar counts run-steps.
"""
from __future__ import annotations

from .grid import DEFAULT_BATCH_SIZE, expand_grid, plan_batches  # noqa: F401 -- this module's API
