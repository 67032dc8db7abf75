"""CUDA check: every engine gives the CPU's numbers on a GPU, and how fast it is there.

Run on a machine with a GPU (groklab never requires one):

    PYTHONPATH=src python3 benchmarks/cuda_check.py [--out DIR] [--skip-speed] [--families a,b]

For each family a small grid runs on the CPU and on ``cuda`` through ``groklab.sweep`` (same
configs, same seeds); the script prints the largest difference of every final metric and
whether t1/t2 agree, then run-steps/s on the GPU for a large sparse batch and an 18-member
p = 97 modular ensemble.  Writes ``cuda_check.json`` into ``--out``.  Exit status 1 if any
family's final metrics differ by more than the float tolerance of its dtype.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from groklab.driver import execute
from groklab.sweep import expand_grid  # noqa: E402

#: (family, grid, dtype tolerance on final metrics, relative)
CASES = {
    "sparse-recovery": (dict(dim=100, sparsity=5, measurements=30, lr=0.1, l1=[0.0, 1e-4, 1e-3],
                             seed=[1, 2], steps=4000), 1e-6),
    "sparse-recovery-deep": (dict(dim=100, sparsity=5, measurements=30, lr=0.05, depth=[2, 3],
                                  init_scale=[1e-3], seed=1, steps=3000), 1e-6),
    "matrix-completion": (dict(rows=10, cols=10, rank=2, observed=50, lr=0.1,
                               nuclear=[0.0, 1e-3, 1e-2], method=["subgradient", "svt"],
                               seed=1, steps=2000), 1e-6),
    "matrix-completion-deep": (dict(rows=10, cols=10, rank=2, observed=50, lr=0.05, depth=2,
                                    init="random", init_scale=1e-2, seed=1, steps=2000), 1e-6),
    "matrix-sensing": (dict(rows=8, cols=8, rank=1, measurements=40, lr=0.05,
                            nuclear=[0.0, 1e-3], seed=1, steps=2000), 1e-6),
    "modular": (dict(modulus=23, train_fraction=0.6, width=16, batch_size=[0, 64], lr=1e-2,
                     l1=[0.0, 1e-4], seed=0, steps=50, log_every=10), 2e-3),
    # float32 families: few steps, since training amplifies rounding (after 300 Adam steps the
    # H100 and the CPU differed by 0.014 in modular final test error: a few test pairs)
    "teacher-student": (dict(input_dim=10, hidden=40, outputs=2, train_size=20, test_size=100,
                             lr=5.5e-3, l1=[0.0, 1e-3], sobolev=[0.0, 1e-2], seed=0, steps=200),
                        2e-3),
    # the generic ensemble engine (torch.func over nn.Modules), float32
    "sparse-parity": (dict(bits=12, relevant_bits=3, n_train=100, n_test=200, width=32,
                           lr=1e-3, l1=[0.0, 1e-3], nuclear=[0.0, 1e-3], seed=0, steps=100,
                           log_every=20), 2e-3),
    "mnist": (dict(n_train=200, n_test=500, width=32, batch_size=[0, 50], lr=1e-3,
                   l1=[0.0, 1e-4], init_scale=[1.0, 8.0], seed=0, steps=50, log_every=10),
              2e-3),
    "modular-transformer": (dict(modulus=13, train_fraction=0.5, architecture="transformer",
                                 width=32, heads=4, mlp_width=64, batch_size=0, optimizer="adamw",
                                 lr=1e-3, l1=[0.0, 1e-4], nuclear=[0.0, 1e-3], seed=0, steps=50,
                                 log_every=10), 2e-3),
}
PROBLEM = {k: k.replace("-deep", "").replace("-transformer", "") for k in CASES}


def _finals(runs):
    num = runs.select_dtypes("number")
    drop = [c for c in num.columns if c in ("wall_time_s",) or c.startswith("batch_")]
    return runs.sort_values("run_id").set_index("run_id")[num.columns.drop(drop)]


def compare(name: str, grid: dict, tol: float, other: str = "cuda") -> dict:
    cfgs = expand_grid(PROBLEM[name], grid)
    out = {}
    for key, dev in (("cpu", "cpu"), ("cuda", other)):
        t0 = time.perf_counter()
        res = execute(cfgs, device=dev)
        if dev != "cpu":
            torch.cuda.synchronize()
        out[key] = (res, time.perf_counter() - t0)
    a, b = _finals(out["cpu"][0].runs), _finals(out["cuda"][0].runs)
    cols = [c for c in a.columns if c not in ("t1", "t2", "delta_t") and a[c].dtype.kind == "f"]
    worst, worst_col = 0.0, None
    for c in cols:
        x, y = a[c].to_numpy(float), b[c].to_numpy(float)
        both = np.isfinite(x) & np.isfinite(y)
        if (np.isfinite(x) != np.isfinite(y)).any():
            worst, worst_col = float("inf"), c
            break
        if both.any():
            d = np.max(np.abs(x[both] - y[both]) / np.maximum(1.0, np.abs(x[both])))
            if d > worst:
                worst, worst_col = float(d), c
    same_t = {t: bool((a[t].fillna(-1).astype(float) == b[t].fillna(-1).astype(float)).all())
              for t in ("t1", "t2") if t in a}
    st = {dev: list(out[dev][0].runs.status) for dev in out}
    return dict(runs=len(cfgs), max_rel_diff=worst, worst_column=worst_col, t_equal=same_t,
                status_equal=st["cpu"] == st["cuda"], cpu_s=round(out["cpu"][1], 2),
                cuda_s=round(out["cuda"][1], 2), ok=bool(worst <= tol))


def speed() -> dict:
    res = {}
    # sparse: 1024 runs on shared data, 2e4 steps
    grid = dict(dim=100, sparsity=5, measurements=30, lr=0.1, l1=list(np.logspace(-6, -3, 1024)),
                seed=1, steps=20_000, log_every=1000, log_dense_until=0)
    cfgs = expand_grid("sparse-recovery", grid)
    for R in (1024,):
        t0 = time.perf_counter()
        execute(cfgs[:R], device="cuda", batch_size=4096)
        torch.cuda.synchronize()
        el = time.perf_counter() - t0
        res[f"sparse_{R}_runs_run_steps_per_s"] = R * 20_000 / el
        res[f"sparse_{R}_runs_wall_s"] = el
    # modular, the paper's setting (p = 97, batch 2048), 400 steps: 18 members without nuclear
    # penalty (one tensor program), 6 with it (SVD every step: a separate program), 1 alone
    base = dict(modulus=97, train_fraction=0.4, batch_size=2048, width=64, lr=1e-2, seed=0,
                steps=400, log_every=100, log_dense_until=0)
    sets = {"18_members": dict(base, l1=[0.0, 1e-8, 1e-7, 1e-6, 5e-6, 1e-5], l2=[0.0, 1e-6, 1e-5]),
            "6_nuclear_members": dict(base, nuclear=[5e-8, 1e-7, 1e-6, 1e-5, 5e-5, 1e-4]),
            "1_member": dict(base, l1=1e-5)}
    for key, grid in sets.items():
        cfgs = expand_grid("modular", grid)
        t0 = time.perf_counter()
        execute(cfgs, device="cuda")
        torch.cuda.synchronize()
        el = time.perf_counter() - t0
        res[f"modular_p97_{key}_ensemble_steps_per_s"] = 400 / el
        res[f"modular_p97_{key}_member_steps_per_s"] = len(cfgs) * 400 / el
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=".")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--families", default=",".join(CASES))
    ap.add_argument("--dry-run", action="store_true", help="compare cpu with cpu (tests the script)")
    a = ap.parse_args()
    if a.dry_run:
        for name in a.families.split(","):
            print(name, json.dumps(compare(name, *CASES[name], other="cpu")), flush=True)
        return 0
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 0
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    report, ok = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}, True
    for name in a.families.split(","):
        grid, tol = CASES[name]
        try:
            r = compare(name, grid, tol)
        except Exception as e:  # report and go on: one broken family must not hide the others
            r = dict(ok=False, error=f"{type(e).__name__}: {e}")
        ok &= r["ok"]
        report[name] = r
        print(name, json.dumps(r), flush=True)
    if not a.skip_speed:
        try:
            report["speed"] = speed()
        except Exception as e:
            report["speed"] = {"error": f"{type(e).__name__}: {e}"}
        print("speed", json.dumps(report["speed"]), flush=True)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "cuda_check.json").write_text(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
