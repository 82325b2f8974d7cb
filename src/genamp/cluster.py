"""Dask clusters for studies and event generation: the same work items as the local process
pool, run by ``dask.distributed`` workers.

Which one to use:

- nothing (the default): a local process pool of ``--workers`` processes;
- ``local:N`` (:func:`connect`): a :class:`distributed.LocalCluster` of ``N`` worker processes
  on this machine, listening on 127.0.0.1 only, closed when the work ends;
- ``tcp://HOST:PORT``: an existing cluster's scheduler, such as one that ``dask-jobqueue``
  started on a batch system (README "On a cluster"); genamp connects as a client and leaves the
  cluster running.

**Where results go.** A worker returns what it computed to the client, and the client alone
writes the study folder or the event file. So the workers need no file system in common with
the client (an HTCondor pool often has none), a study folder keeps its single writer (its lock),
and a worker that dies mid-task leaves nothing half-written: the scheduler gives its task to
another worker (up to ``distributed.scheduler.allowed-failures`` times), and the client writes
each task once. A task's output is its occupancies (megabytes), a chunk of events some 20 MB.

**Same numbers.** Work items are fixed before they run (a network's repetitions in blocks of
:data:`genamp.study.tasks.BLOCK_SIZE`, events in chunks of fixed seeds), so who runs them does
not change a number; Dask's nannies start workers with ``OMP_NUM_THREADS=1`` as the local pool
does.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from genamp.errors import GenampError

__all__ = ["DaskExecutor", "connect", "describe", "parse", "result_of"]

#: how long a client waits for a scheduler (or a local cluster for its workers), seconds
CONNECT_TIMEOUT = 60


def parse(address: str) -> tuple[str, int | None]:
    """``("local", N)`` for ``local:N`` (``local``: one worker per core), ``("tcp", None)`` for a
    scheduler's address; anything else is one error naming both forms."""
    text = address.strip()
    m = re.fullmatch(r"local(?::(\d+))?", text)
    if m:
        n = None if m.group(1) is None else int(m.group(1))
        if n is not None and n < 1:
            raise GenampError(f"--cluster {address}: a local cluster needs at least 1 worker")
        return "local", n
    if re.fullmatch(r"(tcp|tls|inproc|ucx)://[^\s/]+(:\d+)?/?", text):
        return "tcp", None
    raise GenampError(f"--cluster {address!r}: give local:N (N worker processes here) or a scheduler's address tcp://HOST:PORT")


def describe(address: str) -> str:
    """A few words for the progress line: where the work runs."""
    kind, n = parse(address)
    return f"a local Dask cluster of {n or 'all'} workers" if kind == "local" else f"the Dask cluster at {address}"


@contextlib.contextmanager
def connect(address: Any, timeout: float = CONNECT_TIMEOUT) -> Iterator[Any]:
    """A :class:`distributed.Client` for ``address`` (:func:`parse`), closed on exit, with the
    local cluster it started (an existing cluster is left running). A ``Client`` of the
    caller's own (a notebook's) is used as it is and left open."""
    if not isinstance(address, str):
        yield address
        return
    kind, n = parse(address)
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a dependency of genamp
        raise GenampError("--cluster needs dask.distributed: pip install distributed") from None
    if kind == "local":
        from genamp._processes import default_workers

        with contextlib.ExitStack() as stack:
            # processes, one thread each (the networks are not thread-safe in one interpreter);
            # its HTTP routes on a free port, nothing listening beyond this machine; no statistical profiler
            # interrupting the training loops every 10 ms for the dashboard nobody sees
            stack.enter_context(dask.config.set({"distributed.worker.profile.enabled": False}))
            cluster = stack.enter_context(
                LocalCluster(n_workers=n or default_workers(), threads_per_worker=1, processes=True, host="127.0.0.1",
                             dashboard_address="127.0.0.1:0", worker_dashboard_address=None, silence_logs=50)  # fmt: skip
            )
            client = stack.enter_context(Client(cluster, timeout=timeout))
            yield client
        return
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise GenampError(f"--scheduler {address}: no Dask scheduler answered in {timeout:g} s ({exc})") from None
    with client:
        yield client


class DaskExecutor:
    """Runs ``fn`` over work items on a Dask cluster; results arrive as items finish.

    The same ``run(fn, items)`` as :class:`genamp.study.executors.LocalExecutor`. Stopping the
    consumer (Ctrl-C, a crash) cancels what has not finished.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def run(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        from distributed import as_completed

        items = list(items)
        if not items:
            return
        futures = self.client.map(fn, items, pure=False)
        try:
            for future in as_completed(futures):
                yield result_of(future)
        finally:
            self.client.cancel([f for f in futures if not f.done()])


def result_of(future: Any) -> Any:
    """A finished future's value; a task that killed its workers again and again is one error."""
    from distributed.scheduler import KilledWorker

    try:
        return future.result()
    except KilledWorker as exc:
        raise GenampError(
            f"a work item killed {exc.last_worker.address if getattr(exc, 'last_worker', None) else 'its'} worker each time it "
            "ran (out of memory?); its finished work is kept: give the workers more memory, then run the same command again"
        ) from None
