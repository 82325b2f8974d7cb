"""The differential method over repetitions (estimators/differential_summary.py), on repetitions built
by hand: no generators, no torch. The expected values are the closed forms of docs/formulas.md §3.3–§3.4."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from genamp.errors import GenampError
from genamp.estimators import (
    WEIGHT_BINS,
    ClassifierMeasurement,
    DifferentialRepetition,
    KSCurve,
    MappedProfile,
    MemberDistances,
    MixtureDistance,
    PairDistances,
    Profile,
    ReweightedMSE,
    summarise_differential,
    summarise_distances,
)
from genamp.study import store
from genamp.study.tasks import TaskOutput

#: the mean of Kolmogorov's distribution, written out here rather than imported
KAPPA = math.sqrt(math.pi / 2) * math.log(2)
N_TRAIN = 50
EVENTS = 500


def repetition(rng: np.random.Generator, k: int, pair_delta: float | None = None, grids: int = 2) -> DifferentialRepetition:
    """A repetition of K generators with random but plausible numbers; with ``pair_delta`` every
    pair is that far apart."""
    pairs = None
    if k > 1:
        d = rng.uniform(0.02, 0.2, (k, k)) if pair_delta is None else np.full((k, k), pair_delta)
        d = np.triu(d, 1) + np.triu(d, 1).T
        np.fill_diagonal(d, np.nan)
        pairs = PairDistances(d, float(rng.integers(0, k * (k - 1) // 2 + 1) / (k * (k - 1) / 2)))
    members = MemberDistances(rng.uniform(0.03, 0.3, k), rng.uniform(0.0, 0.3, k), rng.random(k) < 0.7)
    mixture = MixtureDistance(*rng.uniform(0.02, 0.2, 2), bool(rng.random() < 0.7), *rng.uniform(0.01, 0.05, 2), float(rng.normal()))
    sizes = np.array([50.0, 120.0, 400.0, k * EVENTS])
    profile = Profile(np.sort(rng.normal(size=7)), np.sort(rng.random(7)), np.sort(rng.random(7)),
                      np.where(rng.random(7) < 0.3, np.inf, rng.uniform(10, 1e3, 7)))  # fmt: skip
    mapped = MappedProfile(rng.normal(size=(30, 2)), rng.uniform(10, 1e3, 30))
    classifier = ClassifierMeasurement(
        auc=rng.uniform(0.5, 0.7), auc_null_std=0.01, ess_fraction=rng.uniform(0.3, 1.0), reference_ks=rng.uniform(0.02, 0.2),
        n_equiv_reference=rng.uniform(50, 1000), reference_resolved=bool(rng.random() < 0.5), reference_events=float(2 * EVENTS),
        auc_truth_vs_truth=rng.uniform(0.48, 0.52), auc_truth_vs_truth_null_std=0.012,
        weight_counts=rng.integers(0, 100, WEIGHT_BINS.size - 1),
        reweighted=tuple(ReweightedMSE(q, *rng.uniform(1e-5, 1e-3, 3), k * EVENTS // 2) for q in (10, 20)[:grids]),
    )  # fmt: skip
    return DifferentialRepetition(pairs, members, mixture, KSCurve(sizes, rng.uniform(0.02, 0.2, 4)), profile, mapped, classifier)


def test_a_distance_over_repetitions_by_hand():
    """δ = 0.1, 0.2, 0.3: mean 0.2, standard error 0.1/sqrt(3), the 84% and 16% quantiles 0.268 and
    0.132 (linear interpolation between the order statistics)."""
    s = summarise_distances([0.1, 0.3, 0.2], N_TRAIN)
    g = (KAPPA / 0.2) ** 2 / N_TRAIN
    assert s.delta == pytest.approx(0.2) and s.delta_std == pytest.approx(0.1 / math.sqrt(3))
    assert s.n_equiv == pytest.approx((KAPPA / 0.2) ** 2) and s.G == pytest.approx(g)
    assert s.G_std == pytest.approx(g * 2 * (0.1 / math.sqrt(3)) / 0.2)
    assert s.G_spread == pytest.approx(((KAPPA / 0.268) ** 2 / N_TRAIN, (KAPPA / 0.132) ** 2 / N_TRAIN))
    # the mean distance converts, not each repetition's own n_equiv
    assert s.n_equiv < np.mean([(KAPPA / d) ** 2 for d in (0.1, 0.2, 0.3)])


def test_one_repetition_and_a_zero_distance():
    one = summarise_distances([0.2], N_TRAIN)
    assert math.isnan(one.delta_std) and math.isnan(one.G_std) and one.G == pytest.approx((KAPPA / 0.2) ** 2 / N_TRAIN)
    zero = summarise_distances([0.0, 0.0], N_TRAIN)
    assert zero.n_equiv == math.inf and zero.G == math.inf and zero.G_spread == (math.inf, math.inf)
    assert zero.to_record()["G"] is None and zero.to_record()["G_std"] is None and zero.to_record()["G_spread"] == [None, None]
    with pytest.raises(GenampError, match="one distance per repetition"):
        summarise_distances([], N_TRAIN)


def test_the_pair_forecast_is_sqrt_of_half_one_plus_one_over_k_times_the_members():
    """Every pair δ_ij = d: one member sits d from the truth, the mixture of K sqrt((1 + 1/K)/2)·d."""
    rng = np.random.default_rng(1)
    k, ds = 4, (0.05, 0.08, 0.11)
    res = summarise_differential([repetition(rng, k, d) for d in ds], k, N_TRAIN, EVENTS)
    mean = np.mean(ds)
    assert res.forecast_member.delta == pytest.approx(mean)
    assert res.forecast.delta == pytest.approx(math.sqrt((1 + 1 / k) / 2) * mean)
    assert res.forecast.G == pytest.approx((KAPPA / res.forecast.delta) ** 2 / N_TRAIN)
    # the mixture is closer than one member: more equivalent events, by exactly 2/(1 + 1/K)
    assert res.forecast.n_equiv / res.forecast_member.n_equiv == pytest.approx(2 / (1 + 1 / k))


def test_the_summary_against_its_closed_form():
    rng = np.random.default_rng(7)
    k, r = 3, 6
    reps = [repetition(rng, k) for _ in range(r)]
    res = summarise_differential(reps, k, N_TRAIN, EVENTS)
    assert (res.n_members, res.n_train, res.repetitions) == (k, N_TRAIN, r)

    def check(summary, deltas):
        deltas = np.asarray(deltas)
        mean, err = deltas.mean(), deltas.std(ddof=1) / math.sqrt(r)
        g = (KAPPA / mean) ** 2 / N_TRAIN
        lo, hi = np.percentile(deltas, [84, 16])
        assert summary.delta == pytest.approx(mean, rel=1e-12) and summary.delta_std == pytest.approx(err, rel=1e-12)
        assert summary.n_equiv == pytest.approx((KAPPA / mean) ** 2, rel=1e-12)
        assert summary.G == pytest.approx(g, rel=1e-12) and summary.G_std == pytest.approx(g * 2 * err / mean, rel=1e-12)
        assert summary.G_spread == pytest.approx(((KAPPA / lo) ** 2 / N_TRAIN, (KAPPA / hi) ** 2 / N_TRAIN), rel=1e-12)

    off = ~np.eye(k, dtype=bool)
    member = [math.sqrt(np.mean(rep.pairs.delta[off] ** 2)) for rep in reps]
    check(res.forecast_member, member)
    check(res.forecast, [math.sqrt((1 + 1 / k) / 2) * m for m in member])
    check(res.truth, [rep.mixture.delta for rep in reps])
    check(res.truth_member, [rep.members.delta.mean() for rep in reps])
    assert res.pairs_resolved_fraction == pytest.approx(np.mean([rep.pairs.resolved_fraction for rep in reps]))
    assert res.truth_resolved_fraction == pytest.approx(np.mean([rep.mixture.resolved for rep in reps]))
    ks = np.array([rep.curve.ks for rep in reps])
    assert res.curve.ks_mean == pytest.approx(ks.mean(axis=0)) and res.curve.ks_std == pytest.approx(ks.std(axis=0))
    assert res.curve.n.tolist() == reps[0].curve.n.tolist() and res.curve.n_truth == EVENTS
    assert res.profile is reps[0].profile
    c = res.classifier
    aucs = [rep.classifier.auc for rep in reps]
    assert c.auc == pytest.approx(np.mean(aucs)) and c.auc_std == pytest.approx(np.std(aucs, ddof=1))
    assert c.n_equiv_reference == pytest.approx(np.median([rep.classifier.n_equiv_reference for rep in reps]))
    assert c.resolved_fraction == pytest.approx(np.mean([rep.classifier.reference_resolved for rep in reps]))
    assert c.ess_fraction == pytest.approx(np.mean([rep.classifier.ess_fraction for rep in reps]))
    assert c.weight_counts.tolist() == np.sum([rep.classifier.weight_counts for rep in reps], axis=0).tolist()
    assert [w.quantiles for w in c.reweighted] == [10, 20]
    assert c.reweighted[1].mse_reweighted == pytest.approx(np.mean([rep.classifier.reweighted[1].mse_reweighted for rep in reps]))


def test_the_record_has_the_fields_of_a_study_record():
    rng = np.random.default_rng(3)
    res = summarise_differential([repetition(rng, 3) for _ in range(2)], 3, N_TRAIN, EVENTS)
    rec = res.to_record()
    assert list(rec) == ["members", "repetitions", "forecast_member", "forecast", "truth_member", "truth",
                         "truth_check", "truth_resolved_fraction", "curve", "profile", "classifier"]  # fmt: skip
    assert rec["truth_check"] == "likelihood"
    assert list(rec["forecast"]) == ["delta", "delta_std", "n_equiv", "G", "G_std", "G_spread", "pairs_resolved_fraction"]
    assert rec["forecast"]["G"] == res.forecast.G and rec["truth"]["G_spread"] == list(res.truth.G_spread)
    n_equiv = res.profile.n_equiv
    assert rec["profile"]["G"] == [None if np.isinf(v) else v / N_TRAIN for v in n_equiv]
    assert set(rec["curve"]) == {"n", "ks_mean", "ks_std", "n_truth"}
    assert rec["classifier"]["weight_bins"] == WEIGHT_BINS.tolist()
    assert set(rec["classifier"]["reweighted"][0]) == {"quantiles", "mse", "mse_reweighted", "mse_true_sample_of_ess", "events"}
    json.dumps(store.to_json_safe(rec), allow_nan=False)


def test_one_generator_has_no_forecast():
    rng = np.random.default_rng(5)
    reps = [repetition(rng, 1) for _ in range(3)]
    assert all(rep.pairs is None and "pairs" not in rep.to_arrays() and "pairs_resolved" not in rep.to_arrays() for rep in reps)
    res = summarise_differential(reps, 1, N_TRAIN, EVENTS)
    assert res.forecast is None and res.forecast_member is None and res.pairs_resolved_fraction is None
    rec = res.to_record()
    assert "forecast" not in rec and "forecast_member" not in rec and rec["truth"]["G"] == pytest.approx(res.truth.G)
    # a repetition without pairs among repetitions with them: no forecast either
    mixed = [repetition(rng, 2), dataclasses.replace(repetition(rng, 2), pairs=None)]
    assert summarise_differential(mixed, 2, N_TRAIN, EVENTS).forecast is None


def test_the_task_file_layout_round_trips():
    rng = np.random.default_rng(11)
    rep = repetition(rng, 3)
    arrays = rep.to_arrays()
    assert list(arrays) == ["pairs", "pairs_resolved", "members", "mixture", "curve", "profile", "mapped_events",
                            "mapped_n_equiv", "classifier", "weights", "reweighted"]  # fmt: skip
    m, c = rep.mixture, rep.classifier
    assert arrays["mixture"].tolist() == [m.ks, m.delta, float(m.resolved), m.null_mean, m.null_q95, m.y]
    assert arrays["classifier"].tolist() == [c.auc, c.auc_null_std, c.ess_fraction, c.reference_ks, c.n_equiv_reference,
                                             float(c.reference_resolved), c.reference_events, c.auc_truth_vs_truth,
                                             c.auc_truth_vs_truth_null_std]  # fmt: skip
    assert arrays["members"][:, 1].tolist() == rep.members.delta.tolist() and arrays["members"].dtype == np.float64
    assert arrays["profile"].shape == (4, 7) and arrays["curve"][:, 0].tolist() == rep.curve.n.tolist()
    assert arrays["reweighted"][1].tolist() == [20, c.reweighted[1].mse, c.reweighted[1].mse_reweighted,
                                                c.reweighted[1].mse_true_sample_of_ess, c.reweighted[1].events]  # fmt: skip
    back = DifferentialRepetition.from_arrays(arrays)
    again = back.to_arrays()
    assert list(again) == list(arrays)
    for name, a in arrays.items():
        assert again[name].dtype == a.dtype and again[name].shape == a.shape and again[name].tobytes() == a.tobytes(), name
    assert back.mixture == m and back.classifier.reweighted == c.reweighted and back.members.resolved.dtype == bool
    assert back.n_members == 3 and np.array_equal(back.pairs.delta, rep.pairs.delta, equal_nan=True)


def test_a_pool_repetition_has_no_member_distances_and_a_classifier_truth_check():
    """On a pool the members' own distances are not measured: the file keeps the generators'
    number instead, and the record says what its truth check ran along (and has no truth_member)."""
    rng = np.random.default_rng(12)
    reps = [dataclasses.replace(repetition(rng, 4), members=None, k=4) for _ in range(3)]
    arrays = reps[0].to_arrays()
    assert "members" not in arrays and arrays["generators"].tolist() == 4.0
    back = DifferentialRepetition.from_arrays(arrays)
    assert back.members is None and back.n_members == 4 and back.truth_check == "classifier"
    res = summarise_differential(reps, 4, N_TRAIN, EVENTS)
    assert res.truth_member is None and res.truth_check == "classifier"
    assert res.truth.delta == pytest.approx(np.mean([r.mixture.delta for r in reps]))
    rec = res.to_record()
    assert "truth_member" not in rec and rec["truth_check"] == "classifier" and rec["forecast"]["G"] is not None
    with pytest.raises(GenampError, match="two ways"):
        summarise_differential([reps[0], repetition(rng, 4)], 4, N_TRAIN, EVENTS)


def test_older_task_files_and_damaged_ones():
    """Files written before the map onto events and the reweighting were kept still load; a
    measurement that lacks a part or has a wrong shape is an error."""
    rng = np.random.default_rng(13)
    arrays = repetition(rng, 2).to_arrays()
    old = {n: a for n, a in arrays.items() if n not in ("mapped_events", "mapped_n_equiv", "reweighted")}
    back = DifferentialRepetition.from_arrays(old)
    assert back.mapped is None and back.classifier.reweighted == () and list(back.to_arrays()) == list(old)
    with pytest.raises(GenampError, match="'mixture'"):
        DifferentialRepetition.from_arrays({n: a for n, a in arrays.items() if n != "mixture"})
    with pytest.raises(GenampError, match="'classifier' has shape"):
        DifferentialRepetition.from_arrays({**arrays, "classifier": arrays["classifier"][:8]})


def test_the_store_keeps_the_task_file_layout(tmp_path):
    """A task file holds the measurement's arrays as ``diff_*``, unchanged; one whose measurement
    lacks a part is not trusted (read_task gives None: the task is redone)."""
    arrays = repetition(np.random.default_rng(19), 2).to_arrays()
    path = tmp_path / "rep.npz"
    store.write_task(path, TaskOutput({}, {"status": "ok"}, differential=DifferentialRepetition.from_arrays(arrays)))
    with np.load(path) as data:
        assert all(data[f"diff_{n}"].tobytes() == a.tobytes() for n, a in arrays.items())
    assert store.read_task(path).differential.to_arrays().keys() == arrays.keys()

    def by_hand(parts: dict[str, np.ndarray]) -> None:
        content = {"meta": np.array(json.dumps({"status": "ok"})), **{f"diff_{n}": a for n, a in parts.items()}}
        with path.open("wb") as fh:
            np.savez(fh, **content, checksum=np.array(store.content_digest(content)))

    by_hand(arrays)
    assert store.read_task(path).differential.mixture.delta == arrays["mixture"][1]
    by_hand({n: a for n, a in arrays.items() if n != "curve"})
    assert store.read_task(path) is None


def test_repetitions_that_do_not_fit_together():
    rng = np.random.default_rng(17)
    with pytest.raises(GenampError, match="no repetitions"):
        summarise_differential([], 3, N_TRAIN, EVENTS)
    with pytest.raises(GenampError, match="not K = 3"):
        summarise_differential([repetition(rng, 3), repetition(rng, 2)], 3, N_TRAIN, EVENTS)
