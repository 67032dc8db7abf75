"""``groklab report``: the tidy runs table, or one fitted exponent, of a results directory."""
from __future__ import annotations

from ..lazy import load as load_module
from ..results import load
from ..tables import redetect
from .options import detection, detection_given
from .report import fit_line, print_runs, report_extras, summary_columns


HTML = "groklab.cli.check"


def main(ns) -> int:
    res = load(ns.results)
    runs = res.runs
    if detection_given(ns):
        problems = runs["problem"].unique() if "problem" in runs else []
        runs = redetect(runs, res.curves, detection(ns, problems[0] if len(problems) == 1 else None))
    extras = ns.fit or ns.aggregate or ns.progress_measures
    # the curves only when asked for: the plain table reads the runs files alone
    if extras and report_extras(ns, runs, res.curves):  # --fit, --aggregate, --progress-measures
        return 0
    if ns.html:
        # the page's module draws plots (matplotlib): imported only when a page is asked for
        return load_module(HTML).report_html(res, runs, ns.html, summary_columns(runs),
                                             lambda r: fit_line(r, "delta_t"))
    print_runs(runs, ns.format, ns.columns.split(",") if ns.columns else None)
    return 0
