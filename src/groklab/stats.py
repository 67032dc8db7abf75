"""Statistics over a results table: which runs a power-law fit keeps (and which it must treat as
censored), and medians with intervals over an aggregated field (``--aggregate seed``).

numpy / pandas / scipy only (``report`` and ``plot`` use this, and must not import torch).
docs/statistics.md describes the methods.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import family as registry
from .fields import ConfigError
from .theory_fit import CensoredFit, fit_power_law, fit_power_law_censored

#: a run not detected by the horizon counts as censored (it may still generalize) only while its
#: test error is still falling there: log-log slope over [H/2, H] below minus this (the default
#: plateau_slope: the plateau rule's own notion of "stopped falling")
FALLING_SLOPE = 0.1


def penalty_fields(runs) -> list[str]:
    """The penalty strengths the families of ``runs`` declare, in their order of preference
    (every registered family's when the table does not say which family it holds)."""
    out: list[str] = []
    for fam in registry.families_of(runs) or registry.all_families():
        out += [b for b in fam.penalties if b not in out]
    return out


def fit_beta(runs) -> str:
    """beta of a fit against lr * beta: the first penalty of the families that is swept > 0."""
    candidates = penalty_fields(runs)
    beta = next((b for b in candidates if b in runs.columns and (runs[b] > 0).any()), None)
    if beta is None or "lr" not in runs.columns:
        raise ConfigError("fit", "needs runs with lr and a positive penalty (one of "
                          f"{', '.join(candidates) or 'the family penalties'})")
    return beta


def tail_slopes(curves: pd.DataFrame, column: str = "test_error") -> pd.Series:
    """Per run id, the least-squares slope of log ``column`` on log step over the logs in
    [H/2, H] (H: the run's last logged step); NaN where fewer than 2 positive finite logs."""
    if curves is None or not len(curves) or column not in curves.columns:
        return pd.Series(dtype=float)
    out = {}
    for rid, g in curves[["run_id", "step", column]].groupby("run_id", sort=False,
                                                            observed=True):
        s = g["step"].to_numpy(float)
        e = g[column].to_numpy(float)
        keep = (s >= s.max() / 2) & (s > 0) & np.isfinite(e) & (e > 0)
        if keep.sum() < 2 or np.ptp(s[keep]) == 0:
            out[rid] = math.nan
            continue
        x, y = np.log(s[keep]), np.log(e[keep])
        out[rid] = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
    return pd.Series(out, dtype=float)


def _floats(df, col) -> np.ndarray:
    return df[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def fit_inputs(runs, curves, column: str, falling: float = FALLING_SLOPE):
    """What a fit of ``column`` (t2 or delta_t) against lr * beta sees, over the runs with
    beta > 0: (beta, x = lr * beta, time, horizon, n_failed).

    time is NaN where not detected.  A run not detected is **censored** at its horizon (the
    last step for t2; the last step minus t1 for delta_t) when its test error is still falling
    at the horizon (tail slope < -``falling``), or when its curves are not stored (nothing tells
    it from a slow run).  It is **failed** (horizon NaN: left out of both fits, counted in
    n_failed) when its error has stopped falling above the threshold: that run will not
    generalize by waiting (e.g. a penalty so strong its floor is above the threshold).  Diverged
    runs, unmeasured test curves and delta_t without a t1 are left out too (not counted)."""
    beta = fit_beta(runs)
    sel = runs[runs[beta] > 0]
    ab = (sel.lr * sel[beta]).to_numpy(float)
    t = _floats(sel, column)
    horizon = _floats(sel, "steps") if "steps" in sel.columns else np.full(len(sel), np.nan)
    if column == "delta_t":
        horizon = horizon - (_floats(sel, "t1") if "t1" in sel.columns else np.nan)
    out = np.zeros(len(sel), dtype=bool)
    if "status" in sel.columns:
        out |= (sel.status != "done").to_numpy()
    if "t2_rule" in sel.columns:
        out |= (sel.t2_rule == "unmeasured").to_numpy()
    t[out] = np.nan
    slope = tail_slopes(curves).reindex(sel.run_id).to_numpy(float) if "run_id" in sel.columns \
        else np.full(len(sel), np.nan)
    undetected = ~np.isfinite(t) & ~out & np.isfinite(horizon)
    failed = undetected & np.isfinite(slope) & (slope >= -falling)
    horizon[out | failed | np.isfinite(t)] = np.nan
    return beta, ab, t, horizon, int(failed.sum())


def fit_runs(runs, curves, column: str, level: float = 0.95):
    """(beta, naive, censored, n_failed): the least-squares fit over the detected runs (dict of
    :func:`groklab.theory_fit.fit_power_law`, or the ValueError saying why not) and the censored
    fit (:class:`groklab.theory_fit.CensoredFit`, or the ValueError) of ``column`` against
    lr * beta; the claim checker's entry point."""
    beta, ab, t, horizon, n_failed = fit_inputs(runs, curves, column)
    try:
        naive: dict | ValueError = fit_power_law(ab, t, level=level)
    except ValueError as e:
        naive = e
    try:
        cens: CensoredFit | ValueError = fit_power_law_censored(ab, t, horizon, level=level)
    except ValueError as e:
        cens = e
    return beta, naive, cens, n_failed


def fit_text(runs, curves, column: str) -> list[str]:
    """The fit of ``column`` against lr * beta as text, two lines: least squares over the
    detected runs with its 95% interval, then the censored fit (or why it is not possible),
    each followed by how many runs were left out as failed.  The one wording of the fit:
    ``report --fit`` prints these lines and ``report --html`` shows them, from
    :func:`fit_runs` on the same runs and curves (without ``curves`` every run not detected
    counts as censored: pass them whenever they are stored).  ConfigError when no fit is
    possible."""
    beta, naive, cens, n_failed = fit_runs(runs, curves, column)
    if isinstance(naive, ValueError):
        raise ConfigError("fit", f"{column}: {naive}")
    n_sel = int((runs[beta] > 0).sum())
    left = n_sel - naive["n"]
    line = (f"{column} ~ (lr*{beta})^k: k = {naive['exponent']:.4g}, 95% CI "
            f"[{naive['exponent_low']:.4g}, {naive['exponent_high']:.4g}], prefactor "
            f"{naive['prefactor']:.4g}, n = {naive['n']} runs ({left} of {n_sel} with {beta} > 0 "
            f"left out: not detected); paper: k = -1")
    failed = (f"; {n_failed} left out as failed (not detected, error no longer falling at the "
              "horizon)") if n_failed else ""
    if isinstance(cens, ValueError):
        return [line, f"censored fit: not possible ({cens}){failed}"]
    return [line, "censored fit (runs not detected by the horizon kept as censored): "
            f"{cens.text()}{failed}"]


# ---- --aggregate FIELD ------------------------------------------------------------------------
#: the numbers summarized per group: times (null = not detected) and final errors
AGG_COLUMNS = ("t1", "t2", "delta_t", "final_train_error", "final_test_error")


def median_interval(values, level: float = 0.95, n_boot: int = 2000, seed: int = 0):
    """(median, low, high) of ``values`` (NaN ignored; +inf allowed: a time not reached by the
    horizon is larger than every detected one, so it still has a rank): the percentile bootstrap
    interval of the median at ``level`` from ``n_boot`` resamples drawn with numpy's
    default_rng(``seed``), so the same values give the same interval.  Quantiles are order
    statistics (no interpolation, which inf would turn into NaN).  One value: (v, v, v); none:
    NaNs."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    med = float(np.quantile(v, 0.5, method="inverted_cdf")) if v.size % 2 else \
        float(np.mean(np.sort(v)[v.size // 2 - 1: v.size // 2 + 1]))
    if v.size == 1:
        return med, med, med
    rng = np.random.default_rng(seed)
    # (n_boot, n) resamples -> their medians, the lower middle order statistic of each
    boot = np.sort(v[rng.integers(0, v.size, size=(n_boot, v.size))], axis=1)[:, (v.size - 1) // 2]
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return med, float(lo), float(hi)


def times_for_ranking(df: pd.DataFrame, column: str) -> np.ndarray:
    """``column`` as floats, with a time not detected by the horizon as +inf (it ranks above
    every detected one) -- except delta_t without a t1 (never memorized: no delay), and every
    final error, which stay NaN when missing."""
    v = _floats(df, column)
    if column in ("t1", "t2", "delta_t"):
        miss = np.isnan(v)
        if column == "delta_t" and "t1" in df.columns:
            miss &= ~np.isnan(_floats(df, "t1"))
        rule = {"t1": "t1_rule", "t2": "t2_rule", "delta_t": "t2_rule"}[column]
        if rule in df.columns:
            miss &= (df[rule] == "never").to_numpy()
        v[miss] = math.inf
    return v


def aggregate(runs: pd.DataFrame, field: str, columns=AGG_COLUMNS, level: float = 0.95,
              n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Group the runs over ``field`` (e.g. seed): one row per combination of the other config
    fields that vary, with n (runs), and per column its median and interval (``COL_low``,
    ``COL_high``; :func:`median_interval`) and ``COL_n`` (runs where it is finite: for a time,
    how many detected it).  A time not detected is +inf in the ranking, so a median of inf
    means most runs of the group did not get there by the horizon.  Only finished runs (status
    done) enter."""
    if field not in runs.columns:
        raise ConfigError("aggregate", f"{field!r} is not a column of the runs table")
    keys = group_keys(runs, field)
    cols = [c for c in columns if c in runs.columns]
    done = runs if "status" not in runs.columns else runs[runs.status == "done"]
    rows = []
    groups = done.groupby(keys, sort=True, dropna=False) if keys else [((), done)]
    for key, g in groups:
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row["n"] = len(g)
        for c in cols:
            v = times_for_ranking(g, c)
            med, lo, hi = median_interval(v, level, n_boot, seed)
            row.update({c: med, f"{c}_low": lo, f"{c}_high": hi,
                        f"{c}_n": int(np.isfinite(v).sum())})
        rows.append(row)
    return pd.DataFrame(rows)


def group_keys(runs, field: str) -> list[str]:
    """The config fields other than ``field`` that vary across ``runs`` (the groups)."""
    keys = []
    for name in registry.config_fields(runs):
        if name == field or name not in runs.columns:
            continue
        try:
            if runs[name].astype(str).nunique() > 1:
                keys.append(name)
        except TypeError:
            continue
    return keys
