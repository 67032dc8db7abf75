"""The depth-1 matrix kernel (families/matrix/kernel.py + numba_kernel.py) is used, or the fallback
says so, and nothing handed to it can make it index outside its arrays.

Each safety property is exercised so that it could fail: numba made unimportable in a subprocess
(the notice must appear once, and only then), a compile that raises, arrays tampered with after
packing (a ValueError, and the kernel must not have run), a call with other types than the one
compiled signature (refused, not compiled afresh).  Agreement with the torch engine is in
tests/test_matrix.py, bitwise equality with the earlier C kernel in tests/test_golden.py
("completion" was recorded through it).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import groklab
from groklab.families.matrix.config import MatrixCompletionConfig, MatrixSensingConfig
from groklab.families.matrix import kernel as mk
from groklab.families.matrix.engine import _Fit
from groklab.families.matrix.data import make_completion_data, make_sensing_data

from conftest import REPO

MC = "matrix-completion"
NOTICE = "groklab: the compiled matrix kernel is unavailable"
needs_kernel = pytest.mark.skipif(not mk.available(),
                                  reason=f"kernel unavailable: {mk.unavailable_reason()}")
GRID = dict(rows=6, cols=5, rank=2, observed=18, nuclear=1e-3, lr=[0.5, 1.0], steps=60,
            log_every=20, log_dense_until=10)


@pytest.fixture
def fresh(monkeypatch):
    """matrix_kernel's per-process state (compiled, error, notice printed) as in a new process;
    monkeypatch restores the real one afterwards."""
    monkeypatch.setattr(mk, "_compiled", False)
    monkeypatch.setattr(mk, "_error", None)
    monkeypatch.setattr(mk, "_noticed", False)
    monkeypatch.delenv("GROKLAB_MATRIX_KERNEL", raising=False)
    return monkeypatch


def run_python(code: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"))
    env.pop("GROKLAB_MATRIX_KERNEL", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=600, cwd=REPO)


# the same two sweeps in a process where `import numba` fails, printing their final errors
WITHOUT_NUMBA = f"""
    import sys
    sys.modules["numba"] = None  # import numba -> ImportError, as if it were not installed
    import groklab
    grid = {GRID!r}
    for seed in (0, 1):
        res = groklab.sweep(dict(grid, seed=seed), problem="{MC}")
        print(repr(res.runs.sort_values("run_id").final_test_error.tolist()))
"""


def notices(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if NOTICE in ln]


def test_missing_numba_falls_back_to_torch_with_one_notice(monkeypatch):
    p = run_python(WITHOUT_NUMBA)
    assert p.returncode == 0, p.stderr
    lines = notices(p.stderr)
    assert len(lines) == 1, p.stderr  # once per process, though two sweeps fell back
    assert "numba does not import" in lines[0] and "torch path" in lines[0]
    # the fallback is the torch engine: its numbers, bit for bit
    monkeypatch.setenv("GROKLAB_MATRIX_KERNEL", "torch")
    want = [repr(groklab.sweep(dict(GRID, seed=s), problem=MC).runs.sort_values("run_id")
                 .final_test_error.tolist()) for s in (0, 1)]
    assert p.stdout.split() == " ".join(want).split()


def test_torch_chosen_explicitly_is_silent():
    p = run_python(WITHOUT_NUMBA, {"GROKLAB_MATRIX_KERNEL": "torch"})
    assert p.returncode == 0, p.stderr
    assert notices(p.stderr) == []


def test_numba_requested_but_unavailable_raises(fresh):
    fresh.setattr(mk, "_numba_kernel", None)
    fresh.setattr(mk, "_IMPORT_ERROR", "numba does not import: ImportError: (test)")
    fresh.setenv("GROKLAB_MATRIX_KERNEL", "numba")
    with pytest.raises(RuntimeError, match="unavailable: numba does not import"):
        mk.wanted(1, 6, 5, "cpu")
    fresh.setenv("GROKLAB_MATRIX_KERNEL", "c")  # the old name means the same
    with pytest.raises(RuntimeError, match="unavailable"):
        mk.wanted(1, 6, 5, "cpu")
    fresh.setenv("GROKLAB_MATRIX_KERNEL", "fortran")
    with pytest.raises(ValueError, match="use auto, numba or torch"):
        mk.wanted(1, 6, 5, "cpu")


@pytest.mark.skipif(mk._numba_kernel is None, reason="numba does not import")
def test_compile_failure_gives_one_line_notice_and_torch(fresh, capsys):
    def broken():
        raise RuntimeError("LLVM ERROR: something\non two lines")

    fresh.setattr(mk._numba_kernel, "compile_kernels", broken)
    assert mk.wanted(1, 6, 5, "cpu") is False
    assert mk.wanted(1, 7, 5, "cpu") is False  # a second batch: no second notice
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and len(notices(err)) == 1
    assert "numba could not compile or load it: RuntimeError: LLVM ERROR: something on two lines" in err
    res = groklab.sweep(GRID, problem=MC)  # and the sweep runs, on torch
    assert (res.runs.status == "done").all()
    assert capsys.readouterr().err == ""


def test_batches_the_kernel_does_not_handle_fall_back_silently(fresh, capsys):
    # depth 2, a GPU device, min(n1, n2) over MAX_DIM: by design, not a failure
    assert mk.wanted(2, 6, 5, "cpu") is False
    assert mk.wanted(1, 6, 5, "meta") is False
    assert mk.wanted(1, mk.MAX_DIM + 1, 80, "cpu") is False
    assert capsys.readouterr().err == ""
    fresh.setenv("GROKLAB_MATRIX_KERNEL", "numba")
    with pytest.raises(RuntimeError, match="min\\(rows, cols\\)"):
        mk.wanted(1, mk.MAX_DIM + 1, 80, "cpu")


# ---------------------------------------------------------------------------------------------
# every array is checked before the call
# ---------------------------------------------------------------------------------------------
def state(kind: str, B: int = 11, shape=(6, 5)) -> mk.KernelState:
    """A packed batch of B runs on 2 data sets (B = 11: two groups, the second padded)."""
    n1, n2 = shape
    if kind == "completion":
        datas = [make_completion_data(MatrixCompletionConfig(rows=n1, cols=n2, rank=2,
                                                             observed=n1 * n2 // 2, seed=s))
                 for s in (0, 1)]
    else:
        datas = [make_sensing_data(MatrixSensingConfig(rows=n1, cols=n2, rank=2,
                                                       measurements=12, seed=s)) for s in (0, 1)]
    fit = _Fit(datas, "cpu")
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(2, B, n1, n2, generator=gen, dtype=torch.float64)
    cols = {k: torch.full((2, B), v, dtype=torch.float64) for k, v in
            (("lr", 0.1), ("nuclear", 1e-2), ("l1", 0.0), ("l2", 0.0), ("nuclear_rank_tol", 0.0))}
    return mk.KernelState(fit, A, cols, "subgradient")


def _set(name, value_of):
    def tamper(ks):
        setattr(ks, name, value_of(getattr(ks, name)))
    return tamper


def _hyper(ks):
    ks.hyper["lr"] = ks.hyper["lr"][:1].copy()


def _dat(value):
    def tamper(ks):
        ks.dat[:] = value
    return tamper


TAMPER = {  # what -> (problem kind, tampering, expected message)
    "A lane missing": ("completion", _set("A", lambda a: a[..., :-1].copy()), "A has shape"),
    "A float32": ("completion", _set("A", lambda a: a.astype(np.float32)), "A has dtype"),
    "A not contiguous": ("completion", _set("A", lambda a: np.asfortranarray(a)), "C-contiguous"),
    "A read-only": ("completion", _set("A", lambda a: np.lib.stride_tricks.as_strided(
        a, writeable=False)), "read-only"),
    "A a tensor": ("completion", _set("A", torch.from_numpy), "not a numpy array"),
    "V too small": ("completion", _set("V", lambda v: v[:, :-1].copy()), "V has shape"),
    "status int64": ("completion", _set("status", lambda s: s.astype(np.int64)), "status"),
    "one group more": ("completion", _set("G", lambda g: g + 1), "has shape"),
    "n above MAX_DIM": ("completion", _set("n", lambda n: mk.MAX_DIM + 1), "n <= 64"),
    "m below n": ("completion", _set("m", lambda m: 2), "1 <= n <= m"),
    "hyper-parameters of one group": ("completion", _hyper, "lr has shape"),
    "mask of another shape": ("completion", _set("M", lambda M: M[:, :-1].copy()), "M has shape"),
    "no targets": ("completion", _set("Y", lambda Y: None), "Y is NoneType"),
    "data set past the last": ("sensing", _dat(2), "data-set index outside 0..1"),
    "negative data set": ("sensing", _dat(-1), "data-set index"),
    "XtX of another size": ("sensing", _set("XtX", lambda X: X[:, :-1, :-1].copy()),
                            "XtX has shape"),
    "fewer p0 rows": ("sensing", _set("p0", lambda p: p[:1].copy()), "p0 has shape"),
    "unknown method": ("completion", _set("method", lambda m: 7), "method = 7"),
}


@needs_kernel
@pytest.mark.parametrize("what", list(TAMPER))
def test_out_of_range_arrays_raise_before_the_kernel_runs(what):
    kind, tamper, message = TAMPER[what]
    ks = state(kind)
    ks.advance(2)  # as packed: fine
    tamper(ks)
    before = np.asarray(ks.A).copy()
    with pytest.raises(ValueError, match=message):
        ks.advance(3)
    np.testing.assert_array_equal(np.asarray(ks.A), before)  # nothing ran


@needs_kernel
@pytest.mark.parametrize("nsteps", [-1, 2.5, 2 ** 62])
def test_bad_step_counts_raise(nsteps):
    with pytest.raises(ValueError, match="nsteps"):
        state("completion").advance(nsteps)


def test_packing_refuses_shapes_the_kernel_does_not_handle():
    with pytest.raises(ValueError, match=f"outside 1..{mk.MAX_DIM}"):
        state("completion", B=3, shape=(mk.MAX_DIM + 1, mk.MAX_DIM + 2))
    fit = _Fit([make_completion_data(MatrixCompletionConfig(rows=6, cols=5, rank=2,
                                                            observed=15))], "cpu")
    cols = {k: torch.ones(1, 2, dtype=torch.float64) for k in
            ("lr", "nuclear", "l1", "l2", "nuclear_rank_tol")}
    with pytest.raises(ValueError, match="unknown method"):
        mk.KernelState(fit, torch.zeros(1, 2, 6, 5, dtype=torch.float64), cols, "ista")


@needs_kernel
def test_only_the_checked_signature_is_compiled():
    """After the first use the entry points refuse other types instead of compiling a variant
    (which would also be compiled without the SLP vectorizer, several times slower)."""
    import numba
    nk = mk._numba_kernel
    slp = numba.config.SLP_VECTORIZE
    nk.compile_kernels()  # again: a no-op, and the process-wide switch is left as it was
    assert numba.config.SLP_VECTORIZE == slp
    ks = state("completion")
    args = list(ks._args(1))
    args[3] = args[3].astype(np.float32)
    for fn in (nk.advance_serial, nk.advance_parallel):
        assert len(fn.signatures) == 1
        with pytest.raises(TypeError):
            fn(*args)
        assert len(fn.signatures) == 1


@needs_kernel
@pytest.mark.parametrize("kind", ["completion", "sensing"])
def test_threads_do_not_change_the_numbers(kind, monkeypatch):
    """The parallel entry point (groups over threads) gives the serial one's numbers exactly."""
    out = []
    for threads in (1, 2):
        monkeypatch.setattr(torch, "get_num_threads", lambda t=threads: t)
        ks = state(kind, B=40)  # 5 groups per data set
        ks.advance(5000 // ks.G)  # nsteps * G >= 4096: the parallel entry point with 2 threads
        out.append(np.array(ks.A))
    np.testing.assert_array_equal(out[0], out[1])


# ---------------------------------------------------------------------------------------------
# numba's cache: concurrent first use, a damaged cache (slow: each compiles the kernel)
# ---------------------------------------------------------------------------------------------
FIRST_USE = f"""
    import groklab
    from groklab.families.matrix import kernel as mk
    print(mk.available())
    res = groklab.sweep(dict({GRID!r}, seed=3), problem="{MC}")
    print(repr(res.runs.sort_values("run_id").final_test_error.tolist()))
"""


def final_errors(backend: str, monkeypatch) -> str:
    monkeypatch.setenv("GROKLAB_MATRIX_KERNEL", backend)
    return repr(groklab.sweep(dict(GRID, seed=3), problem=MC).runs.sort_values("run_id")
                .final_test_error.tolist())


@pytest.mark.slow
@needs_kernel
def test_concurrent_first_use_and_a_damaged_cache(tmp_path, monkeypatch):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"),
               NUMBA_CACHE_DIR=str(tmp_path / "numba"))  # a fresh cache, not the user's
    env.pop("GROKLAB_MATRIX_KERNEL", None)
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(FIRST_USE)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                              cwd=REPO) for _ in range(2)]  # both compile, both write the cache
    outs = [p.communicate(timeout=900) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    kernel, torch_path = final_errors("numba", monkeypatch), final_errors("torch", monkeypatch)
    assert [o.splitlines() for o, _ in outs] == [["True", kernel]] * 2
    files = [f for f in (tmp_path / "numba").rglob("*") if f.is_file()]
    assert any(f.suffix == ".nbc" for f in files) and any(f.suffix == ".nbi" for f in files)
    cached = run_python(FIRST_USE, {"NUMBA_CACHE_DIR": env["NUMBA_CACHE_DIR"]})
    assert cached.returncode == 0 and cached.stdout.splitlines() == ["True", kernel], cached.stderr
    for f in files:  # damage every cached file: recompiled, or refused with the notice
        f.write_bytes(b"\0garbage" * 16)
    damaged = run_python(FIRST_USE, {"NUMBA_CACHE_DIR": env["NUMBA_CACHE_DIR"]})
    assert damaged.returncode == 0, damaged.stderr
    ok, numbers = damaged.stdout.splitlines()
    if ok == "True":
        assert numbers == kernel and notices(damaged.stderr) == []
    else:
        assert numbers == torch_path and len(notices(damaged.stderr)) == 1
