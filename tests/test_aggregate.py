"""--aggregate FIELD: medians over a field with bootstrap intervals (stats.aggregate), in
`report` and `plot`, on synthetic runs tables."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from groklab.stats import aggregate, median_interval


def test_median_interval_closed_cases_and_determinism():
    assert median_interval([3.0]) == (3.0, 3.0, 3.0)
    assert all(math.isnan(v) for v in median_interval([np.nan]))
    v = np.random.default_rng(1).lognormal(size=41)
    med, lo, hi = median_interval(v, seed=5)
    assert med == np.median(v) and lo <= med <= hi
    assert median_interval(v, seed=5) == (med, lo, hi)  # same seed, same interval
    # bootstrap medians of a sample are order statistics of it
    assert lo in v and hi in v
    # 1 - level of the bootstrap mass lies outside: a 50% interval is inside the 95% one
    _, lo50, hi50 = median_interval(v, level=0.5, seed=5)
    assert lo <= lo50 <= hi50 <= hi


def test_median_interval_covers_the_true_median():
    """Samples of 25 from a log-normal (true median 1), seeds 0..199: the 95% percentile
    bootstrap interval of the median covers 1 in >= 88% (its coverage at n = 25 is ~93-95%;
    below 88% of 200 has probability < 1% then)."""
    covered = 0
    for seed in range(200):
        v = np.random.default_rng(seed).lognormal(size=25)
        _, lo, hi = median_interval(v, n_boot=500, seed=seed)
        covered += lo <= 1.0 <= hi
    assert covered >= 176, covered


def test_never_ranks_above_every_time():
    """Three of five seeds never generalize: the median t2 is 'never' (inf), not the median of
    the two detected ones."""
    v = [100.0, 200.0, math.inf, math.inf, math.inf]
    med, lo, hi = median_interval(v)
    assert med == math.inf and hi == math.inf and lo >= 100.0
    assert median_interval([100.0, 200.0, 300.0, math.inf, math.inf])[0] == 300.0


def runs_table():
    """lr x seed grid: t2 = 1000 / lr * (1 + seed / 10); seed 4 of lr 0.1 never generalizes."""
    rows = []
    for lr in (0.1, 0.2):
        for seed in range(5):
            t2 = None if (lr == 0.1 and seed == 4) else int(1000 / lr * (1 + seed / 10))
            rows.append(dict(run_id=f"{lr}-{seed}", problem="sparse-recovery", lr=lr, l1=1e-3,
                             seed=seed, steps=100_000, t1=10 + seed, t2=t2,
                             delta_t=None if t2 is None else t2 - 10 - seed,
                             t1_rule="threshold", t2_rule="never" if t2 is None else "threshold",
                             final_train_error=1e-4 * (1 + seed), final_test_error=lr * (1 + seed),
                             status="done"))
    df = pd.DataFrame(rows)
    for c in ("t1", "t2", "delta_t"):
        df[c] = df[c].astype("Int64")
    return df


def test_aggregate_groups_over_the_field():
    runs = runs_table()
    agg = aggregate(runs, "seed")
    assert list(agg.lr) == [0.1, 0.2] and list(agg.n) == [5, 5] and "seed" not in agg.columns
    a, b = agg.iloc[0], agg.iloc[1]
    # lr 0.2: t2 = 5000 (1 + seed/10) -> median at seed 2 = 6000
    assert b.t2 == 6000 and b.t2_n == 5 and b.t2_low <= 6000 <= b.t2_high
    # lr 0.1: 10000, 11000, 12000, 13000, never -> median 12000 (never ranks last)
    assert a.t2 == 12000 and a.t2_n == 4 and a.t2_high == math.inf
    assert a.t1 == 12 and a.final_test_error == pytest.approx(0.3)


def test_aggregate_unknown_field():
    from groklab.fields import ConfigError

    with pytest.raises(ConfigError, match="--aggregate"):
        aggregate(runs_table(), "temperature")


def _results_dir(path):
    runs = runs_table()
    path.mkdir()
    runs.to_parquet(path / "runs.parquet", index=False)
    steps = np.array([0, 10, 100, 1000, 10_000, 100_000])
    curves = pd.DataFrame([dict(run_id=r, step=s, train_error=1.0 / (1 + s),
                                test_error=1.0 / (1 + s) ** 0.5)
                           for r in runs.run_id for s in steps])
    curves.to_parquet(path / "curves.parquet", index=False)
    return path


def test_report_and_plot_aggregate(tmp_path, capsys):
    from groklab.cli import main

    out = _results_dir(tmp_path / "grid")
    assert main(["report", str(out), "--aggregate", "seed"]) == 0
    text = capsys.readouterr().out
    assert "12000 [" in text and "4/5" in text and "never]" in text
    assert main(["report", str(out), "--aggregate", "seed", "--format", "csv"]) == 0
    csv = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert list(csv.t2) == [12000, 6000]
    png = tmp_path / "agg.png"
    assert main(["plot", str(out), "--aggregate", "seed", "--file", str(png)]) == 0
    assert png.stat().st_size > 10_000
    assert main(["report", str(out), "--aggregate", "temperature"]) == 2
    err = capsys.readouterr().err
    assert "--aggregate" in err and len(err.strip().splitlines()) == 1


def test_aggregate_commands_do_not_import_torch(tmp_path):
    out = _results_dir(tmp_path / "grid")
    code = ("import sys; from groklab.cli import main; "
            "assert main(['report', sys.argv[1], '--aggregate', 'seed']) == 0; "
            "assert main(['plot', sys.argv[1], '--aggregate', 'seed']) == 0; "
            "assert main(['report', sys.argv[1], '--progress-measures']) in (0, 2); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    r = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
