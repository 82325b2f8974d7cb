"""Any metric has an n_equiv (docs/formulas.md §7.9): W1 and the Fréchet distance, their truth
lines on subsamples of a pool, and n_equiv read off them."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import size
from genamp.estimators.metrics import frechet, n_equiv, standardiser, truth_line, wasserstein
from genamp.errors import GenampError


def test_wasserstein_of_a_shift_is_the_shift():
    x = np.random.default_rng(0).normal(size=1000)
    assert wasserstein(x, x + 0.3) == pytest.approx(0.3, abs=1e-12)
    assert wasserstein([0.0, 0.0], [1.0, 1.0]) == pytest.approx(1.0)


def test_frechet_is_the_closed_form_of_the_fitted_gaussians():
    """In 1D ``tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2}) = (s_a − s_b)²``; for diagonal covariances it
    adds up per feature; identical samples are at distance 0."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.0, 1.0, (5000, 1)), rng.normal(0.5, 2.0, (4000, 1))
    want = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet(a, b) == pytest.approx(want, rel=1e-9)
    assert frechet(a, a) == pytest.approx(0.0, abs=1e-9)
    c = np.column_stack([a[:, 0], rng.normal(size=5000) * 3])
    d = np.column_stack([b[:, 0], rng.normal(size=4000)])
    # the sample covariances are not exactly diagonal: their off-diagonal terms are O(1/sqrt(n))
    per_feature = sum((c[:, i].mean() - d[:, i].mean()) ** 2 + (c[:, i].std(ddof=1) - d[:, i].std(ddof=1)) ** 2 for i in range(2))
    assert frechet(c, d) == pytest.approx(per_feature, rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["w1", "frechet"])
def test_a_true_sample_is_worth_its_own_size(metric):
    """A true sample of n0 = 1000 events lies on the truth line: its n_equiv's range (the line ±
    its spread, the scatter of one sample's value) holds n0 as often as one value lies within one
    standard deviation of the mean, about 68%: tolerance 4 binomial errors of the samples. A
    sample shifted by 0.2 standard deviations is worth far less (an upper bound at the line's
    smallest size or well below n0)."""
    rng = np.random.default_rng(2)
    pool, reference = rng.normal(size=(200_000, 2)), rng.normal(size=(20_000, 2))
    if metric == "w1":
        fn = lambda a, b: wasserstein(a[:, 0], b[:, 0])  # noqa: E731
    else:
        scale = standardiser(reference)
        fn = lambda a, b: frechet(scale(a), scale(b))  # noqa: E731
    line = truth_line(fn, pool, reference, [100, 300, 1000, 3000, 10_000], draws=size(20, 50), seed=3)
    assert (np.diff(line.mean) < 0).all()
    samples = size(40, 200)
    inside = []
    for _ in range(samples):
        e = n_equiv(line, fn(rng.normal(size=(1000, 2)), reference))
        inside.append(e.low <= 1000 <= e.high)
    tol = 4 * np.sqrt(0.68 * 0.32 / samples)
    assert abs(np.mean(inside) - 0.68) < tol, np.mean(inside)
    shifted = rng.normal(size=(10_000, 2)) + 0.2
    e = n_equiv(line, fn(shifted, reference))
    assert e.bound == "upper" or e.n_equiv < 300, e


def test_reading_a_line():
    from genamp.estimators.metrics import TruthLine

    line = TruthLine(np.array([100, 1000, 10_000]), np.array([1.0, 0.1, 0.01]), np.array([0.1, 0.01, 0.001]), 10)
    e = n_equiv(line, 0.1 / np.sqrt(10))  # halfway in log: sqrt(1000 · 10000)
    assert e.n_equiv == pytest.approx(np.sqrt(1e7)) and e.bound is None and e.low < e.n_equiv < e.high
    assert n_equiv(line, 5.0).bound == "upper" and n_equiv(line, 0.001).bound == "lower"
    with pytest.raises(GenampError, match="positive"):
        n_equiv(line, 0.0)


def test_a_classifiers_auc_is_a_metric_with_a_falling_truth_line():
    """(AUC − 1/2)² of true samples against a reference falls with their size (its null scatter
    ~1/n), and a sample shifted by half a standard deviation lies far above the line: worth fewer
    events than its smallest size (an upper bound)."""
    from genamp.estimators.metrics import auc_distance

    rng = np.random.default_rng(4)
    pool, reference = rng.normal(size=(20_000, 2)), rng.normal(size=(4000, 2))
    metric = auc_distance(steps=150, seed=1)
    line = truth_line(metric, pool, reference, [40, 400, 4000], draws=4, seed=2)
    assert line.mean[0] > 3 * line.mean[-1], line.mean
    e = n_equiv(line, metric(rng.normal(size=(4000, 2)) + 0.5, reference))
    assert e.bound == "upper", e
