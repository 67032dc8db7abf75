"""Named random streams derived from a config's seeds.

A config's ``seed`` (and ``data_seed``) seeds the first stream a family draws from; any other
random object of the same run gets a stream of its own, seeded by ``stream_seed(seed, SALT)``
with a salt named after what it draws, so adding a draw to one stream never shifts another.
"""
from __future__ import annotations

#: a prime stride between the streams of consecutive seeds
SEED_STRIDE = 1_000_003


def stream_seed(seed: int, salt: int) -> int:
    """The seed of stream ``salt`` of base seed ``seed``."""
    return int(seed) * SEED_STRIDE + salt
