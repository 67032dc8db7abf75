"""``groklab check``: the paper's claims, each given a verdict (pass / fail / inconclusive) from
its figure's sweep, written to OUT/claims.parquet and OUT/report.html; and the ``--html`` page of
``groklab report``."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..claims import check, load_claims_file, paper_claims, print_table, select, table
from ..fields import ConfigError
from ..html import write_claims_html, write_results_html

DEFAULT_OUT = "results/check"


def add_check_parser(sub) -> None:
    """The ``check`` sub-command's flags (called by cli.options.build_parser)."""
    ck = sub.add_parser("check", help="check the paper's claims: pass / fail / inconclusive",
                        description="Run the sweeps behind the paper's claims (quick scale unless "
                        "--full; resumable), measure each claim and apply its pass rule.")
    ck.add_argument("--full", action="store_true", help="the paper-scale recipes (hours)")
    ck.add_argument("--claims", default=None, metavar="ID[,ID...]",
                    help="check only these claims (see --list)")
    ck.add_argument("--claims-file", dest="claims_file", default=None, metavar="FILE.py",
                    help="also check the CLAIMS list of this Python file (docs/claims.md)")
    ck.add_argument("--out", default=None, help=f"results directory (default {DEFAULT_OUT}); "
                    "each recipe runs into OUT/<figure>")
    ck.add_argument("--list", action="store_true", help="print the claims and exit")
    ck.add_argument("--quiet", action="store_true", help="no progress lines")


def cmd_check(ns) -> int:
    claims = paper_claims()
    if ns.claims_file:
        extra = load_claims_file(ns.claims_file)
        known = {c.id for c in claims}
        dup = [c.id for c in extra if c.id in known]
        if dup:
            raise ConfigError("claims_file", f"claim id(s) {', '.join(dup)} already exist")
        claims += extra
    claims = select(claims, ns.claims)
    if ns.list:
        for c in claims:  # cost: the quick recipes' wall time from empty, when declared
            cost = sum(r.cost_s or 0 for r in c.recipes)
            print(f"{c.id:34s} fig. {','.join(c.figures):9s} {cost:5.0f} s  {c.statement}")
        return 0
    out = Path(ns.out or DEFAULT_OUT)
    log = None if ns.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    verdicts = check(claims, out, full=ns.full, quiet=True, log=log)
    print_table(verdicts)
    html = write_claims_html(table(verdicts, ns.full), out)
    print(f"wrote {out / 'claims.parquet'}, {html} ({time.perf_counter() - t0:.0f} s)")
    return 0


def report_html(res, runs, path, columns, fit_text) -> int:
    """``groklab report OUT --html FILE``: writes FILE only (never into OUT)."""
    fit = None
    try:
        fit = fit_text(runs)
    except ConfigError:  # no sweep over lr * beta: no fit line
        pass
    res.runs = runs
    write_results_html(res, path, columns, fit)
    print(f"wrote {path}")
    return 0
