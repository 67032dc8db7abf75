"""The matrix-completion and matrix-sensing configs, with their bounds.

The science behind each field: docs/families/matrix.md.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ... import estimates as est
from ...fields import ConfigBase, ConfigError, param
from . import userdata

BIG = 10 ** 12
SEED_MAX = 2 ** 63 - 1
#: picks the depth-1 CPU backend (groklab.families.matrix.kernel); its values -> the backend
#: ("c", the kernel's name when it was written in C, means numba)
KERNEL_ENV = "GROKLAB_MATRIX_KERNEL"
KERNEL_MODES = {"auto": "auto", "numba": "numba", "c": "numba", "torch": "torch"}


def kernel_mode() -> str:
    """The backend GROKLAB_MATRIX_KERNEL asks for (unset or empty: auto).  Torch-free, so that
    the registry checks it before a sweep creates or touches anything (a one-line ConfigError
    naming the variable), not when the first batch starts."""
    raw = os.environ.get(KERNEL_ENV, "").strip().lower() or "auto"
    if raw not in KERNEL_MODES:
        raise ConfigError.environment(KERNEL_ENV, "not a backend: use auto, numba or torch "
                                      "(c means numba)")
    return KERNEL_MODES[raw]


# The two configs share their fields through three mixins, assembled so that the CLI lists them in
# reading order: the matrix (shape, rank), then the observations (completion / sensing), then the
# optimizer (dataclass fields are collected base-first along the reversed MRO).
@dataclass(frozen=True)
class _MatrixShape:
    rows: int = param(10, "rows n1 of the ground truth A*", data=True, low=1, high=100_000)
    cols: int = param(10, "columns n2 of the ground truth A*", data=True, low=1, high=100_000)
    rank: int = param(2, "rank r of A* = U V^T (U, V Gaussian; rescaled to |A*|_F = sqrt(n1 n2))",
                      data=True, low=1, high=100_000)


@dataclass(frozen=True)
class _CompletionData:
    observed: int = param(80, "number N of observed entries Omega (drawn without replacement)",
                          data=True, low=1, high=BIG)
    tau: float = param(0.0, "data selection: the floor(tau N) entries with the largest leverage "
                       "mu_i + nu_j are observed first, the rest uniformly at random", data=True,
                       low=0.0, high=1.0)


@dataclass(frozen=True)
class _SensingData:
    measurements: int = param(70, "number N of linear measurements y_i = <X_i, A*>", data=True,
                              low=1, high=10 ** 9)
    measurement: str = param("gaussian", "measurement matrices X_i: i.i.d. N(0, 1/N) entries, or "
                             "rank-one u_i v_i^T / sqrt(N) with standard Gaussian u_i, v_i",
                             data=True, choices=("gaussian", "rank-one"))


@dataclass(frozen=True)
class _MatrixTraining(ConfigBase):
    #: 2: lr_max is the method's own step bound (projected: 2/l2, inf without l2), runs gain
    #: pred_t1_paper (issue 21); the dynamics are unchanged
    engine_version: ClassVar[int] = 2
    seed: int = param(0, "seed of the data (A*, Omega or X_i) and of a random init", data=True,
                      low=0, high=SEED_MAX)
    method: str = param("subgradient", "optimizer: subgradient (nuclear subgradient U V^T), "
                        "projected (subgradient step on the penalties, then back onto the data "
                        "constraint), svt (proximal gradient: singular value thresholding by "
                        "lr*nuclear)", choices=("subgradient", "projected", "svt"))
    lr: float = param(0.1, "step size alpha; must be < 2/(lambda_max(X^T X) + l2), i.e. "
                      "2/(1 + l2) for completion", low=0.0, high=1e6, low_open=True)
    nuclear: float = param(1e-4, "nuclear-norm penalty beta_* on |A|_* (per factor when depth > "
                           "1)", low=0.0, high=1e6)
    l2: float = param(0.0, "l2 penalty beta2 on |A|_F^2 / 2 (per factor when depth > 1)",
                      low=0.0, high=1e6)
    l1: float = param(0.0, "entrywise l1 penalty beta1 on |A|_1 (per factor when depth > 1)",
                      low=0.0, high=1e6)
    nuclear_rank_tol: float = param(
        0.0, "the nuclear subgradient U V^T keeps the singular vectors with sigma > this * "
        "sigma_max; 0 keeps every non-zero one, i.e. all min(n1, n2) as the authors' code does",
        low=0.0, high=1.0)
    init: str = param("identity", "initialization: init_scale * I (rectangular; every factor "
                      "when depth > 1), init_scale * N(0, 1)/sqrt(p q) for each p x q factor "
                      "(|A_k|_F ~ init_scale), or the least-squares fit (depth 1 only; init_scale "
                      "ignored)", choices=("identity", "random", "least-squares"))
    init_scale: float = param(1e-6, "initialization scale zeta", low=0.0, high=1e12)
    depth: int = param(1, "number L of factors: A = A_1 A_2 ... A_L (deep matrix factorization)",
                       low=1, high=64)
    width: int = param(0, "inner width d of the factors when depth > 1 (0 = max(rows, cols))",
                       low=0, high=100_000)
    steps: int = param(1_000_000, "number of (sub)gradient steps", low=1, high=BIG)
    log_every: int = param(10_000, "log every this many steps after the dense phase", low=1,
                           high=BIG)
    log_dense_until: int = param(1000, "log every step below this step", low=0, high=BIG)
    log_spacing: str = param("linear", "spacing of logs after the dense phase: linear (every "
                             "log_every) or log (log_every points per decade)",
                             choices=("linear", "log"))
    data: str = param("", "your own data instead of the generator: an .npz file (completion: "
                      "rows, cols, values, shape; sensing: X, y; optionally A_star); the shape and "
                      "N are read from it", data=True, added=True, file=True)

    #: what --data replaces: generator options that must keep their defaults, and the count of
    #: observations the file sets
    GENERATOR_ONLY: ClassVar[tuple[str, ...]] = ()
    COUNT: ClassVar[str] = ""

    def _take_shapes_from_data(self) -> None:
        """With --data, (n1, n2) and N are the file's and the rank is A*'s (when given): stored
        in the config (and so in the run id and the tables) so that everything downstream is
        true."""
        arrays = userdata.read(self.shape_key()[0], self.data, self.file_digest("data"))
        n1, n2 = arrays.shape
        self.adopt_from_file("data", {"rows": n1, "cols": n2, self.COUNT: arrays.n_obs},
                             self.GENERATOR_ONLY, f"{n1} x {n2}, {arrays.n_obs} observations")
        if arrays.A_star is not None:
            sv = np.linalg.svd(arrays.A_star, compute_uv=False)
            object.__setattr__(self, "rank", max(1, int((sv > 1e-10 * sv[0]).sum())))
        elif self.rank > min(n1, n2):
            object.__setattr__(self, "rank", min(n1, n2))

    def inner_width(self) -> int:
        return self.width or max(self.rows, self.cols)

    def validate(self):
        if self.data:
            self._take_shapes_from_data()
        if self.rank > min(self.rows, self.cols):
            raise ConfigError("rank", f"{self.rank} is larger than min(--rows, --cols) = "
                              f"{min(self.rows, self.cols)}")
        if self.depth > 1 and self.method == "projected":
            raise ConfigError("method", "projected needs --depth 1 (the data constraint is on the "
                              "product, not on the factors); use subgradient or svt")
        if self.depth > 1 and self.init == "least-squares":
            raise ConfigError("init", "least-squares needs --depth 1; use identity or random")

    def shape_key(self) -> tuple:
        raise NotImplementedError

    def data_resources(self) -> tuple[float, float]:
        """(bytes of one data set while it is made, bytes per data set a batch stacks)."""
        raise NotImplementedError

    def resources(self, runs: int, data_sets: int, log_points: int, save_iterates: bool) -> dict:
        """What a batch of these runs allocates (groklab.estimates), read from data.py and
        engine.py: the factors, the fit gradient, the penalty buffer and the SVD's factors per
        run, the (T, 12 + k, R) metrics, the batch's stacked data."""
        nn, k, L, d = self.rows * self.cols, min(self.rows, self.cols), self.depth, \
            self.inner_width()
        T, R = log_points, runs
        data, stacked = self.data_resources()
        if L > 1:
            factors = self.rows * d + (L - 2) * d * d + d * self.cols
            state = est.F64 * R * (3 * factors + 2 * L * nn + 6 * nn)
            chain = 2 * L * self.rows * d * self.cols
        else:
            state, chain = est.F64 * R * 8 * nn, 0
        cols = 15 + k
        log = est.F64 * T * (12 + k) * R + (est.F64 * T * R * nn if save_iterates else 0)
        tables = est.tables(T, R, cols, final_values=nn + k) + \
            (est.TABLE_COPIES * est.F64 * T * R * nn if save_iterates else 0)
        svd = 20.0 * self.rows * self.cols * k * L if self.nuclear > 0 or self.method == "svt" else 0
        seconds = (self.fit_flops() + chain) / est.GEMM_RATE + (svd + 20 * nn * L) / est.SMALL_RATE
        # depth 1 on the CPU: the numba kernel (numba itself and the compiled code) is loaded
        kernel = 128 * 2 ** 20 if L == 1 else 0
        return {"data": data, "batch": data_sets * stacked + state + log + tables + kernel,
                "data_seconds": self.data_flops() / est.GEMM_RATE,
                "disk": est.disk(T, cols, nn + k, save_iterates, nn), "step_seconds": seconds,
                "sizes": self.size_fields()}

    def batch_key(self) -> tuple:
        # nuclear > 0 needs an SVD per step: keep those runs apart from the cheap ones
        return (*self.shape_key(), self.method, self.depth, self.inner_width(), self.steps,
                self.log_every, self.log_dense_until, self.log_spacing, self.nuclear > 0)


@dataclass(frozen=True)
class MatrixCompletionConfig(_MatrixTraining, _CompletionData, _MatrixShape):
    """Matrix completion: observe N entries of a rank-r A*, nuclear-norm penalty."""

    problem: ClassVar[str] = "matrix-completion"
    GENERATOR_ONLY: ClassVar[tuple[str, ...]] = ("tau",)
    COUNT: ClassVar[str] = "observed"

    def validate(self):
        super().validate()
        if self.observed > self.rows * self.cols:
            raise ConfigError("observed", f"{self.observed} is larger than --rows * --cols = "
                              f"{self.rows * self.cols}")

    def shape_key(self) -> tuple:
        # Omega only changes a mask: runs with different N or tau share one tensor program
        return ("completion", self.rows, self.cols)

    def data_resources(self) -> tuple[float, float]:
        # A*, its SVD, the mask, the memorizing fit, the leverage scores (and their temporaries);
        # a batch stacks A*, the mask and P_Omega(A*)
        nn = self.rows * self.cols
        return est.F64 * 10 * nn, est.F64 * 3 * nn

    def fit_flops(self) -> float:
        return 4.0 * self.rows * self.cols

    def data_flops(self) -> float:
        return 20.0 * self.rows * self.cols * min(self.rows, self.cols)

    def size_fields(self) -> tuple:
        return ("rows", "cols")


@dataclass(frozen=True)
class MatrixSensingConfig(_MatrixTraining, _SensingData, _MatrixShape):
    """Matrix sensing: N Gaussian measurements <X_i, A*> of a rank-r A*."""

    problem: ClassVar[str] = "matrix-sensing"
    GENERATOR_ONLY: ClassVar[tuple[str, ...]] = ("measurement",)
    COUNT: ClassVar[str] = "measurements"

    def shape_key(self) -> tuple:
        return ("sensing", self.rows, self.cols, self.measurements)

    def data_resources(self) -> tuple[float, float]:
        # X (N, n1 n2), its singular values and pseudo-inverse (each an SVD of X: ~3 copies);
        # a batch stacks X, X^T X and the projector (n1 n2)^2 each, and X^+
        nn, N = self.rows * self.cols, self.measurements
        return est.F64 * (6 * N * nn + 10 * nn), est.F64 * (2 * N * nn + 2 * nn * nn)

    def fit_flops(self) -> float:
        return 2.0 * (self.rows * self.cols) ** 2

    def data_flops(self) -> float:
        # two SVDs of X (N, n1 n2): its singular values and its pseudo-inverse
        nn, N = self.rows * self.cols, self.measurements
        return 40.0 * N * nn * min(N, nn)

    def size_fields(self) -> tuple:
        return ("rows", "cols", "measurements")
