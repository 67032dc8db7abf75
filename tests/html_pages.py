"""Pages for the HTML tests: a toy-family results directory with its ``report --html`` page, a
100-run toy sweep with its page (a summary and the sheets of every run's curves), and a ``check``
page built from toy verdicts with a picture each (cheap: toy runs, one small PNG)."""
from __future__ import annotations

import base64
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import toy_family  # noqa: E402,F401 -- registers the toy family

import groklab  # noqa: E402
from groklab.claims import Verdict, table  # noqa: E402
from groklab.cli import main  # noqa: E402
from groklab.html import write_claims_html  # noqa: E402

from claims_toy import CLAIMS  # noqa: E402

GRID = {"lr": 0.5, "beta": [1e-2, 3e-2, 1e-1], "steps": 3000, "log_every": 5}
#: 2 x 5 x 10 runs: seed (10 values) runs across the sheets' rows, 8 cells a row then a wrap,
#: so 20 rows of cells on 3 sheets (8 + 8 + 4 rows)
SWEEP = {"lr": [0.3, 0.5], "beta": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1], "seed": list(range(10)),
         "steps": 3000, "log_every": 25}


def tree_state(root: Path) -> dict:
    """Every file under root with its size and mtime (to show nothing was written there)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


_BUILT: dict = {}


def pages_once(tmp_path_factory) -> dict:
    """The pages, built once per test session (two test modules read them)."""
    if "pages" not in _BUILT:
        _BUILT["pages"] = build(tmp_path_factory.mktemp("html"))
    return _BUILT["pages"]


def build(tmp: Path) -> dict:
    out = tmp / "toy"
    groklab.sweep(GRID, problem="toy-shrinkage", out=out)
    before = tree_state(out)
    results_page = tmp / "pages" / "results.html"
    assert main(["report", str(out), "--html", str(results_page)]) == 0
    assert tree_state(out) == before, "report --html wrote into the results directory"
    sweep = tmp / "sweep"
    groklab.sweep(SWEEP, problem="toy-shrinkage", out=sweep)
    sweep_page = tmp / "pages" / "sweep.html"
    assert main(["report", str(sweep), "--html", str(sweep_page)]) == 0
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2, 3], [3, 1, 2])
    png = tmp / "pic.png"
    fig.savefig(png)
    plt.close(fig)
    statuses = ("pass", "fail", "inconclusive")
    verdicts = [Verdict(c, s, {"exponent": -1.0 - k, "n": 6}, f"reason {k}", picture=str(png))
                for k, (c, s) in enumerate(zip(CLAIMS, statuses))]
    claims_page = write_claims_html(table(verdicts), tmp / "check")
    return {"results": results_page, "claims": claims_page, "out": out, "n_claims": len(verdicts),
            "sweep": sweep_page, "sweep_out": sweep}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.rows: list[list[str]] = []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(text: str) -> Tags:
    p = Tags()
    p.feed(text)
    return p


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG after checking its signature and its IHDR chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    body = data[16:29]
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(kind + body), "bad IHDR CRC"
    return struct.unpack(">II", body[:8])


def data_png(src: str) -> bytes:
    m = re.fullmatch(r"data:image/png;base64,([A-Za-z0-9+/=]+)", src)
    assert m, f"not an inline PNG: {src[:60]}"
    return base64.b64decode(m.group(1), validate=True)
