"""Seeds of the random streams of a run (docs/seeds.md).

Every random object of a run (a teacher, the inputs, a train/test split, an initialization, a
mini-batch order) draws from a stream of its own.  The seed of a stream is

    derive_seed(seed, name) = first 8 bytes (little-endian) of BLAKE2b-64("groklab|" + name + "|"
                              + decimal(seed)), top bit cleared  (a 63-bit integer)

where ``seed`` is the config field the object depends on (``seed``, ``data_seed``) and ``name``
names the object ("teacher-student/teacher-W", "modular/split", ...).  Two streams share a seed
only if their (name, seed) pairs are equal, or by a 2^-63 accident: so ``--seed k --data-seed k``
gives a student init and a teacher that are independent, and adding a draw to one object never
shifts another.  Pure Python (hashlib): no torch.

Sparse recovery and matrix completion / sensing predate this rule and keep their numbers (their
engines reproduce the authors' runs; golden files pin them): one seed, its data drawn from the
stream seeded by the seed itself, its random init from ``stream_seed(seed, INIT_SALT)`` below.
Within one run those two never coincide (``seed * 1_000_003 + 17 == seed`` has no solution).
"""
from __future__ import annotations

import hashlib

#: a prime stride between the streams of consecutive seeds (the legacy rule, ``stream_seed``)
SEED_STRIDE = 1_000_003
#: the largest seed a stream gets: torch.Generator.manual_seed takes any 64-bit value; 63 bits
#: keep it a non-negative int64 as well (numpy, parquet)
SEED_BITS = 63


def derive_seed(seed: int, name: str) -> int:
    """The seed of the stream ``name`` of a config whose seed field is ``seed`` (the rule above)."""
    if not name:
        raise ValueError("a stream needs a name")
    digest = hashlib.blake2b(f"groklab|{name}|{int(seed)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << SEED_BITS) - 1)


def stream_seed(seed: int, salt: int) -> int:
    """Legacy rule of the one-seed families (sparse recovery, matrix): stream ``salt`` of base
    seed ``seed``.  New code uses :func:`derive_seed`."""
    return int(seed) * SEED_STRIDE + salt
