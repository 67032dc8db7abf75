"""Penalties: values, subgradients and proximal operators against their closed forms.

l1: prox = soft-threshold S_t(a) = sign(a) max(|a| - t, 0); l2 (h = |a|^2/2): prox = a / (1 + t);
nuclear: prox = singular value thresholding, subgradient U V^T.  Every prox of a convex h is
(firmly) non-expansive and minimizes t h(x) + |x - a|^2 / 2; those are checked as properties.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from groklab.penalties import L1, L2, Nuclear

DT = torch.float64
l1, l2, nuc = L1(), L2(), Nuclear()

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)
thresholds = st.floats(0, 5, allow_nan=False, allow_infinity=False)


def vec(n=8):
    return arrays(np.float64, (n,), elements=finite)


def soft_threshold_np(a, t):
    return np.sign(a) * np.maximum(np.abs(a) - t, 0.0)


def random_orthogonal(n, gen):
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=DT))
    return q * torch.sign(torch.diagonal(r))


def matrix_with_svd(s, gen, n1=5, n2=4):
    """A = U diag(s) V^T with random orthonormal U (n1 x k), V (n2 x k), k = len(s)."""
    k = len(s)
    U = random_orthogonal(n1, gen)[:, :k]
    V = random_orthogonal(n2, gen)[:, :k]
    s = torch.as_tensor(s, dtype=DT)
    return (U * s) @ V.T, U, V


# ---------------------------------------------------------------------------------------------
# l1
# ---------------------------------------------------------------------------------------------
def test_penalty_names():
    """The names are the config fields that set their strengths."""
    assert [p.name for p in (L1(), L2(), L2("norm"), Nuclear())] == ["l1", "l2", "l2", "nuclear"]


@given(vec(), thresholds)
def test_l1_prox_is_soft_threshold(a, t):
    got = l1.prox(torch.from_numpy(a), t).numpy()
    np.testing.assert_allclose(got, soft_threshold_np(a, t), rtol=0, atol=1e-12)


def test_l1_prox_exact_zeros_and_shrink():
    a = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.25, 1.0, 2.5], dtype=DT)
    got = l1.prox(a, 1.0)
    expect = torch.tensor([-2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.5], dtype=DT)
    assert torch.equal(got, expect)  # zeros are exact zeros, not 1e-17
    assert torch.equal(l1.prox(a, 0.0), a)  # t = 0: identity


def test_l1_prox_per_row_thresholds():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(3, 4, 7, generator=gen, dtype=DT)  # (D, B, n)
    t = torch.rand(3, 4, 1, generator=gen, dtype=DT)  # one threshold per run
    got = l1.prox(a, t)
    for d in range(3):
        for b in range(4):
            expect = soft_threshold_np(a[d, b].numpy(), float(t[d, b, 0]))
            np.testing.assert_allclose(got[d, b].numpy(), expect, rtol=0, atol=1e-15)


def test_l1_value_and_subgradient():
    a = torch.tensor([[-2.0, 0.0, 3.0], [0.5, -0.5, 0.0]], dtype=DT)
    assert torch.equal(l1.value(a), torch.tensor([5.0, 1.0], dtype=DT))
    # PyTorch convention of the paper's experiments: sign(0) = 0
    assert torch.equal(l1.subgradient(a), torch.tensor([[-1.0, 0.0, 1.0], [1.0, -1.0, 0.0]], dtype=DT))


# ---------------------------------------------------------------------------------------------
# l2 (h = |a|^2 / 2)
# ---------------------------------------------------------------------------------------------
@given(vec(), thresholds)
def test_l2_prox_closed_form(a, t):
    got = l2.prox(torch.from_numpy(a), t).numpy()
    np.testing.assert_allclose(got, a / (1.0 + t), rtol=1e-14, atol=0)


def test_l2_value_and_gradient():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(2, 6, generator=gen, dtype=DT)
    np.testing.assert_allclose(l2.value(a).numpy(), 0.5 * (a.numpy() ** 2).sum(-1), rtol=1e-14)
    x = a.clone().requires_grad_(True)
    l2.value(x).sum().backward()
    np.testing.assert_allclose(l2.subgradient(a).numpy(), x.grad.numpy(), rtol=1e-14)


def test_l2_prox_per_row_thresholds():
    gen = torch.Generator().manual_seed(2)
    a = torch.randn(2, 3, 5, generator=gen, dtype=DT)
    t = torch.rand(2, 3, 1, generator=gen, dtype=DT)
    np.testing.assert_allclose(l2.prox(a, t).numpy(), (a / (1 + t)).numpy(), rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# prox properties (all three penalties)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pen", [l1, l2], ids=["l1", "l2"])
@given(a=vec(), b=vec(), t=thresholds)
def test_vector_prox_firmly_nonexpansive(pen, a, b, t):
    pa, pb = pen.prox(torch.from_numpy(a), t).numpy(), pen.prox(torch.from_numpy(b), t).numpy()
    d, dp = a - b, pa - pb
    slack = 1e-12 * (1 + np.abs(a).sum() + np.abs(b).sum()) ** 2
    assert np.linalg.norm(dp) <= np.linalg.norm(d) * (1 + 1e-12) + 1e-12
    assert dp @ dp <= dp @ d + slack  # firm non-expansiveness


@given(a=arrays(np.float64, (4, 3), elements=finite), b=arrays(np.float64, (4, 3), elements=finite),
       t=thresholds)
@settings(max_examples=50, deadline=None)
def test_nuclear_prox_nonexpansive(a, b, t):
    pa, pb = nuc.prox(torch.from_numpy(a), t).numpy(), nuc.prox(torch.from_numpy(b), t).numpy()
    assert np.linalg.norm(pa - pb) <= np.linalg.norm(a - b) * (1 + 1e-9) + 1e-9


def _prox_objective(pen, x, a, t):
    return t * float(pen.value(x)) + 0.5 * float(((x - a) ** 2).sum())


@pytest.mark.parametrize("pen,shape", [(l1, (9,)), (l2, (9,)), (nuc, (5, 4))],
                         ids=["l1", "l2", "nuclear"])
@given(seed=st.integers(0, 2**31 - 1), t=st.floats(0.01, 2.0))
@settings(max_examples=25, deadline=None)
def test_prox_minimizes_its_objective(pen, shape, seed, t):
    """x = prox(a) minimizes F(x) = t h(x) + |x - a|^2/2: no perturbation (tiny to large,
    including moves that re-inflate zeroed coordinates / singular values) does better."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(*shape, generator=gen, dtype=DT)
    x = pen.prox(a, t)
    f0 = _prox_objective(pen, x, a, t)
    for scale in (1e-6, 1e-3, 1e-1, 1.0):
        for _ in range(8):
            d = torch.randn(*shape, generator=gen, dtype=DT) * scale
            # F is 1-strongly convex, so F(x + d) >= F(x) + |d|^2 / 2 at the minimizer
            assert _prox_objective(pen, x + d, a, t) >= f0 + 0.5 * float((d * d).sum()) * (1 - 1e-6) - 1e-12


# ---------------------------------------------------------------------------------------------
# nuclear norm
# ---------------------------------------------------------------------------------------------
def test_nuclear_value_is_sum_of_singular_values():
    gen = torch.Generator().manual_seed(3)
    s = [3.0, 1.5, 0.2]
    A, _, _ = matrix_with_svd(s, gen)
    assert abs(float(nuc.value(A)) - sum(s)) < 1e-12


def test_svt_closed_form():
    gen = torch.Generator().manual_seed(4)
    s = torch.tensor([3.0, 1.5, 0.7, 0.2], dtype=DT)
    A, U, V = matrix_with_svd(s, gen)
    t = 1.0
    expect = (U * torch.clamp(s - t, min=0)) @ V.T  # singular values shrink by t, clamp at 0
    got = nuc.prox(A, t)
    np.testing.assert_allclose(got.numpy(), expect.numpy(), atol=1e-12)
    sv = torch.linalg.svdvals(got)
    np.testing.assert_allclose(sv[:2].numpy(), [2.0, 0.5], atol=1e-12)
    assert float(sv[2:].abs().max()) < 1e-12  # rank drops from 4 to 2


def test_svt_batched_per_matrix_thresholds():
    gen = torch.Generator().manual_seed(5)
    svals = [[4.0, 2.0, 1.0], [3.0, 0.5, 0.1], [1.0, 0.9, 0.8]]
    mats, expects = [], []
    ts = torch.tensor([0.5, 1.0, 0.85], dtype=DT)
    for s, t in zip(svals, ts):
        A, U, V = matrix_with_svd(s, gen)
        mats.append(A)
        s = torch.tensor(s, dtype=DT)
        expects.append((U * torch.clamp(s - t, min=0)) @ V.T)
    A = torch.stack(mats)  # (B, 5, 4)
    got = nuc.prox(A, ts.view(-1, 1, 1))  # thresholds shaped (B, 1, 1)
    np.testing.assert_allclose(got.numpy(), torch.stack(expects).numpy(), atol=1e-12)


def test_nuclear_subgradient_is_UVt():
    gen = torch.Generator().manual_seed(6)
    A, U, V = matrix_with_svd([2.0, 1.0, 0.5, 0.25], gen)  # full rank (5 x 4)
    H = nuc.subgradient(A)
    np.testing.assert_allclose(H.numpy(), (U @ V.T).numpy(), atol=1e-10)
    # <H, A> = |A|_* and |H|_2 <= 1: H is in the subdifferential of the nuclear norm at A
    assert abs(float((H * A).sum()) - 3.75) < 1e-10
    assert float(torch.linalg.matrix_norm(H, ord=2)) <= 1 + 1e-10


def test_nuclear_subgradient_rank_deficient():
    """Rank 2 in 5 x 4: with a rank tolerance the subgradient is exactly U_r V_r^T (the
    minimal-norm element); without one, numerically-zero singular values (~1e-16) are kept, which
    is still an element of the subdifferential (<H, A> = |A|_*, |H|_2 <= 1)."""
    gen = torch.Generator().manual_seed(6)
    A, U, V = matrix_with_svd([3.0, 1.0], gen)
    H = Nuclear(rank_tol=1e-8).subgradient(A)
    np.testing.assert_allclose(H.numpy(), (U @ V.T).numpy(), atol=1e-10)
    for H in (H, nuc.subgradient(A)):
        assert abs(float((H * A).sum()) - 4.0) < 1e-10
        assert float(torch.linalg.matrix_norm(H, ord=2)) <= 1 + 1e-10


def test_nuclear_subgradient_batched():
    gen = torch.Generator().manual_seed(7)
    A = torch.randn(3, 5, 4, generator=gen, dtype=DT)
    H = nuc.subgradient(A)
    for b in range(3):
        assert abs(float((H[b] * A[b]).sum()) - float(torch.linalg.svdvals(A[b]).sum())) < 1e-10
        assert float(torch.linalg.matrix_norm(H[b], ord=2)) <= 1 + 1e-10
        np.testing.assert_allclose(H[b].numpy(), nuc.subgradient(A[b]).numpy(), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# in-place variants (what the hot loops call) == out-of-place
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pen", [l1, l2], ids=["l1", "l2"])
@pytest.mark.parametrize("per_run", [False, True], ids=["scalar", "per-run"])
def test_inplace_equals_out_of_place_vectors(pen, per_run):
    gen = torch.Generator().manual_seed(8)
    a = torch.randn(2, 3, 6, generator=gen, dtype=DT)
    a[0, 0, :2] = 0.0  # exercise sign(0)
    out0 = torch.randn(2, 3, 6, generator=gen, dtype=DT)
    beta = torch.rand(2, 3, 1, generator=gen, dtype=DT) if per_run else 0.3
    expect = out0 + beta * pen.subgradient(a)
    out = out0.clone()
    ptr = out.data_ptr()
    ret = pen.add_subgradient_(out, a, beta)
    assert out.data_ptr() == ptr and ret.data_ptr() == ptr  # really in place
    np.testing.assert_allclose(out.numpy(), expect.numpy(), rtol=1e-15, atol=1e-15)

    expect = pen.prox(a, beta)
    b = a.clone()
    ptr = b.data_ptr()
    ret = pen.prox_(b, beta)
    assert b.data_ptr() == ptr and ret.data_ptr() == ptr
    np.testing.assert_allclose(b.numpy(), expect.numpy(), rtol=1e-15, atol=1e-15)


def test_inplace_nuclear_equals_out_of_place():
    gen = torch.Generator().manual_seed(9)
    A = torch.randn(3, 5, 4, generator=gen, dtype=DT)
    t = torch.tensor([0.1, 0.5, 2.0], dtype=DT).view(-1, 1, 1)
    expect = nuc.prox(A, t)
    B = A.clone()
    nuc.prox_(B, t)
    np.testing.assert_allclose(B.numpy(), expect.numpy(), atol=1e-14)
    out0 = torch.randn(3, 5, 4, generator=gen, dtype=DT)
    out = out0.clone()
    nuc.add_subgradient_(out, A, t)
    np.testing.assert_allclose(out.numpy(), (out0 + t * nuc.subgradient(A)).numpy(), atol=1e-14)
