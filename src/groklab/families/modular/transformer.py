"""``--architecture transformer``: a decoder-only transformer on "x1 x2 =" sequences, trained as
an ensemble by the generic engine (groklab.families.nets.ensemble; the MLPs keep their
hand-written engine).

Model (docs/families/modular.md#transformer): tokens 0..p-1 are the operands, token p is "=";
a sequence is (x1, x2, =) and the answer is read at "=".  Learned token and position embeddings
(d = ``width``), ``layers`` blocks of causal multi-head self-attention (``heads`` heads of size
d / heads, no biases) and a ReLU MLP (d -> ``mlp_width`` -> d, with biases), residual
connections, optional pre-layer-norm (``layer_norm pre``), an untied unembedding d -> p.  The
defaults of the published one-layer model are d = 128, 4 heads, MLP 512, no layer norm.

Init (per member, from its seed's own stream): N(0, 1/d) for the embeddings, PyTorch's Linear
default U(+-1/sqrt(fan_in)) for the rest; layer norms start at gain 1, bias 0.  Penalties: every weight matrix (2-D parameter: embeddings, attention and MLP
matrices, unembedding); biases and layer-norm gains are not penalized.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...seeds import derive_seed
from ..nets.ensemble import MemberSpec
from ..nets.trainer import NetProgram, run_net_batch

#: the member's init and mini-batch streams: derive_seed(seed, name) (docs/seeds.md)
INIT_STREAM, BATCH_STREAM = "modular-transformer/init", "modular-transformer/batch-order"
L0_THRESHOLD = 1e-4


class Block(nn.Module):
    def __init__(self, d: int, heads: int, mlp: int, norm: bool):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)
        self.fc1, self.fc2 = nn.Linear(d, mlp), nn.Linear(mlp, d)
        self.ln1 = nn.LayerNorm(d) if norm else nn.Identity()
        self.ln2 = nn.LayerNorm(d) if norm else nn.Identity()

    def forward(self, h: Tensor, last_only: bool = False) -> Tensor:  # (n, T, d)
        """``last_only``: return only the last position, (n, 1, d).  The answer is read at "=",
        so in the last block the other positions' queries, attention outputs and MLPs feed
        nothing; skipping them gives the same logits at a third of the MLP's cost."""
        n, T, d = h.shape
        q, k, v = self.qkv(self.ln1(h)).view(n, T, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (n, H, T, dh)
        if last_only:  # the last query sees every position: the causal mask is all true there
            q, h = q[:, :, -1:], h[:, -1:]  # (n, H, 1, dh), (n, 1, d)
        att = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)  # (n, H, Tq, T)
        if not last_only:
            causal = torch.ones(T, T, dtype=torch.bool, device=h.device).tril()
            att = att.masked_fill(~causal, float("-inf"))
        att = att.softmax(-1)
        h = h + self.proj((att @ v).transpose(1, 2).reshape(n, h.shape[1], d))
        return h + self.fc2(torch.relu(self.fc1(self.ln2(h))))


class ModularTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        p, d = cfg.modulus, cfg.width
        self.tok = nn.Parameter(torch.empty(p + 1, d))
        self.pos = nn.Parameter(torch.empty(3, d))
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_width, cfg.layer_norm == "pre")
                                    for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(d) if cfg.layer_norm == "pre" else nn.Identity()
        self.unembed = nn.Linear(d, p, bias=False)
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, INIT_STREAM))
        with torch.no_grad():
            for name, w in self.named_parameters():
                if name in ("tok", "pos"):
                    w.copy_(torch.randn(w.shape, generator=g) / math.sqrt(d))
                elif "ln" not in name:  # Linear weights and biases: U(+-1/sqrt(fan_in))
                    fan_in = w.shape[1] if w.dim() == 2 else dict(
                        self.named_parameters())[name.replace("bias", "weight")].shape[1]
                    w.copy_((torch.rand(w.shape, generator=g) * 2 - 1) / math.sqrt(fan_in))

    def forward(self, x: Tensor) -> Tensor:  # (n, 3) tokens -> (n, p) logits at "="
        h = F.embedding(x, self.tok) + self.pos
        for i, blk in enumerate(self.blocks):
            h = blk(h, last_only=i == len(self.blocks) - 1)
        return self.unembed(self.ln_f(h[..., -1, :]))  # (n, p)


class _Split:
    """A modular data set as the generic trainer reads it: token sequences and labels."""

    def __init__(self, data):
        seq = torch.stack([data.x1, data.x2, torch.full_like(data.x1, data.p)], 1)  # (P, 3)
        self.x_train, self.y_train = seq[data.train_idx], data.labels[data.train_idx]
        self.x_test, self.y_test = seq[data.test_idx], data.labels[data.test_idx]


def _spec(cfg) -> MemberSpec:
    return MemberSpec(lr=cfg.lr, weight_decay=cfg.weight_decay, l1=cfg.l1, l2=cfg.l2,
                      nuclear=cfg.nuclear)


def _l0(ens, datas) -> dict[str, Tensor]:
    flat = torch.cat([W.flatten(1) for _, W in ens.matrices()], 1)
    return {"l0_norm": (flat.abs() > L0_THRESHOLD).sum(1).to(torch.float64)}


PROGRAM = NetProgram(build=ModularTransformer, spec=_spec, loss="cross-entropy",
                     stream=BATCH_STREAM, extra=_l0, extra_names=("l0_norm",))


#: the fields that fix the transformer's shapes (ModularTransformer and Block read no others
#: but the seed, which fixes values only)
SHAPE_FIELDS = ("modulus", "width", "heads", "mlp_width", "layers", "layer_norm")
#: shape -> number of penalized weights, filled on first use
_WEIGHTS: dict[tuple, int] = {}


def transformer_weights(cfg) -> int:
    """Number of entries of the penalized weight matrices.  Counted on one module per shape and
    remembered: a sweep's runs table asks once per run, and building a module initializes it."""
    shape = tuple(getattr(cfg, f) for f in SHAPE_FIELDS)
    if shape not in _WEIGHTS:
        _WEIGHTS[shape] = sum(w.numel() for w in ModularTransformer(cfg).parameters()
                              if w.dim() == 2)
    return _WEIGHTS[shape]


def run_transformer_batch(datas, cfgs, *, device="cpu", progress=None, save_iterates=0):
    """The generic engine on the token sequences; ``save_iterates = K``: every parameter of
    :class:`ModularTransformer` (``named_parameters``) at every K-th log point and the last."""
    return run_net_batch([_Split(d) for d in datas], cfgs, PROGRAM, device=device,
                         progress=progress, engine="modular transformer",
                         save_iterates=int(save_iterates))
