"""The one interface every generator follows (SPEC §5).

scikit-learn's contract: hyper-parameters in ``__init__`` and no work there, ``fit`` returns the
model, ``sample(n, seed)`` is pure given its seed. The estimators never see these classes: a
study turns a model into arrays of occupancies, so a user's own generator plugs in through files
of generated events just as well.
"""

from __future__ import annotations

from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from genamp.seeding import SeedLike


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
