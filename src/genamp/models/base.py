"""The one interface every generator follows (docs/formulas.md §5).

scikit-learn's contract: hyper-parameters in ``__init__`` and no work there, ``fit`` returns the
model, ``sample(n, seed)`` is pure given its seed. The estimators never see these classes: a
study turns a model into arrays of occupancies, so a user's own generator plugs in through files
of generated events just as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from genamp.errors import GenampError
from genamp.seeding import SeedLike, rng


@runtime_checkable
class Generator(Protocol):
    """Train on an array of events, then sample any number of events."""

    name: str

    def fit(self, x_train: np.ndarray, seed: SeedLike) -> Self:
        """Train on ``x_train`` (n_train, dim); returns ``self``."""
        ...

    def sample(self, n: int, seed: SeedLike) -> np.ndarray:
        """``n`` events (n, dim); a pure function of ``seed``. Large ``n`` is streamed by the caller."""
        ...


@runtime_checkable
class ExactOccupancies(Protocol):
    """A model whose cell integrals are known in closed form (an infinite sample of it)."""

    def cell_probabilities(self, grid: Any) -> np.ndarray:
        ...


@dataclass(frozen=True)
class Limits:
    """Where a model's numeric hyper-parameter makes sense (each element of a tuple of them).

    ``low``/``high`` are bounds (``None``: none), excluded when ``low_open``/``high_open``;
    ``length`` fixes the number of elements of a tuple. A model class declares them in its
    ``limits`` mapping; a study's settings are checked against them before any work.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    length: int | None = None

    def admits(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        """``≥ 1``, ``> 0``, ``in [0, 1)``: the range in words."""
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '≥'} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '≤'} {self.high:g}"
        return "any number"


ENSEMBLE_MODES = ("seed", "bootstrap")


def ensemble_training_sets(x_train: np.ndarray, n_members: int, mode: str, seed: SeedLike) -> np.ndarray:
    """The members' training sets (K, n, dim): K copies, or K bootstrap resamples."""
    if mode not in ENSEMBLE_MODES:
        raise GenampError(f"ensemble mode must be one of {', '.join(ENSEMBLE_MODES)}, got {mode!r}")
    n = x_train.shape[0]
    if mode == "seed":
        return np.broadcast_to(x_train, (n_members, *x_train.shape)).copy()
    return x_train[rng(seed).integers(0, n, size=(n_members, n))]
