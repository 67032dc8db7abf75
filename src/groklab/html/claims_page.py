"""``OUT/report.html`` of ``groklab check``: the verdict table (badges), then one section per claim
with its statement, rule, the numbers measured and its figure, then the provenance."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import page as H

ORDER = {"fail": 0, "inconclusive": 1, "pass": 2}


def badge(status: str) -> tuple[str, str]:
    """Cell HTML and its sort key."""
    return f'<span class="badge {H.esc(status)}">{H.esc(status)}</span>', str(ORDER.get(status, 9))


def claims_html(claims: pd.DataFrame, out, title: str = "groklab check") -> str:
    """The page for a claims table (the rows of claims.parquet)."""
    counts = claims.status.value_counts().to_dict()
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pass", "fail", "inconclusive"))
    scale = ", ".join(sorted(claims.scale.unique())) if "scale" in claims else ""
    tab = pd.DataFrame({
        "id": [(f'<a href="#{H.esc(i)}">{H.esc(i)}</a>', i) for i in claims.id],
        "status": [badge(s) for s in claims.status],
        "figure": claims.figure, "statement": claims.statement, "reason": claims.reason})
    parts = [f"<h1>{H.esc(title)}</h1>",
             f"<p>{len(claims)} claims ({H.esc(scale)} scale): <b>{H.esc(summary)}</b>. "
             "A failing claim is a finding: the numbers behind every verdict are below. "
             "Click a header to sort.</p>",
             H.table(tab, raw={"id", "status"})]
    for r in claims.itertuples(index=False):
        measured = json.loads(r.measured) if r.measured else {}
        parts.append(
            f'<div class="claim" id="{H.esc(r.id)}"><h2>{badge(r.status)[0]} {H.esc(r.id)}</h2>'
            f"<p><b>Paper (fig. {H.esc(r.figure)}):</b> {H.esc(r.statement)}</p>"
            f"<p><b>Rule:</b> <code>{H.esc(r.rule)}</code></p>"
            f"<p><b>Verdict:</b> {H.esc(r.reason)}</p>"
            + (f'<p class="muted">{H.esc(r.note)}</p>' if r.note else "")
            + (H.kv_table(measured) if measured else "")
            + f'<p class="muted">evidence: {H.esc(r.recipes)} ({r.seconds:.0f} s)</p>'
            + H.png_file_img(r.picture, alt=f"figure for {r.id}") + "</div>")
    recipes = dict.fromkeys(n for rs in claims.recipes for n in str(rs).split(",") if n)
    parts.append(H.provenance(out, *(Path(out) / n for n in recipes)))
    return H.document(title, "".join(parts))


def write_claims_html(claims: pd.DataFrame, out, path=None) -> Path:
    out = Path(out)
    return H.write_atomic(claims_html(claims, out), path or out / "report.html")
