"""The HTML pages in a real headless browser (Chromium): they render, the inline script runs and
sorts the table, every image loads, nothing is logged to the console, and a screenshot shows a
page.  ``make test`` installs Chromium when it is missing (scripts/ensure-browser.sh); without a
browser these tests FAIL, unless GROKLAB_ALLOW_NO_BROWSER=1 says to skip them (local use only).
GROKLAB_BROWSER names a Chromium-family binary that is not on PATH."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import assert_png
from groklab.html import page as H
from html_pages import pages_once, parse, png_size

BROWSER = os.environ.get("GROKLAB_BROWSER") or next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome",
                               "google-chrome-stable") if shutil.which(n)), None)


@pytest.fixture(scope="module")
def browser():
    if BROWSER is None:
        if os.environ.get("GROKLAB_ALLOW_NO_BROWSER") == "1":
            pytest.skip("no Chromium on PATH and GROKLAB_ALLOW_NO_BROWSER=1")
        pytest.fail("no Chromium on PATH: install it (make test does: scripts/ensure-browser.sh), "
                    "name one with GROKLAB_BROWSER=/path/to/chrome, or set "
                    "GROKLAB_ALLOW_NO_BROWSER=1 to skip the browser tests locally")
    return BROWSER


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return pages_once(tmp_path_factory)


def chromium(browser, tmp_path, url: str, *extra) -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and the console lines Chromium logged."""
    p = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                        "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
                        *extra, url], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout, [ln for ln in p.stderr.splitlines() if ":CONSOLE" in ln]


def body(dom: str) -> dict:
    return next(a for t, a in parse(dom).tags if t == "body")


def test_results_page_renders_sorts_and_loads_every_image(browser, pages, tmp_path):
    dom, console = chromium(browser, tmp_path, pages["results"].as_uri() + "#sort=-t2",
                            "--dump-dom")
    b = body(dom)
    assert b.get("data-js") == "ready" and b.get("data-sorted") == "-t2"
    ok, total = map(int, b["data-images"].split("/"))
    assert total >= 1 and ok == total
    head, *rows = parse(dom).rows[:4]
    t2 = [float(r[head.index("t2")]) for r in rows]
    assert t2 == sorted(t2, reverse=True) and len(set(t2)) == 3  # the script sorted them
    assert console == [], console


def test_sweep_page_loads_every_sheet_and_every_link_lands(browser, pages, tmp_path):
    """The 100-run sweep's page: the summary and the 3 sheets load, every run id in the table
    links to an element of the page, and sorting keeps the links."""
    dom, console = chromium(browser, tmp_path, pages["sweep"].as_uri() + "#sort=-beta",
                            "--dump-dom")
    b = body(dom)
    assert b.get("data-js") == "ready" and b.get("data-sorted") == "-beta"
    assert b["data-images"] == "4/4"
    ids = {a["id"] for t, a in parse(dom).tags if "id" in a}
    links = [a["href"] for t, a in parse(dom).tags if t == "a" and "href" in a]
    assert len(links) == 100 and all(h[1:] in ids for h in links)
    head, *rows = parse(dom).rows[:101]
    beta = [float(r[head.index("beta")]) for r in rows]
    assert beta == sorted(beta, reverse=True)
    assert console == [], console


def test_claims_page_renders_with_every_figure(browser, pages, tmp_path):
    dom, console = chromium(browser, tmp_path, pages["claims"].as_uri() + "#sort=status",
                            "--dump-dom")
    b = body(dom)
    assert b.get("data-js") == "ready"
    assert b["data-images"] == f"{pages['n_claims']}/{pages['n_claims']}"
    status = [r[1] for r in parse(dom).rows[1:1 + pages["n_claims"]]]
    assert status == ["fail", "inconclusive", "pass"]  # failures first
    assert console == [], console


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    """Control: a script error reaches the console lines, and a bad image is counted as not
    loaded -- so the two tests above can fail."""
    bad = tmp_path / "bad.html"
    bad.write_text(H.document("bad", '<img alt="x" src="data:image/png;base64,AAAA">'
                              "<script>null.boom;</script>"))
    dom, console = chromium(browser, tmp_path, bad.as_uri(), "--dump-dom")
    assert body(dom)["data-images"] == "0/1"
    assert any("Uncaught" in ln for ln in console), console


def test_screenshot_shows_the_page(browser, pages, tmp_path):
    shot = tmp_path / "shot.png"
    chromium(browser, tmp_path, pages["claims"].as_uri(), f"--screenshot={shot}",
             "--window-size=1000,800", "--hide-scrollbars")
    assert png_size(shot.read_bytes()) == (1000, 800)
    assert_png(shot, min_size=700)  # neither blank nor one solid colour: text, badges, a table
    assert re.search(rb"IDAT", shot.read_bytes())
