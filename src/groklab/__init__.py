"""groklab: grokking beyond the l2 norm -- batched experiments, tidy t1/t2 results, figures.

    import groklab
    res = groklab.run(lr=0.1, l1=1e-5, steps=200_000)            # one run (a batch of one)
    res = groklab.sweep({"lr": [0.05, 0.1], "l1": [1e-5, 1e-4]})  # a grid, batched
    res.runs, res.curves                                          # pandas DataFrames
    groklab.load("results/fig3")                                  # read a results directory

Every family's config class is an attribute too (``groklab.SparseRecoveryConfig``,
``groklab.MatrixCompletionConfig``, ...), looked up in the registry by its class name.
Importing groklab imports neither torch nor pandas: the CLI's ``--help`` and ``report`` start in
a fraction of torch's import time.  ``run``, ``sweep`` and ``load`` import what they need on
first call (:mod:`groklab.api`, :mod:`groklab.results`).
"""
__version__ = "0.1.0"

# the grid module first: the function ``sweep`` below must win the name over the module
from . import sweep as _grid  # noqa: E402,F401
from .detect import Detection  # noqa: E402
from .family import Family, all_families, register  # noqa: E402
from .fields import ConfigError  # noqa: E402
from .lazy import load as _lazy  # noqa: E402

__all__ = ["run", "sweep", "load", "Results", "Detection", "ConfigError", "Family", "register",
           "all_families", "__version__"]


def run(config=None, **kwargs):
    """One experiment; see :func:`groklab.api.run`."""
    return _lazy("groklab.api").run(config, **kwargs)


def sweep(grid: dict, **kwargs):
    """A grid of experiments, batched; see :func:`groklab.api.sweep`."""
    return _lazy("groklab.api").sweep(grid, **kwargs)


def load(path, **kwargs):
    """Read a results directory; see :func:`groklab.results.load`."""
    return _lazy("groklab.results").load(path, **kwargs)


def __getattr__(name: str):
    """``groklab.Results`` (read on first use), and ``groklab.<Family>Config``: a registered
    family's config class, by its class name."""
    if name == "Results":
        return _lazy("groklab.results").Results
    if not name.endswith("Config"):
        # ``from groklab import <submodule>`` asks here first: discovering the families then
        # would import them from inside a half-imported family module (an import cycle)
        raise AttributeError(f"module 'groklab' has no attribute {name!r}")
    for fam in all_families():
        if fam.config.__name__ == name:
            return fam.config
    raise AttributeError(f"module 'groklab' has no attribute {name!r}")
