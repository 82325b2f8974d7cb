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


#: glibc's mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_BYTES = 256 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Let glibc's ``malloc`` keep freed memory for reuse, up to 256 MiB, instead of returning it
    to the kernel (``mallopt``); returns whether it could (glibc on Linux only).

    Work that allocates and frees the same large buffers over and over (Pythia hands over every
    batch of events in new buffers of some 10 MB) otherwise takes fresh pages from the kernel
    each time, which zeroes them: page faults and memory traffic that cost a few percent alone
    and more when two such processes share the memory bus. Called by the processes that make
    events; the memory a process holds grows by at most the largest such buffer.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
