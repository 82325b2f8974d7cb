"""The differential method over repetitions: one repetition's measurement, and G from R of them (docs/formulas.md §3, §4).

What to use when:

- **One repetition** (K generators with a likelihood, one training set each or one ensemble):
  :class:`DifferentialRepetition` holds what was measured while the generators existed: the
  distances between pairs of members (§3.4), each member's and the mixture's distance from the
  truth (§3.5), the mixture's KS at growing sample sizes, its local profile (§3.7), and what a
  classifier against a second truth sample saw (§3.6, §4). A study measures it inside the task
  (:func:`genamp.study.differential.measure`) and keeps it in the task file with
  :meth:`DifferentialRepetition.to_arrays` / :meth:`DifferentialRepetition.from_arrays`.
- **R repetitions**: :func:`summarise_differential` gives :class:`DifferentialAmplification`, the
  forecast from the pairs and the truth check, each as a :class:`DistanceSummary` (mean ``δ``,
  ``n_equiv``, ``G``, its error and the spread of one training), with the mean KS curve, the
  first repetition's profile and the classifier's numbers. :meth:`DifferentialAmplification.to_record`
  gives the JSON fields of a study's record.

``n_equiv = (κ/mean δ)²`` with ``κ = sqrt(π/2)·ln 2`` (§3.3): a true sample of ``n`` events sits
``κ/sqrt(n)`` from the truth *on average*, so it is the mean distance over repetitions that
converts, not each repetition's own. Arrays in, typed results out; nothing here needs torch.

On a **pool** of events there is no true density: a repetition then has no member distances
(``members`` is ``None``) and its mixture's distance is measured along the classifier's logit
against the pool's events (``truth_check`` ``"classifier"``, §3.6): a classifier sees at most
what it learned, so that δ is a lower bound of the distance and its ``n_equiv`` an upper bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from genamp.errors import GenampError
from genamp.estimators.differential import KAPPA, Profile

__all__ = [
    "WEIGHT_BINS", "ClassifierMeasurement", "ClassifierSummary", "DifferentialAmplification",
    "DifferentialRepetition", "DistanceSummary", "KSCurve", "KSCurveSummary", "MappedProfile",
    "MemberDistances", "MixtureDistance", "PairDistances", "ReweightedMSE", "summarise_differential",
    "summarise_distances",
]  # fmt: skip

#: bins of log10 w for the histogram of the classifier's weights
WEIGHT_BINS = np.linspace(-2.0, 2.0, 41)


# ---- one repetition --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairDistances:
    """docs/formulas.md §3.4: the null-removed ``δ_ij`` between every pair of the K members."""

    #: (K, K), symmetric, NaN on the diagonal; unresolved pairs enter with their upper bound
    delta: np.ndarray
    #: fraction of the K(K − 1)/2 pairs that were resolved
    resolved_fraction: float

    @property
    def member(self) -> float:
        """``sqrt(mean_ij δ_ij²)``: the forecast distance of one member from the truth."""
        return np.sqrt(np.nanmean(self.delta**2))


@dataclass(frozen=True)
class MemberDistances:
    """docs/formulas.md §3.5: every member's KS distance from the truth along its own likelihood ratio."""

    #: (K,) each: the KS statistic, the null-removed δ (an upper bound where not resolved)
    ks: np.ndarray
    delta: np.ndarray
    resolved: np.ndarray


@dataclass(frozen=True)
class MixtureDistance:
    """docs/formulas.md §3.5: the mixture's distance from the truth (the fields of a ``Distance`` kept)."""

    ks: float
    delta: float
    resolved: bool
    null_mean: float
    null_q95: float
    #: where the CDFs differ most, in the summary's units
    y: float


@dataclass(frozen=True)
class KSCurve:
    """The mixture's KS distance from the truth on its first ``n`` events, at growing ``n``."""

    #: subsample sizes (float, as the task file and the record have them)
    n: np.ndarray
    ks: np.ndarray


@dataclass(frozen=True)
class MappedProfile:
    """docs/formulas.md §3.7 mapped back onto events: mixture events with the local ``n_equiv`` of their ``y``."""

    events: np.ndarray
    #: the profile's n_equiv at each event (1e12 where the profile is unbounded)
    n_equiv: np.ndarray


@dataclass(frozen=True)
class ReweightedMSE:
    """The quantile MSE (docs/formulas.md §1.2) of the generated test events at one resolution, before
    and after the classifier's weights, beside ``c/ESS``, what a true sample of ESS events would give."""

    quantiles: int
    mse: float
    mse_reweighted: float
    mse_true_sample_of_ess: float
    events: int


@dataclass(frozen=True)
class ClassifierMeasurement:
    """docs/formulas.md §4, §3.6: a classifier between the mixture's events and a truth sample (the truth
    implicit), and the sanity check between two truth samples."""

    auc: float
    #: the Mann–Whitney spread of an uninformative classifier on the same test sizes
    auc_null_std: float
    #: effective sample size of the weights over the number of weighted events
    ess_fraction: float
    #: the reference form of §3.6 on the logit: KS, n_equiv (a lower bound m where not resolved), m
    reference_ks: float
    n_equiv_reference: float
    reference_resolved: bool
    reference_events: float
    #: truth against truth: AUC ≈ 0.5 within its null spread
    auc_truth_vs_truth: float
    auc_truth_vs_truth_null_std: float
    #: histogram of log10 w in :data:`WEIGHT_BINS`
    weight_counts: np.ndarray
    #: one per resolution of the study (none when it had no volumes)
    reweighted: tuple[ReweightedMSE, ...] = ()


#: the task file's columns of ``classifier``, in order
_CLASSIFIER = ("auc", "auc_null_std", "ess_fraction", "reference_ks", "n_equiv_reference", "reference_resolved",
               "reference_events", "auc_truth_vs_truth", "auc_truth_vs_truth_null_std")  # fmt: skip
#: and of ``mixture``
_MIXTURE = ("ks", "delta", "resolved", "null_mean", "null_q95", "y")


@dataclass(frozen=True)
class DifferentialRepetition:
    """What one repetition's K generators give the differential method (docs/formulas.md §3, §4)."""

    #: None for a single generator (K = 1): no forecast
    pairs: PairDistances | None
    #: None where there is no true density (a pool): the members' own distances are not measured
    members: MemberDistances | None
    #: from the exact likelihood ratio, or, on a pool, along the classifier's logit (:attr:`truth_check`)
    mixture: MixtureDistance
    curve: KSCurve
    #: the mixture's local profile against the truth sample
    profile: Profile
    #: None in task files written before the map was kept
    mapped: MappedProfile | None
    classifier: ClassifierMeasurement
    #: the generators, where ``members`` does not say (a pool)
    k: int = 0

    @property
    def n_members(self) -> int:
        return int(np.asarray(self.members.delta).size) if self.members is not None else self.k

    @property
    def truth_check(self) -> str:
        """What the mixture's distance is measured along: ``likelihood`` (the true density's
        ratio) or ``classifier`` (a classifier against true events, where no density is known)."""
        return "likelihood" if self.members is not None else "classifier"

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The task file's arrays (keys and positional layouts fixed by the file format)."""
        out: dict[str, np.ndarray] = {}
        if self.pairs is not None:
            out["pairs"] = np.asarray(self.pairs.delta, dtype=np.float64)
            out["pairs_resolved"] = np.array(float(self.pairs.resolved_fraction))
        m = self.members
        if m is not None:
            out["members"] = np.column_stack([m.ks, m.delta, m.resolved]).astype(np.float64)
        else:
            out["generators"] = np.array(float(self.k))
        out["mixture"] = np.array([float(getattr(self.mixture, f)) for f in _MIXTURE])
        out["curve"] = np.column_stack([self.curve.n, self.curve.ks]).astype(np.float64)
        p = self.profile
        out["profile"] = np.stack([p.y, p.f_gen, p.f_ref, p.n_equiv])
        if self.mapped is not None:
            out["mapped_events"] = self.mapped.events
            out["mapped_n_equiv"] = self.mapped.n_equiv
        c = self.classifier
        out["classifier"] = np.array([float(getattr(c, f)) for f in _CLASSIFIER])
        out["weights"] = c.weight_counts
        if c.reweighted:
            out["reweighted"] = np.array(
                [[r.quantiles, r.mse, r.mse_reweighted, r.mse_true_sample_of_ess, r.events] for r in c.reweighted],
                dtype=np.float64,
            )
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> DifferentialRepetition:
        """Read :meth:`to_arrays` back; a missing key or a wrong shape is a :class:`GenampError`."""

        def get(name: str, ndim: int, width: int | None = None, axis: int = -1) -> np.ndarray:
            if name not in arrays:
                raise GenampError(f"differential measurement without {name!r}")
            a = np.asarray(arrays[name])
            if a.ndim != ndim or (width is not None and a.shape[axis] != width):
                raise GenampError(f"differential {name!r} has shape {a.shape}")
            return a

        members = get("members", 2, 3) if "members" in arrays else None
        k = members.shape[0] if members is not None else int(get("generators", 0))
        pairs = None
        if "pairs" in arrays or "pairs_resolved" in arrays:
            delta = get("pairs", 2, k)
            pairs = PairDistances(delta, float(get("pairs_resolved", 0)))
        mix = get("mixture", 1, len(_MIXTURE))
        curve = get("curve", 2, 2)
        prof = get("profile", 2, 4, axis=0)
        mapped = None
        if "mapped_events" in arrays or "mapped_n_equiv" in arrays:
            mapped = MappedProfile(get("mapped_events", 2), get("mapped_n_equiv", 1))
        clf = get("classifier", 1, len(_CLASSIFIER))
        values = dict(zip(_CLASSIFIER, (float(v) for v in clf), strict=True))
        values["reference_resolved"] = bool(values["reference_resolved"])
        reweighted: tuple[ReweightedMSE, ...] = ()
        if "reweighted" in arrays:
            reweighted = tuple(
                ReweightedMSE(int(r[0]), float(r[1]), float(r[2]), float(r[3]), int(r[4])) for r in get("reweighted", 2, 5)
            )
        return cls(
            pairs=pairs,
            members=None if members is None else MemberDistances(members[:, 0].copy(), members[:, 1].copy(), members[:, 2] > 0),
            mixture=MixtureDistance(**{f: float(v) for f, v in zip(_MIXTURE, mix, strict=True)} | {"resolved": bool(mix[2])}),
            curve=KSCurve(curve[:, 0].copy(), curve[:, 1].copy()),
            profile=Profile(prof[0].copy(), prof[1].copy(), prof[2].copy(), prof[3].copy()),
            mapped=mapped,
            classifier=ClassifierMeasurement(**values, weight_counts=get("weights", 1, WEIGHT_BINS.size - 1),
                                             reweighted=reweighted),  # fmt: skip
            k=0 if members is not None else k,
        )


# ---- over repetitions ------------------------------------------------------------------------------
def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


@dataclass(frozen=True)
class DistanceSummary:
    """A distance from the truth over ``R`` repetitions and what it is worth (docs/formulas.md §3.3).

    ``n_equiv = (κ/δ)²`` of the mean ``δ`` (inf where it is zero), ``G = n_equiv/n_train``;
    ``G_std = G·2·delta_std/δ`` (δ enters squared and inverted, so the relative error of G is
    twice that of δ; NaN for one repetition); ``G_spread`` is G at the 84% and at the 16%
    quantile of the repetitions' δ, the range of one training (inf where that δ is zero).
    """

    delta: float
    #: standard error of the mean δ (NaN for one repetition)
    delta_std: float
    n_equiv: float
    G: float
    G_std: float
    G_spread: tuple[float, float]

    def to_record(self) -> dict[str, object]:
        """The record's fields: ``G`` and its error ``None`` where not finite."""
        return {
            "delta": self.delta,
            "delta_std": self.delta_std,
            "n_equiv": self.n_equiv,
            "G": _finite(self.G),
            "G_std": _finite(self.G_std),
            "G_spread": [_finite(self.G_spread[0]), _finite(self.G_spread[1])],
        }


def summarise_distances(deltas: np.ndarray | Sequence[float], n_train: int) -> DistanceSummary:
    """One distance per repetition → :class:`DistanceSummary` (docs/formulas.md §3.3)."""
    deltas = np.asarray(deltas, dtype=np.float64)
    if deltas.ndim != 1 or deltas.size == 0:
        raise GenampError(f"one distance per repetition is needed, got shape {deltas.shape}")
    r = deltas.size
    mean = float(deltas.mean())
    err = float(deltas.std(ddof=1) / np.sqrt(r)) if r > 1 else np.nan
    n_equiv = (KAPPA / mean) ** 2 if mean > 0 else np.inf
    g = float(n_equiv / n_train) if np.isfinite(n_equiv) else np.inf
    g_std = g * 2 * err / mean if (mean > 0 and r > 1) else np.nan
    # the larger distance is the smaller G: the 84% quantile of δ gives the spread's lower end
    lo, hi = np.percentile(deltas, [84.0, 16.0])
    spread = tuple(float((KAPPA / d) ** 2 / n_train) if d > 0 else np.inf for d in (lo, hi))
    return DistanceSummary(mean, err, n_equiv, g, g_std, spread)  # type: ignore[arg-type]


@dataclass(frozen=True)
class KSCurveSummary:
    """The mixture's KS at growing sample sizes: mean and spread over repetitions, against a truth
    sample of ``n_truth`` events."""

    n: np.ndarray
    ks_mean: np.ndarray
    ks_std: np.ndarray
    n_truth: int


@dataclass(frozen=True)
class ClassifierSummary:
    """docs/formulas.md §4, §3.6 over repetitions: means, except where said."""

    auc: float
    #: spread of the AUC over repetitions (NaN for one repetition)
    auc_std: float
    #: the first repetition's (the test sizes are the same in all)
    auc_null_std: float
    ess_fraction: float
    #: median over repetitions of the reference form's n_equiv
    n_equiv_reference: float
    #: fraction of repetitions where the reference form was resolved
    resolved_fraction: float
    reference_events: float
    auc_truth_vs_truth: float
    weight_bins: np.ndarray
    #: histogram of log10 w, summed over repetitions
    weight_counts: np.ndarray
    #: means over repetitions per resolution; empty unless every repetition has them
    reweighted: tuple[ReweightedMSE, ...] = ()


@dataclass(frozen=True)
class DifferentialAmplification:
    """Differential amplification of one model over ``R`` repetitions (docs/formulas.md §3, §4).

    ``forecast`` is the mixture's G forecast from the pairs of members, ``forecast_member`` one
    member's (None for K = 1); ``truth`` and ``truth_member`` are the same from the exact
    likelihood ratio (the truth check, §3.5), or on a pool ``truth`` along a classifier's logit
    against the pool (``truth_check``, a bound: see the module) and no ``truth_member``.
    """

    n_members: int
    n_train: int
    repetitions: int
    forecast_member: DistanceSummary | None
    forecast: DistanceSummary | None
    #: mean fraction of resolved pairs: unresolved pairs enter with their upper bound, so the
    #: forecast G is then a lower bound
    pairs_resolved_fraction: float | None
    truth_member: DistanceSummary | None
    truth: DistanceSummary
    #: fraction of repetitions where the mixture's distance was resolved
    truth_resolved_fraction: float
    curve: KSCurveSummary
    #: the first repetition's profile along the likelihood ratio (§3.7)
    profile: Profile
    classifier: ClassifierSummary
    #: ``likelihood`` or ``classifier`` (:attr:`DifferentialRepetition.truth_check`)
    truth_check: str = "likelihood"

    def to_record(self) -> dict[str, object]:
        """The JSON fields of a study's differential record (inf and NaN become null on writing)."""
        out: dict[str, object] = {"members": self.n_members, "repetitions": self.repetitions}
        if self.forecast is not None and self.forecast_member is not None:
            out["forecast_member"] = self.forecast_member.to_record()
            out["forecast"] = {**self.forecast.to_record(), "pairs_resolved_fraction": self.pairs_resolved_fraction}
        if self.truth_member is not None:
            out["truth_member"] = self.truth_member.to_record()
        out["truth"] = self.truth.to_record()
        out["truth_check"] = self.truth_check
        out["truth_resolved_fraction"] = self.truth_resolved_fraction
        c = self.curve
        out["curve"] = {"n": c.n.tolist(), "ks_mean": c.ks_mean.tolist(), "ks_std": c.ks_std.tolist(), "n_truth": c.n_truth}
        p = self.profile
        out["profile"] = {"y": p.y.tolist(), "f_gen": p.f_gen.tolist(), "f_ref": p.f_ref.tolist(),
                          "G": [_finite(v / self.n_train) for v in p.n_equiv]}  # fmt: skip
        k = self.classifier
        clf: dict[str, object] = {
            "auc": k.auc,
            "auc_std": _finite(k.auc_std),
            "auc_null_std": k.auc_null_std,
            "ess_fraction": k.ess_fraction,
            "n_equiv_reference": k.n_equiv_reference,
            "resolved_fraction": k.resolved_fraction,
            "reference_events": k.reference_events,
            "auc_truth_vs_truth": k.auc_truth_vs_truth,
            "weight_bins": k.weight_bins.tolist(),
            "weight_counts": k.weight_counts.tolist(),
        }
        if k.reweighted:
            clf["reweighted"] = [
                {"quantiles": r.quantiles, "mse": r.mse, "mse_reweighted": r.mse_reweighted,
                 "mse_true_sample_of_ess": r.mse_true_sample_of_ess, "events": r.events}
                for r in k.reweighted
            ]  # fmt: skip
        out["classifier"] = clf
        return out


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def _classifier_summary(clfs: list[ClassifierMeasurement]) -> ClassifierSummary:
    r, first = len(clfs), clfs[0]
    reweighted: tuple[ReweightedMSE, ...] = ()
    if all(c.reweighted for c in clfs):
        if any(len(c.reweighted) != len(first.reweighted) for c in clfs):
            raise GenampError("the repetitions reweighted at different resolutions")
        reweighted = tuple(
            ReweightedMSE(
                quantiles=int(f.quantiles),
                mse=_mean([c.reweighted[i].mse for c in clfs]),
                mse_reweighted=_mean([c.reweighted[i].mse_reweighted for c in clfs]),
                mse_true_sample_of_ess=_mean([c.reweighted[i].mse_true_sample_of_ess for c in clfs]),
                events=int(f.events),
            )
            for i, f in enumerate(first.reweighted)
        )
    auc = np.array([c.auc for c in clfs], dtype=np.float64)
    return ClassifierSummary(
        auc=float(auc.mean()),
        auc_std=float(auc.std(ddof=1)) if r > 1 else np.nan,
        auc_null_std=float(first.auc_null_std),
        ess_fraction=_mean([c.ess_fraction for c in clfs]),
        n_equiv_reference=float(np.median([c.n_equiv_reference for c in clfs])),
        resolved_fraction=_mean([float(c.reference_resolved) for c in clfs]),
        reference_events=float(first.reference_events),
        auc_truth_vs_truth=_mean([c.auc_truth_vs_truth for c in clfs]),
        weight_bins=WEIGHT_BINS,
        weight_counts=np.sum([c.weight_counts for c in clfs], axis=0),
        reweighted=reweighted,
    )


def summarise_differential(
    repetitions: Sequence[DifferentialRepetition], n_members: int, n_train: int, events: int
) -> DifferentialAmplification:
    """The differential amplification of ``R`` repetitions of K generators (docs/formulas.md §3, §4).

    Per repetition, a member's forecast distance is ``sqrt(mean δ_ij²)`` over pairs and the
    mixture's ``sqrt((1 + 1/K)/2)`` times it (§3.4); the truth check is the mixture's δ and the
    members' mean δ (§3.5). Each becomes a :class:`DistanceSummary` of its R values. ``events``
    is the size of the truth sample each KS was measured against.
    """
    reps = list(repetitions)
    if not reps:
        raise GenampError("no repetitions to summarise")
    if any(rep.n_members != n_members for rep in reps):
        raise GenampError(f"the repetitions' generators ({sorted({rep.n_members for rep in reps})}) are not K = {n_members}")
    if any(rep.curve.n.shape != reps[0].curve.n.shape for rep in reps):
        raise GenampError("the repetitions' KS curves have different sample sizes")
    if len({rep.truth_check for rep in reps}) > 1:
        raise GenampError("the repetitions were checked against the truth in two ways (likelihood and classifier)")
    forecast_member = forecast = resolved = None
    if n_members > 1 and all(rep.pairs is not None for rep in reps):
        member = np.array([rep.pairs.member for rep in reps])  # type: ignore[union-attr]
        forecast_member = summarise_distances(member, n_train)
        forecast = summarise_distances(math.sqrt((1 + 1 / n_members) / 2) * member, n_train)
        resolved = float(np.mean([rep.pairs.resolved_fraction for rep in reps]))  # type: ignore[union-attr]
    ks = np.stack([rep.curve.ks for rep in reps])
    return DifferentialAmplification(
        n_members=n_members,
        n_train=n_train,
        repetitions=len(reps),
        forecast_member=forecast_member,
        forecast=forecast,
        pairs_resolved_fraction=resolved,
        truth_member=None if reps[0].members is None else summarise_distances(
            np.array([rep.members.delta.mean() for rep in reps]), n_train),  # type: ignore[union-attr]
        truth=summarise_distances(np.array([rep.mixture.delta for rep in reps]), n_train),
        truth_resolved_fraction=_mean([float(rep.mixture.resolved) for rep in reps]),
        curve=KSCurveSummary(reps[0].curve.n, ks.mean(axis=0), ks.std(axis=0), events),
        profile=reps[0].profile,
        classifier=_classifier_summary([rep.classifier for rep in reps]),
        truth_check=reps[0].truth_check,
    )
