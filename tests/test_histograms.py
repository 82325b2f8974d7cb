"""The uncertainty to put on a histogram of generated events (docs/formulas.md §2.9)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import size
from genamp.estimators import bin_uncertainties, forecast, to_hist

J, K, N_GEN, N_TRAIN = 10, 10, 20_000, 1000
P = np.full(J, 1.0 / J)
SIGMA = 0.005  # the model's spread per bin, 5.5 binomial errors of one member's 20 000 events


def _members(rng: np.random.Generator) -> np.ndarray:
    """One training's K members' occupancies: the truth moved by an offset all members share (the
    training set's fluctuation) and one of each member's own, both of spread SIGMA, then each
    member's N_GEN events drawn (the truth is then one more member, the assumption of §2.2)."""
    shared = rng.normal(0.0, SIGMA, J)
    out = []
    for _ in range(K):
        q = np.clip(P + shared + rng.normal(0.0, SIGMA, J), 1e-6, None)
        out.append(rng.multinomial(N_GEN, q / q.sum()) / N_GEN)
    return np.array(out)


def test_the_total_is_the_binomial_and_the_models_share_added():
    fc = forecast(_members(np.random.default_rng(0)), N_GEN, N_TRAIN)
    u = bin_uncertainties(fc, 10**6)
    m = fc.mean
    model = (1 + 1 / K) * np.maximum(fc.sigma2, 0)
    np.testing.assert_allclose(u.total**2, m * (1 - m) / 1e6 + model, rtol=1e-12)
    np.testing.assert_allclose(u.naive, np.sqrt(m * 1e6) / 1e6, rtol=1e-12)
    assert (u.total_upper >= u.total).all() and u.counts.sum() == pytest.approx(1e6)
    assert (u.total > 5 * u.naive).all()  # at 10⁶ events the model dominates: √N is 5× too small and more


@pytest.mark.slow
def test_a_histogram_of_the_mixture_is_covered_by_its_total_uncertainty():
    """Over trainings, the mixture's fraction in a bin (its K · n_gen events) misses the truth by
    less than the total uncertainty as often as a perfectly calibrated forecast with the same K,
    n_gen and σ²_model does (calibration.reference_pulls: Student-like pulls, about 65% for
    K = 10, not 68.3%: σ²_model comes from 10 members). Tolerance: 4 binomial errors of the R·J
    pulls. The naive √N, the sample's noise alone, covers far less (about 11% here)."""
    from genamp.estimators import coverage, reference_pulls

    rng = np.random.default_rng(1)
    trainings = size(200, 2000)
    pulls, naive = [], []
    for _ in range(trainings):
        u = bin_uncertainties(forecast(_members(rng), N_GEN, N_TRAIN))
        pulls.append((u.fraction - P) / u.total)
        naive.append((u.fraction - P) / u.naive)
    # the members' offsets are renormalised to sum to one: each keeps (1 − 1/J) of its variance
    ideal = float(coverage(reference_pulls(np.full(J, SIGMA**2 * (1 - 1 / J)), P * (1 - P), K, N_GEN, 10**5), (0.6827,))[0])
    covered = float(coverage(np.concatenate(pulls), (0.6827,))[0])
    tol = 4 * np.sqrt(ideal * (1 - ideal) / (trainings * J))
    assert abs(covered - ideal) < tol, (covered, ideal)
    assert float(coverage(np.concatenate(naive), (0.6827,))[0]) < 0.3


def test_a_hist_histogram_carries_the_counts_and_the_total_as_its_variance():
    fc = forecast(_members(np.random.default_rng(2)), N_GEN, N_TRAIN)
    u = bin_uncertainties(fc, 5000)
    edges = np.linspace(0.0, 1.0, J - 1)  # J − 2 bins between the under- and the overflow
    h = to_hist(u, edges, "x")
    np.testing.assert_allclose(h.view(flow=True).value, 5000 * u.fraction)
    np.testing.assert_allclose(np.sqrt(h.view(flow=True).variance), 5000 * u.total)
    np.testing.assert_array_equal(h.axes[0].edges, edges)
