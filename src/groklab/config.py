"""Experiment configurations: one frozen dataclass per experiment family.

Every field carries its help text in ``metadata["help"]``; the CLI turns fields into kebab-case
flags (``init_scale`` -> ``--init-scale``).  A config validates itself on creation and raises
:class:`ConfigError` naming the offending option, the value and what is allowed, so the CLI can
print one line and exit with status 2.  Fields marked ``data=True`` define the data set: runs that
agree on all of them share X, y and a* and are advanced with one GEMM per step.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar


class ConfigError(ValueError):
    """Bad user input. ``str(err)`` is a one-line message naming the option."""

    def __init__(self, option: str, message: str):
        self.option = option
        super().__init__(f"--{option.replace('_', '-')}: {message}")


def _f(default, help: str, *, data: bool = False, choices: tuple | None = None, run_id: bool = True,
       added: bool = False):
    """A config field.  ``added=True`` marks an option introduced after results may already be
    stored: it enters the run id only when set to a non-default value, so adding it keeps every
    earlier run id (and so every stored result) valid."""
    meta = {"help": help, "data": data, "choices": choices, "run_id": run_id, "added": added}
    return field(default=default, metadata=meta)


def _check_choice(name: str, value, choices):
    if value not in choices:
        raise ConfigError(name, f"{value!r} is not one of {', '.join(map(str, choices))}")


def _check_int(name: str, value, lo: int, hi: float = math.inf):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"{value!r} is not an integer")
    if not (lo <= value <= hi):
        rng = f">= {lo}" if hi == math.inf else f"in [{lo}, {int(hi)}]"
        raise ConfigError(name, f"{value} is out of range: must be an integer {rng}")


def _check_float(name: str, value, lo: float = 0.0, hi: float = math.inf, *, lo_open=False,
                 allow_inf=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(name, f"{value!r} is not a number")
    if math.isinf(value) and not allow_inf:
        raise ConfigError(name, f"{value} is not finite")
    ok_lo = value > lo if lo_open else value >= lo
    if not ok_lo or value > hi:
        left = "(" if lo_open else "["
        right = "inf)" if hi == math.inf else f"{hi}]"
        raise ConfigError(name, f"{value} is out of range: must be in {left}{lo}, {right}")


@dataclass(frozen=True)
class Detection:
    """How t1 (memorization) and t2 (generalization) are read off the logged curves.

    Not part of the run id: changing these re-reads stored curves, it never re-simulates.
    """

    train_threshold: float = _f(1e-3, "t1 = first logged step with train error <= this")
    test_threshold: float = _f(1e-3, "t2 = first logged step with test error <= this")
    plateau_mode: str = _f(
        "first", "plateau rule (used when a threshold is never reached): 'first' = first step from "
        "which the error stays within --plateau-factor of its value until twice that step; "
        "'final' = authors' rule, first step with --plateau-window consecutive logs within "
        "--plateau-tol of the final plateau", choices=("first", "final"))
    plateau_factor: float = _f(2.0, "'first' plateau rule: allowed max/min ratio over [t, 2t]")
    plateau_tol: float = _f(0.05, "'final' plateau rule: relative band around the final plateau")
    plateau_window: int = _f(2, "'final' plateau rule: consecutive logs inside the band")
    plateau_tail: int = _f(3, "'final' plateau rule: the plateau is the mean of this many last logs")
    plateau_max: float = _f(
        0.05, "plateau rule fires only if the plateau error is <= this (a high plateau is no "
        "memorization/generalization)")

    def __post_init__(self):
        for name in ("train_threshold", "test_threshold", "plateau_max"):
            _check_float(name, getattr(self, name), 0.0, 1e9, lo_open=True)
        _check_float("plateau_tol", self.plateau_tol, 0.0, 1.0, lo_open=True)
        _check_float("plateau_factor", self.plateau_factor, 1.0, 1e6, lo_open=True)
        _check_choice("plateau_mode", self.plateau_mode, ("first", "final"))
        _check_int("plateau_window", self.plateau_window, 1, 10_000)
        _check_int("plateau_tail", self.plateau_tail, 1, 10_000)


class ConfigBase:
    """What every experiment config has besides its fields: the keys sweeps batch and store by."""

    def data_key(self) -> tuple:
        """Runs with equal data keys share their data (X, y, a*; A*, Omega; the pairs split)."""
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata["data"])

    def run_id(self) -> str:
        return run_id(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SparseRecoveryConfig(ConfigBase):
    """Sparse recovery / compressed sensing (SPEC §1): y* = X a* + xi, X = M Phi."""

    problem: ClassVar[str] = "sparse-recovery"

    dim: int = _f(100, "dimension n of the code a*", data=True)
    sparsity: int = _f(5, "number s of non-zeros of a*", data=True)
    measurements: int = _f(30, "number N of measurements (rows of M)", data=True)
    basis: str = _f("identity", "sparsifying basis Phi (fourier: unitary DFT; the complex "
                    "measurements enter as 2N real rows [Re; Im])", data=True,
                    choices=("identity", "orthonormal", "gaussian", "fourier"))
    tau: float = _f(0.0, "data selection: fraction of rows of M that are columns of Phi", data=True)
    snr: float = _f(math.inf, "signal-to-noise ratio E|a*|^2 / E|xi|^2 (inf = noiseless)", data=True)
    measurement_variance: str = _f(
        "1/N", "variance of the Gaussian entries of M: 1/N (authors' figures) or 1/n (paper text)",
        data=True, choices=("1/N", "1/n"))
    seed: int = _f(1, "seed of the data (a*, M, Phi, noise) and of a random init", data=True)
    method: str = _f("subgradient", "optimizer; basis-pursuit = the convex baseline min |a|_1 s.t. "
                     "|Xa - y| <= eps via cvxpy (no steps: one logged point, step 0)",
                     choices=("subgradient", "projected", "ista", "basis-pursuit"))
    lr: float = _f(0.1, "step size alpha; must be < 2/lambda_max(X^T X + l2)")
    l1: float = _f(1e-5, "l1 penalty strength beta1 (on every factor when depth > 1)")
    l2: float = _f(0.0, "l2 penalty strength beta2 (on |a|^2 / 2; on every factor when depth > 1)")
    init: str = _f("constant", "initialization: init_scale * ones (every factor when depth > 1: "
                   "equal factors stay equal, so an even depth can only give a >= 0), "
                   "init_scale * N(0, 1/n) (independent per factor), the least-squares fit (depth "
                   "1 only), or signed: a = u^L - v^L with u = v = init_scale * ones (depth >= 2)",
                   choices=("constant", "random", "least-squares", "signed"))
    init_scale: float = _f(1e-6, "initialization scale zeta (of each factor when depth > 1)")
    steps: int = _f(100_000, "number of (sub)gradient steps")
    log_every: int = _f(1000, "log every this many steps after the dense phase")
    log_dense_until: int = _f(1000, "log every step below this step")
    log_spacing: str = _f("linear", "spacing of logs after the dense phase: linear (every "
                          "log_every) or log (log_every points per decade)", choices=("linear", "log"))
    depth: int = _f(1, "number L of factors: a = a_1 * ... * a_L entrywise (deep diagonal "
                    "network), each factor trained by (sub)gradient descent", added=True)

    def __post_init__(self):
        _check_int("dim", self.dim, 1, 100_000)
        _check_int("sparsity", self.sparsity, 1, 100_000)
        if self.sparsity > self.dim:
            raise ConfigError("sparsity", f"{self.sparsity} is larger than --dim {self.dim}")
        _check_int("measurements", self.measurements, 1, 1_000_000)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_int("steps", self.steps, 1, 10**12)
        _check_int("log_every", self.log_every, 1, 10**12)
        _check_int("log_dense_until", self.log_dense_until, 0, 10**12)
        for name in ("basis", "measurement_variance", "method", "init", "log_spacing"):
            _check_choice(name, getattr(self, name), fields_dict(type(self))[name].metadata["choices"])
        _check_float("tau", self.tau, 0.0, 1.0)
        _check_float("snr", self.snr, 0.0, math.inf, lo_open=True, allow_inf=True)
        _check_float("lr", self.lr, 0.0, 1e6, lo_open=True)
        _check_float("l1", self.l1, 0.0, 1e6)
        _check_float("l2", self.l2, 0.0, 1e6)
        _check_float("init_scale", self.init_scale, 0.0, 1e12)
        _check_int("depth", self.depth, 1, 64)
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



def fields_dict(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def config_dict(cfg) -> dict[str, Any]:
    """The config's fields, with numbers cast to each field's declared type, so that l1=0 and
    l1=0.0 are the same run (same id, same column dtype)."""
    out = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if f.type in ("float", float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        out[f.name] = v
    return out


def run_id(cfg) -> str:
    """Stable hash of the problem and every config field that changes the numbers (cached on the
    frozen config: sweeps ask for it several times per run)."""
    cached = cfg.__dict__.get("_run_id")
    if cached is not None:
        return cached
    payload = {"problem": cfg.problem}
    values = config_dict(cfg)
    for f in dataclasses.fields(cfg):
        if f.metadata.get("run_id", True):
            v = values[f.name]
            if f.metadata.get("added") and v == f.default:
                continue  # a later option at its default: the id of the run it always was
            payload[f.name] = repr(v) if isinstance(v, float) else v
    blob = json.dumps(payload, sort_keys=True, default=str)
    rid = hashlib.sha1(blob.encode()).hexdigest()[:16]
    cfg.__dict__["_run_id"] = rid  # not a field: equality, asdict and the hash ignore it
    return rid


PROBLEMS: dict[str, type] = {SparseRecoveryConfig.problem: SparseRecoveryConfig}


def make_config(problem: str, **values) -> Any:
    """Build and validate a config; unknown fields raise ConfigError."""
    if problem not in PROBLEMS:
        raise ConfigError("problem", f"{problem!r} is not one of {', '.join(PROBLEMS)}")
    cls = PROBLEMS[problem]
    names = fields_dict(cls)
    for k in values:
        if k not in names:
            raise ConfigError(k, f"unknown option for {problem}")
    return cls(**values)


# ---- matrix completion / sensing (SPEC §2, PAPER-NOTES §2.2, §2.4, §2.5, §9) ----------------------
# The two configs share their fields through three mixins, assembled so that the CLI lists them in
# reading order: the matrix (shape, rank), then the observations (completion / sensing), then the
# optimizer (dataclass fields are collected base-first along the reversed MRO).
@dataclass(frozen=True)
class _MatrixShape:
    rows: int = _f(10, "rows n1 of the ground truth A*", data=True)
    cols: int = _f(10, "columns n2 of the ground truth A*", data=True)
    rank: int = _f(2, "rank r of A* = U V^T (U, V Gaussian; rescaled to |A*|_F = sqrt(n1 n2))",
                   data=True)


@dataclass(frozen=True)
class _CompletionData:
    observed: int = _f(80, "number N of observed entries Omega (drawn without replacement)",
                       data=True)
    tau: float = _f(0.0, "data selection: the floor(tau N) entries with the largest leverage "
                    "mu_i + nu_j are observed first, the rest uniformly at random", data=True)


@dataclass(frozen=True)
class _SensingData:
    measurements: int = _f(70, "number N of linear measurements y_i = <X_i, A*>", data=True)
    measurement: str = _f("gaussian", "measurement matrices X_i: i.i.d. N(0, 1/N) entries, or "
                          "rank-one u_i v_i^T / sqrt(N) with standard Gaussian u_i, v_i", data=True,
                          choices=("gaussian", "rank-one"))


@dataclass(frozen=True)
class _MatrixTraining(ConfigBase):
    seed: int = _f(0, "seed of the data (A*, Omega or X_i) and of a random init", data=True)
    method: str = _f("subgradient", "optimizer: subgradient (nuclear subgradient U V^T), projected "
                     "(subgradient step on the penalties, then back onto the data constraint), svt "
                     "(proximal gradient: singular value thresholding by lr*nuclear)",
                     choices=("subgradient", "projected", "svt"))
    lr: float = _f(0.1, "step size alpha; must be < 2/(lambda_max(X^T X) + l2), i.e. "
                   "2/(1 + l2) for completion")
    nuclear: float = _f(1e-4, "nuclear-norm penalty beta_* on |A|_* (per factor when depth > 1)")
    l2: float = _f(0.0, "l2 penalty beta2 on |A|_F^2 / 2 (per factor when depth > 1)")
    l1: float = _f(0.0, "entrywise l1 penalty beta1 on |A|_1 (per factor when depth > 1)")
    nuclear_rank_tol: float = _f(
        0.0, "the nuclear subgradient U V^T keeps the singular vectors with sigma > this * "
        "sigma_max; 0 keeps every non-zero one, i.e. all min(n1, n2) as the authors' code does")
    init: str = _f("identity", "initialization: init_scale * I (rectangular; every factor when "
                   "depth > 1), init_scale * N(0, 1)/sqrt(p q) for each p x q factor (|A_k|_F ~ "
                   "init_scale), or the least-squares fit (depth 1 only; init_scale ignored)",
                   choices=("identity", "random", "least-squares"))
    init_scale: float = _f(1e-6, "initialization scale zeta")
    depth: int = _f(1, "number L of factors: A = A_1 A_2 ... A_L (deep matrix factorization)")
    width: int = _f(0, "inner width d of the factors when depth > 1 (0 = max(rows, cols))")
    steps: int = _f(1_000_000, "number of (sub)gradient steps")
    log_every: int = _f(10_000, "log every this many steps after the dense phase")
    log_dense_until: int = _f(1000, "log every step below this step")
    log_spacing: str = _f("linear", "spacing of logs after the dense phase: linear (every "
                          "log_every) or log (log_every points per decade)", choices=("linear", "log"))


    def inner_width(self) -> int:
        return self.width or max(self.rows, self.cols)

    def _check_matrix(self):
        _check_int("rows", self.rows, 1, 100_000)
        _check_int("cols", self.cols, 1, 100_000)
        _check_int("rank", self.rank, 1, 100_000)
        if self.rank > min(self.rows, self.cols):
            raise ConfigError("rank", f"{self.rank} is larger than min(--rows, --cols) = "
                              f"{min(self.rows, self.cols)}")
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_int("steps", self.steps, 1, 10**12)
        _check_int("log_every", self.log_every, 1, 10**12)
        _check_int("log_dense_until", self.log_dense_until, 0, 10**12)
        _check_int("depth", self.depth, 1, 64)
        _check_int("width", self.width, 0, 100_000)
        names = fields_dict(type(self))
        for name in ("method", "init", "log_spacing") + (("measurement",) if "measurement" in names else ()):
            _check_choice(name, getattr(self, name), names[name].metadata["choices"])
        _check_float("lr", self.lr, 0.0, 1e6, lo_open=True)
        for name in ("nuclear", "l2", "l1"):
            _check_float(name, getattr(self, name), 0.0, 1e6)
        _check_float("nuclear_rank_tol", self.nuclear_rank_tol, 0.0, 1.0)
        _check_float("init_scale", self.init_scale, 0.0, 1e12)
        if self.depth > 1 and self.method == "projected":
            raise ConfigError("method", "projected needs --depth 1 (the data constraint is on the "
                              "product, not on the factors); use subgradient or svt")
        if self.depth > 1 and self.init == "least-squares":
            raise ConfigError("init", "least-squares needs --depth 1; use identity or random")


@dataclass(frozen=True)
class MatrixCompletionConfig(_MatrixTraining, _CompletionData, _MatrixShape):
    """Matrix completion (SPEC §2): observe N entries of a rank-r A*, nuclear-norm penalty."""

    problem: ClassVar[str] = "matrix-completion"

    def __post_init__(self):
        self._check_matrix()
        _check_int("observed", self.observed, 1, 10**12)
        if self.observed > self.rows * self.cols:
            raise ConfigError("observed", f"{self.observed} is larger than --rows * --cols = "
                              f"{self.rows * self.cols}")
        _check_float("tau", self.tau, 0.0, 1.0)


@dataclass(frozen=True)
class MatrixSensingConfig(_MatrixTraining, _SensingData, _MatrixShape):
    """Matrix sensing (SPEC §2): N Gaussian measurements <X_i, A*> of a rank-r A*."""

    problem: ClassVar[str] = "matrix-sensing"

    def __post_init__(self):
        self._check_matrix()
        _check_int("measurements", self.measurements, 1, 10**9)


PROBLEMS[MatrixCompletionConfig.problem] = MatrixCompletionConfig
PROBLEMS[MatrixSensingConfig.problem] = MatrixSensingConfig


# ---- modular arithmetic MLP (SPEC §3, PAPER-NOTES §2.6, §10(a)) ------------------------------------
def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % k for k in range(2, int(math.isqrt(n)) + 1))


@dataclass(frozen=True)
class ModularConfig(ConfigBase):
    """Modular arithmetic (SPEC §3): an MLP on (x1 o x2) mod p with l1 / l2 / nuclear penalties."""

    problem: ClassVar[str] = "modular"

    modulus: int = _f(97, "modulus p: inputs are all pairs (x1, x2) in Z_p^2", data=True)
    operation: str = _f("add", "label (x1 o x2) mod p; div = x1 * x2^-1 (needs a prime p; pairs "
                        "with x2 = 0 are left out)", data=True, choices=("add", "sub", "mul", "div"))
    train_fraction: float = _f(0.4, "fraction of the pairs in the train set (floor, as sklearn's "
                               "train_test_split)", data=True)
    data_seed: int = _f(0, "seed of the train/test split (a seeded permutation of the pairs)",
                        data=True)
    architecture: str = _f(
        "matrix-product", "matrix-product: two bias-free p->width embeddings, each reshaped to a "
        "square and multiplied as matrices (the authors' notebook); hadamard: one shared embedding, "
        "Hadamard product, biases in the MLP (the paper's text)",
        choices=("matrix-product", "hadamard"))
    width: int = _f(64, "embedding and hidden width d (a perfect square for matrix-product)")
    optimizer: str = _f("adam", "optimizer (PyTorch's update rules, betas 0.9/0.999, eps 1e-8)",
                        choices=("adam", "adamw", "sgd"))
    lr: float = _f(1e-2, "learning rate alpha")
    weight_decay: float = _f(0.0, "weight decay (adam: added to the gradient; adamw: decoupled; "
                             "sgd: added to the gradient)")
    l1: float = _f(0.0, "l1 penalty beta on sum_W |W|_1 (entrywise, every weight matrix)")
    l2: float = _f(0.0, "l2 penalty beta on sum_W |W|_F (unsquared, as the authors' code; "
                   "--penalty-form squared for |W|_F^2)")
    nuclear: float = _f(0.0, "nuclear-norm penalty beta on sum_W |W|_* (every weight matrix)")
    penalty_form: str = _f("norm", "l2 penalty as the Frobenius norm |W|_F (norm) or its square",
                           choices=("norm", "squared"))
    batch_size: int = _f(2048, "train mini-batch size (0 = full batch); each run reshuffles its "
                        "train set every epoch with its own seed, last batch of an epoch smaller")
    seed: int = _f(0, "seed of the initialization and of the mini-batch order")
    steps: int = _f(20_002, "number of optimizer steps")
    log_every: int = _f(10, "log every this many steps after the dense phase")
    log_dense_until: int = _f(100, "log every step below this step")
    log_spacing: str = _f("linear", "spacing of logs after the dense phase: linear (every "
                          "log_every) or log (log_every points per decade)", choices=("linear", "log"))

    def __post_init__(self):
        names = fields_dict(type(self))
        for name in ("operation", "architecture", "optimizer", "penalty_form", "log_spacing"):
            _check_choice(name, getattr(self, name), names[name].metadata["choices"])
        _check_int("modulus", self.modulus, 2, 100_000)
        if self.operation == "div" and not _is_prime(self.modulus):
            raise ConfigError("modulus", f"{self.modulus} is not prime: div needs a prime modulus")
        _check_float("train_fraction", self.train_fraction, 0.0, 1.0, lo_open=True)
        if self.train_fraction >= 1.0:
            raise ConfigError("train_fraction", f"{self.train_fraction} is out of range: must be "
                              "in (0, 1)")
        n = self.n_pairs()
        n_train = int(math.floor(self.train_fraction * n))
        if n_train < 1 or n_train >= n:
            raise ConfigError("train_fraction", f"{self.train_fraction} leaves {n_train} of {n} "
                              "pairs for training: both splits must be non-empty")
        _check_int("data_seed", self.data_seed, 0, 2**63 - 1)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_int("width", self.width, 1, 100_000)
        if self.architecture == "matrix-product" and math.isqrt(self.width) ** 2 != self.width:
            raise ConfigError("width", f"{self.width} is not a perfect square (matrix-product "
                              "reshapes each embedding to a square matrix)")
        _check_float("lr", self.lr, 0.0, 1e6, lo_open=True)
        for name in ("weight_decay", "l1", "l2", "nuclear"):
            _check_float(name, getattr(self, name), 0.0, 1e6)
        _check_int("batch_size", self.batch_size, 0, 10**9)
        _check_int("steps", self.steps, 1, 10**12)
        _check_int("log_every", self.log_every, 1, 10**12)
        _check_int("log_dense_until", self.log_dense_until, 0, 10**12)

    def n_pairs(self) -> int:
        return self.modulus * (self.modulus - 1) if self.operation == "div" else self.modulus ** 2

    def n_train(self) -> int:
        return int(math.floor(self.train_fraction * self.n_pairs()))



PROBLEMS[ModularConfig.problem] = ModularConfig


# ---- nonlinear teacher-student and Sobolev training (SPEC §3, PAPER-NOTES §2.7, §2.8, §10(b-c)) ---
@dataclass(frozen=True)
class TeacherStudentConfig(ConfigBase):
    """Two-layer ReLU student y = V relu(W x) learning a two-layer ReLU teacher (SPEC §3)."""

    problem: ClassVar[str] = "teacher-student"

    input_dim: int = _f(100, "input dimension d (x ~ N(0, I_d))", data=True)
    hidden: int = _f(500, "hidden width h of the teacher and of the student (no biases)",
                     data=True)
    outputs: int = _f(2, "number c of outputs", data=True)
    train_size: int = _f(100, "number N of training inputs (full batch)", data=True)
    test_size: int = _f(1000, "number of test inputs", data=True)
    teacher_sparsity: float = _f(
        0.0, "fraction of zero entries in each row of the teacher's first layer W* (0 = dense, "
        "the authors' teacher); kept entries are rescaled by sqrt(d / kept) so w*.x keeps its "
        "variance", data=True)
    teacher_rank: int = _f(0, "rank of the teacher's first layer W* = A B (A, B Gaussian, entries "
                           "of W* of variance 1); 0 = full rank (the authors' dense teacher)",
                           data=True)
    data_seed: int = _f(0, "seed of the teacher and of the inputs", data=True)
    optimizer: str = _f("adam", "optimizer (PyTorch's update rules, betas 0.9/0.999, eps 1e-8)",
                        choices=("adam", "adamw", "sgd"))
    lr: float = _f(5.5e-3, "learning rate alpha")
    weight_decay: float = _f(0.0, "weight decay (adam: added to the gradient; adamw: decoupled; "
                             "sgd: added to the gradient)")
    l1: float = _f(0.0, "l1 penalty beta on |W|_1 + |V|_1 (entrywise, both layers)")
    l2: float = _f(0.0, "l2 penalty beta on |W|_F + |V|_F (unsquared, as the authors' code; "
                   "--penalty-form squared for |W|_F^2 + |V|_F^2)")
    nuclear: float = _f(0.0, "nuclear-norm penalty beta on |W|_* + |V|_* (an SVD per step)")
    penalty_form: str = _f("norm", "l2 penalty as the Frobenius norm |W|_F (norm) or its square",
                           choices=("norm", "squared"))
    sobolev: float = _f(0.0, "Sobolev strength beta of the first-derivative term: match the "
                        "student's input Jacobians V diag(relu'(W x_i)) W to the teacher's on the "
                        "train inputs")
    sobolev_form: str = _f("norm", "Sobolev term: norm = beta |J - J*|_F over the whole batch "
                           "(unsquared, not averaged: the authors' code); squared = (beta/N) "
                           "sum_i |J_i - J*_i|_F^2 (the paper's formula)",
                           choices=("norm", "squared"))
    seed: int = _f(0, "seed of the student's initialization")
    steps: int = _f(1_000_000, "number of full-batch optimizer steps")
    log_every: int = _f(20, "after the dense phase: points per decade (log spacing) or the "
                        "period (linear spacing)")
    log_dense_until: int = _f(100, "log every step below this step")
    log_spacing: str = _f("log", "spacing of logs after the dense phase: log (log_every points "
                          "per decade) or linear (every log_every steps)",
                          choices=("log", "linear"))

    def __post_init__(self):
        names = fields_dict(type(self))
        for name in ("optimizer", "penalty_form", "sobolev_form", "log_spacing"):
            _check_choice(name, getattr(self, name), names[name].metadata["choices"])
        _check_int("input_dim", self.input_dim, 1, 100_000)
        _check_int("hidden", self.hidden, 1, 1_000_000)
        _check_int("outputs", self.outputs, 1, 100_000)
        _check_int("train_size", self.train_size, 1, 10**8)
        _check_int("test_size", self.test_size, 1, 10**8)
        _check_float("teacher_sparsity", self.teacher_sparsity, 0.0, 1.0)
        if self.teacher_sparsity >= 1.0:
            raise ConfigError("teacher_sparsity", f"{self.teacher_sparsity} is out of range: must "
                              "be in [0, 1) (each hidden unit keeps at least one input)")
        _check_int("teacher_rank", self.teacher_rank, 0, 100_000)
        if self.teacher_rank > min(self.hidden, self.input_dim):
            raise ConfigError("teacher_rank", f"{self.teacher_rank} is larger than min(--hidden, "
                              f"--input-dim) = {min(self.hidden, self.input_dim)}")
        _check_int("data_seed", self.data_seed, 0, 2**63 - 1)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_float("lr", self.lr, 0.0, 1e6, lo_open=True)
        for name in ("weight_decay", "l1", "l2", "nuclear", "sobolev"):
            _check_float(name, getattr(self, name), 0.0, 1e6)
        _check_int("steps", self.steps, 1, 10**12)
        _check_int("log_every", self.log_every, 1, 10**12)
        _check_int("log_dense_until", self.log_dense_until, 0, 10**12)


PROBLEMS[TeacherStudentConfig.problem] = TeacherStudentConfig
