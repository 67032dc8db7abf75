"""CPU kernel sets: environments that make torch, MKL, oneDNN, numba and OpenBLAS sum in another
order than they do natively on this CPU, so a bound tuned to one instruction set fails here.

Every variable must be set before the process starts (MKL, oneDNN and ATen read them once), so a
kernel set is applied to a *new* process:

    python tests/kernels.py run avx2 -- -m numerics      # pytest in a new process, held to AVX2
    python tests/kernels.py held -- -m numerics          # the set `make test` uses on this CPU
    python tests/kernels.py list                          # the sets and their variables

``make test`` runs the whole suite natively, then the tests marked ``numerics`` once more held to
the set :func:`held` picks: AVX2 on a CPU with AVX-512 (the instruction set the suite's bounds
were most often tuned on elsewhere), else torch's portable ``default`` kernels with SSE4.2 MKL /
oneDNN paths.  ``benchmarks/kernel_spread.py`` measures the numbers the bounds are set from under
every set listed here.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: name -> environment.  ATEN_CPU_CAPABILITY picks torch's vectorized kernels (elementwise ops,
#: reductions); MKL_CBWR + MKL_ENABLE_INSTRUCTIONS hold MKL's GEMM/GEMV to one code path;
#: ONEDNN_MAX_CPU_ISA caps oneDNN (float32 linear layers); NUMBA_CPU_NAME compiles the matrix
#: kernel for that CPU; OPENBLAS_CORETYPE picks numpy's OpenBLAS kernels.
KERNELS: dict[str, dict[str, str]] = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
             "ONEDNN_MAX_CPU_ISA": "AVX2", "NUMBA_CPU_NAME": "haswell",
             "OPENBLAS_CORETYPE": "Haswell"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "SSE4_2",
                "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41",
                "NUMBA_CPU_NAME": "nehalem", "OPENBLAS_CORETYPE": "Nehalem"},
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},
    "threads-2": {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "GROKLAB_TEST_THREADS": "2"},
}


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def held() -> str:
    """The kernel set ``make test``'s second pass holds the numerics tests to on this CPU."""
    return "avx2" if "avx512f" in cpu_flags() else "default"


def environment(name: str) -> dict[str, str]:
    if name not in KERNELS:
        raise SystemExit(f"kernels: unknown set {name!r}; sets: {', '.join(KERNELS)}")
    return {**os.environ, **KERNELS[name], "GROKLAB_KERNEL_SET": name}


def main(argv: list[str]) -> int:
    if not argv or argv[0] == "list":
        for name, env in KERNELS.items():
            print(f"{name:15s} " + (" ".join(f"{k}={v}" for k, v in env.items()) or "(as is)"))
        print(f"held here: {held()}")
        return 0
    cmd, *rest = argv
    if cmd not in ("run", "held"):
        raise SystemExit("usage: kernels.py list | run SET -- PYTEST ARGS | held -- PYTEST ARGS")
    name = held() if cmd == "held" else rest.pop(0)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    print(f"kernels: pytest {' '.join(rest)} held to {name!r}: "
          + (" ".join(f"{k}={v}" for k, v in KERNELS[name].items()) or "(as is)"), flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *rest], env=environment(name))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
