"""Executors: run independent tasks, each storing its own result as it finishes.

The local executor is a process pool (``spawn``: safe with torch and numba threads); with one
worker it runs in the calling process, which is easiest to debug. Its workers store each task
as it finishes (:func:`execute`). On a Dask cluster (:class:`genamp.cluster.DaskExecutor`, the
same ``run(fn, items)``) a worker returns its tasks' outputs (:func:`compute`) and the client
stores them (:func:`store`): see :mod:`genamp.cluster` for why.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from genamp._processes import (
    default_workers,  # noqa: F401 - the runner's import
    keep_freed_memory,
)
from genamp._processes import worker_init as _worker_init
from genamp.study.store import save_output
from genamp.study.tasks import Task, Work, run_block


def execute(work: Work, root: str, device: str | None = None, samples: str | None = None) -> list[dict[str, Any]]:
    """Run a work item (one task, or a block trained together, its networks on ``device``) and
    store each task's output as it comes; returns a short summary per task (runs in a worker).

    A bug is reported with its traceback (and whether the machine, memory or disk, caused it);
    what was stored before it stays. A failed fit or
    training is a result and is stored like any other.
    """
    keep_freed_memory()
    summaries = []
    try:
        for task, out in run_block(work.tasks, device, samples, work.trained):
            save_output(Path(root), task, out)
            summaries.append(_summary(task, out))
    except Exception as exc:
        summaries.append(_crashed(work.tasks[len(summaries) :], exc))
    return summaries


def compute(work: Work, device: str | None = None, samples: str | None = None) -> list[tuple[Task, Any]]:
    """Run a work item as :func:`execute` does, but return each task with its output (a Dask
    worker's side: the client stores them with :func:`store`); a crash ends the list as
    ``(None, summary)``."""
    # a Dask nanny starts its worker with MALLOC_TRIM_THRESHOLD_=65536, which hands every freed
    # buffer back to the kernel: sampling's large tensors then fault in fresh pages each time
    # (measured 1.9x slower); keep them for reuse, as the local pool does
    keep_freed_memory()
    outputs: list[tuple[Task | None, Any]] = []
    try:
        for task, out in run_block(work.tasks, device, samples, work.trained):
            outputs.append((task, out))
    except Exception as exc:
        outputs.append((None, _crashed(work.tasks[len(outputs) :], exc)))
    return outputs  # type: ignore[return-value]


def store(root: str, outputs: list[tuple[Task | None, Any]]) -> list[dict[str, Any]]:
    """Write what :func:`compute` returned into the study folder ``root`` (the client's side),
    and return the summaries :func:`execute` would have."""
    summaries = []
    for task, out in outputs:
        if task is None:
            summaries.append(out)
            continue
        save_output(Path(root), task, out)
        summaries.append(_summary(task, out))
    return summaries


def _summary(task: Task, out: Any) -> dict[str, Any]:
    return {"task": task.label, "status": out.meta["status"], "error": out.meta.get("error")}


def _crashed(left: list[Task], exc: Exception) -> dict[str, Any]:
    """The summary of a work item that raised: the first tasks it did not finish and the traceback."""
    labels = ", ".join(t.label for t in left[:3])
    # out of memory or disk (or a file system refusing) may pass on a rerun; anything else is a bug
    environment = isinstance(exc, (MemoryError, OSError))
    return {"task": labels, "status": "crashed", "error": traceback.format_exc(), "environment": environment}


class LocalExecutor:
    """Runs tasks on ``workers`` local processes; results arrive as tasks finish."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))

    def run(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        items = list(items)
        if self.workers == 1 or len(items) <= 1:
            for item in items:
                yield fn(item)
            return
        pool = mp.get_context("spawn").Pool(min(self.workers, len(items)), initializer=_worker_init)
        try:
            yield from pool.imap_unordered(fn, items, chunksize=1)
            pool.close()
        except BaseException:
            # Ctrl-C, a crash, or the consumer stopping early: kill the running tasks. Their
            # half-written files are temporaries that the next run removes.
            pool.terminate()
            raise
        finally:
            pool.join()
