"""Tasks: one model trained on one repetition's training set, turned into occupancies.

A task is a plain function of its spec and repetition: the training set of repetition ``r`` is
``density.sample(n_train, SeedSequence(seed, (r, TRAINING_DATA)))`` for every model, so all
models of a repetition see the same training events; a model's own randomness comes from
``(r, MODEL, stable_id(model))``. Nothing depends on which worker runs it or when.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genamp.densities import Density, make_density
from genamp.errors import GenampError
from genamp.models.base import ExactOccupancies
from genamp.models.registry import MODEL_REGISTRY
from genamp.seeding import MODEL, TRAINING_DATA, child, seed_sequence, stable_id
from genamp.study.config import StudyConfig
from genamp.volumes import Occupancy, QuantileGrid, count_occupancy, sample_chunks

#: bump when the content of task files changes meaning; old files are then recomputed
TASK_FORMAT = 1


@dataclass(frozen=True, eq=False)
class Task:
    """One model on one repetition (hashed by identity: a study's tasks are unique objects)."""

    model: str
    repetition: int
    spec: dict[str, Any]

    @property
    def key(self) -> str:
        """Hash of everything but the repetition: tasks of one setting share a folder."""
        blob = json.dumps(self.spec, sort_keys=True, default=float).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @property
    def label(self) -> str:
        return f"{self.model} rep {self.repetition}"

    def path(self, root: Path) -> Path:
        return root / "tasks" / f"{self.model}-{self.key}" / f"rep{self.repetition:05d}.npz"


@dataclass
class TaskOutput:
    """Occupancies per number of quantiles, and what happened (status, fit values, timing)."""

    occupancies: dict[int, Occupancy]
    meta: dict[str, Any] = field(default_factory=dict)


def plan(config: StudyConfig) -> list[Task]:
    """All tasks of a study, repetition-major so early results cover every model."""
    density = config.make_density()
    tasks = []
    for rep in range(config.repetitions):
        for model in config.models:
            spec = {
                "format": TASK_FORMAT,
                "density": density.spec(),
                "model": model,
                "n_train": config.n_train,
                "seed": config.seed,
                "quantiles": sorted(config.quantiles),
            }
            if MODEL_REGISTRY[model].sampled:
                spec["n_gen"] = list(config.n_gen)
            tasks.append(Task(model, rep, spec))
    return tasks


def training_set(spec: dict[str, Any], repetition: int) -> np.ndarray:
    """The training events of a repetition (identical for every model)."""
    density = _density(spec)
    return density.sample(spec["n_train"], seed_sequence(spec["seed"], repetition, TRAINING_DATA))


def _density(spec: dict[str, Any]) -> Density:
    params = dict(spec["density"])
    return make_density(params.pop("name"), **params)


def run_task(task: Task) -> TaskOutput:
    """Train the task's model on its training set and count its occupancies.

    A :class:`GenampError` (a fit that does not converge, a diverging training) is a result,
    not a crash: the output says ``status: failed`` with the message.
    """
    start = time.perf_counter()
    spec = task.spec
    density = _density(spec)
    grids = [QuantileGrid.from_density(density, q) for q in spec["quantiles"]]
    x_train = training_set(spec, task.repetition)
    meta: dict[str, Any] = {"task": task.label, "key": task.key, "model": task.model, "repetition": task.repetition}
    entry = MODEL_REGISTRY[task.model]
    try:
        if entry.build is None:
            occupancies = count_occupancy(x_train, grids, what="training set")
            occupancies = [Occupancy.exact(o.fractions[0]) for o in occupancies]
        else:
            model_seed = seed_sequence(spec["seed"], task.repetition, MODEL, stable_id(task.model))
            model = entry.build(density).fit(x_train, child(model_seed, 0))
            if isinstance(model, ExactOccupancies):
                occupancies = [Occupancy.exact(model.cell_probabilities(g)) for g in grids]
            else:
                n_gen = spec["n_gen"]
                stream = sample_chunks(model.sample, n_gen[-1], child(model_seed, 1))
                occupancies = count_occupancy(stream, grids, n_gen, what=f"{task.model} sample")
            info = getattr(model, "info", None)
            if info is not None:
                meta["info"] = info()
    except GenampError as exc:
        meta.update(status="failed", error=str(exc), seconds=time.perf_counter() - start)
        return TaskOutput({}, meta)
    meta.update(status="ok", seconds=time.perf_counter() - start)
    return TaskOutput(dict(zip(spec["quantiles"], occupancies, strict=True)), meta)
