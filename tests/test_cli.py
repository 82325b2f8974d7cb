"""The genamp command: a study end to end, user samples (bad input: test_robustness.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import assert_valid_results
from genamp.cli import main
from genamp.densities import make_density
from genamp.estimators.truth import plateau_sampling_error, truth_line
from genamp.volumes import QuantileGrid


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_unwritable_output_directory(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    rc, out, err = run_cli(capsys, "run", "--out", str(blocker / "out"), "-r", "2")
    assert rc == 2
    assert err.strip().splitlines() == [f"error: cannot write to output directory {blocker / 'out'}: Not a directory"]


def test_the_installed_command_prints_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "genamp.cli", "run", "--n-train", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: n_train must be at least 2, got 1"]


def test_run_end_to_end(capsys, tmp_path):
    out_dir = tmp_path / "study"
    rc, out, err = run_cli(
        capsys, "run", "camel", "--out", str(out_dir), "-r", "4", "-q", "5,10", "-j", "1",
        "-m", "sample,fit,resample", "--n-gen", "100,1000", "--seed", "7",
    )
    assert rc == 0, err
    assert "fit" in out and "Q = 10" in out
    data = assert_valid_results(out_dir / "results.json")
    assert data["config"]["seed"] == 7 and len(data["records"]) == 6
    for name in ("mse_Q5.png", "mse_Q10.png", "amplification.png", "density.png"):
        assert (out_dir / name).is_file()
    assert f"results: {out_dir / 'results.json'}" in err


def test_density_parameters_from_the_command_line(capsys, tmp_path):
    rc, _, err = run_cli(
        capsys, "run", "shell", "--dim", "3", "--density-param", "mu=2.5,sigma=0.5", "--out", str(tmp_path),
        "-r", "2", "-q", "4", "-j", "1",
    )
    assert rc == 0, err
    spec = json.loads((tmp_path / "results.json").read_text())["config"]["density_spec"]
    assert spec == {"name": "shell", "dim": 3, "mu": 2.5, "sigma": 0.5}


def test_estimate_measures_a_generator_with_known_plateau(capsys, tmp_path):
    """Files from a slightly wrong camel back: n_equiv = c / B with B known exactly."""
    truth = make_density("camel")
    gen = truth.with_params(mu1=-3.9)
    grid = QuantileGrid.from_density(truth, 10)
    p, i_gen = grid.probabilities, grid.probabilities_under(gen)
    b_exact = np.mean((i_gen - p) ** 2)
    n = 200_000
    paths = []
    for k in range(3):
        path = tmp_path / f"gen{k}.h5"
        with h5py.File(path, "w") as f:
            f["events"] = gen.sample(n, 10 + k)
            f["events"].attrs["features"] = ["x"]
        paths += ["--samples", str(path)]
    rc, out, err = run_cli(capsys, "estimate", "camel", *paths, "--n-train", "100", "-q", "10", "--out", str(tmp_path / "r.json"))
    assert rc == 0, err
    rec = assert_valid_results(tmp_path / "r.json")["records"][0]
    sd = plateau_sampling_error(i_gen, n, p) / np.sqrt(3)
    assert abs(rec["plateau"] - b_exact) < 4 * sd
    assert rec["n_equiv"] == pytest.approx(truth_line(p) / b_exact, rel=4 * sd / b_exact)
    assert rec["repetitions"] == 3 and rec["curve"]["n_gen"][-1] == n


def test_help_shows_the_defaults_of_options_left_unset(capsys):
    """Options whose default is resolved later say it in their help as '[default: …]': the help
    is plain text, so the brackets are not taken for markup and dropped."""
    rc = main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert rc == 0
    for shown in ("[default: 1]", "[default: -9]", "[default: 2]", "[default: bootstrap]", "[default: corrected]"):
        assert shown in text, shown
