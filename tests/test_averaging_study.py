"""The averaging method in a study: ensembles and posterior draws per repetition, records,
the per-volume table, plots, resuming, and the command line."""

from __future__ import annotations

import csv
import json
import tracemalloc

import numpy as np
import pytest
import torch

from conftest import assert_valid_results
from genamp.densities import make_density
from genamp.errors import GenampError
from genamp.models.base import ensemble_training_sets
from genamp.seeding import child
from genamp.study import store
from genamp.study.config import DEFAULT_MEMBERS, StudyConfig
from genamp.study.runner import VOLUME_TABLE, run_study
from genamp.study.tasks import _generated, blocks, model_seed, plan, run_block, training_set
from genamp.volumes import QuantileGrid

from test_cli import run_cli

STUDY = dict(density="ring", models=("sample", "resample"), methods=("truth", "averaging"), ensemble=4,
             quantiles=(3, 5), n_train=200, repetitions=3, seed=2, n_gen=(1000, 5000))  # fmt: skip


#: networks small enough for a study in a test (model settings: the task keys say they are small)
TINY = {"cfm": {"hidden": (8, 8), "steps": 20}, "bcfm": {"hidden": (8,), "steps": 20}}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("avg")
    return run_study(StudyConfig(**STUDY), out, workers=1), out


def test_records_stand_beside_the_truth(study):
    result, out = study
    forecasts = [r for r in result.records if r["method"] == "averaging"]
    truth = [r for r in result.records if r["method"] == "truth"]
    assert [(r["model"], r["quantiles"]) for r in forecasts] == [("resample", 3), ("resample", 5)]
    assert len(truth) == 4  # the training sample and the resampler's mixture
    for rec in forecasts:
        assert rec["members"] == 4 and rec["n_gen"] == 5000 and rec["spread"] == {"members": 4, "mode": "bootstrap"}
        mixture = next(t for t in truth if t["model"] == "resample" and t["quantiles"] == rec["quantiles"])
        # the truth method measured the same mixture the forecast speaks of
        assert rec["truth_G"] == pytest.approx(mixture["G"], rel=1e-9)
        assert set(rec["coverage"]) == {"68", "95"} and rec["table"] == VOLUME_TABLE
        assert len(rec["calibration"]["levels"]) == len(rec["calibration"]["observed"])
    data = assert_valid_results(out / "results.json")
    assert [r["method"] for r in data["records"]].count("averaging") == 2


def test_the_volume_table_has_every_cell(study):
    _, out = study
    with open(out / VOLUME_TABLE, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3**2 + 5**2
    density = make_density("ring")
    grid = QuantileGrid.from_density(density, 5)
    mine = [r for r in rows if r["quantiles"] == "5"]
    np.testing.assert_allclose([float(r["p_true"]) for r in mine], grid.probabilities)
    assert {r["rep0_status"] for r in rows} <= {"resolved", "unresolved", "few events", "empty"}


def test_plots_of_the_forecast(study):
    result, _ = study
    names = {p.name for p in result.plots}
    assert {"forecast.png", "calibration.png", "volumes_resample.png"} <= names
    assert all(p.is_file() for p in result.plots)


def test_a_finished_study_resumes_without_work(study):
    result, out = study
    again = run_study(StudyConfig(**STUDY), out, workers=1, plots=False)
    assert again.ran == 0
    assert json.dumps(again.records, default=str) == json.dumps(result.records, default=str)


def test_task_files_hold_every_member(study):
    _, out = study
    task = next(t for t in plan(StudyConfig(**STUDY)) if t.model == "resample" and t.repetition == 1)
    output = store.read_task(task.path(out))
    members = output.members[5]
    assert members.shape == (4, 2, 25)
    np.testing.assert_allclose(output.occupancies[5].fractions, members.mean(axis=0))
    np.testing.assert_array_equal(output.occupancies[5].n, [4000.0, 20000.0])
    assert len({members[k, -1].tobytes() for k in range(4)}) == 4


# ---- configuration -----------------------------------------------------------------------------
def test_averaging_needs_generators_with_a_spread():
    with pytest.raises(GenampError, match="needs generators"):
        StudyConfig(models=("sample", "fit"), methods=("averaging",))
    with pytest.raises(GenampError, match="--method truth,averaging"):
        StudyConfig(models=("sample", "cfm"), methods=("averaging",))
    with pytest.raises(GenampError, match="no spread"):
        StudyConfig(methods=("averaging",), ensemble=1)
    with pytest.raises(GenampError, match="ensemble mode"):
        StudyConfig(methods=("averaging",), ensemble_mode="jackknife")


def test_averaging_defaults():
    cfg = StudyConfig(methods=("averaging",))
    assert cfg.models == ("cfm",) and cfg.ensemble == DEFAULT_MEMBERS and cfg.ensemble_mode == "bootstrap"
    assert cfg.spread_of("cfm") == {"members": DEFAULT_MEMBERS, "mode": "bootstrap"}
    both = StudyConfig(methods=("averaging",), models=("cfm", "bcfm"))
    assert both.spread_of("bcfm") == {"draws": DEFAULT_MEMBERS, "kl_weight": 1.0, "init_logvar": -9.0}
    assert cfg.bayesian == 0  # no Bayesian model: nothing to draw
    assert StudyConfig().spread_of("cfm") is None  # the truth method alone trains one network


# ---- the tasks -----------------------------------------------------------------------------------
def test_an_ensemble_block_trains_whole_repetitions():
    cfg = StudyConfig(density="camel", models=("cfm",), methods=("averaging",), ensemble=3, quantiles=(4,),
                      repetitions=8, n_gen=(100, 300), settings={"cfm": TINY["cfm"]})  # fmt: skip
    tasks = plan(cfg)
    items = blocks(tasks, block_size=7)
    assert [[t.repetition for t in b] for b in items] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    outputs = dict(run_block(items[0]))
    for task, out in outputs.items():
        assert out.meta["status"] == "ok" and out.members[4].shape == (3, 2, 4)
        assert len(out.meta["final_loss"]) == 3
    # members see bootstrap resamples of their repetition's training set, drawn from its seed
    task = items[0][1]
    xs = ensemble_training_sets(training_set(task.spec, 1), 3, "bootstrap", child(model_seed(task.spec, "cfm", 1), 2))
    assert not np.array_equal(xs[0], xs[1])


def test_posterior_draws_are_the_generators_of_a_bayesian_model():
    cfg = StudyConfig(density="camel", models=("bcfm",), methods=("averaging",), bayesian=3, kl_weight=0.5,
                      init_logvar=-5.0, quantiles=(4,), repetitions=1, n_gen=(100, 300),
                      settings={"bcfm": TINY["bcfm"]})  # fmt: skip
    (task,) = plan(cfg)
    assert task.spread == {"draws": 3, "kl_weight": 0.5, "init_logvar": -5.0}
    ((_, out),) = run_block([task])
    assert out.meta["status"] == "ok", out.meta
    assert out.members[4].shape == (3, 2, 4)
    assert len({out.members[4][k, -1].tobytes() for k in range(3)}) == 3


def test_members_are_streamed_one_after_the_other():
    """K generators of n_gen events each: memory holds one chunk, never K × n_gen events."""
    density = make_density("ring")
    grids = [QuantileGrid.from_density(density, 5)]

    def peak(k: int) -> int:
        cfg = StudyConfig(density="ring", models=("resample",), methods=("averaging",), ensemble=max(k, 2),
                          quantiles=(5,), repetitions=1, n_gen=(200_000,))  # fmt: skip
        (task,) = plan(cfg)
        samplers = [lambda n, seed: density.sample(n, seed)] * k
        tracemalloc.start()
        try:
            out = _generated(samplers, [child(1, m) for m in range(k)], task, grids)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert k == 1 or out.members[5].shape == (k, 1, 25)

    # one generator's sampling sets the peak; six in a row must not need six times that
    assert peak(6) < 1.5 * peak(1)


# ---- command line ------------------------------------------------------------------------------
def test_the_command_prints_forecast_and_truth(capsys, tmp_path):
    out_dir = tmp_path / "cli"
    rc, out, err = run_cli(
        capsys, "run", "ring", "--out", str(out_dir), "-m", "resample", "--method", "truth,averaging",
        "-K", "4", "-r", "2", "-q", "4", "--n-gen", "1000,5000", "-j", "1",
    )
    assert rc == 0, err
    assert "averaging forecast" in out and "truth-based" in out
    assert (out_dir / VOLUME_TABLE).is_file() and (out_dir / "calibration.png").is_file()


def test_the_command_refuses_one_member(capsys, tmp_path):
    rc, _, err = run_cli(capsys, "run", "ring", "--out", str(tmp_path), "--method", "averaging", "-K", "1")
    assert rc == 2 and "no spread" in err


def test_estimate_forecasts_a_users_ensemble_files(capsys, tmp_path):
    """K files of one training: the forecast of their mixture beside its truth-based G."""
    density = make_density("ring")
    x = density.sample(100, 1)
    rng = np.random.default_rng(0)
    paths = []
    for k in range(4):
        member = x[rng.integers(0, 100, 100)]
        events = member[rng.integers(0, 100, 5000)] + rng.normal(0, 0.4, (5000, 2))
        paths += ["-s", str(tmp_path / f"m{k}.npy")]
        np.save(tmp_path / f"m{k}.npy", events)
    out_file = tmp_path / "est.json"
    rc, out, err = run_cli(capsys, "estimate", "ring", *paths, "--n-train", "100", "-q", "5", "--members", "-o", str(out_file))
    assert rc == 0, err
    assert "averaging forecast" in out
    data = assert_valid_results(out_file)
    (rec,) = [r for r in data["records"] if r["method"] == "averaging"]
    assert rec["members"] == 4 and rec["n_gen"] == 5000 and rec["repetitions"] == 1
    # how many events to generate, from the same forecast, in the file and in one printed line
    assert rec["n_gen_90"] is not None and data["generation"][rec["model"]]["n_gen"] <= rec["n_gen_90"]
    assert sum(line.startswith("advice: ") for line in err.splitlines()) == len(data["generation"]) >= 1
    rc, _, err = run_cli(capsys, "estimate", "ring", *paths[:2], "--n-train", "100", "--members")
    assert rc == 2 and "at least 2 files" in err


# ---- closure with a known answer -----------------------------------------------------------------
def test_closure_of_bootstrap_resamplers_through_a_study(tmp_path):
    """An ensemble of K resamplers, each of a bootstrap resample of the training set, has a known
    answer. Each member's cell integral is a bootstrap occupancy: the members spread by
    p(1−p)/n_train about the training set's own occupancy, which misses the truth by just that.
    So the forecast and the truth of the mixture both equal G∞ = 1/(1 + 1/K)."""
    k = 10
    cfg = StudyConfig(density="ring", models=("resample",), methods=("truth", "averaging"), ensemble=k,
                      quantiles=(4,), n_train=400, repetitions=30, seed=11, n_gen=(200_000,))  # fmt: skip
    result = run_study(cfg, tmp_path, workers=1, plots=False)
    (rec,) = [r for r in result.records if r["method"] == "averaging"]
    expected = 1 / (1 + 1 / k)
    assert abs(rec["G_inf"] - expected) < 4 * rec["G_inf_std"], rec["G_inf"]
    assert abs(rec["truth_G"] - expected) < 4 * rec["truth_G_std"], rec["truth_G"]
    # a calibrated forecast that agrees with the truth has no verdict against it
    assert not any("not calibrated" in w or "standard errors" in w for w in rec["warnings"]), rec["warnings"]


def test_seed_members_of_one_training_set_are_caught(tmp_path):
    """Resamplers of the same training set differ only by their sampling: their spread says the
    model is exact, while the mixture misses the truth by the training set's fluctuation. The
    forecast must not pass for calibrated."""
    cfg = StudyConfig(density="ring", models=("resample",), methods=("averaging",), ensemble=10,
                      ensemble_mode="seed", quantiles=(4,), n_train=400, repetitions=10, seed=11,
                      n_gen=(20_000,))  # fmt: skip
    (rec,) = run_study(cfg, tmp_path, workers=1, plots=False).records
    assert rec["truth_G"] < 2
    assert rec["G_inf"] is None or rec["G_inf"] > 10 * rec["truth_G"]
    ref = rec["reference_coverage"]["68"]
    assert ref - rec["coverage"]["68"] > 4 * np.sqrt(ref * (1 - ref) / (10 * 16))
    # the verdict travels with the record (results.json, Python), not only on the command line
    assert any(w.startswith("not calibrated on this toy") for w in rec["warnings"]), rec["warnings"]
    stored = json.loads((tmp_path / "results.json").read_text())["records"][0]["warnings"]
    assert stored == rec["warnings"]


def test_g_against_n_train_is_drawn_from_several_studies(tmp_path):
    """Two small studies at n_train 100 and 300 give one panel with truth and forecast lines."""
    from genamp.report.plots import plot_g_vs_n_train

    records = []
    for n_train in (100, 300):
        cfg = StudyConfig(density="ring", models=("resample",), methods=("truth", "averaging"), ensemble=4,
                          repetitions=3, n_train=n_train, quantiles=(3, 5), n_gen=(1000, 5000))  # fmt: skip
        records += run_study(cfg, tmp_path / f"n{n_train}", workers=1, plots=False).records
    path = plot_g_vs_n_train(records, tmp_path / "g.png")
    assert path.stat().st_size > 10_000
    assert {r["n_train"] for r in records if r["method"] == "averaging"} == {100, 300}
