"""Bring your own data (``--data F.npz``): sparse recovery, matrix completion and sensing.

A ``--data`` run must equal a plain numpy loop of the same update on the same arrays (1e-8
relative); the file's content hash -- not its path -- makes the run id; bad files are refused in
one line before anything is written; without a ground truth the test metrics are null.
"""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import groklab
from groklab import backends, datafiles
from groklab.cli import main as cli_main
from groklab.families.matrix.config import MatrixCompletionConfig
from groklab.families.sparse_recovery.config import SparseRecoveryConfig
from groklab.families.sparse_recovery import userdata
from groklab.families.sparse_recovery.data import make_data

from conftest import cli

RTOL = 1e-8


@pytest.fixture
def sparse_file(tmp_path):
    rng = np.random.default_rng(0)
    n, N = 40, 20
    X = rng.normal(size=(N, n)) / np.sqrt(N)
    a = np.zeros(n)
    a[[3, 17, 30]] = [1.0, -0.5, 0.8]
    path = tmp_path / "sparse.npz"
    np.savez(path, X=X, y=X @ a, a_star=a)
    return path, X, X @ a, a


@pytest.fixture
def matrix_files(tmp_path):
    rng = np.random.default_rng(1)
    n1, n2, r = 8, 6, 2
    A = rng.normal(size=(n1, r)) @ rng.normal(size=(r, n2))
    idx = rng.choice(n1 * n2, 30, replace=False)
    rows, cols = idx // n2, idx % n2
    noisy = A[rows, cols] + 0.01 * rng.normal(size=30)  # user data need not be exact
    comp = tmp_path / "completion.npz"
    np.savez(comp, rows=rows, cols=cols, values=noisy, shape=[n1, n2], A_star=A)
    Xs = rng.normal(size=(40, n1, n2)) / np.sqrt(40)
    sens = tmp_path / "sensing.npz"
    np.savez(sens, X=Xs, y=np.einsum("kij,ij->k", Xs, A), A_star=A)
    return dict(A=A, rows=rows, cols=cols, values=noisy, Xs=Xs, comp=comp, sens=sens)


def _close(got, want, what):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12 * np.abs(want).max(), err_msg=what)


# ---- agreement with a plain numpy loop ------------------------------------------------------------
@pytest.mark.parametrize("method", ["subgradient", "ista"])
def test_sparse_data_run_equals_a_numpy_loop(sparse_file, method):
    path, X, y, a_star = sparse_file
    lr, l1, l2, zeta, steps = 0.2, 1e-3, 1e-3, 1e-3, 3000
    res = groklab.run(data=str(path), method=method, lr=lr, l1=l1, l2=l2, init_scale=zeta,
                      steps=steps, log_every=100, log_dense_until=10)
    a = np.full(X.shape[1], zeta)
    errs = {}
    for t in range(steps + 1):
        if t in set(res.curves.step):
            errs[t] = (np.linalg.norm(X @ a - y) / np.linalg.norm(y),
                       np.linalg.norm(a - a_star) / np.linalg.norm(a_star))
        if t == steps:
            break
        g = X.T @ (X @ a - y)
        if method == "subgradient":
            a = a - lr * (g + l1 * np.sign(a) + l2 * a)
        else:
            b = a - lr * (g + l2 * a)
            a = np.sign(b) * np.maximum(np.abs(b) - lr * l1, 0.0)
    run = res.runs.iloc[0]
    _close(np.asarray(run.final_a), a, "final a")
    c = res.curves.sort_values("step")
    _close(c.train_error.to_numpy(), np.array([errs[t][0] for t in c.step]), "train error")
    _close(c.test_error.to_numpy(), np.array([errs[t][1] for t in c.step]), "test error")
    assert (run.dim, run.measurements, run.sparsity) == (40, 20, 3)  # read from the file


def _svd_subgradient(A):
    u, _, vt = np.linalg.svd(A, full_matrices=False)
    return u @ vt


def _svt(B, t):
    u, s, vt = np.linalg.svd(B, full_matrices=False)
    return (u * np.maximum(s - t, 0.0)) @ vt


@pytest.mark.parametrize("kernel", ["auto", "torch"])
@pytest.mark.parametrize("method,steps", [("svt", 1500), ("subgradient", 150)])
def test_completion_data_run_equals_a_numpy_loop(matrix_files, kernel, method, steps, monkeypatch):
    """SVT is non-expansive, so rounding differences (Jacobi vs LAPACK SVDs) stay at rounding
    level over any horizon; the subgradient's U V^T of the spurious singular directions is not
    (they hover near 0, where U V^T is discontinuous), so its loop is compared over a horizon
    before they form."""
    monkeypatch.setenv("GROKLAB_MATRIX_KERNEL", kernel)
    f = matrix_files
    lr, nuc = 0.5, 1e-2
    res = groklab.run(problem="matrix-completion", data=str(f["comp"]), lr=lr, nuclear=nuc,
                      method=method, steps=steps, log_every=100, log_dense_until=10)
    n1, n2 = f["A"].shape
    M = np.zeros((n1, n2))
    M[f["rows"], f["cols"]] = 1.0
    Y = np.zeros((n1, n2))
    Y[f["rows"], f["cols"]] = f["values"]  # the observations, noise included
    A = 1e-6 * np.eye(n1, n2)
    for _ in range(steps):
        if method == "subgradient":
            A = A - lr * (M * (A - Y) + nuc * _svd_subgradient(A))
        else:
            A = _svt(A - lr * M * (A - Y), lr * nuc)
    run = res.runs.iloc[0]
    _close(np.asarray(run.final_A).reshape(n1, n2), A, "final A")
    _close(run.final_test_error, np.linalg.norm(A - f["A"]) / np.linalg.norm(f["A"]), "test error")
    _close(run.final_train_error, np.linalg.norm(M * (A - Y)) / np.linalg.norm(Y), "train error")
    assert (run.rows, run.cols, run.observed, run["rank"]) == (8, 6, 30, 2)


def test_sensing_data_run_equals_a_numpy_loop(matrix_files):
    f = matrix_files
    lr, nuc, steps = 0.2, 1e-2, 1500
    res = groklab.run(problem="matrix-sensing", data=str(f["sens"]), lr=lr, nuclear=nuc,
                      method="svt", steps=steps, log_every=100, log_dense_until=10)
    n1, n2 = f["A"].shape
    X = f["Xs"].reshape(len(f["Xs"]), -1)
    y = X @ f["A"].reshape(-1)
    A = 1e-6 * np.eye(n1, n2)
    for _ in range(steps):
        A = _svt(A - lr * (X.T @ (X @ A.reshape(-1) - y)).reshape(n1, n2), lr * nuc)
    run = res.runs.iloc[0]
    _close(np.asarray(run.final_A).reshape(n1, n2), A, "final A")
    assert run.measurements == 40


# ---- identity: the content, not the path ----------------------------------------------------------
def test_run_id_follows_the_content_not_the_path(sparse_file, tmp_path):
    path, X, y, a_star = sparse_file
    copy = tmp_path / "elsewhere" / "copy.npz"
    copy.parent.mkdir()
    shutil.copy(path, copy)
    other = tmp_path / "other.npz"
    np.savez(other, X=X, y=2 * y, a_star=2 * a_star)
    ids = [SparseRecoveryConfig(data=str(p)).run_id() for p in (path, copy, other)]
    assert ids[0] == ids[1] != ids[2]
    assert SparseRecoveryConfig(data=str(path)).run_id() != SparseRecoveryConfig().run_id()


def test_same_file_resumes_other_file_reruns(sparse_file, tmp_path):
    path, X, y, a_star = sparse_file
    grid = {"data": str(path), "lr": 0.2, "l1": [1e-3, 1e-4], "steps": 300}
    first = groklab.sweep(grid, out=tmp_path / "out")
    copy = tmp_path / "copy.npz"
    shutil.copy(path, copy)
    again = groklab.sweep({**grid, "data": str(copy)}, out=tmp_path / "out")
    pd.testing.assert_frame_equal(first.runs, again.runs)  # resumed: same ids, nothing re-ran
    np.savez(path, X=X, y=y, a_star=-a_star)  # new content under the old name: new runs
    third = groklab.sweep(grid, out=tmp_path / "out")
    assert set(third.runs.run_id).isdisjoint(first.runs.run_id)


def test_a_file_changed_after_planning_is_refused(sparse_file):
    """A reader that has not parsed the file yet (a fresh process) checks it against the hash
    the config was made with."""
    path, X, y, a_star = sparse_file
    cfg = SparseRecoveryConfig(data=str(path))
    np.savez(path, X=X, y=y + 1.0, a_star=a_star)
    datafiles._DIGESTS.clear()
    userdata._CACHE.clear()
    with pytest.raises(groklab.ConfigError, match="--data.*changed since the sweep was planned"):
        make_data(cfg)


def test_shipped_bytes_replace_the_path(sparse_file, tmp_path):
    """What a Ray worker does: the bytes come with the task, the path need not exist there."""
    path, *_ = sparse_file
    cfg = SparseRecoveryConfig(data=str(path))
    ship = backends.shipment([[[cfg]]])
    assert list(ship.files) == [cfg.file_digest("data")]
    gone = tmp_path / "gone.npz"
    shutil.move(path, gone)
    try:
        backends.install(ship)
        assert make_data(cfg).X.shape == (20, 40)
    finally:
        datafiles.SHIPPED.clear()


# ---- without a ground truth ---------------------------------------------------------------------
def test_without_a_star_only_train_metrics(sparse_file, tmp_path):
    path, X, y, _ = sparse_file
    blind = tmp_path / "blind.npz"
    np.savez(blind, X=X, y=y)
    res = groklab.run(data=str(blind), lr=0.2, l1=1e-3, steps=2000)
    r = res.runs.iloc[0]
    assert r.status == "done" and r.t1 is not pd.NA and r.t1 > 0
    assert r.t2 is pd.NA and r.t2_rule == "unmeasured" and np.isnan(r.final_test_error)
    assert res.curves.test_error.isna().all() and res.curves.train_error.notna().all()
    comp = tmp_path / "blind_completion.npz"  # 6 observed entries of a 3 x 4 matrix, no A*
    np.savez(comp, rows=[0, 0, 1, 2, 2, 1], cols=[0, 3, 1, 2, 0, 2], values=np.arange(1.0, 7.0),
             shape=[3, 4])
    mc = groklab.run(problem="matrix-completion", data=str(comp), lr=0.5, nuclear=1e-3, steps=500)
    r = mc.runs.iloc[0]
    assert r.status == "done" and r.t2_rule == "unmeasured" and np.isnan(r.final_unobserved_error)


# ---- bad files: one line, exit 2, nothing written --------------------------------------------------
def _main(*args, capsys):
    """The CLI in this process: (exit status, stderr without its final newline)."""
    rc = cli_main([str(a) for a in args])
    return rc, capsys.readouterr().err.rstrip("\n")


def _bad(tmp_path, name, **arrays):
    p = tmp_path / f"{name}.npz"
    np.savez(p, **arrays)
    return p


@pytest.mark.parametrize("case", ["missing", "shape", "nan", "lr", "nofile", "notnpz", "option"])
def test_bad_sparse_files_are_one_line(tmp_path, sparse_file, case, capsys):
    path, X, y, a = sparse_file
    extra = []
    if case == "missing":
        f = _bad(tmp_path, case, X=X)
    elif case == "shape":
        f = _bad(tmp_path, case, X=X, y=y[:-1])
    elif case == "nan":
        Xn = X.copy()
        Xn[0, 0] = np.nan
        f = _bad(tmp_path, case, X=Xn, y=y)
    elif case == "lr":
        f, extra = path, ["--lr", "5"]
    elif case == "nofile":
        f = tmp_path / "absent.npz"
    elif case == "notnpz":
        f = tmp_path / "text.npz"
        f.write_text("not an archive")
    else:
        f, extra = path, ["--tau", "0.5"]
    out = tmp_path / "out"
    rc, line = _main("run", "sparse-recovery", "--data", f, "--steps", "100", "--out", out, *extra,
                     capsys=capsys)
    assert rc == 2 and "\n" not in line and "Traceback" not in line, line
    assert ("--tau" if case == "option" else "--lr" if case == "lr" else "--data") in line, line
    assert not out.exists()


@pytest.mark.parametrize("case", ["index", "duplicate", "lengths", "noshape"])
def test_bad_completion_files_are_one_line(tmp_path, case, capsys):
    good = dict(rows=[0, 1, 2], cols=[0, 1, 2], values=[1.0, 2.0, 3.0], shape=[3, 3])
    bad = {"index": dict(good, rows=[0, 1, 3]),
           "duplicate": dict(good, rows=[0, 0, 2], cols=[1, 1, 2]),
           "lengths": dict(good, values=[1.0, 2.0]),
           "noshape": {k: v for k, v in good.items() if k != "shape"}}[case]
    f = _bad(tmp_path, case, **bad)
    with pytest.raises(groklab.ConfigError, match="^--data: "):
        MatrixCompletionConfig(data=str(f))
    rc, line = _main("run", "matrix-completion", "--data", f, "--out", tmp_path / "out",
                     capsys=capsys)
    assert rc == 2 and "\n" not in line and line.startswith("groklab run: error: --data")
    if case == "index":  # and the real command, in a new process, says the same
        p = cli("run", "matrix-completion", "--data", f, "--out", tmp_path / "out")
        assert p.returncode == 2 and p.stderr.strip() == line
    assert not (tmp_path / "out").exists()
