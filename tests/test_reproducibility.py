"""What "same numbers" means (README, "Reproducibility").

Same config and same batch composition -> bitwise equal results.  The same runs batched
differently (alone vs with batch mates sharing their data, GEMV vs GEMM) agree to rounding only,
never in t1/t2.  How close depends on the CPU's kernels: the largest relative difference of any
curve value on the grids below was 1.0e-13 on an AMD EPYC (Zen 4) under the five kernel sets of
tests/kernels.py (benchmarks/kernel_spread.py, probe reproducibility; sparse recovery with
torch's portable kernels, matrix sensing 5.6e-14, completion 0: its kernel does the same
arithmetic for one run or many) and 1.29e-12 on an Intel Xeon with AVX-512 (sparse recovery; matrix
sensing above 1e-12 there with AVX2 kernels).  ``BOUND`` is 1e-10: 77x the worst seen, and still
far below any effect the detector reads.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import groklab

CASES = {
    "sparse-recovery": dict(dim=30, sparsity=3, measurements=15, lr=0.05, l1=[1e-4, 1e-3, 3e-3],
                            seed=[0, 1], steps=3000, log_every=100, log_dense_until=100),
    "matrix-completion": dict(rows=10, cols=10, rank=2, lr=0.5, nuclear=[1e-4, 1e-3, 3e-3],
                              seed=[0, 1], steps=3000, log_every=100, log_dense_until=100),
    "matrix-sensing": dict(rows=8, cols=8, rank=2, lr=0.1, nuclear=[1e-4, 1e-3], seed=[0, 1],
                           steps=2000, log_every=100, log_dense_until=100),
}
BOUND = 1e-10


def float_curves(res) -> pd.DataFrame:
    c = res.curves.sort_values(["run_id", "step"]).reset_index(drop=True)
    return c[[k for k in c.columns if c[k].dtype.kind == "f"]]


@pytest.mark.numerics
@pytest.mark.parametrize("problem", list(CASES))
def test_same_batching_is_bitwise_other_batching_within_rounding(problem):
    grid = CASES[problem]
    together = groklab.sweep(grid, problem=problem, batch_size=64)
    again = groklab.sweep(grid, problem=problem, batch_size=64)
    alone = groklab.sweep(grid, problem=problem, batch_size=1)
    assert (together.runs.batch_runs > 1).all() and (alone.runs.batch_runs == 1).all()
    pd.testing.assert_frame_equal(float_curves(together), float_curves(again), check_exact=True)
    a, b = float_curves(together).to_numpy(), float_curves(alone).to_numpy()
    rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-300)
    assert np.nanmax(rel) < BOUND
    assert (np.isnan(a) == np.isnan(b)).all()
    t, s = (r.runs.set_index("run_id").sort_index() for r in (together, alone))
    for col in ("t1", "t2", "delta_t"):
        assert (t[col].fillna(-1) == s[col].fillna(-1)).all(), col
