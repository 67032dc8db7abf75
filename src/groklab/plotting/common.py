"""What every plot shares: config bookkeeping (which fields vary, what is fixed), labels, number
formatting, figure creation and saving, and the small drawing helpers (t1/t2 markers, censored
points, legends).  Family-specific names (short labels, norms, predictors) come from the
family records (:mod:`groklab.family`).  Matplotlib is used through ``Figure`` objects only (no
pyplot), so no display is ever needed.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter
from matplotlib.transforms import blended_transform_factory

from .. import family as registry
from ..atomic import write_atomically
from ..errors import ConfigError

#: fields that only set the logging schedule: never shown in titles, never a sweep axis
LOG_FIELDS = ("log_every", "log_dense_until", "log_spacing")
TRAIN_STYLE = dict(ls="--", lw=1.4)
TEST_STYLE = dict(ls="-", lw=1.8)
FLOOR = 1e-16  # errors are clipped here on log axes (the projected method's train error is 0)
#: the picture formats ``plot --file`` accepts (matplotlib writes each without extra packages)
FORMATS = ("png", "pdf", "svg")


# ---- config bookkeeping -------------------------------------------------------------------------
def config_fields(runs: pd.DataFrame) -> list[str]:
    """Config fields present in ``runs`` (in dataclass order), logging fields excluded."""
    return [f for f in registry.config_fields(runs) if f not in LOG_FIELDS]


def varying_fields(runs: pd.DataFrame) -> list[str]:
    return [f for f in config_fields(runs) if runs[f].astype(str).nunique() > 1]


def axis_order(runs: pd.DataFrame) -> list[str]:
    """The varying fields, the one with the most values first (ties: the family's
    ``axis_priority``): the x axis of a sweep summary, then its colours, then its facets."""
    fam = registry.of_runs(runs)
    prio = {f: i for i, f in enumerate(fam.axis_priority if fam is not None else ())}
    return sorted(varying_fields(runs),
                  key=lambda f: (-runs[f].astype(str).nunique(), prio.get(f, 99)))


def short(field: str) -> str:
    """The short label of a config field (``dim`` -> ``n``), as its family declares it."""
    for fam in registry.all_families():
        if field in fam.labels:
            return fam.labels[field]
    return field


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
    return f"{short(field)}={fmt(v)}"


def applies(runs: pd.DataFrame, name: str) -> bool:
    """Whether config field ``name`` means something for some run of ``runs``: False when the
    family declares it applies only at other values of another field (``Family.applies``: a
    transformer's heads in a table of MLP runs)."""
    fam = registry.of_runs(runs)
    rule = fam.applies.get(name) if fam is not None else None
    if rule is None or rule[0] not in runs:
        return True
    return bool(runs[rule[0]].isin(rule[1]).any())


def fixed_text(runs: pd.DataFrame, skip=(), width: int = 120) -> str:
    """'fixed: n=100, s=5, ...' for every config field that has one value across ``runs`` and
    applies to them (:func:`applies`)."""
    vary = set(varying_fields(runs)) | set(skip)
    # an empty option (no --data file) says nothing
    parts = [label(f, runs[f].iloc[0]) for f in config_fields(runs)
             if f not in vary and not (isinstance(runs[f].iloc[0], str) and not runs[f].iloc[0])
             and applies(runs, f)]
    return "\n".join(textwrap.wrap("fixed: " + ", ".join(parts), width))


def accuracy_columns(runs: pd.DataFrame) -> tuple[str, str] | None:
    """The (train, test) accuracy curve columns when the family of ``runs`` declares its errors
    as 1 - accuracy (``Family.accuracy``): those are drawn on a linear [0, 1] axis."""
    fam = registry.of_runs(runs)
    return fam.accuracy if fam is not None else None


def is_grid(runs: pd.DataFrame, fields: list[str]) -> bool:
    if not fields:
        return False
    combos = runs[fields].astype(str).drop_duplicates()
    return len(combos) == int(np.prod([runs[f].astype(str).nunique() for f in fields]))


def time_or_none(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def times_of(g: pd.DataFrame):
    """(t1, t2, delta_t) of a runs table as float arrays, NaN where never detected."""
    t1 = g.t1.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    t2 = g.t2.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    dt = g.delta_t.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return t1, t2, dt


# ---- figure helpers ----------------------------------------------------------------------------
def new_figure(nrows: int, ncols: int, w: float = 4.6, h: float = 3.4):
    fig = Figure(figsize=(w * ncols, h * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save(fig: Figure, path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (its extension, one of FORMATS, says the format) through a
    temporary file in the same folder and a rename: a full or read-only disk leaves no partial
    file and ends in one StoreError line."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise ConfigError("file", unsupported(path))
    return write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=kind))


def unsupported(path) -> str:
    return f"{path}: unsupported extension; use {', '.join('.' + f for f in FORMATS)}"


def palette(k: int):
    """k colours along viridis, stopping before its pale yellow end."""
    cm = colormaps["viridis"]
    return [cm(0.8 * i / max(k - 1, 1)) for i in range(k)]


def positive_steps(c: pd.DataFrame) -> pd.DataFrame:
    """Rows with step >= 1 (step 0, the initialization, has no place on a log axis)."""
    return c[c.step >= 1]


def mark_times(ax, t1, t2, horizon=None, rules=("", ""), colors=("C0", "C3"), arrow_y=0.93) -> None:
    """t1 / t2 as labelled vertical lines, Delta t as an arrow between them (at ``arrow_y`` in axes
    coordinates); a time never detected is said in a text box."""
    tr = blended_transform_factory(ax.transData, ax.transAxes)
    t1, t2 = time_or_none(t1), time_or_none(t2)
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


def curve_metric(c: pd.DataFrame, accuracy=None) -> tuple[pd.Series, pd.Series, str]:
    """(train, test, axis label) of one run's curve rows: the accuracy columns when given and
    present, else the errors clipped at FLOOR for a log axis."""
    if accuracy and all(a in c for a in accuracy):
        return c[accuracy[0]], c[accuracy[1]], "accuracy"
    return c.train_error.clip(lower=FLOOR), c.test_error.clip(lower=FLOOR), "relative error"


def metric_axis(ax, what: str) -> None:
    """The y axis of :func:`curve_metric`'s ``what``: accuracy linear on [0, 1], errors log."""
    if what == "accuracy":
        ax.set_ylim(-0.02, 1.02)
    else:
        ax.set_yscale("log")


def error_panel(ax, c: pd.DataFrame, color_train="C0", color_test="C3", name="",
                accuracy=None) -> None:
    """Train (dashed) and test (solid) curves of one run against the step on a log axis: the
    errors on a log axis, or the ``accuracy`` columns (train, test) on a linear [0, 1] one."""
    c = positive_steps(c)
    train, test, what = curve_metric(c, accuracy)
    ax.plot(c.step, train, color=color_train, label=f"train {name}".strip(), **TRAIN_STYLE)
    ax.plot(c.step, test, color=color_test, label=f"test {name}".strip(), **TEST_STYLE)
    ax.set_xscale("log")
    metric_axis(ax, what)
    ax.set_xlabel("step t")
    ax.set_ylabel(what)
    ax.grid(True, which="major", alpha=0.3)


def scale_axis(ax, values: np.ndarray, field: str) -> None:
    """log / symlog / linear x axis for a swept numeric field."""
    v = np.asarray(values, dtype=float)
    pos = v[v > 0]
    if pos.size and (v >= 0).all() and pos.max() / pos.min() >= 10:
        if (v == 0).any():  # zero on a log-like axis: linear near 0, no negative side
            ax.set_xscale("symlog", linthresh=float(pos.min()))
            ax.set_xlim(-0.3 * float(pos.min()), float(pos.max()) * 2)
        else:
            ax.set_xscale("log")
    ax.set_xlabel(short(field))


def is_numeric(s: pd.Series) -> bool:
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


def legend_subset(k: int, most: int = 9) -> set[int]:
    """Which of ``k`` colours (in order along the palette) a legend names: all up to ``most``,
    else ``most`` evenly spaced ones with both ends -- the palette is ordered, so the reader
    reads the colours in between, and a legend of 32 entries would crowd the panels out."""
    if k <= most:
        return set(range(k))
    return {int(round(i * (k - 1) / (most - 1))) for i in range(most)}


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


def as_float(v) -> float:
    """A stored number (None / NA included) as a float, NaN when missing."""
    return float("nan") if v is None or pd.isna(v) else float(v)


def beta_colors(betas):
    """(cmap, norm, colour of beta) along viridis on a log scale of the penalty strengths."""
    cmap = colormaps["viridis"]
    norm = LogNorm(vmin=min(betas), vmax=max(betas) * (1.0001 if len(betas) == 1 else 1))
    return cmap, norm, (lambda b: cmap(0.85 * norm(b)))


def colorbar(fig, ax, cmap, norm, betas, lbl):
    """A colour bar ticked at the grid's penalty strengths."""
    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=lbl, pad=0.01)
    cb.minorticks_off()
    cb.set_ticks(betas)
    cb.set_ticklabels([fmt(b) for b in betas])


def log_ticks(ax, values=None):
    """Log x axis labelled at ``values`` (the grid), no minor labels to collide."""
    if values is not None:
        v = sorted(set(float(x) for x in values))
        ax.set_xticks(v, [fmt(x) for x in v])
    ax.xaxis.set_minor_formatter(NullFormatter())
