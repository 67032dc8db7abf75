"""``groklab report OUT --html FILE``: writes FILE only (never into OUT).  Imported only when a
page is asked for: the page draws its plots with matplotlib."""
from __future__ import annotations

from ..fields import ConfigError
from ..html import write_results_html
from ..stats import fit_beta, fit_text


def page_fit(runs, curves) -> list[str] | None:
    """The lines of ``report --fit delta_t`` for the same runs and curves (one function, one
    text: :func:`groklab.stats.fit_text`); None when the runs do not sweep lr * beta, and the
    reason in one line when they do but no fit is possible."""
    try:
        fit_beta(runs)
    except ConfigError:
        return None
    try:
        return fit_text(runs, curves, "delta_t")
    except ConfigError as e:
        return [f"delta_t fit not possible: {e}"]


def main(res, runs, path, columns) -> int:
    write_results_html(res, path, columns, page_fit(runs, res.curves), runs=runs)
    print(f"wrote {path}")
    return 0
