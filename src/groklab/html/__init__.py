"""Self-contained HTML reports (no network, no external assets): ``groklab check`` writes
``OUT/report.html`` (:mod:`.claims_page`), ``groklab report OUT --html FILE`` one page for any
results directory (:mod:`.results_page`).  Shared building blocks: :mod:`.page`."""
from .claims_page import claims_html, write_claims_html
from .results_page import results_html, write_results_html

__all__ = ["claims_html", "write_claims_html", "results_html", "write_results_html"]
