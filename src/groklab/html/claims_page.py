"""``OUT/report.html`` of ``groklab check``: the paper's claims grouped by the paper's sections,
each with what the paper says (and where) beside groklab's verdict and the setting it was taken
at (the paper's hyperparameters, or a labelled stand-in); then groklab's own questions
(extensions) and a user's claims apart; per claim its rule, the numbers measured and its figure;
then the provenance."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from . import page as H

ORDER = {"fail": 0, "inconclusive": 1, "pass": 2}
#: how each source is titled on the page, in page order
SOURCES = {"paper": "The paper's claims", "extension": "groklab's own questions (extensions: "
           "not claims of the paper)", "user": "Your claims (--claims-file)"}


def badge(status: str, why: str = "") -> tuple[str, str]:
    """Cell HTML and its sort key (an inconclusive verdict says why: horizon, too-few, ...)."""
    text = status + (f" ({why})" if why else "")
    return f'<span class="badge {H.esc(status)}">{H.esc(text)}</span>', str(ORDER.get(status, 9))


def _col(claims: pd.DataFrame, name: str, default=""):
    """A column of a claims table, or ``default`` for a table written by an older groklab."""
    return claims[name] if name in claims else pd.Series([default] * len(claims),
                                                          index=claims.index)


def _section_key(section: str):
    """Paper order: "§3.1 ..." before "§4 ...", appendices ("§H.3") after, unnamed last."""
    m = re.match(r"§\s*([0-9A-Z]+)((?:\.[0-9]+)*)", section or "")
    if not m:
        return (2, 0, (), section or "")
    head, rest = m.group(1), tuple(int(x) for x in m.group(2).split(".") if x)
    return (0, int(head), rest, section) if head.isdigit() else (1, 0, (ord(head[0]),) + rest,
                                                                  section)


def _counts(df: pd.DataFrame) -> str:
    c = df.status.value_counts().to_dict()
    return ", ".join(f"{c.get(s, 0)} {s}" for s in ("pass", "fail", "inconclusive"))


def _verdict_table(df: pd.DataFrame) -> str:
    paper = (df.source == "paper").all()
    cols = {"id": [(f'<a href="#{H.esc(i)}">{H.esc(i)}</a>', i) for i in df.id],
            "status": [badge(s, w) for s, w in zip(df.status, df.why_inconclusive)]}
    if paper:
        cols |= {"setting": list(df.setting), "where": list(df["where"]),
                 "the paper says": list(df.paper_says)}
    else:
        cols |= {"figure": list(df.figure), "why asked": list(df.why)}
    cols |= {"groklab tests": list(df.statement), "measured": list(df.reason)}
    return H.table(pd.DataFrame(cols), raw={"id", "status"})


def _claim_block(r) -> str:
    measured = json.loads(r.measured) if r.measured else {}
    says = (f"<p><b>The paper says</b> ({H.esc(r.where)}): {H.esc(r.paper_says)}</p>"
            if r.paper_says else "")
    why = f"<p><b>Why groklab asks:</b> {H.esc(r.why)}</p>" if r.why else ""
    setting = ""
    if r.setting in ("faithful", "stand-in"):
        setting = (f"<p><b>Setting:</b> {H.esc(r.setting)}"
                   + (f" &mdash; {H.esc(r.stand_in)}" if r.stand_in else
                      " (the paper's hyperparameters)") + "</p>")
    return (f'<div class="claim" id="{H.esc(r.id)}"><h3>{badge(r.status, r.why_inconclusive)[0]} '
            f"{H.esc(r.id)}</h3>{says}{why}"
            f"<p><b>groklab tests</b> (fig. {H.esc(r.figure)}): {H.esc(r.statement)}</p>"
            f"{setting}<p><b>Rule:</b> <code>{H.esc(r.rule)}</code></p>"
            f"<p><b>Verdict:</b> {H.esc(r.reason)}</p>"
            + (f'<p class="muted">{H.esc(r.note)}</p>' if r.note else "")
            + (H.kv_table(measured) if measured else "")
            + f'<p class="muted">evidence: {H.esc(r.recipes)} ({r.seconds:.0f} s)</p>'
            + H.png_file_img(r.picture, alt=f"figure for {r.id}") + "</div>")


def claims_html(claims: pd.DataFrame, out, title: str = "groklab check") -> str:
    """The page for a claims table (the rows of claims.parquet)."""
    claims = claims.copy()
    for name, default in (("source", "user"), ("section", ""), ("where", ""),
                          ("paper_says", ""), ("why", ""), ("setting", "own"), ("stand_in", ""),
                          ("why_inconclusive", "")):
        claims[name] = _col(claims, name, default).fillna(default)
    scale = ", ".join(sorted(claims.scale.unique())) if "scale" in claims else ""
    paper = claims[claims.source == "paper"]
    faithful = paper[paper.setting == "faithful"]
    parts = [f"<h1>{H.esc(title)}</h1>",
             f"<p>{len(claims)} claims ({H.esc(scale)} scale): <b>{H.esc(_counts(claims))}</b>. "
             f"The paper's claims at the paper's settings: <b>{H.esc(_counts(faithful))}</b> of "
             f"{len(faithful)}; {len(paper) - len(faithful)} more at stand-in settings (labelled, "
             "not counted as the paper's). A failing claim is a finding: the numbers behind "
             "every verdict are below. Click a header to sort.</p>"]
    for source, heading in SOURCES.items():
        part = claims[claims.source == source]
        if part.empty:
            continue
        parts.append(f"<h2>{H.esc(heading)}: {H.esc(_counts(part))}</h2>")
        groups = sorted(part.section.unique(), key=_section_key) if source == "paper" else [None]
        for section in groups:
            df = part if section is None else part[part.section == section]
            if section is not None:
                parts.append(f"<h3>{H.esc(section or 'elsewhere')}</h3>")
            parts.append(_verdict_table(df))
    for source in SOURCES:
        for r in claims[claims.source == source].itertuples(index=False):
            parts.append(_claim_block(r))
    recipes = dict.fromkeys(n for rs in claims.recipes for n in str(rs).split(",") if n)
    parts.append(H.provenance(out, *(Path(out) / n for n in recipes)))
    return H.document(title, "".join(parts))


def write_claims_html(claims: pd.DataFrame, out, path=None) -> Path:
    out = Path(out)
    return H.write_atomic(claims_html(claims, out), path or out / "report.html")
