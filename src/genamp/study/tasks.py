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
from collections.abc import Callable, Iterable, Iterator
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
from genamp.volumes import DEFAULT_CHUNK, Occupancy, QuantileGrid, count_occupancy, sample_chunks

#: generated events of repetition 0 kept in its task file for the density picture
PREVIEW_EVENTS = 20_000

#: repetitions of a network trained together as one vectorised model (one work item)
BLOCK_SIZE = 20

#: bump when the content of task files changes meaning; old files are then recomputed
TASK_FORMAT = 2


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
    #: the first generated events of repetition 0, kept for the picture of the study
    preview: np.ndarray | None = None


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


def model_seed(spec: dict[str, Any], model: str, repetition: int) -> np.random.SeedSequence:
    """The root of a model's own random streams in one repetition (training: 0, sampling: 1)."""
    return seed_sequence(spec["seed"], repetition, MODEL, stable_id(model))


def blocks(tasks: list[Task], block_size: int = BLOCK_SIZE) -> list[list[Task]]:
    """Work items: a network's repetitions in fixed blocks trained together, other tasks alone.

    Block ``b`` holds repetitions ``[b·size, (b+1)·size)``, whatever the number of workers, so
    a member's float rounding (which a GAN's training amplifies) does not depend on how the
    study is run. Only a block cut by an interruption is retrained with fewer members.
    """
    items: list[list[Task]] = []
    grouped: dict[tuple[str, int], list[Task]] = {}
    for task in tasks:
        if MODEL_REGISTRY[task.model].vectorised:
            grouped.setdefault((task.model, task.repetition // block_size), []).append(task)
        else:
            items.append([task])
    items += [sorted(b, key=lambda t: t.repetition) for _, b in sorted(grouped.items())]
    return items


def run_block(tasks: list[Task]) -> Iterator[tuple[Task, TaskOutput]]:
    """Train the block's networks as one vectorised model, then count each member's sample.

    Each task's output is yielded as soon as its member is counted, so it can be stored at once.
    A member that diverged gives ``status: failed`` with the step and loss; the others go on.
    """
    if len(tasks) == 1 and not MODEL_REGISTRY[tasks[0].model].vectorised:
        yield tasks[0], run_task(tasks[0])
        return
    start = time.perf_counter()
    spec, name = tasks[0].spec, tasks[0].model
    if any(t.model != name or t.key != tasks[0].key for t in tasks):
        raise ValueError("a block holds tasks of one model and one setting")
    density = _density(spec)
    grids = [QuantileGrid.from_density(density, q) for q in spec["quantiles"]]
    xs = np.stack([training_set(spec, t.repetition) for t in tasks])
    seeds = [model_seed(spec, name, t.repetition) for t in tasks]
    model = MODEL_REGISTRY[name].build(density)  # type: ignore[misc]
    try:
        model.fit_members(xs, [child(s, 0) for s in seeds])
    except GenampError as exc:
        for t in tasks:
            yield t, _failed(t, str(exc), start)
        return
    train_seconds = (time.perf_counter() - start) / len(tasks)
    for k, t in enumerate(tasks):
        t0 = time.perf_counter()
        if k in model.diverged:
            d = model.diverged[k]
            yield t, _failed(t, f"{name} training of repetition {t.repetition} diverged at step {d.step} (loss {d.loss})", start)
            continue
        try:
            occupancies, preview = _generated(model.member(k).sample, child(seeds[k], 1), t, grids)
        except GenampError as exc:
            yield t, _failed(t, str(exc), start)
            continue
        meta = _meta(t)
        meta.update(
            status="ok",
            seconds=train_seconds + time.perf_counter() - t0,
            block=len(tasks),
            final_loss=None if model.losses is None else model.losses[-1, k].tolist(),
        )
        yield t, TaskOutput(dict(zip(spec["quantiles"], occupancies, strict=True)), meta, preview)


def _generated(
    sample: Callable[[int, Any], np.ndarray], seed: np.random.SeedSequence, task: Task, grids: list[QuantileGrid]
) -> tuple[list[Occupancy], np.ndarray | None]:
    """Occupancies of a generator's stream at every n_gen; repetition 0 also keeps a preview."""
    n_gen = task.spec["n_gen"]
    # one chunk up to the largest n_gen: a network's events are expensive, none is drawn in vain
    stream = sample_chunks(sample, n_gen[-1], seed, chunk_size=min(DEFAULT_CHUNK, n_gen[-1]))
    kept: list[np.ndarray] = []
    if task.repetition == 0:
        stream = _keep_first(stream, kept, PREVIEW_EVENTS)
    occupancies = count_occupancy(stream, grids, n_gen, what=f"{task.model} sample")
    return occupancies, (np.concatenate(kept) if kept else None)


def _keep_first(chunks: Iterable[np.ndarray], kept: list[np.ndarray], n: int) -> Iterator[np.ndarray]:
    have = 0
    for chunk in chunks:
        if have < n:
            kept.append(chunk[: n - have].copy())
            have += kept[-1].shape[0]
        yield chunk


def _meta(task: Task) -> dict[str, Any]:
    return {"task": task.label, "key": task.key, "model": task.model, "repetition": task.repetition}


def _failed(task: Task, error: str, start: float) -> TaskOutput:
    return TaskOutput({}, {**_meta(task), "status": "failed", "error": error, "seconds": time.perf_counter() - start})


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
    meta = _meta(task)
    preview = None
    entry = MODEL_REGISTRY[task.model]
    try:
        if entry.build is None:
            occupancies = count_occupancy(x_train, grids, what="training set")
            occupancies = [Occupancy.exact(o.fractions[0]) for o in occupancies]
        else:
            seed = model_seed(spec, task.model, task.repetition)
            model = entry.build(density).fit(x_train, child(seed, 0))
            if isinstance(model, ExactOccupancies):
                occupancies = [Occupancy.exact(model.cell_probabilities(g)) for g in grids]
            else:
                occupancies, preview = _generated(model.sample, child(seed, 1), task, grids)
            info = getattr(model, "info", None)
            if info is not None:
                meta["info"] = info()
    except GenampError as exc:
        return _failed(task, str(exc), start)
    meta.update(status="ok", seconds=time.perf_counter() - start)
    return TaskOutput(dict(zip(spec["quantiles"], occupancies, strict=True)), meta, preview)
