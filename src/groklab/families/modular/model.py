"""The modular-arithmetic MLP of an ensemble: parameters, forward pass and hand-written
gradients (docs/families/modular.md#objective-and-methods).

R members (configs) live in stacked parameter tensors of shape (R, in, out).  A training step
computes every member's gradient by hand (:func:`loss_grads`: the model is a few matmuls, an
s x s product per pair, ReLU and softmax-CE, so the backward pass is a few more matmuls and two
index_adds; no autograd), adds the penalty gradient in closed form and takes one hand-written
optimizer step (:func:`groklab.families.nets.optim.update_`) with per-member learning rates, weight
decays and penalty strengths as (R, 1, 1) columns.  The members' numbers never mix: member r of
an ensemble reproduces config r trained alone (tests/test_modular.py).

Speed on a CPU: the dense products go member by member through oneDNN's float32 matmul
(``groklab.families.nets.ops.fast_linear``, strided inputs, no copies), so one member's (n, p)
logits stay in cache; with T torch threads the members are split over T worker threads of one
core each (torch ops release the GIL), because intra-op threading of such small products mostly
synchronizes.  Batched ``torch.bmm`` over all members (the path on a GPU, or without oneDNN) was
slower on the CPU (README, "Speed").  What remains is bound by the s x s products (memory-bound
batched 8 x 8 matmuls), the softmax's exp and the products themselves: per pair and step
2 x 3 x (s^3 + d^2 + d p) = 65 kFLOP at p = 97.  Evaluation (on the logging schedule) goes member
by member through the same path in 4096-pair blocks.

Model (``architecture``; p the modulus, d the width, s = sqrt(d)):

    matrix-product (the authors' notebook, 22 720 weights at p = 97, d = 64):
        h = reshape(E1[x1], s x s) @ reshape(E2[x2], s x s)   (two bias-free p -> d embeddings)
        logits = relu(h W1) W2                                (d -> d -> p, no biases)
    hadamard (the paper's text):
        logits = relu((E[x1] * E[x2]) W1 + b1) W2 + b2        (one shared embedding, biases)

Inputs are index tensors: the embedding of a one-hot vector is a row lookup, done here with
``F.embedding`` on the (R p, d) stacked tables.  Init (per member, from ``seed``): W1 ~ N(0, 1/d),
W2 ~ N(0, 1/p) (std 1/sqrt(out_features): the authors' "normal" init, and the paper's N(0, 1/n1)
for a matrix in R^{n1 x n2} written y = A x); biases 0; embeddings: matrix-product keeps the
notebook's U(+-1/sqrt(p)) (PyTorch's Linear default, which the authors' init helper skips),
hadamard -- the paper's own description of the model -- the paper's N(0, 1/p) (E in R^{p x d}).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ...seeds import derive_seed
from ..nets.ops import fast_linear
from .data import weight_shapes

DTYPE = torch.float32


def metric_names(cfg) -> tuple[str, ...]:
    return ("train_error", "test_error", "train_accuracy", "test_accuracy", "train_loss",
            "test_loss", "l0_norm", "l1_norm", "l2_norm", "nuclear_norm",
            *(f"erank_{name}" for name, _ in weight_shapes(cfg)),
            *(f"fourier_gini_{name}" for name in embedding_names(cfg)))


def embedding_names(cfg) -> list[str]:
    """The token embeddings (p, d): their Fourier sparsity is logged (``.fourier``)."""
    return [name for name, _ in weight_shapes(cfg) if name.startswith("embed")]


def init_params(cfg, device="cpu") -> list[Tensor]:
    """One member's parameters [weights..., biases...], each (in, out) or (1, out).  Each
    weight matrix draws from its own stream, ``derive_seed(seed, "modular/init-" + name)``
    (docs/seeds.md): never the split's stream, whatever ``data_seed`` is."""
    p, d = cfg.modulus, cfg.width
    out = []
    for name, (a, b) in weight_shapes(cfg):
        gen = torch.Generator().manual_seed(derive_seed(cfg.seed, f"modular/init-{name}"))
        if name.startswith("embed") and cfg.architecture == "matrix-product":
            # the authors' notebook: PyTorch's Linear default, left alone by their init helper
            bound = 1.0 / math.sqrt(p)
            w = (torch.rand(a, b, generator=gen, dtype=DTYPE) * 2 - 1) * bound
        elif name.startswith("embed"):  # hadamard: the paper's N(0, 1/n1), E in R^{p x d}
            w = torch.randn(a, b, generator=gen, dtype=DTYPE) / math.sqrt(p)
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
    lin = fast_linear() if fast and cpu32 else None
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


def eval_member(cfg, lin, prm, a, b, y, correct, loss, rows: int = 4096):
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
