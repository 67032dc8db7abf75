"""Helpers for the families' ``resources`` hooks (pure arithmetic, no imports of groklab).

A config's ``resources(runs, data_sets, log_points, save_iterates)`` returns a dict:

    data          bytes of one data set as the family builds it (its peak while being made)
    batch         bytes of a batch of ``runs`` runs on ``data_sets`` data sets, beyond the data:
                  the engine's state, schedule-sized buffers and the batch's result tables
    disk          bytes one run adds to the results directory
    step_seconds  seconds of one run-step on one core (a rough, order-of-magnitude figure)
    data_seconds  (optional) seconds to make one data set on one core
    sizes         the options the estimate grows with, for the refusal messages

:mod:`groklab.preflight` adds the process itself and every data set of the sweep (they are kept
for the whole command) to the largest batch to get the peak it checks against the machine.
"""
from __future__ import annotations

F64 = 8
F32 = 4
#: a Python float in a list (the final iterate stored as a list column): pointer + object
PYFLOAT = 32
#: copies of a batch's curves alive at once: the engine's arrays, the pandas table, its Arrow
#: form while written, the results read back at the end (measured: 2 copies under-counted a
#: 1024-run, 2000-point sweep by 20 %)
TABLE_COPIES = 4
#: bytes per curve cell on disk (float64 columns, before Parquet's compression)
DISK_CELL = 8
#: effective matmul rate of one core (flop/s) used for the time estimates
GEMM_RATE = 2e10
#: effective rate of small, memory-bound operations (elementwise, small SVDs)
SMALL_RATE = 2e9


def tables(points: int, runs: int, columns: int, final_values: int = 0) -> float:
    """Memory of a batch's result tables: ``columns`` curve columns per (run, logged step) and a
    final iterate of ``final_values`` numbers per run stored as a list."""
    return TABLE_COPIES * points * runs * (columns + 2) * F64 + runs * final_values * PYFLOAT


def disk(points: int, columns: int, final_values: int = 0, save_iterates: bool = False,
         iterate_values: int = 0) -> float:
    """Disk of one run: its curves, its final iterate and, with --save-iterates, every logged one."""
    out = points * (columns + 2) * DISK_CELL + final_values * F64
    if save_iterates:
        out += points * iterate_values * F64
    return out
