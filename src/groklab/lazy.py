"""The one place groklab defers an import.

Commands that need no tensors (``--help``, ``report``, ``plot``, ``reproduce list``) must not
pay for importing torch (nor ``--help`` for pandas and matplotlib), and a family's figures need
matplotlib only when drawn.  So the modules that import them are named by a dotted path and
imported on first use, by :func:`load`, from five declared places only: the registry (a
family's ``runtime`` and ``figures`` modules, :mod:`groklab.family`), the sweep driver (the
torch side of the core, :mod:`groklab.compute`), the package's entry points (``groklab.run``,
``sweep``, ``load``), the CLI's dispatch (one module per command, :mod:`groklab.cli`) and the
export's dispatch (one module per tracker, whose optional library costs seconds to import,
:mod:`groklab.export`).
Everything else is a plain top-of-module import, so the call graph can be read from the imports.
"""
from __future__ import annotations

import gc
import importlib
import sys
from types import ModuleType


def load(module: str) -> ModuleType:
    """Import ``module`` (a dotted path) on first use; later calls return the same module.

    What the import creates is kept out of the cyclic garbage collector: importing torch makes
    some 10^5 objects that live as long as the process, and the collector's passes over them
    find no garbage (measured in a 1024-run command: the collector's time fell from 0.21 s to
    0.016 s, and exit got 0.3-0.4 s shorter).  So garbage already there is
    collected first, the collector is paused during the import, and what then exists is moved to
    its permanent generation (``gc.freeze``) before it is resumed: objects made later are
    collected as usual, and frozen ones are still freed when their last reference goes."""
    mod = sys.modules.get(module)
    if mod is not None:
        return mod
    paused = gc.isenabled()
    if paused:
        gc.collect()  # so that no garbage is frozen below
        gc.disable()
    try:
        return importlib.import_module(module)
    finally:
        if paused:
            gc.freeze()
            gc.enable()
