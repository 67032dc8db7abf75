"""The CLI's parser: one sub-command per family for ``run`` / ``sweep``, its flags made from the
config's fields (kebab-case; any flag given a comma list or a range becomes a sweep axis,
:mod:`groklab.axes`), the detection flags from :class:`groklab.Detection`, and the execution
flags.  Values are parsed here by the field's type (ASCII numbers only); their bounds are checked
by the config itself (:mod:`groklab.fields`).  Flags are never abbreviated (``--step`` is not
``--steps``)."""
from __future__ import annotations

import argparse
import dataclasses
import re

from .. import family as registry
from ..axes import parse_axis, read_grid_file
from ..detect import Detection
from ..fields import ConfigError, fields_dict
from ..grid import kind_of
from ..preflight import check, check_out, describe, estimate


class Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line (no usage dump), exit status 2."""

    def __init__(self, *args, **kwargs):
        # no prefix matching: --step 10 must not silently mean --steps 10
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)
        # accept negative numbers in exponent notation (--l1 -1e-3) and negative shards
        # (--shard -1/4) as values, so that the range check can name the option and say what is
        # allowed, instead of argparse mistaking them for flags
        self._negative_number_matcher = re.compile(
            r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-\d+/\d+$")

    def error(self, message):  # noqa: D401
        m = re.fullmatch(r"argument (--[\w-]+).*: expected one argument", message)
        if m:  # --out -x: argparse took the value for a flag
            message += f" (a value that starts with '-' is written {m.group(1)}=VALUE)"
        self.exit(2, f"{self.prog}: error: {message}\n")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_values(name: str, f: dataclasses.Field, text: str):
    """'0.1' -> 0.1 ; '0.1,0.2' or 'logspace(1e-3,1e-1,3)' -> a list (a sweep axis)."""
    return parse_axis(name, text, kind_of(f))


def ascii_int(text: str) -> int:
    """argparse type of the execution counts: an integer in ASCII digits (int() reads others)."""
    t = text.strip()
    if not (t.isascii() and re.fullmatch(r"[+-]?\d+", t)):
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer (ASCII digits)")
    return int(t)


def positive(name: str, value: int | None) -> None:
    """--runs-per-batch and the like: refuse 0 and negatives in one line."""
    if value is not None and value < 1:
        raise ConfigError(name, f"{value} is out of range: must be an integer >= 1")


def add_field_flags(parser, cls, group_title: str) -> None:
    g = parser.add_argument_group(group_title)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        help_ = meta.get("help", "")
        if meta.get("choices"):
            help_ += f" {{{','.join(meta['choices'])}}}"
        help_ += f" (default {f.default})"
        g.add_argument(flag(f.name), dest=f.name, default=None, metavar="V[,V...]", help=help_)


def sweep_values(ns, fam) -> dict:
    """The sweep's options: the ``--grid`` file's (if any), then the flags given, which replace
    the file's value of the same option."""
    values = {}
    if getattr(ns, "grid", None) is not None:
        try:
            problem, values = read_grid_file(ns.grid)
        except OSError as e:  # permission denied, an I/O error (a missing file: ConfigError)
            raise ConfigError("grid", f"{ns.grid!r} cannot be read: {e.strerror or e}") from None
        if problem is not None and problem != fam.name:
            raise ConfigError("grid", f"{ns.grid!r} is a grid of {problem}, not {fam.name}")
    values.update(collect(ns, fam.config))
    return values


def out_dir(ns, default: str) -> str:
    """--out, refusing an empty one (argparse would otherwise fall back to the default)."""
    if ns.out is not None and ns.out.strip() == "":
        raise ConfigError("out", f"{ns.out!r} is empty: give a results directory")
    return ns.out or default


def dry_run(configs: list, *, out, batch_size: int, save_iterates: bool, device: str, shard,
            local: bool) -> int:
    """``--dry-run``: print the counts and estimates; refuse (one line, exit 2) what the real run
    would refuse; run and write nothing."""
    est = estimate(configs, batch_size=batch_size, save_iterates=save_iterates, shard=shard)
    for line in describe(est, out=out, batch_size=batch_size):
        print(line)
    check_out(out)
    check(est, out=out, device=device, local=local, batch_size=batch_size)
    print("dry run: nothing was run or written")
    return 0


def collect(ns, cls) -> dict:
    """The values of ``cls``'s fields given on the command line (lists for comma lists)."""
    out = {}
    for name, f in fields_dict(cls).items():
        raw = getattr(ns, name, None)
        if raw is not None:
            out[name] = parse_values(name, f, raw)
    return out


def detection(ns, problem: str | None = None) -> Detection:
    """Detection flags given on the command line over the problem's defaults."""
    vals = collect(ns, Detection)
    for k, v in vals.items():
        if isinstance(v, list):
            raise ConfigError(k, "takes a single value, not a list")
    if problem is None:
        return Detection(**vals)
    return dataclasses.replace(registry.get(problem).detection, **vals)


def detection_given(ns) -> bool:
    return any(getattr(ns, f.name, None) is not None for f in dataclasses.fields(Detection))


def _exec_flags(p) -> None:
    g = p.add_argument_group("execution")
    g.add_argument("--out", default=None, help="results directory (default results/<problem>)")
    g.add_argument("--grid", default=None, metavar="FILE.toml",
                   help="the sweep as a TOML file (docs/grids.md); flags given too replace the "
                   "file's value of that option")
    g.add_argument("--dry-run", dest="dry_run", action="store_true",
                   help="print the runs, batches and estimated memory, disk and time; run and "
                   "write nothing")
    g.add_argument("--runs-per-batch", dest="runs_per_batch", type=ascii_int, default=None,
                   help="max runs advanced together in one tensor program")
    g.add_argument("--device", default="cpu", help="torch device (cpu, cuda); default cpu")
    g.add_argument("--save-iterates", nargs="?", const=1, default=0, type=int, metavar="K",
                   help="also store the logged iterates (network weights: docs/checkpoints.md) "
                   "(OUT/iterates/); K: only every K-th log point and the last (default 1)")
    g.add_argument("--shard", default=None, metavar="I/K",
                   help="run only shard I of K disjoint shards of the grid, counted from 0 "
                   "(0 <= I < K), e.g. one per cluster job writing to the same --out")
    _backend_flags(g)
    g.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def _backend_flags(g) -> None:
    g.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="where batches run: this process (local) or Ray tasks, one per batch "
                   "(needs pip install -e '.[ray]')")
    g.add_argument("--address", default=None,
                   help="with --backend ray: the cluster to join, auto or HOST:PORT (default: "
                   "start a local Ray instance)")
    g.add_argument("--ray-cpus-per-task", dest="ray_cpus_per_task", type=ascii_int, default=1,
                   help="with --backend ray: CPUs (and torch threads) per batch task (default 1)")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="groklab", description="Grokking beyond the l2 norm: batched experiments, "
               "t1/t2 detection, tidy results and figures.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    for cmd in ("run", "sweep"):
        sp = sub.add_parser(cmd, help="run an experiment; comma lists become sweep axes",
                            description="Run one experiment or, with comma lists, a grid of them.")
        psub = sp.add_subparsers(dest="problem", parser_class=Parser)
        for fam in registry.all_families():
            pp = psub.add_parser(fam.name, help=fam.summary)
            add_field_flags(pp, fam.config, "experiment (comma lists = sweep axes)")
            add_field_flags(pp, Detection, "t1/t2 detection")
            _exec_flags(pp)
    pl = sub.add_parser("plot", help="draw a results directory")
    pl.add_argument("results", help="results directory")
    pl.add_argument("--file", default=None, help="output PNG (default RESULTS/plot.png)")
    pl.add_argument("--x", default=None, help="heat map: config field on the x axis (with --y)")
    pl.add_argument("--y", default=None, help="heat map: config field on the y axis (with --x)")
    pl.add_argument("--metric", default=None,
                    choices=("t1", "t2", "delta_t", "final_test_error", "class"),
                    help="heat map colour (default delta_t); class = grokked / fitted only / failed")
    pl.add_argument("--aggregate", default=None, metavar="FIELD",
                    help="group the runs over this config field (e.g. seed) and draw the median "
                    "t1, t2, delta_t and final errors of each group with a 95%% bootstrap band")
    rp = sub.add_parser("report", help="print the runs table of a results directory")
    rp.add_argument("results", help="results directory")
    rp.add_argument("--format", choices=("table", "csv", "markdown"), default="table")
    rp.add_argument("--columns", default=None, help="comma list of columns to show")
    rp.add_argument("--fit", choices=("t2", "delta_t"), default=None,
                    help="instead of the table, print one line: the fitted exponent k of "
                    "TIME ~ (lr*beta)^k with its 95%% interval (beta = the first penalty of the "
                    "family swept > 0, e.g. l1 for sparse recovery, nuclear for matrices; runs "
                    "with beta = 0 or the time never detected are left out; paper: -1), then "
                    "the censored fit that keeps the runs not detected by the horizon")
    rp.add_argument("--aggregate", default=None, metavar="FIELD",
                    help="group the runs over this config field (e.g. seed): per group of the "
                    "other varying fields, the median of t1, t2, delta_t and the final errors "
                    "with a 95%% bootstrap interval (a time never detected ranks as +inf)")
    rp.add_argument("--progress-measures", dest="progress_measures", action="store_true",
                    help="per run, for each norm-like curve the family logs: its lead time "
                    "before t2 and its Spearman correlation with the test error over [t1, t2]")
    rp.add_argument("--html", default=None, metavar="FILE",
                    help="write one self-contained HTML page (runs table, plots, fit) to FILE")
    add_field_flags(rp, Detection, "re-detect t1/t2 with these settings (no re-simulation)")
    ex = sub.add_parser("export", help="write the runs of a results directory for an experiment "
                        "tracker (offline)")
    ex.add_argument("results", help="results directory")
    ex.add_argument("--to", required=True, choices=("tensorboard", "mlflow", "wandb"),
                    help="tensorboard: one event-file folder per run, every curve column a scalar, "
                    "the run's row as JSON text; mlflow: a file store, one run per groklab run "
                    "(params = config, metrics = curves and t1/t2/delta_t/final errors); wandb: "
                    "one offline run per groklab run (config, history, summary). Each needs its "
                    "optional extra: pip install 'groklab[TO]'")
    ex.add_argument("--dest", default=None, help="output folder (default RESULTS/export/TO)")
    ex.add_argument("--experiment", default=None, metavar="NAME",
                    help="MLflow experiment / W&B project name (default: the results "
                    "directory's name)")
    st = sub.add_parser("status", help="runs done / pending / diverged, parts, size and damage "
                        "of a results directory")
    st.add_argument("results", help="results directory")
    st.add_argument("--repair", action="store_true",
                    help="remove leftovers of killed commands, set damaged parts aside (their "
                    "runs are recomputed by a rerun), merge all parts into one per table")
    rr = sub.add_parser("reproduce", help="rerun a paper figure and draw it")
    rr.add_argument("figure", help="figure name (see `groklab reproduce list`)")
    rr.add_argument("--full", action="store_true", help="the paper's scale (hours) instead of quick")
    rr.add_argument("--out", default=None, help="results directory (default results/<figure>)")
    rr.add_argument("--runs-per-batch", dest="runs_per_batch", type=ascii_int, default=None,
                    help="at most this many runs per tensor program")
    rr.add_argument("--device", default="cpu", help="torch device (cpu, cuda); default cpu")
    _backend_flags(rr)
    rr.add_argument("--quiet", action="store_true")
    ck = sub.add_parser("check", help="check the paper's claims: pass / fail / inconclusive",
                        description="Run the sweeps behind the paper's claims (quick scale unless "
                        "--full; resumable), measure each claim and apply its pass rule "
                        "(docs/claims.md).")
    ck.add_argument("--full", action="store_true", help="the paper-scale recipes (hours)")
    ck.add_argument("--claims", default=None, metavar="ID[,ID...]",
                    help="check only these claims (see --list)")
    ck.add_argument("--claims-file", dest="claims_file", default=None, metavar="FILE.py",
                    help="also check the CLAIMS list of this Python file")
    ck.add_argument("--out", default=None, help="results directory (default results/check); "
                    "each recipe runs into OUT/<figure>")
    ck.add_argument("--jobs", type=ascii_int, default=None, metavar="N",
                    help="run up to N recipes side by side, one process and one torch thread "
                    "each (default: the CPUs this process may use; the numbers do not depend "
                    "on it)")
    ck.add_argument("--list", action="store_true",
                    help="print the claims and exit: id, whose claim (paper / extension), where "
                    "the paper says it and what, what groklab tests, and whether each scale "
                    "runs the paper's setting (faithful) or a stand-in")
    ck.add_argument("--format", choices=("table", "csv", "markdown"), default="table",
                    help="with --list: a readable block per claim (table), or every column "
                    "(csv, markdown)")
    ck.add_argument("--quiet", action="store_true", help="no progress lines")
    return p
