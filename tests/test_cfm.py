"""Conditional flow matching, trained as K vectorised members."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from conftest import kolmogorov_critical
from genamp.densities import make_density
from genamp.models.cfm import FlowMatching

N_TRAIN = 1000
N_GEN = 2000

# A short training that fits the camel back: the whole training set in every step (a full
# batch makes the regression target less noisy than more, smaller steps in the same time).
SETTINGS = dict(hidden=(64, 64), steps=600, lr=1e-2, batch_size=N_TRAIN)

# Small settings with real minibatches (64 of 200 events) for the exactness checks.
SMALL = dict(hidden=(32, 32), steps=300, batch_size=64)


@pytest.fixture(scope="module")
def camel_model() -> FlowMatching:
    torch.set_num_threads(1)
    truth = make_density("camel")
    return FlowMatching(**SETTINGS).fit(truth.sample(N_TRAIN, 1), seed=11)


def test_samples_pass_a_kolmogorov_test_against_the_truth(camel_model: FlowMatching):
    truth = make_density("camel")
    x = camel_model.sample(N_GEN, seed=2)[:, 0]
    critical = kolmogorov_critical(N_GEN, N_TRAIN)  # 0.0755
    result = stats.kstest(x, lambda v: truth.marginal_cdf(0, v))
    # by hand, training sets 1-3 with model seeds 11-13: 0.042, 0.052, 0.049 (the smaller
    # (32, 32) × 300 steps of batch 256 gives 0.17-0.20: not yet trained)
    assert result.statistic < critical, result.statistic


def test_log_prob_integrates_to_one(camel_model: FlowMatching):
    """Trapezoid integral of ``exp(log_prob)`` over [-40, 40], in the data's coordinates.

    The likelihood is the change of variables along the RK4-integrated flow, so it is
    normalised up to the integrator's error, which falls as h⁴: measured 1.6e-5 at the default
    16 steps and 7e-7 at 32 (×1/16 per doubling, as RK4 should; Richardson's estimate of the
    16-step error is 16/15 of their difference). The rest is small: the quadrature (halving the
    grid step changes nothing at 1e-7), float32 log-densities (relative 1e-6), the mass outside
    the window (density < 1e-26 at |x| = 15). A tolerance of 1e-4 is six times the integrator's
    error, while a missing Jacobian of the standardisation (a factor std ≈ 4.1) or a wrong
    sign of the divergence integral would be off by order one.
    """
    grid = np.arange(-40.0, 40.0 + 1e-9, 0.02)
    totals = {}
    default = camel_model.ode_steps
    assert default == 16
    for ode_steps in (16, 32):
        camel_model.ode_steps = ode_steps
        try:
            totals[ode_steps] = np.trapezoid(np.exp(camel_model.log_prob(grid[:, None])), grid)
        finally:
            camel_model.ode_steps = default
    assert abs(totals[16] - totals[32]) < 1e-4, totals  # the RK4 error estimate itself is small
    assert abs(totals[16] - 1.0) < 1e-4, totals
    assert abs(totals[32] - 1.0) < 1e-4, totals


def test_seeded_training_and_sampling_reproduce():
    torch.set_num_threads(1)
    truth = make_density("camel")
    x = truth.sample(200, 3)
    a = FlowMatching(**SMALL).fit(x, seed=4)
    b = FlowMatching(**SMALL).fit(x, seed=4)
    c = FlowMatching(**SMALL).fit(x, seed=5)
    points = truth.sample(100, 6)
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.log_prob(points), b.log_prob(points))
    np.testing.assert_array_equal(a.sample(300, seed=7), b.sample(300, seed=7))
    np.testing.assert_array_equal(a.sample(300, seed=7), a.sample(300, seed=7))
    assert not np.array_equal(a.sample(300, seed=7), a.sample(300, seed=8))
    assert not np.allclose(a.losses, c.losses)
    assert not np.allclose(a.log_prob(points), c.log_prob(points))


def test_vectorised_member_is_the_member_trained_alone():
    """Member k of a vectorised ensemble is the model that seed k and training set k give alone.

    Members never mix (element-wise Adam, per-member random streams), so the two can differ
    only by float32 rounding where batched and single kernels order their sums differently
    (eps = 1.2e-7; measured: losses identical, log-densities 5e-7, samples of size ~4 1.4e-6
    after 16 RK4 steps). A tolerance of 1e-5 leaves a margin of seven; two different members
    differ by ~0.2 in log-density.
    """
    torch.set_num_threads(1)
    truth = make_density("camel")
    xs = np.stack([truth.sample(200, s) for s in (1, 2, 3)])
    ensemble = FlowMatching(**SMALL).fit_members(xs, [10, 11, 12])
    alone = FlowMatching(**SMALL).fit(xs[1], seed=11)
    points = truth.sample(500, 7)
    assert ensemble.n_members == 3 and ensemble.losses.shape[1] == 3
    np.testing.assert_allclose(ensemble.losses[:, 1], alone.losses[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ensemble.member(1).log_prob(points), alone.log_prob(points), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ensemble.member(1).sample(500, seed=3), alone.sample(500, seed=3), rtol=1e-5, atol=1e-5)
    # and the members are different models
    assert np.abs(ensemble.member(0).log_prob(points) - ensemble.member(1).log_prob(points)).max() > 0.05


def test_hutchinson_is_exact_where_the_jacobian_is_diagonal_and_unbiased_elsewhere():
    """Rademacher probes have ε_i² = 1: for a diagonal Jacobian εᵀJε is its trace exactly. For a
    full one the estimate is unbiased: over 2000 events (each its own probes, fixed along the
    solve) the mean difference to the exact trace is within 4 standard errors of zero."""
    from genamp.models.cfm import ode_log_prob

    torch.manual_seed(0)
    x = torch.randn(2000, 5)
    scale = torch.linspace(-1.0, 1.0, 5)
    diagonal = lambda z, t: z * scale * (1 + t)  # noqa: E731
    exact = ode_log_prob(diagonal, x, 8)
    torch.testing.assert_close(ode_log_prob(diagonal, x, 8, probes=1), exact, rtol=1e-5, atol=1e-5)
    a = torch.randn(5, 5) / 3
    full = lambda z, t: torch.tanh(z @ a) * (1 + t)  # noqa: E731
    diff = (ode_log_prob(full, x, 8, probes=2) - ode_log_prob(full, x, 8)).double()
    assert diff.std() > 1e-3  # the probes do add noise here
    assert abs(float(diff.mean())) < 4 * float(diff.std()) / np.sqrt(diff.numel())
    # a log density is a function of the events: the same events, the same probes
    torch.testing.assert_close(ode_log_prob(full, x, 8, probes=2), ode_log_prob(full, x, 8, probes=2))


@pytest.mark.parametrize("n_events", [1, 300])
def test_the_forward_mode_trace_is_autograds_trace_of_the_jacobian(n_events):
    """:func:`jacobian_trace` against the trace of the Jacobian that autograd builds column by
    column, in float64 (where both are exact to ~1e-15 of the terms), for a velocity MLP of
    three layers at 300 events (blocks of TRACE_BLOCK = 128 and a remainder) and at one. The
    velocity it returns is the forward's, to the bit. A wrong slope of SiLU (its value instead of
    its derivative) or a missed layer changes the trace by order one."""
    from genamp.models.cfm import VelocityField

    torch.manual_seed(3)
    field = VelocityField(5, (24, 24, 24)).double()
    with torch.no_grad():
        for p in field.parameters():
            p.mul_(3.0)  # beyond torch's initial scale, where every SiLU bends
    x = torch.randn(n_events, 5, dtype=torch.float64, requires_grad=True)
    t = torch.rand(n_events, 1, dtype=torch.float64)
    out = field(x, t)
    trace = sum(torch.autograd.grad(out[:, i].sum(), x, retain_graph=True)[0][:, i] for i in range(5))
    with torch.no_grad():
        v, div = field.with_divergence(x, t)
    assert torch.equal(v, out.detach())
    torch.testing.assert_close(div, trace, rtol=1e-12, atol=1e-12)
    assert float(trace.abs().mean()) > 0.1  # a trace worth comparing


def test_a_members_log_density_is_the_one_of_autograds_divergence():
    """A trained member's ``log_prob`` (the forward-mode trace) against :func:`ode_log_prob` with
    autograd's columns on the same member's velocity: the same ODE to the bit (the velocity is
    the forward's), the divergences apart by float32 rounding of sums of 64 products (~1e-6)."""
    from genamp.models.cfm import at_time, ode_log_prob

    torch.set_num_threads(1)
    truth = make_density("ring")
    model = FlowMatching(**SMALL).fit_members(np.stack([truth.sample(200, s) for s in (1, 2)]), [1, 2])
    x = truth.sample(300, 5)
    z = (torch.as_tensor(x, dtype=torch.float32) - model._mean[1]) / model._std[1]
    autograd = ode_log_prob(at_time(lambda y, t: model.net.member(1, y, t)), z, model.ode_steps)
    log_jac = float(torch.log(model._std[1]).sum())
    np.testing.assert_allclose(model.member(1).log_prob(x), autograd.double().numpy() - log_jac, rtol=0, atol=2e-5)
