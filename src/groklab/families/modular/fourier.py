"""Fourier sparsity of the token embeddings over Z_p (docs/families/modular.md#fourier-sparsity).

A network that has learned modular addition represents each token x by a few waves
cos(2 pi k x / p), sin(2 pi k x / p) (Nanda et al.'s "key frequencies"). How concentrated an
embedding E (p, d) is on a few frequencies is measured like this:

* the orthonormal real Fourier basis of functions on Z_p has the constant row, and for
  k = 1 .. floor((p - 1) / 2) the rows sqrt(2/p) cos(2 pi k x / p) and sqrt(2/p) sin(2 pi k x / p)
  (for even p also the row (-1)^x / sqrt(p) at k = p/2, which has no sine);
* the coefficients are C = F E (one row per basis function, d columns), and the weight of
  frequency k is the norm of its cosine and sine rows together, |C_cos,k|^2 + |C_sin,k|^2 under a
  square root; the constant row is left out (it shifts every token alike and carries no x);
* the sparsity is the Gini coefficient of those K = floor(p / 2) weights.  The Gini coefficient
  is 0 when all K are equal and (K - 1)/K when a single one is non-zero.

An embedding on one frequency scores about 1 (0.979 at p = 97).  A random (white-noise)
embedding scores about 0.1 at d = 64: its K weights are chi-distributed with 2d degrees of
freedom, so they are nearly equal.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def fourier_basis(p: int, dtype=torch.float64) -> Tensor:
    """(K, 2, p) the cosine and sine rows of frequencies k = 1 .. K = floor(p/2), orthonormal
    (the sine row of k = p/2 for even p is identically 0)."""
    x = torch.arange(p, dtype=dtype)
    k = torch.arange(1, p // 2 + 1, dtype=dtype).unsqueeze(1)  # (K, 1)
    ang = 2 * math.pi * k * x / p  # (K, p)
    scale = torch.full((p // 2, 1), math.sqrt(2.0 / p), dtype=dtype)
    if p % 2 == 0:
        scale[-1] = math.sqrt(1.0 / p)  # the Nyquist row (-1)^x has norm sqrt(p) unscaled
    return torch.stack([torch.cos(ang), torch.sin(ang)], dim=1) * scale.unsqueeze(1)


def frequency_norms(E: Tensor, basis: Tensor | None = None) -> Tensor:
    """(..., K) the weight of each frequency k = 1 .. K of embeddings E (..., p, d)."""
    B = fourier_basis(E.shape[-2], E.dtype) if basis is None else basis.to(E.dtype)
    C = torch.einsum("ksp,...pd->...ksd", B, E)  # (..., K, 2, d) coefficients
    return C.flatten(-2).norm(dim=-1)


def gini(x: Tensor) -> Tensor:
    """(...) the Gini coefficient of non-negative values along the last axis:
    sum_i (2i - n - 1) x_(i) / (n sum_i x_i) with x_(1) <= ... <= x_(n); 0 for all-zero rows."""
    n = x.shape[-1]
    s = x.sort(dim=-1).values
    w = 2 * torch.arange(1, n + 1, dtype=x.dtype, device=x.device) - n - 1
    tot = s.sum(-1)
    return torch.where(tot > 0, (s * w).sum(-1) / (n * tot.clamp_min(1e-300)),
                       torch.zeros_like(tot))


def fourier_gini(E: Tensor, basis: Tensor | None = None) -> Tensor:
    """(...) the Fourier sparsity of embeddings E (..., p, d) (the module docstring)."""
    return gini(frequency_norms(E, basis))
