"""Training that scales with the data (issue 14 item 3): a step budget that grows with n_train,
and each member kept at its lowest validation loss on its out-of-bag events; run over every
network with a likelihood, as one test each."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genamp.densities import make_density
from genamp.models.base import ensemble_indices, out_of_bag
from genamp.models.cfm import FlowMatching
from genamp.models.flow import SplineFlow
from genamp.models import cfm, neural
from genamp.models.neural import AUTO_STEPS, VALIDATE_EVERY, Checkpoint

MODELS = {
    "cfm": lambda **kw: FlowMatching(hidden=(32, 32), batch_size=64, **kw),
    "flow": lambda **kw: SplineFlow(transforms=2, hidden=(16, 16), batch_size=64, **kw),
}


@pytest.mark.parametrize("name", MODELS)
def test_the_budget_grows_with_the_data(name):
    assert MODELS[name](steps=0, epochs=100).budget(100) == AUTO_STEPS  # 100 · 100 / 64 = 157 < 2000
    assert MODELS[name](steps=0, epochs=100).budget(10**4) == math.ceil(100 * 10**4 / 64)
    assert MODELS[name](steps=0, epochs=2000).budget(40) == max(AUTO_STEPS, 2000)  # a batch larger than the set is the set
    assert MODELS[name](steps=500, epochs=100).budget(10**6) == 500  # given steps are the steps


def test_flow_matchings_default_budget_keeps_a_toys_steps_and_grows_beyond():
    """2000 steps at a toy's 100 events (the README's numbers), 2000 passes from 256 events on."""
    model = FlowMatching()
    assert model.steps == 0 and model.epochs == 2000
    assert [model.budget(n) for n in (100, 256, 1000, 10**4)] == [2000, 2000, 7813, 78125]


def test_the_checkpoint_keeps_each_members_lowest_loss_and_stops_it_after_its_patience():
    p = torch.zeros(2, 3)
    best = Checkpoint([p], patience=2)
    trajectory = [(1.0, 5.0), (0.5, 4.0), (0.7, 3.0), (0.6, 2.0), (0.2, 1.0)]
    for step, losses in enumerate(trajectory, start=1):
        p.fill_(float(step))
        best.update(step * 100, torch.tensor(losses))
    # member 0: lowest at step 2, then waited 2 validations and stopped (the 0.2 at step 5 comes too late)
    assert best.step.tolist() == [200, 500] and best.active.tolist() == [False, True]
    best.restore()
    assert p[0].tolist() == [2.0] * 3 and p[1].tolist() == [5.0] * 3


@pytest.mark.parametrize("name", MODELS)
def test_a_member_stopped_on_its_validation_loss_is_the_member_trained_alone(name, monkeypatch):
    """Members never mix, stopping included: member 1 of three keeps the step and the parameters
    it keeps when trained alone, to rounding. In float64: 1500 float32 steps grow the rounding of
    vmap against one network to ~1e-3 in log p on some CPUs (8e-4 measured), the size of a
    mixing; float64 keeps it near 1e-10."""
    torch.set_num_threads(1)
    for module in (neural, cfm):  # the spline flow draws its noise through neural
        monkeypatch.setattr(module, "DTYPE", torch.float64)
    truth = make_density("camel")
    x = truth.sample(200, 1)
    rows = ensemble_indices(200, 3, "bootstrap", 5)
    xs, oob = x[rows], out_of_bag(x, rows)
    assert [len(v) for v in oob] == [int((np.bincount(r, minlength=200) == 0).sum()) for r in rows]
    settings = dict(steps=1500, patience=2)
    ensemble = MODELS[name](**settings).fit_members(xs, [10, 11, 12], oob)
    alone = MODELS[name](**settings).fit_members(xs[1:2], [11], oob[1:2])
    assert alone.stopped[0] == ensemble.stopped[1] and all(s % VALIDATE_EVERY == 0 for s in ensemble.stopped)
    points = truth.sample(300, 7)
    np.testing.assert_allclose(ensemble.member(1).log_prob(points), alone.member(0).log_prob(points), rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("name", MODELS)
def test_a_member_ends_at_its_lowest_validation_loss(name):
    """Trained far past where 40 events can teach it, each member keeps the parameters of its
    lowest validation loss; for the flow that loss is the out-of-bag negative log-likelihood,
    which the kept model gives again."""
    torch.set_num_threads(1)
    x = make_density("camel").sample(40, 2)
    rows = ensemble_indices(40, 2, "bootstrap", 6)
    xs, oob = x[rows], out_of_bag(x, rows)
    kept = MODELS[name](steps=2000, patience=100, lr=3e-3).fit_members(xs, [1, 2], oob)
    assert MODELS[name](steps=300).fit_members(xs, [1, 2], oob).stopped is None  # no patience, no validation
    steps, losses = kept.validations
    assert steps.tolist() == list(range(VALIDATE_EVERY, 2001, VALIDATE_EVERY))
    for k in range(2):
        lowest = int(np.argmin(losses[:, k]))
        assert losses[list(steps).index(kept.stopped[k]), k] <= losses[lowest, k] * (1 + 1e-5)
        if name == "flow":  # the kept network is the one validated then (the loss of standardised events)
            nll = -kept.member(k).log_prob(oob[k]).mean() - np.log(kept._std[k].numpy()).sum()
            assert nll == pytest.approx(losses[lowest, k], rel=1e-4)
    assert min(kept.stopped) < 2000  # it did stop before the end


def test_a_bootstrap_study_validates_each_member_on_its_out_of_bag_events(tmp_path):
    from genamp.study.config import StudyConfig
    from genamp.study.runner import run_study

    cfg = StudyConfig(density="camel", models=("cfm",), methods=("averaging",), ensemble=2, n_train=200,
                      repetitions=2, quantiles=(5,), n_gen=(500, 1000),
                      settings={"cfm": {"steps": 300, "hidden": (16,), "patience": 1}})  # fmt: skip
    run_study(cfg, tmp_path, workers=1, plots=False)
    metas = [np.load(p)["meta"] for p in sorted((tmp_path / "tasks").rglob("rep*.npz"))]
    import json

    stopped = [json.loads(str(m))["stopped"] for m in metas]
    assert len(stopped) == 2 and all(len(s) == 2 and all(0 < v <= 300 for v in s) for s in stopped)


@pytest.mark.parametrize("network", ["velocity", "generator"])
def test_the_stacked_forward_is_vmaps_to_the_bit(network):
    """``Stacked`` runs an MLP's members as batched matrix products (:meth:`MLP.stacked`) instead
    of ``vmap(functional_call(...))``: the same outputs and the same gradients to the bit, for
    flow matching's velocity field and for the GAN's generator with its dropout masks."""
    from torch.func import functional_call, vmap

    from genamp.models.neural import MLP, Stacked

    torch.manual_seed(0)
    if network == "velocity":
        net = Stacked.build(lambda: cfm.VelocityField(3, (16, 16, 16)), [1, 2, 3])
        args = (torch.randn(3, 50, 3), torch.rand(3, 50, 1))
    else:
        net = Stacked.build(lambda: MLP(8, 2, (16, 16), torch.nn.ELU), [1, 2, 3])
        args = (torch.randn(3, 50, 8), [(torch.rand(3, 50, 16) > 0.5).float() * 2 for _ in range(2)])
    for p in net.parameters():
        p.requires_grad_(True)
    mapped = vmap(lambda p, b, *a: functional_call(net.module, (p, b), a))(net.params, net.buffers, *args)
    direct = net(*args)
    assert torch.equal(direct, mapped)
    for a, b in zip(torch.autograd.grad(direct.square().sum(), net.parameters()),
                    torch.autograd.grad(mapped.square().sum(), net.parameters()), strict=True):  # fmt: skip
        assert torch.equal(a, b)
