"""The generic-engine families' figures (sparse-parity, fig35): registered, and each draws at a
tiny scale (the grids shrunk, the drawing code unchanged)."""
from __future__ import annotations

import pytest

from groklab.families.mnist import figures as mnist_figs
from groklab.families.sparse_parity import figures as parity_figs
from groklab.figures import all_figures

from conftest import assert_png


def test_figures_are_registered():
    found = all_figures()
    assert found["fig35"] is mnist_figs.FIGURES["fig35"]
    assert found["sparse-parity"] is parity_figs.FIGURES["sparse-parity"]


@pytest.mark.slow  # ~5 s; test_fig35_draws covers the shared drawing helpers in the default run
def test_sparse_parity_figure_draws(tmp_path, monkeypatch):
    tiny = dict(base=dict(parity_figs.COMMON, bits=8, n_train=40, n_test=40, width=16, steps=40,
                          log_every=5, log_dense_until=5),
                betas={"l1": [1e-3, 3e-3, 1e-2], "l2": [1e-2], "nuclear": [1e-2]})
    monkeypatch.setitem(parity_figs.SCALES, "quick", tiny)
    assert_png(parity_figs.FIGURES["sparse-parity"].reproduce(tmp_path / "sp"))


def test_fig35_draws(tmp_path, monkeypatch):
    tiny = dict(base=dict(mnist_figs.COMMON, n_train=60, n_test=60, width=8, steps=20,
                          batch_size=30, log_every=5, log_dense_until=5),
                lrs=[1e-3, 3e-3], l1=[1e-3, 3e-3], l2=[0.1], nuclear=[0.03])
    monkeypatch.setitem(mnist_figs.SCALES, "quick", tiny)
    assert_png(mnist_figs.FIGURES["fig35"].reproduce(tmp_path / "f35"))
