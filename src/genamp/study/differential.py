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

On a pool of events (:func:`measure_pool`) there is no ``log p_true``: the pair forecast is
measured in the networks' own coordinates (where their log densities are; see the function),
and the truth check is the classifier's, along its logit against the pool's events, with the
local profile along the same logit mapped onto ``m_W`` and ``m_t``.

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
    mixture, curve, prof, mapped = _along(mix_s, truth_s, lambda keep: mix_x[keep])
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
    classifier = _classifier(clf, ref, sanity, tuple(reweighted))
    return DifferentialRepetition(pairs, members, mixture, curve, prof, mapped, classifier)


def _along(
    s_gen: np.ndarray, s_truth: np.ndarray, events_at: Any
) -> tuple[MixtureDistance, KSCurve, Any, MappedProfile]:
    """The mixture's distance along a summary ``s`` (its values on generated and on true events),
    its KS at growing generated sizes, its local profile (§3.7), and that profile mapped onto
    the events ``events_at(rows)`` of the first :data:`MAPPED_EVENTS` rows of a fixed shuffle."""
    mix = distance(s_gen, s_truth)
    mixture = MixtureDistance(mix.ks, mix.delta, mix.resolved, mix.null_mean, mix.null_q95, mix.y)
    order = np.random.default_rng(0).permutation(s_gen.size)
    sizes = np.unique(np.geomspace(50, s_gen.size, 8).astype(int))
    curve = KSCurve(sizes.astype(np.float64), np.array([ks_statistic(s_gen[order[:n]], s_truth)[0] for n in sizes]))
    prof = profile(s_gen, s_truth)
    # each kept event carries the local n_equiv of its y
    keep = order[:MAPPED_EVENTS]
    n_equiv = np.interp(s_gen[keep], prof.y, np.where(np.isfinite(prof.n_equiv), prof.n_equiv, 1e12))
    return mixture, curve, prof, MappedProfile(events_at(keep), n_equiv)


def _classifier(clf: Any, ref: Any, sanity: Any, reweighted: tuple[ReweightedMSE, ...] = ()) -> ClassifierMeasurement:
    """What a repetition keeps of its classifier test ``clf``, its reference form ``ref`` (§3.6)
    and the truth-against-truth test ``sanity``."""
    return ClassifierMeasurement(
        auc=clf.auc,
        auc_null_std=clf.auc_null_std,
        ess_fraction=clf.ess / clf.weights.size,
        reference_ks=ref.ks,
        n_equiv_reference=ref.n_equiv,
        reference_resolved=ref.resolved,
        reference_events=ref.reference,
        auc_truth_vs_truth=sanity.auc,
        auc_truth_vs_truth_null_std=sanity.auc_null_std,
        weight_counts=np.histogram(np.log10(np.maximum(clf.weights, 1e-300)), WEIGHT_BINS)[0],
        reweighted=reweighted,
    )


#: the observables the local profile is mapped onto on a pool of top pairs (the first two of the
#: classifier's inputs otherwise)
MAPPED_OBSERVABLES = ("Wp_m", "t_m")


def mapped_observables(names: list[str]) -> tuple[int, int]:
    """Which two of the classifier's inputs ``names`` the mapped profile keeps."""
    if all(o in names for o in MAPPED_OBSERVABLES):
        return names.index(MAPPED_OBSERVABLES[0]), names.index(MAPPED_OBSERVABLES[1])
    return 0, min(1, len(names) - 1)


def _network_view(generator: Any) -> tuple[Any, Any]:
    """A generator as its network and its coordinate map (``None``: it generates the pool's columns)."""
    from genamp.models.coordinates import InCoordinates

    if isinstance(generator, InCoordinates):
        return generator.generator, generator.coords
    return generator, None


def measure_pool(
    generators: list[Any], reference: np.ndarray, seed: np.random.SeedSequence, events: int,
    features: Any, names: list[str],
) -> DifferentialRepetition:  # fmt: skip
    """The differential measurement of one repetition's K generators on a pool of events.

    - **Pair forecast** (§3.4): member ``i``'s events in the networks' coordinates, ``log p_j``
      of every member there. The coordinates lose only what every member loses alike (the angle
      about the beam, a beam swap, the flavour draws: the map to events is one random map for all
      members), and the distance along the likelihood ratio is the total variation distance, which
      such a map can only shrink: the forecast's δ is that of the coordinates, at least the
      events' one, and its ``n_equiv`` a lower bound of the events'.
    - **Truth check** (§3.6, §4): a classifier on ``features(events)`` (the study's observables,
      ``names``) between the mixture (K·``events`` events) and ``2·events`` of ``reference``;
      the mixture's distance along its logit ``−log w`` on the test halves; the sanity check
      between the rest of ``reference`` and its first part.
    - **Local profile** (§3.7) along the same logit, mapped onto two observables
      (:func:`mapped_observables`) of the generated test events.

    ``reference`` holds ``3·events`` true events no generator of the repetition saw.
    """
    k = len(generators)
    if reference.shape[0] < 3 * events:
        raise ValueError(f"the reference needs {3 * events} events, got {reference.shape[0]}")
    views = [_network_view(g) for g in generators]
    z = [net.sample(events, child(seed, 0, m)) for m, (net, _) in enumerate(views)]
    pairs = None
    if k > 1:
        table = [[net.log_prob(x) for net, _ in views] for x in z]
        forecast = pair_forecast(table, seed=0)
        pairs = PairDistances(forecast.delta, forecast.resolved_pairs / (k * (k - 1) / 2))
    samples = [x if coords is None else coords.inverse_transform(x, seed=child(seed, 0, m, 1)).reshape(events, -1)
               for m, (x, (_, coords)) in enumerate(zip(z, views, strict=True))]  # fmt: skip
    mix_x = np.concatenate(samples)
    f_ref = features(reference[: 3 * events])  # the classifier's inputs, once: 2n reference events, n for the sanity check
    clf = classifier_test(features(mix_x), f_ref[: 2 * events], child(seed, 3))
    s_gen, s_ref = -clf.logit_gen, -clf.logit_ref  # ≈ log p_gen − log p_true
    i, j = mapped_observables(names)
    mixture, curve, prof, mapped = _along(s_gen, s_ref, lambda keep: clf.gen_test[keep][:, [i, j]])  # the classifier's inputs
    ref_form = reference_distance(clf.logit_gen, clf.logit_ref)
    sanity = classifier_test(f_ref[2 * events :], f_ref[:events], child(seed, 4))
    return DifferentialRepetition(pairs, None, mixture, curve, prof, mapped, _classifier(clf, ref_form, sanity), k=k)
