"""The trivial generator: draw events from the training set with replacement.

It knows nothing beyond its training data, so its plateau is the training sample's own MSE and
its amplification tends to 1: the baseline every network has to beat, and a check of the
estimators (a true sample of size m used as a generator is worth m events).
"""

from __future__ import annotations

from typing import Self

import numpy as np

from genamp import _validate
from genamp.errors import GenampError
from genamp.seeding import SeedLike, rng


class Resampler:
    """Bootstrap generator: ``sample`` draws training events uniformly with replacement."""

    name = "resample"

    def __init__(self) -> None:
        self._x: np.ndarray | None = None

    def fit(self, x_train: np.ndarray, seed: SeedLike = None) -> Self:
        x = np.asarray(x_train, dtype=np.float64)
        self._x = _validate.events(x, x.shape[1] if x.ndim == 2 else 1, what="training set")
        return self

    def sample(self, n: int, seed: SeedLike) -> np.ndarray:
        if self._x is None:
            raise GenampError("resample: call fit before sample")
        return self._x[rng(seed).integers(0, self._x.shape[0], size=n)]
