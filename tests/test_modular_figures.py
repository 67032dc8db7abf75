"""Modular-arithmetic figures (fig1, fig2, fig30): registration, and each draws at a tiny scale."""
from __future__ import annotations

import pytest

from groklab.families.modular import figures as figs
from groklab.figures import all_figures

from conftest import assert_png

FIGURES = all_figures()

TINY_BASE = dict(modulus=11, train_fraction=0.5, batch_size=0, width=16, steps=60, log_every=10,
                 log_dense_until=20, log_spacing="linear")


def test_modular_figures_are_registered():
    assert set(figs.FIGURES) == {"fig1", "fig2", "fig30", "transformer"}
    for name, fig in figs.FIGURES.items():
        assert FIGURES[name] is fig and fig.name == name


def test_full_scale_is_the_papers_setting():
    full = figs.SCALES["fig1"]["full"]
    assert full["base"]["modulus"] == 97 and full["base"]["train_fraction"] == 0.4
    assert full["base"]["batch_size"] == 2048 and full["base"]["steps"] == 20_002
    assert full["lr"] == 1e-2 and full["betas"] == figs.PAPER_BETAS
    assert figs.SCALES["fig2"]["full"]["lr"] == [1e-3, 1e-2, 1e-1]
    grids = figs._grids(figs.SCALES["fig30"]["full"])
    assert sum(len(g["lr"]) * len(g[k]) for g, k in zip(grids, ("l1", "l2"))) == 36


@pytest.mark.parametrize("name", ["fig1", "fig2", "fig30"])
def test_modular_figures_draw(name, tmp_path, monkeypatch):
    for k, sc in figs.SCALES.items():
        q = dict(sc["quick"], base=TINY_BASE,
                 betas={b: v[:2] for b, v in sc["quick"]["betas"].items()})
        if isinstance(q["lr"], list):
            q["lr"] = q["lr"][:2]
        monkeypatch.setitem(figs.SCALES, k, {**sc, "quick": q})
    png = figs.FIGURES[name].reproduce(tmp_path / name)
    assert png.name == f"{name}.png"
    assert_png(png)
    again = figs.FIGURES[name].reproduce(tmp_path / name)  # resumable: only redraws
    assert again == png
