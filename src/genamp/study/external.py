"""A user's generated files measured against a pool of true events, per observable (docs/formulas.md §7).

What ``genamp estimate --pool`` does, usable from Python: every observable (a column, by
default every one) is cut into ``Q`` quantile bins with edges fixed before measuring (docs/formulas.md §7.1:
quantiles of the training set when it is given, else of the pool), the pool and every file are
counted into all of them in one pass each, and each (observable, Q) gets a truth-based record
against the pool with its error and bound (docs/formulas.md §7.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genamp import _validate
from genamp.data.io import EventFile
from genamp.errors import GenampError
from genamp.estimators.truth import truth_amplification
from genamp.observables import Observable
from genamp.study.runner import truth_record
from genamp.truths.pool import Pool
from genamp.volumes import ObservableBins, count_occupancy

#: events of the reference sample whose quantiles fix the edges (a subsample of a large pool
#: places quantile edges to about 1/sqrt(10^6) in probability: far inside any volume)
REFERENCE_EVENTS = 10**6


@dataclass
class PoolMeasurement:
    """Records per observable and resolution, and the warnings that go with all of them."""

    records: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    volumes: list[ObservableBins] = field(default_factory=list)


class Overlap:
    """Training events that are also in the pool (identical rows), counted as the pool's chunks
    pass by (:meth:`Pool.count`'s ``watch``): no second read of the pool.

    Rows are projected to one number each to find candidates fast, then compared whole.
    """

    def __init__(self, training: np.ndarray) -> None:
        self._key = np.random.default_rng(0).standard_normal(training.shape[1])
        self._known = np.unique(training @ self._key)
        self._rows = {r.tobytes() for r in np.ascontiguousarray(training, dtype=np.float64)}
        self.found = 0

    def __call__(self, chunk: np.ndarray) -> None:
        x = np.ascontiguousarray(chunk, dtype=np.float64)
        self.found += sum(r.tobytes() in self._rows for r in x[np.isin(x @ self._key, self._known)])


def measure_against_pool(
    pool: Pool,
    files: Sequence[EventFile],
    observables: Sequence[Observable],
    quantiles: Sequence[int],
    n_train: int,
    n_gen: Sequence[int],
    training: np.ndarray | None = None,
    name: str = "external",
) -> PoolMeasurement:
    """Truth-based G of ``files`` (one per training) against ``pool``, per observable and Q."""
    warnings: list[str] = []
    for f in files:
        if f.shape[1] != pool.dim:
            raise GenampError(f"{f.path}: events have {f.shape[1]} feature(s), the pool {pool.name} has {pool.dim}")
        if f.features is not None and pool.features is not None and tuple(f.features) != tuple(pool.features):
            raise GenampError(
                f"{f.path}: features {', '.join(f.features)} differ from the pool's {', '.join(pool.features)}"
            )
    for q in quantiles:
        warning = _validate.events_per_volume(min(f.n_events for f in files), q, 1, "the smallest file")
        warnings += [warning] if warning else []
    overlap = None
    if training is not None:
        training = _validate.events(training, pool.dim, what="training set", min_events=2)
        reference, origin, overlap = training, "the training set", Overlap(training)
    else:
        reference, origin = pool.head(REFERENCE_EVENTS), f"the pool {pool.name}"
    volumes = [ObservableBins.from_quantiles([o], reference, q, what=origin) for o in observables for q in quantiles]
    truths = pool.count(volumes, watch=overlap)
    if overlap is not None and overlap.found:
        warnings.append(
            f"{overlap.found} of the {len(training)} training events are also in the pool {pool.name}: a pool must be "
            "disjoint from every training set (docs/formulas.md §7), or the generator is measured against what it learnt"
        )
    per_file = [count_occupancy(f.chunks(), volumes, n_gen, what=str(f.path)) for f in files]
    records = []
    for i, (bins, truth) in enumerate(zip(volumes, truths, strict=True)):
        fractions = np.stack([occ[i].fractions for occ in per_file])
        res = truth_amplification(fractions, np.asarray(n_gen, float), truth, n_train)
        records.append({
            "method": "truth", "model": name, "truth": "pool", "pool": pool.name, "observable": bins.name,
            "edges_from": origin, "quantiles": bins.quantiles, "n_cells": bins.n_cells, "n_train": n_train,
            "repetitions": len(files), **truth_record(res),
        })  # fmt: skip
    return PoolMeasurement(records, warnings, volumes)
