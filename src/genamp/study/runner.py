"""Run a study: plan tasks, run what is not on disk yet, aggregate, write results and plots."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from genamp import __version__
from genamp.errors import GenampError
from genamp.estimators.averaging import AveragingForecast, forecast, resolution_advice
from genamp.estimators.calibration import (
    LEVELS,
    AveragingSummary,
    member_plateau,
    summarise,
)
from genamp.estimators.differential_summary import (
    DifferentialRepetition,
    summarise_differential,
)
from genamp.estimators.falsification import Falsification, falsify
from genamp.estimators.generation import advise, n_gen_for, overall
from genamp.estimators.truth import (
    RepetitionSummary,
    TruthAmplification,
    TruthLike,
    cells,
    combine_repetitions,
    summarise_repetition,
    volume_amplification,
)
from genamp.estimators.verdicts import averaging_warnings, differential_warnings
from genamp.models.registry import MODEL_REGISTRY
from genamp.study import store
from genamp.study.config import StudyConfig
from genamp.study.executors import LocalExecutor, compute, default_workers, execute
from genamp.study.executors import store as store_outputs
from genamp.study.tasks import Task, Work, blocks, plan, volume_sets
from genamp.volumes import QuantileGrid, Volumes, count_occupancy

#: called after every finished task with (tasks done, tasks in total, summary of the task)
ProgressCallback = Callable[[int, int, dict[str, Any]], None]


class StudyInterrupted(GenampError):
    """The study was stopped; finished tasks are on disk and the same command resumes."""


@dataclass
class StudyResult:
    config: StudyConfig
    out: Path
    records: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    ran: int
    resumed: int
    plots: list[Path] = field(default_factory=list)
    #: task files found damaged or belonging to another task, and redone: task, file, reason
    redone: list[dict[str, str]] = field(default_factory=list)
    #: where the results of a study with other settings in the same folder were moved, and how
    #: the settings differ (``None`` when the folder held this study or none)
    previous: Path | None = None
    changes: list[str] = field(default_factory=list)
    #: per model, how many events to generate (:func:`genamp.estimators.generation.overall`)
    generation: dict[str, Any] = field(default_factory=dict)

    @property
    def results_path(self) -> Path:
        return self.out / "results.json"


def run_study(
    config: StudyConfig,
    out: Path | str,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    retry_failed: bool = False,
    plots: bool = True,
    device: str | None = None,
    samples: Path | str | None = None,
    cluster: Any = None,
) -> StudyResult:
    """Run (or resume) ``config`` into ``out``; finished tasks found there are not redone.

    ``cluster``: run the tasks on a Dask cluster instead of ``workers`` local processes,
    ``local:N``, a scheduler's ``tcp://HOST:PORT`` or a ``distributed.Client`` of the caller's
    (:mod:`genamp.cluster`); the workers return the tasks' outputs and this process writes them.
    Like ``workers`` it does not change a number.

    ``device`` (``"cpu"``, ``"cuda"``) is where the networks train and sample; like ``workers``
    it is how the study runs, not what it is: a task trained on a GPU is a finished task on a CPU.
    ``samples``: a folder where every task run now writes its generators' events and its
    training set as files (:func:`genamp.study.tasks.keep_samples`), for ``genamp assess`` or
    any other tool; like ``device`` it does not change what a task is.

    Every task file found is checked before it is used (:func:`genamp.study.store.inspect`); a
    damaged one is reported through ``progress`` (status ``damaged``) and redone. One run at a
    time writes a folder: a second one is refused with a clear error.
    """
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise GenampError(f"workers must be at least 1, got {workers}")
    if device is not None:
        from genamp.models.neural import as_device

        device = str(as_device(device))  # a device that is not here stops the study before it starts
    root = store.prepare_output(Path(out))
    if samples is not None:
        store.prepare_output(Path(samples))  # a folder that cannot take the files stops the study before it starts
    if isinstance(cluster, str):
        from genamp.cluster import parse

        parse(cluster)  # a malformed address stops the study before it starts
    with store.StudyLock(root):
        return _run_locked(config, root, workers, progress, retry_failed, plots, device, samples, cluster)


def _run_locked(
    config: StudyConfig, root: Path, workers: int, progress: ProgressCallback | None, retry_failed: bool, plots: bool,
    device: str | None = None, samples: Path | str | None = None, cluster: Any = None,
) -> StudyResult:  # fmt: skip
    store.remove_stale_temporaries(root)
    previous = keep_previous_results(root, config)
    store.write_json(root / "study.json", {"genamp": __version__, "config": config.to_dict()})

    tasks = plan(config)
    # the truth first: a pool with a NaN or too few events per volume stops the study before training
    truths = study_truth(tasks, volume_sets(tasks[0].spec), config.holdout)
    # only metadata is held in memory; occupancies are read back one task at a time
    metas: dict[Task, dict[str, Any]] = {}
    todo, redone = [], []
    for task in tasks:
        done, damage = store.inspect(root, task)
        if damage is not None:
            redone.append({"task": task.label, "file": str(task.path(root)), "reason": damage})
            task.path(root).unlink(missing_ok=True)
        if done is not None and (done["status"] == "ok" or not retry_failed):
            metas[task] = done
        else:
            todo.append(task)
    resumed = len(metas)
    if progress is not None:
        if previous is not None:
            where, changes = previous
            progress(resumed, len(tasks), {"task": None, "status": "note", "error": (
                f"{root} held a study with other settings ({'; '.join(changes)}): a new study was started beside it; "
                f"its results and plots are kept in {where}, the task files they share are reused")})  # fmt: skip
        for r in redone:
            progress(resumed, len(tasks), {"task": r["task"], "status": "damaged", "error": f"{r['file']}: {r['reason']}; redone"})
        progress(resumed, len(tasks), {"task": None, "status": "resumed"})
    finished = resumed
    kept = None if samples is None else str(samples)
    work = [stored_networks(root, b) for b in blocks(todo)]
    try:
        with contextlib.ExitStack() as stack:
            if cluster is None:
                runs = LocalExecutor(workers).run(functools.partial(execute, root=str(root), device=device, samples=kept), work)
                summaries = (s for item in runs for s in item)
            else:
                from genamp.cluster import DaskExecutor, connect

                client = stack.enter_context(connect(cluster)) if todo else None
                runs = DaskExecutor(client).run(functools.partial(compute, device=device, samples=kept), work)
                summaries = (s for item in runs for s in store_outputs(str(root), item))
            stack.enter_context(contextlib.closing(runs))
            for summary in summaries:
                if summary["status"] == "crashed":
                    raise _crash(root, summary, _saved(root, tasks))
                finished += 1
                if progress is not None:
                    progress(finished, len(tasks), summary)
    except KeyboardInterrupt:
        # a worker stores each task as it finishes; its summary may not have arrived: count the store
        raise StudyInterrupted(
            f"stopped with {_saved(root, tasks)} of {len(tasks)} tasks saved in {root}: "
            "run the same command again to resume"
        ) from None

    for task in todo:
        meta, damage = store.inspect(root, task)
        if meta is None:
            raise GenampError(
                f"task {task.label} finished but its file {task.path(root)} is {damage or 'missing'}; "
                "the same command redoes it"
            )
        metas[task] = meta
    records, failures = aggregate(config, tasks, metas, root, truths)
    warnings = list(config.warnings)
    for rec in records:  # the study's caveats, then the record's own verdicts
        rec["warnings"] = warnings + rec.get("warnings", [])
    # what the caller holds is what results.json says: no number is null, never NaN
    records, failures = store.to_json_safe(records), store.to_json_safe(failures)
    generation = generation_advice(records)
    store.write_results(root / "results.json", records, warnings, config=config.to_dict(), failures=failures, redone=redone,
                        generation=generation)  # fmt: skip
    result = StudyResult(config, root, records, failures, ran=len(todo), resumed=resumed, redone=redone, generation=generation)
    if previous is not None:
        result.previous, result.changes = previous
    if plots:
        from genamp.report.plots import study_plots

        result.plots = study_plots(config, root, records, pictures(config, root, tasks, metas))
    return result


def stored_networks(root: Path, block: list[Task]) -> Work:
    """A block as a work item, with its tasks' trained networks where a study in ``root``
    (this one stopped, or one with another resolution, ``n_gen`` or method) kept every one of
    them: it then samples them instead of training again (same seeds, same events)."""
    entry = MODEL_REGISTRY[block[0].model]
    if not (entry.vectorised or (entry.bayesian and entry.network)):
        return Work(block)
    states = []
    for task in block:
        state = store.read_weights(task.weights_path(root))
        if state is None:
            return Work(block)
        states.append(state)
    return Work(block, states)


def pictures(config: StudyConfig, root: Path, tasks: list[Task], metas: dict[Task, dict[str, Any]]) -> Any:
    """What the plots show beyond the records, read here from the first repetition's task files."""
    from genamp.report.plots import StudyPictures
    from genamp.study.tasks import training_set

    density = None if config.pool is not None else config.make_density()
    first = min(t.repetition for t in tasks)
    out = StudyPictures(density, training_set(tasks[0].spec, first))
    if config.pool is not None and "differential" in config.methods:
        from genamp.study.differential import mapped_observables
        from genamp.study.pooltruth import observables_of

        names = [o.name for o in observables_of(tasks[0].spec)]
        out.mapped_axes = tuple(names[i] for i in mapped_observables(names))
    for t in tasks:
        if metas[t]["status"] != "ok":
            continue
        if t.model == "fit" and t.repetition == first:
            out.fitted = density.with_params(**metas[t]["info"]["values"])
        needs_map = "differential" in config.methods and t.model not in out.mapped
        if t.repetition != first and not needs_map:
            continue
        output = store.read_task(t.path(root), t)
        if output is None:
            continue
        if t.repetition == first and output.preview is not None:
            out.generated[t.model] = output.preview
        if needs_map and output.differential is not None and output.differential.mapped is not None:
            out.mapped[t.model] = (output.differential.mapped.events, output.differential.mapped.n_equiv)
    return out


def _saved(root: Path, tasks: list[Task]) -> int:
    """Finished tasks as the store counts them (whole files written for their task)."""
    return sum(store.task_done(root, t) is not None for t in tasks)


def _crash(root: Path, summary: dict[str, Any], saved: int) -> GenampError:
    """The error for a task that raised: what happened, where the traceback is, whether a rerun helps."""
    log = root / "crash.log"
    store.write_text(log, f"{summary['task']}\n{summary['error']}")
    last = summary["error"].strip().splitlines()[-1]
    if summary.get("environment"):
        advice = (
            f"this is the machine, not the study (memory or disk): free some (or use fewer --workers), then "
            f"the same command resumes with the {saved} saved tasks"
        )
    else:
        advice = (
            f"a bug, not bad input: running the same command again crashes at the same task; please report "
            f"{log.name}. The {saved} saved tasks are kept for the run after the fix"
        )
    return GenampError(f"task {summary['task']} crashed ({last}); traceback in {log}. {advice}")


#: where the results of a study with other settings in the same folder are kept
PREVIOUS = "previous"


def keep_previous_results(root: Path, config: StudyConfig) -> tuple[Path, list[str]] | None:
    """Move the results of a study with other settings in ``root`` to ``root/previous/KEY/``.

    Returns where they went and the settings that differ, or ``None`` when ``root`` holds no
    study or this one. Task files stay where they are: those the two studies share are reused.
    """
    path = root / "study.json"
    if not path.is_file():
        return None
    new = json.loads(json.dumps(store.to_json_safe(config.to_dict())))
    try:
        old = json.loads(path.read_text())["config"]
        if not isinstance(old, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        old = None
    if old is not None:
        # a field added since the old study.json was written (settings) was at its default there
        for f in fields(StudyConfig):
            if f.name in new and f.name not in old:
                default = f.default if f.default_factory is MISSING else f.default_factory()
                old[f.name] = store.to_json_safe(default)
    if old == new:
        return None
    if old is None:
        changes, key = ["the old settings are unreadable"], "unreadable"
    else:
        changes = [f"{k} {old.get(k)} → {v}" for k, v in new.items() if k != "density_spec" and old.get(k) != v]
        changes = changes or [f"density_spec {old.get('density_spec')} → {new['density_spec']}"]
        key = hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:12]
    dest = root / PREVIOUS / key
    dest.mkdir(parents=True, exist_ok=True)
    written = ("results.json", "study.json", VOLUME_TABLE)  # and the plots
    for p in [*(root / n for n in written), *sorted(root.glob("*.png"))]:
        if p.is_file():
            os.replace(p, dest / p.name)
    return dest, changes


def aggregate(
    config: StudyConfig,
    tasks: list[Task],
    metas: dict[Task, dict[str, Any]],
    root: Path,
    truths: dict[int, TruthLike] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Records per model, method and resolution, and the list of failed repetitions.

    Task files are read one at a time and reduced at once (to MSE curves and plateaus for the
    truth method, to per-volume forecasts for the averaging method), so memory grows with the
    number of repetitions × cells, not with repetitions × sample sizes × generators × cells.
    The averaging method also writes its per-volume table beside ``results.json``. ``truths``
    (:func:`study_truth`) are computed here when not given.
    """
    grids = volume_sets(tasks[0].spec)
    truths = study_truth(tasks, grids, config.holdout) if truths is None else truths
    records: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []
    held_out: dict[int, dict[int, np.ndarray]] = {}  # per repetition, shared by every model
    for model in config.models:
        mine = sorted((t for t in tasks if t.model == model), key=lambda t: t.repetition)
        ok = [t for t in mine if metas[t]["status"] == "ok"]
        failures += [
            {"model": model, "repetition": t.repetition, "error": metas[t].get("error")}
            for t in mine
            if metas[t]["status"] != "ok"
        ]
        spread = config.spread_of(model)
        averaging = "averaging" in config.methods and spread is not None
        summaries: dict[int, list[RepetitionSummary]] = {q: [] for q in grids}
        forecasts: dict[int, list[AveragingForecast]] = {q: [] for q in grids}
        verdicts: dict[int, list[Falsification]] = {q: [] for q in grids}
        member_b: dict[int, list[float]] = {q: [] for q in grids}
        n_gen: dict[int, np.ndarray] = {}
        measured: list[DifferentialRepetition] = []
        for t in ok:
            try:
                output = store.load_task(t.path(root), t)
            except store.DamagedTask as exc:
                raise GenampError(f"{exc} (changed while the study ran); the same command redoes it") from None
            if output is None:
                raise GenampError(f"{t.path(root)} was removed while the study ran; the same command redoes it")
            if output.differential is not None:
                measured.append(output.differential)
            if averaging and config.holdout and t.repetition not in held_out:
                held_out[t.repetition] = holdout_fractions(config, grids, t.repetition)
            held = held_out.get(t.repetition)
            for q, grid in grids.items():
                occ = output.occupancies[q]
                summaries[q].append(summarise_repetition(occ.fractions, occ.n, truths[q], config.plateau))  # type: ignore[arg-type]
                n_gen[q] = occ.n
                if averaging:
                    last, size = output.members[q][:, -1], float(t.spec["n_gen"][-1])
                    forecasts[q].append(forecast(last, size, config.n_train, significance=config.significance))
                    if held is not None:
                        verdicts[q].append(falsify(forecasts[q][-1], held[q], config.holdout, seed=config.seed))
                    member_b[q].append(member_plateau(last, size, truths[q]))
        for q, grid in grids.items():
            base = {**record_header(model, grid, config.n_train, len(ok), config.pool), "n_failed": len(mine) - len(ok)}
            if spread is not None:
                base["spread"] = spread
            if "truth" in config.methods:
                if not ok:
                    records.append({**base, "n_equiv": None, "G": None, "G_std": None, "error": "every repetition failed"})
                else:
                    res = combine_repetitions(summaries[q], n_gen[q], truths[q], config.n_train)
                    records.append({**base, **truth_record(res)})
            if averaging:
                base = {**base, "method": "averaging", "table": VOLUME_TABLE}
                if not ok:
                    failed = {**base, "G_inf": None, "error": "every repetition failed"}
                    records.append({**failed, "warnings": averaging_warnings(failed)})
                    continue
                summary = summarise(forecasts[q], truths[q], member_b[q], seed=config.seed)
                records.append({**base, **averaging_record(summary, forecasts[q][0], base, verdicts[q])})
                truth = volume_amplification(np.stack([r.last for r in summaries[q]]), float(n_gen[q][-1]), truths[q],
                                             config.n_train)  # fmt: skip
                tables.append({"model": model, "grid": grid, "p": cells(truths[q]).p, "summary": summary,
                               "first": forecasts[q][0], "truth": truth})  # fmt: skip
        if "differential" in config.methods and ok and mine[0].spec.get("differential"):
            # about the whole event, not a volume: on a pool its file, no observable (its "truth" is the check)
            header = {k: v for k, v in record_header(model, next(iter(grids.values())), config.n_train, len(ok), config.pool).items()
                      if k not in ("quantiles", "n_cells", "observable", "edges_from", "truth")}  # fmt: skip
            header.update(method="differential", quantiles=None, n_failed=len(mine) - len(ok),
                          spread=spread)  # fmt: skip
            events = mine[0].spec["differential"]["events"]
            rec = {**header, **summarise_differential(measured, mine[0].n_members, config.n_train, events).to_record()}
            records.append({**rec, "warnings": differential_warnings(store.to_json_safe(rec))})
    if tables:
        write_volume_table(root / VOLUME_TABLE, tables)
    return records, failures


def generation_advice(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per model, the events beyond which generating more gains less than 10%, over its records
    (docs/formulas.md §7.6); models without advice are left out."""
    models = dict.fromkeys(r["model"] for r in records)
    advice = {m: overall([r for r in records if r["model"] == m]) for m in models}
    return {m: a for m, a in advice.items() if a is not None}


def holdout_fractions(config: StudyConfig, grids: dict[int, Volumes], repetition: int) -> dict[int, np.ndarray]:
    """The occupancies of repetition ``repetition``'s holdout: ``config.holdout`` true events, of
    the toy from a stream of their own that no training set draws from, or rows of the pool that
    its members did not train on and the truth leaves out (docs/formulas.md §7.7)."""
    from genamp.seeding import HOLDOUT, seed_sequence

    if config.pool is not None:
        from genamp.study.pooltruth import holdout_set

        spec = {"pool": config.pool_spec, "seed": config.seed, "n_train": config.n_train}
        events = holdout_set(spec, repetition, config.holdout)
    else:
        events = config.make_density().sample(config.holdout, seed_sequence(config.seed, repetition, HOLDOUT))
    keys = list(grids)
    return dict(zip(keys, (o.fractions[0] for o in count_occupancy(events, [grids[k] for k in keys], what="holdout")), strict=True))


def study_truth(tasks: list[Task], volumes: dict[int, Volumes], holdout: int = 0) -> dict[int, TruthLike]:
    """The truth of every set of volumes: a toy grid's exact ``p_j``, or on a pool the counts
    of the rows no repetition of the study trained on (:func:`genamp.study.pooltruth.truth_cells`)."""
    spec = tasks[0].spec
    if "pool" not in spec:
        return {k: v.probabilities for k, v in volumes.items()}  # type: ignore[union-attr]
    from genamp.study.pooltruth import truth_cells

    return dict(truth_cells(spec, sorted({t.repetition for t in tasks}), holdout))


def record_header(model: str, grid: Volumes, n_train: int, repetitions: int, pool: str | None = None) -> dict[str, Any]:
    """What a truth-based record is about: model, truth (a toy, or a pool and its observable),
    resolution, sizes."""
    if isinstance(grid, QuantileGrid):
        truth: dict[str, Any] = {"density": grid.density.name, "dim": grid.density.dim}
    else:
        truth = {"truth": "pool", "pool": pool, "observable": grid.name, "edges_from": "the pool"}
    return {
        "method": "truth",
        "model": model,
        **truth,
        "quantiles": grid.quantiles,
        "n_cells": grid.n_cells,
        "n_train": n_train,
        "repetitions": repetitions,
    }


def truth_record(res: TruthAmplification) -> dict[str, Any]:
    """The JSON fields of a truth-based result (inf and NaN become null on writing); against a
    pool also its size and its share of the plateau's error."""
    pool = {"pool_size": int(res.pool_size), "pool_error": res.pool_error} if np.isfinite(res.pool_size) else {}
    # the plateau's n_equiv is the asymptote n_equiv,∞ of docs/formulas.md §7.6
    std = res.n_equiv * res.G_std / res.G if res.resolved and res.G > 0 else None
    gen = advise(res.n_equiv if res.resolved else None, std, res.n_equiv_lower)
    return {
        **pool,
        **gen.to_record(),
        "n_equiv": res.n_equiv,
        "n_equiv_lower": res.n_equiv_lower,
        "G": res.G,
        "G_std": res.G_std,
        "G_spread": list(res.G_spread),
        "G_median": res.G_median,
        "resolved": res.resolved,
        "plateau": res.plateau,
        "plateau_error": res.plateau_error,
        "c": res.c,
        "curve": {
            "n_gen": [None if not np.isfinite(n) else int(n) for n in res.n_gen],
            "mse_mean": res.mse_mean,
            "mse_std": res.mse_std,
        },
    }


#: the averaging method's per-volume table, beside results.json
VOLUME_TABLE = "averaging_volumes.csv"


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def averaging_record(
    summary: AveragingSummary, first: AveragingForecast, header: dict[str, Any] | None = None,
    verdicts: list[Falsification] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The JSON fields of an averaging forecast over repetitions, with its closure and calibration.

    ``G_inf`` is ``None`` where the forecast is not resolved (``notes`` say why and what would
    resolve it); ``one_training`` is what a user with the first repetition's training alone sees.
    ``verdicts`` (one per repetition, against its holdout) give ``falsified``, ``falsification_p``
    and ``n_equiv_reach`` of the first training, the volumes it fails, and over repetitions the
    fraction falsified (docs/formulas.md §7.7).
    """
    resolved = bool(np.isfinite(summary.G_inf))
    (c68, r68), (c95, r95) = summary.coverage_at(LEVELS[0]), summary.coverage_at(LEVELS[1])
    single: dict[str, Any] = {
        "resolved": first.total_resolved,
        "G_inf": _num(first.total_G_inf),
        "G_inf_lower": _num(first.total_G_inf_lower),
        "G": _num(first.total_G),
        "volumes_resolved": int(first.resolved.sum()),
        "volumes_unresolved": int((first.status == "unresolved").sum()),
        "volumes_few_events": int((first.status == "few events").sum()),
        "volumes_empty": int((first.status == "empty").sum()),
    }
    if not first.total_resolved:
        single["advice"] = resolution_advice(first.total_n_gen_needed, first.total_members_needed, first.n_gen, first.n_members)
    record = {
        "members": summary.n_members,
        "n_gen": summary.n_gen,
        "n_sample": summary.n_members * summary.n_gen,
        "significance": first.significance,
        "resolved": resolved,
        "G": summary.G,
        "G_inf": summary.G_inf,
        "G_inf_std": summary.G_inf_std,
        "G_inf_spread": list(summary.G_inf_spread),
        "G_inf_member": summary.G_inf_member,
        "resolved_fraction": summary.resolved_fraction,
        "volumes_resolved_fraction": summary.volumes_resolved_fraction,
        "truth_G": summary.truth_G,
        "truth_G_std": summary.truth_G_std,
        "truth_G_member": summary.truth_G_member,
        "coverage": {"68": c68, "95": c95},
        "reference_coverage": {"68": r68, "95": r95},
        "calibration": {
            "levels": list(summary.levels),
            "observed": summary.coverage,
            "reference": summary.reference_coverage,
        },
        "one_training": single,
        "notes": list(summary.notes),
        # docs/formulas.md §7.6: n_equiv,∞ = G∞ n_train of the mixture; one training's bound where unresolved
        **advise(summary.G_inf * summary.n_train, summary.G_inf_std * summary.n_train,
                 first.total_G_inf_lower * first.n_train).to_record(),
    }
    if verdicts:
        one = verdicts[0]
        record.update(
            holdout=one.n_holdout, falsified=one.falsified, falsification_p=one.p_value, n_equiv_reach=one.n_equiv_reach,
            falsification={"chi2": one.chi2, "volumes": one.volumes, "threshold": one.threshold,
                           "failing_volumes": one.failing.tolist(),
                           "falsified_fraction": float(np.mean([v.falsified for v in verdicts]))},
        )  # fmt: skip
    # verdicts read the record as results.json holds it (a number that is not there is None)
    record["warnings"] = averaging_warnings(store.to_json_safe({**header, **record})) if header is not None else []
    return record


def write_volume_table(path: Path, tables: list[dict[str, Any]]) -> None:
    """Per-volume forecasts as CSV: pooled over repetitions, and the first repetition's alone;
    beside them the truth-based G of the same volume (docs/formulas.md §1.7)."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    axes = max(len(t["grid"].shape) for t in tables)
    # on a pool the volumes are bins of an observable, named in their own column
    named = any(not isinstance(t["grid"], QuantileGrid) for t in tables)
    writer.writerow(
        ["model", *(["observable"] if named else []), "quantiles", "cell", *[f"{k}{a}" for a in range(axes) for k in ("index", "lo", "hi")],
         "p_true", "m", "sigma2_model", "sigma2_model_error", "G_inf", "resolved_fraction",
         "n_gen_90", "rep0_status", "rep0_G_inf", "rep0_G_inf_lower", "rep0_n_gen_needed", "rep0_members_needed",
         "truth_G", "truth_G_std", "truth_G_lower"]
    )  # fmt: skip
    for t in tables:
        grid, summary, first = t["grid"], t["summary"], t["first"]
        index = np.unravel_index(np.arange(grid.n_cells), grid.shape)
        for j in range(grid.n_cells):
            where = []
            for a in range(axes):
                if a < len(grid.shape):
                    i = int(index[a][j])
                    where += [i, grid.edges[a][i], grid.edges[a][i + 1]]
                else:
                    where += ["", "", ""]
            writer.writerow(
                [t["model"], *([grid.name] if named else []), grid.quantiles, j, *where, t["p"][j], summary.volume_mean[j],
                 summary.volume_sigma2[j], summary.volume_sigma2_error[j], summary.volume_G_inf[j],
                 summary.volume_resolved_fraction[j], n_gen_for(summary.volume_G_inf[j] * summary.n_train), first.status[j],
                 first.G_inf[j], first.G_inf_lower[j],
                 first.n_gen_needed[j], first.members_needed[j], t["truth"].G[j], t["truth"].G_std[j], t["truth"].G_lower[j]]
            )  # fmt: skip
    store.write_text(path, buf.getvalue())
