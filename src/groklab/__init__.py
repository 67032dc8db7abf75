"""groklab: grokking beyond the l2 norm -- batched experiments, tidy t1/t2 results, figures.

    import groklab
    res = groklab.run(lr=0.1, l1=1e-5, steps=200_000)            # one run (a batch of one)
    res = groklab.sweep({"lr": [0.05, 0.1], "l1": [1e-5, 1e-4]})  # a grid, batched
    res.runs, res.curves                                          # pandas DataFrames
    groklab.load("results/fig3")                                  # read a results directory
"""
__version__ = "0.1.0"

from .api import run, sweep  # noqa: E402
from .config import ConfigError, Detection, SparseRecoveryConfig  # noqa: E402
from .store import Results, load  # noqa: E402

__all__ = ["run", "sweep", "load", "Results", "Detection", "ConfigError", "SparseRecoveryConfig",
           "__version__"]
