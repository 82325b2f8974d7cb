"""A study whose truth is a pool of events (genamp run --pool, docs/formulas.md §7.5): training
sets drawn from the file, observable bins as volumes, the rows no repetition trained on as the
truth; and genamp estimate --pool with pairs, members and plots."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from conftest import assert_valid_results, size
from genamp.cli import main
from genamp.densities import make_density
from genamp.errors import GenampError
from genamp.estimators.averaging import forecast
from genamp.estimators.truth import CellProbabilities
from genamp.study.config import StudyConfig
from genamp.study.pooltruth import describe, training_rows, training_set, truth_cells
from genamp.study.runner import run_study
from genamp.study.tasks import plan, volume_sets


def _pool(path, events, features=("a", "b")):
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("events", data=events)
        ds.attrs["features"] = list(features)
    return str(path)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """True 2D camel-back events: the study's file."""
    return _pool(tmp_path_factory.mktemp("pool") / "pool.h5", make_density("camels", dim=2).sample(100_000, 1))


def test_a_true_sample_is_worth_itself_against_a_pool(pool, tmp_path):
    """The training set itself (and its bootstrap, generated) measured against the rows it was
    not drawn from: the plateau is c/n_train, within 4 of the record's standard errors (training
    spread over repetitions and the pool's own error), for single observables and the pair."""
    reps = size(30, 200)
    config = StudyConfig(pool=pool, models=("sample", "resample"), repetitions=reps, n_train=200,
                         quantiles=(5, 10), pairs=("a:b",), n_gen=(1000, 20_000), seed=3)  # fmt: skip
    result = run_study(config, tmp_path / "study", workers=1, plots=False)
    data = assert_valid_results(result.results_path)
    assert len(data["records"]) == 2 * 3 * 2  # models × (a, b, a × b) × Q
    union = np.unique(np.concatenate([training_rows(plan(config)[0].spec, r) for r in range(reps)]))
    for rec in data["records"]:
        assert rec["truth"] == "pool" and rec["pool_size"] == 100_000 - union.size
        assert rec["observable"] in ("a", "b", "a × b") and rec["n_cells"] == rec["quantiles"] ** (1 + ("×" in rec["observable"]))
        expected = rec["c"] / rec["n_train"]
        assert abs(rec["plateau"] - expected) < 4 * rec["plateau_error"], rec


def test_the_truth_is_every_row_no_repetition_trained_on(pool):
    config = StudyConfig(pool=pool, models=("sample",), repetitions=7, n_train=500, quantiles=(4,), pairs=("b:a",))
    spec = plan(config)[0].spec
    events = h5py.File(pool, "r")["events"][:]
    keep = np.ones(len(events), dtype=bool)
    for r in range(7):
        keep[training_rows(spec, r)] = False
    truths = truth_cells(spec, range(7))
    for key, volumes in volume_sets(spec).items():
        counted = volumes.count(events[keep])
        assert truths[key].n_events == keep.sum()
        np.testing.assert_array_equal(np.rint(truths[key].p * keep.sum()), counted)


def test_more_repetitions_extend_a_pool_study_without_redoing_any(pool, tmp_path):
    small = StudyConfig(pool=pool, models=("sample", "resample"), repetitions=3, n_train=100, quantiles=(5,),
                        n_gen=(500, 2000))  # fmt: skip
    large = StudyConfig.from_dict({**small.to_dict(), "repetitions": 5})
    a, b = plan(small), plan(large)
    assert [t.key for t in a] == [t.key for t in b[: len(a)]]
    for r in range(3):
        np.testing.assert_array_equal(training_set(a[0].spec, r), training_set(b[0].spec, r))
    run_study(small, tmp_path / "s", workers=1, plots=False)
    again = run_study(large, tmp_path / "s", workers=1, plots=False)
    assert again.resumed == 6 and again.ran == 4


def test_a_pool_file_changed_after_planning_is_an_error(tmp_path):
    path = _pool(tmp_path / "p.h5", make_density("camels", dim=2).sample(10_000, 1))
    spec = {"pool": describe(path), "seed": 1, "n_train": 50}
    _pool(tmp_path / "p.h5", make_density("camels", dim=2).sample(10_000, 2))
    with pytest.raises(GenampError, match="p.h5 changed since the study was planned"):
        training_set(spec, 0)


def test_a_pool_study_writes_its_plots_per_observable(pool, tmp_path):
    config = StudyConfig(pool=pool, models=("sample", "resample"), repetitions=4, n_train=100, quantiles=(5, 10),
                         pairs=("a:b",), n_gen=(500, 2000))  # fmt: skip
    result = run_study(config, tmp_path / "p", workers=1)
    names = sorted(p.name for p in result.plots)
    assert names == ["amplification.png", "mse_a-b.png", "mse_a.png", "mse_b.png", "observables.png"]
    assert all(p.stat().st_size > 10_000 for p in result.plots)


def test_with_the_forecast_every_observable_gets_its_bins_and_every_pair_its_map(pool, tmp_path):
    """Per bin, the pool truth beside the forecast: the table's per-volume truth G, whose
    p(1 − p)-weighted mean of 1/G is the record's 1/G where every volume is resolved, and one
    figure per observable and model."""
    from genamp.report.plots import read_volume_table
    from genamp.study.runner import VOLUME_TABLE

    config = StudyConfig(pool=pool, models=("resample",), methods=("truth", "averaging"), ensemble=4, repetitions=16,
                         n_train=100, quantiles=(3, 5), pairs=("a:b",), n_gen=(500, 20000))  # fmt: skip
    result = run_study(config, tmp_path / "p", workers=1)
    names = sorted(p.name for p in result.plots if p.parent.name == "bins")
    assert names == ["resample_a-b.png", "resample_a.png", "resample_b.png"]
    rows = read_volume_table(tmp_path / "p" / VOLUME_TABLE)
    checked = 0
    for rec in (r for r in result.records if r["method"] == "truth"):
        mine = [r for r in rows if r["observable"] == rec["observable"] and r["quantiles"] == rec["quantiles"]]
        g, p = np.array([r["truth_G"] for r in mine]), np.array([r["p_true"] for r in mine])
        assert np.isfinite([r["truth_G_lower"] for r in mine]).all()
        if np.isfinite(g).all() and rec["resolved"]:
            assert 1 / rec["G"] == pytest.approx(np.average(1 / g, weights=p * (1 - p)), rel=1e-6)
            checked += 1
    assert checked >= 1


def test_the_averaging_forecast_runs_against_a_pool(pool, tmp_path):
    config = StudyConfig(pool=pool, models=("resample",), methods=("truth", "averaging"), ensemble=4,
                         repetitions=3, n_train=200, quantiles=(5,), n_gen=(500, 5000))  # fmt: skip
    result = run_study(config, tmp_path / "a", workers=1, plots=False)
    data = assert_valid_results(result.results_path)
    forecasts = [r for r in data["records"] if r["method"] == "averaging"]
    assert [r["observable"] for r in forecasts] == ["a", "b"] and all(r["truth"] == "pool" for r in forecasts)
    assert all(r["truth_G"] is not None for r in forecasts)
    header = (tmp_path / "a" / "averaging_volumes.csv").read_text().splitlines()[0]
    assert header.startswith("model,observable,quantiles,cell")


def test_a_pools_variance_widens_the_pulls():
    """Against p̂ from M events the pull divides by the pool's variance too (docs/formulas.md §7.4)."""
    rng = np.random.default_rng(0)
    members = rng.dirichlet(np.full(6, 20.0), size=5)
    fc = forecast(members, 1000.0, 100)
    p = np.full(6, 1 / 6)
    exact, pooled = fc.pulls(p), fc.pulls(CellProbabilities(p, 500.0))
    from genamp.estimators.averaging import model_factor

    scale = model_factor(5, "mixture") * np.maximum(fc.sigma2, 0) + fc.binomial / (5 * 1000.0)
    np.testing.assert_allclose(exact, (fc.mean - p) / np.sqrt(scale))
    np.testing.assert_allclose(pooled, (fc.mean - p) / np.sqrt(scale + p * (1 - p) / 500.0))


def _run(capsys, *args):
    rc = main(list(args))
    err = capsys.readouterr().err
    return rc, err.strip().splitlines()


def test_bad_pool_study_input_is_one_line(capsys, pool, tmp_path):
    nan = make_density("camels", dim=2).sample(20_000, 4)
    nan[123, 1] = np.nan
    nan_pool = _pool(tmp_path / "nan.h5", nan)
    tiny = _pool(tmp_path / "tiny.h5", make_density("camels", dim=2).sample(150, 5))
    out = ["--out", str(tmp_path / "o")]
    cases = [
        (["camel", "--pool", pool], "a pool of events and the toy camel are two truths; give one"),
        (["--pool", pool, "-m", "sample,fit"], "fit is the parametric fit of a toy's true family"),
        (["--pool", pool, "--observables", "pt"], "no observable 'pt'; the events have a, b"),
        (["--pool", pool, "--pairs", "a"], "--pairs: a pair is two observables joined by ':', like pt:eta; got 'a'"),
        (["--pool", pool, "--pairs", "a:a"], "names an observable twice"),
        (["--pool", pool, "--pairs", "a:x7"], "no observable 'x7'"),
        (["--pool", pool, "-r", "100", "--n-train", "1000"], "take 100000 of the 100000 events"),
        (["camel", "--observables", "a"], "--observables applies to a pool of events (--pool FILE)"),
        (["--pool", nan_pool, "-m", "sample", "-r", "2", "-q", "5", *out], "nan.h5: 1 of 20000 events contain NaN or inf"),
        (["--pool", tiny, "-m", "sample", "-r", "1", "-q", "10", "--n-train", "60", *out], "a pool, the truth, needs at least that"),
        (["--pool", str(tmp_path / "missing.h5")], "missing.h5: no such file"),
    ]
    for args, message in cases:
        rc, lines = _run(capsys, "run", *args, *([] if "--out" in args else out))
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, lines)


def test_estimate_against_a_pool_with_pairs_members_and_plots(capsys, tmp_path):
    """Four members' files from a wrong camel back: per observable and for the pair, a truth
    record per file set and the averaging forecast of their mixture, valid against the schema;
    the plots are written per observable."""
    truth = make_density("camels", dim=2)
    pool = _pool(tmp_path / "pool.h5", truth.sample(100_000, 1))
    gen = truth.with_params(mu1=-3.8)
    files = [_pool(tmp_path / f"m{k}.h5", gen.sample(20_000, 10 + k)) for k in range(4)]
    out = tmp_path / "r.json"
    rc = main(["estimate", "--pool", pool, *[a for f in files for a in ("-s", f)], "--n-train", "300", "-q", "5",
               "--pairs", "a:b", "--members", "--out", str(out), "--plots", str(tmp_path / "plots")])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    data = assert_valid_results(out)
    kinds = [(r["method"], r["observable"]) for r in data["records"]]
    assert kinds == [(m, o) for m in ("truth", "averaging") for o in ("a", "b", "a × b")]
    assert all(r["pool_size"] == 100_000 for r in data["records"] if r["method"] == "truth")
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["amplification.png", "mse_a-b.png", "mse_a.png", "mse_b.png"]
    assert json.loads(out.read_text())["pool"] == pool
