"""Ensembles: K members of a network model on one training set, trained as one vectorised model.

The members differ by their seed (``mode="seed"``: initial weights, batches, noise), or by
their seed and a bootstrap resample of the training set (``mode="bootstrap"``). The spread of
their occupancies is what the averaging amplification of docs/formulas.md §2 reads; the members are also
the pairs of the differential forecast of docs/formulas.md §3.4.
"""

from __future__ import annotations

from typing import Self

import numpy as np

from genamp import _validate
from genamp.models.base import ENSEMBLE_MODES, ensemble_training_sets
from genamp.models.neural import Member, TrainingDiverged, Vectorised, as_seed_sequence
from genamp.seeding import SeedLike, child, rng

__all__ = ["ENSEMBLE_MODES", "Ensemble", "ensemble_training_sets"]

class Ensemble:
    """``n_members`` members of ``model`` (an untrained network model, used as the template).

    ``fit`` trains them together; ``members()`` gives each as a generator; ``sample`` draws from
    their equal-weight mixture. A member whose training diverged stays in the list and is named
    in ``diverged``; sampling it, or the mixture it belongs to, raises :class:`TrainingDiverged`.
    """

    def __init__(self, model: Vectorised, n_members: int = 10, mode: str = "seed") -> None:
        self.model = model
        self.n_members = n_members
        self.mode = mode

    @property
    def name(self) -> str:
        return f"{self.model.name}-ensemble"

    def fit(self, x_train: np.ndarray, seed: SeedLike) -> Self:
        k = _validate.positive_int(self.n_members, "n_members", minimum=1)
        x = np.asarray(x_train, dtype=np.float64)
        x = _validate.events(x, x.shape[-1] if x.ndim == 2 else 1, what="training set", min_events=2)
        root = as_seed_sequence(seed)
        xs = ensemble_training_sets(x, k, self.mode, child(root, 0))
        self.model.fit_members(xs, [child(root, 1, m) for m in range(k)])
        return self

    @property
    def diverged(self) -> list[str]:
        """Messages naming the members whose training diverged (empty when all trained)."""
        return [d.message(self.model.name) for d in self.model.diverged.values()]

    def members(self) -> list[Member]:
        return self.model.members()

    def sample(self, n: int, seed: SeedLike) -> np.ndarray:
        """``n`` events of the members' mixture (each member's share multinomial)."""
        if self.model.diverged:
            raise TrainingDiverged("; ".join(self.diverged))
        root = as_seed_sequence(seed)
        counts = rng(child(root, 0)).multinomial(n, np.full(self.n_members, 1.0 / self.n_members))
        parts = [self.model.sample_member(m, int(c), child(root, 1, m)) for m, c in enumerate(counts) if c]
        events = np.concatenate(parts) if parts else np.empty((0, self.model.dim))
        return events[rng(child(root, 2)).permutation(n)]
