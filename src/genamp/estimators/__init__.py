"""The estimators: arrays in, typed results out, usable on plain arrays with no study around them.

What to use when:

- **A truth you can count volumes of** (a toy's exact cell probabilities, or a pool of true
  events as :class:`CellProbabilities`): :func:`truth_amplification` on occupancies of shape
  (repetitions, sizes, volumes) gives :class:`TruthAmplification` (docs/formulas.md §1, §7).
  Stream repetitions with :func:`summarise_repetition` and :func:`combine_repetitions`.
- **K generators and no truth** (ensemble members, posterior draws): :func:`forecast` on their
  occupancies gives :class:`AveragingForecast`, G per volume and over the partition, with
  bounds where it is not resolved (§2). Over repetitions with a truth, :func:`summarise` gives
  :class:`AveragingSummary` with the closure and the calibration (§2.7, §2.8).
- **Likelihoods instead of volumes**: :func:`distance` (KS along the log-likelihood ratio),
  :func:`pair_forecast` between members, :func:`profile` along the ratio (§3). One repetition's
  measurement is a :class:`DifferentialRepetition` (it reads and writes a task file's arrays);
  over repetitions, :func:`summarise_differential` gives :class:`DifferentialAmplification`, the
  forecast and the truth check as :class:`DistanceSummary` (:func:`summarise_distances`), with
  the classifier's numbers (§3, §4).
- **The error bars of a histogram of generated events**: :func:`bin_uncertainties` on the
  forecast of its bins gives :class:`BinUncertainties`, statistical plus model per bin, and
  :func:`to_hist` a ``hist`` histogram carrying them (§2.9).
- **Only a sample of the truth and a classifier**: ``classifier_test`` in
  :mod:`genamp.estimators.classifier` (needs torch; imported on first use) (§4).
- **What a record's reader must be told**: :func:`averaging_warnings`, :func:`differential_warnings`.
"""

from __future__ import annotations

from typing import Any

from genamp.estimators.averaging import AveragingForecast, forecast, resolution_advice
from genamp.estimators.calibration import AveragingSummary, coverage, member_plateau, reference_pulls, summarise
from genamp.estimators.differential import (
    Distance,
    PairForecast,
    Profile,
    distance,
    kolmogorov_null,
    ks_statistic,
    pair_forecast,
    profile,
    reference_distance,
)
from genamp.estimators.differential_summary import (
    WEIGHT_BINS,
    ClassifierMeasurement,
    ClassifierSummary,
    DifferentialAmplification,
    DifferentialRepetition,
    DistanceSummary,
    KSCurve,
    KSCurveSummary,
    MappedProfile,
    MemberDistances,
    MixtureDistance,
    PairDistances,
    ReweightedMSE,
    summarise_differential,
    summarise_distances,
)
from genamp.estimators.truth import (
    CellProbabilities,
    RepetitionSummary,
    TruthAmplification,
    combine_repetitions,
    plateau,
    pool_error,
    quantile_mse,
    summarise_repetition,
    truth_amplification,
    truth_line,
)
from genamp.estimators.histograms import BinUncertainties, bin_uncertainties, to_hist
from genamp.estimators.verdicts import averaging_warnings, differential_warnings, standard_errors_apart

__all__ = [
    "WEIGHT_BINS", "AveragingForecast", "AveragingSummary", "BinUncertainties", "CellProbabilities", "ClassifierMeasurement",
    "ClassifierSummary", "ClassifierTest", "DifferentialAmplification", "DifferentialRepetition", "Distance",
    "DistanceSummary", "KSCurve", "KSCurveSummary", "MappedProfile", "MemberDistances", "MixtureDistance",
    "PairDistances", "PairForecast", "Profile", "RepetitionSummary", "ReweightedMSE", "TruthAmplification",
    "averaging_warnings", "bin_uncertainties", "classifier_test", "combine_repetitions", "coverage", "differential_warnings", "distance",
    "forecast", "kolmogorov_null", "ks_statistic", "member_plateau", "pair_forecast", "plateau", "pool_error",
    "profile", "quantile_mse", "reference_distance", "reference_pulls", "resolution_advice",
    "standard_errors_apart", "summarise", "summarise_differential", "summarise_distances", "summarise_repetition",
    "to_hist", "truth_amplification", "truth_line",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    # the classifier needs torch: imported when it is first asked for, so arrays-only users start fast
    if name in ("ClassifierTest", "classifier_test"):
        from genamp.estimators import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'genamp.estimators' has no attribute {name!r}")
