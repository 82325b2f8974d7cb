"""How many events to generate (genamp.estimators.generation; docs/formulas.md §7.6).

The formula against its closed form: a sample of ``n_gen_for(n∞, f)`` events is worth exactly
``f·n∞`` (1/n_equiv = 1/n + 1/n∞). The advice keeps a bound a bound; over a model's records the
first volume to saturate limits it and is named; a study's records and results.json carry it,
and the command prints it in one line.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from genamp.errors import GenampError
from genamp.estimators.generation import FRACTION, advise, n_gen_for, overall
from genamp.study.config import StudyConfig
from genamp.study.runner import VOLUME_TABLE, run_study

from test_cli import run_cli


def n_equiv(n: np.ndarray, n_inf: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 / n + 1.0 / n_inf)


@pytest.mark.parametrize("fraction, factor", [(0.9, 9.0), (0.95, 19.0), (0.5, 1.0)])
def test_a_sample_of_n_gen_events_is_worth_that_fraction_of_its_asymptote(fraction, factor):
    n_inf = np.array([3.0, 250.0, 1.7e6])
    n = n_gen_for(n_inf, fraction)
    np.testing.assert_allclose(n, factor * n_inf, rtol=1e-12)
    np.testing.assert_allclose(n_equiv(n, n_inf), fraction * n_inf, rtol=1e-12)
    # beyond it more events gain less than 1 - fraction of the asymptote
    assert (n_equiv(np.inf, n_inf) - n_equiv(n, n_inf) <= (1 - fraction) * n_inf * (1 + 1e-12)).all()
    assert n_gen_for(np.inf) == np.inf and FRACTION == 0.9


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_a_fraction_outside_zero_one_is_refused(fraction):
    with pytest.raises(GenampError, match="must lie in"):
        n_gen_for(10.0, fraction)


def test_advice_keeps_its_error_and_its_bounds():
    a = advise(400.0, 40.0, lower=300.0)
    assert (a.n_gen, a.n_gen_std, a.bound) == (pytest.approx(3600.0, rel=1e-12), pytest.approx(360.0, rel=1e-12), False)
    assert a.to_record() == {"n_gen_90": a.n_gen, "n_gen_90_std": a.n_gen_std, "n_gen_90_bound": False}
    b = advise(float("nan"), float("nan"), lower=300.0)  # not resolved: the lower bound speaks
    assert (b.n_gen, b.n_gen_std, b.bound) == (pytest.approx(2700.0, rel=1e-12), None, True)
    assert advise(None, None, None).n_gen is None and advise(np.inf, 1.0, 5.0).bound


def _rec(method: str, observable: str | None, q: int, n: float, bound: bool = False) -> dict:
    return {"method": method, "model": "cfm", "observable": observable, "quantiles": q, "n_gen_90": n, "n_gen_90_bound": bound}


def test_the_first_volume_to_saturate_limits_the_advice():
    records = [_rec("averaging", "t_m", 10, 2.0e3), _rec("averaging", "b_eta", 10, 9.0e5), _rec("averaging", "b_pt", 5, 4.0e5, True),
               _rec("truth", "t_m", 10, 1.0e2)]  # fmt: skip
    got = overall(records)
    # the forecast speaks where it has numbers; the smallest that is a number limits it
    assert got["n_gen"] == 2.0e3 and not got["bound"] and got["limit"]["observable"] == "t_m"
    assert got["all"]["n_gen"] == 9.0e5 and got["all"]["observable"] == "b_eta"
    assert got["advice"].startswith("generating more than 2e+03 events adds less than 10% where the generator is weakest "
                                    "(t_m at Q = 10, averaging forecast)")  # fmt: skip
    assert "every observable and resolution saturates beyond 9e+05 (b_eta at Q = 10, averaging forecast)" in got["advice"]
    # without a forecast the truth speaks; only bounds say no volume is seen to saturate
    assert overall([r for r in records if r["method"] == "truth"])["n_gen"] == 1.0e2
    only = overall([_rec("averaging", "b_pt", 5, 4.0e5, True)])
    assert only["bound"] and "nothing is seen to saturate" in only["advice"]
    assert overall([{"method": "differential", "model": "cfm"}]) is None


def test_a_study_carries_the_advice(tmp_path):
    cfg = StudyConfig(density="ring", models=("resample",), methods=("truth", "averaging"), ensemble=4, quantiles=(3, 5),
                      n_train=200, repetitions=3, seed=2, n_gen=(1000, 5000))  # fmt: skip
    result = run_study(cfg, tmp_path, workers=1, plots=False)
    for rec in result.records:
        if rec["method"] == "averaging" and rec["G_inf"] is not None:
            assert rec["n_gen_90"] == pytest.approx(9 * rec["G_inf"] * rec["n_train"], rel=1e-12)
            assert rec["n_gen_90_std"] == pytest.approx(9 * rec["G_inf_std"] * rec["n_train"], rel=1e-12)
        if rec["method"] == "truth" and rec["resolved"]:
            assert rec["n_gen_90"] == pytest.approx(9 * rec["n_equiv"], rel=1e-12) and not rec["n_gen_90_bound"]
    data = json.loads((tmp_path / "results.json").read_text())
    from genamp.schema import SCHEMA_VERSION

    assert data["schema_version"] == SCHEMA_VERSION and data["generation"] == result.generation
    assert set(result.generation) == {"resample"}
    limit = result.generation["resample"]
    assert limit["n_gen"] == min(r["n_gen_90"] for r in result.records if r["method"] == "averaging" and not r["n_gen_90_bound"])
    header = (tmp_path / VOLUME_TABLE).read_text().splitlines()[0].split(",")
    assert "n_gen_90" in header


def test_the_command_prints_the_advice_in_one_line(capsys, tmp_path):
    rc, out, err = run_cli(capsys, "run", "ring", "--out", str(tmp_path), "-m", "resample", "--method", "truth,averaging",
                           "-K", "4", "-r", "2", "-q", "4", "--n-gen", "1000,5000", "-j", "1")  # fmt: skip
    assert rc == 0, err
    (line,) = [x for x in err.splitlines() if x.startswith("advice:")]
    assert line.startswith("advice: resample: ")
    assert "adds less than 10%" in line or "nothing is seen to saturate" in line
