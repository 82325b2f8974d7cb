"""Writing files whole or not at all, and refusing an output that cannot be written.

A file is written to a temporary name in its own folder, flushed to disk, then renamed over
its final name: a run stopped at any moment (Ctrl-C, ``kill -9``, a full disk) leaves either the
whole file or none, and the next run removes the temporaries it finds. Files keep the user's
umask. Kept free of heavy imports: the study store and the event generators both use it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from genamp.errors import GenampError

TMP_PREFIX = ".tmp-"


def umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(file)``, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            # mkstemp makes 0600; the final file gets what open() would have given it
            os.fchmod(fh.fileno(), 0o666 & ~umask())
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a library that writes files by name (h5py); when the
    block ends without an exception the file is flushed to disk and renamed to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fchmod(fd, 0o666 & ~umask())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_temporaries(folder: Path) -> None:
    """Temporary files left in ``folder`` by a run that was killed while writing."""
    for tmp in Path(folder).glob(f"{TMP_PREFIX}*"):
        tmp.unlink(missing_ok=True)


def prepare_output(out: Path) -> Path:
    """Create the output folder and prove it is writable before any work is done."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX, dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise GenampError(f"cannot write to output directory {out}: {reason}") from None
    return out


def prepare_output_file(path: Path) -> Path:
    """Refuse an output file that cannot be written before any work is done: a directory, a
    file without write permission, a folder that cannot take it (created if missing)."""
    path = Path(path)
    if path.is_dir():
        raise GenampError(f"--out {path}: is a directory; give a file name, such as {path / 'results.json'}")
    if path.exists() and not os.access(path, os.W_OK):
        raise GenampError(f"--out {path}: cannot be written (permission denied)")
    prepare_output(path.parent)
    return path
