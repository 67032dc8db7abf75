"""``groklab report``: the tidy runs table (or one fitted exponent) of a results directory."""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from .. import family as registry
from ..fields import ConfigError
from ..theory_fit import fit_power_law

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


def print_runs(runs, fmt="table", columns=None) -> None:
    cols = columns or summary_columns(runs)
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


def penalty_fields(runs) -> list[str]:
    """The penalty strengths the families of ``runs`` declare, in their order of preference
    (every registered family's when the table does not say which family it holds)."""
    out: list[str] = []
    for fam in registry.families_of(runs) or registry.all_families():
        out += [b for b in fam.penalties if b not in out]
    return out


def fit_line(runs, column: str) -> str:
    """One line: the power-law exponent of ``column`` against lr * beta with its 95% interval."""
    candidates = penalty_fields(runs)
    beta = next((b for b in candidates if b in runs.columns and (runs[b] > 0).any()), None)
    if beta is None or "lr" not in runs.columns:
        raise ConfigError("fit", "needs runs with lr and a positive penalty (one of "
                          f"{', '.join(candidates) or 'the family penalties'})")
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
