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
    iterates: np.ndarray | None  # (T, R, n) if requested
    wall_time_s: float
    #: family-specific final state for callers of the engine (e.g. a deep model's factors)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
