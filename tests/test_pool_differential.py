"""The differential method on a pool of events (issue 14 item 5): the pair forecast in the
networks' coordinates, the truth check by a classifier against the pool, the local profile on
m_W and m_t; the estimator alone and in a study."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genamp.estimators.differential import KAPPA
from genamp.observables import select
from genamp.seeding import seed_sequence
from genamp.study.differential import mapped_observables, measure_pool

from synthetic_ttbar import FEATURES, ttbar_events, write_ttbar
from test_cli import run_cli

NAMES = ["t_m", "Wp_m", "b_pt", "b_eta", "dR_b_q1"]
EVENTS = 1000
#: the Kolmogorov distribution's 99.9% quantile: sqrt(1/n_a + 1/n_b) times it bounds a KS of one law
KS_999 = 1.949


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def inputs(x: np.ndarray) -> np.ndarray:
    obs = select(",".join(NAMES), len(FEATURES), FEATURES)
    return np.column_stack([o(x) for o in obs])


class Sampler:
    """A 'generator' that hands out fixed events: the truth itself, or a distorted copy."""

    name = "sampler"

    def __init__(self, events: np.ndarray) -> None:
        self.events = events.reshape(len(events), -1)
        self.used = 0

    def sample(self, n: int, seed) -> np.ndarray:
        out = self.events[self.used : self.used + n]
        self.used += n
        return out

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x))  # every pair of members agrees exactly


def test_generators_that_are_the_truth_are_not_told_from_the_pool():
    """Generated events drawn from the truth: the classifier's AUC is within 4 null spreads of
    1/2, the KS along its logit below the Kolmogorov law's 99.9% quantile, the sanity check too;
    identical members' pairs are never resolved."""
    truth = ttbar_events(3 * 2 * EVENTS + 3 * EVENTS, seed=21).reshape(-1, len(FEATURES))
    gens = [Sampler(truth[m * 2 * EVENTS : (m + 1) * 2 * EVENTS]) for m in range(3)]
    rep = measure_pool(gens, truth[6 * EVENTS :], seed_sequence(5), EVENTS, inputs, NAMES)
    c = rep.classifier
    assert abs(c.auc - 0.5) < 4 * c.auc_null_std and abs(c.auc_truth_vs_truth - 0.5) < 4 * c.auc_truth_vs_truth_null_std
    n_gen, n_ref = 3 * EVENTS - 3 * EVENTS // 2, EVENTS  # the test halves
    assert rep.mixture.ks < KS_999 * np.sqrt(1 / n_gen + 1 / n_ref)
    assert rep.members is None and rep.n_members == 3 and rep.truth_check == "classifier"
    assert rep.pairs.resolved_fraction == 0.0  # each pair's δ is then its null bound
    assert rep.mapped.events.shape == (3 * EVENTS - 3 * EVENTS // 2, 2)
    # the mapped events are the generated test events' t_m and Wp_m (in the inputs' order)
    assert mapped_observables(NAMES) == (1, 0)
    assert 170 < np.median(rep.mapped.events[:, 1]) < 175 and 79 < np.median(rep.mapped.events[:, 0]) < 82


def test_a_generator_with_a_wrong_top_mass_is_caught_and_its_n_equiv_is_small():
    """A top mass 2 widths off: the classifier sees it (AUC far beyond its null), the distance
    is resolved and worth fewer than the events it was measured with."""
    truth = ttbar_events(3 * EVENTS, seed=22).reshape(-1, len(FEATURES))
    wrong = ttbar_events(2 * 2 * EVENTS, seed=23, m_t=174.5)
    rep = measure_pool([Sampler(wrong[: 2 * EVENTS]), Sampler(wrong[2 * EVENTS :])], truth, seed_sequence(6), EVENTS,
                       inputs, NAMES)  # fmt: skip
    assert rep.classifier.auc > 0.5 + 10 * rep.classifier.auc_null_std
    assert rep.mixture.resolved and (KAPPA / rep.mixture.delta) ** 2 < EVENTS


def test_a_pool_study_checks_its_differential_forecast_with_a_classifier(capsys, tmp_path):
    """A top-pair pool study with --method differential: the record's truth check is the
    classifier's (no truth_member), with its warning, a forecast from the pairs, the picture
    with the profile on m_W and m_t; a second run resumes every task."""
    pool = write_ttbar(tmp_path / "pool.h5", ttbar_events(20_000, seed=3))
    args = ["run", "--pool", pool, "--coordinates", "decay", "-m", "cfm", "--method", "differential", "-K", "3", "-r", "2",
            "--n-train", "500", "--observables", ",".join(NAMES), "-q", "5", "--set", "cfm.steps=20",
            "--set", "cfm.hidden=16,16", "-j", "1", "--out", str(tmp_path / "s")]  # fmt: skip
    rc, out, err = run_cli(capsys, *args)
    assert rc == 0, err
    results = json.loads((tmp_path / "s" / "results.json").read_text())
    (rec,) = [r for r in results["records"] if r["method"] == "differential"]
    assert rec["truth_check"] == "classifier" and "truth_member" not in rec and rec["pool"] == pool
    assert rec["forecast"]["G"] > 0 and rec["truth"]["G"] > 0 and 0.4 < rec["classifier"]["auc"] <= 1
    assert any("classifier's logit against the pool" in w for w in rec["warnings"])
    assert (tmp_path / "s" / "differential_cfm.png").is_file()
    rc, out, err = run_cli(capsys, *args)
    assert rc == 0 and "resumed: 2 finished task(s)" in err


def test_the_classifiers_reference_is_outside_the_repetitions_training_set_and_its_own_stream():
    from genamp.seeding import HOLDOUT, REFERENCE
    from genamp.study import pooltruth

    spec = {"seed": 4, "n_train": 300, "pool": {"events": 1000}}
    for r in range(3):
        rows = pooltruth._outside_training(spec, r, 600, REFERENCE)
        assert rows.size == 600 == np.unique(rows).size
        assert not np.isin(rows, pooltruth.training_rows(spec, r)).any()
        # not the holdout's draw: another stream
        assert not np.array_equal(rows[:100], pooltruth.holdout_rows(spec, r, 100))
    with pytest.raises(Exception, match="no 800 rows outside repetition 0's training set"):
        pooltruth._outside_training(spec, 0, 800, HOLDOUT)
