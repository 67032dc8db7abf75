"""Plotting and figure registry: the drawing code runs on real (tiny) results and writes PNGs."""
from __future__ import annotations

import subprocess
import sys

import pytest

import groklab
from groklab.figures import all_figures
from groklab.plotting import plot_results

from conftest import assert_png

FIGURES = all_figures()

TINY = dict(dim=20, sparsity=2, measurements=10, steps=400, log_every=100, log_dense_until=100)




def test_plot_single_runs(tmp_path):
    res = groklab.sweep({**TINY, "l1": [1e-3, 0.0]}, out=tmp_path / "r")
    png = plot_results(res, tmp_path / "curves.png")
    assert_png(png)


def test_plot_grid_sweep(tmp_path):
    res = groklab.sweep({**TINY, "lr": [0.02, 0.05], "l1": [1e-3, 3e-3, 1e-2, 3e-2]},
                        out=tmp_path / "r")
    png = plot_results(res, tmp_path / "grid.png")
    assert_png(png)


def test_cli_plot_writes_default_file(tmp_path):
    out = tmp_path / "r"
    groklab.sweep({**TINY, "l1": [1e-3, 1e-2]}, out=out)
    p = subprocess.run([sys.executable, "-m", "groklab.cli", "plot", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert_png(out / "plot.png")


def test_cli_plot_missing_directory_is_one_line_error(tmp_path):
    p = subprocess.run([sys.executable, "-m", "groklab.cli", "plot", str(tmp_path / "nope")],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


@pytest.mark.parametrize("name", ["fig3", "fig4", "fig7", "fig9", "fig16", "fig17", "fig18",
                                  "fig19a", "fig21", "fig22", "fig25"])
def test_paper_figures_are_registered(name):
    fig = FIGURES[name]
    assert fig.title and callable(fig.reproduce)


def test_unknown_figure_is_refused(tmp_path):
    p = subprocess.run([sys.executable, "-m", "groklab.cli", "reproduce", "fig999", "--out",
                        str(tmp_path / "x")], capture_output=True, text=True)
    assert p.returncode == 2 and "--figure" in p.stderr and not (tmp_path / "x").exists()


def test_heatmap_over_two_axes_writes_png_for_every_metric(tmp_path):
    from groklab.plotting import HEATMAP_METRICS, plot_heatmap, run_class
    res = groklab.sweep({**TINY, "measurements": [4, 10], "sparsity": [1, 3], "l1": [1e-3, 0.0]},
                        out=tmp_path / "r")
    for metric in HEATMAP_METRICS:
        assert_png(plot_heatmap(res, tmp_path / f"{metric}.png", "measurements", "sparsity", metric))
    from groklab.fields import ConfigError
    for x, y, metric, option in (("measurements", "t2", "t1", "--y"), ("l1", "l1", "t1", "--y"),
                                 ("l1", "sparsity", "speed", "--metric")):
        with pytest.raises(ConfigError, match=option):
            plot_heatmap(res, tmp_path / "bad.png", x, y, metric)
    assert not (tmp_path / "bad.png").exists()
    cls = run_class(res.runs)
    assert set(cls) <= {0, 1, 2}
    assert (cls[res.runs.t2.notna().to_numpy()] == 0).all()


def test_cli_heatmap_and_bad_fields(tmp_path):
    out = tmp_path / "r"
    groklab.sweep({**TINY, "measurements": [4, 10], "l1": [1e-3, 1e-2]}, out=out)
    run = lambda *a: subprocess.run([sys.executable, "-m", "groklab.cli", "plot", str(out), *a],  # noqa: E731
                                    capture_output=True, text=True)
    p = run("--x", "measurements", "--y", "l1", "--metric", "class")
    assert p.returncode == 0, p.stderr
    assert_png(out / "heatmap.png")
    for args, option in ((("--x", "bogus", "--y", "l1"), "--x"),
                         (("--x", "l1"), "--y"),
                         (("--x", "l1", "--y", "measurements", "--metric", "speed"), "--metric")):
        p = run(*args)
        assert p.returncode == 2, args
        assert len(p.stderr.strip().splitlines()) == 1 and option in p.stderr, p.stderr


@pytest.mark.parametrize("name", ["fig9", "fig17", "fig18", "fig19a", "fig21", "fig22"])
def test_depth_and_tau_figures_draw_at_tiny_scale(name, tmp_path, monkeypatch):
    import groklab.families.sparse_recovery.figures.maps as maps
    tiny = {"depth": (300, [20, 40], [1, 2, 3]), "tau": (300, 1e-3, [20, 40], [0.0, 0.5, 1.0]),
            "coherence": ([10, 30], [0.0, 0.5, 1.0], 2)}
    for k, v in tiny.items():
        monkeypatch.setitem(maps.SCALES, k, {"quick": v, "full": v})
    monkeypatch.setitem(maps.BASE, "dim", 50)
    assert_png(FIGURES[name].reproduce(tmp_path / "out"))
