"""The neutral result every engine returns for one batch of runs.

An engine advances D data sets x B runs together and hands back their logged curves as plain
arrays; the core (:mod:`groklab.tables`) turns them into the runs / curves / iterates tables, the
detector reads t1 / t2 from ``metrics["train_error"]`` and ``metrics["test_error"]``, and nothing
downstream needs to know which family produced them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class BatchResult:
    steps: np.ndarray  # (T,) logged steps
    metrics: dict[str, np.ndarray]  # name -> (T, R) with R = D * B runs, run-major order
    final: np.ndarray  # (R, n) final parameters, flattened (the family names their columns)
    iterates: np.ndarray | None  # (T, R, n) if requested; (T', R, n) with iterate_steps
    wall_time_s: float
    #: family-specific final state for callers of the engine (e.g. a deep model's factors)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    #: (T',) the steps of ``iterates`` when the engine kept only some log points (a network's
    #: weights: :func:`iterate_log_indices`); None = every logged step
    iterate_steps: np.ndarray | None = None
    #: ((name, shape), ...) the named tensors an iterate is the flat concatenation of (row-major):
    #: the iterates table then has one row per (run, step, tensor) (docs/checkpoints.md); None =
    #: one column per coordinate (a sparse code)
    iterate_tensors: tuple[tuple[str, tuple[int, ...]], ...] | None = None


def iterate_log_indices(n_logs: int, every: int) -> np.ndarray:
    """Indices of the log points whose iterates are kept with ``--save-iterates K``: every K-th
    log point from the first (step 0), and the last one always (the final weights)."""
    keep = np.arange(0, n_logs, max(1, int(every)))
    return keep if keep[-1] == n_logs - 1 else np.append(keep, n_logs - 1)
