"""Matrix completion and matrix sensing: a rank-r matrix A* seen through N of its entries or N
linear measurements, learned by (sub)gradient, projected or singular-value-thresholding descent
with a nuclear-norm penalty, or by a deep factorization A = A_1 ... A_L.  The science:
docs/families/matrix.md.

Modules: ``config``, ``data``, ``engine`` (torch, any depth), ``kernel`` (the compiled depth-1 CPU
step loop), ``theory``, ``runtime`` (what the registry calls), ``figures``.
"""
from ...family import Family, register
from .config import MatrixCompletionConfig, MatrixSensingConfig, kernel_mode

_COMMON = dict(
    runtime=f"{__name__}.runtime",
    check_environment=kernel_mode,
    figures=f"{__name__}.figures",
    final_metrics=("unobserved_error", "nuclear_norm", "fro_norm", "l1_norm", "numerical_rank",
                   "effective_rank", "spectral_error", "nuclear_error", "grad_fit_norm",
                   "grad_penalty_norm"),
    curve_dtypes={"numerical_rank": "int32"},
    run_dtypes={"pred_t1": "float64", "pred_t1_paper": "float64", "pred_delta_t": "float64",
                "lr_max": "float64"},
    ratios={"grad_ratio": ("grad_penalty_norm", "grad_fit_norm")},
    iterate_prefix="A",  # A_0 ... A_{n1 n2 - 1}, row-major
    key_fields=("lr", "l1", "l2", "nuclear", "method"),
    labels={"measurements": "N"},
    norms={"nuclear_norm": "‖A‖*", "fro_norm": "‖A‖F"},
    penalties={"l1": "", "nuclear": "‖Â − A*‖₂ / (αβ)", "l2": ""},
    predictions={"t1": "pred_t1", "delta_t": "pred_delta_t"},
    memorized_error="ls_test_error",
    axis_priority=("l1", "nuclear", "l2", "lr", "measurements", "observed", "tau"),
)
COMPLETION = Family(name=MatrixCompletionConfig.problem, config=MatrixCompletionConfig, **_COMMON)
SENSING = Family(name=MatrixSensingConfig.problem, config=MatrixSensingConfig, **_COMMON)
register(COMPLETION, SENSING)
