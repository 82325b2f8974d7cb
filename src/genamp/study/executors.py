"""Executors: run independent tasks, each storing its own result as it finishes.

The local executor is a process pool (``spawn``: safe with torch and numba threads); with one
worker it runs in the calling process, which is easiest to debug. A Dask executor will offer the
same ``run(fn, items)`` for clusters.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from genamp._processes import default_workers  # noqa: F401 - the runner's import
from genamp._processes import worker_init as _worker_init
from genamp.study.store import write_task
from genamp.study.tasks import Task, run_block


def execute(block: list[Task], root: str, device: str | None = None, samples: str | None = None) -> list[dict[str, Any]]:
    """Run a work item (one task, or a block trained together, its networks on ``device``) and
    store each task's output as it comes; returns a short summary per task (runs in a worker).

    A bug is reported with its traceback (and whether the machine, memory or disk, caused it);
    what was stored before it stays. A failed fit or
    training is a result and is stored like any other.
    """
    summaries = []
    try:
        for task, out in run_block(block, device, samples):
            write_task(task.path(Path(root)), out)
            summaries.append({"task": task.label, "status": out.meta["status"], "error": out.meta.get("error")})
    except Exception as exc:
        labels = ", ".join(t.label for t in block[len(summaries) :][:3])
        # out of memory or disk (or a file system refusing) may pass on a rerun; anything else is a bug
        environment = isinstance(exc, (MemoryError, OSError))
        summaries.append({"task": labels, "status": "crashed", "error": traceback.format_exc(), "environment": environment})
    return summaries


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
