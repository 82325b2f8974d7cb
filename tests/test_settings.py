"""Model settings (StudyConfig.settings, --set, --config FILE): what they reach, the task keys
they change and those they leave alone, and the YAML file as the command line's equal.
(Bad settings and bad files as one error line: test_robustness.py, BAD_INPUT.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import genamp.study.runner
from genamp import _validate
from genamp.errors import GenampError
from genamp.models.bayesian import BayesianGenerator
from genamp.models.cfm import FlowMatching
from genamp.models.registry import MODEL_REGISTRY
from genamp.study.config import StudyConfig, read_config
from genamp.study.runner import PREVIOUS, run_study
from genamp.study.tasks import plan

from test_cli import run_cli

#: the fields of a task's spec of a sampled model at the defaults (no "options": the keys of
#: studies written before settings existed)
DEFAULT_SPEC = {"format", "density", "model", "n_train", "seed", "quantiles", "n_gen"}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def spy_on_training(monkeypatch: pytest.MonkeyPatch, cls: type, *attributes: str) -> list[tuple]:
    """The given attributes of every model of class ``cls`` that a study trains."""
    seen: list[tuple] = []
    train = cls._train

    def spy(self, x, streams):  # noqa: ANN001, ANN202
        seen.append(tuple(getattr(self, a) for a in attributes))
        return train(self, x, streams)

    monkeypatch.setattr(cls, "_train", spy)
    return seen


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


def test_a_langevin_chain_is_a_setting_whose_spread_has_no_kl_weight():
    """bcfm.chain > 0: the spread names the sampler and the temperature, not the variational
    options; those, chain settings without a chain, and more draws than kept states are refused."""
    chain = {"bcfm": {"chain": 500, "temperature": 0.01}}
    (drawn,) = plan(StudyConfig(models=("bcfm",), methods=("averaging",), repetitions=1, settings=chain))
    assert drawn.spread == {"draws": 10, "sampler": "langevin", "temperature": 0.01}
    assert drawn.spec["options"] == {"chain": 500, "temperature": 0.01}
    (predictive,) = plan(StudyConfig(models=("bcfm",), repetitions=1, settings=chain))
    assert predictive.spec["options"] == {"chain": 500, "temperature": 0.01}
    with pytest.raises(GenampError, match=r"--kl-weight applies to the variational .*bcfm draws by a Langevin chain"):
        StudyConfig(models=("bcfm",), methods=("averaging",), kl_weight=0.5, settings=chain)
    with pytest.raises(GenampError, match=r"bcfm.temperature applies to the Langevin chain"):
        StudyConfig(models=("bcfm",), settings={"bcfm": {"temperature": 0.1}})
    with pytest.raises(GenampError, match=r"--bayesian 30: bcfm's chain keeps 20 states"):
        StudyConfig(models=("bcfm",), methods=("averaging",), bayesian=30, settings=chain)


# ---- what the settings reach -----------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Data has no positive values")  # a plot of networks this small
def test_settings_reach_the_trained_networks_and_the_written_config(capsys, tmp_path, monkeypatch):
    """--set through a study: the block of cfm networks and the Bayesian posterior (its draws)
    are trained with them, and results.json and study.json say so."""
    cfm_seen = spy_on_training(monkeypatch, FlowMatching, "steps", "hidden")
    bayes_seen = spy_on_training(monkeypatch, BayesianGenerator, "steps", "hidden", "kl_weight")
    rc, _, err = run_cli(
        capsys, "run", "camel", "--out", str(tmp_path), "-m", "cfm,bcfm", "--method", "truth,averaging", "-K", "2",
        "-M", "2", "--kl-weight", "0.5", "-r", "2", "-q", "4", "--n-gen", "100,300", "-j", "1",
        "--set", "cfm.steps=7", "--set", "cfm.hidden=6,5", "--set", "bcfm.steps=3", "--set", "bcfm.hidden=4",
        "--set", "bcfm.ode_steps=2", "--set", "cfm.ode_steps=2",
    )  # fmt: skip
    assert rc == 0, err
    assert cfm_seen == [(7, (6, 5))]  # one vectorised block: 2 repetitions × 2 members
    assert bayes_seen == [(3, (4,), 0.5)] * 2  # one posterior per repetition
    settings = {"cfm": {"steps": 7, "hidden": [6, 5], "ode_steps": 2}, "bcfm": {"steps": 3, "hidden": [4], "ode_steps": 2}}
    for name in ("results.json", "study.json"):
        assert json.loads((tmp_path / name).read_text())["config"]["settings"] == settings
    # the written config is the study: its tasks are the files on disk
    written = json.loads((tmp_path / "study.json").read_text())["config"]
    assert {p.name for p in (tmp_path / "tasks").iterdir()} == {f"{t.model}-{t.key}" for t in plan(StudyConfig.from_dict(written))}


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


# ---- the YAML file -----------------------------------------------------------------------------
@pytest.fixture
def configs(monkeypatch) -> list[StudyConfig]:
    """The StudyConfig each ``genamp run`` builds (the study itself is not run)."""
    made: list[StudyConfig] = []

    def capture(config, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        made.append(config)
        raise GenampError("captured")

    monkeypatch.setattr(genamp.study.runner, "run_study", capture)
    return made


STUDY_YAML = """\
density: shell
density_params: {dim: 3, mu: 2.5}
models: [resample, cfm]
methods: truth,averaging
quantiles: [3, 5]
n_train: 200
repetitions: 3
seed: 9
n_gen: [1e3, 1e4]
ensemble: 4
ensemble_mode: seed
significance: 3
settings:
  cfm:
    steps: 500
    hidden: [32, 32]
    lr: 1e-3
"""

SAME_ON_THE_COMMAND_LINE = [
    "shell", "--dim", "3", "--density-param", "mu=2.5", "-m", "resample,cfm", "--method", "truth,averaging",
    "-q", "3,5", "--n-train", "200", "-r", "3", "--seed", "9", "--n-gen", "1e3,1e4", "-K", "4",
    "--ensemble-mode", "seed", "--significance", "3",
    "--set", "cfm.steps=500", "--set", "cfm.hidden=32,32", "--set", "cfm.lr=1e-3",
]  # fmt: skip


def test_a_yaml_file_gives_the_study_of_the_same_command_line(capsys, tmp_path, configs):
    (tmp_path / "study.yaml").write_text(STUDY_YAML)
    for args in (["--config", str(tmp_path / "study.yaml")], SAME_ON_THE_COMMAND_LINE):
        rc, _, err = run_cli(capsys, "run", *args, "--out", str(tmp_path / "out"))
        assert rc == 2 and err.strip() == "error: captured", err
    from_file, from_flags = configs
    assert from_file == from_flags
    assert from_file.settings == {"cfm": {"steps": 500, "hidden": (32, 32), "lr": 1e-3}} and from_file.n_gen == (1000, 10_000)
    assert [t.key for t in plan(from_file)] == [t.key for t in plan(from_flags)]


def test_the_command_line_overrides_the_file_and_set_merges_into_its_settings(capsys, tmp_path, configs):
    """An option typed on the command line wins even at its default value (--n-train 100,
    --seed 1); one left out gives way to the file; --set replaces a file's setting key by key."""
    (tmp_path / "study.yaml").write_text(STUDY_YAML)
    rc, _, err = run_cli(
        capsys, "run", "--config", str(tmp_path / "study.yaml"), "--out", str(tmp_path / "out"), "--n-train", "100",
        "--seed", "1", "--density-param", "sigma=0.5", "--set", "cfm.steps=800", "--set", "cfm.batch_size=64",
    )  # fmt: skip
    assert rc == 2 and err.strip() == "error: captured", err
    (config,) = configs
    assert (config.n_train, config.seed, config.repetitions, config.methods) == (100, 1, 3, ("truth", "averaging"))
    assert config.density_params == {"dim": 3, "mu": 2.5, "sigma": 0.5}
    assert config.settings == {"cfm": {"steps": 800, "hidden": (32, 32), "lr": 1e-3, "batch_size": 64}}


def test_the_readme_example_is_a_study(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (example,) = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    (tmp_path / "study.yaml").write_text(example)
    config = StudyConfig(**read_config(tmp_path / "study.yaml"))
    assert config.settings == {"cfm": {"steps": 8000, "hidden": (64, 64)}}
    assert plan(config)[1].spec["options"] == config.settings["cfm"]


def test_genamp_models_lists_every_model_with_its_settings(capsys):
    rc, out, _ = run_cli(capsys, "models")
    assert rc == 0
    flat = " ".join(out.split())
    for name, entry in MODEL_REGISTRY.items():
        assert name in flat
    assert "steps=2000" in flat.replace(" ", "") and "hidden=64,64,64" in flat.replace(" ", "")


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
