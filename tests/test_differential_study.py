"""The differential method in a study: measured inside each task, one record per model."""

from __future__ import annotations

import json

import pytest

from conftest import assert_valid_results
from genamp.errors import GenampError
from genamp.study import store
from genamp.study.config import StudyConfig
from genamp.study.runner import run_study
from genamp.study.tasks import plan

from test_averaging_study import TINY

STUDY = dict(density="camel", models=("cfm",), methods=("truth", "averaging", "differential"), ensemble=3,
             quantiles=(5,), repetitions=2, seed=4, n_gen=(500, 2000), settings={"cfm": TINY["cfm"]})  # fmt: skip


@pytest.fixture
def study(tmp_path):
    return run_study(StudyConfig(**STUDY), tmp_path, workers=1), tmp_path


def test_one_record_per_model_beside_the_others(study):
    result, out = study
    methods = [r["method"] for r in result.records]
    assert methods == ["truth", "averaging", "differential"]
    rec = result.records[-1]
    assert rec["members"] == 3 and rec["repetitions"] == 2 and rec["quantiles"] is None
    for part in ("forecast", "forecast_member", "truth", "truth_member"):
        assert set(rec[part]) >= {"delta", "n_equiv", "G"}
    assert 0 <= rec["forecast"]["pairs_resolved_fraction"] <= 1
    assert 0 <= rec["classifier"]["auc"] <= 1 and 0 < rec["classifier"]["ess_fraction"] <= 1
    assert len(rec["profile"]["y"]) == len(rec["profile"]["G"])
    assert sum(rec["classifier"]["weight_counts"]) > 0
    assert (out / "differential_cfm.png").is_file()
    assert [r["method"] for r in assert_valid_results(out / "results.json")["records"]] == methods
    task = plan(StudyConfig(**STUDY))[0]
    measured = store.read_task(task.path(out)).differential
    assert measured.pairs.delta.shape == (3, 3) and measured.members.delta.shape == (3,)
    assert measured.to_arrays()["members"].shape == (3, 3)


def test_a_differential_study_resumes_without_work(study):
    result, out = study
    again = run_study(StudyConfig(**STUDY), out, workers=1, plots=False)
    assert again.ran == 0
    assert json.dumps(again.records) == json.dumps(json.loads((out / "results.json").read_text())["records"])


def test_differential_needs_a_likelihood():
    with pytest.raises(GenampError, match="likelihood"):
        StudyConfig(models=("sample", "gan"), methods=("differential",))
    with pytest.raises(GenampError, match="give.* nothing"):
        StudyConfig(models=("gan", "cfm"), methods=("differential",))
