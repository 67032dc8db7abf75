"""groklab command line.

    groklab run sparse-recovery --lr 0.1 --l1 1e-5 --steps 300000 --out results/fig3
    groklab run sparse-recovery --lr 0.005,0.01,0.1 --l1 1e-6,1e-5,1e-4 --out results/grid   # a sweep
    groklab sweep ...            same as run (any option given a comma list is a grid axis)
    groklab plot results/grid    curves per run, or t1/t2/delta_t/final error over the swept axes
    groklab plot results/grid --x measurements --y sparsity --metric delta_t    a heat map
    groklab report results/grid  the tidy runs table (t1, t2, delta_t, final errors)
    groklab report results/grid --fit delta_t   fitted exponent of delta_t vs lr*beta, 95% CI
    groklab reproduce fig3       a paper figure at quick scale (--full for the paper's scale)

Bad input exits with status 2 and one line naming the option; nothing is written.  Ctrl-C keeps
every finished batch: rerun the same command to resume.  No command imports torch until it runs
an experiment.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .. import __version__
from .. import family as registry
from ..backends import BackendError
from ..fields import ConfigError
from ..figures import all_figures
from ..plotting import plot_aggregate, plot_heatmap, plot_results
from ..store import load
from ..sweep import DEFAULT_BATCH_SIZE, execute, expand_grid
from ..tables import redetect
from . import export
from .options import build_parser, collect, detection, detection_given
from .report import print_runs, report_extras


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        i, k = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError("shard", f"{text!r} is not of the form I/K") from None
    if not (k >= 1 and 0 <= i < k):
        raise ConfigError("shard", f"{text!r}: need K >= 1 and 0 <= I < K")
    return i, k


def _cmd_run(ns):
    fam = registry.get(ns.problem)
    values = collect(ns, fam.config)
    det = detection(ns, ns.problem)
    configs = expand_grid(ns.problem, values)
    if ns.runs_per_batch is not None and ns.runs_per_batch < 1:
        raise ConfigError("runs_per_batch", f"{ns.runs_per_batch} is out of range: must be an "
                          "integer >= 1")
    shard = _parse_shard(ns.shard) if ns.shard is not None else None
    out = Path(ns.out or f"results/{ns.problem}")
    try:
        res = execute(configs, out=out, detection=det,
                      batch_size=ns.runs_per_batch or DEFAULT_BATCH_SIZE, device=ns.device,
                      save_iterates=ns.save_iterates, quiet=ns.quiet, shard=shard,
                      backend=ns.backend, address=ns.address,
                      ray_cpus_per_task=ns.ray_cpus_per_task)
    except BackendError as e:  # a batch failed on a worker: one line; finished batches are kept
        print(f"groklab {ns.command}: error: {e}", file=sys.stderr)
        return 1
    if not ns.quiet:
        print_runs(res.runs)
        print(f"results: {out}/runs.parquet, {out}/curves.parquet")
    return 0


def _cmd_plot(ns):
    heat = ns.x is not None or ns.y is not None or ns.metric is not None
    if heat and (ns.x is None or ns.y is None):
        raise ConfigError("x" if ns.x is None else "y", "a heat map needs both --x and --y")
    res = load(ns.results)
    path = Path(ns.file) if ns.file else Path(ns.results) / ("heatmap.png" if heat else "plot.png")
    if ns.aggregate:
        plot_aggregate(res, path, ns.aggregate)
    elif heat:
        plot_heatmap(res, path, ns.x, ns.y, ns.metric or "delta_t")
    else:
        plot_results(res, path)
    print(f"wrote {path}")
    return 0


def _cmd_report(ns):
    res = load(ns.results)
    runs = res.runs
    if detection_given(ns):
        problems = runs["problem"].unique() if "problem" in runs else []
        runs = redetect(runs, res.curves, detection(ns, problems[0] if len(problems) == 1 else None))
    if report_extras(ns, runs, res.curves):  # --fit, --aggregate, --progress-measures
        return 0
    print_runs(runs, ns.format, ns.columns.split(",") if ns.columns else None)
    return 0


def _cmd_reproduce(ns):
    figures = all_figures()
    if ns.figure == "list":
        for name, fig in figures.items():
            print(f"{name:8s} {fig.title}")
        return 0
    if ns.figure not in figures:
        raise ConfigError("figure", f"{ns.figure!r} is not one of {', '.join(figures)}")
    fig = figures[ns.figure]
    out = Path(ns.out or f"results/{ns.figure}")
    try:
        png = fig.reproduce(out, full=ns.full, quiet=ns.quiet, batch_size=ns.runs_per_batch,
                            device=ns.device, backend=ns.backend, address=ns.address,
                            ray_cpus_per_task=ns.ray_cpus_per_task)
    except BackendError as e:
        print(f"groklab reproduce: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {png}")
    return 0


HANDLERS = {"run": _cmd_run, "sweep": _cmd_run, "plot": _cmd_plot, "report": _cmd_report,
            "reproduce": _cmd_reproduce, "export": export.main}


def main(argv=None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    if ns.version:
        print(__version__)
        return 0
    if ns.command is None:
        parser.print_help()
        return 2
    if ns.command in ("run", "sweep") and ns.problem is None:
        parser.exit(2, f"groklab {ns.command}: error: name a problem: "
                    f"{', '.join(registry.names())}\n")
    try:
        return HANDLERS[ns.command](ns)
    except ConfigError as e:
        print(f"groklab {ns.command}: error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"groklab {ns.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ngroklab {ns.command}: interrupted; finished batches are kept, rerun the same "
              "command to resume", file=sys.stderr)
        return 130
