"""The networks' device (``--device cpu|cuda``): refused where it is not here, the same numbers
wherever it is, and not part of what a study is.

The CUDA comparison runs only where torch sees a GPU; everything else runs on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genamp.cli import main
from genamp.densities import make_density
from genamp.errors import GenampError
from genamp.models import neural
from genamp.models.neural import as_device
from genamp.models.registry import MODEL_REGISTRY
from genamp.study.config import StudyConfig
from genamp.study.runner import run_study
from genamp.study.tasks import build

from test_registry import SMALL, training_events

NETWORKS = [name for name, entry in MODEL_REGISTRY.items() if entry.network]
GPU = torch.cuda.is_available()


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_a_device_that_is_not_here_is_refused_by_name(monkeypatch):
    assert as_device(None) == torch.device("cpu") and as_device("cpu") == torch.device("cpu")
    with pytest.raises(GenampError, match="'tpu' is not a torch device"):
        as_device("tpu")
    with pytest.raises(GenampError, match="run on cpu or cuda"):
        as_device("meta")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GenampError, match="torch sees no CUDA GPU on this machine"):
        as_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(GenampError, match="has 1 CUDA GPU"):
        as_device("cuda:1")
    assert as_device("cuda:0") == torch.device("cuda:0")


def _trained(name: str, device: str | None):
    """A network trained on two small training sets (or one, for a Bayesian model) and what it
    gives: two members' samples and log densities."""
    density = make_density("camel")
    model = build(name, density, device, **SMALL[name])
    x = training_events(MODEL_REGISTRY[name], model)
    if MODEL_REGISTRY[name].vectorised:
        model.fit_members(np.stack([x, x[::-1]]), [1, 2])
        generators = model.members()
    else:
        generators = model.fit(x, seed=1).draws(2, seed=3)
    samples = [g.sample(50, seed=5) for g in generators]
    logp = [g.log_prob(x[:7]) for g in generators] if MODEL_REGISTRY[name].likelihood else []
    return model, samples, logp


@pytest.mark.parametrize("name", NETWORKS)
def test_every_network_takes_the_device_and_draws_the_same_numbers_on_the_cpu(name):
    """``device="cpu"`` is the default model: same parameters' home, same samples to the bit."""
    model, samples, logp = _trained(name, "cpu")
    assert model.device == torch.device("cpu")
    _, default_samples, default_logp = _trained(name, None)
    for a, b in zip(samples + logp, default_samples + default_logp, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not GPU, reason="no CUDA GPU here")
@pytest.mark.parametrize("name", [n for n in NETWORKS if not MODEL_REGISTRY[n].bayesian])
def test_a_gpu_gives_the_cpus_numbers_up_to_rounding(name):
    """The random numbers are drawn on the CPU for every device: a member trained and sampled on
    a GPU is the CPU's member, up to float32 rounding of a few steps (the Bayesian models draw
    their weights' noise on the device, so they are compared by their statistics elsewhere)."""
    _, gpu, gpu_logp = _trained(name, "cuda")
    _, cpu, cpu_logp = _trained(name, "cpu")
    for a, b in zip(gpu + gpu_logp, cpu + cpu_logp, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


def test_streams_draw_on_the_cpu_and_hand_over_on_the_device():
    """The numbers a member draws do not depend on where they go."""
    a = neural.MemberStreams([1, 2], "cpu")
    b = neural.MemberStreams([1, 2])
    assert torch.equal(a.normal(3, 2), b.normal(3, 2))
    assert torch.equal(a.batches(10, 4), b.batches(10, 4))
    assert a.normal(3, 2).device == torch.device("cpu")


def test_the_device_is_how_a_study_runs_not_what_it_is(tmp_path):
    """A study resumed with another device reuses every finished task (none is redone)."""
    config = StudyConfig(density="camel", models=("cfm",), quantiles=(5,), n_train=100, repetitions=2, seed=3,
                         n_gen=(100,), settings={"cfm": {"hidden": (8,), "steps": 5, "ode_steps": 2}})
    first = run_study(config, tmp_path, workers=1, plots=False)
    assert first.ran == 2 and first.resumed == 0
    again = run_study(config, tmp_path, workers=1, plots=False, device="cpu")
    assert again.ran == 0 and again.resumed == 2
    assert again.records == first.records


def test_the_command_refuses_a_missing_gpu_in_one_line_and_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "study"
    rc = main(["run", "ring", "-m", "cfm", "-r", "2", "--n-train", "100", "--device", "cuda", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip().splitlines() == [
        f"error: device 'cuda': torch sees no CUDA GPU on this machine (torch {torch.__version__}); use --device cpu"
    ]
    assert not out.exists()
