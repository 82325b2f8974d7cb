"""Quantile grids and streamed occupancy counting."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from genamp.densities import make_density
from genamp.errors import GenampError
from genamp.volumes import Occupancy, QuantileGrid, count_occupancy, sample_chunks

CASES = [("camel", {}), ("ring", {}), ("shell", {"dim": 3}), ("shell", {"dim": 4}), ("camels", {"dim": 3})]


@pytest.mark.parametrize(("name", "params"), CASES, ids=[c[0] + str(c[1]) for c in CASES])
@pytest.mark.parametrize("q", [2, 7, 50])
def test_compiled_counting_equals_the_numpy_reference(name, params, q):
    d = make_density(name, **params)
    if q ** d.dim > 10**6:
        pytest.skip("grid too large for a unit test")
    grid = QuantileGrid.from_density(d, q)
    x = d.sample(30_000, 2)
    expected = np.bincount(grid.cell_index(x), minlength=grid.n_cells)
    np.testing.assert_array_equal(grid.count(x), expected)


EDGE_SETS = {
    "equal widths": np.linspace(-10.0, 10.0, 21),
    "quantiles": None,  # the camel back's 10 quantiles, infinite outer edges
    "very uneven (capped table, long walks)": np.array([-np.inf, 0.0, 1e-9, 2e-9, 3e-9, 1e6, np.inf]),
    "one bin": np.array([-np.inf, np.inf]),
    "two bins": np.array([-np.inf, 0.5, np.inf]),
}


@pytest.mark.parametrize("kind", list(EDGE_SETS))
def test_events_on_edges_and_outside_the_range(kind):
    """Bins are left-closed; values beyond the outer edges fall into the outer bins."""
    d = make_density("camel")
    edges = EDGE_SETS[kind] if EDGE_SETS[kind] is not None else d.quantile_edges(10, 0)
    grid = QuantileGrid(d, [edges])
    finite = edges[np.isfinite(edges)]
    x = np.concatenate(
        [finite, np.nextafter(finite, -np.inf), np.nextafter(finite, np.inf), [-1e300, 1e300, 0.0, 7.0]],
    )
    x = np.concatenate([x, np.random.default_rng(0).normal(0, 5, 1000), np.random.default_rng(1).uniform(0, 4e-9, 1000)])
    expected = np.searchsorted(edges[1:-1], x, side="right")
    np.testing.assert_array_equal(grid.count(x), np.bincount(expected, minlength=grid.n_cells))
    np.testing.assert_array_equal(grid.cell_index(x), expected)


def test_polar_angle_edges_including_the_negative_half_plane():
    ring = make_density("ring")
    grid = QuantileGrid.from_density(ring, 8)
    phi = np.arange(8) * 2 * np.pi / 8 + 1e-9
    r = np.full(8, 4.0)
    x = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
    counts = grid.count(x).reshape(8, 8)
    np.testing.assert_array_equal(counts.sum(axis=0), np.ones(8))


def test_cell_probabilities_are_exact():
    for name, params in CASES:
        d = make_density(name, **params)
        grid = QuantileGrid.from_density(d, 5)
        assert grid.probabilities.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(grid.probabilities, 1.0 / grid.n_cells, rtol=1e-9)


def test_unequal_cells_under_another_density():
    d = make_density("camel")
    grid = QuantileGrid(d, [np.array([-np.inf, -4.0, 0.0, 4.0, np.inf])])
    np.testing.assert_allclose(grid.probabilities, [0.25, 0.25, 0.25, 0.25], atol=1e-12)
    shifted = d.with_params(mu1=-3.0)
    p = grid.probabilities_under(shifted)
    assert p.sum() == pytest.approx(1.0)
    assert p[0] < 0.25 < p[1]


def test_checkpoints_give_the_counts_of_every_prefix():
    d = make_density("ring")
    grids = [QuantileGrid.from_density(d, q) for q in (3, 10)]
    x = d.sample(10_000, 5)
    cps = [1, 17, 1000, 4096, 10_000]
    chunks = np.array_split(x, [5, 100, 4000, 4097, 7000])  # chunk borders straddle checkpoints
    occ = count_occupancy(iter(chunks), grids, cps)
    for g, o in zip(grids, occ):
        np.testing.assert_array_equal(o.n, cps)
        for i, n in enumerate(cps):
            np.testing.assert_array_equal(np.rint(o.fractions[i] * n), g.count(x[:n]))


def test_sampler_stream_is_a_pure_function_with_nested_prefixes():
    d = make_density("camel")
    a = np.concatenate(list(sample_chunks(d.sample, 1000, 9, chunk_size=128)))
    b = np.concatenate(list(sample_chunks(d.sample, 600, 9, chunk_size=128)))
    np.testing.assert_array_equal(a[:600], b)
    c = np.concatenate(list(sample_chunks(d.sample, 1000, 10, chunk_size=128)))
    assert not np.array_equal(a, c)


def test_counting_reads_the_stream_only_up_to_the_last_checkpoint():
    d = make_density("camel")
    grid = QuantileGrid.from_density(d, 10)

    def endless():
        k = 0
        while True:
            yield d.sample(100, k)
            k += 1

    occ = count_occupancy(endless(), [grid], [250])[0]
    assert occ.n.tolist() == [250.0]


def test_memory_does_not_grow_with_the_number_of_events():
    ring = make_density("ring")
    grid = QuantileGrid.from_density(ring, 50)
    peaks = []
    for n in (2**20, 2**22):
        tracemalloc.start()
        count_occupancy(sample_chunks(ring.sample, n, 1), [grid], [n])
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # four times the events, the same chunks: the peak may not follow the number of events
    assert peaks[1] < 1.25 * peaks[0]
    assert peaks[1] < 64 * 2**20


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.array([[0.0, 1.0], [np.nan, 1.0]]), "1 of 2 events contain NaN or inf"),
        (np.array([[0.0, np.inf]]), "NaN or inf"),
        (np.zeros((5, 3)), "3 feature"),
        (np.zeros((2, 2, 2)), "shape"),
        (np.array([["a", "b"]]), r"holds strings \(dtype <U1\)"),
        (np.array([[1 + 1j, 0.0]]), r"holds complex numbers \(dtype complex128\)"),
        (np.array([[True, False]]), r"holds booleans"),
        ([[0.5, "x"]], r"holds strings"),
    ],
)
def test_bad_events_are_clear_errors(x, message):
    grid = QuantileGrid.from_density(make_density("ring"), 5)
    with pytest.raises(GenampError, match=message):
        grid.count(x)
    with pytest.raises(GenampError, match=message):
        count_occupancy(x, [grid])


def test_stream_errors():
    d = make_density("camel")
    grid = QuantileGrid.from_density(d, 5)
    with pytest.raises(GenampError, match="ended after 100 events"):
        count_occupancy(sample_chunks(d.sample, 100, 1), [grid], [50, 200])
    with pytest.raises(GenampError, match="increasing"):
        count_occupancy(d.sample(100, 1), [grid], [50, 20])
    with pytest.raises(GenampError, match="no events"):
        count_occupancy(np.empty((0, 1)), [grid])


def test_bad_grids():
    ring = make_density("ring")
    with pytest.raises(GenampError, match="needs edges for 2"):
        QuantileGrid(ring, [np.linspace(0, 1, 3)])
    with pytest.raises(GenampError, match="strictly increasing"):
        QuantileGrid(ring, [np.array([0.0, 2.0, 1.0]), np.linspace(0, 1, 3)])
    with pytest.raises(GenampError, match="does not factorise"):
        QuantileGrid.from_density(ring, 4).probabilities_under(make_density("camels", dim=2))


def test_exact_occupancy():
    occ = Occupancy.exact(np.array([0.5, 0.5]))
    assert occ.fractions.shape == (1, 2) and np.isinf(occ.n[0])
