"""``groklab report OUT --html FILE``: one self-contained page for any results directory -- the
runs table (t1 / t2 / Δt and the swept fields; sortable), the plot ``groklab plot`` would draw
(curves, or the sweep summary for a grid), the curves of the first runs of a sweep, the fitted
delay exponent when the runs sweep lr · β, and the provenance.

The pictures are drawn into a temporary directory and inlined, so a read-only results directory
works and nothing is written into it: only FILE is written (atomically).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from .. import Results
from ..plotting import plot_curves, plot_results
from . import page as H

#: runs whose curves are drawn beside a sweep summary
CURVE_RUNS = 6


def _pictures(res: Results) -> list[tuple[str, bytes]]:
    out = []
    with tempfile.TemporaryDirectory(prefix="groklab-html-") as tmp:
        main = plot_results(res, Path(tmp) / "plot.png")
        out.append(("summary" if len(res.runs) > CURVE_RUNS else "curves", main.read_bytes()))
        if len(res.runs) > CURVE_RUNS and not res.curves.empty:
            out.append((f"curves of the first {CURVE_RUNS} runs",
                        plot_curves(res, Path(tmp) / "curves.png",
                                    runs=res.runs.head(CURVE_RUNS)).read_bytes()))
    return out


def results_html(res: Results, columns: list[str], fit: str | None = None,
                 title: str | None = None, runs=None) -> str:
    """The page: ``columns`` of the runs table (the CLI passes report's default columns),
    ``fit`` (one line, e.g. report --fit delta_t's) when there is one, and ``runs`` in place of
    ``res.runs`` when given (e.g. re-detected with other thresholds)."""
    where = str(res.path) if res.path else "results"
    title = title or f"groklab report — {where}"
    if runs is not None:
        res = Results(runs=runs, curves=res.curves, path=res.path)
    runs = res.runs
    parts = [f"<h1>{H.esc(title)}</h1>",
             f"<p>{len(runs)} runs from <code>{H.esc(where)}</code>. Click a header to sort.</p>"]
    if fit:
        parts.append(f"<h2>Fit</h2><p><code>{H.esc(fit)}</code></p>")
    parts.append("<h2>Runs</h2>" + H.table(runs[[c for c in columns if c in runs.columns]]))
    parts.append("<h2>Plots</h2>")
    try:
        for name, png in _pictures(res):
            parts.append(f"<h3>{H.esc(name)}</h3>" + H.png_img(png, alt=name))
    except ValueError as e:  # nothing drawable (no runs / no curves): say so, keep the table
        parts.append(f'<p class="muted">no plot: {H.esc(e)}</p>')
    parts.append(H.provenance(*([res.path] if res.path else [])))
    return H.document(title, "".join(parts))


def write_results_html(res: Results, path, columns: list[str], fit: str | None = None,
                       runs=None) -> Path:
    return H.write_atomic(results_html(res, columns, fit, runs=runs), path)
