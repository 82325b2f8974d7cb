"""What ``genamp assess`` (:mod:`genamp.study.assess`) and a pool study share: count generated
files into volumes and measure them against a truth.

:func:`measure` counts every file into every set of volumes in one streamed pass each and gives
a truth-based record per set (docs/formulas.md §1, on a pool §7.3) and, when the files are one
training's K members or posterior draws, the averaging forecast of their mixture beside its
truth-based G (§2, on a pool §7.4) and its falsification by a holdout (§7.7). :func:`pool_truth`
is a pool's cell probabilities without the training events it holds; :func:`gen_sizes` the
sizes of the MSE curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genamp import _validate
from genamp.data.io import EventFile, duplicate_files
from genamp.errors import GenampError
from genamp.estimators.averaging import forecast
from genamp.estimators.calibration import member_plateau, summarise
from genamp.estimators.falsification import falsify
from genamp.estimators.truth import CellProbabilities, TruthLike, truth_amplification
from genamp.study.runner import averaging_record, truth_record
from genamp.truths.pool import Pool
from genamp.volumes import Volumes, count_occupancy

__all__ = ["Measurement", "Overlap", "gen_sizes", "measure", "pool_truth"]


@dataclass
class Measurement:
    """Records per set of volumes (truth-based, then the forecasts with ``members``), and the
    warnings that go with all of them."""

    records: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    volumes: list[Volumes] = field(default_factory=list)
    #: what the caller should be told that changes no record's reading
    notes: list[str] = field(default_factory=list)


def gen_sizes(files: Sequence[EventFile], n_train: int) -> tuple[list[int], list[str]]:
    """The sizes of the generated files' MSE curve (nested prefixes 100, 300, 1000, ... up to the
    smallest file), and the warnings: files given twice, ``n_train`` above a file's size."""
    n_min = min(f.n_events for f in files)
    if n_min < 2:
        raise GenampError(f"{min(files, key=lambda f: f.n_events).path}: {n_min} event(s); at least 2 needed")
    n_gen = [n for n in (int(round(10 ** (k / 2))) for k in range(4, 40)) if n < n_min] + [n_min]
    warnings = [f"{a} and {b} {how}: they count as two trainings but are one" for a, b, how in duplicate_files(list(files))]
    if n_train > n_min:
        warnings.append(
            f"n_train = {n_train} is more than the {n_min} events of the smallest file: a sample is worth at most "
            f"about its own size, so G above {n_min / n_train:.2g} cannot be seen; is n_train the generator's training set?"
        )
    return n_gen, warnings


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
        #: the rows found, as they passed (at most the training set's)
        self.rows: list[np.ndarray] = []

    def __call__(self, chunk: np.ndarray) -> None:
        x = np.ascontiguousarray(chunk, dtype=np.float64)
        candidates = x[np.isin(x @ self._key, self._known)]
        hits = candidates[[r.tobytes() in self._rows for r in candidates]] if candidates.size else candidates
        self.found += hits.shape[0]
        if hits.shape[0]:
            self.rows.append(hits)


def pool_truth(pool: Pool, volumes: Sequence[Volumes], training: np.ndarray) -> tuple[list[CellProbabilities], str | None]:
    """The pool's cell probabilities without the training events it holds (found row by row as
    its chunks pass, then their counts subtracted), and a note saying how many there were."""
    overlap = Overlap(training)
    counted = pool.count(volumes, watch=overlap)
    if not overlap.found:
        return counted, None
    m = int(counted[0].n_events) - overlap.found
    for v in volumes:
        _validate.pool_events_per_volume(m, v.shape[0], len(v.shape), f"the pool {pool.name} less the training events in it")
    trained = count_occupancy(np.concatenate(overlap.rows), list(volumes), what="the training events in the pool")
    truths = []
    for all_, t in zip(counted, trained, strict=True):
        counts = np.rint(all_.p * all_.n_events) - np.rint(t.fractions[0] * t.n[0])
        truths.append(CellProbabilities(counts / m, float(m)))
    note = (f"{overlap.found} of the {training.shape[0]} training events are also in the pool {pool.name}: they are left "
            f"out of its truth, which holds the other {m} (docs/formulas.md §7)")  # fmt: skip
    return truths, note


def measure(
    files: Sequence[EventFile],
    volumes: Sequence[Volumes],
    truths: Sequence[TruthLike] | None,
    headers: Sequence[dict[str, Any]],
    n_train: int,
    n_gen: Sequence[int],
    members: bool,
    significance: float,
    holdout: Sequence[np.ndarray] | None = None,
    n_holdout: int = 0,
) -> list[dict[str, Any]]:
    """Count every file into every set of volumes once (streamed); against ``truths`` a
    truth-based record per set, and with ``members`` the averaging forecast of the files'
    mixture at the smallest file's size, beside its truth where there is one, and tested against
    the ``holdout``'s occupancies of each set (``n_holdout`` events, §7.7) where given."""
    if members and len(files) < 2:
        raise GenampError("--members needs at least 2 files: the spread of one generator is not defined")
    per_file = [count_occupancy(f.chunks(), volumes, n_gen, what=str(f.path)) for f in files]
    records, forecasts = [], []
    n_min = float(n_gen[-1])
    for i, header in enumerate(headers):
        fractions = np.stack([occ[i].fractions for occ in per_file])
        truth = truths[i] if truths is not None else None
        if truth is not None:
            res = truth_amplification(fractions, np.asarray(n_gen, float), truth, n_train)
            records.append({**header, **truth_record(res)})
        if members:
            last = fractions[:, -1]
            fc = forecast(last, n_min, n_train, significance=significance)
            summary = summarise([fc], truth, None if truth is None else [member_plateau(last, n_min, truth)])
            verdicts = None if holdout is None else [falsify(fc, holdout[i], n_holdout)]
            base = {**header, "method": "averaging", "repetitions": 1, "spread": {"members": len(files), "mode": "files"}}
            forecasts.append({**base, **averaging_record(summary, fc, base, verdicts)})
    return records + forecasts
