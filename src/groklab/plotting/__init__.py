"""Plots of a results directory (``groklab plot OUT``) and the drawing helpers the figures share.

:func:`plot_results` picks one of two layouts:

* **curves** (at most 6 runs, or runs whose varying config fields do not form a grid): one panel
  per run (:mod:`.curves`);
* **sweep summary** (a grid over >= 2 config fields, or > 6 values of one): :mod:`.summary`.

:func:`plot_heatmap` draws a phase diagram over two swept fields (:mod:`.heatmap`);
:func:`plot_aggregate` medians over one field with interval bands (:mod:`.aggregate`).
"""
from __future__ import annotations

from pathlib import Path

from .aggregate import plot_aggregate
from .common import (CENSORED, DIVERGED, FLOOR, LOG_FIELDS, TEST_STYLE, TRAIN_STYLE, as_float,
                     beta_colors, colorbar, config_fields, error_panel, fixed_text, fmt, is_grid,
                     is_numeric, label, legend, log_ticks, mark_times, measured, new_figure,
                     palette, positive_steps, save, scale_axis, short, time_or_none, times_of,
                     varying_fields)
from .curves import curve_panel, plot_curves
from .heatmap import CLASSES, HEATMAP_METRICS, plot_heatmap, run_class
from .summary import (PREDICTED, fit_delta_t, fit_line, fit_text, plot_sweep, product_row,
                      summary_row, theory_overlay)

__all__ = ["plot_results", "plot_aggregate", "plot_curves", "plot_sweep", "plot_heatmap", "run_class", "CLASSES",
           "HEATMAP_METRICS", "CENSORED", "DIVERGED", "FLOOR", "LOG_FIELDS", "TEST_STYLE",
           "TRAIN_STYLE", "PREDICTED", "as_float", "beta_colors", "colorbar", "log_ticks",
           "config_fields", "curve_panel", "error_panel",
           "fixed_text", "fmt", "is_grid", "is_numeric", "label", "legend", "mark_times",
           "measured", "new_figure", "palette", "positive_steps", "save", "scale_axis", "short",
           "time_or_none", "times_of", "varying_fields", "fit_delta_t", "fit_line", "fit_text",
           "product_row", "summary_row", "theory_overlay"]


def plot_results(results, path) -> Path:
    """Draw a Results object to ``path`` (PNG): per-run curves or a sweep summary (module doc)."""
    runs = results.runs
    if runs is None or runs.empty:
        raise ValueError("no runs to plot")
    vary = varying_fields(runs)
    many = len(vary) >= 2 or (len(vary) == 1 and runs[vary[0]].nunique() > 6)
    if len(runs) > 6 and many and is_grid(runs, vary):
        return plot_sweep(results, path)
    return plot_curves(results, path)
