"""A family brought from outside the package (tests/toy_family.py) goes through every layer --
the API, the store and resume, detection, report (table and fit), plot, the CLI in a new process
and (tests/test_ray.py) the Ray backend -- without a line of it in groklab's own files.

The toy's errors have closed forms (see its docstring), so detection is checked against them, and
its Delta t ~ 1/(lr beta) for lr beta << 1: the fitted exponent must be -1 to within the
O(lr beta) and t1 corrections of the grid.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import groklab
from groklab import family as registry
from groklab.cli.report import fit_line

import toy_family
from conftest import REPO, assert_png, cli

NAME = toy_family.FAMILY.name
#: lr * beta from 3e-4 to 6e-3: Delta t from ~1e3 to ~2e4 steps, logged every 10 after step 100
GRID = {"lr": [0.3, 0.6], "beta": [1e-3, 3e-3, 1e-2], "steps": 30_000, "seed": [0, 1],
        "log_dense_until": 100, "log_every": 10}
PLUGIN_ENV = {"GROKLAB_FAMILIES": "toy_family",
              "PYTHONPATH": os.pathsep.join([str(REPO / "tests"),
                                             os.environ.get("PYTHONPATH", "")])}


def test_registered_from_outside_the_package():
    fam = registry.get(NAME)
    assert fam is toy_family.FAMILY and fam.runtime == "toy_family"
    assert groklab.ShrinkageConfig is toy_family.ShrinkageConfig  # the API finds its config too
    # the core never names it: no file of the package mentions the toy
    hits = [p for p in (REPO / "src" / "groklab").rglob("*.py") if "toy" in p.read_text()]
    assert hits == []


def test_detected_times_equal_the_closed_forms():
    res = groklab.sweep(GRID, problem=NAME)
    assert len(res.runs) == 12 and (res.runs.status == "done").all()
    det = toy_family.FAMILY.detection
    names = [f.name for f in dataclasses.fields(toy_family.ShrinkageConfig)]
    for r in res.runs.itertuples():
        cfg = toy_family.ShrinkageConfig(**{n: getattr(r, n) for n in names})
        t1, _ = toy_family.predicted_times(cfg, det.train_threshold)
        _, t2 = toy_family.predicted_times(cfg, det.test_threshold)
        assert (r.t1, r.t2) == (t1, t2) and r.t1_rule == r.t2_rule == "threshold"
        assert r.delta_t == t2 - t1 == r.pred_delta_t
    # the spurious part: final |w| = (1 - lr beta)^steps |b|
    for r in res.runs.itertuples():
        assert math.isclose(r.final_w_norm, (1 - r.lr * r.beta) ** r.steps * r.target_norm,
                            rel_tol=1e-9)


def test_delta_t_law_exponent_is_minus_one():
    runs = groklab.sweep(GRID, problem=NAME).runs
    line = fit_line(runs, "delta_t")
    k = float(line.split("k = ")[1].split(",")[0])
    # the corrections: -ln(1 - x) = x (1 + x/2 + ...) with x <= 6e-3, and t1 <= 1% of Delta t
    assert "(lr*beta)^k" in line and abs(k + 1) < 0.01, line
    # and the prefactor is ln(1/theta): Delta t * lr * beta within 2% of it for every run
    theta = toy_family.FAMILY.detection.test_threshold
    ratio = runs.delta_t.to_numpy(float) * runs.lr * runs.beta / math.log(1 / theta)
    assert np.allclose(ratio, 1, rtol=0.02), ratio


def test_store_resume_and_redetection(tmp_path):
    first = groklab.sweep(GRID, problem=NAME, out=tmp_path)
    again = groklab.sweep(GRID, problem=NAME, out=tmp_path)  # finished runs are skipped
    pd.testing.assert_frame_equal(first.runs, again.runs)  # wall times equal: nothing re-ran
    loose = groklab.Detection(train_threshold=1e-2, test_threshold=1e-2)
    redone = groklab.sweep(GRID, problem=NAME, out=tmp_path, detection=loose)
    assert (redone.runs.t2 < first.runs.t2).all()  # re-read from the stored curves
    assert (redone.runs.wall_time_s == first.runs.wall_time_s).all()


def test_bad_input_is_one_line_before_anything_runs(tmp_path):
    with pytest.raises(groklab.ConfigError, match="--beta"):
        groklab.sweep({"lr": 0.5, "beta": [0.1, 3.0]}, problem=NAME, out=tmp_path)
    assert not any(tmp_path.iterdir())
    with pytest.raises(groklab.ConfigError, match=r"--lr: 1.5 is out of range: must be in \(0.0, 1.0\)"):
        toy_family.ShrinkageConfig(lr=1.5)


def test_cli_run_report_plot_in_a_new_process(tmp_path):
    out = tmp_path / "toy"
    p = cli("run", NAME, "--lr", "0.3,0.6", "--beta", "2e-2,5e-2", "--steps", "2000",
            "--log-dense-until", "20", "--log-every", "20", "--out", out, "--quiet",
            env_extra=PLUGIN_ENV)
    assert p.returncode == 0, p.stderr
    runs = groklab.load(out).runs
    assert len(runs) == 4 and set(runs.problem) == {NAME}
    p = cli("report", out, "--format", "csv", env_extra=PLUGIN_ENV)
    assert p.returncode == 0, p.stderr
    table = pd.read_csv(__import__("io").StringIO(p.stdout))
    assert {"lr", "beta", "t1", "t2", "delta_t"} <= set(table.columns)
    np.testing.assert_array_equal(table.sort_values(["lr", "beta"]).t2.to_numpy(),
                                  runs.sort_values(["lr", "beta"]).t2.to_numpy())
    p = cli("report", out, "--fit", "delta_t", env_extra=PLUGIN_ENV)
    assert p.returncode == 0 and "(lr*beta)^k" in p.stdout, p.stderr
    p = cli("plot", out, env_extra=PLUGIN_ENV)
    assert p.returncode == 0, p.stderr
    png = Path(p.stdout.split("wrote ")[1].strip())
    assert_png(png)
    # its flags are real CLI flags with one-line errors
    p = cli("run", NAME, "--beta", "50", "--out", tmp_path / "bad", env_extra=PLUGIN_ENV)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--beta" in p.stderr
    assert not (tmp_path / "bad").exists()


def test_cli_without_the_plugin_names_the_known_families(tmp_path):
    p = cli("run", NAME, "--out", tmp_path / "x")
    assert p.returncode == 2 and "invalid choice" in p.stderr and "sparse-recovery" in p.stderr
