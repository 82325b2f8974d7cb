"""Every model of the registry keeps the contract its entry claims, and takes the settings it lists."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genamp.densities import make_density
from genamp.models.base import ExactOccupancies, Generator, Likelihood, Posterior, VectorisedGenerator
from genamp.models.registry import MODEL_REGISTRY

#: settings that make each network a few milliseconds of training
SMALL = {
    "gan": {"latent": 4, "hidden": (8,), "embedding": (4, 4), "epochs": 1},
    "gan-paper": {"latent": 4, "hidden": (8,), "embedding": (4, 4), "epochs": 1},
    "cfm": {"hidden": (8,), "steps": 2, "ode_steps": 2},
    "flow": {"transforms": 1, "hidden": (8,), "bins": 4, "steps": 2},
    "bflow": {"transforms": 1, "hidden": (8,), "bins": 4, "steps": 2},
    "bcfm": {"hidden": (8,), "steps": 2, "ode_steps": 2},
    "lgatr-cfm": {"blocks": 1, "mv_channels": 2, "s_channels": 4, "heads": 1, "mlp_ratio": 1, "steps": 2, "ode_steps": 2},
}


def training_events(entry, model, n: int = 40):
    """``n`` events of the camel back; synthetic top pairs in the coordinates where a model must
    train in them (its map given to it)."""
    if entry.coordinates is None:
        return make_density("camel").sample(n, seed=1)
    from synthetic_ttbar import FEATURES, ttbar_events

    from genamp.models.coordinates import make_coordinates

    events = ttbar_events(n, seed=1)
    coords = make_coordinates(entry.coordinates, FEATURES).fit(events)
    model.with_coordinates(coords)
    return coords.transform(events)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize("name", list(MODEL_REGISTRY))
def test_a_model_satisfies_exactly_the_protocols_its_entry_claims(name):
    """vectorised ⇔ VectorisedGenerator, likelihood ⇔ Likelihood (of a sampled model: the fit has
    a log density, but the study integrates its cells exactly), bayesian ⇔ Posterior; then the
    contract is used once, as the study uses it."""
    entry = MODEL_REGISTRY[name]
    if entry.build is None:  # the training set itself
        assert not (entry.sampled or entry.vectorised or entry.bayesian or entry.likelihood or entry.settable)
        return
    density = make_density("camel")
    model = entry.build(density, **SMALL.get(name, {}))
    assert isinstance(model, Generator)
    assert isinstance(model, VectorisedGenerator) == entry.vectorised
    assert (isinstance(model, Likelihood) and entry.sampled) == entry.likelihood
    assert isinstance(model, Posterior) == entry.bayesian
    assert isinstance(model, ExactOccupancies) == (not entry.sampled)
    x = training_events(entry, model)
    if entry.vectorised:
        assert model.fit_members(np.stack([x, x[::-1]]), [1, 2]) is model
        assert model.diverged == {} and model.losses is not None and model.losses.shape[1] == 2
        member = model.member(1)
        assert isinstance(member, Generator) and isinstance(member, Likelihood) == entry.likelihood
        generators = [member]
    else:
        assert model.fit(x, seed=1) is model
        generators = model.draws(2, seed=3) if entry.bayesian else [model]
    for g in generators:
        assert isinstance(g, Generator)
        if entry.sampled:
            assert isinstance(g, Likelihood) == entry.likelihood
            assert g.sample(5, seed=4).shape == (5, x.shape[1])
        if entry.likelihood:
            assert np.isfinite(g.log_prob(x[:5])).all()


@pytest.mark.parametrize("name", [n for n, e in MODEL_REGISTRY.items() if e.settable is not None])
def test_a_model_takes_every_setting_it_lists_and_states_its_limits(name):
    """The settings a study may give are keywords of the build, each with a limit, at the
    model's own defaults; the baselines list none."""
    entry = MODEL_REGISTRY[name]
    settable = entry.settable()
    assert settable.defaults and set(settable.limits) == set(settable.defaults)
    model = entry.build(make_density("camel"), **settable.defaults)
    for key, value in settable.defaults.items():
        held = getattr(model, "settings", model)  # the GAN keeps its settings in one record
        assert getattr(held, key) == value
    assert SMALL.keys() == {n for n, e in MODEL_REGISTRY.items() if e.settable is not None}
