"""``report --html`` agrees with itself: its fit lines are ``report --fit``'s, each its own
paragraph; every run's curves are on the page (a sheet per 64 runs, linked from the runs table)
within the page-size budget; ``--columns`` chooses the table's columns; a full disk is one line."""
from __future__ import annotations

import errno
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import toy_family  # noqa: F401 -- registers the toy family

import groklab
from groklab.cli import main
from groklab.plotting import sheet_layout
from groklab.results import load
from groklab.store import Store

#: the stated page-size budget (docs/claims.md): 2 MB for a 1024-run sweep, of which at most
#: 100 KB (base64) per sheet of 64 runs
BUDGET_1024 = 2_000_000
SHEET_BUDGET = 100_000


def sweep_grid(n_lr: int, n_beta: int, n_seeds: int = 1) -> dict:
    """n_lr x n_beta x n_seeds toy runs, some not detected by the horizon; every (lr, beta)
    cell draws different curves (the seed only moves the target, not the relative errors)."""
    return {"lr": [round(float(x), 4) for x in np.linspace(0.05, 0.8, n_lr)],
            "beta": [round(float(x), 6) for x in np.logspace(-3.3, -0.7, n_beta)],
            "seed": list(range(n_seeds)), "steps": 3000, "log_every": 5}


def fit_paragraphs(page: str) -> list[str]:
    """The text of each paragraph of the page's Fit section."""
    m = re.search(r"<h2>Fit</h2>(.*?)<h2>", page, re.S)
    assert m, "no Fit section"
    return [html.unescape(re.sub(r"<[^>]+>", "", p)) for p in re.findall(r"<p>(.*?)</p>",
                                                                         m.group(1), re.S)]


@pytest.fixture(scope="module")
def with_failed(tmp_path_factory):
    """A toy sweep where two runs are not detected by the horizon: one still falling there
    (censored), one whose test error stopped falling above the threshold (failed) -- the two
    differ only in the stored curves, which is what the page once ignored."""
    tmp = tmp_path_factory.mktemp("fit")
    res = groklab.sweep({"lr": 0.5, "beta": [1e-4, 2e-4, 1e-2, 2e-2, 5e-2, 1e-1], "steps": 2000,
                         "log_every": 20}, problem="toy-shrinkage", out=tmp / "src")
    runs, curves = res.runs, res.curves.copy()
    never = runs[runs.t2.isna()].run_id.tolist()
    assert len(never) == 2, runs[["beta", "t2"]]
    stuck = curves.run_id == never[0]
    curves.loc[stuck & (curves.step >= 500), "test_error"] = 0.4  # flat above the threshold
    out = tmp / "dir"
    Store(out).write_part(runs, curves)
    return out


def test_page_fit_is_report_fit_line_for_line(with_failed, tmp_path, capsys):
    assert main(["report", str(with_failed), "--fit", "delta_t"]) == 0
    cli_lines = capsys.readouterr().out.strip().splitlines()
    page = tmp_path / "p.html"
    assert main(["report", str(with_failed), "--html", str(page)]) == 0
    assert fit_paragraphs(page.read_text(encoding="utf-8")) == cli_lines
    # the numbers say it: 4 detected, 1 censored, 1 failed (not the 2 censored a fit that
    # ignores the curves counts)
    assert len(cli_lines) == 2 and "n = 4 runs (2 of 6" in cli_lines[0]
    assert "n = 5 runs of which 1 censored" in cli_lines[1]
    assert cli_lines[1].endswith("1 left out as failed (not detected, error no longer falling "
                                 "at the horizon)")


def test_sheet_layout_puts_every_run_in_one_cell():
    # 3 x 5 x 11 runs: 11 values of x wrap into rows of 8 + 3; 30 rows on 4 sheets
    rows = [dict(run_id=f"r{a}-{b}-{c}", problem="toy-shrinkage", dim=8, lr=a, beta=b, seed=c,
                 steps=100, log_every=1, log_dense_until=0, log_spacing="linear")
            for a in (0.1, 0.2, 0.3) for b in (1e-3, 2e-3, 3e-3, 4e-3, 5e-3) for c in range(11)]
    runs = pd.DataFrame(rows).sample(frac=1, random_state=0)  # the table's order is no help
    sheets = sheet_layout(runs)
    ids = [r for s in sheets for r in s.run_ids]
    assert sorted(ids) == sorted(runs.run_id) and len(set(ids)) == len(ids)
    assert [len(s.rows) for s in sheets] == [8, 8, 8, 6]
    for s in sheets:
        assert s.x == "seed"
        for name, g in s.rows:
            assert 1 <= len(g) <= 8 and list(g.seed) == sorted(g.seed)
            assert g.lr.nunique() == 1 and g.beta.nunique() == 1
            assert name == f"lr={g.lr.iloc[0]:g}, beta={g.beta.iloc[0]:g}"


def _page_reaches_every_run(out: Path, page: Path) -> list[int]:
    """Every run id of the directory links to a sheet that is on the page; the size of each
    sheet's picture."""
    text = page.read_text(encoding="utf-8")
    links = dict((rid, a) for a, rid in re.findall(r'<a href="#(sheet-\d+)">([^<]+)</a>', text))
    sheets = re.findall(r'<h3 id="(sheet-\d+)">[^<]*</h3><img alt="[^"]*" src="([^"]+)"', text)
    assert set(links) == set(load(out).runs.run_id)
    assert set(links.values()) == {a for a, _ in sheets}
    assert text.count("<img") == 1 + len(sheets)  # the summary, then the sheets
    return [len(src) for _, src in sheets]


def test_sweep_page_reaches_every_run_within_budget(tmp_path):
    """128 runs: 2 sheets, every run linked to its sheet, each sheet within its budget."""
    out = tmp_path / "r"
    groklab.sweep(sweep_grid(8, 8, 2), problem="toy-shrinkage", out=out)
    page = tmp_path / "p.html"
    assert main(["report", str(out), "--html", str(page)]) == 0
    sizes = _page_reaches_every_run(out, page)
    assert len(sizes) == 2 and max(sizes) <= SHEET_BUDGET, sizes


@pytest.mark.slow
def test_1024_run_page_is_within_the_stated_budget(tmp_path):
    """The worst case for the pictures: 32 x 32 runs, no two cells alike."""
    out = tmp_path / "r"
    groklab.sweep(sweep_grid(32, 32), problem="toy-shrinkage", out=out)
    page = tmp_path / "p.html"
    assert main(["report", str(out), "--html", str(page)]) == 0
    sizes = _page_reaches_every_run(out, page)
    assert len(sizes) == 16 and max(sizes) <= SHEET_BUDGET, sizes
    assert page.stat().st_size <= BUDGET_1024, page.stat().st_size


def test_html_table_has_the_columns_asked_for(with_failed, tmp_path, capsys):
    page = tmp_path / "p.html"
    assert main(["report", str(with_failed), "--html", str(page), "--columns",
                 "run_id,beta,t2"]) == 0
    head = re.search(r"<thead><tr>(.*?)</tr>", page.read_text(encoding="utf-8")).group(1)
    assert re.findall(r'data-col="([^"]+)"', head) == ["run_id", "beta", "t2"]
    capsys.readouterr()
    assert main(["report", str(with_failed), "--html", str(tmp_path / "q.html"), "--columns",
                 "run_id,bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--columns" in err[0] and "bogus" in err[0]
    assert not (tmp_path / "q.html").exists()


@pytest.mark.parametrize("value", ["", ",", "run_id,,t2", "run_id, "])
def test_empty_column_name_is_refused(with_failed, value, capsys):
    assert main(["report", str(with_failed), "--columns", value]) == 2
    out = capsys.readouterr()
    err = out.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("groklab report: error: --columns:"), err
    assert repr(value) in err[0] and out.out == ""


def test_report_html_on_a_full_disk_is_one_line_and_leaves_nothing(with_failed, tmp_path,
                                                                     monkeypatch, capsys):
    def full(self, text, encoding=None):  # half the page reaches the disk, then it is full
        with open(self, "w", encoding=encoding) as f:
            f.write(text[: len(text) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    target = tmp_path / "pages" / "p.html"
    assert main(["report", str(with_failed), "--html", str(target)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and str(target) in err[0], err
    assert list(target.parent.iterdir()) == []  # the temporary file is gone too


def test_accuracy_family_sheets_use_an_accuracy_scale():
    """The sheets draw what the family declares: accuracy on [0, 1] for a family whose errors
    are 1 - accuracy, the errors on a log scale otherwise."""
    from groklab.plotting.sheets import scales

    steps = np.arange(1, 101)
    curves = pd.DataFrame({"run_id": "m", "step": steps, "train_error": 1 / steps,
                           "test_error": 1 - steps / 200, "train_accuracy": 1 - 1 / steps,
                           "test_accuracy": steps / 200})
    sc = scales(pd.DataFrame({"run_id": ["m"], "problem": ["modular"]}), curves)
    assert sc.accuracy == ("train_accuracy", "test_accuracy") and (sc.y0, sc.y1) == (0, 1)
    assert "accuracy 0 to 1" in sc.text()
    sc = scales(pd.DataFrame({"run_id": ["m"], "problem": ["sparse-recovery"]}), curves)
    assert sc.accuracy is None and (sc.y0, sc.y1) == (-2, 0) and "(log)" in sc.text()
