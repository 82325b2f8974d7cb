"""The interfaces every generator follows, and what a study relies on (docs/formulas.md §5).

scikit-learn's contract: hyper-parameters in ``__init__`` and no work there, ``fit`` returns the
model, ``sample(n, seed)`` is pure given its seed. The estimators never see these classes: a
study turns a model into arrays of occupancies, so a user's own generator plugs in through files
of generated events just as well.

What a study asks of a model beyond :class:`Generator` is one protocol each, and a model's entry
in :data:`genamp.models.registry.MODEL_REGISTRY` claims exactly those it satisfies (a test checks
every entry): ``vectorised`` ⇔ :class:`VectorisedGenerator`, ``bayesian`` ⇔ :class:`Posterior`,
``likelihood`` ⇔ a sampled :class:`Likelihood`. A model whose cells the study integrates exactly
says so by :class:`ExactOccupancies` and is not sampled (the parametric fit, whose log density
the study does not read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
class Likelihood(Protocol):
    """A generator that gives its own log density (what the differential method reads)."""

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """``log p(x)`` (n,) of events ``x`` (n, dim), in the data's coordinates."""
        ...


@dataclass
class Divergence:
    """Where a member's training stopped making sense."""

    member: int
    step: int
    loss: float

    def message(self, model: str) -> str:
        return f"{model} member {self.member} diverged at step {self.step} (loss {self.loss})"


@runtime_checkable
class VectorisedGenerator(Generator, Protocol):
    """K members trained at once as one model: how a study trains a block of repetitions, or
    the K members of an ensemble, in one go.

    Members never mix: member ``k`` is the model that ``xs[k]`` and ``seeds[k]`` give alone (up
    to floating-point rounding), so results do not depend on how tasks are grouped.
    """

    #: the members whose training diverged, by member index: the step and the non-finite loss
    #: (:class:`Divergence`); a diverged member is frozen and may not be sampled, the others
    #: train on unaffected. Empty when every member trained.
    diverged: Mapping[int, Divergence]
    #: the training losses recorded along the way, ``(records, members, ...)`` (a GAN records
    #: its two networks' losses on a last axis); ``None`` before training
    losses: np.ndarray | None

    def fit_members(self, xs: np.ndarray, seeds: Sequence[SeedLike]) -> Self:
        """Train ``len(seeds)`` members, member ``k`` on ``xs[k]`` (n, dim) with ``seeds[k]``;
        a divergence is recorded in :attr:`diverged`, not raised."""
        ...

    def member(self, k: int) -> Generator:
        """Member ``k`` as a plain generator (a :class:`Likelihood` too when the model is one);
        sampling a diverged member raises."""
        ...


@runtime_checkable
class Posterior(Generator, Protocol):
    """A Bayesian model: one training whose posterior over weights stands for many generators.

    ``sample`` draws from the posterior predictive; a study's spread of generators is
    :meth:`draws`.
    """

    def draws(self, n_draws: int, seed: SeedLike) -> list[Generator]:
        """``n_draws`` generators with fixed weights ``w_m ~ q``; draw ``m`` a pure function of ``seed``."""
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


def ensemble_indices(n: int, n_members: int, mode: str, seed: SeedLike) -> np.ndarray:
    """The rows (K, n) of a training set of ``n`` events each member trains on: every row in
    turn (``seed``), or a bootstrap resample of them (``bootstrap``)."""
    if mode not in ENSEMBLE_MODES:
        raise GenampError(f"ensemble mode must be one of {', '.join(ENSEMBLE_MODES)}, got {mode!r}")
    if mode == "seed":
        return np.broadcast_to(np.arange(n), (n_members, n)).copy()
    return rng(seed).integers(0, n, size=(n_members, n))


def ensemble_training_sets(x_train: np.ndarray, n_members: int, mode: str, seed: SeedLike) -> np.ndarray:
    """The members' training sets (K, n, dim): K copies, or K bootstrap resamples."""
    return x_train[ensemble_indices(x_train.shape[0], n_members, mode, seed)]


def out_of_bag(x_train: np.ndarray, indices: np.ndarray) -> list[np.ndarray]:
    """Each member's events it did not train on (about a third of a bootstrap's, none of a copy's):
    its validation set, in the training set's order."""
    out = []
    for rows in indices:
        unseen = np.ones(x_train.shape[0], dtype=bool)
        unseen[rows] = False
        out.append(x_train[unseen])
    return out
