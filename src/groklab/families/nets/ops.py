"""Small ops the network engines share: the probed oneDNN matmul and the effective rank."""
from __future__ import annotations

import torch
from torch import Tensor


def fast_linear():
    """oneDNN's dense linear (``torch.ops.mkldnn._linear_pointwise``: x @ w^T, strided inputs
    accepted) when this torch has it and it is right, else None.  On AVX-512 machines MKL's sgemm
    may run AVX2 kernels while oneDNN uses AVX-512: about 2x on the networks' K = 64 products
    (benchmarks/bench_modular.py).  A private op: it is checked on a small probe against ``@``
    (with a strided input and a bias) before it is used, and left alone otherwise."""
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


def effective_rank(s: Tensor) -> Tensor:
    """exp(entropy(sigma / sum sigma)) over the last dim (1 for a rank-one matrix)."""
    q = s / s.sum(-1, keepdim=True).clamp_min(1e-30)
    return torch.exp(-(q * torch.log(q.clamp_min(1e-30))).sum(-1))
