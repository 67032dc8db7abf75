"""Measurements that the claims share: times as floats, selections of runs, power-law fits of a
delay against alpha * beta, rank correlations, values of a curve at a step.

Every delay fit treats a run without a detected time as right-censored (docs/statistics.md).
The paper's delay-law claims use :func:`delay_law` (:func:`groklab.stats.fit_runs`, which reads
the curves to tell a slow run -- censored -- from a failed one, left out); :func:`delay_fit`
works from the runs table alone: every undetected run is censored at its lower bound
``horizon - t1`` (:func:`groklab.theory_fit.fit_power_law_censored`).  Both report the naive
least-squares exponent over the detected runs beside the censored one.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..stats import fit_runs
from ..theory_fit import fit_power_law_censored
from .record import Inconclusive


def col(runs: pd.DataFrame, name: str) -> np.ndarray:
    """A column as floats, NaN for missing / pd.NA ('never')."""
    if name not in runs.columns:
        raise Inconclusive(f"column {name!r} is not in the runs table")
    return runs[name].astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def done(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs.status == "done"] if "status" in runs.columns else runs


def pick(runs: pd.DataFrame, **equal) -> pd.DataFrame:
    """The runs whose fields equal the given values (floats compared to 1e-12 relative)."""
    sel = np.ones(len(runs), dtype=bool)
    for k, v in equal.items():
        if k not in runs.columns:
            raise Inconclusive(f"column {k!r} is not in the runs table")
        if isinstance(v, float):
            sel &= np.isclose(runs[k].to_numpy(float), v, rtol=1e-12, atol=0.0)
        else:
            sel &= (runs[k] == v).to_numpy()
    out = runs[sel]
    if out.empty:
        raise Inconclusive("no run with " + ", ".join(f"{k}={v}" for k, v in equal.items()))
    return out


def one(runs: pd.DataFrame, **equal) -> pd.Series:
    return pick(runs, **equal).iloc[0]


def t_of(row, name: str) -> float:
    v = row[name] if name in row.index else None
    return float("nan") if v is None or pd.isna(v) else float(v)


def delay_fit(x, t, horizon, t1=None) -> dict:
    """Power-law fit of a delay ``t`` against ``x`` (= alpha * beta) over every run: NaN ``t`` is
    right-censored at ``horizon - t1`` (its lower bound).  Returns exponent, exponent_low,
    exponent_high (the censored fit), n (runs it used, censored ones included), n_censored and
    the naive least-squares fit over the detected runs (naive_exponent, naive_low,
    naive_high); the exponent is NaN with fewer than 3 usable runs or 2 detected ones."""
    x = np.asarray(x, float)
    t = np.asarray(t, float)
    bound = np.asarray(horizon, float) - (np.nan_to_num(np.asarray(t1, float)) if t1 is not None
                                          else 0.0)
    cens = ~np.isfinite(t)
    out = {"n_runs": int(x.size), "n_censored": int(cens.sum())}
    nan = float("nan")
    try:
        fit = fit_power_law_censored(x, t, np.broadcast_to(bound, x.shape))
    except ValueError:
        return dict(out, exponent=nan, exponent_low=nan, exponent_high=nan,
                    n=int((~cens).sum()), naive_exponent=nan, naive_low=nan, naive_high=nan)
    return dict(out, exponent=fit.exponent, exponent_low=fit.ci_low, exponent_high=fit.ci_high,
                n=int(fit.n), n_censored=int(fit.n_censored), naive_exponent=fit.naive_exponent,
                naive_low=fit.naive_low, naive_high=fit.naive_high)


#: the note of every claim measured by :func:`delay_law`
DELAY_LAW_NOTE = ("fit: censored log-normal regression (groklab.stats.fit_runs): runs still "
                  "falling at the horizon are censored, runs whose error stopped above the "
                  "threshold are left out; the naive least-squares exponent is in the numbers")


def delay_law(runs: pd.DataFrame, curves: pd.DataFrame, column: str = "delta_t") -> dict:
    """The delay law with right-censoring done properly (:func:`groklab.stats.fit_runs`): a run
    not detected by the horizon counts as censored when its test error is still falling there,
    and as failed (left out) when it has stopped falling above the threshold.  Same keys as
    :func:`delay_fit`, plus ``n_failed`` and the naive fit's exponent and interval."""
    _, naive, cens, n_failed = fit_runs(runs, curves, column)
    out = {"n_runs": int(len(runs)), "n_failed": int(n_failed)}
    if not isinstance(naive, ValueError):
        out.update(naive_exponent=naive["exponent"], naive_low=naive["exponent_low"],
                   naive_high=naive["exponent_high"])
    if isinstance(cens, ValueError):
        return dict(out, exponent=float("nan"), exponent_low=float("nan"),
                    exponent_high=float("nan"), n=0, n_censored=0)
    # n counts detected delays (as in delay_fit): the claims ask for enough of them
    return dict(out, exponent=cens.exponent, exponent_low=cens.ci_low,
                exponent_high=cens.ci_high, n=int(cens.n - cens.n_censored),
                n_censored=int(cens.n_censored))


def slope(x, y) -> float:
    """Least-squares slope of log y on log x over the finite positive points (NaN if < 2)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2 or np.ptp(np.log(x[ok])) == 0:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def spearman(x, y) -> float:
    """Spearman rank correlation; ``inf`` ranks above every number (use it for 'never')."""
    s = pd.DataFrame({"x": np.asarray(x, float), "y": np.asarray(y, float)}).dropna()
    if len(s) < 3 or s.x.nunique() < 2 or s.y.nunique() < 2:
        return float("nan")
    return float(s.x.rank().corr(s.y.rank()))


def never_as_inf(t) -> np.ndarray:
    t = np.asarray(t, float)
    return np.where(np.isfinite(t), t, np.inf)


def geo_median_ratio(a, b) -> tuple[float, int]:
    """Median of a / b over the finite positive pairs, and how many there were."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    return (float(np.median(a[ok] / b[ok])) if ok.any() else float("nan")), int(ok.sum())


def curve(res, run_id: str) -> pd.DataFrame:
    c = res.curve(run_id)
    if c.empty:
        raise Inconclusive(f"no curve stored for run {run_id}")
    return c


def value_at(c: pd.DataFrame, column: str, step: float) -> float:
    """The curve's value at the last logged step <= ``step`` (NaN when none or step is NaN)."""
    if column not in c.columns:
        raise Inconclusive(f"curve column {column!r} not stored")
    if step is None or not math.isfinite(step):
        return float("nan")
    k = c[c.step <= step]
    return float(k[column].iloc[-1]) if len(k) else float("nan")


def rel_change(c: pd.DataFrame, column: str, a: float, b: float) -> float:
    """(value at b - value at a) / |value at a|."""
    va, vb = value_at(c, column, a), value_at(c, column, b)
    return (vb - va) / abs(va) if va else float("nan")


def grokked_run(row) -> dict:
    """t1, t2, their ratio and the final test error of one run (the numbers of "it groks")."""
    t1, t2 = t_of(row, "t1"), t_of(row, "t2")
    return {"t1": t1, "t2": t2, "t2_over_t1": t2 / t1 if t1 > 0 else float("nan"),
            "final_test_error": float(row.final_test_error)}


def frac(mask) -> float:
    mask = np.asarray(mask, bool)
    return float(mask.mean()) if mask.size else float("nan")


def evidence(ev, name: str):
    if name not in ev:
        raise Inconclusive(f"recipe {name!r} has no results")
    return ev[name]
