"""Teacher-student figures (fig10, fig11, fig31-34): registration, the paper's full-scale grids,
and each draws at a tiny scale and stores its runs."""
from __future__ import annotations

import pandas as pd
import pytest

import groklab

from groklab.families.teacher_student import figures as figs
from groklab.figures import all_figures

from conftest import assert_png

FIGURES = all_figures()

TINY_BASE = dict(input_dim=8, hidden=16, outputs=2, train_size=10, test_size=30, steps=60,
                 log_every=10, log_dense_until=20, log_spacing="linear")
NAMES = ("fig10", "fig11", "fig31", "fig32", "fig33", "fig34")


def test_figures_are_registered():
    assert set(figs.FIGURES) == set(NAMES)
    for name, fig in figs.FIGURES.items():
        assert FIGURES[name] is fig and fig.name == name


def test_full_scale_is_the_papers_setting():
    for name in ("fig31", "fig32", "fig33", "fig34"):
        full = figs.SCALES[name]["full"]
        assert len(full["lr"]) * len(full["betas"]) == 42
        b = full["base"]
        assert (b["input_dim"], b["hidden"], b["outputs"], b["train_size"], b["test_size"]) == \
            (100, 500, 2, 100, 1000)
        assert b["steps"] == (100_000 if name == "fig34" else 1_000_000)
    assert [figs.SCALES[n]["full"]["kind"] for n in NAMES] == \
        ["l1", "sobolev", "l1", "l2", "nuclear", "sobolev"]
    assert figs.SCALES["fig10"]["full"]["lr"] == [1e-4, 1e-3, 5.5e-3]
    grid = figs._grid(figs.SCALES["fig33"]["full"])
    assert grid["l1"] == grid["l2"] == grid["sobolev"] == 0.0 and len(grid["nuclear"]) == 7


@pytest.mark.parametrize("name", NAMES)
def test_figures_draw(name, tmp_path, monkeypatch):
    for k, sc in figs.SCALES.items():
        q = dict(sc["quick"], base=TINY_BASE, lr=sc["quick"]["lr"][:2],
                 betas=sc["quick"]["betas"][-2:])
        monkeypatch.setitem(figs.SCALES, k, {**sc, "quick": q})
    png = figs.FIGURES[name].reproduce(tmp_path / name)
    assert png.name == f"{name}.png"
    assert_png(png)
    runs = groklab.load(tmp_path / name).runs
    assert len(runs) == 4 and (runs.status == "done").all()
    again = figs.FIGURES[name].reproduce(tmp_path / name)  # resumable: redraws
    assert again == png
