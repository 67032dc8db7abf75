"""Sparse recovery data (docs/families/sparse-recovery.md#data).

a* in R^n has s non-zeros at uniform positions, values N(0, 1)/sqrt(n); the basis Phi is the
identity, an orthonormal Q factor, or a Gaussian matrix; M in R^{N x n} has N(0, v) entries
(v = 1/N as in the authors' figures, or 1/n as in the paper's text), except that its first
floor(tau N) rows are columns of Phi (data selection, maximal coherence), rescaled to the norm a
Gaussian row has on average.  X = M Phi, y* = X a* + xi with E|a*|^2 / E|xi|^2 = SNR.

Fourier basis: Phi is the unitary DFT matrix (complex).  The code a* stays real, so the complex
measurements X a* are split into real and imaginary parts: the design has 2N real rows
[Re X; Im X] and the objective |X a - y|^2 is unchanged.  Coherent rows (tau > 0) are conjugated
columns of Phi, so that the corresponding rows of X are canonical basis vectors.

Everything is drawn from one torch.Generator seeded by ``seed`` in a fixed order, so the data
depend only on the data fields of the config (not on which runs share a batch).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ...seeds import stream_seed
from . import userdata

DTYPE = torch.float64
#: the random init draws from its own stream, (seed, INIT_SALT): independent of the data's
INIT_SALT = 17


@dataclass
class SparseData:
    X: Tensor  # (N, n) design M Phi; (2N, n) [Re; Im] for the Fourier basis
    y: Tensor  # (N,) targets
    a_star: Tensor  # (n,) ground-truth sparse code
    M: Tensor  # (N, n) measurement matrix
    Phi: Tensor  # (n, n) basis
    support: Tensor  # (s,) long, positions of the non-zeros of a*
    coherence: float  # mu(M, Phi)
    lambda_max: float  # largest eigenvalue of X^T X
    has_truth: bool = True  # False for a user's data without a_star: no test metrics

    @property
    def n(self) -> int:
        return self.X.shape[1]


def coherence(M: Tensor, Phi: Tensor) -> float:
    """mu(M, Phi) = max_ij |<m_i/|m_i|, phi_j/|phi_j|>| (rows m_i of M, columns phi_j of Phi)."""
    Mn = M / M.norm(dim=1, keepdim=True).clamp_min(1e-300)
    Pn = Phi / Phi.norm(dim=0, keepdim=True).clamp_min(1e-300)
    if Mn.is_complex() or Pn.is_complex():
        Mn, Pn = Mn.to(torch.complex128), Pn.to(torch.complex128)
        return float((Mn.conj() @ Pn).abs().max())  # <m_i, phi_j> with the complex inner product
    return float((Mn @ Pn).abs().max())


def make_basis(kind: str, n: int, gen: torch.Generator) -> Tensor:
    if kind == "identity":
        return torch.eye(n, dtype=DTYPE)
    if kind == "fourier":
        k = torch.arange(n, dtype=DTYPE)
        return torch.exp(-2j * math.pi * torch.outer(k, k) / n) / math.sqrt(n)  # unitary DFT
    G = torch.randn(n, n, generator=gen, dtype=DTYPE)
    if kind == "gaussian":
        return G / math.sqrt(n)
    if kind == "orthonormal":
        Q, R = torch.linalg.qr(G)
        # fix the sign ambiguity of QR so the basis is a deterministic function of the seed
        return Q * torch.sign(torch.diagonal(R)).unsqueeze(0)
    raise ValueError(f"unknown basis {kind!r}")


def make_data(cfg) -> SparseData:
    if cfg.data:
        return user_data(cfg)
    n, s, N = cfg.dim, cfg.sparsity, cfg.measurements
    gen = torch.Generator().manual_seed(int(cfg.seed))
    # Fixed draw order: support, values, M, coherent rows, noise, basis.  The basis comes last so
    # that identity / other bases give the same a*, M and noise for the same seed.
    support = torch.randperm(n, generator=gen)[:s].sort().values
    a_star = torch.zeros(n, dtype=DTYPE)
    a_star[support] = torch.randn(s, generator=gen, dtype=DTYPE) / math.sqrt(n)
    var = 1.0 / N if cfg.measurement_variance == "1/N" else 1.0 / n
    M = torch.randn(N, n, generator=gen, dtype=DTYPE) * math.sqrt(var)
    n_coherent = min(int(math.floor(cfg.tau * N + 1e-9)), N)
    cols = torch.randperm(n, generator=gen)
    if n_coherent > n:  # more coherent rows than columns: reuse columns (with replacement)
        extra = torch.randint(0, n, (n_coherent - n,), generator=gen)
        cols = torch.cat([cols, extra])
    xi = torch.randn(N, generator=gen, dtype=DTYPE)
    Phi = make_basis(cfg.basis, n, gen)
    if n_coherent:
        # rows are (conjugated) columns of Phi scaled to the mean norm of a Gaussian row sqrt(n var)
        rows = Phi[:, cols[:n_coherent]].T.conj()
        rows = rows / rows.norm(dim=1, keepdim=True) * math.sqrt(n * var)
        if rows.is_complex():
            M = M.to(rows.dtype)
        M[:n_coherent] = rows
    X = M.to(Phi.dtype) @ Phi
    if X.is_complex():  # real code, complex measurements: stack real and imaginary parts
        X = torch.cat([X.real, X.imag])
    y = X @ a_star
    if math.isfinite(cfg.snr):
        # SNR = E|a*|^2 / E|xi|^2 with E|a*|^2 = s/n and E|xi|^2 = N sigma^2 (N real rows)
        sigma = math.sqrt((s / n) / (N * cfg.snr))
        xi_full = xi if X.shape[0] == N else torch.cat([xi, torch.randn(N, generator=gen, dtype=DTYPE)])
        y = y + sigma * xi_full * (1.0 if X.shape[0] == N else math.sqrt(0.5))
    lam = float(torch.linalg.eigvalsh(X.T @ X)[-1])
    return SparseData(X=X, y=y, a_star=a_star, M=M, Phi=Phi, support=support,
                      coherence=coherence(M, Phi), lambda_max=lam)


def user_data(cfg) -> SparseData:
    """A user's X, y (and a*) from ``--data``: M = X in the identity basis, so the coherence is
    mu(X, I), the largest normalized entry of a row.  Without a* the code is 0 and
    ``has_truth`` is False (the engine then reports no test metrics)."""
    arrays = userdata.read(cfg.data, cfg.file_digest("data"))
    X = torch.from_numpy(arrays.X)
    y = torch.from_numpy(arrays.y)
    n = X.shape[1]
    truth = arrays.a_star is not None
    a_star = torch.from_numpy(arrays.a_star) if truth else torch.zeros(n, dtype=DTYPE)
    Phi = torch.eye(n, dtype=DTYPE)
    lam = float(torch.linalg.eigvalsh(X.T @ X)[-1])
    return SparseData(X=X, y=y, a_star=a_star, M=X, Phi=Phi,
                      support=torch.nonzero(a_star).flatten(), coherence=coherence(X, Phi),
                      lambda_max=lam, has_truth=truth)


def least_squares(X: Tensor, y: Tensor) -> Tensor:
    """Minimum-norm least-squares fit a_hat = X^+ y (the memorizing solution)."""
    return torch.linalg.pinv(X) @ y


def lr_bound(data: SparseData, l2: float, method: str = "subgradient") -> float:
    """The step sizes a method admits: lr < lr_bound.

    * subgradient, ista: gradient descent on |Xa - y|^2/2 + l2 |a|^2/2 is stable iff
      lr < 2/(lambda_max + l2);
    * projected: its step never uses the fit gradient (the projection restores X a = y after
      each step), so lambda_max does not enter.  The step multiplies a by (1 - lr l2) before the
      projection, which is stable iff lr l2 < 2; the l1 term moves each coordinate by lr l1 at
      most and the projection is non-expansive, so with l2 = 0 no step size diverges (the bound
      is inf; a large lr only widens the O(lr l1) oscillation)."""
    if method == "projected":
        return 2.0 / l2 if l2 > 0 else math.inf
    return 2.0 / (data.lambda_max + l2)


def initial_point(cfg, data: SparseData) -> Tensor:
    n = cfg.dim
    if cfg.init == "constant":
        return torch.full((n,), float(cfg.init_scale), dtype=DTYPE)
    if cfg.init == "random":
        gen = torch.Generator().manual_seed(stream_seed(cfg.seed, INIT_SALT))
        return torch.randn(n, generator=gen, dtype=DTYPE) * (cfg.init_scale / math.sqrt(n))
    if cfg.init == "least-squares":
        return least_squares(data.X, data.y)
    raise ValueError(cfg.init)


def initial_factors(cfg, data: SparseData) -> Tensor:
    """Factors of the deep diagonal model (depth L >= 2), shape (L, n), or (2, n) = [u; v] for the
    signed parametrization a = u^L - v^L.

    * constant: every factor init_scale * 1.  Equal factors get equal gradients and *stay equal*
      (with per-factor penalties too), so a = a_1^L: an even depth can only produce a >= 0 and
      cannot recover a code with negative entries (the authors' notebook default).
    * random: independent factors init_scale * N(0, 1/n) (the paper, §3.5 / App. F.1), drawn from
      the stream of the depth-1 random init (seed, INIT_SALT), one factor after another.
    * signed: u = v = init_scale * 1, so a = 0 at step 0 and any sign can be represented.
    """
    n, L = cfg.dim, cfg.depth
    if cfg.init == "constant":
        return torch.full((L, n), float(cfg.init_scale), dtype=DTYPE)
    if cfg.init == "random":
        gen = torch.Generator().manual_seed(stream_seed(cfg.seed, INIT_SALT))
        return torch.stack([torch.randn(n, generator=gen, dtype=DTYPE) for _ in range(L)]) \
            * (cfg.init_scale / math.sqrt(n))
    if cfg.init == "signed":
        return torch.full((2, n), float(cfg.init_scale), dtype=DTYPE)
    raise ValueError(f"init {cfg.init!r} has no factors (depth {L})")


def product(cfg, factors: Tensor) -> Tensor:
    """The code a of a deep diagonal model from its factors (..., L or 2, n) -> (..., n)."""
    if cfg.init == "signed":
        return factors[..., 0, :].pow(cfg.depth) - factors[..., 1, :].pow(cfg.depth)
    return factors.prod(dim=-2)
