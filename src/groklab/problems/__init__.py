"""Experiment families.  A family is everything one kind of experiment plugs into the shared
sweep / store / detection machinery: its data generator, its checks, how its runs batch, its
engine, and its family-specific result columns.  Adding a family = one subclass + ``register``.
"""
from __future__ import annotations

import numpy as np


class Family:
    """Base class; see :class:`groklab.problems.sparse_recovery.SparseRecovery` for an example."""

    name: str = ""
    #: metrics (curve columns) whose last value becomes a ``final_<name>`` column of runs.parquet
    final_metrics: tuple[str, ...] = ()
    #: curve column -> dtype to cast to (counts, flags)
    curve_dtypes: dict[str, str] = {}
    #: prefix of the iterate columns in iterates.parquet (a_0, a_1, ...)
    iterate_prefix: str = "a"
    #: detection settings used when none are given (None = groklab.Detection()); e.g. networks
    #: log 1 - accuracy as their error, so accuracy 0.99 is an error threshold of 0.01
    default_detection = None

    def detection(self):
        from ..config import Detection
        return self.default_detection or Detection()

    def make_data(self, cfg):
        raise NotImplementedError

    def reference(self, data) -> dict:
        """Quantities that depend on the data only (theory), computed once per data set."""
        return {}

    def check(self, cfg, data) -> None:
        """Raise ConfigError for a config that is invalid for its data (e.g. lr too large)."""

    def batch_key(self, cfg) -> tuple:
        """Runs with equal keys can share one tensor program."""
        raise NotImplementedError

    def run_batch(self, datas: list, cfgs: list[list], *, device: str, save_iterates: bool,
                  progress=None):
        """Advance D x B runs; return an engine BatchResult."""
        raise NotImplementedError

    def run_columns(self, cfg, data, ref: dict, final: np.ndarray, col: dict) -> dict:
        """Family-specific columns of runs.parquet for one run."""
        return {}

    def derive_curves(self, curves) -> None:
        """Add derived curve columns in place (e.g. gradient ratio)."""


FAMILIES: dict[str, Family] = {}
#: modules that register families when imported (kept lazy: importing groklab stays cheap)
FAMILY_MODULES = ("sparse_recovery", "matrix", "modular", "teacher_student")


def register(fam: Family) -> Family:
    FAMILIES[fam.name] = fam
    return fam


def family(name: str) -> Family:
    if name not in FAMILIES:
        import importlib
        for mod in FAMILY_MODULES:
            importlib.import_module(f"{__name__}.{mod}")  # each registers itself
    return FAMILIES[name]
