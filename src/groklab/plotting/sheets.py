"""Every run's curves, small: *sheets* of at most 8 x 8 cells, one cell per run, for the page of
``groklab report --html`` (a sweep summary shows the trends; the sheets let the reader look at
any single run).

Layout: the varying field with the most values runs across a row (the summary's x axis,
:func:`groklab.plotting.common.axis_order`); every combination of the other varying fields gets
its own row(s), labelled with those values, sorted with the field of the fewest values
outermost; a row holds at most 8 cells and wraps.  A sheet holds at most 8 rows.  Each cell
draws the train (dashed) and test (solid) curve of one run against the step, log-log for errors
(accuracy on a linear [0, 1] axis for a family that declares its accuracy columns), on scales
shared by every sheet of the page, with t1 and t2 as ticks under the curves; a run that did not
finish has a red frame.

One ``Axes`` per sheet, cells placed by hand, and one collection per kind of line: matplotlib
pays per artist, so 64 ``Axes`` a sheet would make a 1024-run page take minutes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from .common import (FLOOR, accuracy_columns, axis_order, fmt, label, save, short,
                     time_or_none)

COLS = 8  # cells per row
ROWS = 8  # rows per sheet
CELL_W, CELL_H, HEAD_H = 1.45, 1.0, 0.22  # inches: a cell, and the label strip above a row
POINTS = 300  # points kept per curve (a cell is ~130 pixels wide)
DPI = 90


@dataclass
class Sheet:
    """One picture: rows of (row label, the runs of its cells in order)."""

    rows: list[tuple[str, pd.DataFrame]]
    x: str | None  # the field across a row (None: nothing varies)

    @property
    def run_ids(self) -> list[str]:
        return [str(r) for _, g in self.rows for r in g.run_id]

    def caption(self) -> str:
        first, last = self.rows[0][0], self.rows[-1][0]
        span = first if first == last else f"{first} … {last}"
        across = f"; across: {short(self.x)}" if self.x else ""
        return f"{len(self.run_ids)} runs: {span}{across}" if span else \
            f"{len(self.run_ids)} runs{across}"


def sheet_layout(runs: pd.DataFrame, cols: int = COLS, rows: int = ROWS) -> list[Sheet]:
    """Every run of ``runs`` in exactly one cell of one sheet (module doc)."""
    order = axis_order(runs)
    # the outermost grouping is the field with the fewest values: a sheet tends to hold one
    # value of it, its rows walk the next field
    x, rest = (order[0], order[1:][::-1]) if order else (None, [])
    lines: list[tuple[str, pd.DataFrame]] = []
    groups = runs.groupby(rest, sort=True, dropna=False) if rest else [((), runs)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        name = ", ".join(label(f, v) for f, v in zip(rest, key))
        g = g.sort_values(x, kind="stable") if x else g
        for start in range(0, len(g), cols):
            lines.append((name, g.iloc[start:start + cols]))
    return [Sheet(lines[i:i + rows], x) for i in range(0, len(lines), rows)]


@dataclass(frozen=True)
class Scales:
    """The shared cell scales: log10 step from 0 to ``x1``; the curve value (log10 error, or
    accuracy) from ``y0`` to ``y1``."""

    x1: float
    y0: float
    y1: float
    accuracy: tuple[str, str] | None

    def text(self) -> str:
        steps = f"step 1 to {fmt(int(round(10 ** self.x1)))} (log) across"
        if self.accuracy:
            return f"each cell: {steps}; accuracy 0 to 1 up"
        return f"each cell: {steps}; error {10 ** self.y0:.0e} to {10 ** self.y1:.0e} (log) up"


def scales(runs: pd.DataFrame, curves: pd.DataFrame) -> Scales:
    acc = accuracy_columns(runs)
    steps = curves.step.to_numpy(float) if len(curves) else np.array([10.0])
    x1 = math.log10(max(float(np.nanmax(steps)), 10.0))
    if acc and all(a in curves for a in acc):
        return Scales(x1, 0.0, 1.0, acc)
    err = curves[["train_error", "test_error"]].to_numpy(float).ravel() if len(curves) else []
    err = np.asarray(err)[np.isfinite(err) & (np.asarray(err) > 0)]
    if not err.size:
        return Scales(x1, -3.0, 0.0, None)
    y1 = math.ceil(math.log10(err.max()))
    y0 = max(math.floor(math.log10(max(err.min(), FLOOR))), y1 - 12)
    return Scales(x1, float(y0), float(max(y1, y0 + 1)), None)


def _thin(step: np.ndarray, x1: float) -> np.ndarray:
    """Indices of at most ~POINTS logs, evenly in log step (the first of each slot)."""
    slot = np.floor(np.log10(np.maximum(step, 1.0)) / x1 * POINTS)
    return np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]])


def _cell(ax, lines: dict, r, x: str | None, x0: float, y_top: float, c, sc: Scales) -> None:
    """One run's cell, its top left corner at (x0, y_top): a frame, a tag, its curves and t1/t2
    ticks, added to ``lines`` (kind -> segments)."""
    bad = getattr(r, "status", "done") != "done"
    a, b, lo, hi = x0 + 0.03, x0 + CELL_W - 0.03, y_top - CELL_H + 0.03, y_top - 0.03
    lines["bad" if bad else "frame"].append([(a, lo), (b, lo), (b, hi), (a, hi), (a, lo)])
    tag = label(x, getattr(r, x)) if x else f"run {str(r.run_id)[:10]}"
    ax.text(x0 + 0.07, y_top - 0.05, tag + (f" [{r.status}]" if bad else ""), fontsize=6.5,
            va="top", ha="left", color="red" if bad else "k")
    base = y_top - CELL_H + 0.1  # the plot box: x in [x0 + .07, x0 + W - .07], y under the tag

    def px(s):
        return x0 + 0.07 + (CELL_W - 0.14) * np.log10(np.maximum(s, 1)) / sc.x1

    def py(v):
        return base + (CELL_H - 0.32) * np.clip((v - sc.y0) / (sc.y1 - sc.y0), 0, 1)

    if c is not None and len(c):
        step = c.step.to_numpy(float)
        keep = _thin(step, sc.x1)
        for split in ("train", "test"):
            if sc.accuracy:
                v = c[sc.accuracy[split == "test"]].to_numpy(float)[keep]
            else:
                v = np.log10(c[f"{split}_error"].clip(lower=10 ** sc.y0).to_numpy(float)[keep])
            lines[split].append(np.column_stack([px(step[keep]), py(v)]))
    for name in ("t1", "t2"):
        t = time_or_none(getattr(r, name, None))
        if t is not None:
            lines[name].append([(px(t), base - 0.05), (px(t), base + 0.04)])


STYLES = {"frame": dict(colors="0.75", linewidths=0.5), "bad": dict(colors="red", linewidths=1.2),
          "train": dict(colors="C0", linewidths=0.8, linestyles="--"),
          "test": dict(colors="C3", linewidths=0.9),
          "t1": dict(colors="C0", linewidths=1.3), "t2": dict(colors="C3", linewidths=1.3)}


def draw_sheet(sheet: Sheet, curves: dict, sc: Scales, path) -> Path:
    """Draw one sheet to ``path``; ``curves``: run id -> its curve rows."""
    height = len(sheet.rows) * (CELL_H + HEAD_H)
    fig = Figure(figsize=(COLS * CELL_W, height), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, COLS * CELL_W)
    ax.set_ylim(-height, 0)
    # everything of one kind goes into one collection: a few artists per sheet, not hundreds
    lines: dict[str, list] = {k: [] for k in STYLES}
    for i, (name, g) in enumerate(sheet.rows):
        top = -i * (CELL_H + HEAD_H)
        ax.text(0.05, top - 0.02, name, fontsize=7.5, va="top", ha="left", weight="bold")
        for j, r in enumerate(g.itertuples(index=False)):
            _cell(ax, lines, r, sheet.x, j * CELL_W, top - HEAD_H, curves.get(str(r.run_id)), sc)
    for kind, segs in lines.items():
        if segs:
            ax.add_collection(LineCollection(segs, **STYLES[kind]))
    return save(fig, path, dpi=DPI)


def plot_sheets(res, folder, runs: pd.DataFrame | None = None
                ) -> tuple[list[tuple[Sheet, Path]], Scales]:
    """Every run's curves as sheets (PNG files ``sheet-K.png`` in ``folder``): the sheets with
    their files, and the scales they share (:meth:`Scales.text` describes them)."""
    runs = res.runs if runs is None else runs
    curves = res.curves
    by_run = {str(k): g for k, g in curves.groupby("run_id", sort=False, observed=True)} \
        if len(curves) else {}
    sc = scales(runs, curves)
    out = []
    for k, sheet in enumerate(sheet_layout(runs)):
        out.append((sheet, draw_sheet(sheet, by_run, sc, Path(folder) / f"sheet-{k}.png")))
    return out, sc
