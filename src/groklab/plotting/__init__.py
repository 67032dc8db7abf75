"""Plots of a results directory (``groklab plot OUT``) and the drawing helpers the figures share.

:func:`plot_results` picks one of two layouts (:func:`layout`):

* **curves** (at most 6 runs, or runs whose varying config fields do not form a grid): one panel
  per run (:mod:`.curves`; beyond 12 runs every curve in one panel);
* **sweep summary** (a grid over >= 2 config fields, or > 6 values of one): :mod:`.summary`.

:func:`plot_heatmap` draws a phase diagram over two swept fields (:mod:`.heatmap`);
:func:`plot_aggregate` medians over one field with interval bands (:mod:`.aggregate`);
:func:`plot_sheets` every run's curves in small cells (:mod:`.sheets`, for ``report --html``).
"""
from __future__ import annotations

from pathlib import Path

from .aggregate import plot_aggregate
from .common import (CENSORED, DIVERGED, FLOOR, FORMATS, LOG_FIELDS, TEST_STYLE, TRAIN_STYLE,
                     accuracy_columns, applies, as_float, axis_order, beta_colors, colorbar,
                     config_fields, error_panel, fixed_text, fmt, is_grid, is_numeric, label,
                     legend, legend_subset, log_ticks, mark_times, measured, new_figure, palette,
                     positive_steps, save, scale_axis, short, time_or_none, times_of,
                     unsupported, varying_fields)
from .curves import PANELS_MAX, curve_panel, plot_curves
from .heatmap import CLASSES, HEATMAP_METRICS, plot_heatmap, run_class
from .sheets import Sheet, plot_sheets, sheet_layout
from .summary import (PREDICTED, fit_delta_t, fit_line, fit_text, plot_sweep, product_row,
                      summary_row, theory_overlay)

__all__ = ["plot_results", "layout", "per_run_panels", "plot_aggregate", "plot_curves",
           "plot_sweep", "plot_heatmap", "plot_sheets", "sheet_layout", "Sheet", "run_class",
           "CLASSES", "HEATMAP_METRICS", "CENSORED", "DIVERGED", "FLOOR", "FORMATS",
           "LOG_FIELDS", "TEST_STYLE", "TRAIN_STYLE", "PREDICTED", "accuracy_columns", "applies",
           "as_float", "axis_order", "beta_colors", "colorbar", "log_ticks", "config_fields",
           "curve_panel", "error_panel", "fixed_text", "fmt", "is_grid", "is_numeric", "label",
           "legend", "legend_subset", "mark_times", "measured", "new_figure", "palette",
           "positive_steps", "save", "scale_axis", "short", "time_or_none", "times_of",
           "unsupported", "varying_fields",
           "fit_delta_t", "fit_line", "fit_text", "product_row", "summary_row", "theory_overlay"]


def layout(runs) -> str:
    """'sweep' (a summary over the swept axes) or 'curves' (the curves of the runs)."""
    vary = varying_fields(runs)
    many = len(vary) >= 2 or (len(vary) == 1 and runs[vary[0]].nunique() > 6)
    return "sweep" if len(runs) > 6 and many and is_grid(runs, vary) else "curves"


def per_run_panels(runs) -> bool:
    """Whether :func:`plot_results` gives every run a panel of its own."""
    return layout(runs) == "curves" and len(runs) <= PANELS_MAX


def plot_results(results, path) -> Path:
    """Draw a Results object to ``path``: per-run curves or a sweep summary (module doc)."""
    runs = results.runs
    if runs is None or runs.empty:
        raise ValueError("no runs to plot")
    if layout(runs) == "sweep":
        return plot_sweep(results, path)
    return plot_curves(results, path)
