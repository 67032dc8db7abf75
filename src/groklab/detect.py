"""t1 (memorization), t2 (generalization) and Delta t from logged error curves.

Two rules, tried in order, and the one that fired is reported:

* ``threshold``: the first logged step whose error is <= the threshold.
* ``plateau``: used when the threshold is never reached (a penalty that biases the fit can leave
  the error just above it, e.g. at O(alpha beta)).  Two modes:

  - ``first`` (default): the first logged step t from which the error stays within a factor
    ``plateau_factor`` (max/min) over every log in [t, 2t], with that whole window <= ``plateau_max``
    and the error no longer falling there: the least-squares slope of log error on log step over
    the window lies within +-``plateau_slope``.  (Without the slope test an error still falling
    towards its floor, e.g. by 0.7x per doubling of t, passes the factor test long before it
    stops.)  It finds the *first* low plateau, so the memorization plateau of a strongly
    penalized run (train error ~3.3e-3 from step ~70, later 1.4e-3 once it generalizes) gives
    t1 ~ 65.
  - ``final`` (the authors' rule): p = mean of the last ``plateau_tail`` logs; the first
    step from which ``plateau_window`` consecutive errors lie within ``plateau_tol * p`` of p,
    provided p <= ``plateau_max``.  It misreads such a t1 as the time the *final* plateau is reached.

  ``plateau_max`` is what keeps a curve that flattens at a high error (the l2-only run sits at 0.8
  forever) from counting: it has neither memorized nor generalized.
* ``never``: neither fired; the time is None.

Non-finite errors (a diverged run) are treated as +inf: they never satisfy either rule.
The settings are a :class:`Detection`; each family declares its own defaults (networks log
1 - accuracy, so accuracy 0.99 is an error threshold of 0.01).  docs/detection.md has the rules
with examples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fields import Checked, param


@dataclass(frozen=True)
class Detection(Checked):
    """How t1 (memorization) and t2 (generalization) are read off the logged curves.

    Not part of the run id: changing these re-reads stored curves, it never re-simulates.
    """

    train_threshold: float = param(1e-3, "t1 = first logged step with train error <= this",
                                   low=0.0, high=1e9, low_open=True)
    test_threshold: float = param(1e-3, "t2 = first logged step with test error <= this",
                                  low=0.0, high=1e9, low_open=True)
    plateau_mode: str = param(
        "first", "plateau rule (used when a threshold is never reached): 'first' = first step from "
        "which the error stays within --plateau-factor of its value until twice that step; "
        "'final' = authors' rule, first step with --plateau-window consecutive logs within "
        "--plateau-tol of the final plateau", choices=("first", "final"))
    plateau_factor: float = param(2.0, "'first' plateau rule: allowed max/min ratio over [t, 2t]",
                                  low=1.0, high=1e6, low_open=True)
    plateau_slope: float = param(
        0.1, "'first' plateau rule: the error must have stopped falling over [t, 2t], i.e. the "
        "least-squares slope of log error on log step there lies within +-this (1e9 turns the "
        "test off)", low=0.0, high=1e9, low_open=True)
    plateau_tol: float = param(0.05, "'final' plateau rule: relative band around the final plateau",
                               low=0.0, high=1.0, low_open=True)
    plateau_window: int = param(2, "'final' plateau rule: consecutive logs inside the band",
                                low=1, high=10_000)
    plateau_tail: int = param(3, "'final' plateau rule: the plateau is the mean of this many last "
                              "logs", low=1, high=10_000)
    plateau_max: float = param(
        0.05, "plateau rule fires only if the plateau error is <= this (a high plateau is no "
        "memorization/generalization)", low=0.0, high=1e9, low_open=True)


@dataclass(frozen=True)
class Time:
    step: int | None
    rule: str  # "threshold" | "plateau" | "never"


# Every rule works column-wise on a (T, R) array of R curves sharing their logged steps, so a
# batch of runs is detected in a handful of numpy calls (a sweep's bookkeeping stays small next to
# its simulation).  The 1-D functions below are thin wrappers.

def _clean(err) -> np.ndarray:
    e = np.array(err, dtype=np.float64)
    e[~np.isfinite(e)] = np.inf
    return e


def _first_true(mask: np.ndarray) -> np.ndarray:
    """Index of the first True of each column, -1 where there is none."""
    if mask.shape[0] == 0:
        return np.full(mask.shape[1:], -1, dtype=np.int64)
    idx = mask.argmax(axis=0)
    return np.where(mask.any(axis=0), idx, -1)


def threshold_index(err: np.ndarray, threshold: float) -> np.ndarray:
    return _first_true(_clean(err) <= threshold)


def plateau_index(err: np.ndarray, *, tol: float, window: int, tail: int,
                  max_value: float) -> np.ndarray:
    """The authors' rule, per column (see module docstring)."""
    e = _clean(err)
    T = e.shape[0]
    if T < max(window, tail):
        return np.full(e.shape[1:], -1, dtype=np.int64)
    p = e[-tail:].mean(axis=0)
    valid = np.isfinite(p) & (p <= max_value)
    with np.errstate(invalid="ignore"):
        inside = np.abs(e - p) <= tol * p
    if window > 1:
        # run[i] = True iff inside[i : i + window] are all True
        csum = np.concatenate([np.zeros((1, *e.shape[1:]), dtype=np.int64),
                               np.cumsum(inside, axis=0)])
        run = (csum[window:] - csum[:-window]) == window
    else:
        run = inside
    idx = _first_true(run)
    return np.where(valid, idx, -1)


def _range_table(x: np.ndarray, op, longest: int | None = None) -> list[np.ndarray]:
    """Sparse table along axis 0: level k holds op over x[i : i + 2**k], for the levels a window
    of up to ``longest`` rows needs (all of x's by default)."""
    table = [x]
    k = 1
    top = x.shape[0] if longest is None else min(int(longest), x.shape[0])
    while (1 << k) <= top:
        prev = table[-1]
        half = 1 << (k - 1)
        table.append(op(prev[:-half], prev[half:]))
        k += 1
    return table


def _range_query(table, lo: np.ndarray, hi: np.ndarray, op) -> np.ndarray:
    """op over x[lo[i] : hi[i] + 1] for every i (hi >= lo), in O(1) each: (len(lo), ...)."""
    length = hi - lo + 1
    k = np.floor(np.log2(length)).astype(np.int64)
    out = np.empty((lo.size, *table[0].shape[1:]))
    for level in np.unique(k):
        sel = k == level
        t = table[level]
        out[sel] = op(t[lo[sel]], t[hi[sel] - (1 << level) + 1])
    return out


def window_log_slopes(steps, err: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Least-squares slope of log err on log step over the logs lo[i] .. hi[i] (hi > lo, steps
    >= 1), for every column: (len(lo), R).  Prefix sums make every window O(1); a non-finite or
    non-positive error gives a meaningless slope for the windows holding it (the callers reject
    those windows on their maximum anyway)."""
    s = np.asarray(steps, dtype=np.float64)
    e = _clean(err)
    return _log_slopes(s, e, lo, hi)


def _log_slopes(s: np.ndarray, e: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """window_log_slopes on float steps ``s`` and an already cleaned ``e`` (T, R)."""
    # centre log t on the run's middle so the sums cancel little (x in a few units of ln 2)
    x = np.log(np.maximum(s, 1.0))
    x = (x - x[lo].mean())[:, None]  # (T, 1)
    with np.errstate(divide="ignore"):
        y = np.log(e)  # (T, R)
    y = np.where(np.isfinite(y), y, 0.0)

    def cum(a):  # prefix sums with a leading zero row: sum over [i, j] = c[j + 1] - c[i]
        return np.concatenate([np.zeros((1, *a.shape[1:])), np.cumsum(a, axis=0)])

    def window_sum(a):  # sum over every window [lo, hi], from one prefix sum
        c = cum(a)
        return c[hi + 1] - c[lo]

    n = (hi - lo + 1).astype(np.float64)[:, None]
    sx, sxx = window_sum(x), window_sum(x * x)
    sy, sxy = window_sum(y), window_sum(x * y)
    den = n * sxx - sx * sx  # (W, 1): > 0 for two or more distinct steps
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, (n * sxy - sx * sy) / den, np.inf)


def first_plateau_index(steps, err: np.ndarray, *, factor: float, max_value: float,
                        slope: float = np.inf) -> np.ndarray:
    """First logged t >= 1 whose window [t, 2t] (fully logged) has max <= factor * min,
    max <= max_value and |log-log slope| <= slope, per column; an index into ``steps`` or -1."""
    s = np.asarray(steps, dtype=np.int64)
    e = _clean(err)
    none = np.full(e.shape[1:], -1, dtype=np.int64)
    if s.size < 2:
        return none
    lo = np.flatnonzero((s >= 1) & (2 * s <= s[-1]))
    if lo.size == 0:
        return none
    hi = np.searchsorted(s, 2 * s[lo], side="right") - 1
    longest = int((hi - lo).max()) + 1
    mx = _range_query(_range_table(e, np.maximum, longest), lo, hi, np.maximum)
    mn = _range_query(_range_table(e, np.minimum, longest), lo, hi, np.minimum)
    ok = (mx <= max_value) & (mx <= factor * mn)
    if np.isfinite(slope):
        ok &= np.abs(_log_slopes(s.astype(np.float64), e, lo, hi)) <= slope
    first = _first_true(ok)
    return np.where(first >= 0, lo[np.maximum(first, 0)], -1)


def detect_times(steps, err: np.ndarray, threshold: float, det: Detection) -> list[Time]:
    """Threshold rule, then the plateau rule, for every column of ``err`` (T, R)."""
    s = np.asarray(steps, dtype=np.int64)
    e = _clean(err)
    idx = threshold_index(e, threshold)
    rule = np.where(idx >= 0, "threshold", "never").astype(object)
    todo = idx < 0
    if todo.any():
        sub = e[:, todo]
        if det.plateau_mode == "first":
            pidx = first_plateau_index(s, sub, factor=det.plateau_factor, max_value=det.plateau_max,
                                       slope=det.plateau_slope)
        else:
            pidx = plateau_index(sub, tol=det.plateau_tol, window=det.plateau_window,
                                 tail=det.plateau_tail, max_value=det.plateau_max)
        idx[todo] = pidx
        rule[np.flatnonzero(todo)[pidx >= 0]] = "plateau"
    return [Time(int(s[i]) if i >= 0 else None, r) for i, r in zip(idx, rule)]


def detect_many(steps, train_err: np.ndarray, test_err: np.ndarray,
                det: Detection = Detection()) -> list[dict]:
    """t1, t2, delta_t (None when not reached) and the rules that fired, for R curves (T, R)."""
    t1s = detect_times(steps, train_err, det.train_threshold, det)
    t2s = detect_times(steps, test_err, det.test_threshold, det)
    out = []
    for t1, t2 in zip(t1s, t2s):
        dt = t2.step - t1.step if (t1.step is not None and t2.step is not None) else None
        out.append({"t1": t1.step, "t2": t2.step, "delta_t": dt, "t1_rule": t1.rule,
                    "t2_rule": t2.rule})
    return out


# ---- one curve ----------------------------------------------------------------------------------
def _col(err) -> np.ndarray:
    return np.asarray(err, dtype=np.float64).reshape(-1, 1)


def _step(steps, idx) -> int | None:
    i = int(idx[0])
    return int(np.asarray(steps)[i]) if i >= 0 else None


def threshold_time(steps, err, threshold: float) -> int | None:
    return _step(steps, threshold_index(_col(err), threshold))


def plateau_time(steps, err, *, tol: float, window: int, tail: int, max_value: float) -> int | None:
    return _step(steps, plateau_index(_col(err), tol=tol, window=window, tail=tail,
                                      max_value=max_value))


def first_plateau_time(steps, err, *, factor: float, max_value: float,
                       slope: float = np.inf) -> int | None:
    return _step(steps, first_plateau_index(steps, _col(err), factor=factor, max_value=max_value,
                                            slope=slope))


def detect_time(steps, err, threshold: float, det: Detection) -> Time:
    return detect_times(steps, _col(err), threshold, det)[0]


def detect(steps, train_err, test_err, det: Detection = Detection()) -> dict:
    """Return t1, t2, delta_t (None when not reached) and which rule fired for each."""
    return detect_many(steps, _col(train_err), _col(test_err), det)[0]
