"""Ensembles of small networks trained together: the modular-arithmetic MLP (SPEC §3).

R members (configs) live in stacked parameter tensors of shape (R, in, out).  A training step
computes every member's gradient by hand (:func:`loss_grads`: the model is a few matmuls, an
s x s product per pair, ReLU and softmax-CE, so the backward pass is a few more matmuls and two
index_adds; no autograd), adds the penalty gradient in closed form and takes one hand-written
optimizer step (:func:`groklab.engines.optim.update_`) with per-member learning rates, weight
decays and penalty strengths as (R, 1, 1) columns.  The members' numbers never mix: member r of
an ensemble reproduces config r trained alone (tests/test_modular.py).

Speed on a CPU (benchmarks/bench_modular.py): the dense products go member by member through
oneDNN's float32 matmul (``torch.ops.mkldnn._linear_pointwise``, strided inputs, no copies): on
the AMD Zen 5 dev box MKL's sgemm runs AVX2 kernels while oneDNN runs AVX-512 ones, about 2x on
these K = 64 products, and one member's (n, p) logits stay in cache.  With T torch threads the
members are split over T worker threads of one core each (torch ops release the GIL); intra-op
threading of such small products mostly synchronizes.  Batched ``torch.bmm`` over all members
(the path on a GPU, or without oneDNN) was 1.6-2.9x slower on the CPU.  What remains is bound by
the s x s products (memory-bound batched 8 x 8 matmuls, ~12 GFLOP/s), the softmax's exp and the
products themselves: per pair and step 2 x 3 x (s^3 + d^2 + d p) = 65 kFLOP at p = 97, which
runs at 37-43 GFLOP/s over the whole step on two Xeon cores.  Evaluation (on the logging
schedule) goes member by member through the same path in 4096-pair blocks.

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
    """Logits (R, n, p) of R members on operand indices a, b of shape (R, n) (autograd-able;
    training uses the hand-written :func:`loss_grads` instead)."""
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


def square_product(h1: Tensor, h2: Tensor) -> Tensor:
    """(R, n, d) row-wise products reshape(h1, s x s) @ reshape(h2, s x s), d = s^2."""
    R, n, d = h1.shape
    s = math.isqrt(d)
    return torch.bmm(h1.reshape(R * n, s, s), h2.reshape(R * n, s, s)).reshape(R, n, d)


def _fast_linear():
    """oneDNN's dense linear (``torch.ops.mkldnn._linear_pointwise``: x @ w^T, strided inputs
    accepted) when this torch has it and it is right, else None.  On the dev box (AMD Zen 5)
    MKL's sgemm runs its AVX2 kernels while oneDNN uses AVX-512: about 2x on these K = 64
    products (benchmarks/bench_modular.py)."""
    global _LINEAR
    if _LINEAR is False:
        try:
            lin = torch.ops.mkldnn._linear_pointwise
            g = torch.Generator().manual_seed(0)
            x, w, bias = (torch.randn(s, generator=g) for s in ((33, 20), (20, 7), (7,)))
            xt = torch.randn(20, 33, generator=g).t()  # strided input, as act^T in dW2
            ok = torch.allclose(lin(x, w.t(), None, "none", [], ""), x @ w, atol=1e-5) and \
                torch.allclose(lin(xt, w.t(), bias, "none", [], ""), xt @ w + bias, atol=1e-5)
            _LINEAR = lin if ok else None
        except Exception:  # noqa: BLE001 -- no oneDNN in this build: plain matmuls
            _LINEAR = None
    return _LINEAR


_LINEAR = False


def loss_grads(cfg, params: list[Tensor], a: Tensor, b: Tensor, y: Tensor,
               out: list[Tensor] | None = None, *, fast: bool = True) -> list[Tensor]:
    """Gradients of sum_r mean_i CE(logits_r(a_ri, b_ri), y_ri) with respect to ``params``,
    written by hand (no autograd; the model is a handful of matmuls).

    ``a``, ``b``: (R, n) operand indices, ``y``: (R, n) labels of the members' batches.
    ``out``: buffers of the parameters' shapes to write into (fresh ones otherwise).  With
    G = softmax(logits) - onehot(y):

        dW2 = act^T G,  d act = G W2^T,  dz = d act [z > 0],  dW1 = h^T dz,  dh = dz W1^T,
        matrix-product: dA_i = dH_i B_i^T, dB_i = A_i^T dH_i (s x s per pair);
        hadamard:       de1 = dh * e2, de2 = dh * e1, db1 = sum dz, db2 = sum G;
        embedding rows: index_add of the pairs' row gradients (no dense one-hot product),

    all divided by n at the end (the mean; linear, so the scale is applied to the small
    parameter gradients instead of the (n, p) logits).  On the CPU with oneDNN (``fast``) the
    members go one at a time through oneDNN's float32 matmul (their (n, p) logits stay in
    cache); else all at once through ``torch.bmm``.  Each member's numbers depend on its own data only."""
    if out is None:
        out = [torch.empty_like(t) for t in params]
    R, n = a.shape
    cpu32 = a.device.type == "cpu" and params[0].dtype == torch.float32
    lin = _fast_linear() if fast and cpu32 else None
    if lin is None:
        _grads_bmm(cfg, params, a, b, y, out)
    else:
        mm = lambda x, w, bias=None: lin(x, w.t(), bias, "none", [], "")  # noqa: E731  x @ w
        pos = torch.arange(0, n * cfg.modulus, cfg.modulus, device=a.device)
        for r in range(R):
            _grads_one(cfg, mm, [t[r] for t in params], a[r], b[r], pos + y[r],
                       [g[r] for g in out])
    for g in out:
        g.mul_(1.0 / n)
    return out


_MINUS_ONE = torch.tensor(-1.0, dtype=DTYPE)


def _grads_one(cfg, mm, prm, a, b, pos, out):
    """One member, 2-D tensors; ``pos``: flat positions of the labels in the (n, p) logits.
    Writes the gradients of the summed (not yet averaged) cross-entropy into ``out``."""
    n, d = a.shape[0], cfg.width
    if cfg.architecture == "matrix-product":
        E1, E2, W1, W2 = prm
        s = math.isqrt(d)
        h1 = E1.index_select(0, a).view(n, s, s)
        h2 = E2.index_select(0, b).view(n, s, s)
        h = torch.bmm(h1, h2).view(n, d)
        act = torch.relu_(mm(h, W1))
        G = torch.softmax(mm(act, W2), -1)
    else:
        E, W1, W2, b1, b2 = prm
        e1, e2 = E.index_select(0, a), E.index_select(0, b)
        h = e1 * e2
        act = torch.relu_(mm(h, W1, b1.view(-1)))
        G = torch.softmax(mm(act, W2, b2.view(-1)), -1)
    G.view(-1).index_put_((pos,), _MINUS_ONE, accumulate=True)
    if cfg.architecture == "hadamard":
        torch.sum(G, 0, keepdim=True, out=out[4])
    out[-3 if cfg.architecture == "hadamard" else 3].copy_(mm(act.t(), G))  # dW2
    dz = torch.ops.aten.threshold_backward(mm(G, W2.t()), act, 0)
    del G
    gW1 = out[1] if cfg.architecture == "hadamard" else out[2]
    gW1.copy_(mm(h.t(), dz))
    dh = mm(dz, W1.t())
    if cfg.architecture == "matrix-product":
        dh = dh.view(n, s, s)
        out[0].zero_().index_add_(0, a, torch.bmm(dh, h2.transpose(1, 2)).view(n, d))
        out[1].zero_().index_add_(0, b, torch.bmm(h1.transpose(1, 2), dh).view(n, d))
    else:
        out[0].zero_().index_add_(0, a, dh * e2).index_add_(0, b, dh * e1)
        torch.sum(dz, 0, keepdim=True, out=out[3])


def _eval_one(cfg, lin, prm, a, b, y, correct, loss, rows: int = 4096):
    """One member's correctness and cross-entropy on the pairs (a, b) -> labels y, written into
    ``correct`` and ``loss`` (P,), ``rows`` pairs at a time (they stay in cache)."""
    d = cfg.width
    for lo in range(0, a.shape[0], rows):
        aa, bb, yy = a[lo:lo + rows], b[lo:lo + rows], y[lo:lo + rows]
        n = aa.shape[0]
        if cfg.architecture == "matrix-product":
            E1, E2, W1, W2 = prm
            s = math.isqrt(d)
            h = torch.bmm(E1.index_select(0, aa).view(n, s, s),
                          E2.index_select(0, bb).view(n, s, s)).view(n, d)
            act = torch.relu_(lin(h, W1.t(), None, "none", [], ""))
            logits = lin(act, W2.t(), None, "none", [], "")
        else:
            E, W1, W2, b1, b2 = prm
            h = E.index_select(0, aa) * E.index_select(0, bb)
            act = torch.relu_(lin(h, W1.t(), b1.view(-1), "none", [], ""))
            logits = lin(act, W2.t(), b2.view(-1), "none", [], "")
        torch.eq(logits.argmax(-1), yy, out=correct[lo:lo + n])
        torch.sub(torch.logsumexp(logits, -1), logits.gather(1, yy[:, None])[:, 0],
                  out=loss[lo:lo + n])


def _grads_bmm(cfg, params, a, b, y, out):
    """All R members at once with batched matmuls (any device); same sums as _grads_one."""
    R, n = a.shape
    p, d = cfg.modulus, cfg.width
    N = R * n
    offs = (torch.arange(R, device=a.device) * p).unsqueeze(1)
    af, bf = (a + offs).reshape(-1), (b + offs).reshape(-1)
    if cfg.architecture == "matrix-product":
        E1, E2, W1, W2 = params
        gE1, gE2, gW1, gW2 = out
        s = math.isqrt(d)
        h1 = E1.reshape(R * p, d).index_select(0, af).view(N, s, s)
        h2 = E2.reshape(R * p, d).index_select(0, bf).view(N, s, s)
        h = torch.bmm(h1, h2).view(R, n, d)
        act = torch.relu_(torch.bmm(h, W1))
        G = torch.softmax(torch.bmm(act, W2), -1)
    else:
        E, W1, W2, b1, b2 = params
        gE, gW1, gW2, gb1, gb2 = out
        e1 = E.reshape(R * p, d).index_select(0, af)
        e2 = E.reshape(R * p, d).index_select(0, bf)
        h = (e1 * e2).view(R, n, d)
        act = torch.relu_(torch.baddbmm(b1, h, W1))
        G = torch.softmax(torch.baddbmm(b2, act, W2), -1)
    pos = torch.arange(0, N * p, p, device=a.device) + y.reshape(-1)
    G.view(-1).index_put_((pos,), torch.tensor(-1.0, dtype=G.dtype, device=G.device),
                          accumulate=True)
    torch.bmm(act.transpose(1, 2), G, out=gW2)
    if cfg.architecture == "hadamard":
        torch.sum(G, 1, keepdim=True, out=gb2)
    dz = torch.ops.aten.threshold_backward(torch.bmm(G, W2.transpose(1, 2)), act, 0)
    del G
    torch.bmm(h.transpose(1, 2), dz, out=gW1)
    dh = torch.bmm(dz, W1.transpose(1, 2))
    if cfg.architecture == "matrix-product":
        dh = dh.view(N, s, s)
        gE1.zero_().view(R * p, d).index_add_(0, af, torch.bmm(dh, h2.transpose(1, 2)).view(N, d))
        gE2.zero_().view(R * p, d).index_add_(0, bf, torch.bmm(h1.transpose(1, 2), dh).view(N, d))
    else:
        dh = dh.view(N, d)
        gEf = gE.zero_().view(R * p, d)
        gEf.index_add_(0, af, dh * e2).index_add_(0, bf, dh * e1)
        torch.sum(dz, 1, keepdim=True, out=gb1)


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
        lin = _fast_linear() if self.dev.type == "cpu" and DTYPE == torch.float32 else None
        if lin is not None:  # member by member through oneDNN, on the workers if any
            correct = torch.empty(R, P, dtype=DTYPE)
            loss = torch.empty(R, P, dtype=DTYPE)
            job = lambda lo, hi: [_eval_one(self.cfg, lin, [t[r] for t in self.params],  # noqa
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
    threads = torch.get_num_threads()
    workers = threads if dev.type == "cpu" and len(members) > 1 and _fast_linear() else 1
    pool = _workers(workers) if workers > 1 else None
    try:
        _train(datas, members, steps, names, metrics, dev, progress, max_members, finals := [],
               pool, workers)
    finally:
        torch.set_flush_denormal(False)
        if pool is not None:
            pool.shutdown()
            torch.set_num_threads(threads)  # MKL's thread count is process-wide: restore it
    return BatchResult(steps=steps, metrics=metrics, final=np.concatenate(finals),
                       iterates=None, wall_time_s=time.perf_counter() - t0)


def _workers(n: int):
    """n threads that each compute the gradients of a slice of the members on one core.

    Members are independent, so on a CPU the ensemble parallelizes across them: each worker
    runs its members' small matmuls single-threaded (intra-op threading of n = 2048 x 64 x 97
    products mostly synchronizes), while torch ops release the GIL.  Each worker sets its own
    OpenMP thread count and denormal flushing (both are per-thread states)."""
    from concurrent.futures import ThreadPoolExecutor

    def init():
        torch.set_num_threads(1)
        torch.set_flush_denormal(True)

    return ThreadPoolExecutor(n, thread_name_prefix="groklab-member", initializer=init)


def _train(datas, members, steps, names, metrics, dev, progress, max_members, finals,
           pool=None, workers=1):
    first = members[0][1]
    for lo in range(0, len(members), max_members):
        chunk = _Chunk(datas, members[lo:lo + max_members], dev, pool, workers)
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
