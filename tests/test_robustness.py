"""Nothing wrong is trusted: every class of damage and bad input, against the command line.

Each damaged task file must be named in one warning line and redone, ending with the records of
an undamaged study; each bad input must be one ``error:`` line and exit status 2, with no
traceback and before any work; legal but suspicious input is a warning on the command line and
in the records. Later layers (pools, physics, clusters) keep these by running this module.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import size
from genamp.cli import main
from genamp.densities import make_density
from genamp.study import store
from genamp.study.config import StudyConfig
from genamp.study.runner import run_study
from genamp.study.tasks import plan

#: a study of the command line that takes a second or two: every kind of task (exact
#: occupancies, a fit with metadata, a sampled generator with a preview)
ARGS = ["run", "camel", "-m", "sample,fit,resample", "-r", "3", "-q", "5,10", "--n-gen", "100,1000", "--seed", "4", "-j", "1"]
CONFIG = dict(density="camel", models=("sample", "fit", "resample"), repetitions=3, quantiles=(5, 10),
              n_gen=(100, 1000), seed=4)  # fmt: skip


def cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def records(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())["records"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    assert main([*ARGS, "--out", str(out)]) == 0
    return out


@pytest.fixture
def study(reference, tmp_path) -> Path:
    out = tmp_path / "study"
    shutil.copytree(reference, out)
    return out


def task_file(out: Path, model: str, rep: int) -> Path:
    (path,) = out.glob(f"tasks/{model}-*/rep{rep:05d}.npz")
    return path


def member_offset(path: Path, member: str) -> tuple[int, int]:
    """Where the bytes of one array of an (uncompressed) .npz lie: offset and length."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    raw = path.read_bytes()
    start = info.header_offset + 30 + int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    start += int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    return start, info.compress_size


def flip(path: Path, at: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0x20
    path.write_bytes(bytes(raw))


def resave(path: Path, change) -> None:
    """Rewrite a task file with one array changed but its old checksum: a consistent zip whose
    content is not what was written (only the checksum can tell)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    change(arrays)
    np.savez(path, **arrays)


# each damages one task file in place and returns the reason genamp must give for it
def _empty(p):
    p.write_bytes(b"")
    return "empty file (0 bytes)"


def _truncated(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return "truncated or not a task file"


def _flipped_array(p):
    start, length = member_offset(p, "q10_fractions.npy")
    flip(p, start + length - 3)
    return "damaged: an array fails its zip CRC"


def _flipped_meta(p):
    start, length = member_offset(p, "meta.npy")
    flip(p, start + length - 8)
    return "damaged: an array fails its zip CRC"


def _changed_occupancy(p):
    resave(p, lambda a: a.__setitem__("q5_fractions", a["q5_fractions"] * 1.01))
    return "damaged: its content does not match its checksum"


def _changed_meta(p):
    def edit(a):
        meta = json.loads(str(a["meta"]))
        meta["info"]["values"]["mu1"] += 0.5
        a["meta"] = np.array(json.dumps(meta))

    resave(p, edit)
    return "damaged: its content does not match its checksum"


def _copied_over(p, source):
    shutil.copyfile(source, p)
    return f"belongs to another task ({source.parent.name.split('-')[0]} rep {int(source.stem[3:])} of setting"


def _other_repetition(p):  # a valid file of another repetition of the same model and setting
    return _copied_over(p, next(f for f in sorted(p.parent.glob("rep*.npz")) if f != p))


def _other_configuration(p):  # a valid file of the same repetition of another model
    return _copied_over(p, next(f for f in sorted(p.parent.parent.glob(f"*/{p.name}")) if f.parent != p.parent))


def _no_checksum(p):
    resave(p, lambda a: a.pop("checksum"))
    return "has no checksum"


def _bare_array(p):
    with p.open("wb") as fh:
        np.save(fh, np.zeros(3))
    return "not a task file (not an .npz archive)"


def _garbage(p):
    p.write_bytes(os.urandom(4000))
    return "not a task file (not an .npz archive)"


def _checksum_of_an_incomplete_file(p):
    def drop(a):
        a.pop("q10_members", None)
        a.pop("q10_n")
        a.pop("checksum")
        a["checksum"] = np.array(store.content_digest(a))

    resave(p, drop)
    return "incomplete: no q10_n"


#: every class of damage, on a task of each kind (exact occupancies, a fit with metadata, a sampler)
DAMAGE = [(_empty, "fit", 1), (_truncated, "resample", 2), (_flipped_array, "resample", 0), (_flipped_meta, "fit", 0),
          (_changed_occupancy, "resample", 1), (_changed_meta, "fit", 2), (_other_repetition, "resample", 2),
          (_other_configuration, "fit", 1), (_no_checksum, "sample", 0), (_bare_array, "sample", 2),
          (_garbage, "sample", 1), (_checksum_of_an_incomplete_file, "resample", 0)]  # fmt: skip


@pytest.mark.parametrize(("damage", "model", "rep"), DAMAGE, ids=[d.__name__[1:] for d, _, _ in DAMAGE])
def test_a_damaged_task_file_is_named_redone_and_never_used(capsys, reference, study, damage, model, rep):
    path = task_file(study, model, rep)
    reason = damage(path)
    rc, out, err = cli(capsys, *ARGS, "--out", str(study))
    assert rc == 0, err
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if path.name in line and str(path.parent.name) in line]
    assert len(lines) == 1 and lines[0].startswith("warning: ") and reason in lines[0] and "redone" in lines[0], err
    assert "resumed: 8 finished task(s)" in err and ", 1 run now" in err
    assert records(study) == records(reference)
    redone = json.loads((study / "results.json").read_text())["redone"]
    assert [r["file"] for r in redone] == [str(path)]
    # the task file now holds the task again
    task = next(t for t in plan(StudyConfig(**CONFIG)) if t.path(study) == path)
    assert store.inspect(study, task) == (store.task_done(study, task), None) and store.task_done(study, task)


def test_stale_temporaries_are_removed_and_several_damaged_files_are_each_named(capsys, reference, study):
    stale = task_file(study, "fit", 0).parent / ".tmp-killed"
    stale.write_bytes(b"half a task")
    stale_results = study / ".tmp-results"
    stale_results.write_bytes(b"{half")
    damaged = [task_file(study, "fit", 1), task_file(study, "resample", 2), task_file(study, "resample", 1)]
    for damage, path in zip((_empty, _other_repetition, _changed_occupancy), damaged, strict=True):
        damage(path)
    rc, _, err = cli(capsys, *ARGS, "--out", str(study))
    assert rc == 0 and not stale.exists() and not stale_results.exists()
    assert sum(line.startswith("warning: ") and "redone" in line for line in err.splitlines()) == 3
    assert all(str(p) in err for p in damaged)
    assert records(study) == records(reference)


def test_a_file_damaged_while_a_study_aggregates_is_an_error_that_a_rerun_fixes(reference, study, monkeypatch):
    """Between the check at the start and the aggregation nothing should touch the folder (the
    lock keeps other genamp runs out); if something does, the study stops and says so."""
    from genamp.study import runner

    original = runner.aggregate

    def damage_then_aggregate(*args):
        _changed_occupancy(task_file(study, "resample", 1))
        return original(*args)

    monkeypatch.setattr(runner, "aggregate", damage_then_aggregate)
    with pytest.raises(store.GenampError, match="does not match its checksum .changed while the study ran.; the same command redoes it"):
        run_study(StudyConfig(**CONFIG), study, workers=1, plots=False)
    monkeypatch.undo()
    run_study(StudyConfig(**CONFIG), study, workers=1, plots=False)
    assert records(study) == records(reference)


def test_two_runs_in_one_folder_one_refuses_and_a_killed_run_leaves_no_lock(tmp_path):
    out = tmp_path / "busy"
    cmd = [sys.executable, "-m", "genamp.cli", "run", "camel", "--out", str(out), "-m", "sample,fit,resample",
           "-r", "400", "-q", "10", "--n-gen", "1e3,3e5", "-j", "1"]  # fmt: skip
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(out.glob("tasks/*/*.npz")):
            time.sleep(0.05)
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"error: {out} is in use by another genamp run (pid {first.pid}); wait for it to finish, or give another --out"
        ]
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
    with store.StudyLock(out):  # kill -9 released it
        pass


BAD_FILES = {
    "complex.npy": lambda p: np.save(p, np.ones((50, 1)) + 1j),
    "bool.npy": lambda p: np.save(p, np.ones((50, 1), dtype=bool)),
    "strings.npy": lambda p: np.save(p, np.array([["1.5"], ["2.5"]])),
    "objects.npy": lambda p: np.save(p, np.array([[1.0], [None]], dtype=object), allow_pickle=True),
    "records.npy": lambda p: np.save(p, np.zeros(5, dtype=[("x", "f8")])),
    "text.npy": lambda p: p.write_text("0.5\n1.5\n"),
    "empty.h5": lambda p: p.write_bytes(b""),
    "complex.h5": lambda p: h5py.File(p, "w").create_dataset("events", data=np.ones((50, 1)) + 1j).file.close(),
    "ok.npy": lambda p: np.save(p, make_density("camel").sample(1000, 2)),
    "nan.npy": lambda p: np.save(p, np.where(np.arange(1000)[:, None] == 10, np.nan, make_density("camel").sample(1000, 2))),
    "twocol.npy": lambda p: np.save(p, make_density("camels").sample(1000, 2)),
    "tiny.npy": lambda p: np.save(p, np.zeros((1, 1))),
    "multi.h5": lambda p: _two_arrays(p),
    # study files for --config
    "unclosed.yaml": lambda p: p.write_text("models: [cfm\n"),
    "list.yaml": lambda p: p.write_text("- cfm\n- fit\n"),
    "unknown.yaml": lambda p: p.write_text("modles: [cfm]\n"),
    "twice.yaml": lambda p: p.write_text("models: [cfm]\nn_train: 200\nmodels: [fit]\n"),
    "empty.yaml": lambda p: p.write_text("# nothing\n"),
    "python.yaml": lambda p: p.write_text("!!python/object/apply:os.system [echo hello]\n"),
    "binary.yaml": lambda p: p.write_bytes(b"\xff\xfe\x00models"),
    "wrongtype.yaml": lambda p: p.write_text("n_train: many\n"),
    "settings.yaml": lambda p: p.write_text("settings:\n  cfm:\n    stepz: 3\n"),
    "flatsettings.yaml": lambda p: p.write_text("settings:\n  cfm: 8000\n"),
}


def _two_arrays(path: Path) -> None:
    with h5py.File(path, "w") as f:
        f["a"] = f["b"] = np.zeros((10, 1))

BAD_INPUT = [
    # values out of range, names unknown
    (["run", "--n-train", "1"], "n_train must be at least 2"),
    (["run", "-q", "1,10"], "quantiles must be at least 2"),
    (["run", "-q", "10,abc"], "--quantiles: 'abc' is not a number"),
    (["run", "-q", "10,nan"], "is not a whole number"),
    (["run", "banana"], "unknown density 'banana'"),
    (["run", "-m", "sample,vae"], "unknown model vae"),
    (["run", "--n-train", "abc"], "--n-train"),
    (["run", "--workers", "0"], "workers must be at least 1"),
    (["run", "-r", "0"], "repetitions must be at least 1"),
    (["run", "--density-param", "mu1"], "expected key=value"),
    (["run", "--no-such-option"], "No such option"),
    (["estimate", "camel", "-s", "{nan.npy}", "--n-train", "100"], "1 of 1000 events contain NaN or inf (first at row 10)"),
    (["estimate", "camel", "-s", "{twocol.npy}", "--n-train", "100"], "events have 2 feature(s), but this density has 1"),
    (["estimate", "camel", "-s", "{tiny.npy}", "--n-train", "100"], "1 event(s); at least 2 needed"),
    (["estimate", "camel", "-s", "{ok.npy}", "--n-train", "1"], "n_train must be at least 2"),
    (["estimate", "camel", "-s", "{multi.h5}", "--n-train", "100"], "name one with --dataset"),
    (["estimate", "camel", "-s", "missing.npy", "--n-train", "100"], "no such file"),
    # values of the wrong type, at the boundary
    (["estimate", "camel", "-s", "{complex.npy}", "--n-train", "100"], "complex.npy: holds complex numbers (dtype complex128)"),
    (["estimate", "camel", "-s", "{bool.npy}", "--n-train", "100"], "bool.npy: holds booleans (dtype bool)"),
    (["estimate", "camel", "-s", "{strings.npy}", "--n-train", "100"], "strings.npy: holds strings (dtype <U3)"),
    (["estimate", "camel", "-s", "{objects.npy}", "--n-train", "100"], "holds Python objects (dtype object) (genamp never loads pickles)"),
    (["estimate", "camel", "-s", "{records.npy}", "--n-train", "100"], "holds records with fields x (a structured array)"),
    (["estimate", "camel", "-s", "{text.npy}", "--n-train", "100"], "text.npy: is a text file (it begins '0.5'), not a NumPy .npy file"),
    (["estimate", "camel", "-s", "{empty.h5}", "--n-train", "100"], "empty.h5: is empty (0 bytes)"),
    (["estimate", "camel", "-s", "{complex.h5}", "--n-train", "100"], "complex.h5:events: holds complex numbers"),
    (["estimate", "camel", "-s", "{dir}", "--n-train", "100"], "is a directory, not a file of events"),
    (["estimate", "camel", "-s", "{ok.npy}", "--n-train", "100", "--dataset", "x"], "--dataset x applies to HDF5 and .npz files"),
    # output paths, refused before any work
    (["estimate", "camel", "-s", "{ok.npy}", "--n-train", "100", "--out", "{dir}"], "is a directory; give a file name"),
    (["run", "--out", "{ok.npy}"], "cannot write to output directory"),
    # lists with a hole
    (["run", "-q", "10,,20"], "--quantiles: an empty item in '10,,20'"),
    (["run", "-q", "10,"], "--quantiles: an empty item"),
    (["run", "-m", "sample,,fit"], "an empty model name"),
    (["run", "--method", "truth,"], "an empty method name"),
    (["run", "--n-gen", "100,,1000", "-m", "resample"], "--n-gen: an empty item"),
    (["estimate", "camel", "-s", "{ok.npy}", "--n-train", "100", "-q", ",5"], "--quantiles: an empty item"),
    (["run", "--density-param", "mu1=1,,sigma1=2"], "expected key=value, got ''"),
    # sizes that leave volumes empty or cannot be drawn
    (["run", "shell", "-m", "resample", "-q", "30", "--n-gen", "100,1000"], "at Q = 30 the 3D grid has 27000 volumes: the largest n_gen (1000 events) puts 0.037"),
    (["run", "-m", "resample", "--n-gen", "1e12"], "n_gen 1e+12 cannot be drawn: at most 1e+09"),
    (["run", "-m", "resample", "--n-gen", "1e30"], "cannot be drawn"),
    (["run", "--n-train", "1000000000"], "n_train 1e+09 is more than a study can hold (at most 1e+08)"),
    (["run", "-r", "1000000"], "1000000 repetitions are more than a study plans"),
    (["estimate", "camel", "-s", "{ok.npy}", "--n-train", "100", "-q", "2000"], "at Q = 2000 the 1D grid has 2000 volumes: the smallest file (1000 events)"),
    # options that do not apply to the study
    (["run", "--dim", "2"], "the camel back is 1-dimensional: --dim 2 does not apply"),
    (["run", "ring", "--dim", "3"], "the ring is 2-dimensional: --dim 3 does not apply"),
    (["run", "shell", "--dim", "2"], "in two dimensions it is the ring"),
    (["run", "camels", "--dim", "1"], "in one dimension it is the camel"),
    (["run", "--density-param", "width=2"], "camel has no parameter 'width'; its parameters are mu1, sigma1, mu2, sigma2, frac"),
    (["run", "ring", "--density-param", "n_dim=3"], "ring has no parameter 'n_dim'; its parameters are mu, sigma"),
    (["run", "--density-param", "mu1=1,mu1=2"], "--density-param: mu1 twice given"),
    (["run", "shell", "--dim", "3", "--density-param", "dim=4"], "--dim and --density-param dim given"),
    (["run", "-m", "sample,fit", "--kl-weight", "0.1"], "--kl-weight applies to the variational Bayesian models (bflow, bcfm), not to sample, fit"),
    (["run", "-m", "cfm", "--init-logvar", "-5"], "--init-logvar applies to the variational Bayesian models"),
    (["run", "-m", "sample,fit", "--ensemble", "5"], "--ensemble applies to generators trained several times (resample, gan, cfm, flow), not to sample, fit"),
    (["run", "-m", "cfm", "--ensemble-mode", "seed"], "--ensemble-mode applies to ensembles"),
    (["run", "-m", "cfm", "--bayesian", "5"], "--bayesian applies to the Bayesian models (bfit, bflow, bcfm), not to cfm"),
    (["run", "--significance", "3"], "--significance applies to the averaging forecast"),
    (["run", "-m", "cfm", "--method", "averaging", "--plateau", "fit"], "--plateau applies to the truth-based method"),
    (["run", "-m", "sample,fit", "--n-gen", "100,1000"], "--n-gen applies to generated samples; sample, fit have exact occupancies"),
    (["estimate", "camel", "-s", "{ok.npy}", "--n-train", "100", "--significance", "3"], "--significance applies to the averaging forecast of --members"),
    (["estimate", "camel", "-s", "{ok.npy}", "--n-train", "100", "--members"], "at least 2 files: the spread of one generator is not defined"),
    (["estimate", "camel", "-s", "{ok.npy}", "--n-train", "100", "--dim", "2"], "--dim 2 does not apply"),
    # model settings (--set MODEL.KEY=VALUE), read by the type of the default and checked against the model's limits
    (["run", "--set", "cfm.stepz=3"], "cfm has no setting 'stepz'; its settings are hidden, steps, lr, batch_size, ode_steps, n_frequencies"),
    (["run", "--set", "cfm.steps=abc"], "cfm.steps must be a whole number, got 'abc'"),
    (["run", "--set", "cfm.steps=2.5"], "cfm.steps must be a whole number, got '2.5'"),
    (["run", "--set", "cfm.lr=fast"], "cfm.lr must be a number, got 'fast'"),
    (["run", "--set", "cfm.hidden=64,x"], "cfm.hidden must be whole numbers separated by commas (e.g. 64,64), got '64,x'"),
    (["run", "--set", "cfm.hidden=64,,64"], "cfm.hidden: an empty item in '64,,64'"),
    (["run", "--set", "cfm.steps=-1"], "cfm.steps must be ≥ 0, got -1"),
    (["run", "--set", "cfm.lr=-1"], "cfm.lr must be > 0, got -1.0"),
    (["run", "--set", "cfm.hidden=64,0"], "each of cfm.hidden must be ≥ 1, got '64,0'"),
    (["run", "-m", "gan", "--set", "gan.dropout=1"], "gan.dropout must be in [0, 1), got 1.0"),
    (["run", "-m", "gan", "--set", "gan.betas=0.5"], "gan.betas takes 2 values, got 1"),
    (["run", "--set", "gan.epochs=3"], "settings for gan, which is not a model of this study (sample, fit, cfm)"),
    (["run", "--set", "fit.steps=3"], "fit takes no settings; the models with settings are gan, gan-paper, cfm, lgatr-cfm, flow, bflow, bcfm"),
    (["run", "--set", "vae.steps=3"], "settings for an unknown model 'vae'"),
    (["run", "-m", "bcfm", "--set", "bcfm.kl_weight=0.5"], "bcfm.kl_weight is the study option kl_weight (--kl-weight)"),
    (["run", "--set", "cfm=3"], "--set: expected MODEL.KEY=VALUE (e.g. cfm.steps=8000), got 'cfm=3'"),
    (["run", "--set", "cfm.steps"], "--set: expected MODEL.KEY=VALUE"),
    (["run", "--set", ".steps=3"], "--set: expected MODEL.KEY=VALUE"),
    (["run", "--set", "cfm.steps="], "--set: expected MODEL.KEY=VALUE"),
    (["run", "--set", "cfm.steps=3", "--set", "cfm.steps=4"], "--set: cfm.steps given twice"),
    # a study file (--config FILE.yaml)
    (["run", "--config", "missing.yaml"], "missing.yaml: no such file"),
    (["run", "--config", "{dir}"], "is a directory, not a YAML file"),
    (["run", "--config", "{unclosed.yaml}"], "unclosed.yaml: is not valid YAML (expected ',' or ']'"),
    (["run", "--config", "{twice.yaml}"], "twice.yaml: is not valid YAML (key 'models' given twice, on lines 1 and 3)"),
    (["run", "--config", "{python.yaml}"], "python.yaml: is not valid YAML (could not determine a constructor"),
    (["run", "--config", "{binary.yaml}"], "binary.yaml: is not a text file"),
    (["run", "--config", "{list.yaml}"], "list.yaml: holds list ['cfm', 'fit'], not a mapping of study settings"),
    (["run", "--config", "{empty.yaml}"], "empty.yaml: holds no settings"),
    (["run", "--config", "{unknown.yaml}"], "unknown.yaml: unknown key 'modles'; the keys are density, density_params, pool, dataset, observables, pairs, models,"),
    (["run", "--config", "{wrongtype.yaml}"], "wrongtype.yaml: n_train must be a whole number, got 'many'"),
    (["run", "--config", "{settings.yaml}"], "cfm has no setting 'stepz'"),
    (["run", "--config", "{flatsettings.yaml}"], "the settings of cfm must map names to values (steps: 8000), got 8000"),
    (["run", "--config", "{settings.yaml}", "--set", "cfm.steps=3"], "cfm has no setting 'stepz'"),
]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad-files")
    for name, write in BAD_FILES.items():
        write(root / name)
    (root / "dir").mkdir()
    return {**{name: str(root / name) for name in BAD_FILES}, "dir": str(root / "dir")}


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_error_line_before_any_work(capsys, bad_files, tmp_path, args, message):
    args = [bad_files[a[1:-1]] if a.startswith("{") else a for a in args]
    if args[0] == "run" and "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    rc, out, err = cli(capsys, *args)
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert "Traceback" not in out + err
    # nothing was started: no task file, no results
    assert not list(tmp_path.glob("out/tasks/*/*.npz")) and not (tmp_path / "out" / "results.json").exists()


def test_suspicious_input_is_a_warning_on_the_command_line_and_in_the_records(capsys, bad_files, tmp_path):
    ok = bad_files["ok.npy"]
    copy = tmp_path / "copy.npy"
    shutil.copyfile(ok, copy)
    result = tmp_path / "r.json"
    rc, _, err = cli(capsys, "estimate", "camel", "-s", ok, "-s", ok, "-s", str(copy), "--n-train", "5000", "-q", "5,200",
                     "--out", str(result))  # fmt: skip
    assert rc == 0, err
    warnings = [line[len("warning: "):] for line in err.splitlines() if line.startswith("warning: ")]
    assert any(w.startswith(f"{ok} and {ok} are the same file") for w in warnings)
    assert any(w.startswith(f"{ok} and {copy} hold identical bytes") for w in warnings)
    assert any("n_train = 5000 is more than the 1000 events of the smallest file" in w for w in warnings)
    assert any("at Q = 200 the smallest file (1000 events) puts only 5 events in each of the 200 volumes" in w for w in warnings)
    data = json.loads(result.read_text())
    assert data["warnings"] == warnings and all(r["warnings"] == warnings for r in data["records"])


def test_a_study_with_few_events_per_volume_warns_in_the_records(capsys, tmp_path):
    rc, _, err = cli(capsys, "run", "camels", "-m", "resample", "-r", "2", "-q", "20", "--n-gen", "100,2000", "-j", "1",
                     "--out", str(tmp_path))  # fmt: skip
    assert rc == 0, err
    warning = "at Q = 20 the largest n_gen (2000 events) puts only 5 events in each of the 400 volumes"
    assert f"warning: {warning}" in err
    data = json.loads((tmp_path / "results.json").read_text())
    assert any(warning in w for w in data["warnings"]) and all(r["warnings"] == data["warnings"] for r in data["records"])


def test_other_settings_in_a_study_folder_start_a_new_study_and_keep_the_old_results(capsys, reference, study):
    old = (study / "results.json").read_text()
    rc, _, err = cli(capsys, *[a if a != "4" else "5" for a in ARGS], "--out", str(study))
    assert rc == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note: ") and "held a study with other settings" in line]
    assert len(notes) == 1 and "seed 4 → 5" in notes[0] and "a new study was started beside it" in notes[0]
    (kept,) = (study / "previous").iterdir()
    assert (kept / "results.json").read_text() == old and (kept / "mse_Q10.png").is_file()
    assert json.loads((study / "results.json").read_text())["config"]["seed"] == 5
    # the same settings again: nothing is moved, nothing redone
    rc, _, err = cli(capsys, *[a if a != "4" else "5" for a in ARGS], "--out", str(study))
    assert rc == 0 and "other settings" not in err and len(list((study / "previous").iterdir())) == 1


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_written_files_keep_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        run_study(StudyConfig(**{**CONFIG, "repetitions": 1}), tmp_path, workers=1, plots=False)
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    for path in [tmp_path / "results.json", tmp_path / "study.json", *tmp_path.glob("tasks/*/*.npz")]:
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_a_crash_says_a_rerun_will_not_fix_it(tmp_path, monkeypatch):
    from genamp.models.fit import ParametricFit
    from genamp.models.registry import MODEL_REGISTRY, ModelEntry

    class Broken(ParametricFit):
        def fit(self, x_train, seed=None):
            raise KeyError("a bug")

    # a deliberately broken model registered for the test of crash handling (no setting makes one)
    monkeypatch.setitem(MODEL_REGISTRY, "broken", ModelEntry(Broken, sampled=False, description="test"))
    with pytest.raises(store.GenampError) as exc:
        run_study(StudyConfig(density="camel", models=("sample", "broken"), repetitions=2, quantiles=(5,)), tmp_path, workers=1)
    message = str(exc.value)
    assert "a bug, not bad input: running the same command again crashes at the same task" in message
    assert "the same command resumes" not in message and "1 saved tasks are kept" in message


def _kill_and_damage_rounds(n_rounds: int, tmp_path: Path) -> tuple[Path, list[str]]:
    """Run the command, kill it with SIGKILL at a random moment, damage random task files, again."""
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "genamp.cli", "run", "camel", "--out", str(out), "-m", "sample,fit,resample",
           "-r", "30", "-q", "5,10", "--n-gen", "1e3,1e5", "--seed", "11", "-j", "2"]  # fmt: skip
    rng = np.random.default_rng(20261201)
    damages = [_empty, _truncated, _flipped_array, _changed_occupancy, _other_repetition, _garbage]
    done: list[str] = []
    for _ in range(n_rounds):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 6.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        time.sleep(0.2)  # the pool's workers get SIGTERM from the kernel (PR_SET_PDEATHSIG)
        files = sorted(out.glob("tasks/*/rep*.npz"))
        for path in rng.choice(files, size=min(len(files), int(rng.integers(0, 3))), replace=False) if files else []:
            model, rep = path.parent.name.split("-")[0], int(path.stem[3:])
            damage = damages[int(rng.integers(len(damages)))]
            if damage is _other_repetition and len(list(path.parent.glob("rep*.npz"))) < 2:
                continue
            damage(path)
            done.append(f"{model} rep {rep}: {damage.__name__[1:]}")
    final = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    assert "Traceback" not in final.stderr
    return out, done


@pytest.mark.slow
def test_killed_at_random_with_random_damage_ends_with_the_records_of_an_uninterrupted_run(tmp_path):
    """20 SIGKILLs at random moments (3 in CI), each followed by damage to random task files:
    the study still ends with exactly the records of a study that was never stopped."""
    out, damaged = _kill_and_damage_rounds(size(3, 20), tmp_path)
    config = StudyConfig(density="camel", models=("sample", "fit", "resample"), repetitions=30, quantiles=(5, 10),
                         n_gen=(1000, 100_000), seed=11)  # fmt: skip
    run_study(config, tmp_path / "reference", workers=1, plots=False)
    assert records(out) == records(tmp_path / "reference"), damaged


def test_ctrl_c_outside_a_study_is_one_stopped_line(capsys, bad_files, monkeypatch):
    import genamp.data.io

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(genamp.data.io, "_check_signature", interrupted)  # while a file is opened
    rc, out, err = cli(capsys, "estimate", "camel", "-s", bad_files["ok.npy"], "--n-train", "100")
    assert rc == 130 and "Traceback" not in out + err
    assert err.strip().splitlines() == ["stopped: interrupted; finished tasks are saved, files are written whole or not at all"]


def test_an_option_that_applies_reaches_the_model_and_defaults_leave_task_keys_alone():
    """--kl-weight without posterior draws used to be dropped: it now shapes the Bayesian
    model's posterior predictive (and so its task key); left at its default, keys are as before."""
    (given,) = plan(StudyConfig(models=("bcfm",), repetitions=1, kl_weight=0.5))
    (default,) = plan(StudyConfig(models=("bcfm",), repetitions=1))
    (explicit,) = plan(StudyConfig(models=("bcfm",), repetitions=1, kl_weight=1.0))
    assert given.spec["options"] == {"kl_weight": 0.5, "init_logvar": -9.0}
    assert "options" not in default.spec and default.key == explicit.key != given.key


@pytest.mark.parametrize(
    "settings",
    [{}, {"models": ("sample", "fit")}, {"models": ("bcfm",), "methods": ("averaging",), "kl_weight": 0.1},
     {"models": ("cfm",), "methods": ("truth", "averaging"), "ensemble": 4, "ensemble_mode": "seed",
      "significance": 3.0},
     {"models": ("sample", "cfm", "gan", "bcfm"), "kl_weight": 0.5,
      "settings": {"cfm": {"steps": "8000", "hidden": "64,64"}, "gan": {"betas": (0.4, 0.8), "epochs": 100},
                   "bcfm": {"prior_var": 2, "hidden": (32,)}}}],
    ids=["default", "baselines", "bayesian", "ensemble", "settings"],
)  # fmt: skip
def test_a_written_config_reads_back_as_the_same_study(settings):
    """What study.json holds rebuilds the study, though options resolved to their defaults
    would be refused if given for a study that does not use them."""
    config = StudyConfig(**settings)
    written = json.loads(json.dumps(store.to_json_safe(config.to_dict())))
    again = StudyConfig.from_dict(written)
    assert again == config and [t.key for t in plan(again)] == [t.key for t in plan(config)]


def test_verdicts_are_computed_from_the_record_alone():
    """The sentences of genamp.estimators.verdicts from known records: what each threshold says."""
    from genamp.estimators.verdicts import averaging_warnings, differential_warnings, standard_errors_apart

    assert standard_errors_apart(5.0, 0.3, 4.0, 0.4) == pytest.approx(2.0)
    assert standard_errors_apart(5.0, None, 4.0, 0.4) is None
    good = {"G_inf": 2.0, "G_inf_std": 0.1, "truth_G": 2.1, "truth_G_std": 0.1, "repetitions": 20, "n_cells": 10,
            "coverage": {"68": 0.64}, "reference_coverage": {"68": 0.65}, "volumes_resolved_fraction": 1.0,
            "resolved_fraction": 1.0, "one_training": {"volumes_few_events": 0, "volumes_empty": 0, "resolved": True}}
    assert averaging_warnings(good) == []
    bad = {**good, "G_inf": 4.0, "coverage": {"68": 0.30}}
    words = averaging_warnings(bad)
    assert words[0].startswith("not calibrated on this toy (68% intervals cover 30% of volumes, a calibrated forecast 65%)")
    assert "differ by 13.4 standard errors: the members share a bias their spread cannot see" in words[1]
    assert averaging_warnings({"G_inf": None, "notes": ["σ² not resolved"]}) == ["σ² not resolved"]
    # a Bayesian network's draws are one training's posterior, whichever sampler; the Laplace fit's are not
    for spread in ({"draws": 10, "kl_weight": 1.0, "init_logvar": -9.0}, {"draws": 10, "sampler": "langevin", "temperature": 0.03}):
        assert any("one network's weight posterior" in w for w in averaging_warnings({**good, "spread": spread}))
    assert averaging_warnings({**good, "spread": {"draws": 10}}) == []
    diff = {"forecast": {"G": 1.0, "G_std": 0.05}, "truth": {"G": 0.5, "G_std": 0.05}, "truth_resolved_fraction": 1.0,
            "repetitions": 16, "classifier": {"auc_truth_vs_truth": 0.6, "auc_null_std": 0.02}}  # fmt: skip
    words = differential_warnings(diff)
    assert "differ by 7.1 standard errors" in words[0] and "tells truth from truth (AUC 0.600)" in words[1]


def test_results_follow_their_schema_and_the_schema_can_refuse(reference):
    """results.json against genamp/schema/results.schema.json; a record that lost a field the
    schema promises, or a number written as a string, is refused."""
    import jsonschema

    from conftest import assert_valid_results
    from genamp.schema import schema

    data = assert_valid_results(reference / "results.json")
    validator = jsonschema.Draft202012Validator(schema())
    broken = json.loads(json.dumps(data))
    del broken["records"][0]["G"]
    assert not validator.is_valid(broken)
    broken = json.loads(json.dumps(data))
    broken["records"][0]["n_equiv"] = "many"
    assert not validator.is_valid(broken)
