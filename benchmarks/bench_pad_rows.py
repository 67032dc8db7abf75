"""Would zero-padding X let runs with different N share one tensor program?  (issue 5, optional)

Zero rows of X (and zeros in y) change neither X^T X, X^T y nor |Xa - y|, so mathematically a run
with N measurements gives the same iterates when its X is padded to R > N rows.  This benchmark
measures, on the (s, N) grid of figures 12 / 13 / 27 (n = 100, s in {1, 5, 10, 15}, N in
{10, ..., 100}, lr 0.1, l1 1e-5), the two ways of running the 40 runs:

* per N: one batch of 4 runs per N (what ``groklab sweep`` does: N is part of the batch key);
* padded: one batch of 40 runs, every X padded to 100 rows.

and how far each padded run's logged test error is from the same run in its own batch.

Result (2-core shared VM, other processes using 1.1-1.4 cores, 1e5 steps, 1 torch thread): per N
12.1-12.5 s, padded 5.9-8.4 s, i.e. 1.5x (subgradient, ISTA) and 2.1x (projected) (every run
then takes the n x n Gram path, so small-N runs lose the thin GEMMs through X), and it does *not*
give the same numbers: runs whose GEMM path changes (2N < n: thin -> Gram) differ at 1e-9 relative
and the sign(a) dynamics amplify that (subgradient, N = 40: 1.6e-2 relative at some logged step);
projected runs go through pinv of the padded X and differ by up to 35 % around the click.  Runs
with 2N >= n (Gram path both ways) are bitwise equal for subgradient and ISTA.  So the sweep does
not pad: a run's numbers would depend on which runs it was batched with.

    .venv/bin/python benchmarks/bench_pad_rows.py [--steps 100000]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Meter  # noqa: E402

from groklab.families.sparse_recovery.config import SparseRecoveryConfig# noqa: E402
from groklab.families.sparse_recovery.engine import run_sparse_batch# noqa: E402
from groklab.families.sparse_recovery.data import make_data# noqa: E402


def padded(d, rows: int):
    N = d.X.shape[0]
    return dataclasses.replace(d, X=torch.cat([d.X, d.X.new_zeros(rows - N, d.n)]),
                               y=torch.cat([d.y, d.y.new_zeros(rows - N)]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    Ns = list(range(10, 101, 10))
    for method in ("subgradient", "ista", "projected"):
        cfgs = {N: [SparseRecoveryConfig(dim=100, sparsity=s, measurements=N, method=method,
                                         lr=0.1, l1=1e-5, steps=args.steps, log_spacing="log",
                                         log_every=50) for s in (1, 5, 10, 15)] for N in Ns}
        datas = {N: [make_data(c) for c in row] for N, row in cfgs.items()}
        with Meter() as m_alone:
            alone = {N: run_sparse_batch(datas[N], [[c] for c in cfgs[N]]) for N in Ns}
        flat = [(N, j) for N in Ns for j in range(4)]
        with Meter() as m_pad:
            both = run_sparse_batch([padded(datas[N][j], max(Ns)) for N, j in flat],
                                    [[cfgs[N][j]] for N, j in flat])
        worst = {}
        for k, (N, j) in enumerate(flat):
            a = alone[N].metrics["test_error"][:, j]
            b = both.metrics["test_error"][:, k]
            rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))
            worst[N] = max(worst.get(N, 0.0), rel)
        print(f"{method:12s} per N {m_alone.wall:6.2f} s (others busy {m_alone.busy:.1f} cores)  "
              f"padded {m_pad.wall:6.2f} s (others {m_pad.busy:.1f})  ratio "
              f"{m_alone.wall / m_pad.wall:.2f}x")
        print("  max relative difference of the logged test error, by N: "
              + ", ".join(f"{N}: {w:.1e}" for N, w in worst.items()))


if __name__ == "__main__":
    main()
