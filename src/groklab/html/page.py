"""Building blocks of groklab's self-contained HTML pages: one file, no network, no external
asset -- images are inline ``data:image/png;base64`` URIs, the style and the (small) script are
inline.  The script sorts a table when a header is clicked (``#sort=COLUMN`` or
``#sort=-COLUMN`` in the address sorts on load), and once the page has loaded it checks every
image and writes what it found into ``<body data-images=... data-js=ready>``, which the
headless-browser tests read back.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import platform
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from PIL import Image

from .. import __version__
from ..atomic import write_atomically

MANIFEST = "manifest.json"

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-size:12.5px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}table.sortable th{cursor:pointer}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-weight:600;
font-size:11.5px}
.pass{background:#2e7d32}.fail{background:#c62828}.inconclusive{background:#8d6e00}
img{max-width:100%;border:1px solid #eee}.muted{color:#777}code{font-size:12px}
.claim{margin:1.2em 0;padding:.6em 1em;border-left:4px solid #ccc}
"""

SCRIPT = """
(function(){
function val(td){var t=td.getAttribute('data-v');if(t===null)t=td.textContent;
var x=parseFloat(t);return isNaN(x)?[1,t.toLowerCase()]:[0,x];}
function sortBy(table,i,desc){var tb=table.tBodies[0],rows=Array.prototype.slice.call(tb.rows);
rows.sort(function(a,b){var x=val(a.cells[i]),y=val(b.cells[i]);
var c=x[0]-y[0]||(x[1]<y[1]?-1:x[1]>y[1]?1:0);return desc?-c:c;});
rows.forEach(function(r){tb.appendChild(r);});
var ths=table.tHead.rows[0].cells;for(var k=0;k<ths.length;k++)ths[k].className='';
ths[i].className=desc?'desc':'asc';
document.body.setAttribute('data-sorted',(desc?'-':'')+ths[i].getAttribute('data-col'));}
var tables=document.querySelectorAll('table.sortable');
Array.prototype.forEach.call(tables,function(t){
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){
th.addEventListener('click',function(){sortBy(t,i,th.className==='asc');});});});
var m=/sort=(-?)([^&]+)/.exec(location.hash);
if(m&&tables.length){var ths=tables[0].tHead.rows[0].cells;
for(var i=0;i<ths.length;i++)if(ths[i].getAttribute('data-col')===decodeURIComponent(m[2]))
sortBy(tables[0],i,m[1]==='-');}
window.addEventListener('load',function(){var imgs=document.images,ok=0;
for(var i=0;imgs.length>i;i++)if(imgs[i].complete&&imgs[i].naturalWidth>0)ok++;
document.body.setAttribute('data-images',ok+'/'+imgs.length);
document.body.setAttribute('data-js','ready');});
})();
"""


def esc(x) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def fmt(v) -> str:
    """A cell: floats to 4 significant digits, missing as an empty cell."""
    if v is None or (not isinstance(v, (list, tuple, dict)) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def png_img(png: bytes, alt: str = "", width: int | None = None) -> str:
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    w = f' width="{width}"' if width else ""
    return (f'<img alt="{esc(alt)}"{w} src="data:image/png;base64,'
            f'{base64.b64encode(png).decode("ascii")}">')


def compact_png(png: bytes, colors: int = 128) -> bytes:
    """``png`` with its colours reduced to a palette of ``colors``: plots (lines, markers and
    text on white) need few, and the page gets 3-4x smaller than with RGBA pictures."""
    im = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors)
    out = io.BytesIO()
    im.save(out, "PNG", optimize=True)
    return out.getvalue()


def png_file_img(path, alt: str = "") -> str:
    """An inline image of a PNG file, or a muted note when it is missing."""
    p = Path(path) if path else None
    if p is None or not p.is_file():
        return '<p class="muted">(no figure)</p>'
    return png_img(p.read_bytes(), alt)


def table(df: pd.DataFrame, sortable: bool = True, raw: set[str] = frozenset()) -> str:
    """An HTML table of ``df``; columns in ``raw`` hold HTML already (their sort key is the
    cell's ``data-v`` when given as a (html, key) pair)."""
    head = "".join(f'<th data-col="{esc(c)}">{esc(c)}</th>' for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, row):
            if c in raw:
                h, key = v if isinstance(v, tuple) else (v, None)
                dv = f' data-v="{esc(key)}"' if key is not None else ""
                cells.append(f"<td{dv}>{h}</td>")
            else:
                cells.append(f"<td>{esc(fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cls = ' class="sortable"' if sortable else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def kv_table(d: dict) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(fmt(v))}</td></tr>" for k, v in d.items())
    return f"<table>{rows}</table>"


def provenance(*dirs) -> str:
    """The provenance section: who wrote the page, then ``manifest.json`` of the first directory
    that has one (else a note that none was written)."""
    made = (f'<p class="muted">page written by groklab {esc(__version__)} (Python '
            f'{esc(platform.python_version())}, {esc(platform.platform())}) at '
            f'{datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")} UTC</p>')
    return "<h2>Provenance</h2>" + made + _manifest(dirs)


def _flat(d: dict) -> dict:
    """Nested values as one-line JSON; a list of records as its length."""
    out = {}
    for k, v in d.items():
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            out[k] = f"{len(v)} entries (the latest below)"
        else:
            out[k] = json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
    return out


def _manifest(dirs) -> str:
    for d in dirs:
        p = Path(d) / MANIFEST
        if p.is_file():
            try:
                data = json.loads(p.read_text())
            except (OSError, ValueError) as e:
                return f'<p class="muted">{esc(p)} could not be read: {esc(e)}</p>'
            data = data if isinstance(data, dict) else {"manifest": data}
            html_ = f'<p class="muted">from {esc(p)}</p>' + kv_table(_flat(data))
            for k, v in data.items():  # a log of commands: the latest one in full
                if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                    html_ += (f'<p class="muted">{esc(k)}: {len(v)} entries; the latest:</p>'
                              + kv_table(_flat(v[-1])))
            return html_
    return '<p class="muted">no manifest.json in the results directory</p>'


def document(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
            f"<body data-js=\"no\">{body}<script>{SCRIPT}</script></body></html>\n")


def write_atomic(text: str, path) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename: a
    full or read-only disk leaves no partial file and ends in one StoreError line."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
