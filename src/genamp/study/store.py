"""The result store: every finished task on disk, written atomically, trusted only once checked.

A task file is an ``.npz`` (``allow_pickle=False`` on reading) with, per set of volumes ``Q`` (the
number of quantiles of a toy's grid; on a pool, the position of the observable bins in the
task's spec), the arrays ``q{Q}_n`` and ``q{Q}_fractions`` (with several generators, their
mixture, and ``q{Q}_members``: every generator's occupancies), with the differential method the
arrays of its measurement prefixed ``diff_`` (:meth:`DifferentialRepetition.to_arrays`), the
task's metadata as a JSON string (with the identity it was written for: setting key, model,
repetition), and ``checksum``, the SHA-256 of all the rest (:func:`content_digest`).

Files are written to a temporary name in the same folder, flushed to disk, then renamed over
the final name: a study stopped at any moment leaves either a whole task or none, so running
the same command again resumes where it stopped. On reading, a file that is empty, truncated,
fails its checksum anywhere, or was written for another task is :class:`DamagedTask`: the
runner names it and redoes the task; it never enters the results. A :class:`StudyLock` keeps a
second run out of a folder that one is writing. Files keep the user's umask (a group sharing a
study folder can read them).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from genamp._files import TMP_PREFIX, prepare_output, prepare_output_file  # noqa: F401 - the store's API
from genamp._files import atomic_write as _atomic_write
from genamp.errors import GenampError
from genamp.estimators.differential_summary import DifferentialRepetition
from genamp.study.tasks import Task, TaskOutput, volume_keys
from genamp.volumes import Occupancy


def to_json_safe(obj: Any) -> Any:
    """Replace inf and NaN (not JSON) by ``None``, numpy scalars and arrays by Python values."""
    if isinstance(obj, dict):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json_safe(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (inf/NaN become null)."""
    text = json.dumps(to_json_safe(obj), indent=2, allow_nan=False) + "\n"
    _atomic_write(path, lambda fh: fh.write(text.encode()))


def write_results(path: Path, records: list[dict[str, Any]], warnings: list[str], **fields: Any) -> None:
    """A results file (genamp/schema/results.schema.json): its version, genamp's, the warnings of
    the whole run, ``fields`` (a study's config, the files measured), the records."""
    from genamp import __version__
    from genamp.schema import SCHEMA_VERSION

    write_json(path, {"schema_version": SCHEMA_VERSION, "genamp": __version__, **fields, "warnings": warnings,
                      "records": records})  # fmt: skip


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    _atomic_write(path, lambda fh: fh.write(text.encode()))


#: the entry of a task file that holds the SHA-256 of everything else in it
CHECKSUM = "checksum"


def content_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes, in name order.

    It covers the metadata (a JSON string array) as well as the occupancies: a task file is
    trusted only if what is read back is bit for bit what was written.
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(memoryview(a).cast("B") if a.size else b"")
    return h.hexdigest()


def write_task(path: Path, output: TaskOutput) -> None:
    """Store a task's output with its identity (in the metadata) and the checksum of its content."""
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(to_json_safe(output.meta)))}
    for q, occ in output.occupancies.items():
        arrays[f"q{q}_n"] = occ.n
        arrays[f"q{q}_fractions"] = occ.fractions
    for q, members in output.members.items():
        arrays[f"q{q}_members"] = members
    if output.differential is not None:
        for name, value in output.differential.to_arrays().items():
            arrays[f"diff_{name}"] = value
    if output.preview is not None:
        arrays["preview"] = output.preview
    arrays[CHECKSUM] = np.array(content_digest(arrays))
    _atomic_write(path, lambda fh: np.savez(fh, **arrays))


def write_weights(path: Path, state: dict[str, Any]) -> None:
    """Keep a task's trained networks (:meth:`~genamp.models.neural.NeuralGenerator.trained_state`:
    tensors, numbers and lists only), atomically."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda fh: torch.save(state, fh))


def read_weights(path: Path) -> dict[str, Any] | None:
    """A task's kept networks, or ``None`` where there are none or the file cannot be read back
    (then they are trained again). Read with ``weights_only=True``: tensors and plain data only,
    never an object a file could smuggle in."""
    import torch

    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a damaged or foreign file: train again rather than trust it
        return None
    return state if isinstance(state, dict) and "networks" in state else None


def save_output(root: Path, task: Task, output: TaskOutput) -> None:
    """Store a task: its networks first (where it trained them), then its task file, whose
    presence says the task is done."""
    if output.trained is not None:
        write_weights(task.weights_path(root), output.trained)
    write_task(task.path(root), output)


class DamagedTask(GenampError):
    """A task file that exists but cannot be trusted; ``reason`` says why in a few words."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def _load_verified(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metadata and arrays of a task file whose checksum matches, or :class:`DamagedTask`."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise DamagedTask(path, f"cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise DamagedTask(path, "empty file (0 bytes)")
    if head != b"PK\x03\x04":
        raise DamagedTask(path, "not a task file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError) as exc:
        if "CRC" in str(exc):
            raise DamagedTask(path, f"damaged: an array fails its zip CRC ({exc})") from None
        raise DamagedTask(path, f"truncated or not a task file ({exc})") from None
    except (OSError, ValueError, KeyError) as exc:
        raise DamagedTask(path, f"unreadable ({type(exc).__name__}: {exc})") from None
    stored = arrays.pop(CHECKSUM, None)
    if stored is None:
        raise DamagedTask(path, "has no checksum (written before genamp checksummed its task files, or not by genamp)")
    if stored.shape != () or stored.dtype.kind != "U" or str(stored) != content_digest(arrays):
        raise DamagedTask(path, "damaged: its content does not match its checksum")
    if "meta" not in arrays:
        raise DamagedTask(path, "has no metadata")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as exc:
        raise DamagedTask(path, f"metadata is not JSON ({exc})") from None
    if not isinstance(meta, dict) or "status" not in meta:
        raise DamagedTask(path, "metadata without a status")
    return meta, arrays


def _check_identity(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray], task: Task) -> None:
    """The file was written for ``task`` (setting, model, repetition) and holds what it needs."""
    written_for = (meta.get("key"), meta.get("model"), meta.get("repetition"))
    if written_for != (task.key, task.model, task.repetition):
        raise DamagedTask(
            path,
            f"belongs to another task ({meta.get('model')} rep {meta.get('repetition')} of setting "
            f"{meta.get('key')}), not {task.label} of setting {task.key}",
        )
    if meta["status"] != "ok":
        return
    for q in volume_keys(task.spec):
        needed = [f"q{q}_n", f"q{q}_fractions"] + ([f"q{q}_members"] if task.n_members > 1 else [])
        missing = [n for n in needed if n not in arrays]
        if missing:
            raise DamagedTask(path, f"incomplete: no {', '.join(missing)}")
    if task.spec.get("differential") and not any(n.startswith("diff_") for n in arrays):
        raise DamagedTask(path, "incomplete: no differential measurements")


def _output(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> TaskOutput:
    occupancies, members = {}, {}
    for name, value in arrays.items():
        if name.startswith("q") and name.endswith("_n"):
            q = int(name[1:-2])
            occupancies[q] = Occupancy(value, arrays[f"q{q}_fractions"])
        elif name.startswith("q") and name.endswith("_members"):
            members[int(name[1:-8])] = value
    measured = {name[5:]: v for name, v in arrays.items() if name.startswith("diff_")}
    try:
        differential = DifferentialRepetition.from_arrays(measured) if measured else None
    except GenampError as exc:
        raise DamagedTask(path, f"incomplete: {exc}") from None
    return TaskOutput(occupancies, meta, preview=arrays.get("preview"), members=members, differential=differential)


def load_task(path: Path, task: Task) -> TaskOutput | None:
    """The stored output of ``task``: ``None`` if there is no file, :class:`DamagedTask` if the
    file is empty, truncated, fails its checksum anywhere (metadata or arrays), or was written
    for another task (setting, model or repetition)."""
    if not path.is_file():
        return None
    try:
        meta, arrays = _load_verified(path)
    except FileNotFoundError:
        return None
    _check_identity(path, meta, arrays, task)
    return _output(path, meta, arrays)


def read_task(path: Path, task: Task | None = None) -> TaskOutput | None:
    """A stored task, or ``None`` if it is missing or cannot be trusted (it is then recomputed).

    With ``task`` the file must also have been written for that task.
    """
    try:
        if task is not None:
            return load_task(path, task)
        if not path.is_file():
            return None
        return _output(path, *_load_verified(path))
    except DamagedTask:
        return None


def remove_stale_temporaries(root: Path) -> None:
    """Temporary files of tasks (and results) that were being written when a study was killed."""
    for tmp in [*root.glob(f"{TMP_PREFIX}*"), *root.glob(f"tasks/*/{TMP_PREFIX}*"), *root.glob(f"weights/*/{TMP_PREFIX}*")]:
        tmp.unlink(missing_ok=True)


def inspect(root: Path, task: Task) -> tuple[dict[str, Any] | None, str | None]:
    """``(metadata, None)`` for a trusted finished task, ``(None, None)`` when there is no file,
    ``(None, reason)`` when its file is damaged or belongs to another task."""
    try:
        out = load_task(task.path(root), task)
    except DamagedTask as exc:
        return None, exc.reason
    return (None, None) if out is None else (out.meta, None)


def task_done(root: Path, task: Task) -> dict[str, Any] | None:
    """The metadata of ``task`` if its file is whole and was written for it, else ``None``."""
    return inspect(root, task)[0]


class StudyLock:
    """An exclusive lock on a study folder for one run (``flock``: released when the process
    dies, even by ``kill -9``, so a stale lock never blocks a resume)."""

    NAME = ".genamp.lock"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._fd: int | None = None

    def __enter__(self) -> StudyLock:
        path = self.root / self.NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise GenampError(
                f"{self.root} is in use by another genamp run (pid {holder}); wait for it to finish, "
                "or give another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None
