"""``genamp assess``: a user's own generator judged from its files alone (docs/formulas.md §2, §7).

A generator that genamp did not train is known by what it wrote: the training set it saw, the
events of its ``K`` ensemble members (or posterior draws of one training), and, where the user
has them, true events it never saw: a pool far larger than any ``n_equiv`` (the truth, §7.3) and
a holdout (§7.7). The training set is the reference for everything:

- its size is ``n_train`` (without its file, ``n_train`` alone is enough for all but the next two);
- its feature names are the columns every other file is matched to, by name
  (:meth:`~genamp.data.io.EventFile.select`; a file that lacks one is one error; where the
  training set names none, the first file that does names them, and a file without names, a
  ``.npy``, is read column by column);
- its quantiles fix the volumes' edges (§7.1): ``Q`` bins of every observable and ``Q × Q`` of
  every pair, for each ``Q`` (or the pool's, ``edges_from="pool"``);
- its events are left out of a pool's truth where the pool holds them.

The truth is a pool, or a toy density with an analytic truth (``toy=``): its quantile grids
with exact cell probabilities, as in ``genamp run``. The files are one training's members (the
default with two or more) or independent trainings (``members=False``: each measured against the
truth, their spread the error of ``G``; what ``genamp estimate`` did before it became a name of
``assess``).

What comes back (:func:`assess`, a :class:`~genamp.study.external.Measurement`):

- ``K ≥ 2`` member files: the averaging forecast of their mixture per observable, pair and ``Q``
  (§2, with the advice of how many events to generate, §7.6);
- with a holdout: each forecast's falsification verdict (``falsified``, ``falsification_p``,
  ``n_equiv_reach``);
- with a pool: the truth-based ``G`` of the members per observable (§7.3), and each forecast beside
  the truth-based ``G`` of its mixture;
- with a binning of the user's own (:func:`read_binning`, :func:`histogram_uncertainties`): the
  uncertainty of every bin of a histogram of generated events, statistical plus model (§2.9);
- with a pool, :func:`metric_equivalents`: the ``n_equiv`` of the metrics people quote, the
  Wasserstein distance per observable and the Fréchet distance of all of them, on truth lines
  measured on the pool (§7.9), beside the KS one (§3.6);
- with the members' log densities at each other's events (:func:`read_log_prob`), the
  differential pair forecast (§3.4); with a pool, :func:`classifier_check`: a classifier between
  the mixture and pool events, its AUC and the reference form's ``n_equiv`` (§3.6, §4).

Every file is streamed: only the training set is held in memory.

    from genamp.study.assess import Inputs, assess
    inputs = Inputs.open("train.h5", ["m1.h5", "m2.h5"], pool="pool.h5")
    result = assess(inputs, observables=None, pairs=None, quantiles=[5, 10])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genamp import _validate
from genamp.data.io import EventFile, open_events
from genamp.densities import Density
from genamp.errors import GenampError
from genamp.estimators.averaging import SIGNIFICANCE, forecast
from genamp.estimators.histograms import BinUncertainties, bin_uncertainties
from genamp.observables import Observable, columns, select
from genamp.observables import pairs as observable_pairs
from genamp.study.external import Measurement, Overlap, gen_sizes, measure, pool_truth
from genamp.study.pooltruth import REFERENCE_EVENTS
from genamp.study.runner import record_header
from genamp.truths.pool import Pool
from genamp.volumes import ObservableBins, QuantileGrid, Volumes, count_occupancy

__all__ = ["Binned", "Inputs", "assess", "classifier_check", "histogram_uncertainties", "metric_equivalents", "pair_forecast_of",
           "read_binning", "read_log_prob"]

#: where the volumes' edges come from (the records' ``edges_from``)
EDGES_FROM = "the training set"


@dataclass(frozen=True)
class Inputs:
    """The files of one assessment, every one reading the reference's features in its order
    (:attr:`reference`); a file that names none is read column by column."""

    train: EventFile | None
    generated: tuple[EventFile, ...]
    pool: EventFile | None = None
    holdout: EventFile | None = None
    #: the training set's size where it is not given as a file (``--n-train``)
    declared_n_train: int | None = None

    @classmethod
    def open(
        cls, train: Path | str | None, generated: Sequence[Path | str], pool: Path | str | None = None,
        holdout: Path | str | None = None, dataset: str | None = None, n_train: int | None = None,
    ) -> Inputs:  # fmt: skip
        """Open and check every file before an event is counted: the same features by name (or,
        without names, the same number of columns), no file given in two roles, a pool larger
        than the training set. Without the training set's file its size ``n_train`` is enough
        for everything but edges from its quantiles and the removal of its events from a pool."""
        if not generated:
            raise GenampError("give the generated events: one file per ensemble member (--generated m1.h5 m2.h5 ...)")
        if train is None and n_train is None:
            raise GenampError("give the training set (--train FILE) or at least its size (--n-train N)")
        t = None if train is None else open_events(train, dataset)
        if n_train is not None:
            _validate.positive_int(n_train, "n_train", minimum=2)
            if t is not None and t.n_events != n_train:
                raise GenampError(f"--n-train {n_train}, but the training set {t.path} holds {t.n_events} events")
        opened = {role: open_events(path, dataset) for role, path in (("the pool", pool), ("the holdout", holdout)) if path is not None}
        first = [open_events(g, dataset) for g in generated]
        # the names come from the first file that has them, the training set's before any
        candidates = [f for f in (t, opened.get("the pool"), opened.get("the holdout"), *first) if f is not None]
        reference = next((f for f in candidates if f.features is not None), candidates[0])
        t = None if t is None else _matched(t, reference, "the training set")
        gen = tuple(_matched(g, reference, "generated") for g in first)
        matched = {role: _matched(f, reference, role) for role, f in opened.items()}
        roles = [*((("the training set", t),) if t is not None else ()), *(("a generated file", g) for g in gen), *matched.items()]
        seen: dict[Path, str] = {}
        for role, f in roles:
            where = f.path.resolve()
            if where in seen and (role, seen[where]) != ("a generated file", "a generated file"):
                raise GenampError(f"{f.path} is given as {seen[where]} and as {role}")
            seen.setdefault(where, role)
        size = t.n_events if t is not None else n_train
        p = matched.get("the pool")
        if p is not None and p.n_events <= size:
            raise GenampError(
                f"the pool {p.path} has {p.n_events} events, no more than the training set's {size}: a truth must be "
                "far larger than any n_equiv the generator can reach (docs/formulas.md §7.3)"
            )
        return cls(t, gen, p, matched.get("the holdout"), None if t is not None else n_train)

    @property
    def n_train(self) -> int:
        """The events the generator was trained on."""
        return self.train.n_events if self.train is not None else int(self.declared_n_train)  # type: ignore[arg-type]

    @property
    def reference(self) -> EventFile:
        """The file whose features name the columns: the first of the training set, the pool,
        the holdout and the generated files that names them (else the first of them)."""
        candidates = [f for f in (self.train, self.pool, self.holdout, *self.generated) if f is not None]
        return next((f for f in candidates if f.features is not None), candidates[0])

    @property
    def truth(self) -> Pool | None:
        """The pool file as a :class:`~genamp.truths.Pool` (streamed), where there is one."""
        return None if self.pool is None else Pool(self.pool, name=str(self.pool.path))


def _matched(f: EventFile, reference: EventFile, role: str) -> EventFile:
    """``f`` reading the reference's features: by name where both name them, else column by
    column (a ``.npy`` file names none: its columns are taken in the reference's order)."""
    if f is reference:
        return f
    if reference.features is not None and f.features is not None:
        return f.select(reference.features)
    if f.shape[1:] != reference.shape[1:]:
        raise GenampError(f"{f.path} ({role}): events have {f.shape[1]} feature(s), {reference.path} has {reference.shape[1]}")
    return f


def assess(
    inputs: Inputs, observables: str | None = None, pairs: str | None = None, quantiles: Sequence[int] = (10,),
    significance: float = SIGNIFICANCE, name: str = "external", edges_from: str | None = None,
    toy: Density | None = None, members: bool | None = None,
) -> Measurement:  # fmt: skip
    """Every record :mod:`genamp.study.assess` describes, per observable (or pair) and ``Q``.

    ``observables`` and ``pairs`` name them as ``genamp run`` does on a pool (feature names, or
    the physics observables of four-momenta: ``t_m,Wp_m,b_pt``); the default is every column.
    ``edges_from``: the quantiles of the training set (``"train"``, the default where it is
    given) or of the pool (``"pool"``: a strided subsample of at most 10⁶ of its events, as
    ``genamp run --pool`` takes them). Training events that are also in the pool are left out of
    its truth (their counts subtracted, as a pool study does with its training rows).

    With a ``toy`` truth instead of a pool, the volumes are its quantile grids at each ``Q`` and
    the truth is exact (as in ``genamp run``). ``members``: the files are one training's members
    or posterior draws (the default with two or more), whose mixture gets the averaging forecast;
    ``False``: they are independent trainings, each measured against the truth and their spread
    the error of ``G``.
    """
    files = list(inputs.generated)
    members = len(files) >= 2 if members is None else members
    if members and len(files) < 2:
        raise GenampError("members need at least 2 files: the spread of one generator is not defined")
    n_train = inputs.n_train
    training = None if inputs.train is None else inputs.train.read()
    if training is not None and training.shape[0] < 2:
        raise GenampError(f"{inputs.train.path}: {training.shape[0]} training event(s); at least 2 needed")
    n_gen, warnings = gen_sizes(files, n_train)
    if toy is not None:
        volumes, truths, origin, more = _toy_volumes(inputs, toy, observables, pairs, quantiles, edges_from)
    else:
        volumes, origin, more = _observable_volumes(inputs, training, observables, pairs, quantiles, edges_from)
        truths = None
    warnings += more
    notes: list[str] = []
    if inputs.pool is not None:
        if training is not None:
            truths, note = pool_truth(inputs.truth, volumes, training)
            notes += [note] if note else []
        else:
            truths = inputs.truth.count(volumes)
    holdout, n_holdout = None, 0
    if inputs.holdout is not None:
        if not members:
            raise GenampError("a holdout tests the averaging forecast of one training's members; independent trainings have none")
        overlap = Overlap(training) if training is not None else None
        chunks = (overlap(c) or c for c in inputs.holdout.chunks()) if overlap is not None else inputs.holdout.chunks()
        holdout = [o.fractions[0] for o in count_occupancy(chunks, volumes, what=str(inputs.holdout.path))]
        n_holdout = inputs.holdout.n_events
        if overlap is not None and overlap.found:
            warnings.append(f"{overlap.found} of the {n_train} training events are also in the holdout {inputs.holdout.path}: "
                            "a holdout the members saw cannot refute them")  # fmt: skip
    headers = []
    for v in volumes:
        header = record_header(name, v, n_train, len(files), None if inputs.pool is None else str(inputs.pool.path))
        if toy is None:
            header["edges_from"] = origin
            if inputs.pool is None:
                del header["truth"], header["pool"]
        headers.append(header)
    if not members and truths is None:
        what = "one generated file" if len(files) == 1 else "independent trainings"
        raise GenampError(f"{what} and no truth give nothing to measure: give K ≥ 2 member files of one training for the "
                          "averaging forecast, or a truth (--pool, or a toy --truth) for the truth-based G")  # fmt: skip
    records = measure(files, volumes, truths, headers, n_train, n_gen, members, significance, holdout, n_holdout)
    return Measurement(records, warnings, volumes, notes)


def _toy_volumes(
    inputs: Inputs, toy: Density, observables: str | None, pairs: str | None, quantiles: Sequence[int], edges_from: str | None,
) -> tuple[list[Volumes], list[np.ndarray], str, list[str]]:  # fmt: skip
    """A toy's quantile grids, their exact cell probabilities, and the warnings of sparse grids."""
    if inputs.pool is not None:
        raise GenampError("give one truth: a toy or a pool, not both")
    if observables is not None or pairs is not None or edges_from is not None:
        raise GenampError("observables, pairs and edges apply to a pool's truth; a toy's volumes are its quantile grids")
    for f in (inputs.reference, *inputs.generated):
        if f.shape[1] != toy.dim:
            raise GenampError(f"{f.path}: events have {f.shape[1]} feature(s), but this density has {toy.dim}")
    smallest = min(f.n_events for f in inputs.generated)
    warnings = [w for q in quantiles if (w := _validate.events_per_volume(smallest, q, toy.dim, "the smallest file"))]
    grids: list[Volumes] = [QuantileGrid.from_density(toy, q) for q in quantiles]
    return grids, [g.probabilities for g in grids], f"the toy {toy.name}", warnings  # type: ignore[attr-defined]


def _observable_volumes(
    inputs: Inputs, training: np.ndarray | None, observables: str | None, pairs: str | None, quantiles: Sequence[int],
    edges_from: str | None,
) -> tuple[list[Volumes], str, list[str]]:  # fmt: skip
    """``Q`` quantile bins of every observable and ``Q × Q`` of every pair, with their edges'
    origin, and the warnings of sparse bins."""
    ref = inputs.reference
    obs = columns(ref.shape[1], ref.features) if observables is None else select(observables, ref.shape[1], ref.features)
    chosen = [] if pairs is None else observable_pairs(pairs, ref.shape[1], ref.features)
    groups = [[o] for o in obs] + [list(p) for p in chosen]
    edges_from = edges_from or ("train" if training is not None else "pool")
    if edges_from not in ("train", "pool"):
        raise GenampError(f"the edges come from the training set (train) or the pool (pool), not {edges_from!r}")
    if edges_from == "train" and training is None:
        raise GenampError("edges from the training set need its events: give --train FILE, or take them from the pool")
    if edges_from == "pool" and inputs.pool is None:
        what = "edges from the pool need a pool" if training is not None else "without the training set's events the edges come from a pool"
        raise GenampError(f"{what}: give --pool")
    if edges_from == "pool":
        origin = f"the pool {inputs.pool.path}"  # type: ignore[union-attr]
        reference = inputs.truth.reference(REFERENCE_EVENTS)  # type: ignore[union-attr]
    else:
        origin, reference = EDGES_FROM, training
    smallest = min(f.n_events for f in inputs.generated)
    warnings = [w for q in quantiles for d in sorted({1} | ({2} if chosen else set()))
                if (w := _validate.events_per_volume(smallest, q, d, "the smallest file"))]  # fmt: skip
    volumes: list[Volumes] = [ObservableBins.from_quantiles(g, reference, q, what=origin) for g in groups for q in quantiles]
    return volumes, origin, warnings


def read_binning(path: Path | str, train: EventFile) -> list[tuple[Observable, np.ndarray]]:
    """A user's binning (YAML): each observable's name (a feature, or a physics observable of
    four-momenta) and its edges, as a list of numbers or ``{edges: [...]}``::

        t_m: [150, 160, 165, 170, 175, 180, 190]
        b_pt: {edges: [0, 25, 50, 100, 200, 500]}

    Every problem is one error naming the file and the observable."""
    import yaml

    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise GenampError(f"--binning {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise GenampError(f"--binning {path}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(spec, dict) or not spec:
        raise GenampError(f"--binning {path}: expected a mapping of observables to edges, such as  t_m: [150, 170, 190]")
    out = []
    for name, value in spec.items():
        edges = value.get("edges") if isinstance(value, dict) else value
        try:
            e = np.asarray(edges, dtype=np.float64)
        except (TypeError, ValueError):
            e = np.empty(0)
        if e.ndim != 1 or e.size < 2 or not np.isfinite(e).all():
            raise GenampError(f"--binning {path}: {name}: give its edges as a list of at least 2 finite numbers, got {edges!r}")
        if not (np.diff(e) > 0).all():
            i = int(np.flatnonzero(np.diff(e) <= 0)[0])
            raise GenampError(f"--binning {path}: {name}: edges must increase, but {e[i + 1]:g} follows {e[i]:g}")
        (observable,) = select(str(name), train.shape[1], train.features)
        out.append((observable, e))
    return out


@dataclass(frozen=True)
class Binned:
    """One observable of a user's binning: its edges and every bin's uncertainties (the first
    and last of :class:`~genamp.estimators.histograms.BinUncertainties` are the under- and the
    overflow)."""

    observable: str
    edges: np.ndarray
    uncertainties: BinUncertainties

    def rows(self) -> list[dict[str, Any]]:
        """The table's rows, one per bin (flows named), as fractions and as counts."""
        u, e = self.uncertainties, np.concatenate([[-np.inf], self.edges, [np.inf]])
        return [
            {"observable": self.observable, "low": e[j], "high": e[j + 1], "fraction": u.fraction[j], "count": u.counts[j],
             "stat": u.stat[j], "model": u.model[j], "total": u.total[j], "total_upper": u.total_upper[j],
             "naive_sqrt_n": u.naive[j], "total_over_naive": u.total[j] / u.naive[j] if u.naive[j] > 0 else np.nan,
             "resolved": bool(u.resolved[j]), "n_equiv": u.n_equiv[j]}
            for j in range(u.fraction.size)
        ]  # fmt: skip


def histogram_uncertainties(
    inputs: Inputs, binning: Sequence[tuple[Observable, np.ndarray]], n_events: int | None = None,
    significance: float = SIGNIFICANCE,
) -> list[Binned]:  # fmt: skip
    """Per observable of ``binning``, the uncertainty of each bin of a histogram of ``n_events``
    events generated from the members' mixture (default: all the members' events), from the
    averaging forecast of those bins (docs/formulas.md §2.9); the members' files are read once."""
    files = list(inputs.generated)
    if len(files) < 2:
        raise GenampError("--binning: the model's share of a bin's uncertainty comes from the members' spread; give K ≥ 2 member files")
    dim = inputs.reference.shape[1]
    volumes = [ObservableBins([o], [np.concatenate([[-np.inf], e, [np.inf]])], dim) for o, e in binning]
    n_gen = min(f.n_events for f in files)
    counted = [count_occupancy(f.chunks(), volumes, [n_gen], what=str(f.path)) for f in files]
    out = []
    for i, (o, e) in enumerate(binning):
        fc = forecast(np.stack([c[i].fractions[-1] for c in counted]), n_gen, inputs.n_train, significance=significance)
        out.append(Binned(o.name, e, bin_uncertainties(fc, n_events)))
    return out


#: pool events the metrics compare with (the reference), and after them the pool events their
#: truth lines draw subsamples from (disjoint); the sizes of the lines, and draws per size
METRIC_REFERENCE = 20_000
METRIC_SOURCE = 200_000
METRIC_SIZES = (10, 30, 100, 300, 1000, 3000, 10_000, 30_000)
METRIC_DRAWS = 10
#: generated events (the members' mixture, an equal share of each) a metric is measured on
METRIC_GENERATED = 200_000


#: the classifier AUC's truth line: fewer sizes and draws (each point trains a classifier)
AUC_SIZES = (100, 300, 1000, 3000, 10_000)
AUC_DRAWS = 5


def metric_equivalents(inputs: Inputs, observables: Sequence[Observable], seed: int = 0, auc: bool = False) -> list[dict[str, Any]]:
    """Per observable the Wasserstein distance of the members' mixture to the pool's reference
    events and the true events it is worth on its truth line, beside the KS distance's ``n_equiv``
    against the same reference (docs/formulas.md §3.6, an ``n_equiv`` at the reference's size is
    its bound); over all observables the Fréchet distance, standardised by the reference (§7.9),
    and with ``auc`` a classifier's ``(AUC − 1/2)²`` the same way (:data:`AUC_DRAWS` classifiers
    at each of :data:`AUC_SIZES`)."""
    from genamp.estimators.differential import reference_distance
    from genamp.estimators.metrics import auc_distance, frechet, n_equiv, standardiser, truth_line, wasserstein

    if inputs.pool is None:
        raise GenampError("a metric's n_equiv is read off a truth line measured on a pool: give --pool")
    pool = inputs.truth
    head = pool.head(METRIC_REFERENCE + METRIC_SOURCE)
    n_ref = min(METRIC_REFERENCE, head.shape[0] // 5)
    reference, source = head[:n_ref], head[n_ref:]
    sizes = [n for n in METRIC_SIZES if n <= source.shape[0] // 2]
    # a covariance of d features needs more than d events: the Fréchet line starts at 2(d + 1)
    fd_sizes = [n for n in sizes if n >= 2 * (len(observables) + 1)]
    if len(fd_sizes) < 2:
        raise GenampError(f"the pool {inputs.pool.path} has {pool.n_events} events: too few for the metrics' truth lines of "
                          f"{len(observables)} observables")  # fmt: skip
    share = max(1, METRIC_GENERATED // len(inputs.generated))
    generated = np.concatenate([Pool(f).head(share) for f in inputs.generated])
    value = {o.name: (o(generated), o(reference), o(source)) for o in observables}
    rows = []
    for k, o in enumerate(observables):
        gen, ref, src = value[o.name]
        line = truth_line(wasserstein, src, ref, sizes, METRIC_DRAWS, seed + k)
        rows.append(_metric_row("W1", o.name, n_equiv(line, wasserstein(gen, ref)), gen.size, reference_distance(gen, ref, seed=seed)))
    columns_of = lambda i: np.column_stack([value[o.name][i] for o in observables])  # noqa: E731
    scale = standardiser(columns_of(1))
    fd = lambda a, b: frechet(scale(a), scale(b))  # noqa: E731
    line = truth_line(fd, columns_of(2), columns_of(1), fd_sizes, METRIC_DRAWS, seed + len(observables))
    rows.append(_metric_row("Frechet", ", ".join(o.name for o in observables), n_equiv(line, fd(columns_of(0), columns_of(1))), generated.shape[0]))
    if auc:
        metric = auc_distance(seed=seed)
        line = truth_line(metric, columns_of(2), columns_of(1), [n for n in AUC_SIZES if n <= source.shape[0] // 2], AUC_DRAWS, seed + 1)
        rows.append(_metric_row("AUC", ", ".join(o.name for o in observables), n_equiv(line, metric(columns_of(0), columns_of(1))),
                                generated.shape[0]))  # fmt: skip
    return rows


def _metric_row(metric: str, observable: str, e: Any, n_generated: int, ks: Any = None) -> dict[str, Any]:
    row = {"metric": metric, "observable": observable, "value": e.value, "n_generated": int(n_generated),
           "n_equiv": e.n_equiv, "n_equiv_range": [e.low, e.high], "bound": e.bound}  # fmt: skip
    if ks is not None:
        row["ks"] = {"value": ks.ks, "n_equiv": ks.n_equiv, "resolved": ks.resolved, "reference": ks.reference}
    return row


#: the dataset of a --log-prob file
LOG_PROB = "log_prob"


def read_log_prob(path: Path | str, inputs: Inputs) -> np.ndarray:
    """The members' log densities at each other's events (``--log-prob``): an array ``log_prob``
    of shape (K, K, n) in an HDF5 file (dataset ``log_prob``) or a NumPy ``.npy``/``.npz`` file,
    whose entry ``[i, j, e]`` is ``log p_j`` (member ``j``'s density) at event ``e`` of member file
    ``i``, its first ``n`` events, in the files' order; ``K`` as many as the generated files. Any
    common constant (a Jacobian of the features) cancels in the likelihood ratios."""
    path = Path(path)
    k = len(inputs.generated)
    try:
        if path.suffix.lower() in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                if LOG_PROB not in f:
                    raise GenampError(f"--log-prob {path}: no dataset {LOG_PROB!r}; it has {', '.join(f) or 'none'}")
                table = np.asarray(f[LOG_PROB][...])
        elif path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as f:
                if LOG_PROB not in f:
                    raise GenampError(f"--log-prob {path}: no array {LOG_PROB!r}; it has {', '.join(f.files) or 'none'}")
                table = f[LOG_PROB]
        elif path.suffix.lower() == ".npy":
            table = np.load(path, allow_pickle=False)
        else:
            raise GenampError(f"--log-prob {path}: give an HDF5 (.h5) or NumPy (.npy, .npz) file")
    except (OSError, ValueError) as exc:
        raise GenampError(f"--log-prob {path}: cannot be read ({exc})") from None
    if table.dtype.kind not in "iuf":
        raise GenampError(f"--log-prob {path}: holds {table.dtype} values; log densities are real numbers")
    n_min = min(f.n_events for f in inputs.generated)
    if table.ndim != 3 or table.shape[:2] != (k, k):
        raise GenampError(f"--log-prob {path}: expected shape ({k}, {k}, n) for the {k} member files (log p_j at the events of "
                          f"member i), got {table.shape}")  # fmt: skip
    if not 20 <= table.shape[2] <= n_min:
        raise GenampError(f"--log-prob {path}: {table.shape[2]} events per member; give 20 to {n_min} (the smallest file's size)")
    if not np.isfinite(table).all():
        raise GenampError(f"--log-prob {path}: holds NaN or infinite log densities (an event outside a member's support?)")
    return table.astype(np.float64)


def pair_forecast_of(table: np.ndarray, n_train: int) -> dict[str, Any]:
    """The differential pair forecast (docs/formulas.md §3.4) from a :func:`read_log_prob` table."""
    from genamp.estimators.differential import pair_forecast

    k = table.shape[0]
    pf = pair_forecast([[table[i, j] for j in range(k)] for i in range(k)], seed=0)
    n_mix, n_member = pf.n_equiv("mixture"), pf.n_equiv("member")
    return {"members": k, "events": int(table.shape[2]), "delta_member": pf.delta_member, "delta_mixture": pf.delta_mixture,
            "resolved_pairs": pf.resolved_pairs, "pairs": k * (k - 1) // 2, "n_equiv": n_mix, "G": n_mix / n_train,
            "n_equiv_member": n_member, "G_member": n_member / n_train}  # fmt: skip


#: events of each member the classifier sees, and twice as many pool events (as a study's DIFF_EVENTS)
CLASSIFIER_EVENTS = 2000


def classifier_check(inputs: Inputs, observables: Sequence[Observable], events: int = CLASSIFIER_EVENTS, seed: int = 0) -> dict[str, Any]:
    """A classifier between the members' mixture (``events`` of each) and ``2 · events`` pool
    events on the observables' values: its AUC against the null's spread, the reference form's
    ``n_equiv`` along its logit (docs/formulas.md §3.6: a classifier sees at most what it learned,
    so this is an upper bound of the worth), and the same classifier between two sets of pool
    events (truth against truth) as the check of the check."""
    from genamp.estimators.classifier import classifier_test
    from genamp.estimators.differential import reference_distance

    if inputs.pool is None:
        raise GenampError("the classifier check compares with true events: give --pool")
    k = len(inputs.generated)
    n = min(events, *(f.n_events for f in inputs.generated))
    pool = inputs.truth.head(3 * n)
    if pool.shape[0] < 3 * n:
        raise GenampError(f"the classifier check needs {3 * n} pool events, the pool has {pool.shape[0]}")
    features = lambda x: np.column_stack([o(x) for o in observables])  # noqa: E731
    mixture = np.concatenate([Pool(f).head(n) for f in inputs.generated])
    f_ref = features(pool)
    clf = classifier_test(features(mixture), f_ref[: 2 * n], seed)
    ref = reference_distance(clf.logit_gen, clf.logit_ref)
    sanity = classifier_test(f_ref[2 * n :], f_ref[:n], seed + 1)
    return {"events_per_member": n, "members": k, "reference_events": 2 * n, "auc": clf.auc, "auc_null_std": clf.auc_null_std,
            "auc_truth_vs_truth": sanity.auc, "ess_fraction": clf.ess / clf.weights.size, "n_equiv_reference": ref.n_equiv,
            "reference_resolved": ref.resolved, "G_reference": ref.n_equiv / inputs.n_train, "bound": "upper"}  # fmt: skip
