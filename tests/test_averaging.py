"""Averaging amplification (SPEC §2) on synthetic members whose truth is known.

The members follow the hierarchy the forecast assumes: every volume's true integral ``p_j`` and
the K members' integrals ``I_kj`` are independent draws of variance ``σ²_j`` about a common
centre, and each member's occupancy adds the binomial noise of ``n_gen`` events. Tolerances
come from the binomial variance of a coverage and the standard error of a mean.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from genamp.errors import GenampError
from genamp.estimators.averaging import forecast
from genamp.estimators.calibration import LEVELS, coverage, member_plateau, reference_pulls, summarise


def hierarchy(rng, p, sigma2, k, n_gen, offset=0.0):
    """Member occupancies (K, J) with the truth ``p`` as one more draw; ``offset`` (in units of
    σ) shifts every member alike, the way a shared training set does in a seed ensemble."""
    sd = np.sqrt(sigma2)
    centre = p + sd * rng.standard_normal(p.size) + offset * sd * rng.standard_normal(p.size)
    integrals = np.clip(centre + sd * rng.standard_normal((k, p.size)), 1e-9, 1 - 1e-9)
    return rng.binomial(n_gen, integrals) / n_gen


P = np.full(40, 0.025)
N_TRAIN = 100
G_TRUE = 5.0
SIGMA2 = P * (1 - P) / (N_TRAIN * G_TRUE)


def test_sigma2_model_is_unbiased():
    rng = np.random.default_rng(1)
    k, n_gen, reps = 10, 5_000, 400
    est = np.array([forecast(hierarchy(rng, P, SIGMA2, k, n_gen), n_gen, N_TRAIN).sigma2 for _ in range(reps)])
    # the sampling noise m(1-m)/n_gen is 40% of σ²: leaving it in would fail by far more
    mean, err = est.mean(), est.mean(axis=1).std(ddof=1) / np.sqrt(reps)
    assert abs(mean - SIGMA2.mean()) < 4 * err


def test_forecast_matches_truth_and_coverage_matches_a_calibrated_one():
    rng = np.random.default_rng(2)
    k, n_gen, reps = 10, 20_000, 150
    runs = [hierarchy(rng, P, SIGMA2, k, n_gen) for _ in range(reps)]
    s = summarise([forecast(f, n_gen, N_TRAIN) for f in runs], P, [member_plateau(f, n_gen, P) for f in runs])
    # the mixture misses the truth by (1 + 1/K) σ², one member by 2 σ² (SPEC §2.2)
    expected = G_TRUE / (1 + 1 / k)
    assert abs(s.G_inf - expected) < 4 * s.G_inf_std
    assert abs(s.truth_G - expected) < 4 * s.truth_G_std
    assert s.G_inf_member == pytest.approx(s.G_inf * (1 + 1 / k) / 2)
    # coverage: binomial error of R·J independent pulls, plus that of the reference simulation
    n_pulls, n_ref = reps * P.size, 200 * P.size
    for level in LEVELS:
        obs, ref = s.coverage_at(level)
        tol = 4 * np.sqrt(ref * (1 - ref) * (1 / n_pulls + 1 / n_ref))
        assert abs(obs - ref) < tol, (level, obs, ref)


def test_calibration_catches_a_shared_offset():
    """A seed ensemble shares its training set's fluctuation: the coverage test must see it."""
    rng = np.random.default_rng(3)
    k, n_gen, reps = 10, 20_000, 100
    runs = [hierarchy(rng, P, SIGMA2, k, n_gen, offset=2.0) for _ in range(reps)]
    s = summarise([forecast(f, n_gen, N_TRAIN) for f in runs], P)
    obs, ref = s.coverage_at(LEVELS[0])
    assert ref - obs > 4 * np.sqrt(ref * (1 - ref) / (reps * P.size))
    assert s.G_inf > 2 * s.truth_G


def test_reference_pulls_are_student_where_the_model_term_dominates():
    """With no sampling noise the pull of a perfect forecast is exactly Student-t, K − 1 dof."""
    k, draws = 8, 4000
    pulls = reference_pulls(np.full(20, 1e-4), np.full(20, 1e-12), k, 1e6, draws, seed=4)
    for level, cov in zip(LEVELS, coverage(pulls), strict=True):
        z = stats.norm.ppf(0.5 + level / 2)
        expected = 2 * stats.t.cdf(z, k - 1) - 1
        assert abs(cov - expected) < 4 * np.sqrt(expected * (1 - expected) / pulls.size)


def test_aggregate_error_follows_the_members_covariance():
    """The standard error of Σ_j v_j from the K×K Gram matrix matches its spread over replicas."""
    rng = np.random.default_rng(5)
    k, n_gen, reps = 12, 50_000, 600
    p = rng.dirichlet(np.full(30, 3.0))
    sig = p * (1 - p) / (N_TRAIN * 3.0)
    out = [forecast(hierarchy(rng, p, sig, k, n_gen), n_gen, N_TRAIN) for _ in range(reps)]
    spread = np.std([f.total_sigma2 for f in out], ddof=1)
    predicted = np.sqrt(np.mean([f.total_sigma2_error**2 for f in out]))
    # the spread of 600 replicas is known to ±1/sqrt(2·599) ≈ 3%; the prediction is itself an
    # estimate from K members, unbiased in variance to O(1/K)
    assert predicted / spread == pytest.approx(1.0, abs=4 / np.sqrt(2 * (reps - 1)) + 1 / k)


def test_unresolved_volumes_get_bounds_and_advice_not_numbers():
    rng = np.random.default_rng(6)
    k, n_gen = 4, 300
    f = forecast(hierarchy(rng, P, SIGMA2, k, n_gen), n_gen, N_TRAIN)
    unresolved = f.status == "unresolved"
    assert unresolved.any()
    assert np.isnan(f.G_inf[unresolved]).all() and np.isfinite(f.G_inf_lower[unresolved]).all()
    # K = 4: a = 2·sqrt(2/3) > 1, so no n_gen is enough; more members are
    assert np.isinf(f.n_gen_needed[unresolved]).all()
    assert (f.members_needed[unresolved] > k).all()


def test_resolution_advice_is_the_threshold():
    """At the advised n_gen (or K), a σ²_model as large as its upper bound sits on the threshold."""
    rng = np.random.default_rng(7)
    k, n_gen = 20, 200
    f = forecast(hierarchy(rng, P, SIGMA2, k, n_gen), n_gen, N_TRAIN, min_events=0)
    j = np.flatnonzero(f.status == "unresolved")
    assert j.size
    s2, b = f.sigma2_upper[j], f.binomial[j]
    a = 2.0 * np.sqrt(2 / (k - 1))
    n = f.n_gen_needed[j]
    assert (s2 > a * (s2 + b / n) - 1e-15).all() and (s2 < a * (s2 + b / (n - 1))).all()
    kk = f.members_needed[j]
    assert (s2 > 2.0 * np.sqrt(2 / (kk - 1)) * (s2 + b / n_gen)).all()
    assert (s2 <= 2.0 * np.sqrt(2 / (kk - 2)) * (s2 + b / n_gen)).all()


def test_lower_bound_covers_the_truth():
    """The 95% lower bound on G∞ of one member's volume lies below the true G∞ in ≳95% of trials."""
    rng = np.random.default_rng(8)
    k, n_gen, reps = 10, 20_000, 200
    g_true = P * (1 - P) / (N_TRAIN * (1 + 1 / k) * SIGMA2)
    below = np.mean([forecast(hierarchy(rng, P, SIGMA2, k, n_gen), n_gen, N_TRAIN).G_inf_lower < g_true for _ in range(reps)])
    assert below > 0.95 - 4 * np.sqrt(0.95 * 0.05 / (reps * P.size))


def test_empty_and_sparse_volumes_say_so():
    f = np.array([[0.5, 0.5, 0.0, 0.0], [0.498, 0.5, 0.002, 0.0], [0.501, 0.497, 0.002, 0.0]])
    out = forecast(f, 1000, N_TRAIN)
    assert out.status[3] == "empty" and out.status[2] == "few events"
    assert np.isnan(out.G_inf[2:]).all() and np.isnan(out.G_inf_lower[2:]).all()


@pytest.mark.parametrize(
    ("fractions", "n_gen", "message"),
    [
        (np.full((1, 4), 0.25), 100, "at least 2 generators"),
        (np.full((3, 4, 2), 0.25), 100, "shape"),
        (np.array([[0.5, np.nan], [0.5, 0.5]]), 100, "NaN"),
        (np.array([[1.5, -0.5], [0.5, 0.5]]), 100, r"\[0, 1\]"),
        (np.full((3, 4), 0.25), 1, "n_gen"),
        (np.full((3, 0), 0.25), 100, "no volumes"),
    ],
)
def test_bad_input_is_a_clear_error(fractions, n_gen, message):
    with pytest.raises(GenampError, match=message):
        forecast(fractions, n_gen, N_TRAIN)


def test_summary_refuses_mixed_repetitions():
    a = forecast(np.full((3, 4), 0.25), 100, N_TRAIN)
    b = forecast(np.full((4, 4), 0.25), 100, N_TRAIN)
    with pytest.raises(GenampError, match="differ"):
        summarise([a, b])
    with pytest.raises(GenampError, match="shape"):
        summarise([a], np.full(3, 1 / 3))
