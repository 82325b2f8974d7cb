"""Trained networks kept (issue 16 item 2): a model's trained state goes through torch.save and
torch.load(weights_only=True) and gives the same generator, run over every network; a study run
again with another resolution samples from its stored networks instead of training."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from genamp.densities import make_density
from genamp.errors import GenampError
from genamp.models.bayesian import BayesianFlowMatching, BayesianSplineFlow
from genamp.models.cfm import FlowMatching
from genamp.models.flow import SplineFlow
from genamp.models.gan import GAN
from genamp.models.registry import MODEL_REGISTRY
from genamp.study.tasks import build
from test_registry import SMALL, training_events

MODELS = {
    "cfm": lambda: FlowMatching(hidden=(16, 16), steps=50, batch_size=32),
    "flow": lambda: SplineFlow(transforms=2, hidden=(8, 8), steps=50, batch_size=32),
    "gan": lambda: GAN(epochs=3, batch_size=32, hidden=(16, 16), embedding=(8,), latent=8),
    "lgatr-cfm": lambda: build("lgatr-cfm", None, **{**SMALL["lgatr-cfm"], "steps": 20, "batch_size": 32}),
}


def _round_trip(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("name", MODELS)
def test_a_stored_network_samples_what_the_trained_one_does(name):
    """Members 1 and 2 of a three-member training, stored as two states and loaded into a fresh
    model of the same settings, sample the same events to the bit and keep their divergence
    record, final loss and kept step."""
    fresh = MODELS[name]()
    x = training_events(MODEL_REGISTRY[name], fresh, 200)
    trained = fresh.fit_members(np.stack([x, x[::-1], x[::2].repeat(2, axis=0)]), [1, 2, 3])
    states = [_round_trip(trained.trained_state([1])), _round_trip(trained.trained_state([2]))]
    loaded = MODELS[name]()
    training_events(MODEL_REGISTRY[name], loaded, 200)  # the map a model of coordinates is given before loading
    loaded.load_trained(states)
    assert loaded.n_members == 2 and loaded.dim == x.shape[1] and loaded.n_train == 200
    for new, old in ((0, 1), (1, 2)):
        np.testing.assert_array_equal(loaded.member(new).sample(500, 9), trained.member(old).sample(500, 9))
    np.testing.assert_array_equal(loaded.losses[-1], np.asarray(trained.losses)[-1][[1, 2]])


def test_a_stored_state_of_other_settings_is_refused():
    x = make_density("camel").sample(200, 1)
    state = FlowMatching(hidden=(16, 16), steps=20).fit_members(x[None], [1]).trained_state()
    with pytest.raises(GenampError, match="other settings"):
        FlowMatching(hidden=(8, 8)).load_trained([state])
    with pytest.raises(GenampError, match="another model"):
        SplineFlow().load_trained([state])


def test_a_new_resolution_samples_the_stored_networks_and_gives_the_same_records(tmp_path):
    """A cfm and a gan study at Q = 10 keeps its networks; run again at Q = 10, 20 into the same
    folder, its tasks (new ones: the resolution is part of a task) load them instead of
    training, and the Q = 10 records are the first study's to the bit."""
    import json

    from genamp.study.config import StudyConfig
    from genamp.study.runner import run_study

    settings = {"cfm": {"steps": 200, "hidden": (16, 16)}, "gan": {"epochs": 2, "latent": 8, "hidden": (16, 16), "embedding": (8,)}}
    first = run_study(StudyConfig(density="camel", models=("cfm", "gan"), quantiles=(10,), repetitions=3, n_train=200, seed=4,
                                  n_gen=(1000, 4000), settings=settings), tmp_path, workers=1, plots=False)  # fmt: skip
    kept = sorted(p.relative_to(tmp_path) for p in (tmp_path / "weights").rglob("*.pt"))
    assert len(kept) == 6  # 2 models × 3 repetitions
    again = run_study(StudyConfig(density="camel", models=("cfm", "gan"), quantiles=(10, 20), repetitions=3, n_train=200, seed=4,
                                  n_gen=(1000, 4000), settings=settings), tmp_path, workers=1, plots=False)  # fmt: skip
    assert again.ran == 6 and sorted(p.relative_to(tmp_path) for p in (tmp_path / "weights").rglob("*.pt")) == kept
    metas = [json.loads(str(np.load(p, allow_pickle=False)["meta"])) for p in (tmp_path / "tasks").rglob("*.npz")]
    assert sum(m.get("networks") == "stored" for m in metas) == 6  # the second study's tasks
    assert [r for r in again.records if r["quantiles"] == 10] == first.records


BAYESIAN = {
    "bcfm": lambda **s: BayesianFlowMatching(hidden=(16, 16), steps=60, batch_size=32, kl_weight=1.0, init_logvar=-5.0, **s),
    "bflow": lambda **s: BayesianSplineFlow(transforms=2, hidden=(8, 8), steps=60, batch_size=32, kl_weight=1.0, init_logvar=-5.0, **s),
}
#: a posterior by variational inference, and one by a Langevin chain (its kept states)
SAMPLERS = {"vi": {}, "langevin": {"chain": 20, "chain_keep": 5}}


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("name", BAYESIAN)
def test_a_stored_posterior_draws_the_networks_the_trained_one_does(name, sampler):
    """A Bayesian network's posterior (each weight's mean and log-variance, or a chain's mode and
    kept states) through torch.save and torch.load(weights_only=True): the same posterior draws,
    hence the same events, and the same posterior-mean density, to the bit; a second state (an
    ensemble of posteriors) and a posterior of the other sampler are refused."""
    x = make_density("camel").sample(200, 1)
    trained = BAYESIAN[name](**SAMPLERS[sampler]).fit(x, 5)
    state = _round_trip(trained.trained_state())
    before = torch.get_rng_state()
    loaded = BAYESIAN[name](**SAMPLERS[sampler]).load_trained([state])
    assert torch.equal(torch.get_rng_state(), before)  # loading draws nothing from torch's global stream
    assert loaded.dim == 1 and loaded.n_train == 200
    for new, old in zip(loaded.draws(3, 7), trained.draws(3, 7), strict=True):
        np.testing.assert_array_equal(new.sample(400, 9), old.sample(400, 9))
    np.testing.assert_array_equal(loaded.log_prob(x[:50]), trained.log_prob(x[:50]))
    with pytest.raises(GenampError, match="one Bayesian network"):
        BAYESIAN[name](**SAMPLERS[sampler]).load_trained([state, state])
    with pytest.raises(GenampError, match="other settings|does not match"):
        type(trained)(hidden=(4,), steps=1, **SAMPLERS[sampler]).load_trained([state])
    other = SAMPLERS["langevin" if sampler == "vi" else "vi"]
    with pytest.raises(GenampError, match="another sampler"):
        BAYESIAN[name](**other).load_trained([state])


def test_a_bayesian_study_run_again_samples_its_stored_posteriors(tmp_path):
    """bcfm with 3 posterior draws at Q = 4, then at Q = 4, 8 into the same folder: the second
    study loads each repetition's posterior instead of training and gives the first's records."""
    from genamp.study.config import StudyConfig
    from genamp.study.runner import run_study

    def config(quantiles):
        return StudyConfig(density="camel", models=("bcfm",), methods=("truth", "averaging"), bayesian=3, kl_weight=0.5,
                           init_logvar=-5.0, quantiles=quantiles, repetitions=2, n_train=100, n_gen=(300, 1000),
                           settings={"bcfm": {"hidden": (16, 16), "steps": 60}}, seed=3)  # fmt: skip

    first = run_study(config((4,)), tmp_path, workers=1, plots=False)
    assert len(list((tmp_path / "weights").rglob("*.pt"))) == 2
    again = run_study(config((4, 8)), tmp_path, workers=1, plots=False)
    assert again.ran == 2
    import json

    metas = [json.loads(str(np.load(p, allow_pickle=False)["meta"])) for p in (tmp_path / "tasks").rglob("*.npz")]
    assert sum(m.get("networks") == "stored" for m in metas) == 2
    assert [r for r in again.records if r["quantiles"] == 4] == first.records
