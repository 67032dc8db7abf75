"""Ensembles of small networks trained together: the modular-arithmetic MLP (SPEC §3).

R members (configs) live in stacked parameter tensors of shape (R, in, out); one forward pass
runs every member on its own mini-batch with batched matmuls (``torch.bmm``), one backward pass
gives every member its gradient (the members' losses are summed: d(sum)/d(loss_r) = 1, so the
gradients do not mix), and one hand-written optimizer step updates the whole ensemble with
per-member learning rates, weight decays and penalty strengths as (R, 1, 1) columns.

Model (``architecture``; p the modulus, d the width, s = sqrt(d)):

    matrix-product (the authors' notebook, 22 720 weights at p = 97, d = 64):
        h = reshape(E1[x1], s x s) @ reshape(E2[x2], s x s)   (two bias-free p -> d embeddings)
        logits = relu(h W1) W2                                (d -> d -> p, no biases)
    hadamard (the paper's text):
        logits = relu((E[x1] * E[x2]) W1 + b1) W2 + b2        (one shared embedding, biases)

Inputs are index tensors: the embedding of a one-hot vector is a row lookup, done here with
``F.embedding`` on the (R p, d) stacked tables.  Init (per member, from ``seed``): embeddings
U(+-1/sqrt(p)) (PyTorch's Linear default, which the authors keep), W1 ~ N(0, 1/d), W2 ~ N(0, 1/p)
(std 1/sqrt(out_features), the authors' "normal" init), biases 0.

Loss: mean cross-entropy over the member's mini-batch + beta * sum_W h(W) over every weight
matrix (biases are not penalized).  The penalty gradient is added in closed form after the
backward pass (checked against autograd in the tests):

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

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..problems.modular import ModularData, weight_shapes
from ..schedule import log_steps
from .linear import BatchResult
from .optim import update_

DTYPE = torch.float32
#: members per tensor program (the logits of a p = 97 mini-batch are R x 2048 x 97 floats)
MAX_MEMBERS = 64
#: members x pairs x classes per evaluation chunk
EVAL_ELEMS = 2 ** 24
L0_THRESHOLD = 1e-4
LinAlgError = getattr(torch.linalg, "LinAlgError", RuntimeError)


def metric_names(cfg) -> tuple[str, ...]:
    return ("train_error", "test_error", "train_accuracy", "test_accuracy", "train_loss",
            "test_loss", "l0_norm", "l1_norm", "l2_norm", "nuclear_norm",
            *(f"erank_{name}" for name, _ in weight_shapes(cfg)))


def init_params(cfg, device="cpu") -> list[Tensor]:
    """One member's parameters [weights..., biases...], each (in, out) or (1, out)."""
    gen = torch.Generator().manual_seed(int(cfg.seed))
    p, d = cfg.modulus, cfg.width
    out = []
    for name, (a, b) in weight_shapes(cfg):
        if name.startswith("embed"):
            bound = 1.0 / math.sqrt(p)
            w = (torch.rand(a, b, generator=gen, dtype=DTYPE) * 2 - 1) * bound
        else:  # std 1/sqrt(out_features)
            w = torch.randn(a, b, generator=gen, dtype=DTYPE) / math.sqrt(b)
        out.append(w)
    if cfg.architecture == "hadamard":
        out += [torch.zeros(1, d, dtype=DTYPE), torch.zeros(1, p, dtype=DTYPE)]
    return [t.to(device) for t in out]


def forward(cfg, params: list[Tensor], a: Tensor, b: Tensor) -> Tensor:
    """Logits (R, n, p) of R members on operand indices a, b of shape (R, n)."""
    R, n = a.shape
    p, d = cfg.modulus, cfg.width
    offs = (torch.arange(R, device=a.device) * p).unsqueeze(1)  # (R, 1): member r's rows
    if cfg.architecture == "matrix-product":
        E1, E2, W1, W2 = params
        h1 = F.embedding(a + offs, E1.reshape(R * p, d))  # (R, n, d)
        h2 = F.embedding(b + offs, E2.reshape(R * p, d))
        h = square_product(h1, h2)
        return torch.bmm(torch.relu(torch.bmm(h, W1)), W2)
    E, W1, W2, b1, b2 = params
    Ef = E.reshape(R * p, d)
    h = F.embedding(a + offs, Ef) * F.embedding(b + offs, Ef)
    return torch.baddbmm(b2, torch.relu(torch.baddbmm(b1, h, W1)), W2)


def _sq(a: Tensor, b: Tensor) -> Tensor:
    """c[i, k, m] = sum_j a[i, j, m] b[j, k, m] for (s, s, N) feature-major stacks."""
    # s rank-one updates of (s, s, N): no (s, s, s, N) intermediate
    c = a[:, 0].unsqueeze(1) * b[0].unsqueeze(0)
    for j in range(1, a.shape[1]):
        c.addcmul_(a[:, j].unsqueeze(1), b[j].unsqueeze(0))
    return c


class _SquareProduct(torch.autograd.Function):
    """Per-sample s x s matrix products, feature-major (samples on the contiguous last axis).

    A batched matmul of N tiny 8 x 8 matrices is several times slower on the CPU (each is its own
    GEMM call), and autograd's broadcast backward is slower still; the backward here is two more
    products of the same form: dA = dC B^T, dB = A^T dC."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _sq(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        g = g.contiguous()
        return _sq(g, b.transpose(0, 1)), _sq(a.transpose(0, 1), g)


def square_product(h1: Tensor, h2: Tensor) -> Tensor:
    """(R, n, d) row-wise products reshape(h1, s x s) @ reshape(h2, s x s), d = s^2."""
    R, n, d = h1.shape
    s = math.isqrt(d)
    a = h1.reshape(R * n, s, s).permute(1, 2, 0).contiguous()  # (s, s, N)
    b = h2.reshape(R * n, s, s).permute(1, 2, 0).contiguous()
    return _SquareProduct.apply(a, b).permute(2, 0, 1).reshape(R, n, d)


def penalty_value(W: Tensor, l1, l2, nuclear, form: str = "norm") -> Tensor:
    """(R,) beta-weighted penalty of one stacked weight (R, a, b); betas are (R,) tensors."""
    v = l1 * W.abs().sum((1, 2))
    fro = torch.linalg.matrix_norm(W)
    v = v + l2 * (fro if form == "norm" else fro ** 2)
    return v + nuclear * torch.linalg.svdvals(W).sum(-1)


def add_penalty_grad_(g: Tensor, W: Tensor, l1, l2, nuclear, form: str, use) -> Tensor:
    """g += gradient of penalty_value in closed form.  Betas are (R, 1, 1); ``use`` says which
    penalties any member has (the others cost nothing)."""
    if use[0]:
        g.addcmul_(l1, torch.sign(W))
    if use[1]:
        if form == "norm":
            fro = torch.linalg.matrix_norm(W, keepdim=True)
            g.addcmul_(l2 / torch.where(fro > 0, fro, torch.ones_like(fro)), W)
        else:
            g.addcmul_(2 * l2, W)
    if use[2]:
        U, _, Vh = torch.linalg.svd(W, full_matrices=False)
        g.baddbmm_(U * nuclear, Vh)
    return g


def effective_rank(s: Tensor) -> Tensor:
    """exp(entropy(sigma / sum sigma)) over the last dim (1 for a rank-one matrix)."""
    q = s / s.sum(-1, keepdim=True).clamp_min(1e-30)
    return torch.exp(-(q * torch.log(q.clamp_min(1e-30))).sum(-1))


class _Chunk:
    """R members trained together (the tensor program)."""

    def __init__(self, datas: list[ModularData], members: list[tuple[int, object]], dev):
        self.cfg = cfg = members[0][1]
        self.R = R = len(members)
        self.dev = dev
        self.cfgs = [c for _, c in members]
        d0 = datas[members[0][0]]
        self.x1, self.x2 = d0.x1.to(dev), d0.x2.to(dev)  # (P,) shared: same p and operation set
        self.labels = torch.stack([datas[i].labels for i, _ in members]).to(dev)  # (R, P)
        self.train_idx = torch.stack([datas[i].train_idx for i, _ in members]).to(dev)
        self.test_idx = torch.stack([datas[i].test_idx for i, _ in members]).to(dev)
        per = [init_params(c) for c in self.cfgs]
        self.params = [torch.stack([m[k] for m in per]).to(dev).requires_grad_()
                       for k in range(len(per[0]))]
        self.n_w = len(weight_shapes(cfg))
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
        self.gens = [torch.Generator().manual_seed(int(c.seed) * 1_000_003 + 7) for c in self.cfgs]
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
    def step(self):
        cfg = self.cfg
        idx = self.next_batch()
        logits = forward(cfg, self.params, self.x1[idx], self.x2[idx])
        y = self.labels.gather(1, idx)
        R, n = idx.shape
        ce = F.cross_entropy(logits.reshape(R * n, -1), y.reshape(-1), reduction="sum")
        grads = torch.autograd.grad(ce / n, self.params)  # sum over members of their mean CE
        self.t += 1
        with torch.no_grad():
            for k, (W, g) in enumerate(zip(self.params, grads)):
                if k < self.n_w and any(self.use):
                    self._penalty_grad(g, W)
                self._update(W, g, self.m[k], self.v[k])

    def _penalty_grad(self, g, W):
        try:
            add_penalty_grad_(g, W, self.l1, self.l2, self.nuc, self.cfg.penalty_form, self.use)
        except LinAlgError:  # a member went non-finite between logs: kill it, redo
            self._kill(~torch.isfinite(W).flatten(1).all(1).cpu())
            g.nan_to_num_(0.0)
            add_penalty_grad_(g, W, self.l1, self.l2, self.nuc, self.cfg.penalty_form, self.use)

    def _update(self, W, g, m, v):
        update_(W, g, m, v, opt=self.cfg.optimizer, lr=self.lr, t=self.t,
                wd=self.wd if self.use_wd else None)

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
        per = max(1, EVAL_ELEMS // (P * self.cfg.modulus))
        correct, loss = [], []
        ar = torch.arange(P, device=self.dev)
        for i in range(0, R, per):
            ps = [t[i:i + per] for t in self.params]
            r = ps[0].shape[0]
            logits = forward(self.cfg, ps, self.x1.expand(r, P), self.x2.expand(r, P))
            lab = self.labels[i:i + per]
            correct.append((logits.argmax(-1) == lab).to(DTYPE))
            loss.append(F.cross_entropy(logits.reshape(r * P, -1), lab.reshape(-1),
                                        reduction="none").view(r, P))
        del ar
        correct, loss = torch.cat(correct), torch.cat(loss)
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
        out["nuclear_norm"] = nuc
        # divergence: non-finite loss or weights -> dead from now on
        bad = (~torch.isfinite(out["train_loss"]) | ~finite).cpu()
        self._kill(bad)
        dead = (~self.alive).to(self.dev)
        return {k: torch.where(dead, torch.full_like(v, float("nan")), v.to(torch.float64)
                               if v.dtype != torch.float64 else v) for k, v in out.items()}

    def final(self) -> np.ndarray:
        flat = torch.cat([t.detach().flatten(1) for t in self.params[:self.n_w]], 1)
        flat = flat.cpu().numpy().astype(np.float64)
        flat[~self.alive.numpy()] = np.nan
        return flat


def run_modular_batch(datas: list[ModularData], cfgs: list[list], *, device: str = "cpu",
                      progress=None, max_members: int = MAX_MEMBERS) -> BatchResult:
    """Train D x B modular-arithmetic runs (``cfgs[d][b]`` on data set d) as ensembles of at
    most ``max_members``; all configs share the family's batch key (shapes, optimizer, schedule)."""
    t0 = time.perf_counter()
    members = [(i, c) for i, row in enumerate(cfgs) for c in row]
    first = members[0][1]
    from ..problems.modular import Modular
    key = Modular().batch_key(first)
    if any(Modular().batch_key(c) != key for _, c in members):
        raise ValueError("run_modular_batch: every config must share the family's batch key "
                         "(shapes, optimizer, mini-batch size, steps, logging schedule)")
    steps = log_steps(first.steps, first.log_every, first.log_dense_until, first.log_spacing)
    names = metric_names(first)
    dev = torch.device(device)
    metrics = {k: np.empty((len(steps), len(members))) for k in names}
    # Denormal floats (tiny softmax tails, Adam's v of vanishing gradients) make CPU arithmetic
    # 10-100x slower; flushing them to zero changes nothing measurable and keeps steps uniform.
    # (torch has no getter for this flag: it is reset to torch's default, off, afterwards.)
    torch.set_flush_denormal(True)
    try:
        _train(datas, members, steps, names, metrics, dev, progress, max_members, finals := [])
    finally:
        torch.set_flush_denormal(False)
    return BatchResult(steps=steps, metrics=metrics, final=np.concatenate(finals),
                       iterates=None, wall_time_s=time.perf_counter() - t0)


def _train(datas, members, steps, names, metrics, dev, progress, max_members, finals):
    first = members[0][1]
    for lo in range(0, len(members), max_members):
        chunk = _Chunk(datas, members[lo:lo + max_members], dev)
        R = chunk.R
        logs, done = [], 0
        for t in range(first.steps + 1):
            if t > 0:
                chunk.step()
            if t == steps[len(logs)]:
                logs.append({k: v.cpu().numpy() for k, v in chunk.evaluate().items()})
                if progress is not None:
                    progress(R * (t - done))
                    done = t
                if len(logs) == len(steps):
                    break
        for k in names:
            metrics[k][:, lo:lo + R] = np.stack([row[k] for row in logs])
        finals.append(chunk.final())
