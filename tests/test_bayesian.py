"""Bayesian spline flow and Bayesian flow matching: variational Gaussian weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from zuko.bayesian import BayesianModel

from conftest import kolmogorov_critical, size
from genamp.densities import make_density
from genamp.errors import GenampError
from genamp.models.bayesian import BayesianFlowMatching, BayesianSplineFlow
from genamp.models.cfm import FlowMatching
from genamp.models.flow import SplineFlow
from genamp.models.neural import MemberStreams, TrainingDiverged

N_TRAIN = 1000
N_GEN = 2000
BAYESIAN = [BayesianSplineFlow, BayesianFlowMatching]


@pytest.fixture(scope="module")
def camel_bflow() -> BayesianSplineFlow:
    torch.set_num_threads(1)
    truth = make_density("camel")
    return BayesianSplineFlow(hidden=(8,), steps=300, lr=1e-2).fit(truth.sample(N_TRAIN, 0), seed=1)


def tiny(cls: type, **settings: object) -> BayesianSplineFlow | BayesianFlowMatching:
    return cls(hidden=(8,), batch_size=32, **settings)


def test_posterior_predictive_passes_a_kolmogorov_test_against_the_truth(camel_bflow: BayesianSplineFlow):
    """KS distance of the posterior predictive to the exact camel CDF.

    As in conftest.kolmogorov_critical: a generator only as good as its training set is a Brownian bridge of
    variance 1 / n_train away from the truth, independent of the sampling noise 1 / n_gen, so
    the statistic follows Kolmogorov's law at ``1 / n_eff = 1 / n_gen + 1 / n_train``. (Three
    training seeds gave 0.39-0.70 of this critical value.)
    """
    truth = make_density("camel")
    statistic = stats.kstest(camel_bflow.sample(N_GEN, seed=2)[:, 0], lambda v: truth.marginal_cdf(0, v)).statistic
    critical = kolmogorov_critical(N_GEN, N_TRAIN)
    assert statistic < critical


def test_posterior_mean_and_draws_integrate_to_one(camel_bflow: BayesianSplineFlow):
    """A flow with any weights is normalised: the tolerance is that of test_flow (1e-4)."""
    grid = np.arange(-40.0, 40.0 + 1e-9, 0.005)
    for generator in (camel_bflow, *camel_bflow.draws(2, seed=3)):
        assert abs(np.trapezoid(np.exp(generator.log_prob(grid[:, None])), grid) - 1.0) < 1e-4


def test_flow_matching_likelihood_integrates_to_one():
    """The ODE likelihood is normalised up to the RK4 error of the path and of the divergence
    integral (16 steps of a smooth field: measured < 1e-5) and the trapezoid rule (< 1e-6 at
    this step); 1e-3 leaves room for both, while a wrong sign of the divergence term or a lost
    standardisation Jacobian (a factor 4) is off by order one."""
    x = make_density("camel").sample(300, 1)
    model = tiny(BayesianFlowMatching, steps=100).fit(x, seed=2)
    grid = np.arange(-40.0, 40.0 + 1e-9, 0.01)
    for generator in (model, model.draws(1, seed=3)[0]):
        assert abs(np.trapezoid(np.exp(generator.log_prob(grid[:, None])), grid) - 1.0) < 1e-3


#: the two ways to the posterior: variational inference and a Langevin chain (a short one)
SAMPLERS = {"vi": {}, "langevin": {"chain": 40, "chain_keep": 4}}


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("cls", BAYESIAN)
def test_seeded_training_sampling_and_draws_reproduce(cls: type, sampler: str):
    truth = make_density("ring")
    x = truth.sample(200, 3)
    a, b, c = (tiny(cls, steps=40, **SAMPLERS[sampler]).fit(x, seed=s) for s in (4, 4, 5))
    assert a.sampler == sampler
    points = truth.sample(50, 6)
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.log_prob(points), b.log_prob(points))
    np.testing.assert_array_equal(a.sample(100, seed=7), b.sample(100, seed=7))
    assert not np.array_equal(a.sample(100, seed=7), a.sample(100, seed=8))
    for da, db in zip(a.draws(2, seed=9), b.draws(2, seed=9), strict=True):
        np.testing.assert_array_equal(da.log_prob(points), db.log_prob(points))
        np.testing.assert_array_equal(da.sample(100, seed=1), db.sample(100, seed=1))
    assert not np.allclose(a.log_prob(points), c.log_prob(points))


def test_draws_are_distinct_fixed_generators(camel_bflow: BayesianSplineFlow):
    points = np.linspace(-6.0, 6.0, 25)[:, None]
    draws = camel_bflow.draws(4, seed=5)
    assert [d.name for d in draws] == [f"bflow[draw {m}]" for m in range(4)]
    log_probs = np.array([d.log_prob(points) for d in draws])
    for i in range(4):
        for j in range(i):
            assert np.abs(log_probs[i] - log_probs[j]).max() > 1e-3
    # draw m depends on (seed, m) alone; its samples are a pure function of their seed
    np.testing.assert_array_equal(camel_bflow.draws(2, seed=5)[1].log_prob(points), log_probs[1])
    assert np.abs(camel_bflow.draws(1, seed=6)[0].log_prob(points) - log_probs[0]).max() > 1e-3
    np.testing.assert_array_equal(draws[2].sample(50, seed=1), draws[2].sample(50, seed=1))
    with pytest.raises(GenampError, match="fixed posterior draw"):
        draws[0].fit(points, seed=0)


@pytest.mark.parametrize("cls", BAYESIAN)
def test_objective_is_the_data_loss_plus_kl_weight_times_kl_over_n_train(cls: type):
    x = make_density("ring").sample(64, 1)
    model = tiny(cls, steps=2).fit(x, seed=2)
    batch = torch.as_tensor(x[:32], dtype=torch.float32)

    def objective(n_train: int, kl_weight: float, prior_var: float = 1.0) -> float:
        model.kl_weight, model.prior_var = kl_weight, prior_var
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(3)  # the same weight draw ε every time
            return float(model.objective(batch, n_train, MemberStreams([4])))

    data = objective(100, 0.0)
    for n_train, kl_weight, prior_var in [(100, 1.0, 1.0), (400, 1.0, 1.0), (400, 2.5, 1.0), (100, 1.0, 4.0)]:
        kl = float(model.bayes.kl_divergence(prior_var))
        assert kl > 0
        expected = kl_weight * kl / n_train
        assert objective(n_train, kl_weight, prior_var) - data == pytest.approx(expected, rel=1e-5, abs=1e-5)
    # the data term is an honest draw: another ε gives another value
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)
        model.kl_weight = 0.0
        assert float(model.objective(batch, 100, MemberStreams([4]))) != data


@pytest.mark.parametrize(("plain", "bayesian"), [(SplineFlow, BayesianSplineFlow), (FlowMatching, BayesianFlowMatching)])
def test_without_weight_noise_and_kl_term_a_bayesian_model_is_its_plain_model(
    plain: type, bayesian: type, monkeypatch: pytest.MonkeyPatch
):
    """Posterior weights frozen at their means and ``kl_weight = 0``: the same network, loss,
    batches, noise and sampler as the plain model, so the same numbers up to float rounding."""
    monkeypatch.setattr(BayesianModel, "sample_params", lambda self: {k.replace("-", "."): m for k, m in self.means.items()})
    x = make_density("ring").sample(200, 1)
    settings = dict(hidden=(16, 16), steps=60, batch_size=64)
    reference = plain(**settings).fit(x, seed=3)
    model = bayesian(kl_weight=0.0, **settings).fit(x, seed=3)
    points = make_density("ring").sample(100, 2)
    np.testing.assert_allclose(model.losses[:, 0], reference.losses[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.log_prob(points), reference.log_prob(points), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.draws(1, seed=0)[0].sample(100, seed=4), reference.sample(100, seed=4), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls", BAYESIAN)
def test_a_non_finite_loss_raises_naming_the_model_and_step(cls: type, monkeypatch: pytest.MonkeyPatch):
    calls = {"n": 0}
    loss = cls._loss

    def poisoned(self, net, x, streams):  # noqa: ANN001, ANN202
        calls["n"] += 1
        return loss(self, net, x, streams) * (float("nan") if calls["n"] > 3 else 1.0)

    monkeypatch.setattr(cls, "_loss", poisoned)
    with pytest.raises(TrainingDiverged, match=rf"{cls.name} member 0 diverged at step 3"):
        tiny(cls, steps=10).fit(make_density("camel").sample(100, 1), seed=1)


def test_one_network_only_and_nothing_before_fit():
    """A Bayesian model is one network (its spread is its posterior): it offers no fit_members,
    and its training refuses a member axis."""
    x = make_density("camel").sample(50, 1)
    assert not hasattr(tiny(BayesianSplineFlow), "fit_members")
    with pytest.raises(GenampError, match="one Bayesian network"):
        tiny(BayesianSplineFlow, steps=2)._fit_stacked(np.stack([x, x]), [1, 2])
    with pytest.raises(GenampError, match="call fit"):
        tiny(BayesianSplineFlow).draws(2, seed=1)


# Not tested: that a larger kl_weight widens the spread between draws. Adam moves each log σ²
# by about the learning rate per step whatever the size of a consistent gradient, so once the
# KL term dominates the data term's pull on the widths, kl_weight = 1 and 10 widen them at the
# same pace; in 300-step trainings the spread of log_prob at fixed points rose with kl_weight at
# some points and fell at others.


@pytest.mark.parametrize(("plain", "bayesian"), [(SplineFlow, BayesianSplineFlow), (FlowMatching, BayesianFlowMatching)])
def test_a_chain_starts_where_the_plain_model_ends(plain: type, bayesian: type):
    """With a prior too wide to matter, the chain's mode is the plain model's training (same
    network, loss, batches and noise): its density equals the plain model's up to float rounding."""
    x = make_density("ring").sample(200, 1)
    settings = dict(hidden=(16, 16), steps=60, batch_size=64)
    reference = plain(**settings).fit(x, seed=3)
    model = bayesian(chain=4, chain_keep=2, prior_var=1e30, **settings).fit(x, seed=3)
    points = make_density("ring").sample(100, 2)
    np.testing.assert_allclose(model.losses[:, 0], reference.losses[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.log_prob(points), reference.log_prob(points), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls", BAYESIAN)
def test_chain_draws_are_its_kept_states_evenly_spaced(cls: type):
    """draws(M) are the networks of M evenly spaced kept states (the seed chooses nothing), the
    chain moved away from its mode, and no more draws than kept states are given."""
    x = make_density("ring").sample(200, 1)
    model = tiny(cls, steps=40, chain=60, chain_keep=6).fit(x, seed=2)
    assert model.chain_.states.shape[0] == 6 and 0 < model.chain_.acceptance <= 1
    points = make_density("ring").sample(30, 2)
    draws = model.draws(3, seed=0)
    kept = [model._chain_draw(i) for i in (0, 2, 5)]  # linspace(0, 5, 3) rounded: 0, 2.5 → 2, 5
    for draw, net in zip(draws, kept, strict=True):
        np.testing.assert_array_equal(draw.log_prob(points), model.draws(3, seed=9)[draws.index(draw)].log_prob(points))
        assert torch.equal(torch.cat([p.flatten() for p in draw.net.parameters()]), torch.cat([p.flatten() for p in net.parameters()]))
    assert np.abs(draws[-1].log_prob(points) - model.log_prob(points)).max() > 1e-6  # the chain left its mode
    with pytest.raises(GenampError, match="kept 6 states"):
        model.draws(7, seed=0)


@pytest.mark.parametrize("cls", BAYESIAN)
def test_a_last_layer_chain_moves_only_the_output_layers(cls: type):
    """chain_last: a draw's hidden layers are the mode's to the bit, its output layers moved."""
    x = make_density("ring").sample(200, 1)
    model = tiny(cls, steps=40, chain=40, chain_keep=2, chain_last=True).fit(x, seed=2)
    draw, mode = model.draws(2, seed=0)[1].net, model._posterior_mean
    output = {id(p) for p in model._output_layers(draw)}
    assert 0 < len(output) < len(list(draw.parameters()))
    moved = []
    for p, q in zip(draw.parameters(), mode.parameters(), strict=True):
        if id(p) in output:
            moved.append(not torch.equal(p, q))
        else:
            assert torch.equal(p, q)
    assert any(moved)
    assert model.chain_.states.shape == (2, sum(p.numel() for p in model._output_layers(mode)))


def test_a_chain_on_subsets_of_the_training_set_draws_them_per_step():
    """chain_batch: the flow's energy, deterministic on the whole set, becomes a per-step draw
    (another chain than the full-batch one from the same mode), still reproducible by its seed."""
    x = make_density("ring").sample(300, 1)
    full, a, b = (tiny(BayesianSplineFlow, steps=30, chain=40, chain_keep=2, chain_batch=c).fit(x, seed=4) for c in (0, 64, 64))
    torch.testing.assert_close(a.chain_.states, b.chain_.states, rtol=0, atol=0)
    assert not torch.equal(a.chain_.states, full.chain_.states)


@pytest.mark.slow
def test_the_flows_bayes_posterior_by_a_chain_calibrates_on_the_camel_back(tmp_path):
    """The camel back's spline flow (69 weights) at temperature 1, its Bayes posterior drawn by
    the Langevin chain (n_train = 100, 10 kept states): the forecast agrees with the truth-based G
    of the draws' mixture within 3 combined standard errors at Q = 10, 20, 50, and its 68%
    coverage is a calibrated forecast's within 4 binomial errors of the R·Q pulls, as for the
    Laplace fit. Measured over 20 repetitions (README): 1.29 ± 0.05 / 2.03 ± 0.07 / 4.13 ± 0.15
    against 1.72 ± 0.18 / 2.44 ± 0.21 / 4.33 ± 0.36, coverage 72% / 68% / 65% against 66% / 65% / 66%."""
    from genamp.study.config import StudyConfig
    from genamp.study.runner import run_study

    reps = size(3, 20)
    cfg = StudyConfig(density="camel", models=("bflow",), methods=("truth", "averaging"), bayesian=10, n_train=100,
                      quantiles=(10, 20, 50), repetitions=reps, seed=23, settings={"bflow": {"chain": 2000}})  # fmt: skip
    records = [r for r in run_study(cfg, tmp_path, workers=1, plots=False).records if r["method"] == "averaging"]
    assert len(records) == 3
    for r in records:
        assert r["spread"] == {"draws": 10, "sampler": "langevin", "temperature": 1.0}
        assert abs(r["G_inf"] - r["truth_G"]) < 3 * np.hypot(r["G_inf_std"], r["truth_G_std"]), r
        ideal, covered = r["reference_coverage"]["68"], r["coverage"]["68"]
        assert abs(covered - ideal) < 4 * np.sqrt(ideal * (1 - ideal) / (reps * r["quantiles"])), r
