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
every finished batch: rerun the same command to resume.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
from pathlib import Path

from .config import PROBLEMS, ConfigError, Detection, fields_dict


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line (no usage dump), exit status 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # accept negative numbers in exponent notation (--l1 -1e-3) as values, so that the range
        # check can name the option, instead of argparse mistaking them for flags
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message):  # noqa: D401
        self.exit(2, f"{self.prog}: error: {message}\n")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parse_scalar(name: str, typ, text: str):
    text = text.strip()
    if typ is int or typ == "int":
        try:
            v = float(text)
        except ValueError:
            raise ConfigError(name, f"{text!r} is not an integer") from None
        if not math.isfinite(v) or v != int(v):
            raise ConfigError(name, f"{text!r} is not an integer")
        return int(v)
    if typ is float or typ == "float":
        try:
            return float(text)
        except ValueError:
            raise ConfigError(name, f"{text!r} is not a number") from None
    return text


def _parse_values(name: str, typ, text: str):
    """'0.1' -> 0.1 ; '0.1,0.2' -> [0.1, 0.2] (a sweep axis)."""
    parts = [p for p in text.split(",")]
    if any(p.strip() == "" for p in parts):
        raise ConfigError(name, f"{text!r} has an empty item")
    vals = [_parse_scalar(name, typ, p) for p in parts]
    return vals if len(vals) > 1 else vals[0]


def _add_dataclass_flags(parser, cls, group_title: str):
    g = parser.add_argument_group(group_title)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        default = f.default
        choices = meta.get("choices")
        help_ = meta.get("help", "")
        if choices:
            help_ += f" {{{','.join(choices)}}}"
        help_ += f" (default {default})"
        g.add_argument(_flag(f.name), dest=f.name, default=None, metavar="V[,V...]", help=help_)


def _collect(ns, cls) -> dict:
    out = {}
    for name, f in fields_dict(cls).items():
        raw = getattr(ns, name, None)
        if raw is None:
            continue
        typ = type(f.default) if f.default is not None else str
        out[name] = _parse_values(name, typ, raw)
    return out


def _detection(ns, problem: str | None = None) -> Detection:
    """Detection flags given on the command line over the problem's defaults."""
    vals = _collect(ns, Detection)
    for k, v in vals.items():
        if isinstance(v, list):
            raise ConfigError(k, "takes a single value, not a list")
    if problem is None:
        return Detection(**vals)
    from .problems import family
    return dataclasses.replace(family(problem).detection(), **vals)


def _exec_flags(p):
    g = p.add_argument_group("execution")
    g.add_argument("--out", default=None, help="results directory (default results/<problem>)")
    g.add_argument("--runs-per-batch", dest="runs_per_batch", type=int, default=None,
                   help="max runs advanced together in one tensor program")
    g.add_argument("--device", default="cpu", help="torch device (cpu, cuda); default cpu")
    g.add_argument("--save-iterates", action="store_true",
                   help="also store every logged iterate in iterates.parquet")
    g.add_argument("--shard", default=None, metavar="I/K",
                   help="run only the I-th of K disjoint shards of the grid (0 <= I < K), e.g. one "
                   "per cluster job writing to the same --out")
    g.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="where batches run: this process (local) or Ray tasks, one per batch "
                   "(needs pip install -e '.[ray]')")
    g.add_argument("--address", default=None,
                   help="with --backend ray: the cluster to join, auto or HOST:PORT (default: "
                   "start a local Ray instance)")
    g.add_argument("--ray-cpus-per-task", dest="ray_cpus_per_task", type=int, default=1,
                   help="with --backend ray: CPUs (and torch threads) per batch task (default 1)")
    g.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="groklab", description="Grokking beyond the l2 norm: batched experiments, "
                "t1/t2 detection, tidy results and figures.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    for cmd in ("run", "sweep"):
        sp = sub.add_parser(cmd, help="run an experiment; comma lists become sweep axes",
                            description="Run one experiment or, with comma lists, a grid of them.")
        psub = sp.add_subparsers(dest="problem", parser_class=_Parser)
        for name, cls in PROBLEMS.items():
            pp = psub.add_parser(name, help=cls.__doc__.splitlines()[0])
            _add_dataclass_flags(pp, cls, "experiment (comma lists = sweep axes)")
            _add_dataclass_flags(pp, Detection, "t1/t2 detection")
            _exec_flags(pp)
    pl = sub.add_parser("plot", help="draw a results directory")
    pl.add_argument("results", help="results directory")
    pl.add_argument("--file", default=None, help="output PNG (default RESULTS/plot.png)")
    pl.add_argument("--x", default=None, help="heat map: config field on the x axis (with --y)")
    pl.add_argument("--y", default=None, help="heat map: config field on the y axis (with --x)")
    pl.add_argument("--metric", default=None,
                    choices=("t1", "t2", "delta_t", "final_test_error", "class"),
                    help="heat map colour (default delta_t); class = grokked / fitted only / failed")
    rp = sub.add_parser("report", help="print the runs table of a results directory")
    rp.add_argument("results", help="results directory")
    rp.add_argument("--format", choices=("table", "csv", "markdown"), default="table")
    rp.add_argument("--columns", default=None, help="comma list of columns to show")
    rp.add_argument("--fit", choices=("t2", "delta_t"), default=None,
                    help="instead of the table, print one line: the fitted exponent k of "
                    "TIME ~ (lr*beta)^k with its 95%% interval (beta = l1, or nuclear for matrix "
                    "runs; runs with beta = 0 or the time never detected are left out; paper: -1)")
    _add_dataclass_flags(rp, Detection, "re-detect t1/t2 with these settings (no re-simulation)")
    rr = sub.add_parser("reproduce", help="rerun a paper figure and draw it")
    rr.add_argument("figure", help="figure name (see `groklab reproduce list`)")
    rr.add_argument("--full", action="store_true", help="the paper's scale (hours) instead of quick")
    rr.add_argument("--out", default=None, help="results directory (default results/<figure>)")
    rr.add_argument("--runs-per-batch", dest="runs_per_batch", type=int, default=None,
                    help="at most this many runs per tensor program")
    rr.add_argument("--device", default="cpu", help="torch device (cpu, cuda); default cpu")
    rr.add_argument("--backend", choices=("local", "ray"), default="local",
                    help="where the figure's batches run (as for run)")
    rr.add_argument("--address", default=None, help="with --backend ray: auto or HOST:PORT")
    rr.add_argument("--ray-cpus-per-task", dest="ray_cpus_per_task", type=int, default=1,
                    help="with --backend ray: CPUs per batch task (default 1)")
    rr.add_argument("--quiet", action="store_true")
    return p


RESULT_COLS = ["t1", "t2", "delta_t", "t1_rule", "t2_rule", "final_train_error",
               "final_test_error", "status"]
#: shown even when they do not vary: the knobs of the paper's delay law Delta t ~ 1/(lr beta)
KEY_COLS = ["lr", "l1", "l2", "nuclear", "method"]


def _summary_columns(runs) -> list[str]:
    """run_id, the knobs, every config field that varies across the runs, then the results."""
    config = []
    for name in runs.columns:
        if name in ("run_id", "problem", "final_a") or name in RESULT_COLS:
            continue
        if name.startswith(("final_", "pred_", "min_")) or name in (
                "wall_time_s", "batch_runs", "groklab_version", "a_star_l1_norm",
                "a_star_nuclear_norm", "ls_test_error", "lr_max", "coherence"):
            continue
        try:
            varies = runs[name].astype(str).nunique() > 1
        except TypeError:
            continue
        if name in KEY_COLS or varies:
            config.append(name)
    return ["run_id", *config, *[c for c in RESULT_COLS if c in runs.columns]]


def _print_runs(runs, fmt="table", columns=None):
    import pandas as pd
    cols = columns or _summary_columns(runs)
    missing = [c for c in cols if c not in runs.columns]
    if missing:
        raise ConfigError("columns", f"unknown column(s) {', '.join(missing)}")
    df = runs[cols]
    if fmt == "csv":
        sys.stdout.write(df.to_csv(index=False))
    elif fmt == "markdown":
        head = "| " + " | ".join(cols) + " |"
        sep = "|" + "---|" * len(cols)
        rows = ["| " + " | ".join("" if pd.isna(v) else f"{v:.4g}" if isinstance(v, float) else str(v)
                                  for v in r) + " |" for r in df.itertuples(index=False)]
        print("\n".join([head, sep, *rows]))
    else:
        with pd.option_context("display.max_rows", 200, "display.width", 200,
                               "display.max_columns", 50, "display.float_format", "{:.4g}".format):
            print(df.to_string(index=False))


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        i, k = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError("shard", f"{text!r} is not of the form I/K") from None
    if not (k >= 1 and 0 <= i < k):
        raise ConfigError("shard", f"{text!r}: need K >= 1 and 0 <= I < K")
    return i, k


def _cmd_run(ns):
    from .sweep import DEFAULT_BATCH_SIZE, execute, expand_grid
    cls = PROBLEMS[ns.problem]
    values = _collect(ns, cls)
    det = _detection(ns, ns.problem)
    configs = expand_grid(ns.problem, values)
    if ns.runs_per_batch is not None and ns.runs_per_batch < 1:
        raise ConfigError("runs_per_batch", f"{ns.runs_per_batch} is out of range: must be an integer >= 1")
    shard = _parse_shard(ns.shard) if ns.shard is not None else None
    out = Path(ns.out or f"results/{ns.problem}")
    from .backends import BackendError
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
        _print_runs(res.runs)
        print(f"results: {out}/runs.parquet, {out}/curves.parquet")
    return 0


def _cmd_plot(ns):
    from .plotting import plot_heatmap, plot_results
    from .store import load
    heat = ns.x is not None or ns.y is not None or ns.metric is not None
    if heat and (ns.x is None or ns.y is None):
        raise ConfigError("x" if ns.x is None else "y", "a heat map needs both --x and --y")
    res = load(ns.results)
    path = Path(ns.file) if ns.file else Path(ns.results) / ("heatmap.png" if heat else "plot.png")
    if heat:
        plot_heatmap(res, path, ns.x, ns.y, ns.metric or "delta_t")
    else:
        plot_results(res, path)
    print(f"wrote {path}")
    return 0


def _cmd_report(ns):
    from .store import load
    from .sweep import redetect
    res = load(ns.results)
    runs = res.runs
    if any(getattr(ns, f.name, None) is not None for f in dataclasses.fields(Detection)):
        problems = runs["problem"].unique() if "problem" in runs else []
        runs = redetect(runs, res.curves, _detection(ns, problems[0] if len(problems) == 1 else None))
    if ns.fit:
        print(_fit_line(runs, ns.fit))
        return 0
    cols = ns.columns.split(",") if ns.columns else None
    _print_runs(runs, ns.format, cols)
    return 0


#: penalty strengths report --fit looks for, in this order (the first one swept > 0 is used)
BETA_FIELDS = ("l1", "nuclear", "l2", "sobolev")


def _fit_line(runs, column: str) -> str:
    """One line: the power-law exponent of ``column`` against lr * beta with its 95% interval."""
    import numpy as np

    from .theory import fit_power_law
    beta = next((b for b in BETA_FIELDS if b in runs.columns and (runs[b] > 0).any()), None)
    if beta is None or "lr" not in runs.columns:
        raise ConfigError("fit", "needs runs with lr and a positive penalty (one of "
                          f"{', '.join(BETA_FIELDS)})")
    sel = runs[runs[beta] > 0]
    ab = (sel.lr * sel[beta]).to_numpy(float)
    t = sel[column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    if "status" in sel.columns:
        t[(sel.status != "done").to_numpy()] = np.nan
    try:
        fit = fit_power_law(ab, t)
    except ValueError as e:
        raise ConfigError("fit", f"{column}: {e}") from None
    left = len(sel) - fit["n"]
    return (f"{column} ~ (lr*{beta})^k: k = {fit['exponent']:.4g}, 95% CI "
            f"[{fit['exponent_low']:.4g}, {fit['exponent_high']:.4g}], prefactor "
            f"{fit['prefactor']:.4g}, n = {fit['n']} runs ({left} of {len(sel)} with {beta} > 0 "
            f"left out: not detected); paper: k = -1")


def _cmd_reproduce(ns):
    from .figures import FIGURES
    if ns.figure == "list":
        for name, fig in FIGURES.items():
            print(f"{name:8s} {fig.title}")
        return 0
    if ns.figure not in FIGURES:
        raise ConfigError("figure", f"{ns.figure!r} is not one of {', '.join(FIGURES)}")
    fig = FIGURES[ns.figure]
    out = Path(ns.out or f"results/{ns.figure}")
    from .backends import BackendError
    try:
        png = fig.reproduce(out, full=ns.full, quiet=ns.quiet, batch_size=ns.runs_per_batch,
                            device=ns.device, backend=ns.backend, address=ns.address,
                            ray_cpus_per_task=ns.ray_cpus_per_task)
    except BackendError as e:
        print(f"groklab reproduce: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {png}")
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    if ns.version:
        from . import __version__
        print(__version__)
        return 0
    if ns.command is None:
        parser.print_help()
        return 2
    if ns.command in ("run", "sweep") and ns.problem is None:
        parser.exit(2, f"groklab {ns.command}: error: name a problem: {', '.join(PROBLEMS)}\n")
    handlers = {"run": _cmd_run, "sweep": _cmd_run, "plot": _cmd_plot, "report": _cmd_report,
                "reproduce": _cmd_reproduce}
    try:
        return handlers[ns.command](ns)
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


if __name__ == "__main__":
    sys.exit(main())
