"""Fourier sparsity of modular embeddings (docs/families/modular.md#fourier-sparsity): the basis,
the per-frequency norms against numpy's FFT, the Gini coefficient against its pairwise
definition, and the two extremes (one frequency -> (K-1)/K, white noise -> low)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from groklab.families.modular.config import ModularConfig
from groklab.families.modular.data import make_modular_data
from groklab.families.modular.engine import run_modular_batch
from groklab.families.modular.fourier import fourier_basis, fourier_gini, frequency_norms, gini
from groklab.families.modular.model import init_params


@pytest.mark.parametrize("p", [31, 10, 97])
def test_basis_with_the_constant_is_orthonormal(p):
    B = fourier_basis(p)  # (K, 2, p)
    rows = [torch.full((p,), 1 / math.sqrt(p), dtype=torch.float64)]
    for k in range(B.shape[0]):
        rows.append(B[k, 0])
        if not (p % 2 == 0 and k == B.shape[0] - 1):  # the Nyquist frequency has no sine
            rows.append(B[k, 1])
    F = torch.stack(rows)
    assert F.shape == (p, p)
    torch.testing.assert_close(F @ F.T, torch.eye(p, dtype=torch.float64), atol=1e-12, rtol=0)


def test_frequency_norms_match_numpy_fft():
    rng = np.random.default_rng(0)
    p, d = 23, 5
    E = rng.standard_normal((p, d))
    got = frequency_norms(torch.from_numpy(E)).numpy()
    # Parseval on Z_p: for 0 < k < p/2 the cos and sin coefficients of a column e carry
    # (2/p) |fft(e)_k|^2 together
    want = np.sqrt((2 / p) * (np.abs(np.fft.fft(E, axis=0)[1:p // 2 + 1]) ** 2).sum(1))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_gini_matches_its_pairwise_definition():
    rng = np.random.default_rng(1)
    for x in (rng.exponential(size=40), rng.random(7), np.array([0.0, 0.0, 3.0])):
        pair = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
        assert float(gini(torch.from_numpy(x))) == pytest.approx(pair, rel=1e-12)
    assert float(gini(torch.ones(9, dtype=torch.float64))) == 0.0
    assert float(gini(torch.zeros(4, dtype=torch.float64))) == 0.0


@pytest.mark.parametrize("p", [97, 31, 12])
def test_one_frequency_scores_the_maximum_and_noise_scores_low(p):
    K = p // 2
    x = torch.arange(p, dtype=torch.float64)
    k = 5
    g = torch.Generator().manual_seed(p)
    a, b = torch.randn(1, 64, generator=g, dtype=torch.float64), torch.randn(1, 64, generator=g,
                                                                             dtype=torch.float64)
    wave = torch.cos(2 * math.pi * k * x / p)[:, None] * a \
        + torch.sin(2 * math.pi * k * x / p)[:, None] * b + 3.0  # + a constant: left out
    assert float(fourier_gini(wave)) == pytest.approx((K - 1) / K, abs=1e-9)
    noise = torch.randn(p, 64, generator=g, dtype=torch.float64)
    # per-frequency norms of white noise are chi with 2d = 128 degrees of freedom: nearly equal
    # (coefficient of variation ~0.06, Gini ~0.07); small p has fewer frequencies, more spread
    assert float(fourier_gini(noise)) < 0.15
    assert float(fourier_gini(noise)) < 0.2 * float(fourier_gini(wave))


def test_engine_logs_the_embeddings_fourier_sparsity():
    cfg = ModularConfig(modulus=11, train_fraction=0.5, width=16, steps=20, log_every=10,
                        log_dense_until=0)
    res = run_modular_batch([make_modular_data(cfg)], [[cfg]])
    for j, name in enumerate(("embed1", "embed2")):
        col = res.metrics[f"fourier_gini_{name}"][:, 0]
        assert np.isfinite(col).all() and ((0 <= col) & (col < 1)).all()
        want = float(fourier_gini(init_params(cfg)[j].double()))
        assert col[0] == pytest.approx(want, rel=1e-12)  # step 0: the initial embedding
