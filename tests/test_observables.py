"""Observables and the volumes on them: counts as numpy's, edges at the reference's quantiles,
probabilities from a pool as the binomial law says, a true sample worth its size (SPEC §7.1)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from conftest import size
from genamp.densities import make_density
from genamp.errors import GenampError
from genamp.estimators.truth import truth_amplification
from genamp.observables import Observable, columns, select
from genamp.truths import Pool
from genamp.volumes import ObservableBins, count_occupancy

RADIUS = Observable("r", lambda x: np.hypot(x[:, 0], x[:, 1]), reads=(0, 1))


def test_counts_are_numpys_for_a_column_a_pair_and_a_derived_observable():
    x = make_density("ring").sample(200_003, 1)
    obs = columns(2, ("x", "y"))
    for bins in (ObservableBins.from_quantiles([obs[1]], x[:5000], 50),
                 ObservableBins.from_quantiles(obs, x[:5000], 20),
                 ObservableBins.from_quantiles([RADIUS, obs[0]], x[:5000], 7)):  # fmt: skip
        expected = np.histogramdd(bins.values(x), bins=bins.edges)[0].ravel()
        np.testing.assert_array_equal(bins.count(x), expected)
        np.testing.assert_array_equal(np.bincount(bins.cell_index(x), minlength=bins.n_cells), expected)
        (occ,) = count_occupancy((x[s : s + 7777] for s in range(0, len(x), 7777)), [bins])
        np.testing.assert_allclose(occ.fractions[0] * len(x), expected, rtol=1e-12)


def test_quantile_edges_share_the_reference_equally():
    ref = make_density("camels").sample(10_000, 2)
    bins = ObservableBins.from_quantiles(columns(2), ref, 25)
    per_axis = bins.count(ref).reshape(25, 25)
    for counts in (per_axis.sum(axis=1), per_axis.sum(axis=0)):
        assert np.abs(counts - 400).max() <= 1  # continuous values: each bin within one event of n/Q


def test_observable_errors():
    x = make_density("camel").sample(1000, 1)
    with pytest.raises(GenampError, match="no observable 'pt'; the events have x"):
        select("x,pt", 1, ("x",))
    with pytest.raises(GenampError, match="an empty item"):
        select("x,", 1, ("x",))
    with pytest.raises(GenampError, match="names an observable twice"):
        select("x,x0", 1, ("x",))
    log = Observable("log x", lambda e: np.log(e[:, 0]), reads=(0,))
    with np.errstate(invalid="ignore"), pytest.raises(GenampError, match=r"observable log x is NaN or inf for \d+ of 1000"):
        ObservableBins.from_quantiles([log], x, 5)
    with pytest.raises(GenampError, match="too few distinct values for 10 quantile bins"):
        ObservableBins.from_quantiles(columns(1), np.round(x), 10)
    with pytest.raises(GenampError, match=r"reads column\(s\) \[3\], but events have 1 feature"):
        ObservableBins([select("x3", 4)[0]], [np.array([-np.inf, 0, np.inf])], dim=1)
    bins = ObservableBins.from_quantiles(columns(1), x, 5)
    with pytest.raises(GenampError, match="events have 2 feature.s., but the volumes are over 1"):
        Pool(np.zeros((100, 2))).cell_probabilities(bins)


def test_a_pool_on_observable_bins_follows_the_binomial_law():
    """p̂ from a pool of M camel events against the exact probabilities of the same bins (the
    camel's CDF at the edges): Pearson's χ² with J − 1 degrees of freedom."""
    truth = make_density("camel")
    bins = ObservableBins.from_quantiles(columns(1), truth.sample(500, 3), 20)  # edges of a training set
    p = np.diff(truth.marginal_cdf(0, bins.edges[0]))
    m = size(10**5, 10**7)
    cells = Pool(truth.sample(m, 4)).cell_probabilities(bins)
    chi2 = float(np.sum((cells.p * m - p * m) ** 2 / (p * m)))
    assert stats.chi2.sf(chi2, bins.n_cells - 1) > 1e-3


def test_a_true_sample_is_worth_its_size_against_a_pool_on_unequal_volumes():
    """Each repetition's generator is a fresh true sample of n events (exact occupancies of that
    sample): n_equiv = n, with volumes of unequal probability (edges from another sample) and
    the truth a pool; the tolerance is 4 of the result's own standard errors."""
    truth = make_density("camels")
    obs = columns(2)
    bins = ObservableBins.from_quantiles([obs[0], obs[1]], truth.sample(300, 5), 6)
    cells = Pool(truth.sample(10**6, 6)).cell_probabilities(bins)
    n, reps = 500, size(200, 2000)
    fractions = np.stack([bins.count(truth.sample(n, 100 + r)) / n for r in range(reps)])[:, None, :]
    res = truth_amplification(fractions, np.array([np.inf]), cells, n_train=n)
    assert res.resolved and abs(res.G - 1.0) < 4 * res.G_std


def test_a_features_own_name_wins_over_the_index_alias():
    """Columns named x1, x2 (a common choice): x1 is the column named so, not index 1."""
    a, b = select("x1,x2", 2, ("x1", "x2"))
    assert (a.reads, b.reads) == ((0,), (1,))
    assert select("x0", 2, ("x1", "x2"))[0].reads == (0,)
