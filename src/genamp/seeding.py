"""Reproducible random streams.

Every random number in a study comes from ``SeedSequence(seed, spawn_key=key)`` with a key that
names its purpose (repetition, stream, chunk). Keys are built explicitly, never with the
stateful ``SeedSequence.spawn``, so a stream is a pure function of the study seed and its key:
the same seed gives the same numbers whatever the number of workers or the order of tasks.
"""

from __future__ import annotations

import zlib

import numpy as np

SeedLike = int | np.random.SeedSequence | np.random.Generator

# Purposes of the streams of one repetition.
TRAINING_DATA = 0
MODEL = 1
#: true events withheld from every member, to falsify a forecast (docs/formulas.md §7.7)
HOLDOUT = 2
#: true events the differential method's classifier compares a repetition's generators with, on a pool
REFERENCE = 3


def seed_sequence(seed: int, *key: int) -> np.random.SeedSequence:
    """The seed sequence of ``seed`` for the stream named by ``key``."""
    return np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key))


def child(seed: np.random.SeedSequence | int, *key: int) -> np.random.SeedSequence:
    """A sub-stream of ``seed``; a pure function of its arguments (unlike ``spawn``)."""
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, *key))
    return seed_sequence(int(seed), *key)


def rng(seed: SeedLike) -> np.random.Generator:
    """A generator from an int, a seed sequence, or a generator (returned as is)."""
    return np.random.default_rng(seed)


def stable_id(name: str) -> int:
    """A stable integer for a name (a model's stream must not depend on the list of models)."""
    return zlib.crc32(name.encode())
