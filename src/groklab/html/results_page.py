"""``groklab report OUT --html FILE``: one self-contained page for any results directory -- the
fit of Δt against lr · β when the runs sweep it (the lines ``report --fit delta_t`` prints), the
runs table (t1 / t2 / Δt and the swept fields; sortable; each run id links to the sheet with its
curves), the plot ``groklab plot`` would draw (curves, or the sweep summary), the curves of
every run in small cells (:mod:`groklab.plotting.sheets`) unless that plot already gives each
run a panel, and the provenance.

Page-size budget (docs/claims.md): at most 2 MB for a 1024-run sweep, 100 KB (base64) per sheet
of 64 runs (measured: 1.42 MB for a 32 x 32 sweep, no two cells alike); the pictures are inlined
as palette PNGs.  At most MAX_RUNS runs are drawn (64 sheets); the page says how many a larger
sweep leaves out.

The pictures are drawn into a temporary directory and inlined, so a read-only results directory
works and nothing is written into it: only FILE is written (atomically).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from .. import Results
from ..plotting import per_run_panels, plot_results, plot_sheets
from . import page as H

#: the runs whose curves the sheets draw at most (the page-size budget: 64 sheets of 64 cells)
MAX_RUNS = 4096


def _sheets_html(res: Results, tmp: Path) -> tuple[str, dict[str, str]]:
    """The sheets section, and run id -> the anchor of its sheet."""
    runs = res.runs
    drawn = runs.iloc[:MAX_RUNS]
    sheets, scales = plot_sheets(res, tmp, drawn)
    anchors = {rid: f"sheet-{k + 1}" for k, (sheet, _) in enumerate(sheets)
               for rid in sheet.run_ids}
    parts = [f"<h2>Curves of every run</h2><p>{H.esc(scales.text())}; dashed: train, solid: "
             "test; ticks under the curves: t1 (blue), t2 (red); red frame: not done "
             "(diverged). A run id in the table links to its sheet.</p>"]
    if len(runs) > len(drawn):
        parts.append(f'<p class="muted">{len(runs) - len(drawn)} runs after the first '
                     f"{len(drawn)} of the table are not drawn (page-size budget: "
                     f"{MAX_RUNS} runs); <code>groklab plot</code> draws any directory.</p>")
    for k, (sheet, png) in enumerate(sheets):
        name = f"sheet {k + 1} of {len(sheets)}: {sheet.caption()}"
        parts.append(f'<h3 id="sheet-{k + 1}">{H.esc(name)}</h3>'
                     + H.png_img(H.compact_png(png.read_bytes()), alt=name))
    return "".join(parts), anchors


def _table(runs: pd.DataFrame, columns: list[str], anchors: dict[str, str]) -> str:
    tab = runs[[c for c in columns if c in runs.columns]].copy()
    if "run_id" in tab and anchors:  # each id links to its sheet; sorting keeps the plain id
        tab["run_id"] = [(f'<a href="#{anchors[r]}">{H.esc(r)}</a>' if r in anchors
                          else H.esc(r), r) for r in tab.run_id.astype(str)]
    return H.table(tab, raw={"run_id"} if anchors else set())


def results_html(res: Results, columns: list[str], fit: list[str] | None = None,
                 title: str | None = None, runs=None) -> str:
    """The page: ``columns`` of the runs table (the CLI passes report's default columns),
    ``fit`` (the lines of :func:`groklab.stats.fit_text`, one paragraph each) when there is one,
    and ``runs`` in place of ``res.runs`` when given (e.g. re-detected with other thresholds)."""
    where = str(res.path) if res.path else "results"
    title = title or f"groklab report — {where}"
    if runs is not None:
        res = Results(runs=runs, curves=res.curves, path=res.path)
    runs = res.runs
    parts = [f"<h1>{H.esc(title)}</h1>",
             f"<p>{len(runs)} runs from <code>{H.esc(where)}</code>. Click a header to sort.</p>"]
    if fit:
        parts.append("<h2>Fit</h2>" + "".join(f"<p><code>{H.esc(ln)}</code></p>" for ln in fit))
    plots, anchors = ["<h2>Plots</h2>"], {}
    with tempfile.TemporaryDirectory(prefix="groklab-html-") as tmp:
        try:
            main = plot_results(res, Path(tmp) / "plot.png")
            name = "curves" if per_run_panels(runs) else "summary"
            plots.append(f"<h3>{name}</h3>" + H.png_img(H.compact_png(main.read_bytes()), alt=name))
            if not per_run_panels(runs) and not res.curves.empty:
                sheets, anchors = _sheets_html(res, Path(tmp))
                plots.append(sheets)
        except ValueError as e:  # nothing drawable (no runs / no curves): say so, keep the table
            plots.append(f'<p class="muted">no plot: {H.esc(e)}</p>')
    parts.append("<h2>Runs</h2>" + _table(runs, columns, anchors))
    parts += plots
    parts.append(H.provenance(*([res.path] if res.path else [])))
    return H.document(title, "".join(parts))


def write_results_html(res: Results, path, columns: list[str], fit: list[str] | None = None,
                       runs=None) -> Path:
    return H.write_atomic(results_html(res, columns, fit, runs=runs), path)
