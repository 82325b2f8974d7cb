"""A forecast falsified by a holdout (genamp.estimators.falsification; docs/formulas.md §7.7).

A truth that is one more density about the members' centre (the null hypothesis) gives p-values
below 5% in 5% of holdouts, within four binomial standard errors, with σ²_model estimated from
K = 10 members (the χ²_{J−1} reading gave 17%: hence the simulated reference). Members that share a bias are caught when the true n_equiv is well inside the holdout's
reach, and not when it is far beyond it, as the reach formula says.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import size
from genamp.errors import GenampError
from genamp.estimators.averaging import forecast
from genamp.estimators.falsification import falsify, reach, sequential_p

J, K, N_GEN, N_TRAIN = 10, 10, 20_000, 1000


def densities(rng: np.random.Generator, p: np.ndarray, sigma2: float, n: int, bias: np.ndarray | None = None) -> np.ndarray:
    """``n`` densities over the J volumes: the centre ``p`` plus a shared ``bias`` plus each one's
    own model deviation of variance ``sigma2·p(1−p)`` per volume (summing to zero)."""
    dev = rng.normal(0.0, np.sqrt(sigma2 * p * (1 - p)), (n, J))
    dev -= dev.mean(axis=1, keepdims=True)
    q = np.clip(p + (0.0 if bias is None else bias) + dev, 1e-9, None)
    return q / q.sum(axis=1, keepdims=True)


def members(rng: np.random.Generator, p: np.ndarray, sigma2: float, bias: np.ndarray | None = None) -> np.ndarray:
    """K members' occupancies of N_GEN events each, from their densities."""
    return np.stack([rng.multinomial(N_GEN, q) / N_GEN for q in densities(rng, p, sigma2, K, bias)])


def test_the_reach_in_closed_form():
    assert reach(2000, 10) == pytest.approx(2000 * 10 / (3 * np.sqrt(18)), rel=1e-12)
    assert reach(2000, 10) / 2000 == pytest.approx(0.786, abs=1e-3) and reach(10, 1) == np.inf


def test_a_truth_like_one_more_member_passes_at_the_rate_of_its_threshold():
    rng = np.random.default_rng(7)
    p = np.full(J, 1.0 / J)
    n_h, trials = 2000, 400
    # the truth is one more draw of the members' distribution: the null hypothesis holds
    low = 0
    for _ in range(trials):
        # the truth is one more density around the members' centre: the null hypothesis holds
        (truth,) = densities(rng, p, 1.0 / 500, 1)
        fc = forecast(members(rng, p, 1.0 / 500), N_GEN, N_TRAIN)
        h = rng.multinomial(n_h, truth) / n_h
        low += falsify(fc, h, n_h, draws=2000).p_value < 0.05
    rate, se = low / trials, np.sqrt(0.05 * 0.95 / trials)
    assert abs(rate - 0.05) < 4 * se, rate


@pytest.mark.slow
def test_a_small_holdout_in_many_volumes_passes_at_the_rate_of_its_threshold():
    """20 held-out events in 50 volumes (the default holdout of n_train = 100 at Q = 50): counts
    far from normal. The reference counts its simulated holdout as a multinomial, so p ≤ 0.01 in
    1% of true forecasts within 4 binomial errors (normal holdout noise gave 2.3% here, and
    0.77% below 10⁻³ instead of 0.1%)."""
    rng = np.random.default_rng(1)
    j, n_h, trials = 50, 20, size(1500, 6000)
    p = np.full(j, 1.0 / j)

    def dens(n: int) -> np.ndarray:
        dev = rng.normal(0.0, np.sqrt(p * (1 - p) / 500), (n, j))
        q = np.clip(p + dev - dev.mean(axis=1, keepdims=True), 1e-9, None)
        return q / q.sum(axis=1, keepdims=True)

    low = 0
    for _ in range(trials):
        fc = forecast(np.stack([rng.multinomial(N_GEN, q) / N_GEN for q in dens(K)]), N_GEN, N_TRAIN)
        low += falsify(fc, rng.multinomial(n_h, dens(1)[0]) / n_h, n_h).p_value <= 0.01
    rate = low / trials
    assert abs(rate - 0.01) < 4 * np.sqrt(0.01 * 0.99 / trials), rate


def test_the_sequential_p_value_stops_at_the_hth_exceedance_and_stays_valid():
    """Besag and Clifford: h / n at the h-th simulated value ≥ the observed one; where fewer
    exceed, the full simulation's (1 + count)/(1 + draws). Under the null (observed and simulated
    from one distribution) P(p ≤ α) ≤ α: at α = 0.05 and 0.5 the rate is within 4 binomial
    errors of α over 4000 trials."""
    rng = np.random.default_rng(5)
    sims = rng.uniform(size=20_000)
    blocks = lambda: (sims[i : i + 1000] for i in range(0, sims.size, 1000))  # noqa: E731
    x = 0.5
    n = int(np.flatnonzero(sims >= x)[99]) + 1
    assert sequential_p(x, blocks(), sims.size) == 100 / n
    x = 0.9999  # about 2 of 20 000 exceed: no stop
    assert sequential_p(x, blocks(), sims.size) == (1 + np.sum(sims >= x)) / (1 + sims.size)
    trials = 4000
    ps = np.array([sequential_p(rng.uniform(), iter([rng.uniform(size=500) for _ in range(4)]), 2000) for _ in range(trials)])
    for alpha in (0.05, 0.5):
        rate = np.mean(ps <= alpha)
        assert rate < alpha + 4 * np.sqrt(alpha * (1 - alpha) / trials), (alpha, rate)
        assert rate > alpha - 4 * np.sqrt(alpha * (1 - alpha) / trials), (alpha, rate)


@pytest.mark.parametrize("n_equiv, caught", [(200.0, True), (20_000.0, False)])
def test_a_shared_bias_is_caught_within_the_reach_only(n_equiv, caught):
    """A shared bias d with Σ d²/(p(1−p)) = J/n_equiv (an n_equiv of the mixture against the
    truth), the members agreeing closely: n_H = 2000 reaches about 1600."""
    rng = np.random.default_rng(11)
    p = np.full(J, 1.0 / J)
    d = np.sqrt(p * (1 - p) / n_equiv) * np.array([1, -1] * (J // 2))
    n_h = 2000
    verdicts = []
    for _ in range(20):
        fc = forecast(members(rng, p, 1e-6, d), N_GEN, N_TRAIN)
        h = rng.multinomial(n_h, p) / n_h
        verdicts.append(falsify(fc, h, n_h, draws=4000).falsified)
    assert np.mean(verdicts) == (1.0 if caught else 0.0), verdicts


def test_the_failing_volumes_are_named_and_a_hole_is_infinitely_far():
    p = np.full(J, 1.0 / J)
    rng = np.random.default_rng(3)
    m = members(rng, p, 1e-6)
    m[:, 0], m[:, 1] = 0.0, m[:, 1] + m[:, 0]  # no member puts anything in volume 0
    fc = forecast(m, N_GEN, N_TRAIN)
    res = falsify(fc, p, 2000)
    assert res.falsified and res.failing[0] == 0 and res.pulls[0] == -np.inf and 1 in res.failing
    assert res.n_equiv_reach == pytest.approx(reach(2000, J))


@pytest.mark.parametrize("holdout, n, message", [(np.full(3, 1 / 3), 100, "shape"), (np.full(J, 2.0), 100, "fractions"),
                                                 (np.full(J, 0.1), 0, "holdout events")])  # fmt: skip
def test_bad_input_is_one_error(holdout, n, message):
    fc = forecast(members(np.random.default_rng(0), np.full(J, 0.1), 1e-3), N_GEN, N_TRAIN)
    with pytest.raises(GenampError, match=message):
        falsify(fc, holdout, n)


# ---- in a study ------------------------------------------------------------------------------------


def test_a_study_tests_every_forecast_against_its_holdout(tmp_path):
    from genamp.study.config import StudyConfig
    from genamp.study.runner import holdout_fractions, run_study
    from genamp.study.tasks import volume_sets

    cfg = StudyConfig(density="ring", models=("resample",), methods=("averaging",), ensemble=4, quantiles=(3,),
                      n_train=2000, repetitions=3, seed=4, n_gen=(1000, 5000), holdout=500)  # fmt: skip
    result = run_study(cfg, tmp_path, workers=1, plots=False)
    (rec,) = result.records
    assert rec["holdout"] == 500 and rec["falsified"] == (rec["falsification_p"] < rec["falsification"]["threshold"])
    assert rec["n_equiv_reach"] == pytest.approx(reach(500, rec["falsification"]["volumes"]))
    assert 0.0 <= rec["falsification"]["falsified_fraction"] <= 1.0
    assert any("falsified by a holdout" in w for w in rec["warnings"]) == rec["falsified"]
    assert cfg.to_dict()["holdout"] == 500 and "holdout" not in StudyConfig(density="ring").to_dict()
    # the holdout is a stream of its own: not any repetition's training set, the same on every call
    grids = volume_sets({"density": {"name": "ring"}, "quantiles": [3]})
    a, b = holdout_fractions(cfg, grids, 0), holdout_fractions(cfg, grids, 0)
    assert np.array_equal(a[3], b[3]) and not np.array_equal(a[3], holdout_fractions(cfg, grids, 1)[3])
    # resuming reads the same tasks and gives the same verdict
    (again,) = run_study(cfg, tmp_path, workers=1, plots=False).records
    assert again["falsification_p"] == rec["falsification_p"]


@pytest.mark.parametrize("extra, message", [
    (["--method", "truth"], "--holdout tests the averaging forecast"),
    (["--method", "averaging", "--holdout", "-5"], "holdout"),
    (["--method", "averaging", "--holdout", "1.5"], "a fraction of n_train below 1"),
    (["--method", "averaging", "--holdout", "a fifth"], "--holdout must be a number"),
])  # fmt: skip
def test_a_holdout_the_study_cannot_use_is_one_error(capsys, tmp_path, extra, message):
    from test_cli import run_cli

    args = ["run", "ring", "--out", str(tmp_path), "-m", "resample", "-K", "4", "-r", "2", "-q", "3", "--n-gen", "1000"]
    if "--holdout" not in extra:
        extra = [*extra, "--holdout", "100"]
    rc, out, err = run_cli(capsys, *args, *extra)
    assert rc == 2 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ") and message in line


@pytest.mark.parametrize("given, count", [(0.2, 400), (0.0001, 1), (2000, 2000), (2000.0, 2000), (0, 0), (None, 400)])
def test_a_holdout_is_a_count_or_a_fraction_of_n_train(given, count):
    from genamp.study.config import StudyConfig

    cfg = StudyConfig(density="ring", models=("resample",), methods=("averaging",), ensemble=4, n_train=2000,
                      repetitions=2, quantiles=(3,), n_gen=(1000,), holdout=given)  # fmt: skip
    assert cfg.holdout == count and type(cfg.holdout) is int
    assert StudyConfig.from_dict(cfg.to_dict()).holdout == count  # the study reads back as the count
    # a fifth of n_train by default with the averaging method, none without it
    assert StudyConfig(density="ring", models=("resample",), methods=("truth",), n_train=2000, quantiles=(3,),
                       n_gen=(1000,)).holdout == 0  # fmt: skip


def test_a_pool_study_holds_out_rows_its_members_and_its_truth_do_not_use(tmp_path):
    from genamp.study import pooltruth
    from genamp.study.config import StudyConfig
    from genamp.study.runner import run_study

    m = 20_000
    np.save(tmp_path / "pool.npy", np.random.default_rng(0).normal(size=(m, 2)))
    cfg = StudyConfig(pool=str(tmp_path / "pool.npy"), models=("resample",), methods=("truth", "averaging"), ensemble=4,
                      n_train=500, repetitions=2, quantiles=(5,), n_gen=(1000, 5000), holdout=300, seed=3)  # fmt: skip
    result = run_study(cfg, tmp_path / "study", workers=1, plots=False)
    averaging = [r for r in result.records if r["method"] == "averaging"]
    assert averaging and all(r["holdout"] == 300 and r["n_equiv_reach"] is not None for r in averaging)
    spec = {"pool": cfg.pool_spec, "seed": cfg.seed, "n_train": cfg.n_train}
    for r in range(2):
        held = pooltruth.holdout_rows(spec, r, 300)
        assert held.size == np.unique(held).size == 300 and not np.isin(held, pooltruth.training_rows(spec, r)).any()
    used = np.unique(np.concatenate([pooltruth.training_rows(spec, r) for r in range(2)]
                                    + [pooltruth.holdout_rows(spec, r, 300) for r in range(2)]))  # fmt: skip
    truth = [r for r in result.records if r["method"] == "truth"]
    assert truth and all(r["pool_size"] == m - used.size for r in truth)
    # training and held-out rows together may take at most half of the file
    with pytest.raises(GenampError, match="held out"):
        StudyConfig(pool=str(tmp_path / "pool.npy"), models=("resample",), methods=("averaging",), ensemble=4,
                    n_train=500, repetitions=10, holdout=600)  # fmt: skip
