"""Reading events from files, safely and in chunks.

Events are arrays of shape (events, features) in HDF5 (``h5py``) or NumPy (``.npy``, ``.npz``)
files. Nothing is ever unpickled: NumPy files are opened with ``allow_pickle=False``, so a file
holding Python objects is refused with a clear message instead of running code from it. Every
file is checked once, when it is opened: its first bytes must be its format's (a text file is
named as one), and its values real numbers (booleans, complex numbers, strings and objects are
refused by dtype, never cast). Large
files are read chunk by chunk (HDF5 slices, memory-mapped ``.npy``), so counting occupancies of a
file never holds all of it in memory.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import h5py
import numpy as np

from genamp._validate import real_dtype
from genamp.errors import GenampError
from genamp.volumes import DEFAULT_CHUNK

SUFFIXES = (".npy", ".npz", ".h5", ".hdf5")

#: rows read at a time when picking single rows out of a file (:meth:`EventFile.rows`)
ROW_BLOCK = 4096


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

    def rows(self, indices: np.ndarray, block: int = ROW_BLOCK) -> np.ndarray:
        """The events at row ``indices`` (any order, each once), in the order given.

        Only the blocks of ``block`` rows that hold a wanted row are read: a few thousand
        training events of a 10⁸-event file cost a few thousand small reads, not a pass.
        """
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_events):
            raise GenampError(f"{self.path}: rows outside its {self.n_events} events were asked for")
        order = np.argsort(idx, kind="stable")
        wanted = idx[order]
        out = np.empty((idx.size, *self.shape[1:]), dtype=np.float64)
        with _open(self.path, self.dataset) as arr:
            starts = np.unique(wanted // block) * block
            lo = 0
            for start in starts:
                hi = int(np.searchsorted(wanted, start + block))
                rows = np.asarray(arr[start : min(start + block, self.n_events)], dtype=np.float64)
                out[order[lo:hi]] = rows[wanted[lo:hi] - start]
                lo = hi
        return out


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
    if path.is_dir():
        raise GenampError(f"{path}: is a directory, not a file of events")
    if not path.is_file():
        raise GenampError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise GenampError(f"{path}: unknown format; use one of {', '.join(SUFFIXES)}")
    if suffix == ".npy" and dataset is not None:
        raise GenampError(f"{path}: --dataset {dataset} applies to HDF5 and .npz files; a .npy file holds one array")
    _check_signature(path, suffix)
    try:
        if suffix in (".h5", ".hdf5"):
            with h5py.File(path, "r") as f:
                names: list[str] = []
                f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
                dataset = _choose(path, dataset, names)
                ds = f[dataset]
                if not isinstance(ds, h5py.Dataset):
                    raise GenampError(f"{path}:{dataset}: is a group, not an array; name an array inside it")
                real_dtype(ds.dtype, f"{path}:{dataset}")
                raw = ds.attrs.get("features", ds.attrs.get("feature_names"))
                features = tuple(v.decode() if isinstance(v, bytes) else str(v) for v in raw) if raw is not None else None
                return EventFile(path, dataset, tuple(ds.shape), features)
        if suffix == ".npz":
            with zipfile.ZipFile(path) as z:
                names = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
                dataset = _choose(path, dataset, names)
                with z.open(dataset + ".npy") as member:
                    shape, dtype = _npy_header(member)
                real_dtype(dtype, f"{path}:{dataset}")
                features = None
                if "features" in names and dataset != "features":
                    with np.load(path, allow_pickle=False) as arrays:
                        features = tuple(str(v) for v in arrays["features"])
            return EventFile(path, dataset, tuple(shape), features)
        with path.open("rb") as fh:
            shape, dtype = _npy_header(fh)
        real_dtype(dtype, str(path))
        return EventFile(path, None, tuple(shape), None)
    except GenampError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, exc) from None


#: the first bytes of each format (HDF5 may also carry a user block before its signature)
SIGNATURES = {".npy": b"\x93NUMPY", ".npz": b"PK", ".h5": b"\x89HDF\r\n\x1a\n", ".hdf5": b"\x89HDF\r\n\x1a\n"}
FORMAT_NAMES = {".npy": "a NumPy .npy file", ".npz": "a NumPy .npz archive", ".h5": "an HDF5 file", ".hdf5": "an HDF5 file"}


def _check_signature(path: Path, suffix: str) -> None:
    """Say what a file is when it is not what its name claims (a text file named .npy, say)."""
    with path.open("rb") as fh:
        head = fh.read(512)
    if not head:
        raise GenampError(f"{path}: is empty (0 bytes)")
    signature = SIGNATURES[suffix]
    if head.startswith(signature) or (suffix in (".h5", ".hdf5") and len(head) == 512):
        return  # h5py finds a signature behind a user block itself, and says so if it cannot
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        first = text.strip().splitlines()[0][:40] if text.strip() else ""
        raise GenampError(
            f"{path}: is a text file (it begins {first!r}), not {FORMAT_NAMES[suffix]}; "
            "read it with numpy.loadtxt and save it with numpy.save, or write HDF5"
        )
    raise GenampError(f"{path}: is not {FORMAT_NAMES[suffix]} (its first bytes are {head[:8]!r})")


def _npy_header(fh: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, read without loading (or unpickling) the data."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    return shape, dtype


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


def fingerprint(path: Path) -> tuple[int, str]:
    """A file's size and the SHA-256 of its first and last MiB: what tells two files apart
    without reading every event (a file rewritten with other events changes it)."""
    import hashlib

    size = path.stat().st_size
    h = hashlib.sha256()
    with path.open("rb") as fh:
        h.update(fh.read(2**20))
        fh.seek(max(0, size - 2**20))
        h.update(fh.read(2**20))
    return size, h.hexdigest()


def duplicate_files(files: list[EventFile]) -> list[tuple[Path, Path, str]]:
    """Pairs of files given as different trainings that are one: the same file, or the same bytes.

    Bytes are compared by size, then by a SHA-256 of their first and last MiB (a whole-file hash
    would read every event once more); ``how`` says which.
    """
    import os

    out, seen = [], {}
    for f in files:
        key = (f.dataset, *fingerprint(f.path))  # read once per file
        same = next((g for g in seen if g.dataset == f.dataset and os.path.samefile(g.path, f.path)), None)
        if same is not None:
            out.append((same.path, f.path, "are the same file"))
        else:
            match = next((g for g, k in seen.items() if k == key), None)
            if match is not None:
                out.append((match.path, f.path, "hold identical bytes"))
        seen[f] = key
    return out
