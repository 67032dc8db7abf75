"""Weight penalties of the network families: beta * sum over every weight matrix of h(W), with
h the shared :mod:`groklab.penalties` objects -- l1 (entrywise), l2 (the unsquared Frobenius norm
``norm``, as the authors' code, or its square ``squared``) and the nuclear norm.  Weights are
stacked over members, (R, a, b), with (R, 1, 1) strengths (or (R,) for the value)."""
from __future__ import annotations

from torch import Tensor

from ...penalties import L1, L2, Nuclear

_L1, _NUCLEAR = L1(), Nuclear()
_L2 = {"norm": L2("norm"), "squared": L2("squared")}
MATRIX = (-2, -1)


def penalty_value(W: Tensor, l1, l2, nuclear, form: str = "norm") -> Tensor:
    """(R,) beta-weighted penalty of one stacked weight (R, a, b)."""
    v = l1 * _L1.value(W, dims=MATRIX)
    v = v + l2 * _L2[form].value(W, dims=MATRIX)
    return v + nuclear * _NUCLEAR.value(W)


def add_penalty_grad_(g: Tensor, W: Tensor, l1, l2, nuclear, form: str, use) -> Tensor:
    """g += gradient of penalty_value in closed form (l1: sign(W); norm: W / |W|_F, 0 at W = 0;
    squared: 2 W; nuclear: U V^T of the thin SVD).  Betas are (R, 1, 1); ``use`` says which
    penalties any member has (the others cost nothing)."""
    if use[0]:
        _L1.add_subgradient_(g, W, l1)
    if use[1]:
        _L2[form].add_subgradient_(g, W, l2, dims=MATRIX)
    if use[2]:
        _NUCLEAR.add_subgradient_(g, W, nuclear)
    return g
