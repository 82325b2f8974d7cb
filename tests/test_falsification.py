"""A forecast falsified by a holdout (genamp.estimators.falsification; docs/formulas.md §7.7).

A truth that is one more density about the members' centre (the null hypothesis) gives p-values
below 5% in 5% of holdouts, within four binomial standard errors, with σ²_model estimated from
K = 10 members (the χ²_{J−1} reading gave 17%: hence the simulated reference). Members that share a bias are caught when the true n_equiv is well inside the holdout's
reach, and not when it is far beyond it, as the reach formula says.
"""

from __future__ import annotations

import numpy as np
import pytest

from genamp.errors import GenampError
from genamp.estimators.averaging import forecast
from genamp.estimators.falsification import falsify, reach

J, K, N_GEN, N_TRAIN = 10, 10, 20_000, 1000


def densities(rng: np.random.Generator, p: np.ndarray, sigma2: float, n: int, bias: np.ndarray | None = None) -> np.ndarray:
    """``n`` densities over the J volumes: the centre ``p`` plus a shared ``bias`` plus each one's
    own model deviation of variance ``sigma2·p(1−p)`` per volume (summing to zero)."""
    dev = rng.normal(0.0, np.sqrt(sigma2 * p * (1 - p)), (n, J))
    dev -= dev.mean(axis=1, keepdims=True)
    q = np.clip(p + (0.0 if bias is None else bias) + dev, 1e-9, None)
    return q / q.sum(axis=1, keepdims=True)


def members(rng: np.random.Generator, p: np.ndarray, sigma2: float, bias: np.ndarray | None = None) -> np.ndarray:
    """K members' occupancies of N_GEN events each, from their densities."""
    return np.stack([rng.multinomial(N_GEN, q) / N_GEN for q in densities(rng, p, sigma2, K, bias)])


def test_the_reach_in_closed_form():
    assert reach(2000, 10) == pytest.approx(2000 * 10 / (3 * np.sqrt(18)), rel=1e-12)
    assert reach(2000, 10) / 2000 == pytest.approx(0.786, abs=1e-3) and reach(10, 1) == np.inf


def test_a_truth_like_one_more_member_passes_at_the_rate_of_its_threshold():
    rng = np.random.default_rng(7)
    p = np.full(J, 1.0 / J)
    n_h, trials = 2000, 400
    # the truth is one more draw of the members' distribution: the null hypothesis holds
    low = 0
    for _ in range(trials):
        # the truth is one more density around the members' centre: the null hypothesis holds
        (truth,) = densities(rng, p, 1.0 / 500, 1)
        fc = forecast(members(rng, p, 1.0 / 500), N_GEN, N_TRAIN)
        h = rng.multinomial(n_h, truth) / n_h
        low += falsify(fc, h, n_h, draws=2000).p_value < 0.05
    rate, se = low / trials, np.sqrt(0.05 * 0.95 / trials)
    assert abs(rate - 0.05) < 4 * se, rate


@pytest.mark.parametrize("n_equiv, caught", [(200.0, True), (20_000.0, False)])
def test_a_shared_bias_is_caught_within_the_reach_only(n_equiv, caught):
    """A shared bias d with Σ d²/(p(1−p)) = J/n_equiv (an n_equiv of the mixture against the
    truth), the members agreeing closely: n_H = 2000 reaches about 1600."""
    rng = np.random.default_rng(11)
    p = np.full(J, 1.0 / J)
    d = np.sqrt(p * (1 - p) / n_equiv) * np.array([1, -1] * (J // 2))
    n_h = 2000
    verdicts = []
    for _ in range(20):
        fc = forecast(members(rng, p, 1e-6, d), N_GEN, N_TRAIN)
        h = rng.multinomial(n_h, p) / n_h
        verdicts.append(falsify(fc, h, n_h, draws=4000).falsified)
    assert np.mean(verdicts) == (1.0 if caught else 0.0), verdicts


def test_the_failing_volumes_are_named_and_a_hole_is_infinitely_far():
    p = np.full(J, 1.0 / J)
    rng = np.random.default_rng(3)
    m = members(rng, p, 1e-6)
    m[:, 0], m[:, 1] = 0.0, m[:, 1] + m[:, 0]  # no member puts anything in volume 0
    fc = forecast(m, N_GEN, N_TRAIN)
    res = falsify(fc, p, 2000)
    assert res.falsified and res.failing[0] == 0 and res.pulls[0] == -np.inf and 1 in res.failing
    assert res.n_equiv_reach == pytest.approx(reach(2000, J))


@pytest.mark.parametrize("holdout, n, message", [(np.full(3, 1 / 3), 100, "shape"), (np.full(J, 2.0), 100, "fractions"),
                                                 (np.full(J, 0.1), 0, "holdout events")])  # fmt: skip
def test_bad_input_is_one_error(holdout, n, message):
    fc = forecast(members(np.random.default_rng(0), np.full(J, 0.1), 1e-3), N_GEN, N_TRAIN)
    with pytest.raises(GenampError, match=message):
        falsify(fc, holdout, n)
