#!/usr/bin/env python3
"""Regenerate the claims table of docs/claims.md from the registry (between the
``claims-table`` markers).  ``--check`` exits 1 when the page differs (tests/test_docs_tables.py
runs the same comparison).

``--readme CLAIMS.parquet`` writes README's verdict tables (between the ``claim-verdicts``
markers) from a ``groklab check`` run's claims.parquet: the paper's claims (what the paper says,
where, the setting, the verdict and its numbers), then groklab's extensions."""
import sys
from pathlib import Path

import pandas as pd

from groklab.claims import paper_claims
from groklab.cli.check import markdown_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "claims.md"
BEGIN, END = "<!-- claims-table: begin (scripts/claims-table.py) -->\n", "<!-- claims-table: end -->\n"
README = DOC.parents[1] / "README.md"
V_BEGIN = "<!-- claim-verdicts: begin (scripts/claims-table.py --readme) -->\n"
V_END = "<!-- claim-verdicts: end -->\n"


def cell(x) -> str:
    return " ".join(str(x).split()).replace("|", "\\|")


def verdict(r) -> str:
    v = r.status if r.status == "pass" else f"**{r.status.upper()}**"
    return v + (f" ({r.why_inconclusive})" if r.why_inconclusive else "")


def verdict_tables(claims) -> str:
    """The paper's claims (faithful first counted in the headline), then the extensions."""
    paper = claims[claims.source == "paper"]
    ext = claims[claims.source == "extension"]
    rows = ["| claim | where | the paper says | setting | verdict | measured |",
            "|---|---|---|---|---|---|"]
    for r in paper.itertuples(index=False):
        setting = r.setting + (f": {cell(r.stand_in)}" if r.stand_in else "")
        rows.append(f"| `{r.id}` | {cell(r.where)} | {cell(r.paper_says)} | {setting} | "
                    f"{verdict(r)} | {cell(r.reason)} |")
    rows += ["", "groklab's own questions (extensions, not counted as the paper's):", "",
             "| claim | why groklab asks | verdict | measured |", "|---|---|---|---|"]
    for r in ext.itertuples(index=False):
        rows.append(f"| `{r.id}` | {cell(r.why)} | {verdict(r)} | {cell(r.reason)} |")
    return "\n".join(rows) + "\n"


def replaced(text: str) -> str:
    i, j = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:i] + markdown_table(paper_claims()) + text[j:]


if __name__ == "__main__":
    if "--readme" in sys.argv:
        claims = pd.read_parquet(sys.argv[sys.argv.index("--readme") + 1])
        text = README.read_text()
        i, j = text.index(V_BEGIN) + len(V_BEGIN), text.index(V_END)
        README.write_text(text[:i] + verdict_tables(claims) + text[j:])
        sys.exit(0)
    text = DOC.read_text()
    new = replaced(text)
    if "--check" in sys.argv:
        sys.exit(0 if new == text else 1)
    DOC.write_text(new)
