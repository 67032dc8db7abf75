"""Penalties h as objects with ``value``, ``subgradient`` and ``prox`` -- the one implementation
every engine uses (vectors, matrices, stacked network weights).

All operate on batches: vectors of shape (..., n) (``dims=-1``) or matrices (..., n1, n2)
(``dims=(-2, -1)``), with strengths ``beta`` that are Python floats or tensors broadcastable
against the batch (e.g. (D, B, 1) for vectors, (D, B, 1, 1) or (R, 1, 1) for matrices).  The
in-place variants -- ``add_subgradient_(out, a, beta)``: out += beta * H(a), and ``prox_(a, t)`` --
are what the hot loops call: they write into the caller's buffers (``out=`` / ``buf=``), so a
step allocates nothing and costs as few elementwise passes as possible.

* ``L1``: h = |a|_1 entrywise; subgradient sign(a) with sign(0) = 0; prox = soft-threshold.
* ``L2(form)``: ``half`` h = |a|^2/2 (the linear problems' ridge term, gradient a, prox
  a/(1+t)); ``squared`` h = |a|^2 (gradient 2a); ``norm`` h = |a| unsquared (the authors' network
  penalty: gradient a/|a|, 0 at a = 0; prox = block soft-threshold).  For matrices |.| is the
  Frobenius norm.
* ``Nuclear``: h = |A|_* (sum of singular values); subgradient U V^T of the thin SVD restricted to
  the singular values above ``rank_tol * sigma_max``; prox = singular value thresholding.
"""
from __future__ import annotations

import torch
from torch import Tensor


def axpy_(y: Tensor, a, x: Tensor) -> Tensor:
    """y += a * x in place, for a Python float or a broadcastable tensor a."""
    return y.addcmul_(a, x) if torch.is_tensor(a) else y.add_(x, alpha=a)


def _as(t, a: Tensor):
    return torch.as_tensor(t, dtype=a.dtype, device=a.device)


class Penalty:
    name: str = "penalty"

    def value(self, a: Tensor, dims=-1) -> Tensor:  # h(a), reduced over the parameter dims
        raise NotImplementedError

    def subgradient(self, a: Tensor) -> Tensor:  # an element H(a) of the subdifferential
        raise NotImplementedError

    def prox(self, a: Tensor, t) -> Tensor:  # argmin_x t h(x) + |x - a|^2 / 2
        raise NotImplementedError

    def add_subgradient_(self, out: Tensor, a: Tensor, beta) -> Tensor:
        """out += beta * H(a), in place."""
        return out.add_(beta * self.subgradient(a))

    def prox_(self, a: Tensor, t, buf: Tensor | None = None) -> Tensor:
        return a.copy_(self.prox(a, t))


class L1(Penalty):
    name = "l1"

    def value(self, a, dims=-1):
        return a.abs().sum(dims)

    def subgradient(self, a, out: Tensor | None = None):
        return torch.sign(a, out=out)

    def prox(self, a, t):
        # soft-threshold S_t(a) = sign(a) max(|a| - t, 0) = a - clamp(a, -t, t)
        t = _as(t, a)
        return a - torch.clamp(a, -t, t)

    def add_subgradient_(self, out, a, beta):
        return axpy_(out, beta, torch.sign(a))

    def prox_(self, a, t, buf=None):
        """a <- S_t(a) in place; ``buf`` (a's shape) holds the clamp, so nothing is allocated.
        ``t``: a float or a tensor (per-run thresholds)."""
        return a.sub_(torch.clamp(a, -t, t, out=buf))


L2_FORMS = ("half", "squared", "norm")


class L2(Penalty):
    name = "l2"

    def __init__(self, form: str = "half"):
        if form not in L2_FORMS:
            raise ValueError(f"l2 form {form!r} is not one of {', '.join(L2_FORMS)}")
        self.form = form

    @staticmethod
    def _norm(a, dims, keepdim=False):
        if isinstance(dims, tuple) and len(dims) == 2:
            return torch.linalg.matrix_norm(a, dim=dims, keepdim=keepdim)
        return torch.linalg.vector_norm(a, dim=dims, keepdim=keepdim)

    def value(self, a, dims=-1):
        if self.form == "half":
            return 0.5 * (a * a).sum(dims)
        fro = self._norm(a, dims)
        return fro if self.form == "norm" else fro ** 2

    def subgradient(self, a, dims=-1):
        if self.form == "half":
            return a
        if self.form == "squared":
            return 2 * a
        fro = self._norm(a, dims, keepdim=True)
        return a / torch.where(fro > 0, fro, torch.ones_like(fro))

    def prox(self, a, t, dims=-1):
        t = _as(t, a)
        if self.form == "half":
            return a / (1 + t)
        if self.form == "squared":
            return a / (1 + 2 * t)
        fro = self._norm(a, dims, keepdim=True)  # block soft-threshold of the whole block
        return a * torch.clamp(1 - t / torch.where(fro > 0, fro, torch.ones_like(fro)), min=0.0)

    def add_subgradient_(self, out, a, beta, dims=(-2, -1)):
        """out += beta * H(a); ``dims`` (``norm`` form only): the block whose norm is taken."""
        if self.form == "half":
            return axpy_(out, beta, a)
        if self.form == "squared":
            return out.addcmul_(2 * beta, a)
        fro = self._norm(a, dims, keepdim=True)
        return out.addcmul_(beta / torch.where(fro > 0, fro, torch.ones_like(fro)), a)

    def prox_(self, a, t, buf=None):
        if self.form == "half":
            return a.div_(1 + _as(t, a))
        return a.copy_(self.prox(a, t))


class Nuclear(Penalty):
    """``rank_tol``: keep the singular vectors with sigma > rank_tol * sigma_max (a float, or a
    tensor of one tolerance per matrix, e.g. (D, B, 1)); 0 keeps every non-zero one.  ``svd``:
    the thin SVD to use (a caller may pass one that reports failures its own way)."""

    name = "nuclear"

    def __init__(self, rank_tol=0.0, svd=None):
        self.rank_tol = rank_tol
        self.svd = svd or (lambda a: torch.linalg.svd(a, full_matrices=False))

    def value(self, a, dims=(-2, -1)):
        return torch.linalg.svdvals(a).sum(-1)

    def _keep_weights(self, s: Tensor, beta) -> Tensor:
        """(..., k): beta where sigma is kept, 0 elsewhere; beta is a float or (..., 1, 1)."""
        tol = self.rank_tol
        thr = 0.0 if not torch.is_tensor(tol) and tol == 0 else tol * s[..., :1]
        b = beta.squeeze(-1) if torch.is_tensor(beta) else _as(beta, s)
        return torch.where(s > thr, b, 0.0)

    def subgradient(self, a):
        u, s, vh = self.svd(a)
        return (u * self._keep_weights(s, 1.0).unsqueeze(-2)) @ vh

    def add_subgradient_(self, out, a, beta):
        return self.add_from_svd_(out, *self.svd(a), beta)

    def add_from_svd_(self, out, u, s, vh, beta):
        """out += beta * U diag(keep) V^T from a thin SVD already taken: one batched GEMM."""
        u = u * self._keep_weights(s, beta).unsqueeze(-2)
        k = s.shape[-1]
        out.view(-1, *out.shape[-2:]).baddbmm_(u.reshape(-1, u.shape[-2], k),
                                               vh.reshape(-1, k, vh.shape[-1]))
        return out

    def prox(self, a, t):
        u, s, vh = self.svd(a)
        t = _as(t, a)
        if t.dim() >= 2:  # (B, 1, 1) strengths -> (B, 1) to match s: (B, k)
            t = t.squeeze(-1)
        s = torch.clamp(s - t, min=0.0)
        return (u * s.unsqueeze(-2)) @ vh
