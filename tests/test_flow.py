"""The rational-quadratic spline flow (zuko's NSF), trained as K vectorised members."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from conftest import kolmogorov_critical
from genamp.densities import Density, make_density
from genamp.models import neural
from genamp.models.flow import SplineFlow, SplineNetwork
from genamp.models.neural import TrainingDiverged

N_TRAIN = 1000
N_GEN = 2000

# Short trainings that still fit the toys (in one dimension the spline knots are free
# parameters, no hypernetwork: ``hidden`` is unused and a larger step is safe).
SETTINGS = {
    "camel": dict(hidden=(8,), steps=300, lr=1e-2),
    "ring": dict(hidden=(32, 32), steps=300, lr=5e-3),
}


@pytest.fixture(scope="module", params=["camel", "ring"])
def trained(request: pytest.FixtureRequest) -> tuple[Density, SplineFlow]:
    torch.set_num_threads(1)
    truth = make_density(request.param)
    model = SplineFlow(**SETTINGS[request.param]).fit(truth.sample(N_TRAIN, 0), seed=1)
    return truth, model


def test_samples_pass_a_kolmogorov_test_against_the_truth(trained: tuple[Density, SplineFlow]):
    truth, model = trained
    u = truth.to_factorised(model.sample(N_GEN, seed=2))
    critical = kolmogorov_critical(N_GEN, N_TRAIN)  # 0.0755
    for axis in range(truth.dim):  # the ring: radius and angle, each with its exact CDF
        result = stats.kstest(u[:, axis], lambda v, a=axis: truth.marginal_cdf(a, v))
        assert result.statistic < critical, (truth.name, axis, result.statistic)


def test_log_prob_integrates_to_one(trained: tuple[Density, SplineFlow]):
    """Trapezoid integral of ``exp(log_prob)`` in the data's coordinates (the Jacobian included).

    The flow is normalised exactly; what is left is the quadrature (halving these steps moves
    the integrals by < 1e-5), float32 log-densities (relative 1e-6) and the mass outside the
    window (beyond 9 standard deviations of the standardised base for the camel, 5 for the
    ring: < 1e-6). A tolerance of 1e-4 leaves a margin of ten, while a missing Jacobian term
    (a factor std ≈ 4 for the camel, ≈ 8 for the ring) or a wrong spline log-determinant
    would be off by order one.
    """
    truth, model = trained
    if truth.dim == 1:
        grid = np.arange(-40.0, 40.0 + 1e-9, 0.005)
        total = np.trapezoid(np.exp(model.log_prob(grid[:, None])), grid)
    else:
        grid = np.arange(-16.0, 16.0 + 1e-9, 0.08)
        xx, yy = np.meshgrid(grid, grid)
        density = np.exp(model.log_prob(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
        total = np.trapezoid(np.trapezoid(density, grid), grid)
    assert abs(total - 1.0) < 1e-4


def test_seeded_training_and_sampling_reproduce():
    truth = make_density("ring")
    x = truth.sample(200, 3)
    settings = dict(hidden=(16, 16), steps=60, batch_size=64, lr=5e-3)
    a = SplineFlow(**settings).fit(x, seed=4)
    b = SplineFlow(**settings).fit(x, seed=4)
    c = SplineFlow(**settings).fit(x, seed=5)
    points = truth.sample(100, 6)
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.log_prob(points), b.log_prob(points))
    np.testing.assert_array_equal(a.sample(300, seed=7), b.sample(300, seed=7))
    np.testing.assert_array_equal(a.sample(300, seed=7), a.sample(300, seed=7))
    assert not np.array_equal(a.sample(300, seed=7), a.sample(300, seed=8))
    assert not np.allclose(a.log_prob(points), c.log_prob(points))


@pytest.mark.parametrize("name", ["camel", "ring"])
@pytest.mark.parametrize(("dtype", "steps", "tolerance"), [(torch.float64, 100, 1e-9), (torch.float32, 20, 1e-5)])
def test_vectorised_member_is_the_member_trained_alone(
    monkeypatch: pytest.MonkeyPatch, name: str, dtype: torch.dtype, steps: int, tolerance: float
):
    """Member k of a vectorised ensemble is the flow that seed k and training set k give alone.

    Members never mix (element-wise Adam, per-member random streams), so only the order of
    floating-point operations may differ between vmap and a single network, and where the
    fused Adam kernel puts an element in its vector lanes: rounding, which 100 float32 steps
    grow to ~1e-5 in the samples (measured 1.2e-5). So the claim is checked in float64 after
    100 steps (a mixing of members would show at the size of a learning step, ~1e-3) and in
    float32 after 20 steps.
    """
    torch.set_num_threads(1)
    monkeypatch.setattr(neural, "DTYPE", dtype)
    truth = make_density(name)
    settings = dict(hidden=(16, 16), steps=steps, batch_size=64, lr=5e-3)
    xs = np.stack([truth.sample(200, s) for s in (1, 2, 3)])
    ensemble = SplineFlow(**settings).fit_members(xs, [10, 11, 12])
    alone = SplineFlow(**settings).fit(xs[1], seed=11)
    points = truth.sample(500, 7)
    assert ensemble.net.params[next(iter(ensemble.net.params))].dtype == dtype
    tol = dict(rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(ensemble.losses[:, 1], alone.losses[:, 0], **tol)
    np.testing.assert_allclose(ensemble.member(1).log_prob(points), alone.log_prob(points), **tol)
    np.testing.assert_allclose(ensemble.member(1).sample(500, seed=3), alone.sample(500, seed=3), **tol)
    # and the members are different models
    assert np.abs(ensemble.member(0).log_prob(points) - ensemble.member(1).log_prob(points)).max() > 0.1


def test_a_non_finite_loss_raises_naming_the_model_and_step(monkeypatch: pytest.MonkeyPatch):
    step = {"calls": 0}
    log_prob = SplineNetwork.log_prob

    def poisoned(self: SplineNetwork, x: torch.Tensor) -> torch.Tensor:
        step["calls"] += 1
        return log_prob(self, x) * (float("nan") if step["calls"] > 3 else 1.0)

    monkeypatch.setattr(SplineNetwork, "log_prob", poisoned)
    x = make_density("camel").sample(100, 1)
    with pytest.raises(TrainingDiverged, match=r"flow member 0 diverged at step 3"):
        SplineFlow(hidden=(8,), steps=10, batch_size=50).fit(x, seed=1)
