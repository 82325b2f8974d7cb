"""The differential method in a study: what one repetition's generators measure.

Per repetition (inside its task, while the trained generators exist), with ``n`` events drawn
from each of the K generators and ``n`` from the truth:

- the K×K table ``log p_j`` at generator i's events gives the pair forecast (docs/formulas.md §3.4);
- ``s = log p_gen − log p_true`` against a truth sample gives each member's and the mixture's
  distance from the truth (§3.5), the mixture's KS at growing sample sizes, and its local
  profile (§3.7);
- a classifier between the mixture's events and a second truth sample gives the AUC, the
  weights and the reference form of §3.6 (the truth implicit); a classifier between two truth
  samples is the sanity check (AUC ≈ 0.5).

The result is a :class:`~genamp.estimators.differential_summary.DifferentialRepetition`; the task
file keeps its arrays, so a stopped study resumes without retraining, and the runner summarises
the repetitions with :func:`~genamp.estimators.differential_summary.summarise_differential`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genamp.densities import Density
from genamp.estimators.classifier import classifier_test, reweighted_occupancy
from genamp.estimators.differential import (
    distance,
    ks_statistic,
    mixture_log_prob,
    pair_forecast,
    profile,
    reference_distance,
)
from genamp.estimators.differential_summary import (
    WEIGHT_BINS,
    ClassifierMeasurement,
    DifferentialRepetition,
    KSCurve,
    MappedProfile,
    MemberDistances,
    MixtureDistance,
    PairDistances,
    ReweightedMSE,
)
from genamp.seeding import child

#: events of the mixture kept per repetition with their local G, for the map onto events
MAPPED_EVENTS = 4000


def measure(
    generators: list[Any], density: Density, seed: np.random.SeedSequence, events: int, grids: list[Any] = ()
) -> DifferentialRepetition:
    """The differential measurement of one repetition's K generators (each with ``sample``, ``log_prob``).

    With ``grids``, the classifier's weights also reweight the generated test events' occupancies.
    """
    k = len(generators)
    samples = [g.sample(events, child(seed, 0, m)) for m, g in enumerate(generators)]
    truth = density.sample(events, child(seed, 1))
    table = [[g.log_prob(x) for g in generators] for x in samples]
    pairs = None
    if k > 1:
        forecast = pair_forecast(table, seed=0)
        pairs = PairDistances(forecast.delta, forecast.resolved_pairs / (k * (k - 1) / 2))
    truth_lp = density.log_prob(truth)
    truth_on_samples = [density.log_prob(x) for x in samples]
    members_on_truth = np.stack([g.log_prob(truth) for g in generators])
    per_member = [distance(table[m][m] - truth_on_samples[m], members_on_truth[m] - truth_lp) for m in range(k)]
    members = MemberDistances(np.array([d.ks for d in per_member]), np.array([d.delta for d in per_member]),
                              np.array([d.resolved for d in per_member]))  # fmt: skip
    # the mixture: an equal share of events from each generator, its density the members' mean
    mix_x = np.concatenate(samples)
    mix_s = mixture_log_prob(np.concatenate([np.stack(row) for row in table], axis=1)) - np.concatenate(truth_on_samples)
    truth_s = mixture_log_prob(members_on_truth) - truth_lp
    mix = distance(mix_s, truth_s)
    mixture = MixtureDistance(mix.ks, mix.delta, mix.resolved, mix.null_mean, mix.null_q95, mix.y)
    order = np.random.default_rng(0).permutation(mix_s.size)
    sizes = np.unique(np.geomspace(50, mix_s.size, 8).astype(int))
    curve = KSCurve(sizes.astype(np.float64), np.array([ks_statistic(mix_s[order[:n]], truth_s)[0] for n in sizes]))
    prof = profile(mix_s, truth_s)
    # the profile mapped back onto events: each kept event carries the local n_equiv of its y
    keep = order[:MAPPED_EVENTS]
    mapped = MappedProfile(
        mix_x[keep], np.interp(mix_s[keep], prof.y, np.where(np.isfinite(prof.n_equiv), prof.n_equiv, 1e12))
    )
    # the classifier: the truth only through a second sample, as on data
    reference = density.sample(2 * events, child(seed, 2))
    clf = classifier_test(mix_x, reference, child(seed, 3))
    ref = reference_distance(clf.logit_gen, clf.logit_ref)
    sanity = classifier_test(truth, reference[:events], child(seed, 4))
    # reweighted occupancies: quantile MSE of the generated test events against the exact cells,
    # before and after weighting, beside c/n for a true sample of n = ESS events
    reweighted = []
    for grid in grids:
        cells = grid.cell_index(clf.gen_test)
        p = grid.probabilities
        plain = reweighted_occupancy(cells, np.ones(cells.size), grid.n_cells)
        weighted = reweighted_occupancy(cells, clf.weights, grid.n_cells)
        reweighted.append(ReweightedMSE(
            quantiles=int(grid.quantiles if isinstance(grid.quantiles, int) else grid.shape[0]),
            mse=float(np.mean((plain - p) ** 2)),
            mse_reweighted=float(np.mean((weighted - p) ** 2)),
            mse_true_sample_of_ess=float(np.mean(p * (1 - p)) / clf.ess),
            events=int(cells.size),
        ))  # fmt: skip
    classifier = ClassifierMeasurement(
        auc=clf.auc,
        auc_null_std=clf.auc_null_std,
        ess_fraction=clf.ess / clf.weights.size,
        reference_ks=ref.ks,
        n_equiv_reference=ref.n_equiv,
        reference_resolved=ref.resolved,
        reference_events=ref.reference,  # type: ignore[arg-type]
        auc_truth_vs_truth=sanity.auc,
        auc_truth_vs_truth_null_std=sanity.auc_null_std,
        weight_counts=np.histogram(np.log10(np.maximum(clf.weights, 1e-300)), WEIGHT_BINS)[0],
        reweighted=tuple(reweighted),
    )
    return DifferentialRepetition(pairs, members, mixture, curve, prof, mapped, classifier)
