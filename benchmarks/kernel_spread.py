"""How far the numbers move when the CPU kernels change: the measurements the test suite's bounds
are set from (tests/test_golden.py, tests/test_reproducibility.py, the float32 science tests).

    PYTHONPATH=src python benchmarks/kernel_spread.py [--sets native,avx2,...] [--probes ...]

Each kernel set of ``tests/kernels.py`` (AVX2, torch's portable kernels with SSE4.2 MKL paths,
MKL's compatible mode, two threads, and the CPU as it is) runs every probe in a fresh process
(the variables are read at start-up); this process prints, per probe and quantity, the worst value
seen over all sets and the set that gave it.  Probes:

* ``golden``: every case of tests/test_golden.py replayed against its stored numbers; per case and
  column the relative tolerance it needs beside the test's absolute one,
  ``max(|a - b| - ATOL, 0) / |b|``, and whether every t1 / t2 / status stayed equal;
* ``reproducibility``: tests/test_reproducibility.py's grids, the largest relative difference
  between a batch and the same runs alone (the quantity its ``BOUND`` caps);
* ``modular``: tests/test_modular.py's science measures over its seeds (``science_measures``):
  the smallest margin by which each seed's run clears each threshold of those tests.

Nothing here is timed.  Takes ~10-15 min for all sets on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import kernels  # noqa: E402  (tests/kernels.py: the kernel sets)

PROBES = ("golden", "reproducibility", "modular")


def probe_golden() -> dict:
    import numpy as np
    import test_golden as g

    out = {}
    for name in g.CASES:
        if name == "sparse_basis_pursuit":
            try:
                import cvxpy  # noqa: F401
            except ImportError:
                continue
        with g.environment(name):
            got = g.compute(name)
        want = g._load(name)
        times_equal = True
        for what, a_df, b_df in (("runs", got.runs, want.runs), ("curves", got.curves,
                                                                 want.curves)):
            for col in g._numeric(b_df):
                if col in g.WALL:
                    continue
                a = a_df[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
                b = b_df[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
                if col in g.TIMES or col in ("step", "batch_runs"):
                    times_equal &= bool(np.array_equal(a, b, equal_nan=True))
                    continue
                if col == "grad_ratio":  # compared only where the fit gradient is not noise
                    keep = b_df["grad_fit_norm"].to_numpy(float) > 1e-10
                    a, b = a[keep], b[keep]
                ok = np.isfinite(a) & np.isfinite(b)
                if not ok.any():
                    continue
                # the relative tolerance this column needs beside the absolute one the test
                # allows: |a - b| <= ATOL + rtol |b|
                need = np.maximum(np.abs(a[ok] - b[ok]) - g.ATOL, 0) / np.maximum(np.abs(b[ok]),
                                                                                   1e-300)
                i = int(np.argmax(need))
                out[f"{name}.{what}.{col}"] = {"value": float(need[i]), "at": float(b[ok][i])}
            status_equal = list(got.runs.status.astype(str)) == list(want.runs.status.astype(str))
            times_equal &= status_equal
        out[f"{name}.times_and_status_equal"] = {"value": float(times_equal)}
    return out


def probe_reproducibility() -> dict:
    import groklab
    import numpy as np
    import test_reproducibility as r

    out = {}
    for problem, grid in r.CASES.items():
        together = groklab.sweep(grid, problem=problem, batch_size=64)
        alone = groklab.sweep(grid, problem=problem, batch_size=1)
        a, b = r.float_curves(together).to_numpy(), r.float_curves(alone).to_numpy()
        rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-300)
        out[f"{problem}.batch_vs_alone"] = {"value": float(np.nanmax(rel))}
    return out


def probe_modular() -> dict:
    import test_modular as m

    return {k: {"value": float(v)} for k, v in m.science_measures().items()}


def worker(probes: list[str]) -> None:
    import torch
    torch.set_num_threads(int(__import__("os").environ.get("GROKLAB_TEST_THREADS", "1")))
    res = {p: globals()[f"probe_{p}"]() for p in probes}
    print("SPREAD " + json.dumps(res))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(kernels.KERNELS))
    ap.add_argument("--probes", default=",".join(PROBES))
    ap.add_argument("--json", help="also write every measurement to this file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    probes = [p for p in ns.probes.split(",") if p]
    bad = [p for p in probes if p not in PROBES]
    if bad:
        ap.error(f"--probes: unknown {bad}; choose from {', '.join(PROBES)}")
    if ns.worker:
        worker(probes)
        return 0
    seen: dict[str, dict] = {}
    for name in ns.sets.split(","):
        env = kernels.environment(name)
        env["PYTHONPATH"] = str(ROOT / "src") + ":" + env.get("PYTHONPATH", "")
        p = subprocess.run([sys.executable, __file__, "--worker", "--probes", ",".join(probes)],
                           env=env, capture_output=True, text=True, cwd=ROOT)
        line = next((ln for ln in p.stdout.splitlines() if ln.startswith("SPREAD ")), None)
        if p.returncode or line is None:
            print(f"{name}: failed\n{p.stderr[-3000:]}", file=sys.stderr)
            return 1
        seen[name] = json.loads(line[len("SPREAD "):])
        print(f"{name}: done", flush=True)
    if ns.json:
        Path(ns.json).write_text(json.dumps(seen, indent=1))
    for probe in probes:
        print(f"\n== {probe}: per quantity, every set (worst first where larger is worse)")
        keys = list(next(iter(seen.values()))[probe])
        for k in keys:
            vals = {s: seen[s][probe].get(k, {}).get("value") for s in seen}
            print(f"{k:60s} " + "  ".join(f"{s}={v:.3g}" if v is not None else f"{s}=-"
                                         for s, v in vals.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
