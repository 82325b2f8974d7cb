"""Every model of the registry takes the settings it lists."""

from __future__ import annotations

import pytest

from genamp.densities import make_density
from genamp.models.registry import MODEL_REGISTRY


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
