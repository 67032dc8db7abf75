"""Optimizer steps for stacked ensembles: every tensor has a leading member axis R and the
hyperparameters are (R, 1, ..., 1) columns, so one call updates every member with its own
learning rate and weight decay.  The update rules are PyTorch's (``torch.optim.Adam`` /
``AdamW`` with betas (0.9, 0.999), eps 1e-8 and bias correction; ``SGD`` without momentum), so a
member reproduces the same model trained alone by ``torch.optim`` to float rounding.
"""
from __future__ import annotations

import math

from torch import Tensor

BETAS, EPS = (0.9, 0.999), 1e-8
OPTIMIZERS = ("adam", "adamw", "sgd")


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
