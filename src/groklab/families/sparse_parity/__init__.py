"""(n, k)-sparse parity: n-bit +-1 inputs labelled by the product of k hidden coordinates, a
finite train set, a one-hidden-layer ReLU MLP trained by the generic ensemble engine
(groklab.families.nets.ensemble) with l1 / l2 / nuclear penalties.  The science:
docs/families/sparse-parity.md.

Modules: ``config``, ``data``, ``model`` (the module, the relevant-mass measure), ``runtime``,
``figures``.
"""
from ...detect import Detection
from ...family import Family, register
from .config import SparseParityConfig

FAMILY = Family(
    name=SparseParityConfig.problem,
    config=SparseParityConfig,
    runtime=f"{__name__}.runtime",
    figures=f"{__name__}.figures",
    # errors are 1 - accuracy: t1 / t2 at accuracy 0.99
    detection=Detection(train_threshold=0.01, test_threshold=0.01),
    final_metrics=("train_accuracy", "test_accuracy", "train_loss", "test_loss", "l1_norm",
                   "l2_norm", "nuclear_norm", "relevant_mass"),
    iterate_prefix="w",
    key_fields=("lr", "l1", "l2", "nuclear", "weight_decay"),
    labels={"bits": "n", "relevant_bits": "k"},
    norms={"l1_norm": "‖W‖₁", "relevant_mass": "mass on S"},
    penalties={"l1": "", "nuclear": "", "l2": ""},
    axis_priority=("l1", "nuclear", "l2", "weight_decay", "lr"),
    accuracy=("train_accuracy", "test_accuracy"),
)
register(FAMILY)
