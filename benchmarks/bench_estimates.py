"""The preflight's estimates against what a run really takes: peak RSS (getrusage of the child
process) and wall time, for a few small sweeps of several families.  Not a test; prints a table.

    python benchmarks/bench_estimates.py
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time

CASES = [
    ("sparse-recovery", ["--dim", "3000", "--measurements", "1500", "--steps", "100",
                         "--log-every", "10", "--log-dense-until", "10", "--lr", "0.01",
                         "--l1", "linspace(0,1e-3,64)"]),
    ("sparse-recovery", ["--dim", "100", "--measurements", "30", "--steps", "2000",
                         "--log-every", "1", "--log-dense-until", "10",
                         "--l1", "linspace(0,1e-3,1024)"]),
    ("matrix-completion", ["--rows", "40", "--cols", "40", "--observed", "800", "--steps", "200",
                           "--log-every", "10", "--log-dense-until", "10",
                           "--nuclear", "linspace(0,1e-3,64)"]),
    ("modular", ["--modulus", "97", "--steps", "50", "--log-every", "10",
                 "--l1", "linspace(0,1e-4,32)"]),
    ("teacher-student", ["--steps", "50", "--log-every", "10", "--l1", "linspace(0,1e-4,16)"]),
]


def _mib(text: str) -> float:
    num, unit = re.match(r"([\d.]+) (\w+)", text).groups()
    return float(num) * {"B": 2 ** -20, "KiB": 2 ** -10, "MiB": 1, "GiB": 1024, "TiB": 2 ** 20}[unit]


def main() -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    print(f"{'family':18s} {'runs':>5s} {'est. peak':>10s} {'real peak':>10s} {'ratio':>6s} "
          f"{'est. time':>10s} {'real time':>10s}")
    for problem, args in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            base = [sys.executable, "-m", "groklab.cli", "run", problem, *args, "--out", tmp + "/r"]
            dry = subprocess.run(base + ["--dry-run"], capture_output=True, text=True, env=env)
            peak = _mib(re.search(r"memory: ~(\S+ \S+) at the peak", dry.stdout).group(1))
            est_t = re.search(r"time: ~(.+?) on one core", dry.stdout).group(1)
            runs = re.search(r"runs: ([\d,]+)", dry.stdout).group(1)
            # the child reports its own peak (ru_maxrss of RUSAGE_CHILDREN is a max over all)
            code = ("import resource, sys; from groklab.cli import main; rc = main(sys.argv[1:]); "
                    "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); "
                    "sys.exit(rc)")
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", code, *base[3:], "--quiet"],
                               capture_output=True, text=True, env=env)
            wall = time.perf_counter() - t0
            if p.returncode != 0:
                print(problem, "failed:", p.stderr.strip()[-300:])
                continue
            rss = int(re.search(r"MAXRSS (\d+)", p.stdout).group(1)) / 1024  # KiB -> MiB
            print(f"{problem:18s} {runs:>5s} {peak:9.0f}M {rss:9.0f}M {peak / rss:6.2f} "
                  f"{est_t:>10s} {wall:9.1f}s")


if __name__ == "__main__":
    main()
