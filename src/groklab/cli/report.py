"""``groklab report``: the tidy runs table of a results directory, or one fitted exponent
(``--fit``), medians over a field (``--aggregate``), the progress-measure table
(``--progress-measures``)."""
from __future__ import annotations

import sys

import pandas as pd

from .. import family as registry
from ..fields import ConfigError
from ..progress import progress_measures
from ..stats import AGG_COLUMNS, aggregate, fit_text, group_keys

RESULT_COLS = ["t1", "t2", "delta_t", "t1_rule", "t2_rule", "final_train_error",
               "final_test_error", "status"]


def summary_columns(runs) -> list[str]:
    """run_id, the family's key fields (the knobs of the delay law, shown even when constant),
    every other config field that varies across the runs, then the results."""
    keys = {k for fam in registry.families_of(runs) for k in fam.key_fields}
    config = []
    for name in registry.config_fields(runs):
        try:
            varies = runs[name].astype(str).nunique() > 1
        except TypeError:
            continue
        if name in keys or varies:
            config.append(name)
    return ["run_id", *config, *[c for c in RESULT_COLS if c in runs.columns]]


def table_columns(runs, columns=None) -> list[str]:
    """``--columns`` (each must be a column of the runs table), else :func:`summary_columns`."""
    cols = columns or summary_columns(runs)
    missing = [c for c in cols if c not in runs.columns]
    if missing:
        raise ConfigError("columns", f"unknown column(s) {', '.join(missing)}")
    return cols


def print_runs(runs, fmt="table", columns=None) -> None:
    print_table(runs[table_columns(runs, columns)], fmt)


def print_table(df, fmt="table") -> None:
    cols = list(df.columns)
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


def fit_line(runs, column: str, curves=None) -> str:
    """``report --fit``: the two lines of :func:`groklab.stats.fit_text` (the page of
    ``report --html`` shows the same lines)."""
    return "\n".join(fit_text(runs, curves, column))


def _num(v) -> str:
    """A median or an interval end: times as whole steps, 'never' for +inf, '-' for none."""
    if pd.isna(v):
        return "-"
    if v == float("inf"):
        return "never"
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.4g}"


def print_aggregate(runs, field: str, fmt="table") -> None:
    """Medians over ``field`` per group (:func:`groklab.stats.aggregate`): in a table, each
    number as 'median [low, high] k/n' (k: runs where it is finite, e.g. detected); in csv every
    column of the aggregate."""
    agg = aggregate(runs, field)
    if fmt == "csv":
        print_table(agg, fmt)
        return
    keys = group_keys(runs, field)
    out = agg[keys + ["n"]].copy()
    for c in AGG_COLUMNS:
        if c in agg.columns:
            out[c] = [f"{_num(m)} [{_num(lo)}, {_num(hi)}] {k}/{n}" for m, lo, hi, k, n in
                      zip(agg[c], agg[f"{c}_low"], agg[f"{c}_high"], agg[f"{c}_n"], agg["n"])]
    print(f"median over {field} [95% bootstrap interval] runs where finite / runs "
          "(never: most runs did not get there by the horizon)")
    print_table(out, fmt)


def print_progress(runs, curves, fmt="table") -> None:
    """The progress-measure table (:func:`groklab.progress.progress_measures`) with the config
    fields that vary."""
    pm = progress_measures(runs, curves)
    if pm.empty:
        raise ConfigError("progress_measures", "no run with stored curves and t1 < t2 detected")
    keys = [c for c in summary_columns(runs) if c in runs.columns and c != "run_id"
            and c not in RESULT_COLS]
    table = pm.merge(runs[["run_id", *keys]], on="run_id", how="left")
    print_table(table[["run_id", *keys, "measure", "t1", "t2", "move", "t_half", "lead",
                       "lead_fraction", "spearman"]], fmt)


def report_extras(ns, runs, curves) -> bool:
    """``report --fit`` / ``--aggregate`` / ``--progress-measures``: print that instead of the
    runs table and return True; False when none was asked for."""
    if getattr(ns, "fit", None):
        print(fit_line(runs, ns.fit, curves))
    elif getattr(ns, "aggregate", None):
        print_aggregate(runs, ns.aggregate, ns.format)
    elif getattr(ns, "progress_measures", False):
        print_progress(runs, curves, ns.format)
    else:
        return False
    return True
