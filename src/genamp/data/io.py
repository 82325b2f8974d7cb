"""Reading events from files, safely and in chunks.

Events are arrays of shape (events, features) in HDF5 (``h5py``) or NumPy (``.npy``, ``.npz``)
files. Nothing is ever unpickled: NumPy files are opened with ``allow_pickle=False``, so a file
holding Python objects is refused with a clear message instead of running code from it. Large
files are read chunk by chunk (HDF5 slices, memory-mapped ``.npy``), so counting occupancies of a
file never holds all of it in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from genamp.errors import GenampError
from genamp.volumes import DEFAULT_CHUNK

SUFFIXES = (".npy", ".npz", ".h5", ".hdf5")


@dataclass(frozen=True)
class EventFile:
    """An events dataset inside a file: where it is, its shape, its feature names if stored."""

    path: Path
    dataset: str | None
    shape: tuple[int, ...]
    features: tuple[str, ...] | None

    @property
    def n_events(self) -> int:
        return self.shape[0]

    def chunks(self, chunk_size: int = DEFAULT_CHUNK) -> Iterator[np.ndarray]:
        """The events, ``chunk_size`` rows at a time."""
        with _open(self.path, self.dataset) as arr:
            for start in range(0, self.n_events, chunk_size):
                yield np.asarray(arr[start : start + chunk_size], dtype=np.float64)

    def read(self) -> np.ndarray:
        return np.concatenate(list(self.chunks())) if self.n_events else np.empty(self.shape)


class _open:
    """Context manager giving a sliceable array for a dataset of any supported file."""

    def __init__(self, path: Path, dataset: str | None) -> None:
        self.path, self.dataset = path, dataset
        self._h5: h5py.File | None = None
        self._npz: np.lib.npyio.NpzFile | None = None

    def __enter__(self) -> np.ndarray | h5py.Dataset:
        suffix = self.path.suffix.lower()
        try:
            if suffix in (".h5", ".hdf5"):
                self._h5 = h5py.File(self.path, "r")
                return self._h5[self.dataset]
            if suffix == ".npz":
                self._npz = np.load(self.path, allow_pickle=False)
                return self._npz[self.dataset]
            return np.load(self.path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise _unreadable(self.path, exc) from None

    def __exit__(self, *exc: object) -> None:
        if self._h5 is not None:
            self._h5.close()
        if self._npz is not None:
            self._npz.close()


def open_events(path: Path | str, dataset: str | None = None) -> EventFile:
    """Describe the events in ``path``; ``dataset`` names the array in HDF5 and ``.npz`` files
    (it may be left out when the file holds exactly one array)."""
    path = Path(path)
    if not path.is_file():
        raise GenampError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise GenampError(f"{path}: unknown format; use one of {', '.join(SUFFIXES)}")
    try:
        if suffix in (".h5", ".hdf5"):
            with h5py.File(path, "r") as f:
                names: list[str] = []
                f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
                dataset = _choose(path, dataset, names)
                ds = f[dataset]
                if not np.issubdtype(ds.dtype, np.number):
                    raise GenampError(f"{path}:{dataset}: holds {ds.dtype}, not numbers")
                raw = ds.attrs.get("features", ds.attrs.get("feature_names"))
                features = tuple(v.decode() if isinstance(v, bytes) else str(v) for v in raw) if raw is not None else None
                return EventFile(path, dataset, tuple(ds.shape), features)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                dataset = _choose(path, dataset, list(z.files))
                shape = z[dataset].shape
                features = tuple(str(v) for v in z["features"]) if "features" in z.files and dataset != "features" else None
            return EventFile(path, dataset, tuple(shape), features)
        with _open(path, None) as arr:
            return EventFile(path, None, tuple(arr.shape), None)
    except GenampError:
        raise
    except (OSError, ValueError) as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: Exception) -> GenampError:
    """The error for a file numpy or h5py refuses; object arrays are pickles and stay unread."""
    if any(word in str(exc).lower() for word in ("pickle", "object arrays", "python objects")):
        return GenampError(f"{path}: holds Python objects; genamp never loads pickles, save plain numeric arrays")
    return GenampError(f"{path}: cannot be read ({exc})")


def _choose(path: Path, dataset: str | None, names: list[str]) -> str:
    candidates = [n for n in names if n != "features"]
    if dataset is not None:
        if dataset not in names:
            raise GenampError(f"{path}: no dataset {dataset!r}; it has {', '.join(names) or 'none'}")
        return dataset
    if len(candidates) != 1:
        raise GenampError(
            f"{path}: holds {len(candidates)} arrays ({', '.join(candidates) or 'none'}); name one with --dataset"
        )
    return candidates[0]
