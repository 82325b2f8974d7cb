"""A truth given as events: a pool of ``M`` true events (docs/formulas.md §7).

On LHC data the truth is known only through events: a large Monte Carlo sample or a holdout,
disjoint from every training set. Its volume probabilities are counted, ``p̂_j = Ī_j(T)``, with
variance ``p_j(1 − p_j)/M`` (docs/formulas.md §7.2); the truth-based estimators then subtract the pool's
own noise and report a lower bound where the pool cannot resolve ``n_equiv`` (docs/formulas.md §7.3). A pool
has no ``log_prob``.

    pool = Pool.from_file("pool.h5")                  # or Pool(array)
    truth = pool.cell_probabilities(volumes)          # CellProbabilities(p̂, n_events=M)
    truth_amplification(occupancies, n_gen, truth, n_train)

Events are streamed chunk by chunk: a pool of 10⁸ events is never held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from genamp import _validate
from genamp.data.io import EventFile, open_events
from genamp.errors import GenampError
from genamp.estimators.truth import CellProbabilities
from genamp.volumes import DEFAULT_CHUNK, Volumes, count_occupancy

__all__ = ["Pool"]


class Pool:
    """``M`` true events, from an array (events, features) or a file (:meth:`from_file`)."""

    def __init__(self, events: np.ndarray | EventFile, name: str = "pool") -> None:
        self.name = name
        if isinstance(events, EventFile):
            self._file: EventFile | None = events
            self._events: np.ndarray | None = None
            shape = events.shape
        else:
            arr = np.asarray(events)
            if arr.ndim == 1:
                arr = arr[:, None]
            self._file, self._events = None, arr
            shape = arr.shape
        if len(shape) != 2:
            raise GenampError(f"{name}: expected events of shape (events, features), got shape {shape}")
        self.n_events, self.dim = int(shape[0]), int(shape[1])
        self.features = events.features if isinstance(events, EventFile) else None
        self.path = events.path if isinstance(events, EventFile) else None

    @classmethod
    def from_file(cls, path: Path | str, dataset: str | None = None) -> Pool:
        """The events of an HDF5 or NumPy file (checked by type when opened, never unpickled)."""
        return cls(open_events(path, dataset), name=str(path))

    def chunks(self, chunk_size: int = DEFAULT_CHUNK) -> Iterator[np.ndarray]:
        if self._file is not None:
            yield from self._file.chunks(chunk_size)
            return
        assert self._events is not None
        for start in range(0, max(self.n_events, 1), chunk_size):
            yield self._events[start : start + chunk_size]

    def head(self, n: int) -> np.ndarray:
        """The first ``n`` events (all of them if there are fewer), as one array."""
        out, have = [], 0
        for chunk in self.chunks():
            out.append(np.asarray(chunk[: n - have], dtype=np.float64))
            have += out[-1].shape[0]
            if have >= n:
                break
        return np.concatenate(out) if out else np.empty((0, self.dim))

    def reference(self, n: int) -> np.ndarray:
        """Every ``⌈M/n⌉``-th event (at most ``n``), as one array: the events whose quantiles fix
        volume edges. A strided subsample, so a pool sorted by some column does not bias it."""
        step = max(1, -(-self.n_events // max(1, n)))
        out, seen = [], 0
        for chunk in self.chunks(step * 2**12):
            out.append(np.asarray(chunk[(-seen) % step :: step], dtype=np.float64))
            seen += chunk.shape[0]
        return np.concatenate(out) if out else np.empty((0, self.dim))

    def cell_probabilities(self, volumes: Volumes) -> CellProbabilities:
        """``p̂_j`` of every volume, counted from the whole pool, with ``n_events = M``.

        A pool with fewer than 10 events per volume is an error that says what is sensible: its
        own noise would be the measurement.
        """
        return self.count([volumes])[0]

    def count(
        self, volumes: Sequence[Volumes], watch: Callable[[np.ndarray], None] | None = None
    ) -> list[CellProbabilities]:
        """:meth:`cell_probabilities` of several sets of volumes in one pass over the pool;
        ``watch`` sees every chunk on the way (a check that needs the events, at no second read)."""
        for v in volumes:
            if self.dim != v.dim:
                raise GenampError(f"{self.name}: events have {self.dim} feature(s), but the volumes are over {v.dim}")
            _validate.pool_events_per_volume(self.n_events, v.shape[0], len(v.shape), f"the pool {self.name}")
        chunks = self.chunks()
        if watch is not None:
            chunks = (watch(c) or c for c in chunks)
        return [CellProbabilities(o.fractions[0], float(o.n[0])) for o in count_occupancy(chunks, volumes, what=self.name)]

    def __repr__(self) -> str:
        return f"Pool({self.name!r}, {self.n_events} events, {self.dim} features)"
