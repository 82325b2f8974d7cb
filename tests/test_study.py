"""Studies: same seed same numbers, resumable after any stop, failures kept by name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from genamp.errors import FitFailed, GenampError
from genamp.models.fit import ParametricFit
from genamp.models.registry import MODEL_REGISTRY, ModelEntry
from genamp.study.config import StudyConfig
from genamp.study.runner import StudyInterrupted, run_study
from genamp.study.tasks import plan

SMALL = dict(
    density="camel",
    models=("sample", "fit", "resample"),
    quantiles=(5, 10),
    n_train=100,
    repetitions=6,
    seed=3,
    n_gen=(100, 1000, 10_000),
)


def records(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())["records"]


def task_files(out: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted((out / "tasks").glob("*/*.npz"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    run_study(StudyConfig(**SMALL), out, workers=1, plots=False)
    return out


def test_results_hold_the_promised_fields(reference):
    recs = records(reference)
    assert {(r["model"], r["quantiles"]) for r in recs} == {(m, q) for m in SMALL["models"] for q in (5, 10)}
    for r in recs:
        for key in ("method", "model", "density", "quantiles", "n_train", "n_equiv", "G", "G_std", "repetitions"):
            assert key in r, key
        assert r["method"] == "truth" and r["density"] == "camel" and r["repetitions"] == 6
        assert r["G"] == pytest.approx(r["n_equiv"] / r["n_train"])
        assert r["G_spread"][0] <= r["G_median"] <= r["G_spread"][1]


def test_same_seed_same_numbers_with_any_number_of_workers(reference, tmp_path):
    run_study(StudyConfig(**SMALL), tmp_path, workers=2, plots=False)
    assert records(tmp_path) == records(reference)


def test_another_seed_gives_other_numbers(reference, tmp_path):
    run_study(StudyConfig(**{**SMALL, "seed": 4}), tmp_path, workers=1, plots=False)
    assert records(tmp_path) != records(reference)


def test_running_again_redoes_nothing(reference):
    before = task_files(reference)
    result = run_study(StudyConfig(**SMALL), reference, workers=1, plots=False)
    assert result.ran == 0 and result.resumed == len(before)
    assert task_files(reference) == before


def test_interrupted_study_resumes_to_identical_results(reference, tmp_path):
    total = len(plan(StudyConfig(**SMALL)))

    def stop_after_seven(done, total_, summary):
        if summary.get("task") is not None and done == 7:
            raise KeyboardInterrupt

    with pytest.raises(StudyInterrupted, match=f"stopped with 7 of {total} tasks saved"):
        run_study(StudyConfig(**SMALL), tmp_path, workers=1, progress=stop_after_seven, plots=False)
    saved = task_files(tmp_path)
    assert len(saved) == 7 and not (tmp_path / "results.json").exists()
    result = run_study(StudyConfig(**SMALL), tmp_path, workers=1, plots=False)
    assert (result.resumed, result.ran) == (7, total - 7)
    assert all(task_files(tmp_path)[p] == v for p, v in saved.items())  # finished work untouched
    assert records(tmp_path) == records(reference)


def test_more_repetitions_reuse_the_finished_ones(reference, tmp_path):
    config = StudyConfig(**{**SMALL, "repetitions": 4})
    run_study(config, tmp_path, workers=1, plots=False)
    result = run_study(StudyConfig(**SMALL), tmp_path, workers=1, plots=False)
    assert result.ran == 2 * len(SMALL["models"])
    assert records(tmp_path) == records(reference)


def test_a_corrupt_task_file_and_stale_temporaries_are_redone(reference, tmp_path):
    run_study(StudyConfig(**SMALL), tmp_path, workers=1, plots=False)
    victim = sorted((tmp_path / "tasks").glob("fit-*/*.npz"))[2]
    victim.write_bytes(b"not a zip file")
    stale = victim.parent / ".tmp-killed-task"
    stale.write_bytes(b"half written")
    result = run_study(StudyConfig(**SMALL), tmp_path, workers=1, plots=False)
    assert result.ran == 1 and not stale.exists()
    assert records(tmp_path) == records(reference)


class FlakyFit(ParametricFit):
    """A fit that fails on training sets whose first event is negative."""

    def fit(self, x_train, seed=None):
        if x_train[0, 0] < 0:
            raise FitFailed("flaky fit: first event negative")
        return super().fit(x_train, seed)


def test_failed_repetitions_are_reported_by_name_and_the_rest_is_used(tmp_path, monkeypatch):
    # a deliberately failing model registered for the test (not a setting of a real one)
    monkeypatch.setitem(MODEL_REGISTRY, "flaky", ModelEntry(FlakyFit, sampled=False, description="test"))
    config = StudyConfig(**{**SMALL, "models": ("fit", "flaky"), "repetitions": 10, "n_gen": None})
    result = run_study(config, tmp_path, workers=1, plots=False)
    failed = sorted(f["repetition"] for f in result.failures)
    assert failed and len(failed) < 10
    assert all(f["model"] == "flaky" and "first event negative" in f["error"] for f in result.failures)
    rec = next(r for r in result.records if r["model"] == "flaky" and r["quantiles"] == 10)
    assert (rec["n_failed"], rec["repetitions"]) == (len(failed), 10 - len(failed))
    assert json.loads((tmp_path / "results.json").read_text())["failures"] == result.failures
    # failures are results: not redone, unless asked
    assert run_study(config, tmp_path, workers=1, plots=False).ran == 0
    assert run_study(config, tmp_path, workers=1, plots=False, retry_failed=True).ran == len(failed)


class BuggyFit(ParametricFit):
    def fit(self, x_train, seed=None):
        if x_train[0, 0] > 0:
            return 1 / 0
        return super().fit(x_train, seed)


def test_a_crash_names_the_task_keeps_the_traceback_and_the_finished_work(tmp_path, monkeypatch):
    # a deliberately broken model registered for the test of crash handling (no setting makes one)
    monkeypatch.setitem(MODEL_REGISTRY, "buggy", ModelEntry(BuggyFit, sampled=False, description="test"))
    config = StudyConfig(**{**SMALL, "models": ("sample", "buggy"), "repetitions": 10, "n_gen": None})
    with pytest.raises(GenampError, match=r"task buggy rep \d+ crashed \(ZeroDivisionError"):
        run_study(config, tmp_path, workers=1, plots=False)
    assert "ZeroDivisionError" in (tmp_path / "crash.log").read_text()
    assert len(task_files(tmp_path)) >= 1


def test_ctrl_c_on_a_real_run_then_the_same_command_resumes(tmp_path):
    """A real SIGINT to the command with a process pool: it stops, says how to resume, and the
    second run redoes nothing finished and ends with the numbers of an uninterrupted run."""
    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "genamp.cli", "run", "camel", "--out", str(out), "-r", "60", "-j", "2",
           "-m", "sample,fit,resample", "-q", "10", "--n-gen", "1e3,1e6", "--seed", "5"]
    env = {**os.environ, "COLUMNS": "200"}
    # as in an interactive shell: a shell without job control starts background jobs with SIGINT
    # ignored, and Python then installs no KeyboardInterrupt (CI run as `.ci/run &` did that)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("tasks/*/*.npz"))) < 4:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "stopped:" in stderr and "run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    saved = task_files(out)
    assert 4 <= len(saved) < 180
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr
    assert f"resumed: {len(saved)} finished task(s)" in second.stderr
    assert all(task_files(out)[p] == v for p, v in saved.items())
    config = StudyConfig(density="camel", models=("sample", "fit", "resample"), quantiles=(10,), n_train=100,
                         repetitions=60, seed=5, n_gen=(1000, 10**6))
    run_study(config, tmp_path / "reference", workers=1, plots=False)
    assert records(out) == records(tmp_path / "reference")


def test_bad_study_settings_fail_before_any_work(tmp_path):
    for bad, message in [
        ({"n_train": 1}, "n_train must be at least 2"),
        ({"quantiles": (10, 1)}, "quantiles must be at least 2"),
        ({"models": ("sample", "vae")}, "unknown model vae"),
        ({"repetitions": 0}, "repetitions must be at least 1"),
        ({"n_gen": (1000, 100)}, "n_gen must increase"),
        ({"density": "shell", "density_params": {"dim": 6}, "quantiles": (50,)}, "cells"),
    ]:
        with pytest.raises(GenampError, match=message):
            StudyConfig(**{**SMALL, **bad})
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(GenampError, match="cannot write to output directory"):
        run_study(StudyConfig(**SMALL), blocker / "out", workers=1)
    with pytest.raises(GenampError, match="workers must be at least 1"):
        run_study(StudyConfig(**SMALL), tmp_path / "w", workers=0)


def test_plots_are_written(tmp_path):
    config = StudyConfig(**{**SMALL, "density": "ring", "repetitions": 3})
    result = run_study(config, tmp_path, workers=1)
    names = sorted(p.name for p in result.plots)
    assert names == ["amplification.png", "density.png", "mse_Q10.png", "mse_Q5.png"]
    assert all(p.stat().st_size > 10_000 for p in result.plots)
    assert np.isfinite([r["G"] for r in result.records]).all()
