"""The sparse-recovery config: every option of ``groklab run sparse-recovery`` with its bounds.

The science behind each field (data, methods, theory): docs/families/sparse-recovery.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ... import estimates as est
from ...fields import ConfigBase, ConfigError, param
from . import userdata

#: a bound for counts that only memory limits
BIG = 10 ** 12
SEED_MAX = 2 ** 63 - 1


@dataclass(frozen=True)
class SparseRecoveryConfig(ConfigBase):
    """Sparse recovery / compressed sensing: y* = X a* + xi, X = M Phi."""

    problem: ClassVar[str] = "sparse-recovery"
    #: 2: a deep run's grad_fit_norm (so grad_ratio) is the fit gradient's norm over the factors,
    #: the space of its penalty gradient (version 1 took it on the code a); a projected run's
    #: lr_max is 2/l2 (inf without l2), the bound its step obeys, not 2/lambda_max.  Every other
    #: number of version 1 is unchanged; the run ids are new.
    engine_version: ClassVar[int] = 2

    dim: int = param(100, "dimension n of the code a*", data=True, low=1, high=100_000)
    sparsity: int = param(5, "number s of non-zeros of a*", data=True, low=1, high=100_000)
    measurements: int = param(30, "number N of measurements (rows of M)", data=True, low=1,
                              high=1_000_000)
    basis: str = param("identity", "sparsifying basis Phi (fourier: unitary DFT; the complex "
                       "measurements enter as 2N real rows [Re; Im])", data=True,
                       choices=("identity", "orthonormal", "gaussian", "fourier"))
    tau: float = param(0.0, "data selection: fraction of rows of M that are columns of Phi",
                       data=True, low=0.0, high=1.0)
    snr: float = param(math.inf, "signal-to-noise ratio E|a*|^2 / E|xi|^2 (inf = noiseless)",
                       data=True, low=0.0, low_open=True, allow_inf=True)
    measurement_variance: str = param(
        "1/N", "variance of the Gaussian entries of M: 1/N (authors' figures) or 1/n (paper text)",
        data=True, choices=("1/N", "1/n"))
    seed: int = param(1, "seed of the data (a*, M, Phi, noise) and of a random init", data=True,
                      low=0, high=SEED_MAX)
    method: str = param("subgradient", "optimizer; basis-pursuit = the convex baseline min |a|_1 "
                        "s.t. |Xa - y| <= eps via cvxpy (no steps: one logged point, step 0)",
                        choices=("subgradient", "projected", "ista", "basis-pursuit"))
    lr: float = param(0.1, "step size alpha; must be < 2/lambda_max(X^T X + l2) (projected: "
                      "lr * l2 < 2, the fit gradient is not used)", low=0.0, high=1e6,
                      low_open=True)
    l1: float = param(1e-5, "l1 penalty strength beta1 (on every factor when depth > 1)",
                      low=0.0, high=1e6)
    l2: float = param(0.0, "l2 penalty strength beta2 (on |a|^2 / 2; on every factor when "
                      "depth > 1)", low=0.0, high=1e6)
    init: str = param("constant", "initialization: init_scale * ones (every factor when depth > "
                      "1: equal factors stay equal, so an even depth can only give a >= 0), "
                      "init_scale * N(0, 1/n) (independent per factor), the least-squares fit "
                      "(depth 1 only), or signed: a = u^L - v^L with u = v = init_scale * ones "
                      "(depth >= 2)", choices=("constant", "random", "least-squares", "signed"))
    init_scale: float = param(1e-6, "initialization scale zeta (of each factor when depth > 1)",
                              low=0.0, high=1e12)
    steps: int = param(100_000, "number of (sub)gradient steps", low=1, high=BIG)
    log_every: int = param(1000, "log every this many steps after the dense phase", low=1,
                           high=BIG)
    log_dense_until: int = param(1000, "log every step below this step", low=0, high=BIG)
    log_spacing: str = param("linear", "spacing of logs after the dense phase: linear (every "
                             "log_every) or log (log_every points per decade)",
                             choices=("linear", "log"))
    depth: int = param(1, "number L of factors: a = a_1 * ... * a_L entrywise (deep diagonal "
                       "network), each factor trained by (sub)gradient descent", added=True,
                       low=1, high=64)
    data: str = param("", "your own data instead of the generator: an .npz file with X (N, n), "
                      "y (N,) and optionally a_star (n,); dim and measurements are read from it",
                      data=True, added=True, file=True)

    def validate(self):
        if self.data:
            self._take_shapes_from_data()
        if self.sparsity > self.dim and not self.data:
            raise ConfigError("sparsity", f"{self.sparsity} is larger than --dim {self.dim}")
        if self.depth > 1 and self.method == "projected":
            raise ConfigError("method", "projected needs --depth 1 (the data constraint is on the "
                              "product, not on the factors); use subgradient or ista")
        if self.depth > 1 and self.method == "basis-pursuit":
            raise ConfigError("method", "basis-pursuit is a convex program on a, not a deep model: "
                              "use --depth 1")
        if self.depth > 1 and self.init == "least-squares":
            raise ConfigError("init", "least-squares needs --depth 1; use constant, random or signed")
        if self.depth == 1 and self.init == "signed":
            raise ConfigError("init", "signed (a = u^L - v^L) needs --depth >= 2")

    #: generator options that have no meaning with --data (they must keep their defaults)
    GENERATOR_ONLY: ClassVar[tuple[str, ...]] = ("basis", "tau", "snr", "measurement_variance")

    def _take_shapes_from_data(self) -> None:
        """With --data, n and N are the file's and s is the support size of a_star: stored in the
        config (and so in the run id and the tables) so that everything downstream is true."""
        arrays = userdata.read(self.data, self.file_digest("data"))
        N, n = arrays.X.shape
        self.adopt_from_file("data", {"dim": n, "measurements": N}, self.GENERATOR_ONLY,
                             f"X is ({N}, {n})")
        if arrays.a_star is not None:
            object.__setattr__(self, "sparsity", int(np.count_nonzero(arrays.a_star)))

    def design_rows(self) -> int:
        """Rows of the real design X: 2N for the Fourier basis ([Re; Im]), N otherwise."""
        return 2 * self.measurements if self.basis == "fourier" else self.measurements

    def batch_key(self) -> tuple:
        # one tensor program: same shapes (n, rows of X), method, schedule and depth; lr, l1, l2,
        # init and the data set vary per run
        return (self.dim, self.design_rows(), self.method, self.steps, self.log_every,
                self.log_dense_until, self.log_spacing, self.depth,
                self.depth > 1 and self.init == "signed")

    def resources(self, runs: int, data_sets: int, log_points: int, save_iterates: bool) -> dict:
        """What a batch of these runs allocates (groklab.estimates): read from data.py, engine.py
        and deep.py.  Data: M (N, n), the basis Phi (n, n), X (rows, n), and while it is made
        X^T X, the eigen-solver's copy and the coherence's normalized copies (n, n) each;
        complex (16 bytes) for the Fourier basis."""
        n, N, rows, T, R, D = self.dim, self.measurements, self.design_rows(), log_points, runs, \
            data_sets
        w = 2 * est.F64 if self.basis == "fourier" else est.F64
        data = w * (2 * N * n + 4 * n * n) + est.F64 * (rows * n + 2 * n)
        thin = 2 * rows < n
        # the batch's copy of the data (stacked), and X^T X (or the projector) when not thin
        stacked = D * est.F64 * (rows * n + (0 if thin and self.method != "projected" else n * n)
                                 + (rows * n if self.method == "projected" else 0))
        K = max(1, min(2048 // R, 64))  # stacked logged iterates per record (engine.RECORD_ROWS)
        rec = min(K * R, max(R, 2048))  # rows measured at once
        factors = 2 * self.depth if self.depth > 1 else 2  # iterate(s) + their gradients/scratch
        state = est.F64 * (factors * R * n + R * max(rows, n) + (K * R * n if K > 1 else 0)
                           + 7 * rec * n + rec * rows)
        log = est.F64 * T * 9 * R + (est.F64 * T * R * n if save_iterates else 0)
        tables = est.tables(T, R, 10, final_values=n) + \
            (est.TABLE_COPIES * est.F64 * T * R * n if save_iterates else 0)
        flops = (4 * n * rows if thin else 2 * n * n) * (self.depth if self.depth > 1 else 1) \
            + 10 * n * self.depth
        # making a data set: eigvalsh of X^T X twice (data, reference), the pseudo-inverse's SVD
        setup = 20.0 * n ** 3 + 20.0 * rows * n * min(rows, n)
        return {"data": data, "batch": stacked + state + log + tables,
                "data_seconds": setup / est.GEMM_RATE,
                "disk": est.disk(T, 10, n, save_iterates, n),
                "step_seconds": flops / est.GEMM_RATE, "sizes": ("dim", "measurements")}
