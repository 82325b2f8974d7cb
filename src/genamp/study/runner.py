"""Run a study: plan tasks, run what is not on disk yet, aggregate, write results and plots."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genamp import __version__
from genamp.errors import GenampError
from genamp.estimators.truth import RepetitionSummary, TruthAmplification, combine_repetitions, summarise_repetition
from genamp.study import store
from genamp.study.config import StudyConfig
from genamp.study.executors import LocalExecutor, default_workers, execute
from genamp.study.tasks import Task, blocks, plan
from genamp.volumes import QuantileGrid

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
) -> StudyResult:
    """Run (or resume) ``config`` into ``out``; finished tasks found there are not redone."""
    root = store.prepare_output(Path(out))
    store.remove_stale_temporaries(root)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise GenampError(f"workers must be at least 1, got {workers}")
    store.write_json(root / "study.json", {"genamp": __version__, "config": config.to_dict()})

    tasks = plan(config)
    # only metadata is held in memory; occupancies are read back one task at a time
    metas: dict[Task, dict[str, Any]] = {}
    todo = []
    for task in tasks:
        done = store.task_done(root, task)
        if done is not None and (done["status"] == "ok" or not retry_failed):
            metas[task] = done
        else:
            todo.append(task)
    resumed = len(metas)
    if progress is not None:
        progress(resumed, len(tasks), {"task": None, "status": "resumed"})
    finished = resumed
    runs = LocalExecutor(workers).run(functools.partial(execute, root=str(root)), blocks(todo))
    try:
        with contextlib.closing(runs):
            for summary in (s for item in runs for s in item):
                if summary["status"] == "crashed":
                    log = root / "crash.log"
                    log.write_text(f"{summary['task']}\n{summary['error']}")
                    last = summary["error"].strip().splitlines()[-1]
                    raise GenampError(
                        f"task {summary['task']} crashed ({last}); traceback in {log}. "
                        f"{finished} finished tasks are saved: the same command resumes"
                    )
                finished += 1
                if progress is not None:
                    progress(finished, len(tasks), summary)
    except KeyboardInterrupt:
        raise StudyInterrupted(
            f"stopped after {finished} of {len(tasks)} tasks; the finished ones are saved in "
            f"{root}: run the same command again to resume"
        ) from None

    for task in todo:
        meta = store.task_done(root, task)
        if meta is None:
            raise GenampError(f"task {task.label} finished but its file {task.path(root)} cannot be read")
        metas[task] = meta
    records, failures = aggregate(config, tasks, metas, root)
    store.write_json(
        root / "results.json",
        {"genamp": __version__, "config": config.to_dict(), "records": records, "failures": failures},
    )
    result = StudyResult(config, root, records, failures, ran=len(todo), resumed=resumed)
    if plots:
        from genamp.report.plots import study_plots

        result.plots = study_plots(config, root, records, tasks, metas)
    return result


def aggregate(
    config: StudyConfig, tasks: list[Task], metas: dict[Task, dict[str, Any]], root: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Truth-based records per model and resolution, and the list of failed repetitions.

    Task files are read one at a time and reduced to their MSE curves and plateaus at once, so
    memory grows with the number of repetitions, not with repetitions × sample sizes × cells.
    """
    density = config.make_density()
    grids = {q: QuantileGrid.from_density(density, q) for q in config.quantiles}
    records: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for model in config.models:
        mine = sorted((t for t in tasks if t.model == model), key=lambda t: t.repetition)
        ok = [t for t in mine if metas[t]["status"] == "ok"]
        failures += [
            {"model": model, "repetition": t.repetition, "error": metas[t].get("error")}
            for t in mine
            if metas[t]["status"] != "ok"
        ]
        summaries: dict[int, list[RepetitionSummary]] = {q: [] for q in grids}
        n_gen: dict[int, np.ndarray] = {}
        for t in ok:
            output = store.read_task(t.path(root))
            if output is None:
                raise GenampError(f"{t.path(root)} cannot be read any more; delete it and run again")
            for q, grid in grids.items():
                occ = output.occupancies[q]
                summaries[q].append(summarise_repetition(occ.fractions, occ.n, grid.probabilities, config.plateau))  # type: ignore[arg-type]
                n_gen[q] = occ.n
        for q, grid in grids.items():
            base = {**record_header(model, grid, config.n_train, len(ok)), "n_failed": len(mine) - len(ok)}
            if not ok:
                records.append({**base, "n_equiv": None, "G": None, "G_std": None, "error": "every repetition failed"})
                continue
            res = combine_repetitions(summaries[q], n_gen[q], grid.probabilities, config.n_train)
            records.append({**base, **truth_record(res)})
    return records, failures


def record_header(model: str, grid: QuantileGrid, n_train: int, repetitions: int) -> dict[str, Any]:
    """What a truth-based record is about: model, truth, resolution, sizes."""
    return {
        "method": "truth",
        "model": model,
        "density": grid.density.name,
        "dim": grid.density.dim,
        "quantiles": grid.quantiles,
        "n_cells": grid.n_cells,
        "n_train": n_train,
        "repetitions": repetitions,
    }


def truth_record(res: TruthAmplification) -> dict[str, Any]:
    """The JSON fields of a truth-based result (inf and NaN become null on writing)."""
    return {
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
