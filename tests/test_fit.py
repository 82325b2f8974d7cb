"""The parametric-fit benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import size
from genamp.densities import make_density
from genamp.errors import FitFailed, GenampError
from genamp.models.fit import ParametricFit
from genamp.seeding import seed_sequence
from genamp.volumes import QuantileGrid


def _ordered(values: dict, errors: dict) -> tuple[np.ndarray, np.ndarray]:
    """Camel-back parameters with the lower-mean component first (the labels may swap)."""
    v, e = dict(values), dict(errors)
    if v["mu1"] > v["mu2"]:
        for a, b in (("mu1", "mu2"), ("sigma1", "sigma2")):
            v[a], v[b], e[a], e[b] = v[b], v[a], e[b], e[a]
        v["frac"] = 1 - v["frac"]
    keys = ["frac", "mu1", "sigma1", "mu2", "sigma2"]
    return np.array([v[k] for k in keys]), np.array([e[k] for k in keys])


def test_camel_fit_recovers_the_parameters_within_its_errors():
    truth = make_density("camel", frac=0.4, mu1=-3.0, sigma1=0.8, mu2=2.0, sigma2=1.5)
    fit = ParametricFit(truth).fit(truth.sample(20_000, 1))
    values, errors = _ordered(fit.values, fit.errors)
    expected = np.array([0.4, -3.0, 0.8, 2.0, 1.5])
    assert np.all(np.abs(values - expected) < 4 * errors)
    assert fit.covariance.shape == (5, 5)


def test_radial_fit_recovers_the_parameters_within_its_errors():
    # mu/sigma = 1.25: the truncation at r = 0 changes the likelihood visibly
    for d in (make_density("ring", mu=1.0, sigma=0.8), make_density("shell", dim=4)):
        fit = ParametricFit(d).fit(d.sample(20_000, 2))
        for k in ("mu", "sigma"):
            assert abs(fit.values[k] - getattr(d, k)) < 4 * fit.errors[k]


@pytest.mark.slow
def test_radial_fit_errors_are_calibrated():
    """Pulls of mu over many fits: mean 0 and standard deviation 1 (within 4 standard errors)."""
    ring = make_density("ring")
    reps = size(200, 2000)
    pulls = []
    for r in range(reps):
        fit = ParametricFit(ring).fit(ring.sample(1000, seed_sequence(3, r)))
        pulls.append((fit.values["mu"] - ring.mu) / fit.errors["mu"])
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 4 / np.sqrt(reps)
    assert abs(pulls.std(ddof=1) - 1) < 4 / np.sqrt(2 * reps)


def test_fit_occupancies_are_the_fitted_cdf():
    d = make_density("camel")
    fit = ParametricFit(d).fit(d.sample(100, 3))
    grid = QuantileGrid.from_density(d, 10)
    p = fit.cell_probabilities(grid)
    assert p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p, grid.probabilities_under(fit.fitted))
    assert fit.sample(1000, 1).shape == (1000, 1)
    assert np.isfinite(fit.log_prob(d.sample(10, 1))).all()


def test_product_of_camel_backs_fits_one_shared_camel_back():
    d = make_density("camels", dim=3)
    fit = ParametricFit(d).fit(d.sample(2000, 4))
    assert fit.fitted.dim == 3
    values, errors = _ordered(fit.values, fit.errors)
    assert np.all(np.abs(values - np.array([0.5, -4.0, 1.0, 4.0, 1.0])) < 4 * errors)


def test_degenerate_training_sets_fail_by_name():
    with pytest.raises(FitFailed, match="camel"):
        ParametricFit(make_density("camel")).fit(np.full((50, 1), 2.0))
    with pytest.raises(FitFailed, match="same radius"):
        ParametricFit(make_density("ring")).fit(np.tile([[3.0, 0.0]], (50, 1)))
    with pytest.raises(GenampError, match="at least 2"):
        ParametricFit(make_density("camel")).fit(np.array([[1.0]]))
    with pytest.raises(GenampError, match="call fit"):
        ParametricFit(make_density("camel")).sample(5, 1)
