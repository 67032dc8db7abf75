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


# ---- what the family declares: accuracy axes, fields that apply -----------------------------
def modular_results(architecture: str = "matrix-product", lrs=(1e-3,), l1s=(0.0,)):
    """Stored-looking modular results without training: accuracies that reach exactly 1 (an
    error of exactly 0, which a log axis pins at its floor)."""
    import dataclasses

    import numpy as np
    import pandas as pd

    from groklab import Results
    from groklab.families.modular.config import ModularConfig

    runs, curves = [], []
    steps = np.arange(0, 1001, 10)
    for i, (lr, l1) in enumerate((a, b) for a in lrs for b in l1s):
        cfg = dataclasses.asdict(ModularConfig(architecture=architecture, lr=lr, l1=l1,
                                               steps=1000))
        t1, t2 = 100 + 10 * i, 600 + 10 * i
        runs.append(dict(cfg, problem="modular", run_id=f"m{i}", t1=t1, t2=t2, delta_t=t2 - t1,
                         t1_rule="threshold", t2_rule="threshold", final_train_error=0.0,
                         final_test_error=0.0, status="done"))
        train = np.clip(steps / t1, 0, 1)
        test = np.clip(steps / t2, 0, 1)
        curves.append(pd.DataFrame({"run_id": f"m{i}", "step": steps, "train_accuracy": train,
                                    "test_accuracy": test, "train_error": 1 - train,
                                    "test_error": 1 - test, "l1_norm": 1.0 + steps,
                                    "l2_norm": 1.0 + steps}))
    return Results(runs=pd.DataFrame(runs), curves=pd.concat(curves, ignore_index=True))


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plotting functions save, kept for inspection."""
    import groklab.plotting.common as common

    figs = []
    real = common.save

    def keep(fig, path, **kw):
        figs.append(fig)
        return real(fig, path, **kw)

    for mod in ("curves", "summary", "aggregate"):
        monkeypatch.setattr(f"groklab.plotting.{mod}.save", keep)
    return figs


def test_accuracy_family_curves_on_a_linear_accuracy_axis(tmp_path, drawn):
    import numpy as np

    from groklab.plotting import plot_curves

    res = modular_results(lrs=(1e-3, 3e-3))
    plot_curves(res, tmp_path / "c.png")
    ax = drawn[-1].axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim() == (-0.02, 1.02)
    assert ax.get_ylabel() == "accuracy"
    test = next(ln for ln in ax.get_lines() if ln.get_label() == "test")
    assert np.array_equal(test.get_ydata(), res.curve("m0").test_accuracy[1:])  # not 1 - acc
    big = modular_results(lrs=tuple(1e-3 * (k + 1) for k in range(13)))  # the overlay layout
    plot_curves(big, tmp_path / "o.png")
    for ax in drawn[-1].axes:
        assert ax.get_yscale() == "linear" and ax.get_ylabel().endswith("accuracy")
    # a family that declares no accuracy keeps the relative error on a log axis
    res = groklab.sweep({**TINY, "l1": [1e-3, 0.0]}, out=tmp_path / "r")
    plot_curves(res, tmp_path / "s.png")
    assert drawn[-1].axes[0].get_yscale() == "log"
    assert drawn[-1].axes[0].get_ylabel() == "relative error"


def test_accuracy_family_sweep_summary_shows_final_accuracy(tmp_path, drawn):
    from groklab.plotting import plot_results

    plot_results(modular_results(lrs=(1e-3, 3e-3, 1e-2), l1s=(1e-5, 1e-4, 1e-3)),
                 tmp_path / "s.png")
    last = drawn[-1].axes[3]
    assert last.get_ylabel() == "final test accuracy" and last.get_yscale() == "linear"
    y = [v for ln in last.get_lines() for v in ln.get_ydata()]
    assert y and all(v == 1.0 for v in y)  # final error 0 is accuracy 1, not a floor at 1e-16


def test_titles_list_only_the_fields_that_apply(tmp_path, drawn):
    from groklab.plotting import fixed_text, plot_curves

    transformer_only = ("layers=", "heads=", "mlp_width=", "layer_norm=")
    mlp = modular_results("matrix-product", lrs=(1e-3, 3e-3))
    plot_curves(mlp, tmp_path / "m.png")
    title = drawn[-1]._suptitle.get_text()
    assert "width=64" in title and not any(f in title for f in transformer_only), title
    text = fixed_text(modular_results("transformer").runs)
    assert all(f in text for f in transformer_only), text


def test_summary_legend_names_at_most_nine_colours(tmp_path, drawn):
    """32 values of the colour field: the legend names 9 of them, both ends included, instead of
    32 entries that squeeze the panels to nothing."""
    from groklab.plotting import legend_subset, plot_results

    assert legend_subset(5) == {0, 1, 2, 3, 4}
    assert legend_subset(32) == {0, 4, 8, 12, 16, 19, 23, 27, 31}
    # 33 x 32 runs: lr (the most values) across, l1 the colours
    res = modular_results(lrs=tuple(1e-3 * (k + 1) for k in range(33)),
                          l1s=tuple(1e-6 * (k + 1) for k in range(32)))
    plot_results(res, tmp_path / "s.png")
    named = [t for t in drawn[-1].axes[3].get_legend_handles_labels()[1] if t.startswith("l1=")]
    assert named[0] == "l1=1e-06" and named[-1] == "l1=3.2e-05" and len(named) == 9, named
