"""The HTML pages are self-contained: no external reference, every image an inline PNG that
decodes; ``report --html`` writes only its FILE; the table has the runs and their times."""
from __future__ import annotations

import re

import pytest

from groklab.html import page as H
from groklab.results import load
from html_pages import data_png, pages_once, parse, png_size


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return pages_once(tmp_path_factory)


@pytest.mark.parametrize("which", ["results", "sweep", "claims"])
def test_page_is_self_contained(pages, which):
    text = pages[which].read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    tags = parse(text).tags
    assert not [t for t, _ in tags if t in ("link", "iframe", "object", "embed", "base")]
    assert all("src" not in a for t, a in tags if t == "script")
    imgs = [a["src"] for t, a in tags if t == "img"]
    assert imgs, "no image embedded"
    for src in imgs:
        w, h = png_size(data_png(src))
        assert w > 50 and h > 50
    for t, a in tags:  # no attribute points outside the page (anchors stay inside: '#id')
        for k, v in a.items():
            if k in ("href", "src", "action", "poster", "data"):
                assert v.startswith(("#", "data:")), (t, k, v[:40])
    assert len(H.SCRIPT.encode()) < 4096  # "a few KB of inline JS at most"


def test_results_page_lists_the_runs_and_the_fit(pages):
    p = parse(pages["results"].read_text(encoding="utf-8"))
    head, *rows = p.rows[: 1 + 3]
    for col in ("run_id", "lr", "beta", "t1", "t2", "delta_t"):
        assert col in head
    assert len(rows) == 3 and len({r[head.index("t2")] for r in rows}) == 3
    assert "beta)^k" in pages["results"].read_text()  # the fit line of a sweep over lr * beta


def test_sweep_page_draws_every_run_and_links_each_to_its_sheet(pages):
    text = pages["sweep"].read_text(encoding="utf-8")
    sheets = re.findall(r'<h3 id="(sheet-\d+)">', text)
    assert sheets == ["sheet-1", "sheet-2", "sheet-3"]  # 20 rows of cells: 8 + 8 + 4
    links = re.findall(r'<a href="#(sheet-\d+)">([^<]+)</a>', text)
    assert sorted(rid for _, rid in links) == sorted(load(pages["sweep_out"]).runs.run_id)
    assert {a for a, _ in links} == set(sheets)
    assert text.count("<img") == 1 + len(sheets)


def test_fit_lines_are_separate_paragraphs(pages):
    fit = re.search(r"<h2>Fit</h2>(.*?)<h2>", pages["results"].read_text(), re.S).group(1)
    paras = re.findall(r"<p><code>(.*?)</code></p>", fit, re.S)
    assert len(paras) == 2 and paras[1].startswith("censored fit") and "\n" not in "".join(paras)


def test_claims_page_has_badges_numbers_and_one_picture_per_claim(pages):
    text = pages["claims"].read_text(encoding="utf-8")
    for s in ("pass", "fail", "inconclusive"):
        assert f'class="badge {s}"' in text
    assert text.count("<img") == pages["n_claims"] and "exponent" in text
    assert "no manifest.json" in text  # provenance: absent manifest is said, not an error


def test_provenance_shows_the_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text(
        '{"format": "v9", "commands": [{"argv": ["run"]}, {"argv": ["check"], "git": "abc"}]}')
    html = H.provenance(tmp_path / "nothing-here", tmp_path)  # the first dir that has one
    assert "v9" in html and "2 entries" in html
    assert "abc" in html and "check" in html  # the latest command in full


def test_html_is_written_atomically(tmp_path):
    target = tmp_path / "a" / "page.html"
    H.write_atomic("x", target)
    H.write_atomic("y", target)
    assert target.read_text() == "y" and [p.name for p in target.parent.iterdir()] == ["page.html"]


def test_report_html_does_not_import_torch(tmp_path):
    """``report --html`` needs no tensors: in a fresh interpreter it must not import torch."""
    import subprocess
    import sys

    import groklab
    out = tmp_path / "r"
    groklab.sweep({"dim": 20, "sparsity": 2, "measurements": 10, "lr": 0.1,
                   "l1": [1e-3, 3e-3], "steps": 300, "log_every": 50}, out=out)
    page = tmp_path / "p.html"
    code = ("import sys\nfrom groklab.cli import main\n"
            f"assert main(['report', {str(out)!r}, '--html', {str(page)!r}]) == 0\n"
            "assert 'torch' not in sys.modules, 'report --html imported torch'\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert page.read_text().count("<img") >= 1
