"""Fitted scaling exponents: theory.fit_power_law, the Delta t fit in plots and `report --fit`."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from groklab.theory_fit import fit_power_law

from conftest import cli


def test_fit_recovers_exact_power_law():
    x = np.logspace(-7, -2, 12)
    fit = fit_power_law(x, 0.1 * x ** -1.0)
    assert fit["exponent"] == pytest.approx(-1.0, abs=1e-10)
    assert fit["prefactor"] == pytest.approx(0.1, rel=1e-8)
    assert fit["exponent_low"] <= fit["exponent"] <= fit["exponent_high"]
    assert fit["exponent_high"] - fit["exponent_low"] < 1e-8
    assert fit["n"] == 12


@pytest.mark.parametrize("k", [-1.0, -0.5, 2.0])
def test_fit_with_multiplicative_noise_covers_true_exponent(k):
    rng = np.random.default_rng(3)
    x = np.logspace(-6, -1, 30)
    y = 5.0 * x ** k * np.exp(0.3 * rng.standard_normal(x.size))
    fit = fit_power_law(x, y, level=0.95)
    assert fit["exponent_low"] < k < fit["exponent_high"]
    assert 0 < fit["exponent_high"] - fit["exponent_low"] < 0.5
    narrow = fit_power_law(x, y, level=0.5)
    assert narrow["exponent_high"] - narrow["exponent_low"] < fit["exponent_high"] - fit["exponent_low"]


def test_interval_covers_at_about_the_nominal_rate():
    rng = np.random.default_rng(0)
    x = np.logspace(-4, 0, 8)
    hits = sum(fit["exponent_low"] < -1 < fit["exponent_high"]
               for fit in (fit_power_law(x, x ** -1 * np.exp(0.5 * rng.standard_normal(8)))
                           for _ in range(400)))
    assert 0.9 < hits / 400 < 0.99


def test_fit_ignores_bad_and_censored_points():
    x = np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0, 2.0, 3.0])
    y = 2 * x ** -1.0
    y[4], y[5] = np.nan, 0.0  # never detected, zero
    x[6] = -1.0
    censored = np.zeros(7, bool)
    censored[3] = True
    y[3] = 1e9  # a censored value that would spoil the fit
    fit = fit_power_law(x, y, censored=censored)
    assert fit["n"] == 3
    assert fit["exponent"] == pytest.approx(-1.0)


def test_fit_refuses_fewer_than_three_points():
    with pytest.raises(ValueError, match="at least 3"):
        fit_power_law([1.0, 2.0], [1.0, 0.5])
    with pytest.raises(ValueError, match="at least 3"):
        fit_power_law([1.0, 2.0, 3.0, 4.0], [1.0, np.nan, 0.0, -1.0])
    with pytest.raises(ValueError, match="distinct"):
        fit_power_law([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])


def test_report_fit_prints_negative_exponent_with_interval(tmp_path):
    out = tmp_path / "grid"
    r = cli("run", "sparse-recovery", "--dim", 20, "--sparsity", 2, "--measurements", 10,
            "--lr", "0.05,0.1,0.2", "--l1", "1e-3,3e-3", "--steps", 3000, "--quiet", "--out", out)
    assert r.returncode == 0, r.stderr
    r = cli("report", out, "--fit", "delta_t")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("censored fit")  # naive, then censored
    m = re.search(r"k = (\S+), 95% CI \[(\S+), (\S+)\]", lines[0])
    assert m, lines[0]
    k, lo, hi = (float(v) for v in m.groups())
    assert k < 0 and lo <= k <= hi and math.isfinite(lo) and math.isfinite(hi)
    assert "lr*l1" in lines[0]
    r = cli("report", out, "--fit", "t2")
    assert r.returncode == 0 and float(re.search(r"k = (\S+),", r.stdout).group(1)) < 0


def test_report_fit_without_penalty_is_a_one_line_error(tmp_path):
    out = tmp_path / "nopen"
    r = cli("run", "sparse-recovery", "--dim", 20, "--sparsity", 2, "--measurements", 10,
            "--lr", "0.05,0.1", "--l1", 0, "--steps", 200, "--quiet", "--out", out)
    assert r.returncode == 0, r.stderr
    r = cli("report", out, "--fit", "delta_t")
    assert r.returncode == 2
    assert "--fit" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_product_row_legend_shows_fitted_exponent():
    import pandas as pd

    from groklab import plotting as P
    ab_lr = [0.01, 0.1]
    rows = []
    for lr in ab_lr:
        for l1 in (1e-4, 1e-3, 1e-2):
            dt = 0.1 / (lr * l1)
            rows.append(dict(lr=lr, l1=l1, t1=10, t2=10 + dt, delta_t=dt, steps=10 ** 8,
                             pred_delta_t=dt, final_test_error=lr * l1, status="done"))
    runs = pd.DataFrame(rows)
    fig, axes = P.new_figure(1, 3)
    P.product_row(axes[0], runs, beta="l1")
    labels = axes[0, 1].get_legend_handles_labels()[1]
    fit = [lb for lb in labels if lb.startswith("fit")]
    assert fit and "k = -1.00 [-1.00, -1.00]" in fit[0] and "95% CI" in fit[0]


@pytest.mark.parametrize("beta", ["l2", "sobolev"])
def test_report_fit_uses_whichever_penalty_is_swept(beta):
    import pandas as pd

    from groklab.cli.report import fit_line
    rows = [dict(lr=lr, l1=0.0, nuclear=0.0, l2=0.0, sobolev=0.0, status="done")
            for lr in (1e-3, 1e-2) for _ in range(3)]
    for row, b in zip(rows, [1e-4, 1e-3, 1e-2] * 2):
        row[beta] = b
        row["delta_t"] = 5.0 / (row["lr"] * b) ** 0.5
    line = fit_line(pd.DataFrame(rows), "delta_t")
    assert f"lr*{beta}" in line
    assert float(re.search(r"k = (\S+),", line).group(1)) == pytest.approx(-0.5, abs=1e-9)
