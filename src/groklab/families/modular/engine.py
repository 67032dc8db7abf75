"""Training an ensemble of modular-arithmetic MLPs together (docs/families/modular.md).

R members (configs) live in stacked parameter tensors of shape (R, in, out); :mod:`.model` has
the forward pass and the hand-written gradients.  Loss: mean cross-entropy over the member's
mini-batch + beta * sum_W h(W) over every weight matrix (biases are not penalized).  The penalty
gradient is added in closed form after the backward pass (:mod:`groklab.families.nets.penalty`;
checked against autograd in the tests):

    l1:       beta sign(W)                     (torch.norm(W, 1) has the same subgradient)
    l2 norm:  beta W / |W|_F  (0 at W = 0)     (the authors' unsquared torch.norm(W, 2))
    squared:  2 beta W                         (beta |W|_F^2)
    nuclear:  beta U V^T from the thin SVD     (the gradient of sum(svdvals(W)) where the
                                                singular values are distinct and non-zero)

Optimizers follow PyTorch's update rules (Adam / AdamW with betas (0.9, 0.999), eps 1e-8, bias
correction; SGD without momentum); weight decay 0 by default.

Mini-batches: each member reshuffles its own train set every epoch from its own generator (seeded
by ``seed``), batches of ``batch_size`` pairs with a smaller last batch (DataLoader shuffle=True,
drop_last=False, as the authors).  So member r of an ensemble sees exactly the batches it would
see trained alone, and reproduces that run to float rounding.  ``batch_size = 0`` is full batch.

Logging (the config's schedule): train/test accuracy, error = 1 - accuracy (what the shared
detector reads), cross-entropy without the penalty, on the whole splits; l0 (|w| > 1e-4), l1, l2
of all weights concatenated, the sum of the layers' nuclear norms, and each weight matrix's
effective rank exp(H(sigma / sum sigma)).

Divergence: at every log a member whose loss or weights are non-finite is marked dead (its state
is zeroed so it costs nothing and cannot raise in an SVD; its metrics are NaN from then on); the
others go on.  A non-finite member met by the nuclear SVD between logs is killed the same way.

Large sweeps are cut into chunks of at most ``MAX_MEMBERS`` members (memory of the logits).
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...result import BatchResult, iterate_log_indices
from ...seeds import derive_seed
from ..nets.members import members_of
from ..nets.ops import effective_rank, fast_linear
from ..nets.optim import update_
from ..nets.penalty import add_penalty_grad_
from .data import ModularData, param_shapes, weight_shapes
from .fourier import fourier_basis, fourier_gini
from .model import DTYPE, eval_member, forward, init_params, loss_grads, metric_names

#: members per tensor program (the logits of a p = 97 mini-batch are R x 2048 x 97 floats)
MAX_MEMBERS = 64
#: members x pairs x classes per evaluation chunk
EVAL_ELEMS = 2 ** 24
L0_THRESHOLD = 1e-4
#: each member's mini-batch order draws from its own stream of its seed (docs/seeds.md)
BATCH_ORDER_STREAM = "modular/batch-order"
LinAlgError = torch.linalg.LinAlgError


class _Chunk:
    """R members trained together (the tensor program)."""

    def __init__(self, datas: list[ModularData], members: list[tuple[int, object]], dev,
                 pool=None, workers: int = 1):
        self.cfg = cfg = members[0][1]
        self.R = R = len(members)
        w = min(workers, R) if pool is not None else 1
        self.pool = pool if w > 1 else None
        self.slices = [(R * i // w, R * (i + 1) // w) for i in range(w)]
        self.dev = dev
        self.cfgs = [c for _, c in members]
        d0 = datas[members[0][0]]
        self.x1, self.x2 = d0.x1.to(dev), d0.x2.to(dev)  # (P,) shared: same p and operation set
        self.labels = torch.stack([datas[i].labels for i, _ in members]).to(dev)  # (R, P)
        self.train_idx = torch.stack([datas[i].train_idx for i, _ in members]).to(dev)
        self.test_idx = torch.stack([datas[i].test_idx for i, _ in members]).to(dev)
        per = [init_params(c) for c in self.cfgs]
        self.params = [torch.stack([m[k] for m in per]).to(dev) for k in range(len(per[0]))]
        self.grads = [torch.empty_like(t) for t in self.params]
        self._full = None
        self.n_w = len(weight_shapes(cfg))
        self.fbasis = fourier_basis(cfg.modulus).to(dev)  # (K, 2, p) float64
        col = lambda name: torch.tensor([float(getattr(c, name)) for c in self.cfgs],  # noqa: E731
                                        dtype=DTYPE, device=dev).view(R, 1, 1)
        self.lr, self.wd = col("lr"), col("weight_decay")
        self.l1, self.l2, self.nuc = col("l1"), col("l2"), col("nuclear")
        self.use = tuple(any(getattr(c, n) > 0 for c in self.cfgs) for n in ("l1", "l2", "nuclear"))
        self.use_wd = any(c.weight_decay > 0 for c in self.cfgs)
        self.m = [torch.zeros_like(t) for t in self.params]
        self.v = [torch.zeros_like(t) for t in self.params]
        self.t = 0
        self.alive = torch.ones(R, dtype=torch.bool)
        n_train = self.train_idx.shape[1]
        self.mb = cfg.batch_size if 0 < cfg.batch_size < n_train else n_train
        self.gens = [torch.Generator().manual_seed(derive_seed(c.seed, BATCH_ORDER_STREAM))
                     for c in self.cfgs]
        self.order, self.pos = None, n_train  # current epoch's order (R, n_train), position

    # ---- data ---------------------------------------------------------------------------
    def next_batch(self) -> Tensor:
        """(R, n) pair indices of every member's next mini-batch."""
        n_train = self.train_idx.shape[1]
        if self.mb == n_train:
            return self.train_idx
        if self.pos >= n_train:
            perms = torch.stack([torch.randperm(n_train, generator=g) for g in self.gens])
            self.order = self.train_idx.gather(1, perms.to(self.dev))
            self.pos = 0
        idx = self.order[:, self.pos:self.pos + self.mb]
        self.pos += self.mb
        return idx

    # ---- one step ---------------------------------------------------------------------------
    def _inputs(self, idx: Tensor):
        """(a, b, y) of a batch of pair indices (R, n): operands and labels."""
        if self._full is not None and idx is self.train_idx:
            return self._full
        out = (self.x1[idx], self.x2[idx], self.labels.gather(1, idx))
        if idx is self.train_idx:
            self._full = out
        return out

    def step(self):
        a, b, y = self._inputs(self.next_batch())
        self.t += 1
        if self.pool is None:
            failed = [] if self._slice_step(0, self.R, a, b, y) else [(0, self.R)]
        else:  # members split over worker threads, one core each (see _workers)
            jobs = [(sl, self.pool.submit(self._slice_step, *sl, a, b, y)) for sl in self.slices]
            failed = [sl for sl, j in jobs if not j.result()]
        for lo, hi in failed:  # an SVD met a non-finite member: kill it, redo that slice
            self._kill(torch.zeros(self.R, dtype=torch.bool).index_fill_(
                0, torch.arange(lo, hi), True) & ~torch.isfinite(
                torch.cat([W.flatten(1) for W in self.params], 1)).all(1).cpu())
            prm, grads = self._views(lo, hi)
            loss_grads(self.cfg, prm, a[lo:hi], b[lo:hi], y[lo:hi], out=grads)
            for g in grads:
                g.nan_to_num_(0.0)
            self._slice_step(lo, hi, a, b, y, grads_done=True)

    def _views(self, lo, hi):
        return [t[lo:hi] for t in self.params], [g[lo:hi] for g in self.grads]

    def _slice_step(self, lo, hi, a, b, y, grads_done=False) -> bool:
        """Gradient, penalty gradient and optimizer step of members lo..hi-1 (their own slices
        of every tensor: slices can run on different threads).  False if an SVD failed (nothing
        updated then)."""
        cfg = self.cfg
        prm, grads = self._views(lo, hi)
        if not grads_done:
            loss_grads(cfg, prm, a[lo:hi], b[lo:hi], y[lo:hi], out=grads)
        if any(self.use):
            try:
                for W, g in zip(prm[:self.n_w], grads):
                    add_penalty_grad_(g, W, self.l1[lo:hi], self.l2[lo:hi], self.nuc[lo:hi],
                                      cfg.penalty_form, self.use)
            except LinAlgError:
                if grads_done:
                    raise
                return False
        for W, g, m, v in zip(prm, grads, self.m, self.v):
            update_(W, g, m[lo:hi], v[lo:hi], opt=cfg.optimizer, lr=self.lr[lo:hi], t=self.t,
                    wd=self.wd[lo:hi] if self.use_wd else None)
        return True

    def _kill(self, bad: Tensor):
        """Zero the state of the members in ``bad`` (R,) and mark them dead."""
        bad = bad & self.alive
        if not bool(bad.any()):
            return
        self.alive &= ~bad
        keep = (~bad).to(self.dev, DTYPE).view(-1, *([1] * 2))
        with torch.no_grad():
            for t in (*self.params, *self.m, *self.v):
                t.copy_(torch.where(keep > 0, t, torch.zeros_like(t)))

    # ---- metrics ----------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, Tensor]:
        R, P = self.labels.shape
        lin = fast_linear() if self.dev.type == "cpu" and DTYPE == torch.float32 else None
        if lin is not None:  # member by member through oneDNN, on the workers if any
            correct = torch.empty(R, P, dtype=DTYPE)
            loss = torch.empty(R, P, dtype=DTYPE)
            job = lambda lo, hi: [eval_member(self.cfg, lin, [t[r] for t in self.params],  # noqa
                                            self.x1, self.x2, self.labels[r], correct[r],
                                            loss[r]) for r in range(lo, hi)]
            if self.pool is None:
                job(0, R)
            else:
                for j in [self.pool.submit(job, lo, hi) for lo, hi in self.slices]:
                    j.result()
        else:
            correct, loss = self._eval_batched()
        out = {}
        for split, idx in (("train", self.train_idx), ("test", self.test_idx)):
            acc = correct.gather(1, idx).mean(1)
            out[f"{split}_accuracy"] = acc
            out[f"{split}_error"] = 1 - acc
            out[f"{split}_loss"] = loss.gather(1, idx).mean(1)
        Ws = self.params[:self.n_w]
        flat = torch.cat([W.flatten(1) for W in Ws], 1)
        out["l0_norm"] = (flat.abs() > L0_THRESHOLD).sum(1).to(torch.float64)
        out["l1_norm"] = flat.abs().sum(1)
        out["l2_norm"] = flat.norm(dim=1)
        finite = torch.isfinite(flat).all(1)
        nuc = torch.zeros(R, dtype=DTYPE, device=self.dev)
        for (name, _), W in zip(weight_shapes(self.cfg), Ws):
            s = torch.linalg.svdvals(torch.where(finite.view(-1, 1, 1), W, torch.zeros_like(W)))
            nuc += s.sum(-1)
            out[f"erank_{name}"] = effective_rank(s)
            if name.startswith("embed"):  # (R,) Gini of the per-frequency norms over Z_p
                out[f"fourier_gini_{name}"] = fourier_gini(W.to(torch.float64), self.fbasis)
        out["nuclear_norm"] = nuc
        # divergence: non-finite loss or weights -> dead from now on
        bad = (~torch.isfinite(out["train_loss"]) | ~finite).cpu()
        self._kill(bad)
        dead = (~self.alive).to(self.dev)
        return {k: torch.where(dead, torch.full_like(v, float("nan")), v.to(torch.float64)
                               if v.dtype != torch.float64 else v) for k, v in out.items()}

    def _eval_batched(self):
        R, P = self.labels.shape
        per = max(1, EVAL_ELEMS // (P * self.cfg.modulus))
        correct, loss = [], []
        for i in range(0, R, per):
            ps = [t[i:i + per] for t in self.params]
            r = ps[0].shape[0]
            logits = forward(self.cfg, ps, self.x1.expand(r, P), self.x2.expand(r, P))
            lab = self.labels[i:i + per]
            correct.append((logits.argmax(-1) == lab).to(DTYPE))
            loss.append(F.cross_entropy(logits.reshape(r * P, -1), lab.reshape(-1),
                                        reduction="none").view(r, P))
        return torch.cat(correct), torch.cat(loss)

    def final(self) -> np.ndarray:
        flat = torch.cat([t.detach().flatten(1) for t in self.params[:self.n_w]], 1)
        flat = flat.cpu().numpy().astype(np.float64)
        flat[~self.alive.numpy()] = np.nan
        return flat

    def checkpoint(self) -> np.ndarray:
        """(R, n) float32 flat parameters of every member now, weights then biases in the order
        of ``data.param_shapes`` (NaN for a dead member)."""
        flat = torch.cat([t.detach().flatten(1) for t in self.params], 1).cpu().numpy().copy()
        flat[~self.alive.numpy()] = np.nan
        return flat


def run_modular_batch(datas: list[ModularData], cfgs: list[list], *, device: str = "cpu",
                      progress=None, max_members: int = MAX_MEMBERS,
                      save_iterates: int = 0) -> BatchResult:
    """Train D x B modular-arithmetic runs (``cfgs[d][b]`` on data set d) as ensembles of at
    most ``max_members``; all configs share the family's batch key (shapes, optimizer, schedule).
    ``save_iterates = K > 0`` keeps every parameter at every K-th log point and the last
    (``groklab.result.iterate_log_indices``; docs/checkpoints.md)."""
    t0 = time.perf_counter()
    members, first, steps = members_of(cfgs, "run_modular_batch")
    keep = iterate_log_indices(len(steps), int(save_iterates)) if save_iterates else ()
    names = metric_names(first)
    dev = torch.device(device)
    metrics = {k: np.empty((len(steps), len(members))) for k in names}
    # Denormal floats (tiny softmax tails, Adam's v of vanishing gradients) make CPU arithmetic
    # 10-100x slower; flushing them to zero changes nothing measurable and keeps steps uniform.
    # (torch has no getter for this flag: it is reset to torch's default, off, afterwards.)
    torch.set_flush_denormal(True)
    threads = torch.get_num_threads()
    workers = threads if dev.type == "cpu" and len(members) > 1 and fast_linear() else 1
    pool = _workers(workers) if workers > 1 else None
    try:
        _train(datas, members, steps, names, metrics, dev, progress, max_members, finals := [],
               pool, workers, keep, saved := [])
    finally:
        torch.set_flush_denormal(False)
        if pool is not None:
            pool.shutdown()
            torch.set_num_threads(threads)  # MKL's thread count is process-wide: restore it
    ok = len(keep) > 0
    return BatchResult(steps=steps, metrics=metrics, final=np.concatenate(finals),
                       iterates=np.concatenate(saved, axis=1) if ok else None,
                       wall_time_s=time.perf_counter() - t0,
                       iterate_steps=steps[keep] if ok else None,
                       iterate_tensors=tuple(param_shapes(first)) if ok else None)


def _workers(n: int):
    """n threads that each compute the gradients of a slice of the members on one core.

    Members are independent, so on a CPU the ensemble parallelizes across them: each worker
    runs its members' small matmuls single-threaded (intra-op threading of n = 2048 x 64 x 97
    products mostly synchronizes), while torch ops release the GIL.  Each worker sets its own
    OpenMP thread count and denormal flushing (both are per-thread states)."""
    def init():
        torch.set_num_threads(1)
        torch.set_flush_denormal(True)

    return ThreadPoolExecutor(n, thread_name_prefix="groklab-member", initializer=init)


def _train(datas, members, steps, names, metrics, dev, progress, max_members, finals,
           pool=None, workers=1, keep=(), saved=None):
    first = members[0][1]
    keep = set(int(i) for i in keep)
    for lo in range(0, len(members), max_members):
        chunk = _Chunk(datas, members[lo:lo + max_members], dev, pool, workers)
        R = chunk.R
        logs, done, ckpt = [], 0, []
        for t in range(first.steps + 1):
            if t > 0:
                chunk.step()
            if t == steps[len(logs)]:
                logs.append({k: v.cpu().numpy() for k, v in chunk.evaluate().items()})
                if len(logs) - 1 in keep:  # after evaluate: a member dead now is NaN
                    ckpt.append(chunk.checkpoint())
                if progress is not None:
                    progress(R * (t - done))
                    done = t
                if len(logs) == len(steps):
                    break
        for k in names:
            metrics[k][:, lo:lo + R] = np.stack([row[k] for row in logs])
        finals.append(chunk.final())
        if ckpt:
            saved.append(np.stack(ckpt))  # (len(keep), R, n)
