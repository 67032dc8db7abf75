"""Modular arithmetic: all pairs (x1, x2) in Z_p^2 labelled (x1 o x2) mod p, a small MLP trained
by Adam with an l1, l2 or nuclear penalty on every weight matrix; a sweep trains its members
together as one stacked ensemble.  The science: docs/families/modular.md.

Modules: ``config``, ``data``, ``model`` (forward, hand-written gradients), ``engine`` (the
ensemble), ``runtime`` (what the registry calls), ``figures``.
"""
from ...detect import Detection
from ...family import Family, register
from .config import ModularConfig

FAMILY = Family(
    name=ModularConfig.problem,
    config=ModularConfig,
    runtime=f"{__name__}.runtime",
    figures=f"{__name__}.figures",
    # errors are 1 - accuracy: t1 / t2 at accuracy 0.99
    detection=Detection(train_threshold=0.01, test_threshold=0.01),
    final_metrics=("train_accuracy", "test_accuracy", "train_loss", "test_loss", "l0_norm",
                   "l1_norm", "l2_norm", "nuclear_norm"),
    curve_dtypes={"l0_norm": "int64"},
    iterate_prefix="w",
    key_fields=("lr", "l1", "l2", "nuclear"),
    norms={"l1_norm": "‖W‖₁", "l2_norm": "‖W‖₂"},
    penalties={"l1": "", "nuclear": "", "l2": ""},
    axis_priority=("l1", "nuclear", "l2", "lr"),
    accuracy=("train_accuracy", "test_accuracy"),
    applies={f: ("architecture", ("transformer",))
             for f in ("layers", "heads", "mlp_width", "layer_norm")},
)
register(FAMILY)
