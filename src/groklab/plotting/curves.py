"""Per-run curve plots: relative train (dashed) and test (solid) error against the step, log-log
(accuracy on a linear [0, 1] axis for a family that declares its accuracy columns), with t1 and
t2 as labelled vertical lines and Delta t annotated, and two norms of the parameters (the
family's ``norms``) on a twin axis.  Beyond 12 runs every curve goes into one panel."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .. import family as registry
from .common import (FLOOR, accuracy_columns, curve_metric, error_panel, fixed_text, label,
                     mark_times, metric_axis, new_figure, palette, positive_steps, save,
                     time_or_none, varying_fields)


#: beyond this many runs every curve goes into one panel
PANELS_MAX = 12


def curve_panel(ax, res, row, title: str = "", norms: bool = True) -> None:
    """Errors, t1/t2 and (twin axis) two norms of the parameters of one run."""
    c = res.curve(row.run_id)
    if not len(positive_steps(c)) and len(c):  # no steps (basis pursuit): one point, step 0
        last = c.iloc[-1]
        ax.text(0.5, 0.5, f"{row.get('method', '')}: solution only (step 0)\n"
                f"train error {last.train_error:.3g}\ntest error {last.test_error:.3g}",
                transform=ax.transAxes, ha="center", va="center", fontsize=9)
        ax.set_axis_off()
        ax.set_title(title, fontsize=9)
        return
    fam = registry.get(row.problem) if "problem" in row else None
    error_panel(ax, c, accuracy=fam.accuracy if fam is not None else None)
    mark_times(ax, row.t1, row.t2, row.steps, (row.get("t1_rule", ""), row.get("t2_rule", "")))
    handles, labels = ax.get_legend_handles_labels()
    if norms and len(c):
        ax2 = ax.twinx()
        p = positive_steps(c)
        names = fam.norms if fam is not None else {}
        shown = [n for n in names if n in p][:2]  # the family's first two norms present
        for name, ls in zip(shown, ("-", "-.")):
            ax2.plot(p.step, p[name].clip(lower=FLOOR), color="0.45", lw=1.0, ls=ls,
                     label=names[name])
        ax2.set_yscale("log")
        ax2.set_ylabel("norm of the parameters", color="0.4")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, fontsize=7, loc="center left")
    ax.set_title(title, fontsize=9)


# ---- layouts ----------------------------------------------------------------------------------
def plot_curves(res, path, runs: pd.DataFrame | None = None, title: str = "") -> Path:
    runs = res.runs if runs is None else runs
    vary = varying_fields(runs)
    names = [", ".join(label(f, r[f]) for f in vary) or f"run {r.run_id}" for _, r in runs.iterrows()]
    if len(runs) > PANELS_MAX:  # too many panels: overlay every run in one
        fig, axes = new_figure(1, 2, 6.0, 4.4)
        cmap = palette(len(runs))
        accuracy, what = accuracy_columns(runs), "relative error"
        for k, ((_, r), nm) in enumerate(zip(runs.iterrows(), names)):
            c = positive_steps(res.curve(r.run_id))
            train, test, what = curve_metric(c, accuracy)
            for ax, y, t in ((axes[0, 0], train, r.t1), (axes[0, 1], test, r.t2)):
                ax.plot(c.step, y, color=cmap[k], lw=1, label=nm if y is test else None)
                if len(c) and time_or_none(t) is None:  # never detected: hollow at the horizon
                    ax.plot(c.step.iloc[-1], y.iloc[-1], "o", mfc="none", mec=cmap[k])
                elif len(c):
                    ax.plot(t, y[c.step >= t].iloc[0], "o", color=cmap[k], ms=4)
        for ax, split in zip(axes[0], ("train", "test")):
            ax.set(xscale="log", xlabel="step t", ylabel=f"{split} {what}")
            metric_axis(ax, what)
            ax.grid(True, alpha=0.3)
        axes[0, 1].legend(fontsize=6, ncol=2, loc="lower left")
        axes[0, 0].set_title("dots: t1; hollow: t1 never detected", fontsize=9)
        axes[0, 1].set_title("dots: t2; hollow: t2 never detected (censored)", fontsize=9)
    else:
        ncols = min(3, len(runs))
        nrows = math.ceil(len(runs) / ncols)
        fig, axes = new_figure(nrows, ncols, 5.0, 3.6)
        for k, ((_, r), nm) in enumerate(zip(runs.iterrows(), names)):
            curve_panel(axes.flat[k], res, r, nm + ("" if r.status == "done" else f" [{r.status}]"))
        for ax in list(axes.flat)[len(runs):]:
            ax.set_visible(False)
    width = min(120, int(fig.get_figwidth() * 13))  # characters that fit at fontsize 9
    fig.suptitle((title + "\n" if title else "") + fixed_text(runs, width=width), fontsize=9)
    return save(fig, path)
