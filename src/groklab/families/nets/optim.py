"""Optimizer steps for stacked ensembles: every tensor has a leading member axis R and the
hyperparameters are (R, 1, ..., 1) columns, so one call updates every member with its own
learning rate and weight decay.  The update rules are PyTorch's (``torch.optim.Adam`` /
``AdamW`` with betas (0.9, 0.999), eps 1e-8 and bias correction; ``SGD`` without momentum), so a
member reproduces the same model trained alone by ``torch.optim`` to float rounding.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

BETAS, EPS = (0.9, 0.999), 1e-8


def update_(W: Tensor, g: Tensor, m: Tensor, v: Tensor, *, opt: str, lr: Tensor, t: int,
            wd: Tensor | None = None) -> None:
    """One in-place step of ``opt`` on the stacked parameter ``W`` with gradient ``g``.

    ``m``, ``v``: the Adam moment buffers (same shape as W, unused by sgd); ``t``: the step count
    after this step (>= 1, for the bias correction); ``lr``, ``wd``: per-member columns
    broadcastable to W.  ``wd=None`` means no weight decay (and costs nothing).  Adam and SGD
    add the decay to the gradient (L2), AdamW decays the weights (decoupled), as torch.optim.
    """
    if wd is not None and opt in ("adam", "sgd"):
        g = g.addcmul(wd, W)
    if opt == "sgd":
        W.sub_(lr * g)
        return
    if wd is not None and opt == "adamw":
        W.mul_(1 - lr * wd)
    b1, b2 = BETAS
    m.mul_(b1).add_(g, alpha=1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    denom = (v.sqrt() / math.sqrt(bc2)).add_(EPS)
    W.sub_((lr / bc1) * (m / denom))


def fused_adam(opt: str):
    """torch's fused CPU Adam / AdamW kernel (``torch._fused_adam_`` / ``_fused_adamw_``: one pass
    over W, m, v, g instead of ~10 elementwise ops) when this torch has it *and* it takes the
    same step as :func:`update_` on a small probe; None otherwise (callers then use update_).
    These are private torch functions: the probe is what lets us rely on them."""
    if opt not in _FUSED:
        _FUSED[opt] = _probe_fused(opt)
    return _FUSED[opt]


_FUSED: dict = {}


def _probe_fused(opt: str):
    fn = getattr(torch, "_fused_adam_" if opt == "adam" else "_fused_adamw_", None)
    if fn is None or opt not in ("adam", "adamw"):
        return None
    g = torch.Generator().manual_seed(0)
    W, grad = (torch.randn(3, 4, 5, generator=g) for _ in range(2))
    ref = [W.clone(), torch.zeros_like(W), torch.zeros_like(W)]
    got = [W.clone(), torch.zeros_like(W), torch.zeros_like(W)]
    lr, wd = 1e-2, 1e-3
    try:
        for t in (1, 2):
            update_(ref[0], grad, ref[1], ref[2], opt=opt, lr=torch.full((3, 1, 1), lr), t=t,
                    wd=torch.full((3, 1, 1), wd))
            fn([got[0]], [grad], [got[1]], [got[2]], [], [torch.tensor(float(t))], lr=lr,
               beta1=BETAS[0], beta2=BETAS[1], weight_decay=wd, eps=EPS, amsgrad=False,
               maximize=False)
    except Exception:  # noqa: BLE001 -- signature changed in this torch: use update_
        return None
    ok = all(torch.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(got, ref))
    return fn if ok else None
