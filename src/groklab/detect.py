"""t1 (memorization), t2 (generalization) and Delta t from logged error curves.

Two rules, tried in order, and the one that fired is reported:

* ``threshold``: the first logged step whose error is <= the threshold.
* ``plateau``: used when the threshold is never reached (a penalty that biases the fit can leave
  the error just above it).  The plateau value p is the mean of the last ``plateau_tail`` logs; the
  rule fires at the first logged step from which ``plateau_window`` consecutive errors lie within
  ``plateau_tol * p`` of p -- but only if p <= ``plateau_max``: a curve that flattens at a high error
  (the l2-only run sits at 0.8 forever) has neither memorized nor generalized.
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


def detect_time(steps, err, threshold: float, det: Detection) -> Time:
    t = threshold_time(steps, err, threshold)
    if t is not None:
        return Time(t, "threshold")
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
