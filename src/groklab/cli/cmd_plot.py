"""``groklab plot``: curves per run, a summary over the swept axes, or a heat map (PNG, or PDF /
SVG by ``--file``'s extension)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..fields import ConfigError
from ..plotting import FORMATS, plot_aggregate, plot_heatmap, plot_results, unsupported
from ..results import load


def output_path(results: Path, file: str | None, name: str) -> Path:
    """--file, else RESULTS/NAME -- or ./<results>-NAME when RESULTS is not writable (a note on
    stderr says so)."""
    if file:
        return Path(file)
    if os.access(results, os.W_OK):
        return results / name
    path = Path.cwd() / f"{results.resolve().name}-{name}"
    print(f"groklab plot: note: {results} is not writable; writing {path} instead",
          file=sys.stderr)
    return path


def main(ns) -> int:
    heat = ns.x is not None or ns.y is not None or ns.metric is not None
    if heat and (ns.x is None or ns.y is None):
        raise ConfigError("x" if ns.x is None else "y", "a heat map needs both --x and --y")
    if ns.file is not None and Path(ns.file).suffix.lower().lstrip(".") not in FORMATS:
        raise ConfigError("file", unsupported(ns.file))  # before anything is read or drawn
    res = load(ns.results)
    path = output_path(Path(ns.results), ns.file, "heatmap.png" if heat else "plot.png")
    if ns.aggregate:
        plot_aggregate(res, path, ns.aggregate)
    elif heat:
        plot_heatmap(res, path, ns.x, ns.y, ns.metric or "delta_t")
    else:
        plot_results(res, path)
    print(f"wrote {path}")
    return 0
