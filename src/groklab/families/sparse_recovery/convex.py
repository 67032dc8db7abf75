"""Convex basis pursuit for sparse recovery (``--method basis-pursuit``; the convex baseline of
docs/families/sparse-recovery.md#objective-and-methods).

    min |a|_1  subject to  |X a - y|_2 <= eps

solved once per data set with cvxpy (an optional dependency: ``pip install -e '.[convex]'``; it
is also in ``[dev]``).  eps = 1e-8 |y| for noiseless data; with noise (finite SNR) eps adds the
expected noise norm sqrt(E|xi|^2) = sqrt(s / (n SNR)), so a* is feasible.  The program has no
steps, so a run records one logged point, step 0 = the solution, with the same METRICS as the
descent engines: the store, the t1/t2 detector (t1 = t2 = 0 when a* is recovered) and the plots
treat it like any other run.  lr, l1, l2, init and steps do not enter the solution.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ...fields import ConfigError
from ...result import BatchResult
from .data import DTYPE, SparseData
from .engine import METRICS, make_measure, stack_inputs


def require_cvxpy():
    """The cvxpy module (an optional dependency, imported on first use), or a one-line
    ConfigError naming --method when it is not installed."""
    try:
        import cvxpy
    except ImportError:
        raise ConfigError("method", "basis-pursuit needs cvxpy: pip install -e '.[convex]' "
                          "(or choose subgradient, projected, ista)") from None
    return cvxpy


def bp_eps(data: SparseData, cfg) -> float:
    eps = 1e-8 * float(data.y.norm())
    if math.isfinite(cfg.snr):
        eps += math.sqrt(cfg.sparsity / (cfg.dim * cfg.snr))
    return eps


def basis_pursuit(X: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
    """argmin |a|_1 s.t. |X a - y|_2 <= eps (Clarabel when available, cvxpy's default otherwise)."""
    cp = require_cvxpy()
    a = cp.Variable(X.shape[1])
    prob = cp.Problem(cp.Minimize(cp.norm1(a)), [cp.norm2(X @ a - y) <= eps])
    solver = "CLARABEL" if "CLARABEL" in cp.installed_solvers() else None
    prob.solve(solver=solver)
    if a.value is None or prob.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"basis pursuit did not solve: cvxpy status {prob.status!r}")
    return np.asarray(a.value, dtype=float)


def run_basis_pursuit_batch(datas: list[SparseData], cfgs: list[list], *, device: str = "cpu",
                            save_iterates: bool = False, progress=None):
    """The BatchResult of D x B basis-pursuit runs: one solve per data set (and eps), step 0 only."""
    t0 = time.perf_counter()
    D, B = len(datas), len(cfgs[0])
    dev = torch.device(device)
    sols = torch.empty(D, B, datas[0].n, dtype=DTYPE)
    for i, (d, row) in enumerate(zip(datas, cfgs)):
        X, y = d.X.cpu().numpy(), d.y.cpu().numpy()
        cache: dict[float, np.ndarray] = {}
        for b, cf in enumerate(row):
            eps = bp_eps(d, cf)
            if eps not in cache:
                cache[eps] = basis_pursuit(X, y, eps)
            sols[i, b] = torch.from_numpy(cache[eps])
    sols = sols.to(dev)
    X, y, a_star, Xt, _, l1, l2, _, has_l2 = stack_inputs(datas, cfgs, dev)
    measure = make_measure(datas, X, Xt, y, a_star, l1, l2, has_l2, 1, B)
    host = measure(sols).reshape(len(METRICS), D * B).cpu().numpy()
    if progress is not None:
        progress(int(cfgs[0][0].steps) * D * B)  # the bar counts run-steps: mark the batch done
    final = sols.reshape(D * B, -1).cpu().numpy()
    return BatchResult(steps=np.array([0], dtype=np.int64),
                       metrics={name: host[i][None, :] for i, name in enumerate(METRICS)},
                       final=final, iterates=final[None] if save_iterates else None,
                       wall_time_s=time.perf_counter() - t0)
