"""Start-up of the commands that need no tensors, against a bare ``import torch``.

Each command runs as a fresh process (``python -m groklab.cli ...``), best of --repeat; the
results directory for ``report`` / ``status`` / ``plot`` is a 5-run sweep made first.  Target:
``--help`` and ``report`` under half of ``import torch``.  Also checks, in-process, that none of
these commands imported torch.

    python benchmarks/bench_startup.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from _common import busy_now  # noqa: E402

PY = sys.executable
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"))
PROBE = ("import sys, groklab.cli as c\n"
         "try:\n    c.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
         "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)")


def best(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, env=ENV, capture_output=True, check=False)
        times.append(time.perf_counter() - t)
    return min(times)


def imports_torch(args: list[str]) -> bool:
    p = subprocess.run([PY, "-c", PROBE, *args], env=ENV, capture_output=True, text=True)
    return p.stderr.strip().splitlines()[-1] == "TORCH"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="groklab-bench-startup-"))
    out = tmp / "o"
    subprocess.run([PY, "-m", "groklab.cli", "run", "sparse-recovery", "--dim", "20", "--sparsity",
                    "2", "--measurements", "10", "--l1", "1e-3,2e-3,4e-3,8e-3,1.6e-2",
                    "--steps", "400", "--out", str(out), "--quiet"], env=ENV, check=True)
    print(f"other processes busy: {busy_now(1.0):.0%} of the CPUs; best of {a.repeat}")
    torch_s = best([PY, "-c", "import torch"], a.repeat)
    print(f"  {'import torch':<28s} {torch_s:6.3f} s")
    cases = {"--help": ["--help"], "run sparse-recovery --help": ["run", "sparse-recovery", "--help"],
             "report OUT": ["report", str(out)], "status OUT": ["status", str(out)],
             "reproduce list": ["reproduce", "list"],
             "plot OUT": ["plot", str(out), "--file", str(tmp / "p.png")]}
    for label, args in cases.items():
        s = best([PY, "-m", "groklab.cli", *args], a.repeat)
        torch_note = "imports torch!" if imports_torch(args) else "no torch"
        print(f"  {label:<28s} {s:6.3f} s  {s / torch_s:5.2f} x import torch   ({torch_note})")


if __name__ == "__main__":
    main()
