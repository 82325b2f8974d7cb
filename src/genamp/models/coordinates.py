"""A generator that trains in physics coordinates and generates four-momenta.

A network learns top-pair events in coordinates made for them (docs/formulas.md §8.6), while a
study counts, and a user reads, four-momenta. :class:`InCoordinates` joins the two: a generator
trained on ``coords.transform(x)`` and the fitted map, sampling ``n`` events as

    coords.inverse_transform(generator.sample(n, child(seed, 0)), seed=child(seed, 1))

flattened to the pool's columns (the second stream turns each event about the beam). Which map a
study uses is a name in :data:`COORDINATES`:

- ``decay``: :class:`genamp.data.decay.DecayCoordinates`, the tops, resonance masses and decay
  angles with the beam symmetry (the default of ``genamp run ttbar``);
- ``objects``: :class:`genamp.data.coordinates.PhysicsCoordinates`, ``(log pT, η, φ, log m)`` per
  object: the plain representation the decay coordinates are measured against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genamp.errors import GenampError
from genamp.seeding import SeedLike, child

__all__ = ["COORDINATES", "InCoordinates", "check_coordinates", "make_coordinates"]

#: the coordinate maps a study may train its networks in, by name, and what each is
COORDINATES = {
    "decay": "tops, resonance masses and decay angles, turned about the beam (genamp.data.decay)",
    "objects": "(log pT, eta, phi, log m) per object (genamp.data.coordinates)",
}


def check_coordinates(name: str, features: Sequence[str] | None, where: Any) -> None:
    """That ``name`` is a map and the pool's features are the four-momenta it takes; else one error."""
    from genamp.data.decay import OBJECTS
    from genamp.physics import objects_of

    if name not in COORDINATES:
        raise GenampError(f"unknown coordinates {name!r}; choose from {', '.join(COORDINATES)}")
    objects = objects_of(features)
    if name == "decay" and objects != OBJECTS:
        raise GenampError(
            f"the decay coordinates take the four-momenta of a top pair, features b_E, b_px, ... of {', '.join(OBJECTS)}; "
            f"{where} has {'features ' + ', '.join(list(features)[:6]) + (', ...' if len(features) > 6 else '') if features else 'no feature names'}"
        )
    if name == "objects" and objects is None:
        raise GenampError(f"the object coordinates take four-momenta, features {{o}}_E, {{o}}_px, {{o}}_py, {{o}}_pz; {where} has others")


def make_coordinates(name: str, features: Sequence[str]) -> Any:
    """An unfitted map of this name for events with these features."""
    if name == "decay":
        from genamp.data.decay import DecayCoordinates

        return DecayCoordinates()
    from genamp.data.coordinates import PhysicsCoordinates
    from genamp.physics import objects_of

    return PhysicsCoordinates(objects=objects_of(features))


@dataclass(frozen=True)
class InCoordinates:
    """A generator trained in ``coords``' coordinates, sampling events in the pool's columns."""

    generator: Any
    coords: Any

    @property
    def name(self) -> str:
        return str(self.generator.name)

    def fit(self, x_train: np.ndarray, seed: SeedLike) -> InCoordinates:
        raise GenampError("a generator in coordinates is trained on the transformed set before it is wrapped")

    def sample(self, n: int, seed: SeedLike) -> np.ndarray:
        """``n`` events (n, features) of the pool's columns; a pure function of ``seed``."""
        z = self.generator.sample(n, child(seed, 0))
        return self.coords.inverse_transform(z, seed=child(seed, 1)).reshape(n, -1)
