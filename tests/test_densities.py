"""Toy densities: exact log_prob, samplers, factorising coordinates and quantile edges."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from genamp.densities import CamelBack, Shell, make_density
from genamp.errors import GenampError
from genamp.volumes import QuantileGrid

DENSITIES = [
    ("camel", {}),
    ("ring", {}),
    ("shell", {"dim": 3}),
    ("shell", {"dim": 5}),
    ("camels", {"dim": 2}),
    ("camel", {"mu1": -1.0, "sigma1": 0.5, "mu2": 3.0, "sigma2": 2.0, "frac": 0.3}),
    ("ring", {"mu": 1.0, "sigma": 0.8}),  # truncation at r = 0 matters here
]
IDS = [f"{n}-{p}" for n, p in DENSITIES]

# Kolmogorov law: sqrt(n) * D exceeds this with probability 1e-3 under the null
KS_CRIT = stats.kstwobign.ppf(0.999)


@pytest.mark.parametrize(("name", "params"), DENSITIES, ids=IDS)
def test_quantile_edges_cut_equal_probability(name, params):
    d = make_density(name, **params)
    for axis in range(d.dim):
        edges = d.quantile_edges(10, axis)
        assert edges.shape == (11,)
        assert np.all(np.diff(edges) > 0)
        assert (edges[0], edges[-1]) == d.marginal_support(axis)
        np.testing.assert_allclose(d.marginal_cdf(axis, edges[1:-1]), np.arange(1, 10) / 10, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("name", "params"), DENSITIES, ids=IDS)
def test_sampler_marginals_follow_the_exact_cdf(name, params):
    d = make_density(name, **params)
    n = 20_000
    u = d.to_factorised(d.sample(n, 7))
    for axis in range(d.dim):
        ks = stats.kstest(u[:, axis], lambda t, a=axis: d.marginal_cdf(a, t))
        assert np.sqrt(n) * ks.statistic < KS_CRIT, d.axis_names[axis]


@pytest.mark.parametrize(("name", "params"), DENSITIES, ids=IDS)
def test_factorising_coordinates_are_independent(name, params):
    """Pearson chi2 of sampled cell counts against the exact product probabilities."""
    d = make_density(name, **params)
    grid = QuantileGrid.from_density(d, 4 if d.dim <= 3 else 3)
    n = 50_000
    counts = grid.count(d.sample(n, 11))
    expected = n * grid.probabilities
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < stats.chi2.ppf(0.999, grid.n_cells - 1)


def test_sampler_is_pure_in_its_seed():
    d = make_density("ring")
    np.testing.assert_array_equal(d.sample(100, 3), d.sample(100, 3))
    assert not np.array_equal(d.sample(100, 3), d.sample(100, 4))
    ss = np.random.SeedSequence(5, spawn_key=(1, 2))
    np.testing.assert_array_equal(d.sample(10, ss), d.sample(10, ss))


def test_camel_log_prob_is_normalised_and_matches_its_cdf():
    d = make_density("camel", frac=0.3, sigma2=2.0)
    total, _ = integrate.quad(lambda t: np.exp(d.log_prob(np.array([t]))[0]), -40.0, 40.0, points=[-4, 4], limit=200)
    assert total == pytest.approx(1.0, abs=1e-9)
    x = np.linspace(-8, 8, 33)
    h = 1e-5
    numeric = (d.marginal_cdf(0, x + h) - d.marginal_cdf(0, x - h)) / (2 * h)
    np.testing.assert_allclose(np.exp(d.log_prob(x)), numeric, rtol=1e-6, atol=1e-12)


def test_camel_product_log_prob_is_a_sum_over_axes():
    d2 = make_density("camels", dim=2)
    d1 = make_density("camel")
    x = d2.sample(50, 1)
    np.testing.assert_allclose(d2.log_prob(x), d1.log_prob(x[:, :1]) + d1.log_prob(x[:, 1:]))


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_shell_log_prob_is_normalised(dim):
    """∫ p(x) d^d x = ∫ p(r) S_{d-1} r^{d-1} dr with p taken along one direction."""
    d = Shell(n_dim=dim, mu=1.5, sigma=1.0)
    direction = np.ones(dim) / np.sqrt(dim)
    area = 2 * np.pi ** (dim / 2) / special.gamma(dim / 2)

    def radial(r: float) -> float:
        return float(np.exp(d.log_prob((r * direction)[None, :]))[0]) * area * r ** (dim - 1)

    total, _ = integrate.quad(radial, 0.0, np.inf)
    assert total == pytest.approx(1.0, abs=1e-8)
    assert radial(1.2) == pytest.approx(
        (d.marginal_cdf(0, 1.2 + 1e-6) - d.marginal_cdf(0, 1.2 - 1e-6)) / 2e-6, rel=1e-6
    )


def test_hyperspherical_coordinates_by_hand():
    d = Shell(n_dim=3)
    u = d.to_factorised(np.array([[0.0, 0.0, 2.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]))
    np.testing.assert_allclose(u[0], [2.0, np.pi / 2, np.pi / 2])
    np.testing.assert_allclose(u[1], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(u[2], [1.0, np.pi / 2, np.pi])
    ring = make_density("ring")
    np.testing.assert_allclose(ring.to_factorised(np.array([[0.0, -3.0]])), [[3.0, 1.5 * np.pi]])


def test_params_round_trip_through_spec():
    for name, params in DENSITIES:
        d = make_density(name, **params)
        spec = d.spec()
        assert make_density(spec.pop("name"), **spec) == d


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("camel", {"sigma1": 0.0}, "widths must be positive"),
        ("camel", {"frac": 1.5}, "fraction"),
        ("shell", {"dim": 1}, r"needs --dim of at least 3, got 1"),
        ("shell", {"dim": 2}, r"in two dimensions it is the ring"),
        ("camels", {"dim": 1}, r"in one dimension it is the camel"),
        ("ring", {"dim": 3}, "2-dimensional: --dim 3 does not apply"),
        ("camel", {"dim": 2}, "1-dimensional: --dim 2 does not apply"),
        ("banana", {}, "unknown density"),
        ("camel", {"width": 1.0}, "camel has no parameter 'width'; its parameters are mu1, sigma1, mu2, sigma2, frac$"),
        ("camel", {"n_dim": 2}, "camel has no parameter 'n_dim'"),
        ("shell", {"mu1": 2.0}, "shell has no parameter 'mu1'; its parameters are mu, sigma, dim$"),
    ],
)
def test_bad_parameters_are_clear_errors(name, params, message):
    with pytest.raises(GenampError, match=message):
        make_density(name, **params)


def test_quantiles_below_two_are_refused():
    with pytest.raises(GenampError, match="quantiles must be at least 2"):
        CamelBack().quantile_edges(1, 0)
