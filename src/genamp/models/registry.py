"""The models a study can run, by name.

``build`` makes an untrained model for a toy truth; ``None`` stands for the training set
itself. ``sampled`` says whether the model's occupancies come from generated events (and so
depend on the n_gen grid) or are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from genamp.densities import Density
from genamp.models.base import Generator
from genamp.models.fit import ParametricFit
from genamp.models.resample import Resampler


@dataclass(frozen=True)
class ModelEntry:
    build: Callable[[Density], Generator] | None
    sampled: bool
    description: str


MODEL_REGISTRY: dict[str, ModelEntry] = {
    "sample": ModelEntry(None, sampled=False, description="the training set itself (G = 1 by construction)"),
    "fit": ModelEntry(ParametricFit, sampled=False, description="maximum-likelihood fit of the true family"),
    "resample": ModelEntry(lambda density: Resampler(), sampled=True, description="bootstrap of the training set"),
}
