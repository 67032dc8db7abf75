"""Progress measures: which logged quantity moves first on the way from memorization (t1) to
generalization (t2), and how closely it tracks the test error in between.

For every run with t1 < t2 and every measure (a norm-like curve column; :func:`measure_columns`),
over the logs in [t1, t2]:

* ``move`` = m(t2) - m(t1), its total change over the window;
* ``t_half`` = the first logged step in [t1, t2] with |m(t) - m(t1)| >= ``fraction`` * |move|
  (default one half): the time the measure has made half of its move;
* ``lead`` = t2 - t_half (steps before generalization), ``lead_fraction`` = lead / (t2 - t1)
  (1: it moved right after memorizing; 0: only at t2);
* ``spearman``: the rank correlation of m with the test error over the window (+1: they fall
  together; -1: m rises monotonically while the error falls; near 0: m says nothing about it).

The test error itself is reported as a measure too: a quantity that leads it by more is a progress
measure in the sense of moving *before* the test error does.  docs/statistics.md has the
definitions with an example.  numpy / pandas only (``report`` uses this).
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

#: norm-like curve columns, by name: parameter norms (not gradient norms), ranks, Gini indices
MEASURE_PATTERN = re.compile(r"^(?!grad_).*_norm$|_rank$|gini")
REFERENCE = "test_error"


def measure_columns(curves: pd.DataFrame) -> list[str]:
    """The curve columns that are norm-like measures of the parameters (``*_norm`` except
    gradient norms, ``*_rank``, ``*gini*``), in table order, then the test error as reference."""
    cols = [c for c in curves.columns if c not in ("run_id", "step") and
            MEASURE_PATTERN.search(c) and pd.api.types.is_numeric_dtype(curves[c])
            and not pd.api.types.is_bool_dtype(curves[c])]
    return cols + ([REFERENCE] if REFERENCE in curves.columns else [])


def _ranks(v: np.ndarray) -> np.ndarray:
    return pd.Series(v).rank(method="average").to_numpy(float)


def spearman(a, b) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either is constant or
    fewer than 3 finite pairs."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return math.nan
    ra, rb = _ranks(a[ok]), _ranks(b[ok])
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt(float((ra ** 2).sum() * (rb ** 2).sum()))
    return float((ra * rb).sum() / den) if den > 0 else math.nan


def window_stats(steps, m, err, t1: int, t2: int, fraction: float = 0.5) -> dict:
    """move, t_half, lead, lead_fraction, spearman and n_logs of measure ``m`` (T,) against the
    test error ``err`` (T,) over the logs in [t1, t2] (see the module docstring)."""
    steps = np.asarray(steps)
    w = (steps >= t1) & (steps <= t2)
    s, mv, ev = steps[w], np.asarray(m, float)[w], np.asarray(err, float)[w]
    out = {"n_logs": int(w.sum()), "start": math.nan, "end": math.nan, "move": math.nan,
           "t_half": math.nan, "lead": math.nan, "lead_fraction": math.nan,
           "spearman": spearman(mv, ev)}
    if s.size < 2 or not (np.isfinite(mv[0]) and np.isfinite(mv[-1])):
        return out
    move = float(mv[-1] - mv[0])
    out.update(start=float(mv[0]), end=float(mv[-1]), move=move)
    scale = max(float(np.nanmax(np.abs(mv))), 1e-300)
    if abs(move) <= 1e-12 * scale:  # no net move: no half-way time
        return out
    reached = np.abs(mv - mv[0]) >= fraction * abs(move)  # True at the last log at least
    th = int(s[int(np.argmax(reached))])
    out.update(t_half=th, lead=t2 - th, lead_fraction=(t2 - th) / (t2 - t1))
    return out


def progress_measures(runs: pd.DataFrame, curves: pd.DataFrame, measures=None,
                      fraction: float = 0.5) -> pd.DataFrame:
    """One row per (run, measure) for the runs with both times detected and t1 < t2 and their
    curves stored: run_id, measure, t1, t2 and :func:`window_stats`.  ``measures``: the curve
    columns (default :func:`measure_columns`)."""
    cols = ["run_id", "measure", "t1", "t2", "n_logs", "start", "end", "move", "t_half",
            "lead", "lead_fraction", "spearman"]
    if curves is None or not len(curves) or REFERENCE not in curves.columns:
        return pd.DataFrame(columns=cols)
    names = list(measures) if measures is not None else measure_columns(curves)
    t1s = runs.t1.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    t2s = runs.t2.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    keep = np.isfinite(t1s) & np.isfinite(t2s) & (t2s > t1s)
    wanted = set(runs.run_id[keep])
    by_id = {rid: g.sort_values("step") for rid, g in
             curves[curves.run_id.isin(wanted)].groupby("run_id", observed=True)}
    rows = []
    for rid, t1, t2 in zip(runs.run_id[keep], t1s[keep], t2s[keep]):
        g = by_id.get(rid)
        if g is None:
            continue
        steps, err = g.step.to_numpy(), g[REFERENCE].to_numpy(float)
        for name in names:
            if name not in g.columns:
                continue
            st = window_stats(steps, g[name].to_numpy(float), err, int(t1), int(t2), fraction)
            rows.append({"run_id": rid, "measure": name, "t1": int(t1), "t2": int(t2), **st})
    return pd.DataFrame(rows, columns=cols)
