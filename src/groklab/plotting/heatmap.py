"""Phase diagrams: a heat map of t1, t2, Delta t, the final test error or the run class over two
swept config fields (``groklab plot OUT --x F --y F --metric M``)."""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm

from ..fields import ConfigError
from .common import config_fields, fixed_text, fmt, new_figure, save, short, varying_fields

# ---- phase diagrams ---------------------------------------------------------------------------
#: ``groklab plot OUT --x F --y F --metric M``: what a heat-map cell can show
HEATMAP_METRICS = ("t1", "t2", "delta_t", "final_test_error", "class")
#: run classes of --metric class: generalized (t2 detected), memorized only, neither (or diverged)
CLASSES = ("grokked", "fitted only", "failed")


def run_class(runs: pd.DataFrame) -> np.ndarray:
    """0 = grokked (t2 detected: the test error reached its threshold or a low plateau), 1 = fitted
    only (t1 detected, t2 never), 2 = failed (no t1 and no t2, or diverged)."""
    t2 = runs.t2.notna().to_numpy()
    t1 = runs.t1.notna().to_numpy()
    done = (runs.status == "done").to_numpy()
    return np.where(done & t2, 0, np.where(done & t1, 1, 2))


def plot_heatmap(results, path, x: str, y: str, metric: str = "delta_t") -> Path:
    """A heat map of ``metric`` over two swept config fields ``x`` (columns) and ``y`` (rows).

    Times are drawn on a log colour scale; a time never detected is a grey cell marked "never"
    (t2, delta_t: censored at the horizon), a diverged run a grey cell marked "div".  Further
    varying fields make one panel per combination (the first 6); runs that agree on x, y and the
    panel fields are averaged (geometric mean of the detected values) and the cell says how many.
    Raises ConfigError for a field that is not a config column, or an unknown metric."""
    runs = results.runs
    if runs is None or runs.empty:
        raise ValueError("no runs to plot")
    fields = config_fields(runs)
    for opt, f in (("x", x), ("y", y)):
        if f not in fields:
            raise ConfigError(opt, f"{f!r} is not a config field of these runs; one of "
                              f"{', '.join(fields)}")
    if x == y:
        raise ConfigError("y", f"{y!r} is also --x; pick two different fields")
    if metric not in HEATMAP_METRICS:
        raise ConfigError("metric", f"{metric!r} is not one of {', '.join(HEATMAP_METRICS)}")
    xs = sorted(runs[x].unique(), key=lambda v: (isinstance(v, str), v))
    ys = sorted(runs[y].unique(), key=lambda v: (isinstance(v, str), v))
    rest = [f for f in varying_fields(runs) if f not in (x, y)]
    facets = [()] if not rest else list(runs[rest].astype(str).drop_duplicates()
                                        .itertuples(index=False))
    shown = facets[:6]
    ncols = min(3, len(shown))
    fig, axes = new_figure(math.ceil(len(shown) / ncols), ncols, 1.6 + 0.55 * len(xs),
                           1.4 + 0.42 * len(ys))
    if metric == "class":
        cmap, norm = ListedColormap(["#3b8f3b", "#e8b53a", "#b03a2e"]), BoundaryNorm([0, 1, 2, 3], 3)
        values = run_class(runs).astype(float)
    else:
        col = runs[metric]
        values = col.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        values[(runs.status != "done").to_numpy()] = np.nan
        pos = values[np.isfinite(values) & (values > 0)]
        lo, hi = (pos.min(), pos.max()) if pos.size else (1.0, 10.0)
        cmap, norm = "viridis", LogNorm(vmin=lo, vmax=max(hi, lo * 1.0001))
    diverged = (runs.status != "done").to_numpy()
    mappable = None
    for ax, fac in zip(axes.flat, shown):
        sel = np.ones(len(runs), bool)
        for f, v in zip(rest, fac):
            sel &= (runs[f].astype(str) == v).to_numpy()
        grid = np.full((len(ys), len(xs)), np.nan)
        text = np.full((len(ys), len(xs)), "", dtype=object)
        for i, yv in enumerate(ys):
            for j, xv in enumerate(xs):
                m = sel & (runs[x] == xv).to_numpy() & (runs[y] == yv).to_numpy()
                if not m.any():
                    text[i, j] = "–"
                    continue
                v = values[m]
                if metric == "class":  # the most common class (ties: the better one)
                    grid[i, j] = np.bincount(v.astype(int), minlength=3).argmax()
                    text[i, j] = CLASSES[int(grid[i, j])].split()[0]
                elif np.isfinite(v).any() and (v[np.isfinite(v)] > 0).all():
                    grid[i, j] = float(np.exp(np.log(v[np.isfinite(v)]).mean()))
                    text[i, j] = f"{grid[i, j]:.2g}"
                elif np.isfinite(v).any():  # a zero time or error: no log colour
                    grid[i, j] = float(np.nanmean(v))
                    text[i, j] = f"{grid[i, j]:.2g}"
                else:
                    text[i, j] = "div" if diverged[m].all() else "never"
                if m.sum() > 1:
                    text[i, j] += f"\n(n={int(m.sum())})"
        ax.set_facecolor("0.85")  # missing / never / diverged cells
        shown_grid = np.where(grid > 0, grid, np.nan) if metric != "class" else grid
        mappable = ax.pcolormesh(np.arange(len(xs) + 1), np.arange(len(ys) + 1),
                                 np.ma.masked_invalid(shown_grid), cmap=cmap, norm=norm)
        if len(xs) * len(ys) <= 200:
            for i in range(len(ys)):
                for j in range(len(xs)):
                    ax.text(j + 0.5, i + 0.5, text[i, j], ha="center", va="center", fontsize=6.5,
                            color="k" if metric == "class" or not np.isfinite(shown_grid[i, j])
                            else "w")
        ax.set_xticks(np.arange(len(xs)) + 0.5, [fmt(v) for v in xs], fontsize=7,
                      rotation=45 if len(xs) > 6 else 0)
        ax.set_yticks(np.arange(len(ys)) + 0.5, [fmt(v) for v in ys], fontsize=7)
        ax.set_xlabel(short(x))
        ax.set_ylabel(short(y))
        if rest:
            ax.set_title(", ".join(f"{short(f)}={v}" for f, v in zip(rest, fac)), fontsize=8)
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    if metric == "class":
        cb = fig.colorbar(mappable, ax=axes, ticks=[0.5, 1.5, 2.5], shrink=0.8)
        cb.ax.set_yticklabels(list(CLASSES), fontsize=7)
    else:
        fig.colorbar(mappable, ax=axes, shrink=0.8,
                     label={"t1": "t1 (memorization step)", "t2": "t2 (generalization step)",
                            "delta_t": "Δt = t2 − t1", "final_test_error": "final test error"}[metric])
    head = f"{metric} over {short(x)} × {short(y)} ({len(runs)} runs)"
    if metric != "class":
        head += "; grey: never detected (censored) or div(erged)"
    else:
        head += "; grokked = t2 detected, fitted only = t1 only, failed = neither or diverged"
    if len(facets) > len(shown):
        head += f" (first {len(shown)} of {len(facets)} panels)"
    width = min(120, int(fig.get_figwidth() * 13))
    fig.suptitle("\n".join(textwrap.wrap(head, width)) + "\n" + fixed_text(runs, skip=(x, y),
                                                                          width=width), fontsize=8)
    return save(fig, path)
