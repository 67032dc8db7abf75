"""Logging schedule: which steps get their metrics recorded.

Dense early (every step below ``dense_until``), then either every ``every`` steps (linear) or
``every`` points per decade (log).  Step 0 is the initialization; the last step is always logged.

:func:`schedule_length` counts the points without making them, so that a schedule too long to
hold (``--steps 1e12`` logged every 1000 steps is 1e9 points, 8 GB before any metric) is refused
before anything is allocated (:mod:`groklab.preflight`); :func:`log_steps` itself refuses more than
``MAX_POINTS`` points.
"""
from __future__ import annotations

import math

import numpy as np

#: the most log points one run may have (each costs a row of every metric, per run)
MAX_POINTS = 10 ** 7


def _log_points(steps: int, every: int, dense_until: int) -> tuple[float, float, int]:
    start = max(dense_until, 1)
    lo, hi = math.log10(start), math.log10(max(steps, start))
    return lo, hi, max(int(math.ceil((hi - lo) * every)) + 1, 2)


def schedule_length(steps: int, every: int = 1000, dense_until: int = 1000,
                    spacing: str = "linear") -> int:
    """len(log_steps(...)), computed without the array: exact for linear spacing, exact for log
    spacing up to MAX_POINTS and an upper bound above."""
    dense = min(dense_until, steps + 1)
    start = max(dense_until, 1)
    zero = 0 if dense_until >= 1 else 1  # step 0 when the dense phase is empty
    if spacing == "linear":
        first = -(-start // every) * every
        tail = (steps - first) // every + 1 if first <= steps else 0
        last_in = steps < dense_until or (tail > 0 and (steps - first) % every == 0)
        return dense + tail + zero + (0 if last_in else 1)
    if spacing != "log":
        raise ValueError(spacing)
    n_pts = _log_points(steps, every, dense_until)[2]
    bound = dense + min(n_pts, max(steps - start + 1, 0)) + 2
    if bound <= MAX_POINTS:
        return len(log_steps(steps, every, dense_until, spacing))
    return bound


def log_steps(steps: int, every: int = 1000, dense_until: int = 1000, spacing: str = "linear") -> np.ndarray:
    if spacing == "linear":
        n = schedule_length(steps, every, dense_until, spacing)
        if n > MAX_POINTS:
            raise ValueError(f"{n} log points (steps {steps}, every {every}): at most {MAX_POINTS}")
        dense = np.arange(0, min(dense_until, steps + 1), dtype=np.int64)
        start = max(dense_until, 1)
        first = ((start + every - 1) // every) * every
        tail = np.arange(first, steps + 1, every, dtype=np.int64)
        # the pieces are sorted and disjoint (tail >= dense_until): no sort, no copy beyond one
        parts = [dense, tail]
        if dense_until < 1:
            parts.insert(0, np.zeros(1, dtype=np.int64))
        out = np.concatenate(parts)
        if out[-1] != steps:
            out = np.append(out, np.int64(steps))
        return out
    if spacing != "log":
        raise ValueError(spacing)
    lo, hi, n_pts = _log_points(steps, every, dense_until)
    dense_n = min(dense_until, steps + 1)
    if dense_n + min(n_pts, max(steps - max(dense_until, 1) + 1, 0)) + 2 > MAX_POINTS:
        raise ValueError(f"more than {MAX_POINTS} log points (steps {steps}, {every} per decade "
                         f"after {dense_until})")
    dense = np.arange(0, dense_n, dtype=np.int64)
    tail = np.unique(np.round(np.logspace(lo, hi, n_pts)).astype(np.int64))
    out = np.unique(np.concatenate([dense, tail, [0, steps]]))
    return out[out <= steps]
