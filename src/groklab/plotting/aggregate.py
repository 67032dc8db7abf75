"""``groklab plot OUT --aggregate FIELD``: medians over FIELD (e.g. seed) with interval bands.

Four panels, t1, t2, Delta t and the final test error, against the varying config field with the
most values (after FIELD), one line per value of the next one (further fields: one row of panels
per combination, at most 6).  Each point is the median of a group
(:func:`groklab.stats.aggregate`), the band its 95% bootstrap interval.  A median that is not
finite (most of the group never got there by the horizon) is drawn hollow at the horizon; an
interval end that is infinite runs to the horizon.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..fields import ConfigError
from ..stats import aggregate, group_keys
from .common import (CENSORED, LOG_FIELDS, accuracy_columns, fixed_text, is_numeric, label,
                     metric_axis, new_figure, palette, save, scale_axis, short)

PANELS = (("t1", "t1 (memorization)"), ("t2", "t2 (generalization)"),
          ("delta_t", "Δt = t2 − t1"), ("final_test_error", "final test error"))


def _order(agg: pd.DataFrame, keys: list[str]) -> list[str]:
    return sorted(keys, key=lambda f: -agg[f].astype(str).nunique())


def _band(ax, xs, med, lo, hi, horizon, color, lbl) -> bool:
    """Median line with filled markers, its interval as a band; hollow markers at the horizon
    where the median is +inf (most runs never got there).  Returns True if something was drawn at the horizon."""
    o = np.argsort(xs)
    xs, med, lo, hi, horizon = xs[o], med[o], lo[o], hi[o], horizon[o]
    ok = np.isfinite(med)
    ax.plot(xs[ok], med[ok], marker="o", color=color, label=lbl, ms=5, lw=1.3)
    top = np.where(np.isfinite(hi), hi, horizon)
    band = np.isfinite(lo) & np.isfinite(top)
    if band.any():
        ax.fill_between(xs[band], lo[band], top[band], color=color, alpha=0.2, lw=0)
    never = np.isposinf(med)  # NaN (e.g. a delay without a t1) draws nothing
    if never.any():
        ax.plot(xs[never], horizon[never], marker="o", mfc="none", mec=color, ls="none", ms=7)
    return bool(never.any())


def plot_aggregate(res, path, field: str) -> Path:
    runs = res.runs
    if runs is None or runs.empty:
        raise ValueError("no runs to plot")
    agg = aggregate(runs, field)
    keys = [k for k in group_keys(runs, field) if k not in LOG_FIELDS]
    if not keys:
        raise ConfigError("aggregate", f"nothing varies but {field!r}: no axis to plot the "
                          "medians against (report --aggregate prints them)")
    order = _order(agg, keys)
    x, hue, rest = order[0], (order[1] if len(order) > 1 else None), order[2:]
    facets = [()] if not rest else list(agg[rest].astype(str).drop_duplicates().itertuples(
        index=False))
    shown = facets[:6]
    horizon = runs.groupby(keys)["steps"].max().rename("horizon").reset_index() \
        if "steps" in runs.columns else None
    if horizon is not None:
        agg = agg.merge(horizon, on=keys, how="left")
    acc = accuracy_columns(runs) is not None  # errors are 1 - accuracy: draw the accuracy
    panels = PANELS[:3] + ((("final_test_error", "final test accuracy"),) if acc else PANELS[3:])
    fig, axes = new_figure(len(shown), 4, 4.3, 3.3)
    numeric = is_numeric(agg[x])
    cats = {v: i for i, v in enumerate(sorted(agg[x].unique(), key=str))}
    for row, fac in zip(axes, shown):
        sel = np.ones(len(agg), bool)
        for f, v in zip(rest, fac):
            sel &= (agg[f].astype(str) == v).to_numpy()
        g_all = agg[sel]
        hues = sorted(g_all[hue].unique()) if hue else [None]
        hollow = False
        for hv, col in zip(hues, palette(len(hues))):
            g = g_all if hue is None else g_all[g_all[hue] == hv]
            xs = g[x].to_numpy(float) if numeric else np.array([cats[v] for v in g[x]], float)
            hz = g["horizon"].to_numpy(float) if "horizon" in g else np.full(len(g), np.nan)
            for ax, (c, name) in zip(row, panels):
                if c not in g:
                    continue
                h = hz if c != "final_test_error" else np.full(len(g), np.nan)
                med, lo, hi = (g[k].to_numpy(float) for k in (c, f"{c}_low", f"{c}_high"))
                if name == "final test accuracy":  # 1 - x is monotone: medians and ends map
                    med, lo, hi = 1 - med, 1 - hi, 1 - lo
                hollow |= _band(ax, xs, med, lo, hi, h, col, label(hue, hv) if hue else None)
        for ax, (_, name) in zip(row, panels):
            metric_axis(ax, "accuracy" if name == "final test accuracy" else "log")
            ax.set_ylabel(name)
            ax.grid(True, which="major", alpha=0.3)
            if numeric:
                scale_axis(ax, agg[x].to_numpy(), x)
            else:
                ax.set_xticks(list(cats.values()), [str(k) for k in cats])
                ax.set_xlabel(x)
        h, l_ = row[3].get_legend_handles_labels()
        extra = [CENSORED] if hollow else []
        row[3].legend(h + extra, l_ + ["median never reached: hollow, at the horizon"] * hollow,
                      fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
        if rest:
            row[0].set_title(", ".join(f"{short(f)}={v}" for f, v in zip(rest, fac)), fontsize=9,
                             loc="left")
    n = int(agg["n"].median()) if len(agg) else 0
    head = (f"median over {short(field)} (about {n} runs per point) with its 95% bootstrap "
            f"interval, {len(agg)} groups over " + " × ".join(short(f) for f in order))
    if len(facets) > len(shown):
        head += f" (first {len(shown)} of {len(facets)} combinations shown)"
    fig.suptitle(head + "\n" + fixed_text(runs, skip=(field,),
                                          width=min(120, int(fig.get_figwidth() * 13))),
                 fontsize=9)
    return save(fig, path)
