#!/usr/bin/env python3
"""Regenerate the claims table of docs/claims.md from the registry (between the
``claims-table`` markers).  ``--check`` exits 1 when the page differs (tests/test_docs_tables.py
runs the same comparison)."""
import sys
from pathlib import Path

from groklab.claims import paper_claims
from groklab.cli.check import markdown_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "claims.md"
BEGIN, END = "<!-- claims-table: begin (scripts/claims-table.py) -->\n", "<!-- claims-table: end -->\n"


def replaced(text: str) -> str:
    i, j = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:i] + markdown_table(paper_claims()) + text[j:]


if __name__ == "__main__":
    text = DOC.read_text()
    new = replaced(text)
    if "--check" in sys.argv:
        sys.exit(0 if new == text else 1)
    DOC.write_text(new)
