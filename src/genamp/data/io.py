"""Reading events from files, safely and in chunks.

Events are arrays of shape (events, features) in HDF5 (``h5py``) or NumPy (``.npy``, ``.npz``)
files, or the flat numeric branches of a ROOT TTree (or the fields of an RNTuple), one feature per
branch, read with ``uproot`` (the tree is the ``dataset``; branches of arrays, jagged ones and their
counters are not features). Nothing is ever unpickled: NumPy files are opened with ``allow_pickle=False``, so a file
holding Python objects is refused with a clear message instead of running code from it. Every
file is checked once, when it is opened: its first bytes must be its format's (a text file is
named as one), and its values real numbers (booleans, complex numbers, strings and objects are
refused by dtype, never cast). Large
files are read chunk by chunk (HDF5 slices, memory-mapped ``.npy``, a ROOT tree's entry ranges),
so counting occupancies of a file never holds all of it in memory.

Files from different programs are matched by feature name: :meth:`EventFile.select` gives a file
that reads only the named features, in the order named (of a ROOT tree only those branches), and a
name the file lacks is one error naming what it has.

An HDF5 array of shape (events, objects, components), such as the four-momenta
``(E, px, py, pz)`` of a top pair's six quarks or jets, is read with its attributes ``objects``
and ``components`` as events of ``objects × components`` features, flattened per event in C
order (``b_E, b_px, ..., q4_pz``); the :class:`Layout` stays on the :class:`EventFile`, so the
physics observables (:mod:`genamp.physics`) find the objects by name. Any other 3D array is an
error.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import h5py
import numpy as np

from genamp._validate import real_dtype
from genamp.errors import GenampError
from genamp.volumes import DEFAULT_CHUNK

SUFFIXES = (".npy", ".npz", ".h5", ".hdf5", ".root")

#: rows read at a time when picking single rows out of a file (:meth:`EventFile.rows`)
ROW_BLOCK = 4096


@dataclass(frozen=True)
class Layout:
    """How a stored array (events, objects, components) is laid out: the names of its objects
    (``b, q1, q2, bbar, q3, q4``) and of their components (``E, px, py, pz``), and the file's
    ``layout`` and ``level`` attributes where it has them (``ttbar``; ``parton`` or ``jet``)."""

    objects: tuple[str, ...]
    components: tuple[str, ...]
    name: str | None = None
    level: str | None = None

    @property
    def features(self) -> tuple[str, ...]:
        """The names of the flattened columns, ``{object}_{component}`` in C order."""
        return tuple(f"{o}_{c}" for o in self.objects for c in self.components)


@dataclass(frozen=True)
class EventFile:
    """An events dataset inside a file: where it is, its shape (events, features), its feature
    names if stored, and the layout of a stored (events, objects, components) array, whose
    events are read flattened to ``objects × components`` features."""

    path: Path
    dataset: str | None
    shape: tuple[int, ...]
    features: tuple[str, ...] | None
    layout: Layout | None = None
    #: the stored (flattened) columns read, in order, where :meth:`select` chose them; else all
    picked: tuple[int, ...] | None = None

    @property
    def n_events(self) -> int:
        return self.shape[0]

    def select(self, names: Sequence[str]) -> EventFile:
        """This file reading only the features ``names``, in that order (a ROOT tree reads only
        those branches); one error naming the missing ones and what the file has."""
        names = tuple(names)
        if self.features is None:
            raise GenampError(f"{self.path}: its columns have no names, so {', '.join(names)} cannot be found in it; "
                              "store the names (an HDF5 attribute features, an array features in .npz, or a ROOT tree)")  # fmt: skip
        missing = [n for n in names if n not in self.features]
        if missing:
            has = ", ".join(self.features[:12]) + (", ..." if len(self.features) > 12 else "")
            raise GenampError(f"{self.path}: no feature {', '.join(missing)}; it has {has}")
        if len(set(names)) != len(names):
            raise GenampError(f"{self.path}: features named twice in {', '.join(names)}")
        if names == self.features:
            return self
        index = [self.features.index(n) for n in names]
        picked = tuple(index) if self.picked is None else tuple(self.picked[i] for i in index)
        return replace(self, shape=(self.n_events, len(names)), features=names, layout=None, picked=picked)

    def chunks(self, chunk_size: int = DEFAULT_CHUNK) -> Iterator[np.ndarray]:
        """The events, ``chunk_size`` rows at a time."""
        with _open(self.path, self.dataset, self.features) as arr:
            for start in range(0, self.n_events, chunk_size):
                yield self._flat(arr[start : start + chunk_size])

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
        with _open(self.path, self.dataset, self.features) as arr:
            starts = np.unique(wanted // block) * block
            lo = 0
            for start in starts:
                hi = int(np.searchsorted(wanted, start + block))
                rows = self._flat(arr[start : min(start + block, self.n_events)])
                out[order[lo:hi]] = rows[wanted[lo:hi] - start]
                lo = hi
        return out

    def _flat(self, block: np.ndarray) -> np.ndarray:
        """Stored rows as float64 events of this file's shape (a layout's objects flattened, the
        picked columns; a ROOT tree's rows hold only those already)."""
        block = np.asarray(block, dtype=np.float64)
        if self.picked is not None and self.path.suffix.lower() != ".root":
            block = block.reshape(block.shape[0], -1)[:, list(self.picked)]
        return block.reshape(block.shape[0], *self.shape[1:])


class _Tree:
    """A ROOT tree's named branches as a sliceable (entries, branches) float64 array."""

    def __init__(self, tree: Any, branches: Sequence[str]) -> None:
        self.tree, self.branches = tree, list(branches)

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.tree.num_entries)
        arrays = self.tree.arrays(self.branches, entry_start=start, entry_stop=max(start, stop), library="np")
        return np.stack([np.asarray(arrays[b], dtype=np.float64) for b in self.branches], axis=1)


class _open:
    """Context manager giving a sliceable array for a dataset of any supported file (of a ROOT
    tree, its ``branches``)."""

    def __init__(self, path: Path, dataset: str | None, branches: Sequence[str] | None = None) -> None:
        self.path, self.dataset, self.branches = path, dataset, branches
        self._h5: h5py.File | None = None
        self._npz: np.lib.npyio.NpzFile | None = None
        self._root: Any = None

    def __enter__(self) -> np.ndarray | h5py.Dataset | _Tree:
        suffix = self.path.suffix.lower()
        try:
            if suffix == ".root":
                import uproot

                self._root = uproot.open(self.path)
                return _Tree(self._root[self.dataset], self.branches or ())
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
        if self._root is not None:
            self._root.close()
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
        if suffix == ".root":
            return _open_root(path, dataset)
        if suffix in (".h5", ".hdf5"):
            with h5py.File(path, "r") as f:
                names: list[str] = []
                f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
                dataset = _choose(path, dataset, names)
                ds = f[dataset]
                if not isinstance(ds, h5py.Dataset):
                    raise GenampError(f"{path}:{dataset}: is a group, not an array; name an array inside it")
                real_dtype(ds.dtype, f"{path}:{dataset}")
                if ds.ndim == 3:
                    # the array's own attributes, else the file's (genamp data ttbar writes them there)
                    layout = _layout(f"{path}:{dataset}", tuple(ds.shape), {**f.attrs, **ds.attrs})
                    return EventFile(path, dataset, (ds.shape[0], ds.shape[1] * ds.shape[2]), layout.features, layout)
                _not_3d(f"{path}:{dataset}", tuple(ds.shape))
                raw = ds.attrs.get("features", ds.attrs.get("feature_names"))
                features = _strings(raw) if raw is not None else None
                return EventFile(path, dataset, tuple(ds.shape), features)
        if suffix == ".npz":
            with zipfile.ZipFile(path) as z:
                names = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
                dataset = _choose(path, dataset, names)
                with z.open(dataset + ".npy") as member:
                    shape, dtype = _npy_header(member)
                real_dtype(dtype, f"{path}:{dataset}")
                _not_3d(f"{path}:{dataset}", tuple(shape))
                features = None
                if "features" in names and dataset != "features":
                    with np.load(path, allow_pickle=False) as arrays:
                        features = tuple(str(v) for v in arrays["features"])
            return EventFile(path, dataset, tuple(shape), features)
        with path.open("rb") as fh:
            shape, dtype = _npy_header(fh)
        real_dtype(dtype, str(path))
        _not_3d(str(path), tuple(shape))
        return EventFile(path, None, tuple(shape), None)
    except GenampError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, exc) from None


def _open_root(path: Path, dataset: str | None) -> EventFile:
    """A ROOT file's tree (TTree or RNTuple; ``dataset`` names it where there are several) as
    events whose features are its flat numeric branches."""
    import uproot

    try:
        with uproot.open(path) as f:
            names = sorted({key.split(";")[0] for key, kind in f.classnames().items() if kind in ("TTree", "ROOT::RNTuple")})
            if dataset is None and not names:
                raise GenampError(f"{path}: holds no TTree or RNTuple ({', '.join(f.keys(cycle=False)) or 'nothing'})")
            dataset = _choose(path, dataset, names)
            tree = f[dataset]
            counters = {b.count_branch.name for b in getattr(tree, "branches", ()) if getattr(b, "count_branch", None) is not None}
            first = tree.arrays(entry_start=0, entry_stop=min(1, tree.num_entries), library="np")
            features = tuple(n for n, a in first.items() if a.dtype.kind in "iuf" and a.ndim == 1 and n not in counters)
            if not features:
                raise GenampError(f"{path}:{dataset}: has no branch of one number per entry (it has {', '.join(first) or 'none'})")
            return EventFile(path, dataset, (int(tree.num_entries), len(features)), features)
    except GenampError:
        raise
    except Exception as exc:  # uproot raises its own types for a damaged file
        raise _unreadable(path, exc) from None


def _strings(raw: object) -> tuple[str, ...]:
    """An attribute's list of names as str (h5py gives bytes or str)."""
    values = [raw] if isinstance(raw, (str, bytes)) else list(np.atleast_1d(raw))  # type: ignore[call-overload]
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in values)


def _layout(what: str, shape: tuple[int, ...], attrs: Mapping[str, Any]) -> Layout:
    """The layout of a 3D array from its attributes ``objects`` and ``components`` (one name per
    object and per component, each once), with ``layout`` and ``level`` where given."""
    objects = _strings(attrs["objects"]) if "objects" in attrs else None
    components = _strings(attrs["components"]) if "components" in attrs else None
    if objects is None or components is None or len(objects) != shape[1] or len(components) != shape[2]:
        raise GenampError(
            f"{what}: a 3D array of shape {shape} is read as (events, objects, components) only with the attributes "
            f"objects ({shape[1]} names) and components ({shape[2]} names, such as E, px, py, pz)"
            + ("" if objects is None or components is None else f"; it has {len(objects)} objects and {len(components)} components")
        )
    for kind, names in (("objects", objects), ("components", components)):
        if len(set(names)) != len(names) or not all(names):
            raise GenampError(f"{what}: its {kind} must be distinct, non-empty names; got {', '.join(names)}")
    name, level = (_strings(attrs[k])[0] if k in attrs else None for k in ("layout", "level"))
    return Layout(objects, components, name, level)


def _not_3d(what: str, shape: tuple[int, ...]) -> None:
    """Events are (events, features): a 3D array is read only as an HDF5 layout, nothing deeper."""
    if len(shape) == 3:
        raise GenampError(
            f"{what}: a 3D array of shape {shape} is read as (events, objects, components) only from HDF5 with the "
            "attributes objects and components; store it so, or as (events, features)"
        )
    if len(shape) > 3:
        raise GenampError(f"{what}: expected events of shape (events, features) or (events, objects, components), got shape {shape}")


#: the first bytes of each format (HDF5 may also carry a user block before its signature)
SIGNATURES = {".npy": b"\x93NUMPY", ".npz": b"PK", ".h5": b"\x89HDF\r\n\x1a\n", ".hdf5": b"\x89HDF\r\n\x1a\n", ".root": b"root"}
FORMAT_NAMES = {".npy": "a NumPy .npy file", ".npz": "a NumPy .npz archive", ".h5": "an HDF5 file", ".hdf5": "an HDF5 file",
                ".root": "a ROOT file"}  # fmt: skip


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
