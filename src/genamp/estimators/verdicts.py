"""The verdicts a record carries, in words (docs/formulas.md §2.5, §3, §4).

A forecast that is not calibrated, a forecast and a truth of the same mixture more than three
standard errors apart, a classifier that tells truth from truth, volumes a single training cannot
resolve: these belong to the result, not to whoever prints it. Each function here takes a record
(the JSON fields of a result, as in ``results.json``) and returns its warnings as sentences;
the records store them under ``warnings``, so the JSON, a Python user, the command line and the
report say the same thing. The command line only prints them, after the record's label.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["averaging_warnings", "differential_warnings", "standard_errors_apart"]

#: forecast and truth further apart than this many combined standard errors disagree
DISAGREEMENT = 3.0


def standard_errors_apart(a: float | None, a_err: float | None, b: float | None, b_err: float | None) -> float | None:
    """``(a − b)`` in combined standard errors, or ``None`` where a value or its error is missing."""
    if a is None or a_err is None or b is None or b_err is None or not np.hypot(a_err, b_err) > 0:
        return None
    return float((a - b) / np.hypot(a_err, b_err))


def _g(x: float | None) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.3g}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def averaging_warnings(rec: dict[str, Any]) -> list[str]:
    """What an averaging record's reader must know: no number and why, miscalibration against
    the ideal of the same K (4 binomial errors of the R × J pulls, at least 5 points), a forecast
    and truth apart, a Bayesian network's draws (one training's posterior), volumes or
    repetitions a single training does not resolve."""
    out = []
    if rec.get("G_inf") is None:
        out.append(rec.get("error") or "; ".join(rec.get("notes", [])) or "the forecast is not resolved")
    if "one_training" not in rec:
        return out  # every repetition failed
    cov, ref = rec.get("coverage") or {}, rec.get("reference_coverage") or {}
    # no pulls without a truth (a user's files and no pool): calibration is not measured there
    if cov.get("68") is not None and ref.get("68") is not None:
        tol = max(4 * np.sqrt(ref["68"] * (1 - ref["68"]) / (rec["repetitions"] * rec["n_cells"])), 0.05)
        # per-volume calibration is measured whether or not the sum over volumes is resolved
        if abs(cov["68"] - ref["68"]) > tol:
            out.append(
                f"not calibrated on this toy (68% intervals cover {_pct(cov['68'])} of volumes, a calibrated "
                f"forecast {_pct(ref['68'])}); do not trust it on data"
            )
    z = None if rec.get("G_inf") is None else standard_errors_apart(rec["G_inf"], rec["G_inf_std"], rec.get("truth_G"), rec.get("truth_G_std"))
    if z is not None and abs(z) > DISAGREEMENT:
        out.append(
            f"the forecast G∞ = {_g(rec['G_inf'])} and the truth-based G = {_g(rec['truth_G'])} of the same mixture "
            f"differ by {abs(z):.1f} standard errors: the members "
            + ("share a bias their spread cannot see" if z > 0 else "spread more than their mixture misses")
        )
    if rec.get("falsified"):
        failing = rec["falsification"]["failing_volumes"]
        out.append(
            f"falsified by a holdout of {rec['holdout']} true events (p = {rec['falsification_p']:.2g} < "
            f"{rec['falsification']['threshold']:g}): the truth does not behave like one more member, the members share a bias"
            + (f"; the volumes furthest off: {', '.join(map(str, failing[:10]))}{' ...' if len(failing) > 10 else ''}"
               f"{' (see ' + rec['table'] + ')' if rec.get('table') else ''}" if failing else "")
        )  # fmt: skip
    spread = rec.get("spread") or {}
    if "kl_weight" in spread or spread.get("sampler") == "langevin":
        out.append(
            "the draws are of one network's weight posterior, which shares that training's error: on the toys such a "
            "forecast calibrated only where the training set's own fluctuation dominates (README, \"Averaging "
            "amplification\"); a bootstrap ensemble (--ensemble K) is the forecast to trust on data"
        )
    one = rec["one_training"]
    sparse = one["volumes_few_events"] + one["volumes_empty"]
    if rec["volumes_resolved_fraction"] < 0.5 or sparse:
        out.append(
            f"per volume, one training resolves σ²_model in {_pct(rec['volumes_resolved_fraction'])} of "
            f"{rec['n_cells']} volumes; the others get lower bounds only"
            f"{f', {sparse} hold too few events for any' if sparse else ''} "
            f"({'see ' + rec['table'] + ': ' if rec.get('table') else ''}more members or n_gen per member resolve more)"
        )
    if rec["resolved_fraction"] < 1.0:
        out.append(
            f"a single training resolved G∞ in only {_pct(rec['resolved_fraction'])} of repetitions"
            + (f"; repetition 0: G∞ ≥ {_g(one['G_inf_lower'])} ({one['advice']})" if not one["resolved"] else "")
        )
    return out


def differential_warnings(rec: dict[str, Any]) -> list[str]:
    """A differential record's caveats: forecast and truth check apart, a truth check inside
    the KS null (a bound), a classifier that tells truth from truth (beyond 4 null spreads)."""
    out = []
    fc, truth, clf = rec.get("forecast") or {}, rec["truth"], rec["classifier"]
    z = standard_errors_apart(fc.get("G"), fc.get("G_std"), truth.get("G"), truth.get("G_std"))
    if z is not None and abs(z) > DISAGREEMENT:
        out.append(
            f"the differential forecast G = {_g(fc.get('G'))} and its truth check {_g(truth['G'])} differ by "
            f"{abs(z):.1f} standard errors: the members' spread is not the distance to the truth"
        )
    if rec["truth_resolved_fraction"] < 1:
        out.append(
            f"the mixture's distance from the truth was within the KS null in "
            f"{_pct(1 - rec['truth_resolved_fraction'])} of repetitions; its G there is a lower bound"
        )
    if rec.get("truth_check") == "classifier":
        out.append(
            "the truth check runs along a classifier's logit against the pool (no true density): "
            "it sees at most what the classifier learned, so its G is an upper bound"
        )
    if abs(clf["auc_truth_vs_truth"] - 0.5) > 4 * clf["auc_null_std"] / np.sqrt(rec["repetitions"]):
        out.append(f"the classifier tells truth from truth (AUC {clf['auc_truth_vs_truth']:.3f}); its results are not to be trusted")
    return out
