"""The Metropolis-adjusted Langevin chain of network weights (genamp.models.langevin)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genamp.models.langevin import TARGET_ACCEPTANCE, fisher_metric, langevin_chain

#: a correlated Gaussian target π ∝ exp(−θᵀAθ/2): its covariance is A⁻¹
PRECISION = torch.tensor([[4.0, 1.5, 0.0], [1.5, 2.0, -0.5], [0.0, -0.5, 0.25]], dtype=torch.float64)


def _gaussian_energy(theta: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    return 0.5 * theta @ PRECISION @ theta, PRECISION @ theta


def test_the_chain_samples_a_correlated_gaussian():
    """40 000 steps on a 3-d Gaussian with the diagonal metric 1/A_ii (what the Fisher metric is
    for it): the kept states' means and covariance are A⁻¹'s within 4 standard errors, the errors
    from 20 batch means of the correlated chain (the batch-means estimate of an MCMC average's
    variance), and the acceptance rate the step adapted to is the target's."""
    theta0 = torch.tensor([3.0, -3.0, 5.0], dtype=torch.float64)  # far out: burn-in must forget it
    metric = 1.0 / torch.diagonal(PRECISION)
    chain = langevin_chain(theta0, _gaussian_energy, metric, 40_000, 4000, torch.Generator().manual_seed(3), deterministic=True)
    states = chain.states.numpy()
    assert states.shape == (4000, 3)
    cov = np.linalg.inv(PRECISION.numpy())
    products = np.einsum("ni,nj->nij", states, states).reshape(len(states), 9)
    for values, truth in ((states, np.zeros(3)), (products, cov.ravel())):
        batches = values.reshape(20, -1, values.shape[1]).mean(axis=1)
        error = batches.std(axis=0, ddof=1) / np.sqrt(20)
        assert np.all(np.abs(values.mean(axis=0) - truth) < 4 * error), (values.mean(axis=0), truth, error)
    assert abs(chain.acceptance - TARGET_ACCEPTANCE) < 0.05


def test_a_noisy_energy_is_evaluated_with_one_noise_per_step():
    """With ``deterministic=False`` both states of a step see the energy of that step's noise:
    an energy that shifts by a constant per step (noise that changes nothing) leaves the chain
    where the constant-free one goes (to the rounding of the constant: the same decisions)."""
    theta0 = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    metric = torch.ones(3, dtype=torch.float64)

    def shifted(theta: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        u, g = _gaussian_energy(theta, step)
        return u + 1000.0 * step, g

    plain = langevin_chain(theta0, _gaussian_energy, metric, 200, 10, torch.Generator().manual_seed(1), deterministic=True)
    noisy = langevin_chain(theta0, shifted, metric, 200, 10, torch.Generator().manual_seed(1), deterministic=False)
    torch.testing.assert_close(noisy.states, plain.states, rtol=1e-9, atol=1e-9)


def test_an_energy_that_is_not_finite_rejects_the_proposal():
    """Proposals into a region of infinite energy are never taken (the chain stays in θ₀ > 0)."""

    def wall(theta: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        u = 0.5 * theta.square().sum() if bool((theta > 0).all()) else torch.tensor(float("inf"), dtype=theta.dtype)
        return u, theta

    chain = langevin_chain(torch.ones(2, dtype=torch.float64), wall, torch.ones(2, dtype=torch.float64), 400, 50,
                           torch.Generator().manual_seed(2), deterministic=True)  # fmt: skip
    assert bool((chain.states > 0).all())


def test_the_fisher_metric_is_the_inverse_tempered_precision():
    fisher = torch.tensor([0.0, 1.0, 100.0])
    metric = fisher_metric(fisher, n_train=50, temperature=2.0, prior_var=4.0)
    torch.testing.assert_close(metric, 1.0 / (25.0 * fisher + 0.25))
    assert float(metric[0]) == 4.0  # a weight the data do not fix: the prior's width


def test_a_chain_must_keep_what_its_second_half_holds():
    with pytest.raises(ValueError, match="cannot keep"):
        langevin_chain(torch.zeros(1), _gaussian_energy, torch.ones(1), 10, 6, torch.Generator(), deterministic=True)
