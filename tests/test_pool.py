"""A truth that is a pool of events: counted cell probabilities, the pool's noise subtracted,
its error carried, a bound where the pool cannot resolve n_equiv (SPEC §7.2, §7.3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from conftest import assert_valid_results, size
from genamp.densities import make_density
from genamp.errors import GenampError
from genamp.estimators.truth import CellProbabilities, plateau, pool_error, truth_amplification, truth_line
from genamp.truths import Pool
from genamp.volumes import QuantileGrid


def test_a_pool_counts_its_volumes_with_their_binomial_variance(tmp_path):
    truth = make_density("ring")
    grid = QuantileGrid.from_density(truth, 5)
    events = truth.sample(20_000, 3)
    np.save(tmp_path / "pool.npy", events)
    for pool in (Pool(events), Pool.from_file(tmp_path / "pool.npy")):
        cells = pool.cell_probabilities(grid)
        np.testing.assert_allclose(cells.p * 20_000, grid.count(events), rtol=1e-12)
        assert cells.n_events == 20_000 and not cells.exact
        np.testing.assert_allclose(cells.variance, cells.p * (1 - cells.p) / 20_000)


def test_pool_input_errors(tmp_path):
    grid = QuantileGrid.from_density(make_density("camel"), 50)
    bad = make_density("camel").sample(1000, 1)
    bad[7] = np.nan
    with pytest.raises(GenampError, match="pool: 1 of 1000 events contain NaN"):
        Pool(bad).cell_probabilities(grid)
    with pytest.raises(GenampError, match="at Q = 50 the 1D grid has 50 volumes: the pool pool .20 events."):
        Pool(np.zeros((20, 1))).cell_probabilities(grid)
    with pytest.raises(GenampError, match="the pool pool .200 events. puts only 4 events in each of the 50 volumes.*a pool, the truth"):
        Pool(np.zeros((200, 1))).cell_probabilities(grid)
    with pytest.raises(GenampError, match="events have 2 feature.s., but the volumes are over 1"):
        Pool(np.zeros((2000, 2))).cell_probabilities(grid)


def _generator_and_truth(q: int = 20):
    truth = make_density("camel")
    grid = QuantileGrid.from_density(truth, q)
    p = grid.probabilities
    i_gen = grid.probabilities_under(truth.with_params(mu1=-3.9, sigma2=1.05))  # a known plateau
    return p, i_gen, float(np.mean((i_gen - p) ** 2))


@pytest.mark.parametrize("m", [10**4, 10**5, 10**6])
def test_the_pool_corrected_plateau_is_unbiased_and_its_error_is_the_pools(m):
    """Many pools of M events (multinomial counts of the exact p): the mean of B over pools is
    the exact plateau, within 4 standard errors of the mean, and the spread over pools is the
    predicted pool error, within the χ² band of a variance from that many pools."""
    p, i_gen, b_exact = _generator_and_truth()
    rng = np.random.default_rng(m)
    pools = size(400, 4000)
    b, predicted = [], []
    for _ in range(pools):
        truth = CellProbabilities.counted(rng.multinomial(m, p))
        b.append(float(plateau(i_gen, np.inf, truth)))
        predicted.append(pool_error(i_gen, truth))
    b = np.asarray(b)
    sd = float(np.sqrt(np.mean(np.square(predicted))))
    assert abs(b.mean() - b_exact) < 4 * sd / np.sqrt(pools)
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], pools - 1) / (pools - 1)
    assert lo < b.var(ddof=1) / sd**2 < hi


def test_the_truth_line_from_a_pool_is_unbiased():
    p, _, _ = _generator_and_truth()
    rng = np.random.default_rng(5)
    m = 1000
    c = [truth_line(CellProbabilities.counted(rng.multinomial(m, p))) for _ in range(size(2000, 20000))]
    sd = np.std(c, ddof=1) / np.sqrt(len(c))
    assert abs(np.mean(c) - truth_line(p)) < 4 * sd


def test_closure_against_pools_and_a_bound_where_the_pool_cannot_resolve():
    """R repetitions of a generator with known plateau, measured against the exact truth and
    against pools of growing size: the same G within the combined errors, the pool's share of
    the error shrinking as 1/sqrt(M); a pool much smaller than n_equiv gives a lower bound."""
    p, i_gen, b_exact = _generator_and_truth()
    rng = np.random.default_rng(11)
    n_gen, r = 10**5, 50
    fractions = np.stack([rng.multinomial(n_gen, i_gen) / n_gen for _ in range(r)])[:, None, :]
    sizes = np.array([float(n_gen)])
    exact = truth_amplification(fractions, sizes, p, n_train=100)
    assert exact.pool_error == 0 and exact.pool_size == np.inf
    errors = []
    for m in (10**4, 10**5, 10**6):
        pool = CellProbabilities.counted(rng.multinomial(m, p))
        res = truth_amplification(fractions, sizes, pool, n_train=100)
        assert res.pool_size == m and res.pool_error > 0
        assert abs(res.plateau - exact.plateau) < 4 * res.pool_error  # the same trainings: only the pool differs
        errors.append(res.pool_error)
        if m >= 10**5:
            assert res.resolved
    # the pool's error falls with M (its leading term as 1/sqrt(M) where the bias dominates)
    assert errors[0] > errors[1] > errors[2]
    tiny = truth_amplification(fractions, sizes, CellProbabilities.counted(rng.multinomial(300, p)), n_train=100)
    assert not tiny.resolved and np.isfinite(tiny.n_equiv_lower)
    assert tiny.n_equiv_lower < truth_line(p) / b_exact  # a bound, below the true n_equiv


# ---- genamp estimate --pool ---------------------------------------------------------------------
import json  # noqa: E402

import h5py  # noqa: E402

from genamp.cli import main  # noqa: E402


def _h5(path, events, features=("a",)):
    with h5py.File(path, "w") as f:
        f["events"] = events
        f["events"].attrs["features"] = list(features)
    return str(path)


def test_estimate_against_a_pool_measures_a_known_plateau_per_observable(capsys, tmp_path):
    """Files from a slightly wrong camel back against a pool of true events: the record's
    n_equiv is c/B with B and c computed exactly on the same bins (the CDFs at the edges), within
    4 of the record's own standard errors (pool included)."""
    truth = make_density("camel")
    gen = truth.with_params(mu1=-3.9)
    pool = _h5(tmp_path / "pool.h5", truth.sample(size(200_000, 2_000_000), 1))
    train = tmp_path / "train.npy"
    np.save(train, truth.sample(100, 2))
    files = [_h5(tmp_path / f"g{k}.h5", gen.sample(200_000, 10 + k)) for k in range(3)]
    out = tmp_path / "r.json"
    rc = main(["estimate", "--pool", pool, *[a for f in files for a in ("-s", f)], "--n-train", "100", "-q", "10",
               "--training", str(train), "--out", str(out)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    (rec,) = assert_valid_results(out)["records"]
    from genamp.observables import columns
    from genamp.volumes import ObservableBins

    edges = ObservableBins.from_quantiles(columns(1), np.load(train), 10).edges[0]
    p, i_gen = np.diff(truth.marginal_cdf(0, edges)), np.diff(gen.marginal_cdf(0, edges))
    b = np.mean((i_gen - p) ** 2)
    assert rec["observable"] == "a" and rec["edges_from"] == "the training set" and rec["pool_size"] > 0
    assert abs(rec["plateau"] - b) < 4 * rec["plateau_error"]
    assert rec["n_equiv"] == pytest.approx(np.mean(p * (1 - p)) / b, rel=4 * rec["plateau_error"] / b)


def test_bad_pool_input_is_one_line(capsys, tmp_path):
    camel = make_density("camel")
    good = _h5(tmp_path / "pool.h5", camel.sample(50_000, 1))
    gen = _h5(tmp_path / "gen.h5", camel.sample(20_000, 2))
    nan = camel.sample(50_000, 3)
    nan[5] = np.nan
    train = camel.sample(100, 4)
    np.save(tmp_path / "train.npy", train)
    np.save(tmp_path / "two.npy", np.zeros((100, 2)))
    cases = [
        (["--pool", _h5(tmp_path / "nan.h5", nan), "-s", gen], "nan.h5: 1 of 50000 events contain NaN or inf"),
        (["--pool", _h5(tmp_path / "tiny.h5", camel.sample(30, 5)), "-s", gen], "tiny.h5 has 30 events, no more than the training set's 100"),
        (["--pool", good, "-s", gen, "--observables", "pt"], "no observable 'pt'; the events have a"),
        (["--pool", good, "-s", str(tmp_path / "two.npy")], f"two.npy (generated): events have 2 feature(s), {good} has 1"),
        (["--pool", good, "-s", _h5(tmp_path / "other.h5", camel.sample(1000, 6), ("b",))], "other.h5: no feature a; it has b"),
        (["camel", "--pool", good, "-s", gen], "give one truth: a toy (camel, ring, shell, camels) or a pool of true events (--pool), not both"),
        (["camel", "-s", gen, "--observables", "a"], "observables, pairs and edges apply to a pool's truth"),
        (["--pool", good, "-s", good], "is given as a generated file and as the pool"),
    ]
    for args, message in cases:
        rc = main(["estimate", *args, "--n-train", "100", "-q", "10"])
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, err)
    # a pool that holds training events: they are left out of its truth (as a pool study leaves
    # out its training rows), with a note; the truth is then the pool without them, to the event
    clean = camel.sample(50_000, 7)
    overlapping = _h5(tmp_path / "overlap.h5", np.concatenate([clean, train[:30]]))
    without = _h5(tmp_path / "without.h5", clean)
    outs, errs = {}, {}
    for name, pool in (("overlap", overlapping), ("without", without)):
        rc = main(["estimate", "--pool", pool, "-s", gen, "--n-train", "100", "-q", "10",
                   "--training", str(tmp_path / "train.npy"), "--out", str(tmp_path / f"{name}.json")])  # fmt: skip
        errs[name] = capsys.readouterr().err
        assert rc == 0
        outs[name] = json.loads((tmp_path / f"{name}.json").read_text())["records"][0]
    assert "note: 30 of the 100 training events are also in the pool" in errs["overlap"] and "training events" not in errs["without"]
    assert outs["overlap"]["pool_size"] == outs["without"]["pool_size"] == 50_000
    assert outs["overlap"]["n_equiv"] == pytest.approx(outs["without"]["n_equiv"], rel=1e-9)
