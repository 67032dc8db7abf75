"""t1 (memorization), t2 (generalization) and Delta t from logged error curves.

Two rules, tried in order, and the one that fired is reported:

* ``threshold``: the first logged step whose error is <= the threshold.
* ``plateau``: used when the threshold is never reached (a penalty that biases the fit can leave
  the error just above it, e.g. at O(alpha beta)).  Two modes:

  - ``first`` (default): the first logged step t from which the error stays within a factor
    ``plateau_factor`` (max/min) over every log in [t, 2t], with that whole window <= ``plateau_max``.
    It finds the *first* low plateau, so the memorization plateau of a strongly penalized run
    (train error ~3e-3 from step ~60, later 1.4e-3 once it generalizes) gives t1 ~ 60.
  - ``final`` (the authors' rule, SPEC §0): p = mean of the last ``plateau_tail`` logs; the first
    step from which ``plateau_window`` consecutive errors lie within ``plateau_tol * p`` of p,
    provided p <= ``plateau_max``.  It misreads such a t1 as the time the *final* plateau is reached.

  ``plateau_max`` is what keeps a curve that flattens at a high error (the l2-only run sits at 0.8
  forever) from counting: it has neither memorized nor generalized.
* ``never``: neither fired; the time is None.

Non-finite errors (a diverged run) are treated as +inf: they never satisfy either rule.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Detection


@dataclass(frozen=True)
class Time:
    step: int | None
    rule: str  # "threshold" | "plateau" | "never"


def _clean(err) -> np.ndarray:
    e = np.asarray(err, dtype=np.float64).copy()
    e[~np.isfinite(e)] = np.inf
    return e


def threshold_time(steps, err, threshold: float) -> int | None:
    e = _clean(err)
    hit = np.flatnonzero(e <= threshold)
    return int(np.asarray(steps)[hit[0]]) if hit.size else None


def plateau_time(steps, err, *, tol: float, window: int, tail: int, max_value: float) -> int | None:
    e = _clean(err)
    if e.size < max(window, tail):
        return None
    p = float(e[-tail:].mean())
    if not np.isfinite(p) or p > max_value:
        return None
    inside = np.abs(e - p) <= tol * p
    if window > 1:
        # run[i] = True iff inside[i : i + window] are all True
        csum = np.concatenate([[0], np.cumsum(inside)])
        run = (csum[window:] - csum[:-window]) == window
    else:
        run = inside
    hit = np.flatnonzero(run)
    return int(np.asarray(steps)[hit[0]]) if hit.size else None


def _range_table(x: np.ndarray, op) -> list[np.ndarray]:
    """Sparse table: level k holds op over x[i : i + 2**k]."""
    table = [x]
    k = 1
    while (1 << k) <= x.size:
        prev = table[-1]
        half = 1 << (k - 1)
        table.append(op(prev[:-half], prev[half:]))
        k += 1
    return table


def _range_query(table, lo: np.ndarray, hi: np.ndarray, op) -> np.ndarray:
    """op over x[lo[i] : hi[i] + 1] for every i (hi >= lo), in O(1) each."""
    length = hi - lo + 1
    k = np.floor(np.log2(length)).astype(np.int64)
    out = np.empty(lo.size)
    for level in np.unique(k):
        sel = k == level
        t = table[level]
        out[sel] = op(t[lo[sel]], t[hi[sel] - (1 << level) + 1])
    return out


def first_plateau_time(steps, err, *, factor: float, max_value: float) -> int | None:
    """First logged t >= 1 whose window [t, 2t] (fully logged) has max <= factor * min and
    max <= max_value."""
    s = np.asarray(steps, dtype=np.int64)
    e = _clean(err)
    if s.size < 2:
        return None
    lo = np.flatnonzero((s >= 1) & (2 * s <= s[-1]))
    if lo.size == 0:
        return None
    hi = np.searchsorted(s, 2 * s[lo], side="right") - 1
    mx = _range_query(_range_table(e, np.maximum), lo, hi, np.maximum)
    mn = _range_query(_range_table(e, np.minimum), lo, hi, np.minimum)
    ok = (mx <= max_value) & (mx <= factor * mn)
    hit = np.flatnonzero(ok)
    return int(s[lo[hit[0]]]) if hit.size else None


def detect_time(steps, err, threshold: float, det: Detection) -> Time:
    t = threshold_time(steps, err, threshold)
    if t is not None:
        return Time(t, "threshold")
    if det.plateau_mode == "first":
        t = first_plateau_time(steps, err, factor=det.plateau_factor, max_value=det.plateau_max)
    else:
        t = plateau_time(steps, err, tol=det.plateau_tol, window=det.plateau_window,
                         tail=det.plateau_tail, max_value=det.plateau_max)
    if t is not None:
        return Time(t, "plateau")
    return Time(None, "never")


def detect(steps, train_err, test_err, det: Detection = Detection()) -> dict:
    """Return t1, t2, delta_t (None when not reached) and which rule fired for each."""
    t1 = detect_time(steps, train_err, det.train_threshold, det)
    t2 = detect_time(steps, test_err, det.test_threshold, det)
    dt = t2.step - t1.step if (t1.step is not None and t2.step is not None) else None
    return {"t1": t1.step, "t2": t2.step, "delta_t": dt, "t1_rule": t1.rule, "t2_rule": t2.rule}
