"""Matrix completion and matrix sensing data (docs/families/matrix.md#data).

Ground truth: A* = U V^T with U (n1 x r), V (n2 x r) i.i.d. N(0, 1), rescaled so that
|A*|_F = sqrt(n1 n2) (entries of RMS 1), as in the authors' code -- but drawn from a
``torch.Generator`` seeded by ``seed`` (the authors' notebook ignores its seed 0).

Completion: N entries Omega, drawn without replacement.  Data selection tau:
with the compact SVD A* = U_r S_r V_r^T, the local coherences are mu_i = (n1/r)|U_r^T e_i|^2 and
nu_j = (n2/r)|V_r^T e_j|^2; the floor(tau N) entries with the largest mu_i + nu_j are observed
first (ties broken by row-major index), the remaining N - floor(tau N) are the first unselected
entries of one uniform random permutation of all n1 n2 entries.  The same seed therefore gives the
same A* for every N and tau, and nested Omega for growing N at tau = 0.

Sensing: y_i = <X_i, A*>, X_i with i.i.d. N(0, 1/N) entries ("gaussian"), or rank-one
X_i = u_i v_i^T / sqrt(N) with standard Gaussian u_i, v_i ("rank-one"; the authors' face-splitting
design); both have E|X_i|_F^2 = n1 n2 / N.  Vectorization is row-major: vec(A) = A.reshape(-1).

Draw order (fixed): U, V, then the permutation of entries (completion) or the X_i (sensing).
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
class MatrixData:
    kind: str  # "completion" | "sensing"
    A_star: Tensor  # (n1, n2) ground truth
    U_star: Tensor  # (n1, k) left singular vectors of A* (k = min(n1, n2))
    S_star: Tensor  # (k,) singular values of A*, descending
    V_star: Tensor  # (n2, k) right singular vectors of A*
    y: Tensor  # (N,) observations
    A_ls: Tensor  # (n1, n2) minimum-norm least-squares fit: what memorization converges to
    lambda_max: float  # largest eigenvalue of X^T X (1 for completion)
    lambda_min_nonzero: float  # smallest non-zero eigenvalue of X^T X (1 for completion)
    leverage: Tensor  # (n1, n2) local coherence mu_i + nu_j of A*
    mask: Tensor | None = None  # (n1, n2) 1.0 on Omega (completion)
    omega: Tensor | None = None  # (N,) long, row-major indices of Omega in selection order
    n_selected: int = 0  # floor(tau N) entries chosen by leverage
    X: Tensor | None = None  # (N, n1 n2) sensing design, rows vec(X_i)
    has_truth: bool = True  # False for a user's data without A_star: no test metrics

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.A_star.shape)

    @property
    def rank(self) -> int:
        return int((self.S_star > 1e-10 * self.S_star[0]).sum())


def ground_truth(n1: int, n2: int, r: int, gen: torch.Generator) -> Tensor:
    U = torch.randn(n1, r, generator=gen, dtype=DTYPE)
    V = torch.randn(n2, r, generator=gen, dtype=DTYPE)
    W = U @ V.T
    return W * (math.sqrt(n1 * n2) / W.norm())


def leverage_scores(A_star: Tensor, r: int) -> Tensor:
    """P_ij = mu_i + nu_j, mu_i = (n1/r)|U_r^T e_i|^2, nu_j = (n2/r)|V_r^T e_j|^2."""
    n1, n2 = A_star.shape
    U, _, Vh = torch.linalg.svd(A_star, full_matrices=False)
    mu = (n1 / r) * (U[:, :r] ** 2).sum(1)
    nu = (n2 / r) * (Vh[:r, :] ** 2).sum(0)
    return mu[:, None] + nu[None, :]


def select_entries(leverage: Tensor, n_obs: int, tau: float,
                   gen: torch.Generator) -> tuple[Tensor, int]:
    """Omega as row-major indices: the floor(tau N) largest-leverage entries, then random ones."""
    n = leverage.numel()
    perm = torch.randperm(n, generator=gen)  # drawn whatever tau is: same stream for every tau
    k = min(int(math.floor(tau * n_obs + 1e-9)), n_obs)
    flat = leverage.reshape(-1)
    # descending leverage, ties by index: sort on (-P, index) with a stable sort
    top = torch.sort(-flat, stable=True).indices[:k]
    taken = torch.zeros(n, dtype=torch.bool)
    taken[top] = True
    rest = perm[~taken[perm]][: n_obs - k]
    return torch.cat([top, rest]), k


def _svd_star(A_star):
    U, S, Vh = torch.linalg.svd(A_star, full_matrices=False)
    return U, S, Vh.T


def make_completion_data(cfg) -> MatrixData:
    if cfg.data:
        return user_data(cfg, "completion")
    n1, n2, r = cfg.rows, cfg.cols, cfg.rank
    gen = torch.Generator().manual_seed(int(cfg.seed))
    A_star = ground_truth(n1, n2, r, gen)
    lev = leverage_scores(A_star, r)
    omega, k = select_entries(lev, cfg.observed, cfg.tau, gen)
    mask = torch.zeros(n1 * n2, dtype=DTYPE)
    mask[omega] = 1.0
    mask = mask.reshape(n1, n2)
    U, S, V = _svd_star(A_star)
    return MatrixData(kind="completion", A_star=A_star, U_star=U, S_star=S, V_star=V,
                      y=A_star.reshape(-1)[omega], A_ls=mask * A_star, lambda_max=1.0,
                      lambda_min_nonzero=1.0, leverage=lev, mask=mask, omega=omega, n_selected=k)


def make_sensing_data(cfg) -> MatrixData:
    if cfg.data:
        return user_data(cfg, "sensing")
    n1, n2, r, N = cfg.rows, cfg.cols, cfg.rank, cfg.measurements
    gen = torch.Generator().manual_seed(int(cfg.seed))
    A_star = ground_truth(n1, n2, r, gen)
    if cfg.measurement == "gaussian":
        X = torch.randn(N, n1 * n2, generator=gen, dtype=DTYPE) / math.sqrt(N)
    else:
        u = torch.randn(N, n1, generator=gen, dtype=DTYPE)
        v = torch.randn(N, n2, generator=gen, dtype=DTYPE)
        X = (u[:, :, None] * v[:, None, :]).reshape(N, n1 * n2) / math.sqrt(N)
    y = X @ A_star.reshape(-1)
    sv = torch.linalg.svdvals(X)
    nz = sv[sv > sv[0] * 1e-10]
    A_ls = (torch.linalg.pinv(X) @ y).reshape(n1, n2)
    U, S, V = _svd_star(A_star)
    return MatrixData(kind="sensing", A_star=A_star, U_star=U, S_star=S, V_star=V, y=y, A_ls=A_ls,
                      lambda_max=float(sv[0] ** 2), lambda_min_nonzero=float(nz[-1] ** 2),
                      leverage=leverage_scores(A_star, r), X=X)


def user_data(cfg, kind: str) -> MatrixData:
    """A user's observations from ``--data`` (see :mod:`.userdata`).  Without A* the truth is the
    zero matrix and ``has_truth`` is False (the engine then reports no test metrics)."""
    arrays = userdata.read(kind, cfg.data, cfg.file_digest("data"))
    n1, n2 = arrays.shape
    truth = arrays.A_star is not None
    A_star = torch.from_numpy(arrays.A_star) if truth else torch.zeros(n1, n2, dtype=DTYPE)
    U, S, V = _svd_star(A_star)
    lev = leverage_scores(A_star, cfg.rank) if truth else torch.zeros(n1, n2, dtype=DTYPE)
    if kind == "completion":
        omega = torch.from_numpy(arrays.rows * n2 + arrays.cols)
        y = torch.from_numpy(arrays.values)
        mask = torch.zeros(n1 * n2, dtype=DTYPE)
        mask[omega] = 1.0
        observed = torch.zeros(n1 * n2, dtype=DTYPE)
        observed[omega] = y  # the least-squares fit: the observations, 0 elsewhere
        return MatrixData(kind=kind, A_star=A_star, U_star=U, S_star=S, V_star=V, y=y,
                          A_ls=observed.reshape(n1, n2), lambda_max=1.0, lambda_min_nonzero=1.0,
                          leverage=lev, mask=mask.reshape(n1, n2), omega=omega, has_truth=truth)
    X = torch.from_numpy(arrays.X)
    y = torch.from_numpy(arrays.y)
    sv = torch.linalg.svdvals(X)
    nz = sv[sv > sv[0] * 1e-10]
    A_ls = (torch.linalg.pinv(X) @ y).reshape(n1, n2)
    return MatrixData(kind=kind, A_star=A_star, U_star=U, S_star=S, V_star=V, y=y, A_ls=A_ls,
                      lambda_max=float(sv[0] ** 2), lambda_min_nonzero=float(nz[-1] ** 2),
                      leverage=lev, X=X, has_truth=truth)


def factor_shapes(cfg) -> list[tuple[int, int]]:
    """(p, q) of each factor: n1 x d, d x d, ..., d x n2 (or n1 x n2 when depth = 1)."""
    L, d = cfg.depth, cfg.inner_width()
    if L == 1:
        return [(cfg.rows, cfg.cols)]
    return [(cfg.rows, d)] + [(d, d)] * (L - 2) + [(d, cfg.cols)]


def initial_factors(cfg, data: MatrixData) -> list[Tensor]:
    shapes = factor_shapes(cfg)
    z = float(cfg.init_scale)
    if cfg.init == "identity":
        return [z * torch.eye(p, q, dtype=DTYPE) for p, q in shapes]
    if cfg.init == "random":
        gen = torch.Generator().manual_seed(stream_seed(cfg.seed, INIT_SALT))  # one draw per factor
        return [torch.randn(p, q, generator=gen, dtype=DTYPE) * (z / math.sqrt(p * q))
                for p, q in shapes]
    if cfg.init == "least-squares":
        return [data.A_ls.clone()]
    raise ValueError(cfg.init)


def lr_bound(data: MatrixData, l2: float, method: str = "subgradient") -> float:
    """The step-size bound of a method: lr must stay below it (inf: no bound).

    Gradient descent on |X vec A - y|^2/2 + l2 |A|_F^2/2 (subgradient, svt) is stable iff
    lr < 2/(lambda_max + l2); for depth > 1 this is necessary, not sufficient (the factors' scale
    enters the curvature).  The projected method never takes a fit-gradient step (the projection
    onto {X vec A = y} does the fitting): its only linear term is the l2 shrink A <- (1 - lr l2) A
    (then projected, a contraction), stable iff lr l2 < 2; the nuclear and l1 subgradients are
    bounded, so without l2 any lr > 0 is stable."""
    if method == "projected":
        return 2.0 / l2 if l2 > 0 else math.inf
    return 2.0 / (data.lambda_max + l2)
