"""What the network families' claims (modular MLP and transformer, teacher-student) measure
from a sweep, shared so the two families read "it groks", "still moving" and "a smaller alpha
beta, a longer delay" the same way (their claims modules: ``families/*/claims.py``).

* A run **groks** when it memorizes while its test metric is still far from generalized (the
  *quiet* test at t1: test accuracy at most ``quiet_accuracy``, or a relative test error at
  least ``quiet_error``) and generalizes at t2 >= ``ratio`` x t1.  A run that learns while it
  memorizes (a test accuracy of 0.6-0.9 at t1, as the modular transformer) does not grok,
  however late it reaches the threshold -- and no horizon can change that.
* A run is **still moving** at the horizon when it has not generalized and one of its test
  curves (the detector's test error, or the test loss) still falls there: log-log slope over
  the second half of its steps below -``groklab.stats.FALLING_SLOPE`` (the censoring rule of
  ``groklab.stats``).  A verdict such a run could still turn is inconclusive (horizon).
* The **delay ranking**: Spearman's rank correlation of alpha beta with t2, a run not detected
  by the horizon ranked above every detected one (``never_as_inf``).  Runs not detected tie.
  Those still moving may be detected later, in an order nobody knows yet, so the correlation is
  also computed for the two extreme orders of those runs (all of them later than every detected
  run, before the ones that stopped): the claim is decided when both bounds fall on the same
  side of the rule's bound.  A run that stopped above the threshold stays last, tied.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...claims import measures as M
from ...claims.record import TOO_FEW, Inconclusive
from ...stats import FALLING_SLOPE, tail_slopes


def still_moving(curves: pd.DataFrame, run_ids, columns=("test_error",)) -> np.ndarray:
    """(len(run_ids),) bool: any of ``columns`` still falling at the horizon (see the module
    docstring); a column not logged, or too few logs, says nothing."""
    ids = list(run_ids)
    out = np.zeros(len(ids), dtype=bool)
    for col in columns:
        if curves is None or col not in curves.columns:
            continue
        sub = curves[curves.run_id.isin(ids)]
        slope = tail_slopes(sub, col).reindex(ids).to_numpy(float)
        out |= np.isfinite(slope) & (slope < -FALLING_SLOPE)
    return out


def value_at_t1(res, row, column: str) -> float:
    """The run's ``column`` at its t1 (NaN when it never memorized)."""
    t1 = M.t_of(row, "t1")
    if not np.isfinite(t1):
        return float("nan")
    return M.value_at(M.curve(res, row.run_id), column, t1)


def grokking(res, runs: pd.DataFrame, *, ratio: float, quiet, moving_columns) -> dict:
    """Over ``runs`` (the runs a claim reads): n_runs, n_memorized (t1 detected), n_quiet
    (memorized with the test metric still far from generalized: ``quiet(res, row) -> bool``),
    n_grokked (quiet and t2 >= ``ratio`` t1), max_t2_over_t1 over the quiet runs that
    generalized (0.0 when none did: no delayed generalization was seen), and n_moving (quiet runs
    that have not generalized and are still moving at the horizon: they could still grok)."""
    if runs.empty:
        raise Inconclusive("no run to read", kind=TOO_FEW)
    t1, t2 = M.col(runs, "t1"), M.col(runs, "t2")
    mem = np.isfinite(t1)
    qt = np.array([bool(mem[i]) and bool(quiet(res, r)) for i, (_, r) in
                   enumerate(runs.iterrows())], dtype=bool)
    gen = qt & np.isfinite(t2)
    ratios = np.where(gen, t2 / np.where(mem & (t1 > 0), t1, np.nan), np.nan)
    moving = qt & ~gen & still_moving(res.curves, runs.run_id, moving_columns)
    return {"n_runs": int(len(runs)), "n_memorized": int(mem.sum()), "n_quiet": int(qt.sum()),
            "n_grokked": int((ratios >= ratio).sum()),
            "max_t2_over_t1": float(np.nanmax(ratios)) if gen.any() else 0.0,
            "n_moving": int(moving.sum())}


def _spearman(x, y) -> float:
    return float(pd.Series(x).rank().corr(pd.Series(y).rank()))


def delay_ranking(x, t2, horizon, moving=None) -> dict:
    """Spearman(x, t2) with undetected runs at infinity, and its bounds over the two extreme
    orders in which the undetected runs still ``moving`` (bool mask; None: none) could come
    after the horizon (see the module docstring).  Keys: spearman_ab_t2, spearman_low,
    spearman_high, n_detected, n_censored, n_open (undetected and moving).  NaN correlations
    with fewer than 3 runs or nothing detected."""
    x, t2 = np.asarray(x, float), np.asarray(t2, float)
    det = np.isfinite(t2)
    mov = np.zeros(x.size, bool) if moving is None else np.asarray(moving, bool)
    out = {"n_detected": int(det.sum()), "n_censored": int((~det).sum()),
           "n_open": int((~det & mov).sum())}
    nan = float("nan")
    if x.size < 3 or not det.any() or np.ptp(x) == 0:
        return dict(out, spearman_ab_t2=nan, spearman_low=nan, spearman_high=nan)
    rho = M.spearman(x, M.never_as_inf(t2))
    later = max(float(np.max(horizon)), float(np.nanmax(t2))) + 1.0
    cens = np.flatnonzero(~det & mov)
    bounds = []
    for sign in (1.0, -1.0):  # undetected t2 rising / falling with x, all after the horizon
        t = M.never_as_inf(t2)
        order = cens[np.argsort(sign * x[cens], kind="stable")]
        t[order] = later + np.arange(order.size)
        bounds.append(_spearman(x, t))
    return dict(out, spearman_ab_t2=rho, spearman_low=min(bounds), spearman_high=max(bounds))


def ranking_open(d: dict, bound: float) -> int:
    """1 when the undetected runs, detected later, could move the correlation across ``bound``
    (its low and high bounds straddle it), else 0: the key ``settled`` reads."""
    lo, hi = d.get("spearman_low"), d.get("spearman_high")
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return 0
    return int(lo <= bound < hi)

