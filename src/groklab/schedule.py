"""Logging schedules: which steps get their metrics recorded.

Dense early (every step below ``dense_until``), then either every ``every`` steps (linear) or
``every`` points per decade (log).  Step 0 is the initialization; the last step is always logged.
"""
from __future__ import annotations

import numpy as np


def log_steps(steps: int, every: int = 1000, dense_until: int = 1000, spacing: str = "linear") -> np.ndarray:
    dense = np.arange(0, min(dense_until, steps + 1), dtype=np.int64)
    start = max(dense_until, 1)
    if spacing == "linear":
        first = ((start + every - 1) // every) * every
        tail = np.arange(first, steps + 1, every, dtype=np.int64)
    elif spacing == "log":
        lo, hi = np.log10(start), np.log10(max(steps, start))
        n_pts = max(int(np.ceil((hi - lo) * every)) + 1, 2)
        tail = np.unique(np.round(np.logspace(lo, hi, n_pts)).astype(np.int64))
    else:
        raise ValueError(spacing)
    out = np.unique(np.concatenate([dense, tail, [0, steps]]))
    return out[out <= steps]
