"""What a stored run of this family regenerates: its data set (the store keeps summaries such as
|a*|_1, not X or a*) and its saved iterates.  Shared by the figures and the claims."""
from __future__ import annotations

import numpy as np

from ...fields import fields_dict
from . import FAMILY
from .config import SparseRecoveryConfig


def data_of(row):
    """The SparseData of a run, regenerated from its data fields."""
    data = {name: (row[name].item() if hasattr(row[name], "item") else row[name])
            for name, f in fields_dict(SparseRecoveryConfig).items() if f.metadata["data"]}
    return FAMILY.make_data(SparseRecoveryConfig(**data))


def a_star_of(row) -> np.ndarray:
    """a* of a run, regenerated from its data fields."""
    return data_of(row).a_star.numpy()


def iterates_of(res, run_id):
    """(steps, iterates (T, n)) of a run stored with --save-iterates, by step."""
    it = res.iterates[res.iterates.run_id == run_id].sort_values("step")
    cols = [c for c in it.columns if c.startswith("a_")]
    return it.step.to_numpy(), it[cols].to_numpy()
