"""A study whose truth is a pool of events in a file (docs/formulas.md §7).

On data there is no formula to sample training sets from, and no grid of exact cells. A study
``genamp run --pool FILE`` then takes everything from the file:

- **training sets**: repetition ``r`` trains on ``n_train`` rows drawn without replacement from
  the file's ``M`` rows by the stream ``(seed, r, TRAINING_DATA)``, the same for every model. The
  draw depends only on ``r``, so adding repetitions extends a study without changing the ones
  done. Two repetitions share a row with probability about ``n_train/M`` each: the repetitions
  are (very nearly) independent samples of the truth the file was drawn from;
- **volumes**: ``Q`` bins of each observable (a column of the file, every column by default; or a
  physics observable of four-momenta, such as ``t_m``, stored by name), or
  ``Q × Q`` bins of a pair, with edges at the quantiles of the file, fixed when the study is
  planned (a strided subsample of at most :data:`REFERENCE_EVENTS` rows, which a sorted file
  does not bias). They sit in every task's spec, so a task's occupancies always belong to them;
- **the truth**: every row that no repetition trained on. Its counts are the file's counts less
  those of the training rows, so the pool is disjoint from every training set (docs/formulas.md
  §7) at one pass over the file, and the truth-based estimators subtract its noise and report a
  bound where it cannot resolve ``n_equiv`` (§7.3).

The task spec holds the file's path, size and a fingerprint of its bytes: a file changed after
the study was planned is an error, never a silent mix of two truths.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genamp import _validate
from genamp.data.io import EventFile, fingerprint, open_events
from genamp.errors import GenampError
from genamp.estimators.truth import CellProbabilities
from genamp.observables import Observable, column, select
from genamp.seeding import HOLDOUT, REFERENCE, TRAINING_DATA, seed_sequence
from genamp.truths.pool import Pool
from genamp.volumes import ObservableBins, count_occupancy

__all__ = [
    "MAX_TRAINING_SHARE",
    "REFERENCE_EVENTS",
    "describe",
    "observables_of",
    "reference_set",
    "training_rows",
    "training_set",
    "truth_cells",
    "volume_specs",
    "volumes",
]

#: rows whose quantiles fix the edges (a subsample of a large file places a quantile edge to
#: about 1/sqrt(10^6) in probability: far inside any volume)
REFERENCE_EVENTS = 10**6

#: the largest share of the file the training sets of a study may take (the rest is the truth)
MAX_TRAINING_SHARE = 0.5


def describe(path: Path | str, dataset: str | None = None) -> dict[str, Any]:
    """What a task spec says of the pool file: where, which array, its size, its fingerprint."""
    f = open_events(path, dataset)
    if len(f.shape) != 2:
        raise GenampError(f"{f.path}: expected events of shape (events, features), got shape {f.shape}")
    return {
        "path": str(f.path.resolve()),
        "dataset": f.dataset,
        "events": int(f.shape[0]),
        "dim": int(f.shape[1]),
        "features": None if f.features is None else list(f.features),
        "fingerprint": _fingerprint(f.path),
    }


def _fingerprint(path: Path) -> str:
    """``size:sha256`` of the file's first and last MiB, as a spec holds it."""
    size, digest = fingerprint(path)
    return f"{size}:{digest}"


def _file(pool: dict[str, Any]) -> EventFile:
    """The pool file of a spec, checked to be the one the study was planned on."""
    path = Path(pool["path"])
    f = open_events(path, pool["dataset"])
    if _fingerprint(path) != pool["fingerprint"] or f.shape[0] != pool["events"]:
        raise GenampError(
            f"{path} changed since the study was planned (its size or bytes differ): the study's training sets "
            "and truth came from the old file; restore it, or start the study again with --out elsewhere"
        )
    return f


def volume_specs(
    f: EventFile, observables: Sequence[Observable], pairs: Sequence[tuple[Observable, Observable]], quantiles: Sequence[int]
) -> list[dict[str, Any]]:
    """The volumes of a pool study, one entry per (observable or pair, Q): names, columns and
    inner edges at the quantiles of :meth:`Pool.reference` (the outer edges are ±inf). A derived
    observable (``t_m``) has no column (``None``): it is rebuilt by its name from the pool's features."""
    reference = Pool(f).reference(REFERENCE_EVENTS)
    out = []
    for group in [(o,) for o in observables] + [tuple(p) for p in pairs]:
        for q in quantiles:
            bins = ObservableBins.from_quantiles(list(group), reference, q, what=f"the pool {f.path}")
            out.append({
                "observables": [o.name for o in group],
                "columns": [o.reads[0] if o.is_column else None for o in group],
                "quantiles": int(q),
                "edges": [e[1:-1].tolist() for e in bins.edges],
            })  # fmt: skip
    return out


def volumes(spec: dict[str, Any]) -> dict[int, ObservableBins]:
    """The observable bins of a pool study's task, by their position in its spec."""
    dim, features = spec["pool"]["dim"], spec["pool"]["features"]
    out = {}
    for i, v in enumerate(spec["volumes"]):
        obs = [_observable(c, name, dim, features) for c, name in zip(v["columns"], v["observables"], strict=True)]
        out[i] = ObservableBins(obs, [np.concatenate([[-np.inf], e, [np.inf]]) for e in v["edges"]], dim)
    return out


def _observable(col: int | None, name: str, dim: int, features: Sequence[str] | None) -> Observable:
    """A volume's observable: its column, or, derived (``t_m``), rebuilt by name."""
    return column(col, name) if col is not None else select(name, dim, features)[0]


def observables_of(spec: dict[str, Any]) -> list[Observable]:
    """The study's one-dimensional observables, each once, in the order of its volumes: what the
    differential method's classifier reads of an event (the objects' pT, η, φ, the derived masses
    and ΔRs on top pairs)."""
    dim, features = spec["pool"]["dim"], spec["pool"]["features"]
    out: dict[str, Observable] = {}
    for v in spec["volumes"]:
        if len(v["observables"]) == 1 and v["observables"][0] not in out:
            c, name = v["columns"][0], v["observables"][0]
            out[name] = _observable(c, name, dim, features)
    return list(out.values())


def training_rows(spec: dict[str, Any], repetition: int) -> np.ndarray:
    """The file rows repetition ``repetition`` trains on, in the order they are given to a model."""
    rng = np.random.default_rng(seed_sequence(spec["seed"], repetition, TRAINING_DATA))
    return rng.choice(spec["pool"]["events"], size=spec["n_train"], replace=False)


def holdout_rows(spec: dict[str, Any], repetition: int, n_holdout: int) -> np.ndarray:
    """The ``n_holdout`` file rows that test repetition ``repetition``'s forecast: drawn by the
    stream ``(seed, r, HOLDOUT)`` among the rows its own members did not train on (docs/formulas.md
    §7.7); like the training rows they leave the truth."""
    return _outside_training(spec, repetition, n_holdout, HOLDOUT)


def _outside_training(spec: dict[str, Any], repetition: int, n: int, stream: int) -> np.ndarray:
    """``n`` file rows drawn by the stream ``(seed, r, stream)`` among those repetition ``r``'s
    training set does not hold."""
    rng = np.random.default_rng(seed_sequence(spec["seed"], repetition, stream))
    m = spec["pool"]["events"]
    candidates = rng.choice(m, size=min(m, n + spec["n_train"]), replace=False)
    free = candidates[~np.isin(candidates, training_rows(spec, repetition))][:n]
    if free.size < n:
        raise GenampError(f"the pool of {m} events has no {n} rows outside repetition {repetition}'s training set")
    return free


def reference_set(spec: dict[str, Any], repetition: int, n: int) -> np.ndarray:
    """``n`` true events for the differential method's classifier on repetition ``r``: rows its
    generators never saw (stream ``(seed, r, REFERENCE)``), in the drawn order, so any first part
    of them is a sample too. They are counted in the volumes' truth as well: a classifier's check
    and the truth-based one are two checks, not two parts of one."""
    pool = spec["pool"]
    rows = _outside_training(spec, repetition, n, REFERENCE)
    return _validate.events(_file(pool).rows(rows), pool["dim"], what=f"reference of repetition {repetition}", min_events=1)


def holdout_set(spec: dict[str, Any], repetition: int, n_holdout: int) -> np.ndarray:
    """The holdout events of a repetition, read from the pool file."""
    pool = spec["pool"]
    rows = np.sort(holdout_rows(spec, repetition, n_holdout))
    return _validate.events(_file(pool).rows(rows), pool["dim"], what=f"holdout of repetition {repetition}", min_events=1)


def training_set(spec: dict[str, Any], repetition: int) -> np.ndarray:
    """The training events of a repetition, read from the pool file (identical for every model)."""
    pool = json.dumps(spec["pool"], sort_keys=True)  # the cache's key: a spec's pool is JSON
    return _training_set(pool, spec["seed"], spec["n_train"], repetition).copy()


@functools.lru_cache(maxsize=64)
def _training_set(pool_json: str, seed: int, n_train: int, repetition: int) -> np.ndarray:
    """Cached per process: a worker running a block of repetitions (or several models of one)
    reads each training set once."""
    pool = json.loads(pool_json)
    rows = training_rows({"pool": pool, "seed": seed, "n_train": n_train}, repetition)
    x = _validate.events(_file(pool).rows(rows), pool["dim"], what=f"training set of repetition {repetition}", min_events=2)
    x.flags.writeable = False
    return x


def truth_cells(spec: dict[str, Any], repetitions: Sequence[int], holdout: int = 0) -> dict[int, CellProbabilities]:
    """``p̂_j`` of every volume of the study, counted from the rows no repetition trained on
    (nor held out, with ``holdout`` rows per repetition).

    One pass over the file counts it all; the training (and held-out) rows' counts are subtracted,
    so the truth holds ``M − |∪ training and held-out rows|`` events, disjoint from every
    training set and holdout.
    """
    bins = volumes(spec)
    f = _file(spec["pool"])
    held = [holdout_rows(spec, r, holdout) for r in repetitions] if holdout else []
    used = np.unique(np.concatenate([training_rows(spec, r) for r in repetitions] + held))
    n = f.n_events - used.size
    for v in bins.values():
        _validate.pool_events_per_volume(n, v.shape[0], len(v.shape), f"the pool {f.path} less its training rows")
    everything = count_occupancy(f.chunks(), list(bins.values()), what=str(f.path))
    trained = count_occupancy(f.rows(used), list(bins.values()), what=str(f.path)) if used.size else None
    out = {}
    for k, (key, occ) in enumerate(zip(bins, everything, strict=True)):
        counts = np.rint(occ.fractions[0] * occ.n[0])
        if trained is not None:
            counts -= np.rint(trained[k].fractions[0] * trained[k].n[0])
        out[key] = CellProbabilities(counts / n, float(n))
    return out
