"""Phase-space volumes and streamed occupancy counting (docs/formulas.md §1.1, §0).

A :class:`QuantileGrid` is a product grid in the coordinates where a density factorises
(Cartesian for camel backs, polar / hyperspherical for the ring and shell), with ``Q`` truth
quantiles per coordinate, so every cell probability ``p_j`` is exact. Cells are numbered in C
order over the factorising coordinates.

Occupancies ``Ī_j(D) = (1/|D|) Σ 1[x ∈ V_j]`` are counted by compiled loops, chunk by chunk, from
an array, an iterable of arrays, or a sampler (:func:`sample_chunks`): memory is bounded by the
chunk size and the number of cells, never by the number of events. :func:`count_occupancy`
records the counts of the first ``n`` events at every checkpoint ``n`` of one stream, which gives
a whole MSE curve over a grid of ``n_gen`` from one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from genamp import _kernels, _validate
from genamp.densities import Density
from genamp.errors import GenampError
from genamp.observables import Observable
from genamp.seeding import child

#: events per chunk when streaming: 2^18 events of 2 features are 4 MiB
DEFAULT_CHUNK = 2**18


def _product_kernel(edges: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """What the compiled product loop needs: edges, their offsets, the slot tables per axis."""
    tables = [_kernels.lookup_table(e) for e in edges]
    return (
        np.concatenate(edges),
        np.cumsum([0] + [e.size for e in edges]).astype(np.int64),
        np.concatenate([t[0] for t in tables]),
        np.cumsum([0] + [t[0].size for t in tables]).astype(np.int64),
        np.array([t[1] for t in tables]),
        np.array([t[2] for t in tables]),
    )


class _ProductVolumes:
    """What every product of 1D bins shares: checked edges, the shape, the cell numbering (C
    order over the axes), and counting in chunks. A subclass says in which coordinates the
    edges are (:meth:`_coordinates`) and how the compiled loop counts (``add_counts``)."""

    dim: int

    def _set_edges(self, names: Sequence[str], edges: Sequence[np.ndarray]) -> list[np.ndarray]:
        clean = []
        for name, e in zip(names, edges, strict=True):
            e = np.asarray(e, dtype=np.float64)
            if e.ndim != 1 or e.size < 2 or np.isnan(e).any() or not (np.diff(e) > 0).all():
                raise GenampError(f"edges of {name} must be a strictly increasing list of at least 2 numbers")
            clean.append(e)
        self.edges: tuple[np.ndarray, ...] = tuple(clean)
        self.shape: tuple[int, ...] = tuple(e.size - 1 for e in clean)
        self.n_cells = int(np.prod(self.shape))
        return clean

    def _coordinates(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def add_counts(self, x: np.ndarray, counts: np.ndarray) -> None:
        raise NotImplementedError

    @property
    def quantiles(self) -> int | tuple[int, ...]:
        """Bins per axis (one number if all axes have the same)."""
        return self.shape[0] if len(set(self.shape)) == 1 else self.shape

    def cell_index(self, x: np.ndarray) -> np.ndarray:
        """Cell number of every event (numpy; the reference for the compiled counting)."""
        u = self._coordinates(x)
        idx = np.zeros(u.shape[0], dtype=np.int64)
        for axis, e in enumerate(self.edges):
            idx = idx * (e.size - 1) + np.searchsorted(e[1:-1], u[:, axis], side="right")
        return idx

    def count(self, x: np.ndarray) -> np.ndarray:
        """Number of events in every cell, shape (n_cells,); any number of events."""
        counts = np.zeros(self.n_cells, dtype=np.int64)
        x = _validate.events(x, self.dim, min_events=0)
        for start in range(0, x.shape[0], DEFAULT_CHUNK):
            self.add_counts(x[start : start + DEFAULT_CHUNK], counts)
        return counts


class QuantileGrid(_ProductVolumes):
    """A product grid of cells in a density's factorising coordinates.

    Parameters
    ----------
    density:
        The truth: defines the coordinates (``density.to_factorised``) and the exact cell
        probabilities.
    edges:
        One increasing array of edges per factorising coordinate; the outer edges close the
        coordinate's range (they may be infinite).
    """

    def __init__(self, density: Density, edges: Sequence[np.ndarray]) -> None:
        if len(edges) != density.dim:
            raise GenampError(
                f"a grid for the {density.name} needs edges for {density.dim} coordinate(s) "
                f"({', '.join(density.axis_names)}), got {len(edges)}"
            )
        clean = self._set_edges(density.axis_names, edges)
        self.density = density
        self._polar = density.coordinates == "spherical" and density.dim == 2
        # what the compiled loops compare against: the polar loop bins r^2, not r
        self._kernel = _product_kernel([clean[0] ** 2, clean[1]] if self._polar else clean)
        self._probabilities: np.ndarray | None = None

    @property
    def dim(self) -> int:
        """Features of the events this grid counts."""
        return self.density.dim

    @classmethod
    def from_density(cls, density: Density, quantiles: int) -> QuantileGrid:
        """``quantiles`` truth quantiles per factorising coordinate: ``quantiles^dim`` cells."""
        q = _validate.positive_int(quantiles, "quantiles", minimum=2)
        return cls(density, [density.quantile_edges(q, a) for a in range(density.dim)])

    @property
    def probabilities(self) -> np.ndarray:
        """Exact cell probabilities ``p_j`` under the truth, shape (n_cells,)."""
        if self._probabilities is None:
            self._probabilities = self.probabilities_under(self.density)
            self._probabilities.flags.writeable = False
        return self._probabilities

    def probabilities_under(self, density: Density) -> np.ndarray:
        """Cell probabilities under another density of the same factorising family.

        This is how a parametric fit's occupancies are computed: an infinite sample of the
        fit, from its CDF at the cell edges (docs/formulas.md §1.6).
        """
        if density.coordinates != self.density.coordinates or density.dim != self.density.dim:
            raise GenampError(
                f"the {density.name} does not factorise in the coordinates of this {self.density.name} grid"
            )
        p = np.ones(1)
        for axis, e in enumerate(self.edges):
            cdf = density.marginal_cdf(axis, e)
            cdf[0], cdf[-1] = 0.0, 1.0  # the outer edges close the range
            p = np.multiply.outer(p, np.diff(cdf)).ravel()
        return p

    def _coordinates(self, x: np.ndarray) -> np.ndarray:
        return self.density.to_factorised(x)

    def add_counts(self, x: np.ndarray, counts: np.ndarray) -> None:
        """Add validated events (C-contiguous float64, (n, dim), finite) to ``counts`` in place."""
        if self._polar:
            _kernels.count_polar(x, *self._kernel, counts)
            return
        u = x if self.density.coordinates == "cartesian" else self.density.to_factorised(x)
        _kernels.count_product(u, *self._kernel, counts)

    def __repr__(self) -> str:
        return f"QuantileGrid({self.density.name}, shape={self.shape})"


class ObservableBins(_ProductVolumes):
    """Volumes on events: ``Q`` bins of one observable, or ``Q × Q`` bins of a pair (docs/formulas.md §7.1).

    Edges are fixed before measuring, at quantiles of a reference sample (the training set
    where there is one, else the pool: :meth:`from_quantiles`); the outer edges are ±inf, so
    every event falls in a volume. Bins are left-closed. Cells are numbered in C order over the
    observables. The probabilities ``p_j`` are not equal: the estimators use
    ``c = (1/J) Σ p_j(1 − p_j)`` throughout.
    """

    def __init__(self, observables: Sequence[Observable], edges: Sequence[np.ndarray], dim: int) -> None:
        if not 1 <= len(observables) <= 2 or len(edges) != len(observables):
            raise GenampError("observable bins are over one observable or a pair, with one edge list each")
        self.dim = _validate.positive_int(dim, "features", minimum=1)
        for o in observables:
            if any(not 0 <= i < dim for i in o.reads):
                raise GenampError(f"observable {o.name} reads column(s) {list(o.reads)}, but events have {dim} feature(s)")
        self.observables = tuple(observables)
        self._kernel = _product_kernel(self._set_edges([o.name for o in observables], edges))

    @classmethod
    def from_quantiles(
        cls, observables: Sequence[Observable], reference: np.ndarray, quantiles: int, what: str = "reference events"
    ) -> ObservableBins:
        """``quantiles`` bins per observable at the quantiles of ``reference`` events (named ``what``).

        An observable that is constant there (to its :attr:`~Observable.rtol`) is an error: one
        bin would hold every event, and a generator has nothing to learn of it. So is one whose
        quantiles coincide (a few distinct values)."""
        q = _validate.positive_int(quantiles, "quantiles", minimum=2)
        reference = np.asarray(reference)
        reference = _validate.events(reference, reference.shape[1] if reference.ndim == 2 else 1,
                                     what=what, min_events=q)  # fmt: skip
        edges = []
        for o in observables:
            values = _values(o, reference)
            # values that differ by the observable's rounding only (a mass computed from momenta) are one
            if np.ptp(values) <= o.rtol * float(np.abs(values).max()):
                raise GenampError(
                    f"observable {o.name} is constant ({values[0]:.6g}) in {what}: its bins would hold every event in "
                    "one, with nothing to measure (c = 0), and a generator is not judged on a value it need not learn "
                    "(such as a quark's fixed mass at parton level, or pT(tt̄) without ISR); leave it out of the observables"
                )
            inner = np.quantile(values, np.linspace(0.0, 1.0, q + 1)[1:-1])
            if not (np.diff(inner) > o.rtol * float(np.abs(inner).max())).all():
                raise GenampError(
                    f"observable {o.name}: its reference values have too few distinct values for {q} quantile bins"
                )
            edges.append(np.concatenate([[-np.inf], inner, [np.inf]]))
        return cls(observables, edges, reference.shape[1])

    @property
    def name(self) -> str:
        return " × ".join(o.name for o in self.observables)

    def values(self, x: np.ndarray, known: dict[tuple[str, tuple[int, ...]], np.ndarray] | None = None) -> np.ndarray:
        """The observables of validated events, (n, 1 or 2), C-contiguous; NaN is an error.

        ``known`` keeps each observable's values of these events by name, so that volumes of one
        observable at several Q (and its pairs) compute it once."""
        if known is None:
            return np.ascontiguousarray(np.stack([_values(o, x) for o in self.observables], axis=1))
        for o in self.observables:
            if (o.name, o.reads) not in known:
                known[o.name, o.reads] = _values(o, x)
        return np.ascontiguousarray(np.stack([known[o.name, o.reads] for o in self.observables], axis=1))

    def _coordinates(self, x: np.ndarray) -> np.ndarray:
        return self.values(x)

    @property
    def column(self) -> int | None:
        """The feature column these bins read, when they are bins of one column (else ``None``)."""
        o = self.observables[0]
        return o.reads[0] if len(self.observables) == 1 and o.is_column else None

    def add_counts(self, x: np.ndarray, counts: np.ndarray, known: dict | None = None) -> None:
        """Add validated events (C-contiguous float64, (n, dim), finite) to ``counts`` in place
        (``known``: the observables' values of these events computed so far, see :meth:`values`)."""
        if self.column is not None:  # the kernel reads the column in place, strided, with no copy
            _kernels.count_product(x[:, self.column : self.column + 1], *self._kernel, counts)
            return
        _kernels.count_product(self.values(x, known), *self._kernel, counts)

    def __repr__(self) -> str:
        return f"ObservableBins({self.name}, shape={self.shape})"


def _values(o: Observable, x: np.ndarray) -> np.ndarray:
    v = o(x)
    if v.shape != (x.shape[0],):
        raise GenampError(f"observable {o.name} gives shape {v.shape} for {x.shape[0]} events; one value per event is needed")
    if not np.isfinite(v).all():
        bad = int((~np.isfinite(v)).sum())
        raise GenampError(f"observable {o.name} is NaN or inf for {bad} of {v.size} events")
    return v


Volumes = QuantileGrid | ObservableBins


class _ColumnVolumes:
    """Several bins of single columns counted in one pass over the rows (each event read once
    for all of them: 10 observables cost little more than one); the other volumes are left to
    their own ``add_counts`` (``others``)."""

    def __init__(self, grids: Sequence[Volumes]) -> None:
        mine = [i for i, g in enumerate(grids) if isinstance(g, ObservableBins) and g.column is not None]
        self.fused = mine if len(mine) > 1 else []
        self.others = [i for i in range(len(grids)) if i not in self.fused]
        if self.fused:
            bins = [grids[i] for i in self.fused]
            self._cols = np.array([b.column for b in bins], dtype=np.int64)
            self._kernel = _product_kernel([b.edges[0] for b in bins])
            self._starts = np.cumsum([0] + [b.n_cells for b in bins])
            self._buffer = np.zeros(int(self._starts[-1]), dtype=np.int64)

    def add_counts(self, x: np.ndarray, counts: list[np.ndarray]) -> None:
        if not self.fused:
            return
        self._buffer[:] = 0
        _kernels.count_columns(x, self._cols, *self._kernel, self._buffer)
        for k, i in enumerate(self.fused):
            counts[i] += self._buffer[self._starts[k] : self._starts[k + 1]]


@dataclass(frozen=True)
class Occupancy:
    """Occupancies of one data set at one or more sizes.

    ``fractions[i, j]`` is ``Ī_j`` of the first ``n[i]`` events; ``n[i] = inf`` marks exact
    occupancies (an infinite sample: a fit's CDF, or a data set evaluated as it is).
    """

    n: np.ndarray
    fractions: np.ndarray

    @classmethod
    def exact(cls, probabilities: np.ndarray) -> Occupancy:
        return cls(np.array([np.inf]), np.asarray(probabilities, dtype=np.float64)[None, :])


Sampler = Callable[[int, np.random.SeedSequence], np.ndarray]


def sample_chunks(
    sample: Sampler, n: int, seed: np.random.SeedSequence | int, chunk_size: int = DEFAULT_CHUNK
) -> Iterator[np.ndarray]:
    """``n`` events from ``sample(m, seed)`` in chunks; chunk ``k`` uses the child seed ``k``.

    A pure function of ``seed`` and ``chunk_size``: the first ``m`` events are the same whatever
    ``n``, so nested sample sizes come from one stream. (A sampler's first events need not be
    the same for another sample size, so every chunk is drawn whole and the last one cut.)
    """
    chunk_size = _validate.positive_int(chunk_size, "chunk_size")
    for k, start in enumerate(range(0, n, chunk_size)):
        yield sample(chunk_size, child(seed, k))[: n - start]


def count_occupancy(
    events: np.ndarray | Iterable[np.ndarray],
    grids: Sequence[Volumes],
    checkpoints: Sequence[int] | None = None,
    what: str = "events",
) -> list[Occupancy]:
    """Count a stream of events into every grid at once.

    Parameters
    ----------
    events:
        An array (n, dim) or an iterable of such chunks (e.g. :func:`sample_chunks`).
    grids:
        Grids over the same density dimension.
    checkpoints:
        Increasing sample sizes: row ``i`` of each result holds the occupancies of the first
        ``checkpoints[i]`` events. The stream is read only up to the last checkpoint. ``None``
        counts all events into one row.
    """
    if not grids:
        raise GenampError("count_occupancy needs at least one grid")
    dim = grids[0].dim
    if any(g.dim != dim for g in grids):
        raise GenampError("all grids of one count must have the same dimension")
    if checkpoints is not None:
        cps = np.asarray([_validate.positive_int(c, "n_gen checkpoint") for c in checkpoints], dtype=np.int64)
        if cps.size == 0 or (np.diff(cps) <= 0).any():
            raise GenampError(f"checkpoints must be increasing sample sizes, got {list(checkpoints)}")
    chunks: Iterable[np.ndarray]
    if isinstance(events, np.ndarray):
        chunks = (events[s : s + DEFAULT_CHUNK] for s in range(0, max(len(events), 1), DEFAULT_CHUNK))
    else:
        chunks = events
    counts = [np.zeros(g.n_cells, dtype=np.int64) for g in grids]
    columns = _ColumnVolumes(grids)
    snapshots: list[list[np.ndarray]] = [[] for _ in grids]
    seen = 0
    next_cp = 0
    for chunk in chunks:
        x = _validate.events(chunk, dim, what=what, min_events=0)
        pos = 0
        while pos < x.shape[0]:
            stop = x.shape[0] if checkpoints is None else min(x.shape[0], pos + int(cps[next_cp]) - seen)
            columns.add_counts(x[pos:stop], counts)
            known: dict = {}  # a derived observable is computed once for all its volumes
            for i in columns.others:
                if isinstance(grids[i], ObservableBins):
                    grids[i].add_counts(x[pos:stop], counts[i], known)
                else:
                    grids[i].add_counts(x[pos:stop], counts[i])
            seen += stop - pos
            pos = stop
            if checkpoints is not None and seen == cps[next_cp]:
                for snap, c in zip(snapshots, counts, strict=True):
                    snap.append(c.copy())
                next_cp += 1
                if next_cp == cps.size:
                    break
        if checkpoints is not None and next_cp == cps.size:
            break
    if checkpoints is None:
        if seen == 0:
            raise GenampError(f"{what}: no events to count")
        return [Occupancy(np.array([float(seen)]), (c / seen)[None, :]) for c in counts]
    if next_cp < cps.size:
        raise GenampError(
            f"{what}: the stream ended after {seen} events, but occupancies were asked for at {int(cps[-1])}"
        )
    n = cps.astype(np.float64)
    return [Occupancy(n, np.stack(s) / n[:, None]) for s in snapshots]
