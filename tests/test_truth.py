"""Truth-based amplification (SPEC §1) against its closed forms.

For J equiprobable cells the Pearson statistic of a true sample of n events is
``X² = n J² MSE`` with mean ``J − 1`` and exact variance ``2 (J − 1)(1 − 1/n)``, so
``E[MSE] = c/n`` with ``c = (J − 1)/J²`` and ``sd[MSE] = sqrt(2 (J − 1)(1 − 1/n)) / (n J²)``.
Every tolerance below is four standard deviations of the quantity tested, from these formulas.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from conftest import size
from genamp.densities import make_density
from genamp.errors import GenampError
from genamp.estimators.truth import plateau, plateau_sampling_error, quantile_mse, truth_amplification, truth_line
from genamp.models.fit import ParametricFit
from genamp.models.resample import Resampler
from genamp.seeding import seed_sequence
from genamp.volumes import Occupancy, QuantileGrid, count_occupancy, sample_chunks


def mse_sd(j: int, n: float) -> float:
    return float(np.sqrt(2.0 * (j - 1) * (1.0 - 1.0 / n)) / (n * j**2))


def true_sample_fractions(density, grid, n, reps, seed):
    return np.stack([grid.count(density.sample(n, seed_sequence(seed, r))) / n for r in range(reps)])


def test_truth_line_constant():
    assert truth_line(np.full(20, 0.05)) == pytest.approx(19 / 400)
    p = np.array([0.1, 0.2, 0.7])
    assert truth_line(p) == pytest.approx(np.mean(p * (1 - p)))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "q", "n"), [("camel", 10, 100), ("camel", 50, 1000), ("ring", 10, 500)])
def test_truth_line_matches_simulation(name, q, n):
    d = make_density(name)
    grid = QuantileGrid.from_density(d, q)
    reps = size(400, 4000)
    mse = quantile_mse(true_sample_fractions(d, grid, n, reps, 1), grid.probabilities)
    c = truth_line(grid.probabilities)
    j = grid.n_cells
    assert abs(mse.mean() - c / n) < 4 * mse_sd(j, n) / np.sqrt(reps)
    # the spread of the MSE itself follows the exact variance (sd of a sd: ~ sd * sqrt(kurtosis term / R))
    assert mse.std(ddof=1) == pytest.approx(mse_sd(j, n), rel=4 * np.sqrt((2 + 12 / (j - 1)) / (4 * reps)))


@pytest.mark.slow
def test_truth_line_for_unequal_cells():
    d = make_density("camel")
    grid = QuantileGrid(d, [np.array([-np.inf, -5.0, -4.0, 0.0, 4.5, np.inf])])
    n, reps = 200, size(2000, 20000)
    mse = quantile_mse(true_sample_fractions(d, grid, n, reps, 2), grid.probabilities)
    c = truth_line(grid.probabilities)
    assert abs(mse.mean() - c / n) < 4 * mse.std(ddof=1) / np.sqrt(reps)


def test_training_sample_is_worth_itself():
    """The sample baseline: exact occupancies of n_train true events give n_equiv = n_train."""
    d = make_density("camel")
    grid = QuantileGrid.from_density(d, 20)
    n, reps = 100, 500
    frac = true_sample_fractions(d, grid, n, reps, 3)[:, None, :]
    res = truth_amplification(frac, np.array([np.inf]), grid.probabilities, n)
    rel = mse_sd(grid.n_cells, n) / (truth_line(grid.probabilities) / n) / np.sqrt(reps)
    assert res.n_equiv == pytest.approx(n, rel=4 * rel)
    assert res.resolved
    median = truth_line(grid.probabilities) / np.median(quantile_mse(frac[:, 0], grid.probabilities))
    assert res.G_median == pytest.approx(median / n)
    # the reported error is the theory's, within the standard error of a standard deviation
    # (kurtosis of a scaled chi2 with J − 1 degrees of freedom: 3 + 12/(J − 1))
    j = grid.n_cells
    assert res.G_std == pytest.approx(res.G * rel, rel=4 * np.sqrt((2 + 12 / (j - 1)) / (4 * reps)) + rel)


@pytest.mark.slow
@pytest.mark.parametrize("m", [50, 400])
def test_a_true_sample_of_size_m_as_generator_is_worth_m_events(m):
    """Resampling m true events: the plateau is that sample's own MSE, so n_equiv = m."""
    d = make_density("camel")
    grid = QuantileGrid.from_density(d, 20)
    reps, n_gen = size(150, 1000), 200_000
    rows = []
    for r in range(reps):
        gen = Resampler().fit(d.sample(m, seed_sequence(4, r, 0)))
        occ = count_occupancy(sample_chunks(gen.sample, n_gen, seed_sequence(4, r, 1)), [grid], [1000, n_gen])[0]
        rows.append(occ.fractions)
    res = truth_amplification(np.stack(rows), np.array([1000.0, n_gen]), grid.probabilities, n_train=m)
    j = grid.n_cells
    rel_one = np.sqrt(2 * (1 - 1 / m) / (j - 1)) * np.sqrt(1 + (m / n_gen) ** 2)
    assert res.n_equiv == pytest.approx(m, rel=4 * rel_one / np.sqrt(reps))
    assert res.G == pytest.approx(1.0, rel=4 * rel_one / np.sqrt(reps))
    # the curve: at 1000 generated events the MSE is B + c/1000 on average (bias-free check)
    c = truth_line(grid.probabilities)
    expected = c / m + c / 1000 * (1 - 1 / m)
    sd = np.hypot(mse_sd(j, m), mse_sd(j, 1000))
    assert abs(res.mse_mean[0] - expected) < 4 * sd / np.sqrt(reps)


@pytest.mark.slow
def test_bias_corrected_plateau_is_unbiased_and_its_error_is_right():
    """A generator with known cell integrals I (a shifted camel back): B is exact."""
    truth = make_density("camel")
    gen = truth.with_params(mu1=-3.8, sigma2=1.1)
    grid = QuantileGrid.from_density(truth, 20)
    p, i_gen = grid.probabilities, grid.probabilities_under(gen)
    b_exact = np.mean((i_gen - p) ** 2)
    n, reps = 2000, size(400, 4000)
    frac = np.stack([grid.count(gen.sample(n, seed_sequence(6, r))) / n for r in range(reps)])
    b = plateau(frac, n, p)
    sd_theory = plateau_sampling_error(i_gen, n, p)
    assert abs(b.mean() - b_exact) < 4 * sd_theory / np.sqrt(reps)
    kurtosis = stats.kurtosis(b, fisher=False)  # standard error of a standard deviation
    assert b.std(ddof=1) == pytest.approx(sd_theory, rel=4 * np.sqrt((kurtosis - 1) / (4 * reps)))
    # the uncorrected MSE is biased by the sampling term, which the correction removes
    raw = quantile_mse(frac, p).mean()
    assert raw - b_exact > 10 * sd_theory / np.sqrt(reps)


@pytest.mark.slow
def test_the_correction_is_exact_for_small_samples():
    """E[Ī(1 − Ī)] = I(1 − I)(1 − 1/n) exactly, so the plateau is unbiased at any n ≥ 2."""
    truth = make_density("camel")
    gen = truth.with_params(mu1=-3.5)
    grid = QuantileGrid.from_density(truth, 5)
    p, i_gen = grid.probabilities, grid.probabilities_under(gen)
    n, reps = 30, size(100_000, 1_000_000)
    counts = np.random.default_rng(12).multinomial(n, i_gen, size=reps)
    b = plateau(counts / n, n, p)
    assert abs(b.mean() - np.mean((i_gen - p) ** 2)) < 4 * b.std(ddof=1) / np.sqrt(reps)


def test_a_perfect_generator_gives_only_a_lower_bound():
    """Sampling the truth itself: B = 0, so G is not a number but a bound set by n_gen."""
    d = make_density("camel")
    grid = QuantileGrid.from_density(d, 10)
    n_gen, reps = 100_000, 20
    frac = true_sample_fractions(d, grid, n_gen, reps, 8)[:, None, :]
    res = truth_amplification(frac, np.array([float(n_gen)]), grid.probabilities, n_train=100)
    assert not res.resolved
    assert res.n_equiv_lower > n_gen  # resolvable only up to about n_gen * sqrt(R)
    assert np.isnan(res.G_std)


def test_plateau_fit_agrees_with_the_corrected_plateau():
    d = make_density("camel")
    grid = QuantileGrid.from_density(d, 20)
    n_gen = [300, 1000, 3000, 10_000, 30_000, 100_000]
    rows = []
    for r in range(40):
        gen = Resampler().fit(d.sample(100, seed_sequence(9, r, 0)))
        rows.append(count_occupancy(sample_chunks(gen.sample, n_gen[-1], seed_sequence(9, r, 1)), [grid], n_gen)[0].fractions)
    frac = np.stack(rows)
    a = truth_amplification(frac, np.array(n_gen, float), grid.probabilities, 100, method="corrected")
    b = truth_amplification(frac, np.array(n_gen, float), grid.probabilities, 100, method="fit")
    assert b.plateau == pytest.approx(a.plateau, abs=3 * a.plateau_error)


@pytest.mark.slow
def test_fit_amplification_grows_with_resolution():
    """The seed paper: the fit is worth ~300, 500, 1000 events at 10, 20, 50 quantiles."""
    d = make_density("camel")
    qs = (5, 10, 20, 50)
    grids = [QuantileGrid.from_density(d, q) for q in qs]
    reps = size(300, 2000)
    occ = {q: [] for q in qs}
    for r in range(reps):
        fit = ParametricFit(d).fit(d.sample(100, seed_sequence(10, r, 0)))
        for q, g in zip(qs, grids):
            occ[q].append(Occupancy.exact(fit.cell_probabilities(g)).fractions)
    res = [truth_amplification(np.stack(occ[q]), np.array([np.inf]), g.probabilities, 100) for q, g in zip(qs, grids)]
    for lo, hi in zip(res, res[1:]):
        # unpaired errors; the same training sets make the real difference more precise still
        assert hi.G - lo.G > 3 * np.hypot(lo.G_std, hi.G_std)
    assert all(r.G > 1.5 for r in res[1:])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(fractions=np.zeros((2, 3))), "shape"),
        (dict(fractions=np.full((2, 1, 4), np.nan)), "NaN"),
        (dict(n_train=1), "at least 2"),
        (dict(n_gen=np.array([1e3, 1e2]), fractions=np.full((2, 2, 4), 0.25)), "increase"),
        (dict(p=np.full(3, 1 / 3)), "disagree"),
        (dict(fractions=np.zeros((0, 1, 4))), "no repetitions"),
        (dict(method="median", n_gen=np.array([1e2, 1e3, 1e4]), fractions=np.full((2, 3, 4), 0.25)), "plateau method"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, message):
    args = dict(fractions=np.full((2, 1, 4), 0.25), n_gen=np.array([1e3]), p=np.full(4, 0.25), n_train=100)
    args.update(kwargs)
    with pytest.raises(GenampError, match=message):
        truth_amplification(**args)


def test_per_volume_amplification_is_the_closed_form_and_sums_to_the_total():
    """A generator whose cell integrals sit off the truth by known amounts: each volume's G is
    p(1 − p)/(n_train · (I − p)²) within its error, and the p(1 − p)-weighted mean of 1/G_j is
    the total's 1/G (the same plateau, volume by volume)."""
    from genamp.estimators.truth import volume_amplification

    rng = np.random.default_rng(3)
    p = np.full(10, 0.1)
    integrals = p + 0.01 * np.array([1, -1, 2, -2, 1.5, -1.5, 0.5, -0.5, 3, -3])
    n, n_train, reps = 10**6, 100, 400
    last = rng.multinomial(n, integrals, size=reps) / n
    res = volume_amplification(last, n, p, n_train)
    expected = p * (1 - p) / (n_train * (integrals - p) ** 2)
    assert res.resolved.all()
    assert (np.abs(res.G - expected) < 4 * res.G_std).all()
    total = truth_amplification(last[:, None, :], np.array([float(n)]), p, n_train)
    assert 1 / total.G == pytest.approx(np.average(1 / res.G, weights=p * (1 - p)), rel=1e-9)
    # a volume the generator gets right has only a bound, and the bound is below the truth (∞)
    res = volume_amplification(rng.multinomial(n, p, size=reps) / n, n, p, n_train)
    assert np.isfinite(res.G_lower).all() and res.resolved.sum() <= 2
