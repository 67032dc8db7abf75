"""Training panels of two-layer ReLU students together (docs/families/teacher-student.md).

A *panel* of R members (one config each) lives in stacked W (R, h, d), V (R, c, h); one
full-batch step is the hand-written gradient of :mod:`.model`, the penalty gradient, and one
stacked optimizer update with per-member (R, 1, 1) hyper-parameters.

Penalties: beta * sum over both layers of h(W) (l1 entrywise, l2 = |W|_F unsquared or squared,
nuclear = sum of singular values), gradient in closed form by
``groklab.families.nets.penalty.add_penalty_grad_``.

Precision: float32 by default.  Adam's step is scale-free (about lr per coordinate whatever the
size of the gradient), so the tiny penalty gradients (beta ~ 1e-7) enter through the ratio of
the fit and penalty gradients, which float32 resolves; the smallest learning rate (1e-4) moves
weights of size ~0.05 by 2e-3 relative per step, far above float32's 1.2e-7.  Denormals are
flushed (Adam's second moment of vanishing gradients).  Metrics are accumulated in float64.
Float64 (``dtype=``) is used by the tests.  Checked at the paper's size over 3000 steps (lr, beta)
= (5.5e-3, l1 1e-3), (1e-4, l1 1e-7), (5.5e-3, Sobolev 1e-7), (5.5e-3, Sobolev 1e-2): final test
MSEs agree with float64 to 1.5%, logged test MSEs to 5e-5 .. 16% (Adam's loss spikes are
chaotic); only the train-MSE floor differs (~1e-12 against ~1e-14), far below the detector's
1e-3 x initial.  A float64 step costs several times a float32 one.

Logging (the config's schedule, log-spaced by default): train / test MSE (no penalty, no
Sobolev term); ``train_error`` / ``test_error`` = MSE / MSE at step 0 (what the detector reads;
see the family's detection notes in its ``__init__``); relative Jacobian errors |J - J*|_F /
|J*|_F on both splits; l0 (|w| > 1e-4), l1, l2 of all weights; the sum of both layers' nuclear norms and the effective rank
of W (SVDs at log points only).  A member whose loss or weights go non-finite is marked dead
(state zeroed, metrics NaN from then on); the others go on.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from ...result import BatchResult, iterate_log_indices
from ..nets.members import members_of
from ..nets.ops import effective_rank
from ..nets.optim import BETAS, EPS, fused_adam, update_
from ..nets.penalty import add_penalty_grad_
from .data import TeacherStudentData
from .model import (DTYPE, forward, init_student, jacobians, loss_and_grads, mm_fn,
                    shared_loss_and_grads)

#: members per tensor program on the CPU.  A member's state (W, V, Adam moments, gradient,
#: activations: ~1.4 MB at d = 100, h = 500 in float32) is streamed through the cache every step,
#: so a panel stops paying once its state no longer fits the last-level cache
#: (benchmarks/bench_teacher_student.py): a 42-member panel runs as near-equal chunks of at most 8
#: (6 x 7) on the CPU, trained by one worker thread per core; on a GPU it is one program, since a
#: single member is launch-bound there.
CPU_MEMBERS = 8
GPU_MEMBERS = 512
#: members x points x hidden units per evaluation chunk (Jacobians of the test set)
EVAL_ELEMS = 2 ** 23
L0_THRESHOLD = 1e-4
LinAlgError = torch.linalg.LinAlgError
METRICS = ("train_error", "test_error", "train_mse", "test_mse", "train_jac_error",
           "test_jac_error", "l0_norm", "l1_norm", "l2_norm", "nuclear_norm", "erank_W")




class _Panel:
    """R members trained together (the tensor program)."""

    def __init__(self, datas: list[TeacherStudentData], members, dev, dtype):
        self.cfg = cfg = members[0][1]
        self.cfgs = [c for _, c in members]
        self.R = R = len(members)
        self.dev, self.dtype = dev, dtype
        idx = [i for i, _ in members]
        self.shared = len(set(idx)) == 1
        put = lambda name: torch.stack([getattr(datas[i], name) for i in  # noqa: E731
                                        ([idx[0]] if self.shared else idx)]).to(dev, dtype)
        # shared data: X is (n, d) and the member axis broadcasts (one GEMM for the whole panel)
        self.X_train = put("X_train")[0] if self.shared else put("X_train")
        self.X_test = put("X_test")[0] if self.shared else put("X_test")
        self.Y_train, self.Y_test = put("Y_train"), put("Y_test")
        self.J_train, self.J_test = put("J_train"), put("J_test")
        # shared data on the CPU: the (R, h, n) layout with panel-wide GEMMs (a GPU keeps bmm)
        self.fast = self.shared and dev.type == "cpu"
        self.Yt_train = self.Y_train.transpose(1, 2).contiguous()
        self.mm = mm_fn(dev, dtype)
        self.J_train_norm = self.J_train.flatten(1).norm(dim=1).to(torch.float64)
        self.J_test_norm = self.J_test.flatten(1).norm(dim=1).to(torch.float64)
        per = [init_student(c, dtype) for c in self.cfgs]
        self.W = torch.stack([p[0] for p in per]).to(dev)
        self.V = torch.stack([p[1] for p in per]).to(dev)
        col = lambda name: torch.tensor([float(getattr(c, name)) for c in self.cfgs],  # noqa: E731
                                        dtype=dtype, device=dev).view(R, 1, 1)
        self.lr, self.wd = col("lr"), col("weight_decay")
        self.l1, self.l2, self.nuc = col("l1"), col("l2"), col("nuclear")
        self.sob = col("sobolev") if any(c.sobolev > 0 for c in self.cfgs) else None
        self.use = tuple(any(getattr(c, n) > 0 for c in self.cfgs) for n in ("l1", "l2", "nuclear"))
        self.use_wd = any(c.weight_decay > 0 for c in self.cfgs)
        self.mW, self.vW = torch.zeros_like(self.W), torch.zeros_like(self.W)
        self.mV, self.vV = torch.zeros_like(self.V), torch.zeros_like(self.V)
        self.t = 0
        # Adam / AdamW on the CPU: torch's fused kernel, members grouped by (lr, weight decay)
        self.fused = fused_adam(cfg.optimizer) if dev.type == "cpu" else None
        self.step_t = torch.zeros((), dtype=dtype, device=dev)
        hp = [(float(c.lr), float(c.weight_decay)) for c in self.cfgs]
        cut = [0] + [r for r in range(1, R) if hp[r] != hp[r - 1]] + [R]
        self.groups = [(a, b) + hp[a] for a, b in zip(cut[:-1], cut[1:])]
        self.alive = torch.ones(R, dtype=torch.bool)
        self.mse0 = None  # (R,) train / test MSE at step 0

    def step(self):
        cfg = self.cfg
        if self.fast:
            _, gW, gV = shared_loss_and_grads(self.W, self.V, self.X_train, self.Yt_train,
                                              self.J_train if self.sob is not None else None,
                                              sobolev=self.sob, sobolev_form=cfg.sobolev_form,
                                              mm=self.mm)
        else:
            _, gW, gV = loss_and_grads(self.W, self.V, self.X_train, self.Y_train,
                                       self.J_train if self.sob is not None else None,
                                       sobolev=self.sob, sobolev_form=cfg.sobolev_form)
        if any(self.use):
            for g, P in ((gW, self.W), (gV, self.V)):
                try:
                    add_penalty_grad_(g, P, self.l1, self.l2, self.nuc, cfg.penalty_form, self.use)
                except LinAlgError:  # a member went non-finite between logs: kill it, redo
                    self._kill(~(torch.isfinite(self.W).flatten(1).all(1)
                                 & torch.isfinite(self.V).flatten(1).all(1)).cpu())
                    g.nan_to_num_(0.0)
                    add_penalty_grad_(g, P, self.l1, self.l2, self.nuc, cfg.penalty_form, self.use)
        self.t += 1
        if self.fused is not None:
            self._fused_update(gW, gV)
            return
        wd = self.wd if self.use_wd else None
        update_(self.W, gW, self.mW, self.vW, opt=cfg.optimizer, lr=self.lr, t=self.t, wd=wd)
        update_(self.V, gV, self.mV, self.vV, opt=cfg.optimizer, lr=self.lr, t=self.t, wd=wd)

    def _fused_update(self, gW, gV):
        """Adam / AdamW through torch's fused CPU kernel (one pass over W, m, v, g instead of
        ~10 elementwise ops; the update rule of ``nets.optim.update_`` and torch.optim), one
        call per run of consecutive members with the same (lr, weight decay)."""
        self.step_t.fill_(self.t)
        for a, b, lr, wd in self.groups:
            self.fused([self.W[a:b], self.V[a:b]], [gW[a:b], gV[a:b]], [self.mW[a:b], self.mV[a:b]],
                       [self.vW[a:b], self.vV[a:b]], [], [self.step_t, self.step_t], lr=lr,
                       beta1=BETAS[0], beta2=BETAS[1], weight_decay=wd, eps=EPS,
                       amsgrad=False, maximize=False)

    def _kill(self, bad: Tensor):
        bad = bad & self.alive
        if not bool(bad.any()):
            return
        self.alive &= ~bad
        keep = (~bad).to(self.dev).view(-1, 1, 1)
        for t in (self.W, self.V, self.mW, self.vW, self.mV, self.vV):
            t.copy_(torch.where(keep, t, torch.zeros_like(t)))

    @torch.no_grad()
    def evaluate(self) -> dict[str, Tensor]:
        R = self.R
        out = {}
        for split, X, Y, J, Jn in (("train", self.X_train, self.Y_train, self.J_train,
                                    self.J_train_norm),
                                   ("test", self.X_test, self.Y_test, self.J_test,
                                    self.J_test_norm)):
            n = X.shape[-2]
            per = max(1, EVAL_ELEMS // (n * self.cfg.hidden * self.cfg.outputs))
            mse, jerr = [], []
            if self.fast:  # member by member through self.mm, no (n c, h) Jacobian factors
                mse, jerr = self._eval_shared(X, Y[0], J[0])
            for i in range(0 if not self.fast else R, R, per):
                W, V = self.W[i:i + per], self.V[i:i + per]
                Xi = X if self.shared else X[i:i + per]
                Yi = Y if self.shared else Y[i:i + per]
                Ji = J if self.shared else J[i:i + per]
                E = (forward(W, V, Xi) - Yi).to(torch.float64)
                mse.append((E * E).mean((1, 2)))
                D = (jacobians(W, V, Xi) - Ji).to(torch.float64)
                jerr.append(D.flatten(1).norm(dim=1))
            out[f"{split}_mse"] = torch.cat(mse)
            out[f"{split}_jac_error"] = torch.cat(jerr) / Jn.clamp_min(1e-300)
        if self.mse0 is None:
            self.mse0 = {s: out[f"{s}_mse"].clamp_min(1e-300) for s in ("train", "test")}
        for s in ("train", "test"):
            out[f"{s}_error"] = out[f"{s}_mse"] / self.mse0[s]
        flat = torch.cat([self.W.flatten(1), self.V.flatten(1)], 1).to(torch.float64)
        out["l0_norm"] = (flat.abs() > L0_THRESHOLD).sum(1).to(torch.float64)
        out["l1_norm"] = flat.abs().sum(1)
        out["l2_norm"] = flat.norm(dim=1)
        finite = torch.isfinite(flat).all(1)
        fin = finite.view(-1, 1, 1)
        sW = torch.linalg.svdvals(torch.where(fin, self.W, torch.zeros_like(self.W))).to(torch.float64)
        sV = torch.linalg.svdvals(torch.where(fin, self.V, torch.zeros_like(self.V))).to(torch.float64)
        out["nuclear_norm"] = sW.sum(-1) + sV.sum(-1)
        out["erank_W"] = effective_rank(sW)
        bad = (~torch.isfinite(out["train_mse"]) | ~finite).cpu()
        self._kill(bad)
        dead = (~self.alive).to(self.dev)
        return {k: torch.where(dead, torch.full_like(v, float("nan")), v) for k, v in out.items()}

    def _eval_shared(self, X, Y, J):
        """(R,) MSEs and |J - J*|_F on shared inputs X (n, d): per member Z = X W^T (n, h),
        the outputs relu(Z) V^T and all n Jacobians as ONE (n x h) (h x c d) product
        1[Z > 0] [V[0] W | V[1] W | ...] (see shared_loss_and_grads)."""
        mm, (c, h), d, n = self.mm, self.V.shape[1:], self.W.shape[2], X.shape[0]
        mse, jerr = [], []
        for W, V in zip(self.W, self.V):
            A = mm(X, W.t(), relu=True)  # (n, h)
            E = (mm(A, V.t()) - Y).to(torch.float64)
            mse.append((E * E).mean().view(1))
            Wc = torch.mul(V.t().unsqueeze(2), W.unsqueeze(1), out=W.new_empty(h, c, d))
            D = (mm(torch.sign(A), Wc.view(h, c * d)).view(n, c, d) - J).to(torch.float64)
            jerr.append(D.norm().view(1))
        return mse, jerr

    def final(self) -> np.ndarray:
        flat = torch.cat([self.W.flatten(1), self.V.flatten(1)], 1).cpu().numpy().astype(np.float64)
        flat[~self.alive.numpy()] = np.nan
        return flat

    def checkpoint(self) -> np.ndarray:
        """(R, h d + c h) float32 [W | V] of every member now (NaN for a dead one)."""
        flat = torch.cat([self.W.flatten(1), self.V.flatten(1)], 1).cpu().numpy().copy()
        flat[~self.alive.numpy()] = np.nan
        return flat


def checkpoint_tensors(cfg) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """The named tensors of a checkpoint, in the order of ``_Panel.checkpoint``."""
    return (("W", (cfg.hidden, cfg.input_dim)), ("V", (cfg.outputs, cfg.hidden)))


def _train_chunk(datas, chunk, steps, dev, dtype, progress, lock, keep=()):
    """Train one chunk of members to the end; returns (metrics rows, final weights, the
    checkpoints (len(keep), R, n) at the log indices ``keep``, or None)."""
    first = chunk[0][1]
    keep, saved = set(int(i) for i in keep), []
    torch.set_flush_denormal(True)  # per thread: the FTZ/DAZ bits are thread state
    try:
        with torch.no_grad():
            panel = _Panel(datas, chunk, dev, dtype)
            R = panel.R
            logs, done = [], 0
            for t in range(first.steps + 1):
                if t > 0:
                    panel.step()
                if t == steps[len(logs)]:
                    logs.append({k: v.cpu().numpy() for k, v in panel.evaluate().items()})
                    if len(logs) - 1 in keep:  # after evaluate: a member dead now is NaN
                        saved.append(panel.checkpoint())
                    if progress is not None:
                        with lock:
                            progress(R * (t - done))
                        done = t
                    if len(logs) == len(steps):
                        break
            return ({k: np.stack([row[k] for row in logs]) for k in METRICS}, panel.final(),
                    np.stack(saved) if saved else None)
    finally:
        torch.set_flush_denormal(False)


def run_teacher_student_batch(datas: list[TeacherStudentData], cfgs: list[list], *,
                              device: str = "cpu", progress=None, max_members: int | None = None,
                              dtype=DTYPE, workers: int | None = None,
                              save_iterates: int = 0) -> BatchResult:
    """Train D x B teacher-student runs (``cfgs[d][b]`` on data set d) as panels of at most
    ``max_members`` (default: CPU_MEMBERS on the CPU, GPU_MEMBERS on a GPU); all configs share
    the family's batch key.

    On the CPU the chunks of a large panel are independent programs: ``workers`` of them run at
    once in Python threads (torch ops release the GIL), each on one intra-op thread, so a 42-member
    panel uses every core it is given without OpenMP spin-waits.  Default: the cores this process
    may run on (``os.sched_getaffinity``), at most one per chunk -- also under ``groklab
    reproduce``, whose single intra-op thread policy is about spin-waits, which single-threaded
    workers do not have.  Results do not depend on ``workers``: each chunk is the same
    computation whichever thread runs it.

    ``save_iterates = K > 0`` keeps the weights [W | V] at every K-th log point and the last
    (``groklab.result.iterate_log_indices``; docs/checkpoints.md)."""
    t0 = time.perf_counter()
    members, first, steps = members_of(cfgs, "run_teacher_student_batch")
    keep = iterate_log_indices(len(steps), int(save_iterates)) if save_iterates else ()
    dev = torch.device(device)
    if max_members is None:
        max_members = CPU_MEMBERS if dev.type == "cpu" else GPU_MEMBERS
    n_threads = torch.get_num_threads()
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            workers = os.cpu_count() or 1
    n_chunks = -(-len(members) // max_members)
    workers = max(1, min(workers, n_chunks)) if dev.type == "cpu" else 1
    # near-equal chunks, as many as a multiple of the workers (42 members, 2 workers: 6 x 7)
    n_chunks = min(len(members), -(-n_chunks // workers) * workers)
    bounds = np.linspace(0, len(members), n_chunks + 1).round().astype(int)
    chunks = [members[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    lock = threading.Lock()
    run = lambda ch: _train_chunk(datas, ch, steps, dev, dtype, progress, lock,  # noqa: E731
                                  keep)
    if workers == 1:
        out = [run(ch) for ch in chunks]
    else:
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                out = list(pool.map(run, chunks))
        finally:
            torch.set_num_threads(n_threads)
    metrics = {k: np.concatenate([m[k] for m, _, _ in out], axis=1) for k in METRICS}
    saved = len(keep) > 0
    return BatchResult(steps=steps, metrics=metrics, final=np.concatenate([f for _, f, _ in out]),
                       iterates=np.concatenate([c for _, _, c in out], axis=1) if saved else None,
                       wall_time_s=time.perf_counter() - t0,
                       iterate_steps=steps[keep] if saved else None,
                       iterate_tensors=checkpoint_tensors(first) if saved else None)
