"""Reference tables in docs/ generated from the code must not drift from it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "claims-table.py"


def _script():
    spec = importlib.util.spec_from_file_location("claims_table", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_claims_table_of_docs_is_the_registrys():
    mod = _script()
    text = mod.DOC.read_text()
    assert mod.replaced(text) == text, "docs/claims.md drifted: run scripts/claims-table.py"


def test_the_drift_check_can_fail():
    mod = _script()
    text = mod.DOC.read_text()
    stale = text.replace(mod.BEGIN, mod.BEGIN + "| `old.claim` | paper | Fig. 0 |\n", 1)
    assert mod.replaced(stale) != stale
