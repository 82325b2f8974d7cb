"""Model settings (StudyConfig.settings): the task keys they change and those they leave alone."""

from __future__ import annotations

import json

import pytest
import torch

from genamp import _validate
from genamp.errors import GenampError
from genamp.models.registry import MODEL_REGISTRY
from genamp.study.config import StudyConfig
from genamp.study.runner import PREVIOUS, run_study
from genamp.study.tasks import plan

#: the fields of a task's spec of a sampled model at the defaults (no "options": the keys of
#: studies written before settings existed)
DEFAULT_SPEC = {"format", "density", "model", "n_train", "seed", "quantiles", "n_gen"}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


# ---- the task keys ---------------------------------------------------------------------------
def test_at_the_defaults_the_task_keys_are_those_of_a_study_without_settings():
    """No "options" in any spec at the defaults; settings given at their defaults (as the
    command line gives them, text) change no key."""
    tasks = plan(StudyConfig(repetitions=2))
    assert all("options" not in t.spec for t in tasks)
    assert set(next(t for t in tasks if t.model == "cfm").spec) == DEFAULT_SPEC
    defaults = MODEL_REGISTRY["cfm"].settable().defaults
    as_text = {k: ",".join(map(str, v)) if isinstance(v, tuple) else str(v) for k, v in defaults.items()}
    given = StudyConfig(repetitions=2, settings={"cfm": as_text})
    assert given.settings == {"cfm": dict(defaults)}  # kept as given: results.json says what was asked
    assert [t.key for t in plan(given)] == [t.key for t in tasks]
    networks = ("gan", "cfm", "flow", "bflow", "bcfm")
    for methods in (("truth",), ("truth", "averaging"), ("truth", "differential")):
        config = StudyConfig(models=networks, methods=methods, repetitions=1)
        assert all("options" not in t.spec for t in plan(config)), methods


def test_a_setting_changes_the_task_key_of_its_model_only():
    base = {t.model: t.key for t in plan(StudyConfig(repetitions=1))}
    (sample, fit, cfm) = plan(StudyConfig(repetitions=1, settings={"cfm": {"steps": "8000", "hidden": "64,64"}}))
    assert cfm.spec["options"] == {"steps": 8000, "hidden": (64, 64)}
    assert cfm.key != base["cfm"] and (sample.key, fit.key) == (base["sample"], base["fit"])
    # only what differs from the default enters the key
    (_, _, same) = plan(StudyConfig(repetitions=1, settings={"cfm": {"steps": 8000, "hidden": (64, 64), "lr": 3e-3}}))
    assert same.key == cfm.key


def test_bayesian_settings_sit_beside_the_options_kl_weight_and_init_logvar():
    (predictive,) = plan(StudyConfig(models=("bcfm",), repetitions=1, kl_weight=0.5, settings={"bcfm": {"prior_var": 2}}))
    assert predictive.spec["options"] == {"kl_weight": 0.5, "init_logvar": -9.0, "prior_var": 2.0}
    (drawn,) = plan(StudyConfig(models=("bcfm",), methods=("averaging",), repetitions=1, settings={"bcfm": {"steps": 10}}))
    assert drawn.spread == {"draws": 10, "kl_weight": 1.0, "init_logvar": -9.0} and drawn.spec["options"] == {"steps": 10}
    with pytest.raises(GenampError, match=r"bcfm.kl_weight is the study option kl_weight \(--kl-weight\)"):
        StudyConfig(models=("bcfm",), settings={"bcfm": {"kl_weight": 0.5}})


# ---- study.json ------------------------------------------------------------------------------
def test_a_study_json_written_before_settings_existed_resumes_unchanged(tmp_path):
    """Its config has no "settings": that is the default, not another study (nothing moves to
    previous/, nothing is recomputed)."""
    config = StudyConfig(models=("sample", "fit"), repetitions=2, quantiles=(5,))
    run_study(config, tmp_path, workers=1, plots=False)
    study = json.loads((tmp_path / "study.json").read_text())
    del study["config"]["settings"]
    (tmp_path / "study.json").write_text(json.dumps(study))
    again = run_study(config, tmp_path, workers=1, plots=False)
    assert (again.ran, again.resumed) == (0, 4) and not (tmp_path / PREVIOUS).exists()


# ---- reading a value by its default ------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "default", "read"),
    [("8000", 2000, 8000), ("1e4", 2000, 10_000), (8000.0, 2000, 8000), ("1e-3", 3e-3, 1e-3), (1, 3e-3, 1.0),
     ("64,64", (64, 64, 64), (64, 64)), ([32], (64,), (32,)), (16, (64, 64), (16,)), ("0.5,0.99", (0.5, 0.9), (0.5, 0.99)),
     ("true", False, True), ("No", True, False), (True, False, True)],
)  # fmt: skip
def test_a_value_is_read_as_its_defaults_type(value, default, read):
    got = _validate.coerce(value, _validate.kind_of(default), "x")
    assert got == read and type(got) is type(read)
    if isinstance(read, tuple):
        assert {type(v) for v in got} == {type(default[0])}


@pytest.mark.parametrize(
    ("value", "default", "message"),
    [("8000.5", 2000, "x must be a whole number, got '8000.5'"), (True, 2000, "x must be a whole number, got True"),
     ("abc", 0.1, "x must be a number, got 'abc'"), ("inf", 0.1, "x must be a number, got 'inf'"),
     ("64,x", (64,), "x must be whole numbers separated by commas (e.g. 64,64), got '64,x'"),
     ("maybe", False, "x must be true or false, got 'maybe'"), (1, False, "x must be true or false, got 1")],
)  # fmt: skip
def test_a_value_of_the_wrong_type_is_one_sentence(value, default, message):
    with pytest.raises(GenampError) as exc:
        _validate.coerce(value, _validate.kind_of(default), "x")
    assert str(exc.value) == message
