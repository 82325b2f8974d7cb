"""Worker processes: how many, and how each one starts.

Kept free of heavy imports: a study's pool and the event generators' pool both start workers
with :func:`worker_init`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def worker_init() -> None:
    """Set up a pool worker (a ``multiprocessing`` initializer)."""
    # The parent decides what a Ctrl-C means (stop, keep what is finished); workers just die
    # when it terminates them, without printing tracebacks of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # a parent killed outright (SIGKILL, SIGTERM) cannot terminate its pool: on Linux the kernel
    # then sends the workers SIGTERM, so no orphan keeps working on the cores
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def default_workers() -> int:
    """The cores this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
