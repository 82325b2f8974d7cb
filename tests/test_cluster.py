"""Studies and event generation on a Dask cluster (a LocalCluster of processes on 127.0.0.1,
closed by the test): the same records as the local executor, a killed worker's task redone."""

from __future__ import annotations

import os
import signal

import pytest

from genamp.cli import main
from genamp.cluster import connect, parse
from genamp.errors import GenampError
from genamp.study.config import StudyConfig
from genamp.study.runner import run_study

CONFIG = StudyConfig(density="camel", models=("sample", "fit", "cfm"), quantiles=(10,), n_train=100, repetitions=4, seed=3,
                     n_gen=(1000, 5000), settings={"cfm": {"steps": 300}})  # fmt: skip


def test_a_study_on_a_local_cluster_survives_a_killed_worker_with_the_local_records(tmp_path):
    """Two worker processes; when the first task arrives, the worker busy with another is killed
    (SIGKILL). Its task goes to a worker again, each task is written once, and the records equal
    the local executor's to the bit."""
    local = run_study(CONFIG, tmp_path / "local", workers=1, plots=False)
    killed: list[tuple[str, list]] = []
    with connect("local:2") as client:
        assert all(a.startswith("tcp://127.0.0.1:") for a in client.scheduler_info()["workers"])

        def progress(done, total, summary):
            if killed or summary.get("status") != "ok":
                return
            busy = {w: keys for w, keys in client.processing().items() if keys}
            if busy:
                worker, keys = next(iter(busy.items()))
                os.kill(client.run(os.getpid)[worker], signal.SIGKILL)
                killed.append((worker, list(keys)))

        dask = run_study(CONFIG, tmp_path / "dask", plots=False, progress=progress, cluster=client)
    assert killed and killed[0][1], "no worker was busy when the first task came back"
    assert dask.ran == local.ran == 12  # 4 repetitions × 3 models (cfm's 4 in one work item)
    assert dask.records == local.records
    assert sorted(p.name for p in (tmp_path / "dask" / "tasks").rglob("*.npz")) == sorted(
        p.name for p in (tmp_path / "local" / "tasks").rglob("*.npz"))  # fmt: skip


def test_the_command_line_takes_a_local_cluster_and_resumes_on_it(tmp_path, capsys):
    args = ["run", "camel", "-m", "resample", "-r", "3", "-q", "5", "--n-gen", "1000", "--out", str(tmp_path / "s")]
    assert main([*args, "--cluster", "local:2"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main([*args, "--cluster", "local:1", "-r", "4"]) == 0
    assert "resumed: 3 finished task(s)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--cluster", "local:0"], "a local cluster needs at least 1 worker"),
        (["--cluster", "slurm"], "give local:N (N worker processes here) or a scheduler's address tcp://HOST:PORT"),
        (["--cluster", "tcp://10.0.0.1:8786"], "a running cluster's scheduler is given with --scheduler"),
        (["--scheduler", "local:2"], "a cluster started here is --cluster local:N"),
        (["--cluster", "local:2", "-j", "2"], "--workers sizes the local process pool"),
        (["--cluster", "local:2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
    ],
)
def test_a_bad_cluster_is_one_error_line(tmp_path, capsys, args, message):
    rc = main(["run", "camel", "-m", "sample", "-r", "2", *args, "--out", str(tmp_path / "s")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_no_scheduler_at_the_address_is_one_error(tmp_path):
    with pytest.raises(GenampError, match="no Dask scheduler answered"):
        with connect("tcp://127.0.0.1:9", timeout=2):
            pass
    assert parse("local") == ("local", None) and parse("tcp://node1:8786") == ("tcp", None)


def test_events_generated_on_a_local_cluster_are_the_local_file(tmp_path, capsys):
    """genamp data on the same executors: three chunks made by two Dask workers and written by
    the client give the file the local process makes, event for event."""
    import h5py
    import numpy as np

    base = ["data", "ttbar", "--level", "parton", "--events", "2500", "--chunk-events", "1000"]
    assert main([*base, "-j", "1", "--out", str(tmp_path / "local.h5")]) == 0, capsys.readouterr().err
    assert main([*base, "--cluster", "local:2", "--out", str(tmp_path / "dask.h5")]) == 0, capsys.readouterr().err
    with h5py.File(tmp_path / "local.h5", "r") as a, h5py.File(tmp_path / "dask.h5", "r") as b:
        np.testing.assert_array_equal(a["events"][:], b["events"][:])
        assert a.attrs["sigma_pb"] == b.attrs["sigma_pb"] and list(a.attrs["chunk_seeds"]) == list(b.attrs["chunk_seeds"])
