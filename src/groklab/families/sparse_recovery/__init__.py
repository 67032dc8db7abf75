"""Sparse recovery (compressed sensing): a sparse code a* seen through N < n random measurements,
learned by (sub)gradient, projected or proximal descent with an l1 penalty, by a deep diagonal
model, or by convex basis pursuit.  The science: docs/families/sparse-recovery.md.

Modules: ``config`` (the options), ``data`` (generators), ``engine`` (depth 1), ``deep`` (depth
L >= 2), ``convex`` (basis pursuit), ``theory`` (the paper's predictions), ``runtime`` (what the
registry calls), ``figures`` (the paper's figures of this family).
"""
from ...family import Family, register
from .config import SparseRecoveryConfig

FAMILY = Family(
    name=SparseRecoveryConfig.problem,
    config=SparseRecoveryConfig,
    runtime=f"{__name__}.runtime",
    figures=f"{__name__}.figures",
    final_metrics=("l1_norm", "l2_norm", "nonzeros", "support_recovered"),
    curve_dtypes={"nonzeros": "int32", "support_recovered": "bool"},
    run_dtypes={"pred_t1": "float64", "pred_delta_t": "float64"},
    ratios={"grad_ratio": ("grad_penalty_norm", "grad_fit_norm")},
    iterate_prefix="a",
    key_fields=("lr", "l1", "l2", "method"),
    labels={"dim": "n", "sparsity": "s", "measurements": "N", "measurement_variance": "var(M)"},
    norms={"l1_norm": "|a|₁", "l2_norm": "|a|₂"},
    penalties={"l1": "|â − a*|∞ / (αβ)", "l2": ""},
    predictions={"t1": "pred_t1", "delta_t": "pred_delta_t"},
    memorized_error="ls_test_error",
    axis_priority=("l1", "l2", "lr", "measurements", "sparsity", "tau"),
    default=True,
)
register(FAMILY)
