"""Sweep summaries: t1, t2, Delta t and the final test error against the swept axes, one line per
value of a second axis (further axes: one row of panels per combination), with the family's
predictions dashed; when ``lr`` and a penalty with a Delta t predictor are swept, a last row
plots t2, Delta t and the final error against lr*beta (the paper's figure 4) with the fitted
exponent of Delta t vs alpha*beta and its 95% interval (the paper predicts -1).

Runs whose t1/t2 was never detected (censored at the horizon, or stuck on a high plateau) are drawn
as hollow markers at the horizon (the run's ``steps``) and the legend says so; diverged runs are
red crosses.  Nothing is dropped silently.  Every title states the config fields that are fixed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from .. import family as registry
from ..theory_fit import fit_power_law
from .common import (CENSORED, DIVERGED, accuracy_columns, axis_order, fixed_text, is_numeric,
                     label, legend_subset, measured, metric_axis, new_figure, palette, save,
                     scale_axis, short, times_of, varying_fields)


PREDICTED = Line2D([], [], color="k", ls="--", lw=1,
                   label="theory (dashed): predicted t1, Δt, and t2 = their sum")


def _column(g: pd.DataFrame, name: str | None) -> np.ndarray:
    return g[name].to_numpy(float) if name and name in g else np.full(len(g), np.nan)


def theory_overlay(axes, g: pd.DataFrame, xs, color) -> bool:
    """The family's predictions next to the measured t1, t2, Delta t of ``g`` (dashed, same
    colour): its predicted t1 and Delta t columns (``Family.predictions``) and t2 = their sum.
    Columns that are absent or NaN (no penalty, depth > 1) draw nothing.  Returns True if
    something was drawn."""
    fam = registry.of_runs(g)
    pred = fam.predictions if fam is not None else {}
    p1, pdt = _column(g, pred.get("t1")), _column(g, pred.get("delta_t"))
    order = np.argsort(xs)
    drawn = False
    for ax, y in zip(axes, (p1, p1 + pdt, pdt)):
        ok = np.isfinite(y[order]) & (y[order] > 0)
        if ok.any():
            ax.plot(np.asarray(xs)[order][ok], y[order][ok], ls="--", color=color, lw=1)
            drawn = True
    return drawn


def summary_row(axes, runs: pd.DataFrame, x: str, hue: str | None, note: str = "") -> None:
    """Four panels: t1, t2, Delta t, final test error vs ``x``, one line per ``hue`` value (the
    final test accuracy on a linear axis for a family whose errors are 1 - accuracy)."""
    acc = accuracy_columns(runs) is not None
    hues = sorted(runs[hue].unique()) if hue else [None]
    colors = palette(len(hues))
    censored = diverged = predicted = False
    numeric = is_numeric(runs[x])
    cats = {v: i for i, v in enumerate(sorted(runs[x].unique(), key=str))}
    named = legend_subset(len(hues))
    for k, (hv, col) in enumerate(zip(hues, colors)):
        g = runs if hue is None else runs[runs[hue] == hv]
        xs = g[x].to_numpy(float) if numeric else np.array([cats[v] for v in g[x]], float)
        t1, t2, dt = times_of(g)
        hz = g.steps.to_numpy(float)
        lbl = label(hue, hv) if hue and k in named else None
        censored |= measured(axes[0], xs, t1, hz, col, lbl)
        censored |= measured(axes[1], xs, t2, hz, col, lbl)
        censored |= measured(axes[2], xs, dt, hz - np.nan_to_num(t1), col, lbl)
        predicted |= theory_overlay(axes[:3], g, xs, col)
        err = g.final_test_error.to_numpy(float)
        bad = ~np.isfinite(err) | (g.status != "done").to_numpy()
        err = 1 - err if acc else err
        measured(axes[3], xs[~bad], err[~bad], err[~bad], col, lbl, marker="s")
        if bad.any():
            diverged = True
            tr = blended_transform_factory(axes[3].transData, axes[3].transAxes)
            axes[3].plot(xs[bad], np.full(bad.sum(), 0.97), "x", color="red", transform=tr)
    fam = registry.of_runs(runs)
    mem = fam.memorized_error if fam is not None else None
    ls = runs[mem].dropna().unique() if mem and mem in runs else []
    if len(ls) == 1:
        axes[3].axhline(1 - ls[0] if acc else ls[0], color="0.5", ls=":",
                        label="least squares (memorizes only)")
    last = "final test accuracy" if acc else "final test error"
    names = ("t1 (memorization)", "t2 (generalization)", "Δt = t2 − t1", last)
    for ax, name in zip(axes, names):
        metric_axis(ax, "accuracy" if name == "final test accuracy" else "log")
        ax.set_ylabel(name)
        ax.grid(True, which="major", alpha=0.3)
        if numeric:
            scale_axis(ax, runs[x].to_numpy(), x)
        else:
            ax.set_xticks(list(cats.values()), [str(k) for k in cats])
            ax.set_xlabel(x)
    extra = ([CENSORED] if censored else []) + ([DIVERGED] if diverged else []) \
        + ([PREDICTED] if predicted else [])
    h, l_ = axes[3].get_legend_handles_labels()  # one legend per row, outside on the right
    axes[3].legend(h + extra, l_ + [e.get_label() for e in extra], fontsize=7, loc="upper left",
                   bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    if note:
        axes[0].set_title(note, fontsize=9, loc="left")


def fit_delta_t(ab, dt) -> dict | None:
    """Power-law fit of Delta t against alpha*beta over the detected runs
    (:func:`groklab.theory_fit.fit_power_law`); None with fewer than 3 usable points."""
    try:
        return fit_power_law(ab, dt)
    except ValueError:
        return None


def fit_text(fit: dict) -> str:
    return f"{fit['exponent']:.2f} [{fit['exponent_low']:.2f}, {fit['exponent_high']:.2f}]"


def fit_line(ax, ab, dt) -> dict | None:
    """Draw the least-squares power law of Delta t vs alpha*beta with the exponent and its 95%
    interval in the legend (the paper predicts exponent -1); nothing with < 3 detected runs."""
    fit = fit_delta_t(ab, dt)
    if fit is None:
        return None
    ab, dt = np.asarray(ab, float), np.asarray(dt, float)
    xs = np.sort(ab[np.isfinite(ab) & (ab > 0) & np.isfinite(dt) & (dt > 0)])  # the fitted range
    ax.plot(xs, fit["prefactor"] * xs ** fit["exponent"], color="0.35", ls="-.", lw=1.2,
            label=f"fit (αβ)^k: k = {fit_text(fit)}\n(95% CI, n={fit['n']}; paper: k = −1)")
    return fit


def product_row(axes, runs: pd.DataFrame, *, beta: str, hue: str = "lr",
                legend_ax=None) -> None:
    """Figure 4 (6 for matrices): t2, Delta t and the final test error against alpha*beta =
    lr*beta, with the family's Delta t predictor (the paper's |a_hat - a*|_inf/(alpha beta) for
    sparse recovery), t1 + that, and a line ~ alpha beta."""
    runs = runs[runs[beta] > 0]
    ab = (runs.lr * runs[beta]).to_numpy(float)
    fam = registry.of_runs(runs)
    pred_name = (fam.penalties.get(beta) if fam is not None else "") or "predicted Δt"
    pred_col = fam.predictions.get("delta_t") if fam is not None else None
    hues = sorted(runs[hue].unique())
    colors = palette(len(hues))
    censored = diverged = False
    named = legend_subset(len(hues))
    for k, (hv, col) in enumerate(zip(hues, colors)):
        g = runs[runs[hue] == hv].sort_values(beta)
        x = (g.lr * g[beta]).to_numpy(float)
        t1, t2, dt = times_of(g)
        hz = g.steps.to_numpy(float)
        lbl = label(hue, hv) if k in named else None
        censored |= measured(axes[0], x, t2, hz, col, lbl)
        pred = _column(g, pred_col)
        axes[0].plot(x, np.nanmedian(t1) + pred if np.isfinite(t1).any() else pred, ls="--",
                     color=col, lw=1)
        censored |= measured(axes[1], x, dt, hz - np.nan_to_num(t1), col, lbl)
        err = g.final_test_error.to_numpy(float)
        bad = ~np.isfinite(err) | (g.status != "done").to_numpy()
        diverged |= bool(bad.any())
        measured(axes[2], x[~bad], err[~bad], err[~bad], col, lbl, marker="s")
    o = np.argsort(ab)
    axes[1].plot(ab[o], _column(runs, pred_col)[o], "k--", lw=1.2, label=pred_name)
    fit_line(axes[1], ab, times_of(runs)[2])
    ok = runs.t2.notna().to_numpy() & np.isfinite(runs.final_test_error.to_numpy(float))
    if ok.any():
        k = float(np.median(runs.final_test_error.to_numpy(float)[ok] / ab[ok]))
        axes[2].plot(ab[o], k * ab[o], "k:", lw=1.2, label=f"{k:.3g} · αβ")
    axes[0].plot([], [], "k--", lw=1, label=f"t1 + {pred_name}")
    for ax, name in zip(axes, ("t2 (generalization)", "Δt = t2 − t1", "final test error")):
        ax.set(xscale="log", yscale="log", xlabel=f"αβ = lr · {beta}", ylabel=name)
        ax.grid(True, which="major", alpha=0.3)
    groups = ((axes[0], [CENSORED] * censored), (axes[1], [CENSORED] * censored),
              (axes[2], [DIVERGED] * diverged))
    if legend_ax is not None:  # one legend for the row, in a spare axes
        seen: dict = {}
        for ax, extra in groups:
            h, l_ = ax.get_legend_handles_labels()
            for hh, ll in zip(h + extra, l_ + [e.get_label() for e in extra]):
                seen.setdefault(ll, hh)
        legend_ax.legend(list(seen.values()), list(seen), fontsize=7, loc="center left")
        legend_ax.axis("off")
        return
    for (ax, extra), loc in zip(groups, ("lower left", "lower left", "lower right")):
        h, l_ = ax.get_legend_handles_labels()  # the data run from upper left to lower right
        ax.legend(h + extra, l_ + [e.get_label() for e in extra], fontsize=7, loc=loc,
                  ncol=2 if len(h) > 5 else 1)


def plot_sweep(res, path, title: str = "") -> Path:
    runs = res.runs
    vary = varying_fields(runs)
    fam = registry.of_runs(runs)
    order = axis_order(runs)
    x, hue, rest = order[0], (order[1] if len(order) > 1 else None), order[2:]
    facets = [()] if not rest else \
        list(runs[rest].astype(str).drop_duplicates().itertuples(index=False))
    shown = facets[:6]
    # the alpha*beta row needs a penalty with a Delta t predictor (sparse: l1; matrices: nuclear)
    betas = [b for b, pred in (fam.penalties.items() if fam is not None else ()) if pred]
    beta = next((b for b in betas if b in vary), None)
    product = "lr" in vary and beta is not None and (runs[beta] > 0).any() \
        and fam.predictions.get("delta_t") in runs
    fig, axes = new_figure(len(shown) + product, 4, 4.3, 3.3)
    for i, fac in enumerate(shown):
        sel = np.ones(len(runs), bool)
        for f, v in zip(rest, fac):
            sel &= (runs[f].astype(str) == v).to_numpy()
        note = ", ".join(f"{short(f)}={v}" for f, v in zip(rest, fac))
        summary_row(axes[i], runs[sel], x, hue, note)
    if product:
        product_row(axes[-1][:3], runs, beta=beta, legend_ax=axes[-1][3])
    head = title or f"sweep of {len(runs)} runs over " + " × ".join(short(f) for f in order)
    if len(facets) > len(shown):
        head += f" (first {len(shown)} of {len(facets)} combinations of {', '.join(rest)} shown)"
    if product and (runs[beta] == 0).any():
        head += f"; {beta}=0 runs are absent from the lr·{beta} row"
    fig.suptitle(head + "\n" + fixed_text(runs, width=min(120, int(fig.get_figwidth() * 13))),
                 fontsize=9)
    return save(fig, path)
