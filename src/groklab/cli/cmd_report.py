"""``groklab report``: the tidy runs table, or one fitted exponent, of a results directory."""
from __future__ import annotations

from ..fields import ConfigError
from ..lazy import load as load_module
from ..results import load
from ..tables import redetect
from .options import detection, detection_given
from .report import print_runs, report_extras, table_columns

#: the ``--html`` page's module (it draws plots: imported only when a page is asked for)
HTML = "groklab.cli.report_page"


def column_list(text: str | None) -> list[str] | None:
    """``--columns a,b``: the names, None when not given; an empty name is bad input."""
    if text is None:
        return None
    names = [c.strip() for c in text.split(",")]
    if not all(names):
        raise ConfigError("columns", f"{text!r} has an empty column name; give a comma list of "
                          "columns, e.g. run_id,t1,t2")
    return names


def main(ns) -> int:
    columns = column_list(ns.columns)  # checked before anything is read
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
        return load_module(HTML).main(res, runs, ns.html, table_columns(runs, columns))
    print_runs(runs, ns.format, columns)
    return 0
