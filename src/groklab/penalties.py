"""Penalties h as objects with ``value``, ``subgradient`` and ``prox``.

All operate on batches: vectors of shape (..., n) for l1/l2 and matrices (..., n1, n2) for the
nuclear norm, with strengths ``beta`` broadcastable against the batch (e.g. (D, B, 1) for vectors,
(B, 1, 1) for matrices).  The in-place ``add_subgradient_`` / ``prox_`` variants are what the hot
loops call: they keep the op count per step minimal (see DESIGN, "per-step overhead").
"""
from __future__ import annotations

import torch
from torch import Tensor


class Penalty:
    name: str = "penalty"
    #: True if the prox has a cheap closed form (used by the proximal method).
    has_prox: bool = True

    def value(self, a: Tensor) -> Tensor:  # h(a), reduced over the parameter dims
        raise NotImplementedError

    def subgradient(self, a: Tensor) -> Tensor:  # an element H(a) of the subdifferential
        raise NotImplementedError

    def prox(self, a: Tensor, t) -> Tensor:  # argmin_x t h(x) + |x - a|^2 / 2
        raise NotImplementedError

    def add_subgradient_(self, out: Tensor, a: Tensor, beta) -> Tensor:
        """out += beta * H(a), in place."""
        return out.add_(beta * self.subgradient(a))

    def prox_(self, a: Tensor, t) -> Tensor:
        return a.copy_(self.prox(a, t))


class L1(Penalty):
    """h(a) = |a|_1, entrywise; subgradient sign(a) with sign(0) = 0; prox = soft-threshold."""

    name = "l1"

    def value(self, a):
        return a.abs().sum(-1)

    def subgradient(self, a):
        return torch.sign(a)

    def prox(self, a, t):
        # soft-threshold S_t(a) = sign(a) max(|a| - t, 0) = a - clamp(a, -t, t)
        t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
        return a - torch.clamp(a, -t, t)

    def add_subgradient_(self, out, a, beta):
        return out.addcmul_(beta, torch.sign(a)) if torch.is_tensor(beta) else out.add_(torch.sign(a), alpha=beta)

    def prox_(self, a, t):
        t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
        return a.sub_(torch.clamp(a, -t, t))


class L2(Penalty):
    """h(a) = |a|^2 / 2 (squared, the linear problems' ridge term); gradient a; prox a / (1 + t)."""

    name = "l2"

    def value(self, a):
        return 0.5 * (a * a).sum(-1)

    def subgradient(self, a):
        return a

    def prox(self, a, t):
        return a / (1 + torch.as_tensor(t, dtype=a.dtype, device=a.device))

    def add_subgradient_(self, out, a, beta):
        return out.addcmul_(beta, a) if torch.is_tensor(beta) else out.add_(a, alpha=beta)

    def prox_(self, a, t):
        return a.div_(1 + torch.as_tensor(t, dtype=a.dtype, device=a.device))


class Nuclear(Penalty):
    """h(A) = |A|_* (sum of singular values) on (..., n1, n2); subgradient U V^T of the thin SVD
    restricted to non-zero singular values; prox = singular value thresholding (SVT)."""

    name = "nuclear"

    def __init__(self, rank_tol: float = 0.0):
        self.rank_tol = rank_tol

    def value(self, a):
        return torch.linalg.svdvals(a).sum(-1)

    def subgradient(self, a):
        u, s, vh = torch.linalg.svd(a, full_matrices=False)
        keep = (s > self.rank_tol).to(a.dtype)
        return (u * keep.unsqueeze(-2)) @ vh

    def prox(self, a, t):
        u, s, vh = torch.linalg.svd(a, full_matrices=False)
        t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
        if t.dim() >= 2:  # (B, 1, 1) strengths -> (B, 1) to match s: (B, k)
            t = t.squeeze(-1)
        s = torch.clamp(s - t, min=0.0)
        return (u * s.unsqueeze(-2)) @ vh


PENALTIES = {"l1": L1(), "l2": L2(), "nuclear": Nuclear()}
