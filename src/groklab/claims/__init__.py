"""The paper's claims as data, and the checker that gives each a verdict (``groklab check``).

* :mod:`.record` -- :class:`Claim`, :class:`Recipe`, :class:`Verdict`, the statuses;
* :mod:`.rules` -- composable pass rules with their tolerance in words;
* :mod:`.measures` -- the measurements claims share (delay fits, rank correlations, ...);
* the paper's claims live with their families (``groklab/families/<name>/claims.py``, exported
  as ``CLAIMS`` by the family's figures module) -- this package names no family;
* :mod:`.runner` -- runs the recipes, judges the claims, writes ``claims.parquet``.

A user's own claims: a Python file defining ``CLAIMS``, a list of :class:`Claim`
(``groklab check --claims-file my_claims.py``; docs/claims.md).
"""
from . import measures, rules
from .record import (EXTENSION, FAIL, FAITHFUL, HORIZON, INCONCLUSIVE, MISSING, OWN, PAPER, PASS,
                     STAND_IN, STATUSES, TOO_FEW, USER, Claim, Inconclusive, Recipe, Verdict,
                     figure_recipe, grid_recipe)
from .runner import (CLAIMS_FILE, check, listing, load_claims_file, paper_claims, print_table,
                     select, table)

__all__ = ["Claim", "Recipe", "Verdict", "Inconclusive", "PASS", "FAIL", "INCONCLUSIVE",
           "STATUSES", "PAPER", "EXTENSION", "USER", "FAITHFUL", "STAND_IN", "OWN", "HORIZON",
           "TOO_FEW", "MISSING", "figure_recipe", "grid_recipe", "measures", "rules", "check",
           "listing", "load_claims_file", "paper_claims", "print_table", "select", "table",
           "CLAIMS_FILE"]
