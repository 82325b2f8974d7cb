"""``genamp run ttbar``: a pool of Pythia events from the cache (made once), the physics
observables as volumes, the networks in decay coordinates; and what it refuses, in one line."""

from __future__ import annotations

import importlib.util
import json

import pytest

from test_cli import run_cli

needs_pythia = pytest.mark.skipif(importlib.util.find_spec("pythia8mc") is None, reason="pythia8mc is not installed")


@needs_pythia
def test_a_top_pair_study_makes_its_pool_once_and_bins_every_observable(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GENAMP_CACHE", str(tmp_path / "cache"))
    args = ["run", "ttbar", "--level", "parton", "--pool-events", "20000", "--n-train", "500", "-r", "2", "-K", "2",
            "--method", "truth,averaging", "-q", "5", "--n-gen", "500,1000", "--set", "cfm.steps=20", "-j", "1"]  # fmt: skip
    rc, out, err = run_cli(capsys, *args, "--out", str(tmp_path / "a"))
    assert rc == 0, err
    assert "generating it now, once" in err and "not binned: b_m (constant), q1_m (2 values)" in err
    (pool,) = (tmp_path / "cache" / "ttbar").glob("parton-*-20000.h5")
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    config = results["config"]
    assert config["pool"] == str(pool) and config["coordinates"] == "decay" and config["n_train"] == 500
    assert config["pairs"] == ["Wp_m:t_m", "Wm_m:tbar_m"] and config["quantiles"] == [5]
    # the top pairs' network, under what --set gives
    assert config["settings"] == {"cfm": {"hidden": [128, 128, 128], "epochs": 1000.0, "steps": 20}}
    observed = {r["observable"] for r in results["records"] if r["method"] == "truth"}
    assert {"t_m", "Wp_m", "b_pt", "ttbar_m", "dR_q1_q2", "Wp_m × t_m"} <= observed and "b_m" not in observed
    assert len(observed) == len(config["observables"]) + 2
    # a second study finds the pool in the cache
    rc, out, err = run_cli(capsys, *args, "--out", str(tmp_path / "b"), "--observables", "t_m")
    assert rc == 0 and "generating it now" not in err
    assert {r["observable"] for r in json.loads((tmp_path / "b" / "results.json").read_text())["records"]} == {
        "t_m", "Wp_m × t_m", "Wm_m × tbar_m"}


@pytest.mark.parametrize("args, message", [
    (["run", "ttbar"], "genamp run ttbar needs --level parton or --level jet"),
    (["run", "ttbar", "--level", "hadron"], "--level must be one of parton, jet, got 'hadron'"),
    (["run", "ring", "--level", "parton"], "--level applies to the top-pair study"),
    (["run", "ring", "--no-isr"], "--no-isr applies to the top-pair study"),
    (["run", "ring", "--coordinates", "decay"], "--coordinates applies to a pool of top-pair events"),
])  # fmt: skip
def test_what_the_top_pair_study_refuses_is_one_error(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("GENAMP_CACHE", str(tmp_path / "cache"))
    rc, out, err = run_cli(capsys, *args, "--out", str(tmp_path / "out"), "-r", "2")
    assert rc == 2 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ") and message in line
