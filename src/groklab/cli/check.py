"""``groklab check``: the paper's claims, each given a verdict (pass / fail / inconclusive) from
its figure's sweep, written to OUT/claims.parquet and OUT/report.html."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..claims import check, listing, load_claims_file, paper_claims, print_table, select, table
from ..claims.runner import default_jobs
from ..fields import ConfigError
from ..html import write_claims_html
from ..preflight import check_out
from .options import out_dir
from .report import print_table as print_rows

#: where ``check`` writes without --out (cli.options names it in the help)
DEFAULT_OUT = "results/check"


def print_block(r) -> None:
    """One claim of ``--list``: whose, where, what the paper says, what groklab tests, the
    setting of each scale (and the quick recipes' declared cost, seconds from empty)."""
    whose = f"paper, {r.where}" if r.source == "paper" else r.source
    print(f"{r.id}  [{whose}]  quick: {r.setting_quick}  full: {r.setting_full}  "
          f"(~{r.quick_cost_s:.0f} s quick)")
    if r.paper_says:
        print(f"    paper says: {r.paper_says}")
    if r.why:
        print(f"    why asked:  {r.why}")
    print(f"    tests:      {r.statement}")
    for scale, text in (("quick", r.stand_in_quick), ("full", r.stand_in_full)):
        if text:
            print(f"    {scale} stand-in: {text}")


def main(ns) -> int:
    """``groklab check`` (its flags: cli.options)."""
    claims = paper_claims()
    if ns.claims_file:
        if Path(ns.claims_file).is_file() and Path(ns.claims_file).suffix != ".py":
            # importlib finds no loader for another suffix (and would fail with a traceback)
            raise ConfigError("claims_file", f"{ns.claims_file!r} is not a Python file (.py)")
        extra = load_claims_file(ns.claims_file)
        known = {c.id for c in claims}
        dup = [c.id for c in extra if c.id in known]
        if dup:
            raise ConfigError("claims_file", f"claim id(s) {', '.join(dup)} already exist")
        claims += extra
    claims = select(claims, ns.claims)
    if ns.list:
        rows = listing(claims)
        if ns.format != "table":
            print_rows(rows, ns.format)
            return 0
        for r in rows.itertuples(index=False):
            print_block(r)
        return 0
    if ns.jobs is not None and ns.jobs < 1:
        raise ConfigError("jobs", f"{ns.jobs} is not a positive number of processes")
    out = Path(out_dir(ns, DEFAULT_OUT))
    check_out(out)  # a file, read-only, /proc: refused before any recipe runs
    log = None if ns.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    verdicts = check(claims, out, full=ns.full, quiet=True, log=log,
                     jobs=ns.jobs or default_jobs(), claims_file=ns.claims_file)
    print_table(verdicts, full=ns.full)
    html = write_claims_html(table(verdicts, ns.full), out)
    print(f"wrote {out / 'claims.parquet'}, {html} ({time.perf_counter() - t0:.0f} s)")
    return 0

