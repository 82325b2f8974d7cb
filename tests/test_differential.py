"""Differential amplification (SPEC §3) and the classifier test (§4) against known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from genamp.densities import make_density
from genamp.errors import GenampError
from genamp.estimators.classifier import auc, classifier_test, effective_sample_size
from genamp.estimators.differential import (
    KAPPA,
    distance,
    kolmogorov_null,
    null_ks,
    pair_forecast,
    profile,
    reference_distance,
)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def stephens_mean(n_eff: float) -> float:
    """Mean KS of Kolmogorov's law at finite n (Stephens: sqrt(n) → sqrt(n) + 0.12 + 0.11/sqrt(n))."""
    return KAPPA / (np.sqrt(n_eff) + 0.12 + 0.11 / np.sqrt(n_eff))


@pytest.mark.parametrize(("n_a", "n_b"), [(1000, np.inf), (1500, 3000)])
def test_the_null_follows_kolmogorovs_law(n_a, n_b):
    draws = 1500
    null = null_ks(n_a, n_b, draws, seed=1)
    n_eff = 1 / (1 / n_a + (0 if np.isinf(n_b) else 1 / n_b))
    err = null.std(ddof=1) / np.sqrt(draws)
    # two samples put the statistic on a lattice of step 1/lcm: at most that far below the law
    lattice = 0.0 if np.isinf(n_b) else 1 / max(n_a, n_b)
    assert abs(null.mean() - stephens_mean(n_eff)) < 4 * err + lattice
    mean, mean_sq = kolmogorov_null(n_a, n_b)
    assert mean == pytest.approx(KAPPA / np.sqrt(n_eff))
    assert mean_sq == pytest.approx(np.pi**2 / 12 / n_eff)


def test_a_true_sample_as_generator_is_worth_its_size():
    """A generator that resamples n true events is a true sample of n: n_equiv = (κ/mean δ)² ≈ n."""
    camel = make_density("camel")
    rng = np.random.default_rng(2)
    n, reps = 200, 300
    deltas = []
    for r in range(reps):
        x = camel.sample(n, r)[:, 0]
        generated = x[rng.integers(0, n, 20_000)]
        deltas.append(distance(generated, cdf_b=lambda v: camel.marginal_cdf(0, v), null_draws=200).delta)
    mean, err = np.mean(deltas), np.std(deltas, ddof=1) / np.sqrt(reps)
    # finite n: Stephens' mean, not κ/sqrt(n); the conversion then gives n within 2·4 relative errors
    expected_n = (KAPPA / stephens_mean(n)) ** 2
    assert (KAPPA / mean) ** 2 == pytest.approx(expected_n, rel=8 * err / mean)
    assert abs(expected_n - n) / n < 0.03  # the finite-n correction is small at n = 200


def test_a_known_distance_is_recovered():
    """N(0,1) against N(μ,1): the likelihood ratio is monotone in x and δ = 2Φ(μ/2) − 1."""
    rng = np.random.default_rng(3)
    mu, n = 0.2, 20_000
    a, b = rng.normal(0, 1, n), rng.normal(mu, 1, n)
    s = lambda x: -(x**2) / 2 + (x - mu) ** 2 / 2  # noqa: E731 - log N(0,1) − log N(μ,1)
    d = distance(s(a), s(b), seed=3)
    exact = 2 * stats.norm.cdf(mu / 2) - 1
    # the error of a KS statistic at this n is about the null's spread
    assert d.resolved and abs(d.delta - exact) < 4 * d.null_rms


def test_identical_members_are_consistent_with_zero():
    """Two members of one density: δ resolved in 5% of trials (the null's 95% quantile), and the
    null-removed KS² averages zero."""
    rng = np.random.default_rng(4)
    trials = 300
    resolved, excess = [], []
    for _ in range(trials):
        d = distance(rng.normal(size=800), rng.normal(size=800), null_draws=400)
        resolved.append(d.resolved)
        excess.append(d.ks**2 - d.null_rms**2)
    assert abs(np.mean(resolved) - 0.05) < 4 * np.sqrt(0.05 * 0.95 / trials)
    assert abs(np.mean(excess)) < 4 * np.std(excess, ddof=1) / np.sqrt(trials)


def gaussian_members(rng, mus, n):
    """K unit Gaussians at ``mus``: each one's events and the table log p_j(events of i)."""
    xs = [rng.normal(mu, 1.0, n) for mu in mus]
    return [[stats.norm.logpdf(x, mu_j, 1.0) for mu_j in mus] for x in xs]


def test_pair_forecast_recovers_known_distances():
    rng = np.random.default_rng(5)
    mus = [0.0, 0.15, 0.3]
    out = pair_forecast(gaussian_members(rng, mus, 20_000), null_draws=100)
    exact = np.array([[2 * stats.norm.cdf(abs(a - b) / 2) - 1 for b in mus] for a in mus])
    off = ~np.eye(3, dtype=bool)
    # each δ_ij is a KS distance of 2·10^4 events: its error is about the null's spread
    assert np.allclose(out.delta[off], exact[off], atol=4 * KAPPA * np.sqrt(2 / 20_000))
    assert out.delta_mixture == pytest.approx(np.sqrt((1 + 1 / 3) / 2) * out.delta_member)
    same = pair_forecast(gaussian_members(rng, [0.0, 0.0], 2000), null_draws=100)
    # unresolved pairs enter with their upper bound: the forecast is a lower bound near the KS
    # resolution of 2000 events, (κ/q95)² ≈ 500–800
    assert same.resolved_pairs == 0 and same.n_equiv("member") > 300


def test_reference_form_gives_at_least_m_for_a_perfect_generator():
    rng = np.random.default_rng(6)
    d = reference_distance(rng.normal(size=5000), rng.normal(size=1000), seed=6)
    assert not d.resolved and d.n_equiv == 1000 and d.reference == 1000


def test_profile_of_identical_samples_is_mostly_unbounded():
    rng = np.random.default_rng(7)
    prof = profile(rng.normal(size=4000), rng.normal(size=4000))
    # 1/n_equiv(y) is the excess of Δ² over its noise: positive in about half of the thresholds
    assert np.mean(np.isinf(prof.n_equiv)) > 0.3
    g = prof.at(np.array([0.0]), 100)
    assert g.shape == (1,)


def test_classifier_on_identical_distributions_gives_auc_one_half():
    ring = make_density("ring")
    out = classifier_test(ring.sample(3000, 1), ring.sample(3000, 2), seed=3, steps=300)
    assert abs(out.auc - 0.5) < 4 * out.auc_null_std
    assert out.ess > 0.8 * out.weights.size


def test_classifier_sees_a_wrong_generator():
    ring = make_density("ring")
    out = classifier_test(ring.sample(3000, 1) * 1.15, ring.sample(3000, 2), seed=3, steps=300)
    assert out.auc - 0.5 > 6 * out.auc_null_std
    assert out.ess < 0.95 * out.weights.size


def test_auc_and_ess_definitions():
    assert auc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert auc(np.array([1.0]), np.array([1.0])) == 0.5
    assert effective_sample_size(np.ones(10)) == pytest.approx(10)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [(np.array([1.0]), np.array([1.0, 2.0]), "at least 2"), (np.array([1.0, np.nan]), np.array([1.0, 2.0]), "NaN")],
)
def test_bad_summaries_are_clear_errors(a, b, message):
    with pytest.raises(GenampError, match=message):
        distance(a, b)
