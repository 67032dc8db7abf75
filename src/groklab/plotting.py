"""Plots of a results directory (``groklab plot OUT``) and the drawing helpers the figures share.

:func:`plot_results` picks one of two layouts:

* **curves** (at most 6 runs, or runs whose varying config fields do not form a grid): one panel
  per run with the relative train (dashed) and test (solid) errors against the step, log-log;
  t1 and t2 as labelled vertical lines with Delta t annotated; two norms (|a|_1, |a|_2 or
  |A|_*, |A|_F) on a twin axis.
  Beyond 12 such runs every curve goes into one panel.
* **sweep summary** (a grid over >= 2 config fields, or > 6 values of one): t1, t2, Delta t (log
  scale) and the final test error against the first swept axis, one line per value of the second
  (further axes: one row of panels per combination), with the paper's predictions dashed
  (pred_t1 = eq. 78, t1 + pred_delta_t, pred_delta_t) where the runs have them.  When ``lr`` and ``l1`` (or ``nuclear``) are
  swept, a last row plots t2, Delta t and the final error against lr*beta with the predictors
  t1 + |a_hat - a*|_inf/(alpha beta) and error ~ alpha beta (paper figure 4), and the fitted
  exponent of Delta t vs alpha*beta with its 95% interval (the paper predicts -1).

Runs whose t1/t2 was never detected (censored at the horizon, or stuck on a high plateau) are drawn
as hollow markers at the horizon (the run's ``steps``) and the legend says so; diverged runs are
red crosses.  Nothing is dropped silently.  Every title states the config fields that are fixed.
Matplotlib is used through ``Figure`` objects only (no pyplot), so no display is ever needed.
"""
from __future__ import annotations

import dataclasses
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

#: fields that only set the logging schedule: never shown in titles, never a sweep axis
LOG_FIELDS = ("log_every", "log_dense_until", "log_spacing")
SHORT = {"dim": "n", "sparsity": "s", "measurements": "N", "measurement_variance": "var(M)"}
TRAIN_STYLE = dict(ls="--", lw=1.4)
TEST_STYLE = dict(ls="-", lw=1.8)
#: norm columns drawn on the twin axis of a curve panel (the first two present)
NORMS = {"l1_norm": "|a|₁", "l2_norm": "|a|₂", "nuclear_norm": "‖A‖*", "fro_norm": "‖A‖F"}
#: penalty fields that define beta in the alpha*beta row, with the paper's Delta t predictor
BETAS = {"l1": "|â − a*|∞ / (αβ)", "nuclear": "‖Â − A*‖₂ / (αβ)"}
FLOOR = 1e-16  # errors are clipped here on log axes (the projected method's train error is 0)


# ---- config bookkeeping -------------------------------------------------------------------------
def config_fields(runs: pd.DataFrame) -> list[str]:
    """Config fields present in ``runs`` (in dataclass order), logging fields excluded."""
    from .config import PROBLEMS
    problem = runs["problem"].iloc[0] if "problem" in runs and len(runs) else "sparse-recovery"
    cls = PROBLEMS.get(problem, next(iter(PROBLEMS.values())))
    return [f.name for f in dataclasses.fields(cls) if f.name in runs and f.name not in LOG_FIELDS]


def varying_fields(runs: pd.DataFrame) -> list[str]:
    return [f for f in config_fields(runs) if runs[f].astype(str).nunique() > 1]


def fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        round_big = abs(v) >= 10_000 and v % 10 ** int(math.log10(abs(v))) == 0
        return f"{v:.0e}".replace("e+0", "e") if round_big else str(v)  # 300000 -> 3e5
    if isinstance(v, (float, np.floating)):
        return f"{v:g}"
    return str(v)


def label(field: str, v) -> str:
    return f"{SHORT.get(field, field)}={fmt(v)}"


def fixed_text(runs: pd.DataFrame, skip=(), width: int = 120) -> str:
    """'fixed: n=100, s=5, ...' for every config field that has one value across ``runs``."""
    vary = set(varying_fields(runs)) | set(skip)
    parts = [label(f, runs[f].iloc[0]) for f in config_fields(runs) if f not in vary]
    return "\n".join(textwrap.wrap("fixed: " + ", ".join(parts), width))


def is_grid(runs: pd.DataFrame, fields: list[str]) -> bool:
    if not fields:
        return False
    combos = runs[fields].astype(str).drop_duplicates()
    return len(combos) == int(np.prod([runs[f].astype(str).nunique() for f in fields]))


def _time(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


# ---- figure helpers ----------------------------------------------------------------------------
def new_figure(nrows: int, ncols: int, w: float = 4.6, h: float = 3.4):
    fig = Figure(figsize=(w * ncols, h * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def positive_steps(c: pd.DataFrame) -> pd.DataFrame:
    """Rows with step >= 1 (step 0, the initialization, has no place on a log axis)."""
    return c[c.step >= 1]


def mark_times(ax, t1, t2, horizon=None, rules=("", ""), colors=("C0", "C3"), arrow_y=0.93) -> None:
    """t1 / t2 as labelled vertical lines, Delta t as an arrow between them (at ``arrow_y`` in axes
    coordinates); a time never detected is said in a text box."""
    tr = blended_transform_factory(ax.transData, ax.transAxes)
    t1, t2 = _time(t1), _time(t2)
    for t, name, col, rule, y in ((t1, "t1", colors[0], rules[0], 0.03),
                                  (t2, "t2", colors[1], rules[1], 0.03)):
        if t is None:
            where = f" by step {fmt(int(horizon))}" if horizon else ""
            ax.text(0.98, 0.03 if name == "t1" else 0.12, f"{name}: never{where}", color=col,
                    transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                    bbox=dict(fc="white", ec=col, alpha=0.8, lw=0.6))
            continue
        ax.axvline(t, color=col, ls=":", lw=1.2)
        extra = " (plateau)" if rule == "plateau" else ""
        ax.text(t, y, f" {name}={fmt(int(t))}{extra}", transform=tr, rotation=90, color=col,
                ha="right", va="bottom", fontsize=8)
    if t1 is not None and t2 is not None and t2 > t1:
        ax.annotate("", xy=(t2, arrow_y), xytext=(max(t1, 1), arrow_y), xycoords=tr, textcoords=tr,
                    arrowprops=dict(arrowstyle="<->", color="k", lw=0.9))
        mid = math.sqrt(max(t1, 1) * t2) if ax.get_xscale() == "log" else (t1 + t2) / 2
        ax.text(mid, arrow_y + 0.02, f"Δt={fmt(int(t2 - t1))}", transform=tr, ha="center",
                va="bottom", fontsize=8)


def error_panel(ax, c: pd.DataFrame, color_train="C0", color_test="C3", name="") -> None:
    c = positive_steps(c)
    ax.plot(c.step, c.train_error.clip(lower=FLOOR), color=color_train,
            label=f"train {name}".strip(), **TRAIN_STYLE)
    ax.plot(c.step, c.test_error.clip(lower=FLOOR), color=color_test, label=f"test {name}".strip(),
            **TEST_STYLE)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel("relative error")
    ax.grid(True, which="major", alpha=0.3)


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
    error_panel(ax, c)
    mark_times(ax, row.t1, row.t2, row.steps, (row.get("t1_rule", ""), row.get("t2_rule", "")))
    handles, labels = ax.get_legend_handles_labels()
    if norms and len(c):
        ax2 = ax.twinx()
        p = positive_steps(c)
        shown = [n for n in ("nuclear_norm", "fro_norm") if n in p] or \
            [n for n in ("l1_norm", "l2_norm") if n in p]  # matrices: |A|_*, |A|_F
        for name, ls in zip(shown, ("-", "-.")):
            ax2.plot(p.step, p[name].clip(lower=FLOOR), color="0.45", lw=1.0, ls=ls,
                     label=NORMS[name])
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
    if len(runs) > 12:  # too many panels: overlay every run in one
        fig, axes = new_figure(1, 2, 6.0, 4.4)
        cmap = _cmap(len(runs))
        for k, ((_, r), nm) in enumerate(zip(runs.iterrows(), names)):
            c = positive_steps(res.curve(r.run_id))
            for ax, col, t in ((axes[0, 0], "train_error", r.t1), (axes[0, 1], "test_error", r.t2)):
                y = c[col].clip(lower=FLOOR)
                ax.plot(c.step, y, color=cmap[k], lw=1, label=nm if col == "test_error" else None)
                if len(c) and _time(t) is None:  # never detected: hollow at the horizon
                    ax.plot(c.step.iloc[-1], y.iloc[-1], "o", mfc="none", mec=cmap[k])
                elif len(c):
                    ax.plot(t, y[c.step >= t].iloc[0], "o", color=cmap[k], ms=4)
        for ax, what in zip(axes[0], ("train", "test")):
            ax.set(xscale="log", yscale="log", xlabel="step t", ylabel=f"relative {what} error")
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


def _cmap(k: int):
    from matplotlib import colormaps
    cm = colormaps["viridis"]
    return [cm(0.8 * i / max(k - 1, 1)) for i in range(k)]  # stop before the pale yellow end


def _scale_axis(ax, values: np.ndarray, field: str) -> None:
    """log / symlog / linear x axis for a swept numeric field."""
    v = np.asarray(values, dtype=float)
    pos = v[v > 0]
    if pos.size and (v >= 0).all() and pos.max() / pos.min() >= 10:
        if (v == 0).any():  # zero on a log-like axis: linear near 0, no negative side
            ax.set_xscale("symlog", linthresh=float(pos.min()))
            ax.set_xlim(-0.3 * float(pos.min()), float(pos.max()) * 2)
        else:
            ax.set_xscale("log")
    ax.set_xlabel(SHORT.get(field, field))


def _numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


CENSORED = Line2D([], [], marker="o", mfc="none", mec="k", ls="none",
                  label="not detected: hollow, at the horizon (censored)")
DIVERGED = Line2D([], [], marker="x", color="red", ls="none", label="diverged")


def legend(ax, censored: bool, text: str | None = None, **kw) -> None:
    """ax's legend, plus the hollow-marker entry when some runs are censored (never detected)."""
    h, lb = ax.get_legend_handles_labels()
    if censored:
        h, lb = h + [CENSORED], lb + [text or CENSORED.get_label()]
    ax.legend(h, lb, **{"fontsize": 7, **kw})


def measured(ax, x, y, horizon, color, lbl=None, marker="o") -> bool:
    """Detected values as a line with filled markers; missing ones hollow at ``horizon``.
    Returns True if something was censored."""
    x, y, horizon = np.asarray(x, float), np.asarray(y, float), np.asarray(horizon, float)
    ok = np.isfinite(y)
    order = np.argsort(x)
    xo, yo, oko = x[order], y[order], ok[order]
    ax.plot(xo[oko], yo[oko], marker=marker, color=color, label=lbl, ms=5, lw=1.3)
    if (~ok).any():
        ax.plot(x[~ok], horizon[~ok], marker=marker, mfc="none", mec=color, ls="none", ms=7, mew=1.3)
    return bool((~ok).any())


def _times(g: pd.DataFrame):
    t1 = g.t1.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    t2 = g.t2.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    dt = g.delta_t.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return t1, t2, dt


PREDICTED = Line2D([], [], color="k", ls="--", lw=1,
                   label="theory (dashed): t1 eq. (78), Δt = pred_delta_t, t2 = their sum")


def theory_overlay(axes, g: pd.DataFrame, xs, color) -> bool:
    """The paper's predictions next to the measured t1, t2, Delta t of ``g`` (dashed, same colour):
    ``pred_t1`` (eq. 78), ``pred_delta_t`` (|a_hat - a*|_inf/(alpha beta), or the matrix analogue)
    and t2 = their sum.  Columns that are absent or NaN (no penalty, depth > 1) draw nothing.
    Returns True if something was drawn."""
    def col(name):
        return g[name].to_numpy(float) if name in g else np.full(len(g), np.nan)
    p1, pdt = col("pred_t1"), col("pred_delta_t")
    order = np.argsort(xs)
    drawn = False
    for ax, y in zip(axes, (p1, p1 + pdt, pdt)):
        ok = np.isfinite(y[order]) & (y[order] > 0)
        if ok.any():
            ax.plot(np.asarray(xs)[order][ok], y[order][ok], ls="--", color=color, lw=1)
            drawn = True
    return drawn


def summary_row(axes, runs: pd.DataFrame, x: str, hue: str | None, note: str = "") -> None:
    """Four panels: t1, t2, Delta t, final test error vs ``x``, one line per ``hue`` value."""
    hues = sorted(runs[hue].unique()) if hue else [None]
    colors = _cmap(len(hues))
    censored = diverged = predicted = False
    numeric = _numeric(runs[x])
    cats = {v: i for i, v in enumerate(sorted(runs[x].unique(), key=str))}
    for hv, col in zip(hues, colors):
        g = runs if hue is None else runs[runs[hue] == hv]
        xs = g[x].to_numpy(float) if numeric else np.array([cats[v] for v in g[x]], float)
        t1, t2, dt = _times(g)
        hz = g.steps.to_numpy(float)
        lbl = label(hue, hv) if hue else None
        censored |= measured(axes[0], xs, t1, hz, col, lbl)
        censored |= measured(axes[1], xs, t2, hz, col, lbl)
        censored |= measured(axes[2], xs, dt, hz - np.nan_to_num(t1), col, lbl)
        predicted |= theory_overlay(axes[:3], g, xs, col)
        err = g.final_test_error.to_numpy(float)
        bad = ~np.isfinite(err) | (g.status != "done").to_numpy()
        measured(axes[3], xs[~bad], err[~bad], err[~bad], col, lbl, marker="s")
        if bad.any():
            diverged = True
            tr = blended_transform_factory(axes[3].transData, axes[3].transAxes)
            axes[3].plot(xs[bad], np.full(bad.sum(), 0.97), "x", color="red", transform=tr)
    ls = runs.ls_test_error.dropna().unique() if "ls_test_error" in runs else []
    if len(ls) == 1:
        axes[3].axhline(ls[0], color="0.5", ls=":", label="least squares (memorizes only)")
    for ax, name in zip(axes, ("t1 (memorization)", "t2 (generalization)", "Δt = t2 − t1",
                               "final test error")):
        ax.set_yscale("log")
        ax.set_ylabel(name)
        ax.grid(True, which="major", alpha=0.3)
        if numeric:
            _scale_axis(ax, runs[x].to_numpy(), x)
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
    """Power-law fit of Delta t against alpha*beta over the detected runs (``theory.fit_power_law``);
    None with fewer than 3 usable points."""
    from .theory import fit_power_law
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


def product_row(axes, runs: pd.DataFrame, hue: str = "lr", beta: str = "l1",
                legend_ax=None) -> None:
    """Figure 4 (6 for ``beta="nuclear"``): t2, Delta t and the final test error against
    alpha*beta = lr*beta, with the predictors t1 + pred_delta_t, pred_delta_t (the paper's
    |a_hat - a*|_inf/(alpha beta)) and a line ~ alpha beta."""
    runs = runs[runs[beta] > 0]
    ab = (runs.lr * runs[beta]).to_numpy(float)
    pred_name = BETAS.get(beta, "predicted Δt")
    hues = sorted(runs[hue].unique())
    colors = _cmap(len(hues))
    censored = diverged = False
    for hv, col in zip(hues, colors):
        g = runs[runs[hue] == hv].sort_values(beta)
        x = (g.lr * g[beta]).to_numpy(float)
        t1, t2, dt = _times(g)
        hz = g.steps.to_numpy(float)
        lbl = label(hue, hv)
        censored |= measured(axes[0], x, t2, hz, col, lbl)
        pred = g.pred_delta_t.to_numpy(float)
        axes[0].plot(x, np.nanmedian(t1) + pred if np.isfinite(t1).any() else pred, ls="--",
                     color=col, lw=1)
        censored |= measured(axes[1], x, dt, hz - np.nan_to_num(t1), col, lbl)
        err = g.final_test_error.to_numpy(float)
        bad = ~np.isfinite(err) | (g.status != "done").to_numpy()
        diverged |= bool(bad.any())
        measured(axes[2], x[~bad], err[~bad], err[~bad], col, lbl, marker="s")
    o = np.argsort(ab)
    axes[1].plot(ab[o], runs.pred_delta_t.to_numpy(float)[o], "k--", lw=1.2,
                 label=pred_name)
    fit_line(axes[1], ab, _times(runs)[2])
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
    prio = {f: i for i, f in enumerate(("l1", "nuclear", "l2", "lr", "measurements", "observed",
                                        "sparsity", "tau"))}
    order = sorted(vary, key=lambda f: (-runs[f].astype(str).nunique(), prio.get(f, 99)))
    x, hue, rest = order[0], (order[1] if len(order) > 1 else None), order[2:]
    facets = [()] if not rest else \
        list(runs[rest].astype(str).drop_duplicates().itertuples(index=False))
    shown = facets[:6]
    beta = next((b for b in BETAS if b in vary), None)
    product = "lr" in vary and beta is not None and (runs[beta] > 0).any() \
        and "pred_delta_t" in runs
    fig, axes = new_figure(len(shown) + product, 4, 4.3, 3.3)
    for i, fac in enumerate(shown):
        sel = np.ones(len(runs), bool)
        for f, v in zip(rest, fac):
            sel &= (runs[f].astype(str) == v).to_numpy()
        note = ", ".join(f"{SHORT.get(f, f)}={v}" for f, v in zip(rest, fac))
        summary_row(axes[i], runs[sel], x, hue, note)
    if product:
        product_row(axes[-1][:3], runs, beta=beta, legend_ax=axes[-1][3])
    head = title or f"sweep of {len(runs)} runs over " + " × ".join(SHORT.get(f, f) for f in order)
    if len(facets) > len(shown):
        head += f" (first {len(shown)} of {len(facets)} combinations of {', '.join(rest)} shown)"
    if product and (runs[beta] == 0).any():
        head += f"; {beta}=0 runs are absent from the lr·{beta} row"
    fig.suptitle(head + "\n" + fixed_text(runs, width=min(120, int(fig.get_figwidth() * 13))),
                 fontsize=9)
    return save(fig, path)


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
    from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm

    from .config import ConfigError
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
        ax.set_xlabel(SHORT.get(x, x))
        ax.set_ylabel(SHORT.get(y, y))
        if rest:
            ax.set_title(", ".join(f"{SHORT.get(f, f)}={v}" for f, v in zip(rest, fac)), fontsize=8)
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    if metric == "class":
        cb = fig.colorbar(mappable, ax=axes, ticks=[0.5, 1.5, 2.5], shrink=0.8)
        cb.ax.set_yticklabels(list(CLASSES), fontsize=7)
    else:
        fig.colorbar(mappable, ax=axes, shrink=0.8,
                     label={"t1": "t1 (memorization step)", "t2": "t2 (generalization step)",
                            "delta_t": "Δt = t2 − t1", "final_test_error": "final test error"}[metric])
    head = f"{metric} over {SHORT.get(x, x)} × {SHORT.get(y, y)} ({len(runs)} runs)"
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
