"""Network models in ensembles and studies: members, divergences, vectorised blocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from genamp.densities import make_density
from genamp.errors import GenampError
from genamp.models import cfm, gan, neural
from genamp.models.cfm import FlowMatching
from genamp.models.ensemble import Ensemble, ensemble_training_sets
from genamp.models.gan import GAN
from genamp.models.neural import NeuralGenerator, Stacked, TrainingDiverged, as_seed_sequence
from genamp.seeding import child
from genamp.study import store
from genamp.study.config import StudyConfig
from genamp.study.runner import run_study
from genamp.study.tasks import blocks, plan, run_block

TINY_CFM = dict(hidden=(16, 16), steps=50)
TINY_GAN = dict(latent=8, hidden=(16, 16), embedding=(8, 8, 4), epochs=4, lr=1e-3)

STUDY = dict(density="camel", models=("sample", "cfm"), quantiles=(5,), n_train=100, repetitions=4, seed=3,
             n_gen=(100, 1000), settings={"cfm": TINY_CFM})

#: the step from which a poisoned member's loss is NaN
POISON_STEP = 3


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def poison_cfm(monkeypatch: pytest.MonkeyPatch, member: int) -> None:
    """Member ``member``'s regression target is NaN from step POISON_STEP on (one call a step)."""
    straight_path = cfm.straight_path
    calls = iter(range(10**9))

    def poisoned(x0, x1, t):
        xt, target = straight_path(x0, x1, t)
        if next(calls) >= POISON_STEP:
            target = target.clone()
            target[member] = float("nan")
        return xt, target

    monkeypatch.setattr(cfm, "straight_path", poisoned)


def poison_gan(monkeypatch: pytest.MonkeyPatch, member: int) -> None:
    """Member ``member``'s discriminator loss is NaN from step POISON_STEP on (one call a step)."""
    loss = gan.GAN._discriminator_loss
    calls = iter(range(10**9))

    def poisoned(self, *args):
        out = loss(self, *args)
        if next(calls) >= POISON_STEP:
            nan = torch.ones_like(out)
            nan[member] = float("nan")
            out = out * nan  # NaN gradients too, as a real divergence gives
        return out

    monkeypatch.setattr(gan.GAN, "_discriminator_loss", poisoned)


MODELS: dict[str, tuple[Callable[[], NeuralGenerator], Callable[[pytest.MonkeyPatch, int], None]]] = {
    "cfm": (lambda: FlowMatching(**TINY_CFM), poison_cfm),
    "gan": (lambda: GAN(**TINY_GAN), poison_gan),
}


# ---- ensembles -------------------------------------------------------------------------------
def bootstrap_distinct(n: int) -> tuple[float, float]:
    """Mean and variance of the number of distinct events in a bootstrap resample of ``n``.

    With I_i the indicator that event i is drawn at least once, P(I_i) = 1 − (1 − 1/n)^n and
    P(I_i I_j) = 1 − 2(1 − 1/n)^n + (1 − 2/n)^n, which give the variance of their sum.
    """
    p0, p00 = (1 - 1 / n) ** n, (1 - 2 / n) ** n
    mean = n * (1 - p0)
    var = n * p0 * (1 - p0) + n * (n - 1) * (p00 - p0**2)
    return mean, var


def capture_training_sets(monkeypatch: pytest.MonkeyPatch, model: NeuralGenerator) -> list[np.ndarray]:
    seen: list[np.ndarray] = []
    fit_members = model.fit_members

    def spy(xs, seeds):
        seen.append(np.array(xs))
        return fit_members(xs, seeds)

    monkeypatch.setattr(model, "fit_members", spy)
    return seen


def test_seed_ensemble_members_train_on_copies_with_their_own_seeds(monkeypatch):
    x = make_density("camel").sample(200, 1)
    model = FlowMatching(**TINY_CFM)
    seen = capture_training_sets(monkeypatch, model)
    ensemble = Ensemble(model, n_members=3, mode="seed").fit(x, seed=5)
    (xs,) = seen
    assert xs.shape == (3, 200, 1)
    assert all(np.array_equal(member, x) for member in xs)
    np.testing.assert_array_equal(xs, ensemble_training_sets(x, 3, "seed", 0))
    # same data, different seeds: different models
    a, b = (m.sample(200, seed=1) for m in ensemble.members()[:2])
    assert not np.allclose(a, b)


def test_bootstrap_ensemble_members_train_on_resamples(monkeypatch):
    n, k = 200, 8
    x = make_density("camel").sample(n, 1)
    model = FlowMatching(**TINY_CFM)
    seen = capture_training_sets(monkeypatch, model)
    Ensemble(model, n_members=k, mode="bootstrap").fit(x, seed=5)
    (xs,) = seen
    # the resamples are those of the ensemble's data stream, each drawn from the training set
    np.testing.assert_array_equal(xs, ensemble_training_sets(x, k, "bootstrap", child(as_seed_sequence(5), 0)))
    assert np.isin(xs, x).all()
    assert len({member.tobytes() for member in xs}) == k
    # with replacement: the number of distinct events per member follows the bootstrap law
    # (mean 126.8 of 200, sd 4.1; a mean of 8 members within 4 of its standard errors)
    distinct = np.array([len(np.unique(member)) for member in xs])
    mean, var = bootstrap_distinct(n)
    assert abs(distinct.mean() - mean) < 4 * np.sqrt(var / k), (distinct, mean)


def test_a_bad_ensemble_mode_is_a_clear_error():
    x = make_density("camel").sample(50, 1)
    with pytest.raises(GenampError, match=r"ensemble mode must be one of seed, bootstrap, got 'jackknife'"):
        Ensemble(FlowMatching(**TINY_CFM), n_members=2, mode="jackknife").fit(x, seed=0)


def test_the_ensemble_mixture_reproduces_with_its_seed():
    x = make_density("camel").sample(200, 1)
    ensemble = Ensemble(FlowMatching(**TINY_CFM), n_members=3).fit(x, seed=5)
    a = ensemble.sample(500, seed=1)
    assert a.shape == (500, 1) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, ensemble.sample(500, seed=1))
    assert not np.array_equal(a, ensemble.sample(500, seed=2))
    # the same fit again gives the same mixture
    again = Ensemble(FlowMatching(**TINY_CFM), n_members=3).fit(x, seed=5)
    np.testing.assert_array_equal(a, again.sample(500, seed=1))


# ---- divergence ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_diverging_member_is_named_and_leaves_the_others_alone(name, monkeypatch):
    """Member 1's loss turns NaN at step 3; members 0 and 2 must be what they are without it.

    Run in float64: the members are then equal to ~1e-15, while any leak of member 1's NaNs or
    of its frozen state into the others would show at once (NaN, or a learning step's 1e-3).
    (In float32 the adversarial training amplifies the rounding of differently batched
    kernels beyond any fixed tolerance; see tests/test_gan.py.)
    """
    make, poison = MODELS[name]
    monkeypatch.setattr(neural, "DTYPE", torch.float64)
    monkeypatch.setattr(gan, "DTYPE", torch.float64)
    monkeypatch.setattr(cfm, "DTYPE", torch.float64)
    truth = make_density("camel")
    xs = np.stack([truth.sample(40, s) for s in (1, 2, 3)])
    seeds = [10, 11, 12]
    clean = make().fit_members(xs[[0, 2]], [seeds[0], seeds[2]])
    with monkeypatch.context() as m:
        poison(m, 1)
        model = make().fit_members(xs, seeds)
    assert list(model.diverged) == [1]
    assert (model.diverged[1].member, model.diverged[1].step) == (1, POISON_STEP)
    assert np.isnan(model.diverged[1].loss)
    with pytest.raises(TrainingDiverged, match=rf"{name} member 1 diverged at step {POISON_STEP}"):
        model.member(1).sample(10, seed=0)
    # the diverged member is frozen with its gradients zeroed: its NaNs stay out of its weights
    networks = [v for v in vars(model).values() if isinstance(v, Stacked)]
    assert len(networks) == {"cfm": 1, "gan": 2}[name]
    for network in networks:
        assert all(bool(torch.isfinite(p).all()) for p in network.params.values())
    for k, j in ((0, 0), (2, 1)):
        np.testing.assert_allclose(model.member(k).sample(300, seed=4), clean.member(j).sample(300, seed=4),
                                   rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(model.losses[:, k], clean.losses[:, j], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_single_diverging_model_raises_on_fit(name, monkeypatch):
    make, poison = MODELS[name]
    poison(monkeypatch, 0)
    with pytest.raises(TrainingDiverged, match=rf"{name} member 0 diverged at step {POISON_STEP} \(loss nan\)"):
        make().fit(make_density("camel").sample(40, 1), seed=1)


def test_an_ensemble_names_its_diverged_member(monkeypatch):
    poison_cfm(monkeypatch, 1)
    ensemble = Ensemble(FlowMatching(**TINY_CFM), n_members=3).fit(make_density("camel").sample(50, 1), seed=2)
    assert ensemble.diverged == [f"cfm member 1 diverged at step {POISON_STEP} (loss nan)"]
    with pytest.raises(TrainingDiverged, match="cfm member 1 diverged"):
        ensemble.sample(100, seed=0)
    with pytest.raises(TrainingDiverged, match="cfm member 1 diverged"):
        ensemble.members()[1].sample(100, seed=0)
    assert np.isfinite(ensemble.members()[0].sample(100, seed=0)).all()


# ---- studies ---------------------------------------------------------------------------------
def task_files(out: Path, model: str) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted((out / "tasks").glob(f"{model}-*/*.npz"))}


@pytest.fixture(scope="module")
def clean_study(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    result = run_study(StudyConfig(**STUDY), out, workers=1, plots=False)
    assert result.ran == 8 and result.failures == []
    return out


def test_a_network_study_writes_a_task_per_repetition_and_resumes(clean_study):
    files = task_files(clean_study, "cfm")
    assert [p.name for p in files] == [f"rep{r:05d}.npz" for r in range(4)]
    assert len(task_files(clean_study, "sample")) == 4
    for path in files:
        meta = store.read_task(path).meta
        assert meta["status"] == "ok" and meta["block"] == 4  # one vectorised block of 4
        assert np.isfinite(meta["final_loss"])
    recs = json.loads((clean_study / "results.json").read_text())["records"]
    rec = next(r for r in recs if r["model"] == "cfm")
    assert (rec["repetitions"], rec["n_failed"], rec["quantiles"]) == (4, 0, 5)
    assert rec["n_equiv"] is not None and rec["n_equiv"] > 0
    again = run_study(StudyConfig(**STUDY), clean_study, workers=1, plots=False)
    assert (again.ran, again.resumed) == (0, 8)
    assert task_files(clean_study, "cfm") == files
    assert json.loads((clean_study / "results.json").read_text())["records"] == recs


def test_a_repetition_in_a_block_is_the_repetition_alone(clean_study):
    """A block trains member k with repetition k's seeds: run alone, it gives the same counts.

    Batched and single kernels round differently (float32, ~1e-6 on events of size ~4), which
    may move an event lying within 1e-6 of a cell edge into the neighbouring cell: counts may
    differ by one event per edge at most (and rarely do: ~1e-3 of such an event here).
    """
    task = next(t for t in plan(StudyConfig(**STUDY)) if t.model == "cfm" and t.repetition == 2)
    ((_, alone),) = list(run_block([task]))
    assert alone.meta["status"] == "ok" and alone.meta["block"] == 1
    blocked = store.read_task(task.path(clean_study))
    for q, occ in alone.occupancies.items():
        np.testing.assert_array_equal(occ.n, blocked.occupancies[q].n)
        counts = occ.fractions * occ.n[:, None]
        assert np.abs(counts - blocked.occupancies[q].fractions * occ.n[:, None]).max() <= 1 + 1e-9


def test_a_diverged_repetition_is_a_failure_and_the_others_count(clean_study, tmp_path, monkeypatch):
    poison_cfm(monkeypatch, 2)  # member 2 of the block of repetitions 0-3
    out = tmp_path / "poisoned"
    result = run_study(StudyConfig(**STUDY), out, workers=1, plots=False)
    assert [(f["model"], f["repetition"]) for f in result.failures] == [("cfm", 2)]
    assert f"repetition 2 diverged at step {POISON_STEP}" in result.failures[0]["error"]
    rec = next(r for r in result.records if r["model"] == "cfm")
    assert (rec["repetitions"], rec["n_failed"]) == (3, 1)
    assert rec["n_equiv"] is not None
    # the other repetitions are those of the clean study, trained in a block of the same size
    mine = {p.name: p for p in task_files(out, "cfm")}
    theirs = {p.name: p for p in task_files(clean_study, "cfm")}
    assert store.read_task(mine["rep00002.npz"]).meta["status"] == "failed"
    for r in (0, 1, 3):
        a, b = store.read_task(mine[f"rep{r:05d}.npz"]), store.read_task(theirs[f"rep{r:05d}.npz"])
        assert a.meta["status"] == "ok"
        for q in STUDY["quantiles"]:
            np.testing.assert_array_equal(a.occupancies[q].fractions, b.occupancies[q].fractions)


def sizes(items: list[list], model: str) -> list[int]:
    return [len(b) for b in items if b[0].model == model]


def test_blocks_group_a_networks_repetitions_in_fixed_blocks():
    config = StudyConfig(**{**STUDY, "models": ("sample", "fit", "cfm", "gan"), "repetitions": 10})
    tasks = plan(config)
    items = blocks(tasks, block_size=4)
    assert sorted(id(t) for b in items for t in b) == sorted(id(t) for t in tasks)  # each task once
    assert all(len({t.model for t in b}) == 1 for b in items)
    assert sizes(items, "sample") == sizes(items, "fit") == [1] * 10
    assert sizes(items, "cfm") == sizes(items, "gan") == [4, 4, 2]
    for b in items:
        assert [t.repetition for t in b] == list(range(b[0].repetition, b[0].repetition + len(b)))
    assert sizes(blocks(tasks, block_size=20), "cfm") == [10]
    # a resumed study keeps the blocks' composition: repetition r stays in block r // size
    todo = [t for t in tasks if t.repetition not in (1, 2)]
    assert [[t.repetition for t in b] for b in blocks(todo, block_size=4) if b[0].model == "cfm"] == [[0, 3], [4, 5, 6, 7], [8, 9]]
