"""The result store: every finished task on disk, written atomically, read without pickle.

A task file is an ``.npz`` (``allow_pickle=False`` on reading) with, per number of quantiles
``Q``, the arrays ``q{Q}_n`` and ``q{Q}_fractions`` (with several generators, their mixture, and
``q{Q}_members``: every generator's occupancies), and the task's metadata as a JSON string.
Files are written to a temporary name in the same folder, flushed to disk, then renamed over
the final name: a study stopped at any moment leaves either a whole task or none, so running
the same command again resumes where it stopped.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from genamp.errors import GenampError
from genamp.study.tasks import Task, TaskOutput
from genamp.volumes import Occupancy

TMP_PREFIX = ".tmp-"


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    _atomic_write(path, lambda fh: fh.write(text.encode()))


def write_task(path: Path, output: TaskOutput) -> None:
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(to_json_safe(output.meta)))}
    for q, occ in output.occupancies.items():
        arrays[f"q{q}_n"] = occ.n
        arrays[f"q{q}_fractions"] = occ.fractions
    for q, members in output.members.items():
        arrays[f"q{q}_members"] = members
    for name, value in output.differential.items():
        arrays[f"diff_{name}"] = value
    if output.preview is not None:
        arrays["preview"] = output.preview
    _atomic_write(path, lambda fh: np.savez(fh, **arrays))


def read_task(path: Path) -> TaskOutput | None:
    """A stored task, or ``None`` if it is missing or unreadable (it is then recomputed)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            occupancies, members = {}, {}
            differential = {name[5:]: data[name] for name in data.files if name.startswith("diff_")}
            for name in data.files:
                if name.startswith("q") and name.endswith("_n"):
                    q = int(name[1:-2])
                    occupancies[q] = Occupancy(data[name], data[f"q{q}_fractions"])
                elif name.startswith("q") and name.endswith("_members"):
                    members[int(name[1:-8])] = data[name]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
        return None
    return TaskOutput(occupancies, meta, members=members, differential=differential)


def read_preview(path: Path) -> np.ndarray | None:
    """The generated events kept in a task file (repetition 0 of a generator), if any."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["preview"] if "preview" in data.files else None
    except (OSError, ValueError, zipfile.BadZipFile):
        return None


def remove_stale_temporaries(root: Path) -> None:
    """Temporary files of tasks that were running when a study was killed."""
    tasks = root / "tasks"
    if tasks.is_dir():
        for tmp in tasks.glob(f"*/{TMP_PREFIX}*"):
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


def read_meta(path: Path) -> dict[str, Any] | None:
    """Only the metadata of a stored task (its arrays stay on disk), or ``None``."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
        return None


def task_done(root: Path, task: Task) -> dict[str, Any] | None:
    """The metadata of ``task`` if it was finished with the same settings, else ``None``."""
    meta = read_meta(task.path(root))
    if meta is None or meta.get("key") != task.key:
        return None
    return meta
