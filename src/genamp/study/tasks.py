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
from genamp.estimators.differential_summary import DifferentialRepetition
from genamp.models.base import ExactOccupancies, ensemble_indices, out_of_bag
from genamp.models.registry import BAYESIAN_OPTIONS, MODEL_REGISTRY
from genamp.seeding import MODEL, TRAINING_DATA, child, seed_sequence, stable_id
from genamp.study.config import StudyConfig
from genamp.volumes import DEFAULT_CHUNK, Occupancy, QuantileGrid, Volumes, count_occupancy, sample_chunks

#: generated events of repetition 0 kept in its task file for the density picture
PREVIEW_EVENTS = 20_000

#: events per generator and per truth sample of the differential method: the KS null at this
#: size, 0.8687·sqrt(2/2000) ≈ 0.027, resolves n_equiv up to about 10^3
DIFF_EVENTS = 2000

#: repetitions of a network trained together as one vectorised model (one work item)
BLOCK_SIZE = 20

#: bump when the content of task files changes meaning; old files are then recomputed
TASK_FORMAT = 5

#: what a task measures on its trained networks, not what trains them: a study that changes
#: only these samples its stored networks instead of training them again
EVALUATION_FIELDS = ("quantiles", "n_gen", "differential", "volumes")


@dataclass(frozen=True, eq=False)
class Task:
    """One model on one repetition (hashed by identity: a study's tasks are unique objects)."""

    model: str
    repetition: int
    spec: dict[str, Any]

    @property
    def spread(self) -> dict[str, Any] | None:
        """``{"members": K, "mode": ...}`` (ensemble), ``{"draws": M, ...}`` (posterior), or ``None``."""
        return self.spec.get("spread")

    @property
    def n_members(self) -> int:
        """Generators of the task: K members, M posterior draws, or 1."""
        spread = self.spread or {}
        return int(spread.get("members", spread.get("draws", 1)))

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

    @property
    def training_key(self) -> str:
        """Hash of what training depends on: the spec without what is measured on the trained
        networks (:data:`EVALUATION_FIELDS`); tasks that differ in those share their networks."""
        trained = {k: v for k, v in self.spec.items() if k not in EVALUATION_FIELDS}
        return hashlib.sha256(json.dumps(trained, sort_keys=True, default=float).encode()).hexdigest()[:12]

    def weights_path(self, root: Path) -> Path:
        """Where the task's trained networks are kept (``torch.save`` of :meth:`trained_state`)."""
        return root / "weights" / f"{self.model}-{self.training_key}" / f"rep{self.repetition:05d}.pt"


@dataclass
class TaskOutput:
    """Occupancies per set of volumes (:func:`volume_keys`), and what happened (status, fit values, timing)."""

    occupancies: dict[int, Occupancy]
    meta: dict[str, Any] = field(default_factory=dict)
    #: the first generated events of repetition 0, kept for the picture of the study
    preview: np.ndarray | None = None
    #: per number of quantiles, every generator's occupancies (K, n_gen sizes, cells) when the
    #: task ran several (``occupancies`` then holds their mixture, K·n_gen events per size)
    members: dict[int, np.ndarray] = field(default_factory=dict)
    #: the differential method's measurement (:func:`genamp.study.differential.measure`), if it ran
    differential: DifferentialRepetition | None = None
    #: the task's trained networks (:meth:`~genamp.models.neural.NeuralGenerator.trained_state`)
    #: where they were trained now, to be kept beside the task (``Task.weights_path``)
    trained: dict[str, Any] | None = None


@dataclass
class Work:
    """A work item: a block of tasks (:func:`blocks`) and, where every one of them has its
    networks stored, their trained states, loaded instead of training."""

    tasks: list[Task]
    trained: list[dict[str, Any]] | None = None


def plan(config: StudyConfig) -> list[Task]:
    """All tasks of a study, repetition-major so early results cover every model."""
    truth = _truth_spec(config)
    tasks = []
    for rep in range(config.repetitions):
        for model in config.models:
            spec = {"format": TASK_FORMAT, **truth, "model": model, "n_train": config.n_train, "seed": config.seed}
            if "pool" not in truth:
                spec["quantiles"] = sorted(config.quantiles)
            if MODEL_REGISTRY[model].sampled:
                spec["n_gen"] = list(config.n_gen)
            spread = config.spread_of(model)
            if spread is not None:
                spec["spread"] = spread
            # settings that differ from the model's defaults: a study at the defaults keeps its keys
            options = config.options_of(model)
            if options:
                spec["options"] = options
            if config.coordinates is not None and MODEL_REGISTRY[model].network:
                spec["coordinates"] = config.coordinates
            if "differential" in config.methods and MODEL_REGISTRY[model].likelihood:
                spec["differential"] = {"events": DIFF_EVENTS}
            tasks.append(Task(model, rep, spec))
    return tasks


def _truth_spec(config: StudyConfig) -> dict[str, Any]:
    """What every task of a study says of its truth: the toy density, or the pool file and the
    observable bins on it (their edges fixed here, once, at the file's quantiles)."""
    if config.pool is None:
        return {"density": config.make_density().spec()}
    from genamp.data.io import open_events
    from genamp.observables import columns, pairs, select
    from genamp.study import pooltruth

    pool = config.pool_spec
    f = open_events(pool["path"], pool["dataset"])
    names = pool["features"]
    obs = columns(pool["dim"], names) if config.observables is None else select(",".join(config.observables), pool["dim"], names)
    groups = pairs(",".join(config.pairs), pool["dim"], names) if config.pairs else []
    return {"pool": pool, "volumes": pooltruth.volume_specs(f, obs, groups, sorted(config.quantiles))}


def volume_sets(spec: dict[str, Any]) -> dict[int, Volumes]:
    """The volumes a task counts into, by key: its Q on a toy's grids, its position in the
    spec's ``volumes`` on a pool (the key names its arrays in the task file)."""
    if "pool" in spec:
        from genamp.study import pooltruth

        return dict(pooltruth.volumes(spec))
    density = _density(spec)
    return {q: QuantileGrid.from_density(density, q) for q in spec["quantiles"]}


def volume_keys(spec: dict[str, Any]) -> list[int]:
    """The keys of :func:`volume_sets`, without building the volumes."""
    return list(range(len(spec["volumes"]))) if "pool" in spec else list(spec["quantiles"])


def training_set(spec: dict[str, Any], repetition: int) -> np.ndarray:
    """The training events of a repetition (identical for every model)."""
    if "pool" in spec:
        from genamp.study import pooltruth

        return pooltruth.training_set(spec, repetition)
    density = _density(spec)
    return density.sample(spec["n_train"], seed_sequence(spec["seed"], repetition, TRAINING_DATA))


def _density(spec: dict[str, Any]) -> Density | None:
    """The toy truth of a task (``None`` on a pool: the networks never read it)."""
    if "density" not in spec:
        return None
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
    Ensembles fill a block with whole repetitions: ``block_size // K`` of them (at least one).
    """
    items: list[list[Task]] = []
    grouped: dict[tuple[str, str, int], list[Task]] = {}
    for task in tasks:
        if MODEL_REGISTRY[task.model].vectorised:
            per_block = max(1, block_size // task.n_members)
            grouped.setdefault((task.model, task.key, task.repetition // per_block), []).append(task)
        else:
            items.append([task])
    items += [sorted(b, key=lambda t: t.repetition) for _, b in sorted(grouped.items())]
    return items


def build(name: str, density: Density, device: str | None = None, **options: Any) -> Any:
    """An untrained model ``name`` with ``options``; a network on ``device`` (the CPU where
    ``None``), which is where it runs, not part of a task's identity: a seed draws the same
    numbers on every device (:mod:`genamp.models.neural`)."""
    entry = MODEL_REGISTRY[name]
    if entry.network and device is not None:
        options["device"] = device
    return entry.build(density, **options)  # type: ignore[misc]


def run_block(
    tasks: list[Task], device: str | None = None, samples: str | None = None, trained: list[dict[str, Any]] | None = None,
) -> Iterator[tuple[Task, TaskOutput]]:  # fmt: skip
    """Train the block's networks as one vectorised model (on ``device``), then count each
    member's sample; with ``trained`` (one state per task, as stored) load them instead.

    Each task's output is yielded as soon as its member is counted, so it can be stored at once,
    with its trained state where it was trained now. A member that diverged gives ``status:
    failed`` with the step and loss; the others go on.
    """
    if len(tasks) == 1 and not MODEL_REGISTRY[tasks[0].model].vectorised:
        yield tasks[0], run_task(tasks[0], device, samples, None if trained is None else trained[0])
        return
    start = time.perf_counter()
    spec, name = tasks[0].spec, tasks[0].model
    if any(t.model != name or t.key != tasks[0].key for t in tasks):
        raise ValueError("a block holds tasks of one model and one setting")
    density = _density(spec)
    grids = list(volume_sets(spec).values())
    k = tasks[0].n_members
    seeds = [model_seed(spec, name, t.repetition) for t in tasks]
    maps = [fit_coordinates(t, s) for t, s in zip(tasks, seeds, strict=True)]
    xs = np.concatenate([encode(c, training_sets(t, s), s) for t, s, c in zip(tasks, seeds, maps, strict=True)])
    model = build(name, density, device, **spec.get("options", {}))
    if MODEL_REGISTRY[name].coordinates is not None:  # a network that reads the four-momenta its map gives (lgatr-cfm)
        model.with_coordinates([c for c in maps for _ in range(k)])
    validation = None
    if trained is None and getattr(model, "patience", 0):
        parts = [validation_sets(t, s, c) for t, s, c in zip(tasks, seeds, maps, strict=True)]
        validation = None if any(p is None for p in parts) else [v for p in parts for v in p]  # type: ignore[union-attr]
    try:
        if trained is not None:
            model.load_trained(trained)
        else:
            model.fit_members(xs, [s for t, seed in zip(tasks, seeds, strict=True) for s in member_seeds(t, seed, 0)], validation)
    except GenampError as exc:
        for t in tasks:
            yield t, _failed(t, str(exc), start)
        return
    keep = trained is None and bool(getattr(model, "networks", ()))
    train_seconds = (time.perf_counter() - start) / len(tasks)
    for i, t in enumerate(tasks):
        t0 = time.perf_counter()
        mine = range(i * k, (i + 1) * k)
        bad = [(m - i * k, model.diverged[m]) for m in mine if m in model.diverged]
        if bad:
            which = "" if t.spread is None else f" (member {', '.join(str(m) for m, _ in bad)} of {k})"
            d = bad[0][1]
            yield t, _failed(t, f"{name} training of repetition {t.repetition} diverged{which} at step {d.step} (loss {d.loss})", start)
            continue
        generators = decode(maps[i], [model.member(m) for m in mine])
        try:
            out = _generated([g.sample for g in generators], member_seeds(t, seeds[i], 1), t, grids, samples)
            out.differential = _differential(t, generators, seeds[i], density, grids)
        except GenampError as exc:
            yield t, _failed(t, str(exc), start)
            continue
        out.meta.update(
            status="ok",
            seconds=train_seconds + time.perf_counter() - t0,
            block=len(tasks),
            final_loss=_final_loss(model.losses, i * k, k),
        )
        if trained is not None:
            out.meta["networks"] = "stored"  # sampled from the networks a study trained before
        if keep:
            out.trained = model.trained_state(mine)
        if getattr(model, "stopped", None) is not None:
            out.meta["stopped"] = model.stopped[i * k : (i + 1) * k]
        yield t, out


def _final_loss(losses: np.ndarray | None, first: int, k: int) -> Any:
    """The last recorded loss of generators ``first .. first+k-1``: a number, or a list for an ensemble."""
    if losses is None:
        return None
    last = losses[-1, first : first + k].tolist()
    return last if k > 1 else last[0]


def training_sets(task: Task, seed: np.random.SeedSequence) -> np.ndarray:
    """The training sets of a task's generators (K, n_train, dim): copies or bootstrap resamples."""
    x = training_set(task.spec, task.repetition)
    spread = task.spread
    if spread is None or "members" not in spread:
        return x[None]
    return x[_member_rows(task, seed, len(x))]


def _member_rows(task: Task, seed: np.random.SeedSequence, n: int) -> np.ndarray:
    """The rows (K, n) of the repetition's training set each member trains on (stream 2)."""
    spread = task.spread or {}
    return ensemble_indices(n, spread["members"], spread["mode"], child(seed, 2))


def validation_sets(task: Task, seed: np.random.SeedSequence, coords: Any | None = None) -> list[np.ndarray] | None:
    """Each bootstrap member's out-of-bag events (in the task's coordinates), its validation set;
    ``None`` where the generators see every event (one network, a seed ensemble)."""
    spread = task.spread
    if spread is None or spread.get("mode") != "bootstrap":
        return None
    x = training_set(task.spec, task.repetition)
    sets = out_of_bag(x, _member_rows(task, seed, len(x)))
    if coords is None:
        return sets
    return [coords.transform(_objects(v), child(seed, 6, k)) for k, v in enumerate(sets)]


def fit_coordinates(task: Task, seed: np.random.SeedSequence) -> Any | None:
    """The map of the task's coordinates (:mod:`genamp.models.coordinates`), fitted on its
    repetition's training set; ``None`` where the network trains on the pool's columns."""
    name = task.spec.get("coordinates")
    if name is None:
        return None
    from genamp.models.coordinates import make_coordinates

    x = training_set(task.spec, task.repetition)
    return make_coordinates(name, task.spec["pool"]["features"]).fit(_objects(x), child(seed, 5))


def _objects(x: np.ndarray) -> np.ndarray:
    """Pool rows (n, 4k) of k four-momenta as (n, k, 4)."""
    return x.reshape(x.shape[0], -1, 4)


def encode(coords: Any | None, xs: np.ndarray, seed: np.random.SeedSequence) -> np.ndarray:
    """The generators' training sets (K, n, dim) in the coordinates (each member's own
    dequantisation stream); as they are without a map."""
    if coords is None:
        return xs
    return np.stack([coords.transform(_objects(x), child(seed, 5, k)) for k, x in enumerate(xs)])


def decode(coords: Any | None, generators: list[Any]) -> list[Any]:
    """Trained generators that sample the pool's columns: wrapped in the map, where there is one."""
    if coords is None:
        return generators
    from genamp.models.coordinates import InCoordinates

    return [InCoordinates(g, coords) for g in generators]


def member_seeds(task: Task, seed: np.random.SeedSequence, stream: int) -> list[np.random.SeedSequence]:
    """Seeds of a task's generators for ``stream`` (0: training, 1: sampling); one network keeps
    its single seed ``child(seed, stream)``, so results without an ensemble are unchanged."""
    if task.spread is None:
        return [child(seed, stream)]
    return [child(seed, stream, m) for m in range(task.n_members)]


def _generated(
    samplers: list[Callable[[int, Any], np.ndarray]],
    seeds: list[np.random.SeedSequence],
    task: Task,
    grids: list[Volumes],
    samples: str | None = None,
) -> TaskOutput:
    """Occupancies of every generator's stream at every n_gen, one generator after the other.

    Memory holds one chunk of events and K × sizes × cells counts, never K × n_gen events. With
    several generators the task's occupancies are their mixture (an equal share from each,
    K·n_gen events); repetition 0 keeps a preview of the mixture for the density picture. With
    ``samples`` every generator's events and the training set are also written there as they
    pass (:func:`keep_samples`).
    """
    n_gen = task.spec["n_gen"]
    kept: list[np.ndarray] = []
    per_member: list[list[Occupancy]] = []
    folder = None if samples is None else keep_samples(task, Path(samples))
    for m, (sample, seed) in enumerate(zip(samplers, seeds, strict=True)):
        # one chunk up to the largest n_gen: a network's events are expensive, none is drawn in vain
        stream = sample_chunks(sample, n_gen[-1], seed, chunk_size=min(DEFAULT_CHUNK, n_gen[-1]))
        if task.repetition == 0:
            stream = _keep_first(stream, kept, PREVIEW_EVENTS // len(samplers))
        what = f"{task.model} sample" + (f" of generator {m}" if len(samplers) > 1 else "")
        if folder is None:
            per_member.append(count_occupancy(stream, grids, n_gen, what=what))
            continue
        with _EventsWriter(folder / f"member{m:02d}.h5", n_gen[-1], _feature_names(task.spec)) as writer:
            per_member.append(count_occupancy(writer.passing(stream), grids, n_gen, what=what))
    preview = np.concatenate(kept) if kept else None
    quantiles = volume_keys(task.spec)
    if len(samplers) == 1:
        return TaskOutput(dict(zip(quantiles, per_member[0], strict=True)), _meta(task), preview)
    members = {q: np.stack([occ[i].fractions for occ in per_member]) for i, q in enumerate(quantiles)}
    mixture = {q: Occupancy(len(samplers) * per_member[0][i].n, f.mean(axis=0)) for i, (q, f) in enumerate(members.items())}
    return TaskOutput(mixture, _meta(task), preview, members)


def keep_samples(task: Task, root: Path) -> Path:
    """The folder of a task's files under ``root``, ``{model}-{setting}/rep{r}``, with its
    training set written as ``train.h5``; its generators' events go beside it as
    ``member{m}.h5`` (HDF5, dataset ``events``, attribute ``features``)."""
    folder = root / f"{task.model}-{task.key[:12]}" / f"rep{task.repetition:05d}"
    folder.mkdir(parents=True, exist_ok=True)
    x = training_set(task.spec, task.repetition)
    with _EventsWriter(folder / "train.h5", x.shape[0], _feature_names(task.spec)) as writer:
        writer.add(x)
    return folder


def _feature_names(spec: dict[str, Any]) -> list[str] | None:
    features = spec.get("pool", {}).get("features")
    return None if features is None else list(features)


class _EventsWriter:
    """Events written to an HDF5 file as they pass, under a temporary name until complete."""

    def __init__(self, path: Path, n: int, features: list[str] | None) -> None:
        self.path, self.n, self.features, self.at = path, n, features, 0
        self.tmp = path.with_name(f".{path.name}.tmp")

    def __enter__(self) -> _EventsWriter:
        import h5py

        self.file = h5py.File(self.tmp, "w")
        self.data = None
        return self

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64).reshape(x.shape[0], -1)
        if self.data is None:
            self.data = self.file.create_dataset("events", (self.n, x.shape[1]), dtype="f8")
            if self.features is not None:
                self.data.attrs["features"] = self.features
        take = min(x.shape[0], self.n - self.at)
        self.data[self.at : self.at + take] = x[:take]
        self.at += take

    def passing(self, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for chunk in chunks:
            self.add(chunk)
            yield chunk

    def __exit__(self, kind: object, *rest: object) -> None:
        self.file.close()
        if kind is None and self.at == self.n:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)


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


def run_task(task: Task, device: str | None = None, samples: str | None = None, trained: dict[str, Any] | None = None) -> TaskOutput:
    """Train the task's model (or its ensemble, or its Bayesian posterior) and count occupancies;
    a Bayesian network's posterior is loaded from ``trained`` (as stored) where given.

    A :class:`GenampError` (a fit that does not converge, a diverging training) is a result,
    not a crash: the output says ``status: failed`` with the message.
    """
    start = time.perf_counter()
    try:
        out = _run(task, device, samples, trained)
    except GenampError as exc:
        return _failed(task, str(exc), start)
    out.meta.update(status="ok", seconds=time.perf_counter() - start)
    return out


def _run(task: Task, device: str | None = None, samples: str | None = None, trained: dict[str, Any] | None = None) -> TaskOutput:
    spec = task.spec
    density = _density(spec)
    grids = list(volume_sets(spec).values())
    x_train = training_set(spec, task.repetition)
    entry = MODEL_REGISTRY[task.model]
    exact: list[np.ndarray]
    if entry.build is None:
        exact = [o.fractions[0] for o in count_occupancy(x_train, grids, what="training set")]
        return _exact(task, exact, {})
    seed = model_seed(spec, task.model, task.repetition)
    spread = task.spread or {}
    coords = fit_coordinates(task, seed)
    if "draws" in spread:
        # one Bayesian training; its generators are fixed draws from the weight posterior
        options = {k: spread[k] for k in BAYESIAN_OPTIONS if k in spread}
        bayes = build(task.model, density, device, **options, **spec.get("options", {}))
        if trained is not None:
            bayes.load_trained([trained])
        else:
            bayes.fit(encode(coords, x_train[None], seed)[0], child(seed, 0))
        draws = decode(coords, bayes.draws(spread["draws"], child(seed, 2)))
        out = _generated([d.sample for d in draws], member_seeds(task, seed, 1), task, grids, samples)
        out.differential = _differential(task, draws, seed, density, grids)
        if trained is None:
            out.trained = bayes.trained_state() if entry.network else None  # the Laplace fit keeps nothing
        else:
            out.meta["networks"] = "stored"
        return out
    if "members" in spread:
        xs = encode(coords, training_sets(task, seed), seed)
        options = spec.get("options", {})
        fitted = decode(coords, [build(task.model, density, device, **options).fit(x, s) for x, s in zip(xs, member_seeds(task, seed, 0), strict=True)])
        out = _generated([f.sample for f in fitted], member_seeds(task, seed, 1), task, grids, samples)
        out.differential = _differential(task, fitted, seed, density, grids)
        return out
    model = build(task.model, density, device, **spec.get("options", {})).fit(encode(coords, x_train[None], seed)[0], child(seed, 0))
    (model,) = decode(coords, [model])
    info = getattr(model, "info", None)
    extra = {} if info is None else {"info": info()}
    if isinstance(model, ExactOccupancies):
        return _exact(task, [model.cell_probabilities(g) for g in grids], extra)
    out = _generated([model.sample], [child(seed, 1)], task, grids, samples)
    out.differential = _differential(task, [model], seed, density, grids)
    out.meta.update(extra)
    return out


def _differential(
    task: Task, generators: list[Any], seed: np.random.SeedSequence, density: Density, grids: list[QuantileGrid]
) -> DifferentialRepetition | None:
    """The differential method's measurement, when the study asks for it (likelihood models only)."""
    if "differential" not in task.spec:
        return None
    from genamp.study.differential import measure, measure_pool

    events = task.spec["differential"]["events"]
    if "pool" in task.spec:
        from genamp.study import pooltruth

        observables = pooltruth.observables_of(task.spec)
        reference = pooltruth.reference_set(task.spec, task.repetition, 3 * events)
        inputs = lambda x: np.column_stack([o(x) for o in observables])  # noqa: E731
        return measure_pool(generators, reference, child(seed, 4), events, inputs, [o.name for o in observables])
    return measure(generators, density, child(seed, 4), events, grids)


def _exact(task: Task, probabilities: list[np.ndarray], extra: dict[str, Any]) -> TaskOutput:
    occupancies = [Occupancy.exact(p) for p in probabilities]
    return TaskOutput(dict(zip(volume_keys(task.spec), occupancies, strict=True)), {**_meta(task), **extra})
