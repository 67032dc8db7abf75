"""groklab: grokking beyond the l2 norm -- batched experiments, tidy t1/t2 results, figures.

    import groklab
    res = groklab.run(lr=0.1, l1=1e-5, steps=200_000)            # one run (a batch of one)
    res = groklab.sweep({"lr": [0.05, 0.1], "l1": [1e-5, 1e-4]})  # a grid, batched
    res.runs, res.curves                                          # pandas DataFrames
    groklab.load("results/fig3")                                  # read a results directory

Every family's config class is an attribute too (``groklab.SparseRecoveryConfig``,
``groklab.MatrixCompletionConfig``, ...), looked up in the registry by its class name.
Importing groklab does not import torch; running does.
"""
__version__ = "0.1.0"

from .api import run, sweep  # noqa: E402
from .detect import Detection  # noqa: E402
from .family import Family, all_families, register  # noqa: E402
from .fields import ConfigError  # noqa: E402
from .store import Results, load  # noqa: E402

__all__ = ["run", "sweep", "load", "Results", "Detection", "ConfigError", "Family", "register",
           "all_families", "__version__"]


def __getattr__(name: str):
    """``groklab.<Family>Config``: a registered family's config class, by its class name."""
    for fam in all_families():
        if fam.config.__name__ == name:
            return fam.config
    raise AttributeError(f"module 'groklab' has no attribute {name!r}")
