"""Golden numbers: a small grid per family, recorded once, must come out the same.

The files under ``tests/golden/`` were written by ``python tests/test_golden.py --record`` from
the code *before* the families became plug-ins (the layout change must not move a number).  The
test reruns every grid through the public API (``groklab.sweep``) and compares runs.parquet's
numeric columns, its t1/t2/status, the run ids, and every curve:

* On the machine that recorded them (same CPU model, same torch, same BLAS: ``fingerprint``), the
  float64 families (sparse recovery, matrix completion / sensing) must be **bitwise** equal and
  the float32 networks too (same kernels, same order of operations).
* On another machine the BLAS kernels may sum in another order.  Then floats are compared to a
  tolerance: float64 families to ``RTOL_F64``, float32 networks to ``RTOL_F32``, and the times
  (t1, t2, Delta t) and statuses must still be identical.  The tolerances come from replaying
  the grids under other CPU kernels (tests/kernels.py, benchmarks/kernel_spread.py) and on
  other CPUs: see ``RTOL_F64`` and ``tests/golden/README.md``.  ``make test`` runs this test a
  second time with the kernels held to another instruction set.

Record again only when a change of numbers is intended, and say so in the commit message.  A
change of the detection rules alone: ``python tests/test_golden.py --redetect`` re-reads the
times from the stored curves and leaves every other number as recorded.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import groklab

GOLDEN = Path(__file__).resolve().parent / "golden"
#: Float tolerances away from the recording machine (see the module docstring), each set from
#: the worst relative deviation seen with a stated margin.  Measured by benchmarks/
#: kernel_spread.py (probe golden: the relative tolerance each column needs beside ATOL) under
#: the five kernel sets of tests/kernels.py on an AMD EPYC (Zen 4, AVX-512), and on an Intel Xeon
#: (AVX-512) by hand:
#: * float64: 4.96e-6 on the Xeon (completion, ``final_train_error`` of a run oscillating at its
#:   lr * beta floor, where each step's rounding decides the next), at most 4.3e-9 on the EPYC
#:   (basis pursuit's ``grad_ratio``; the gradient-descent families 3.4e-11).  10x the worst: 5e-5.
#: * float32: 1.7e-2 on the EPYC with torch's portable kernels (teacher-student
#:   ``train_jac_error``; modular 1.7e-3).  2.9x the worst: 5e-2.
#: t1, t2, Delta t and every status were identical under every set; they stay compared exactly.
RTOL_F64 = 5e-5
RTOL_F32 = 5e-2
ATOL = 1e-12

LOGS = dict(log_dense_until=20, log_every=100)
SPARSE = dict(dim=40, sparsity=3, measurements=16, **LOGS)
MATRIX = dict(rows=8, cols=6, rank=2, **LOGS)
MOD = dict(modulus=11, train_fraction=0.5, width=16, steps=150, log_dense_until=10, log_every=20)
TS = dict(input_dim=8, hidden=16, outputs=2, train_size=16, test_size=40, steps=300,
          log_dense_until=10, log_every=10)

#: name -> (problem, [grids], float32?, environment); every grid goes through groklab.sweep
CASES = {
    "sparse_methods": ("sparse-recovery", [
        dict(SPARSE, method=["subgradient", "ista", "projected"], l1=[1e-4, 1e-3], l2=[0.0, 1e-3],
             steps=3000),
        dict(SPARSE, measurements=24, l1=[1e-3, 3e-3], steps=5000)], False, {}),
    "sparse_deep": ("sparse-recovery", [
        dict(SPARSE, depth=[2, 3], init=["random", "signed"], init_scale=0.3, l1=[0.0, 1e-4],
             lr=0.05, steps=3000),
        dict(SPARSE, depth=2, method="ista", init="random", init_scale=0.3, l1=1e-4, lr=0.05,
             steps=2000)], False, {}),
    "sparse_data": ("sparse-recovery", [
        dict(SPARSE, basis=["orthonormal", "fourier"], tau=[0.0, 0.5], snr=[math.inf, 1e6],
             steps=1500, lr=0.05),
        dict(SPARSE, seed=[1, 2, 3], measurements=[12, 30], init="random", init_scale=1e-3,
             steps=1500),
        dict(SPARSE, measurement_variance="1/n", basis="gaussian", lr=0.02, steps=1000)],
        False, {}),
    "sparse_basis_pursuit": ("sparse-recovery", [
        dict(SPARSE, method="basis-pursuit", sparsity=[2, 8], snr=[math.inf, 1e4])], False, {}),
    "completion": ("matrix-completion", [
        dict(MATRIX, method=["subgradient", "svt", "projected"], nuclear=[1e-3, 1e-2],
             lr=[0.5, 1.0], observed=30, steps=2000),
        dict(MATRIX, observed=40, nuclear=[1e-2, 2e-2], lr=1.0, steps=3000),
        dict(MATRIX, observed=[24, 36], tau=[0.0, 0.5], l1=[0.0, 1e-3], l2=[0.0, 1e-2],
             nuclear=1e-3, lr=0.5, steps=1000, nuclear_rank_tol=[0.0, 1e-3])], False, {}),
    "completion_torch": ("matrix-completion", [
        dict(MATRIX, method=["subgradient", "svt", "projected"], nuclear=1e-3, lr=0.5,
             observed=30, steps=1500)], False, {"GROKLAB_MATRIX_KERNEL": "torch"}),
    "completion_deep": ("matrix-completion", [
        dict(MATRIX, depth=[2, 3], init="random", init_scale=0.3, nuclear=[0.0, 1e-3], lr=0.2,
             observed=30, steps=1500, method=["subgradient", "svt"]),
        dict(MATRIX, depth=2, width=4, init="identity", init_scale=0.3, nuclear=0.0, lr=0.2,
             observed=30, steps=1000)], False, {}),
    "sensing": ("matrix-sensing", [
        dict(MATRIX, method=["subgradient", "svt", "projected"], measurement=["gaussian",
             "rank-one"], measurements=30, nuclear=1e-3, lr=0.1, steps=1500),
        dict(MATRIX, depth=2, init="random", init_scale=0.3, measurements=30, nuclear=1e-3,
             lr=0.05, steps=1000)], False, {}),
    "modular": ("modular", [
        dict(MOD, batch_size=[0, 16], l1=[0.0, 1e-4], optimizer=["adam", "sgd"], lr=[1e-2]),
        dict(MOD, architecture="hadamard", nuclear=[0.0, 1e-4], l2=[0.0, 1e-3],
             optimizer="adamw", weight_decay=0.01, penalty_form=["norm", "squared"]),
        dict(MOD, operation=["mul", "div"], seed=[0, 1], data_seed=[0, 2], l2=1e-4)], True, {}),
    "teacher_student": ("teacher-student", [
        dict(TS, l1=[0.0, 1e-3], l2=[0.0, 1e-3], lr=[1e-3, 1e-2]),
        dict(TS, nuclear=1e-3, seed=[0, 1], data_seed=[0, 1]),
        dict(TS, sobolev=1e-2, sobolev_form=["norm", "squared"], teacher_sparsity=0.5,
             teacher_rank=[0, 2], optimizer=["adam", "sgd"])], True, {}),
}


def fingerprint() -> dict:
    """What decides the exact float results: CPU model, torch and its BLAS, numpy, Python."""
    import torch
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                cpu += "|" + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": cpu, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "machine": platform.machine()}


def compute(name: str) -> groklab.Results:
    problem, grids, _, _ = CASES[name]
    runs, curves = [], []
    for grid in grids:
        res = groklab.sweep(grid, problem=problem)
        runs.append(res.runs)
        curves.append(res.curves)
    runs = pd.concat(runs, ignore_index=True).sort_values("run_id", kind="stable")
    curves = pd.concat(curves, ignore_index=True)
    curves["run_id"] = curves["run_id"].astype(str)
    curves = curves.sort_values(["run_id", "step"], kind="stable")
    return groklab.Results(runs=runs.reset_index(drop=True), curves=curves.reset_index(drop=True))


def _numeric(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])
            and not pd.api.types.is_bool_dtype(df[c])]


#: run columns that are measurements of the machine, not results
WALL = ("wall_time_s",)
TIMES = ("t1", "t2", "delta_t", "t1_best", "t2_best")


def compare(name: str, got: groklab.Results, want: groklab.Results, exact: bool) -> None:
    f32 = CASES[name][2]
    rtol = 0.0 if exact else (RTOL_F32 if f32 else RTOL_F64)
    atol = 0.0 if exact else ATOL
    assert list(got.runs.run_id) == list(want.runs.run_id), f"{name}: run ids changed"
    for df_got, df_want, what in ((got.runs, want.runs, "runs"), (got.curves, want.curves, "curves")):
        assert len(df_got) == len(df_want), f"{name} {what}: {len(df_got)} rows, want {len(df_want)}"
        missing = set(df_want.columns) - set(df_got.columns)
        assert not missing, f"{name} {what}: columns lost: {sorted(missing)}"
        for col in _numeric(df_want):
            if col in WALL:
                continue
            a = df_got[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            b = df_want[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            if col == "grad_ratio" and not exact:
                # |penalty gradient| / |fit gradient|: where the fit gradient is at rounding
                # level (the projected method fits exactly) the ratio is noise over noise
                keep = df_want["grad_fit_norm"].to_numpy(float) > 1e-10
                a, b = a[keep], b[keep]
            if col in TIMES or col in ("step", "batch_runs"):
                np.testing.assert_array_equal(a, b, err_msg=f"{name} {what}.{col}")
            else:
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True,
                                           err_msg=f"{name} {what}.{col}")
        for col in df_want.columns:
            if col in _numeric(df_want) or col == "groklab_version":
                continue
            if col in ("final_a", "final_A", "final_sigma"):  # lists of floats
                a = np.array([np.asarray(v, float) for v in df_got[col]], dtype=float)
                b = np.array([np.asarray(v, float) for v in df_want[col]], dtype=float)
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True,
                                           err_msg=f"{name} {what}.{col}")
                continue
            a = df_got[col].astype(str).to_numpy()
            b = df_want[col].astype(str).to_numpy()
            np.testing.assert_array_equal(a, b, err_msg=f"{name} {what}.{col}")


def _load(name: str) -> groklab.Results:
    return groklab.Results(runs=pd.read_parquet(GOLDEN / f"{name}.runs.parquet"),
                           curves=pd.read_parquet(GOLDEN / f"{name}.curves.parquet"))


#: environment variables that change which CPU kernels run (tests/kernels.py sets them)
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS",
                    "ONEDNN_MAX_CPU_ISA", "NUMBA_CPU_NAME", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS", "GROKLAB_TEST_THREADS")


def recorded_here(name: str | None = None) -> bool:
    """Whether this machine recorded case ``name``: a case recorded again on its own (``--record
    NAME``) has its own ``NAME.fingerprint.json``; the others share ``fingerprint.json``."""
    own = GOLDEN / f"{name}.fingerprint.json"
    path = own if name is not None and own.exists() else GOLDEN / "fingerprint.json"
    # the recording machine with its kernels held to another instruction set (make test's second
    # pass: tests/kernels.py) sums in another order: compared to the tolerances, not bitwise
    held = any(os.environ.get(v) for v in KERNEL_VARIABLES)
    return not held and json.loads(path.read_text()) == fingerprint()


@pytest.mark.numerics
@pytest.mark.parametrize("name", list(CASES))
def test_golden_numbers_unchanged(name):
    if name == "sparse_basis_pursuit":
        pytest.importorskip("cvxpy")
    with environment(name):
        got = compute(name)
    compare(name, got, _load(name), exact=recorded_here(name))


def test_golden_comparison_can_fail():
    """The comparison itself must catch a change in the last bit of one curve value."""
    want = _load("sparse_methods")
    got = groklab.Results(runs=want.runs.copy(), curves=want.curves.copy())
    col = got.curves["test_error"].to_numpy().copy()
    col[len(col) // 2] = np.nextafter(col[len(col) // 2], np.inf)
    got.curves["test_error"] = col
    with pytest.raises(AssertionError):
        compare("sparse_methods", got, want, exact=True)


@contextlib.contextmanager
def environment(name: str):
    """The case's environment variables (e.g. a forced matrix backend), restored afterwards."""
    env = CASES[name][3]
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def record(names: list[str]) -> None:
    """Record every case (no names: the shared fingerprint.json is rewritten) or only the named
    ones (each gets its own NAME.fingerprint.json: the others keep their recording machine)."""
    GOLDEN.mkdir(exist_ok=True)
    for name in names or CASES:
        with environment(name):
            res = compute(name)
        res.runs.to_parquet(GOLDEN / f"{name}.runs.parquet", index=False)
        res.curves.to_parquet(GOLDEN / f"{name}.curves.parquet", index=False)
        print(f"{name}: {len(res.runs)} runs, {len(res.curves)} curve rows")
        if names:
            (GOLDEN / f"{name}.fingerprint.json").write_text(
                json.dumps(fingerprint(), indent=1) + "\n")
    if not names:
        (GOLDEN / "fingerprint.json").write_text(json.dumps(fingerprint(), indent=1) + "\n")


def redetect_stored() -> None:
    """Re-read t1 / t2 / Delta t of the stored curves with the current detection rules (each
    family's default :class:`groklab.Detection`, which is what ``compute`` runs with) and keep
    every other stored number.  For a change of the detection rules only: ``--record`` on another
    machine than the recording one would move every float as well (see ``fingerprint``)."""
    from groklab import family as registry
    from groklab.tables import redetect

    for name, (problem, *_rest) in CASES.items():
        want = _load(name)
        runs = redetect(want.runs, want.curves, registry.get(problem).detection)
        for col in ("t1", "t2", "delta_t"):
            runs[col] = runs[col].astype("Int64")
        moved = [(rid, col, old, new) for col in ("t1", "t2")
                 for rid, old, new in zip(runs.run_id, want.runs[col], runs[col])
                 if (pd.isna(old), old if not pd.isna(old) else 0)
                 != (pd.isna(new), new if not pd.isna(new) else 0)]
        if moved:  # the others keep their files as recorded
            runs.to_parquet(GOLDEN / f"{name}.runs.parquet", index=False)
        print(f"{name}: {len(moved)} times moved" + "".join(
            f"\n  {rid} {col}: {old} -> {new}" for rid, col, old, new in moved))


def replay(exact: bool) -> None:
    """Compare every case with the stored files and print the largest relative deviation."""
    for name in CASES:
        with environment(name):
            got = compute(name)
        want = _load(name)
        worst = 0.0
        for a_df, b_df in ((got.runs, want.runs), (got.curves, want.curves)):
            for col in _numeric(b_df):
                if col in WALL:
                    continue
                a = a_df[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
                b = b_df[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
                ok = np.isfinite(a) & np.isfinite(b)
                with np.errstate(divide="ignore", invalid="ignore"):
                    rel = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), ATOL)
                if rel.size:
                    worst = max(worst, float(rel.max()))
        try:
            compare(name, got, want, exact=exact)
            verdict = "ok"
        except AssertionError as e:
            verdict = "DIFFERS: " + str(e).splitlines()[0]
        print(f"{name}: max relative deviation {worst:.3g}; {verdict}")


if __name__ == "__main__":
    import torch
    torch.set_num_threads(1)
    if "--record" in sys.argv:
        unknown = [a for a in sys.argv[2:] if a not in CASES]
        if unknown:
            sys.exit(f"--record: unknown case(s) {unknown}; cases: {', '.join(CASES)}")
        record(sys.argv[2:])  # python tests/test_golden.py --record [NAME ...]
    elif "--redetect" in sys.argv:
        redetect_stored()
    else:
        replay(exact="--tolerance" not in sys.argv)
