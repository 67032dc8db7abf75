"""The members of a network ensemble: a D x B batch of configs flattened, checked to share one
tensor program (their family's batch key), with the logging schedule they share."""
from __future__ import annotations

import numpy as np

from ...schedule import log_steps


def members_of(cfgs: list[list], engine: str) -> tuple[list, object, np.ndarray]:
    """([(data-set index, config), ...], the first config, its logged steps) of ``cfgs[d][b]``;
    ValueError naming ``engine`` if the configs do not share a batch key."""
    members = [(i, c) for i, row in enumerate(cfgs) for c in row]
    first = members[0][1]
    key = first.batch_key()
    if any(c.batch_key() != key for _, c in members):
        raise ValueError(f"{engine}: every config must share the family's batch key (shapes, "
                         "optimizer, forms, mini-batch size, steps, logging schedule)")
    return members, first, log_steps(first.steps, first.log_every, first.log_dense_until,
                                     first.log_spacing)
