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

import importlib
from types import ModuleType


def load(module: str) -> ModuleType:
    """Import ``module`` (a dotted path) on first use; later calls return the same module."""
    return importlib.import_module(module)
