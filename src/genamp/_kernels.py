"""Compiled occupancy-counting loops (numba).

Counting is the hot path of every estimator: 10^8 generated events per model and repetition
are routine. One pass per event, no temporaries per event, so memory stays at the size of the
counts whatever the number of events. Bins are left-closed, ``edges[i] <= v < edges[i + 1]``;
values below the first inner edge go to the first bin and values at or above the last inner
edge to the last one, so the outer edges may be infinite or the end of a coordinate's range.

Finding the bin is O(1): a table over the range of the inner edges, in slots narrower than the
narrowest bin, gives a first guess that is then corrected by comparing with the stored edges,
so the answer is exactly the one a search over the edges gives, whatever rounding the guess
suffered.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: the most slots a lookup table of one axis may have (int32: 256 KiB)
MAX_SLOTS = 2**16
#: slots per narrowest bin: with 32 a slot rarely straddles an edge, so the correction loop
#: rarely runs and its branch is predicted (2 slots per bin cost 8.5 ns per value on 50
#: quantile bins of a normal, 32 cost 5.8 ns; tables stay about 10 KiB)
SLOTS_PER_BIN = 32.0


def lookup_table(edges: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Slot table of one axis: ``table[i]`` is the bin of the left end of slot ``i``.

    Returns the table, the start of the first slot and the number of slots per unit.
    """
    inner = edges[1:-1]
    if inner.size < 2:
        lo = float(inner[0]) if inner.size else 0.0
        return np.searchsorted(inner, [lo], side="right").astype(np.int32), lo, 0.0
    lo, hi = float(inner[0]), float(inner[-1])
    slots = int(min(MAX_SLOTS, np.ceil(SLOTS_PER_BIN * (hi - lo) / np.diff(inner).min())))
    scale = slots / (hi - lo)
    left = lo + np.arange(slots) / scale
    return np.searchsorted(inner, left, side="right").astype(np.int32), lo, scale


@njit(nogil=True, cache=True, inline="always")
def _locate(edges, start, stop, table, t_start, t_stop, lo, scale, v):  # type: ignore[no-untyped-def]
    """Bin of ``v`` among ``edges[start:stop]`` (the bin count is ``stop - start - 1``)."""
    q = stop - start - 1
    t = (v - lo) * scale
    if t < 0.0:
        t = 0.0
    last = t_stop - t_start - 1
    if t > last:
        t = float(last)
    j = table[t_start + int(t)]
    while j < q - 1 and edges[start + j + 1] <= v:
        j += 1
    while j > 0 and edges[start + j] > v:
        j -= 1
    return j


@njit(nogil=True, cache=True)
def count_product(u, edges, offsets, table, t_offsets, lo, scale, counts):  # type: ignore[no-untyped-def]
    """Add the events ``u`` (n, d) to ``counts`` of a product grid, C order over the axes."""
    n, d = u.shape
    for k in range(n):
        idx = 0
        for a in range(d):
            s = offsets[a]
            e = offsets[a + 1]
            i = _locate(edges, s, e, table, t_offsets[a], t_offsets[a + 1], lo[a], scale[a], u[k, a])
            idx = idx * (e - s - 1) + i
        counts[idx] += 1


@njit(nogil=True, cache=True)
def count_polar(x, edges, offsets, table, t_offsets, lo, scale, counts):  # type: ignore[no-untyped-def]
    """Add Cartesian 2D events ``x`` (n, 2) to ``counts`` of an (r, phi) grid.

    Axis 0 of the edges holds the *squared* radius edges: the radius is compared through
    ``r^2`` (no square root); the angle ``phi = atan2(y, x)`` is mapped to ``[0, 2 pi)``.
    """
    n = x.shape[0]
    q_phi = offsets[2] - offsets[1] - 1
    two_pi = 2.0 * math.pi
    for k in range(n):
        a = x[k, 0]
        b = x[k, 1]
        i = _locate(edges, offsets[0], offsets[1], table, t_offsets[0], t_offsets[1], lo[0], scale[0], a * a + b * b)
        p = math.atan2(b, a)
        if p < 0.0:
            p += two_pi
        j = _locate(edges, offsets[1], offsets[2], table, t_offsets[1], t_offsets[2], lo[1], scale[1], p)
        counts[i * q_phi + j] += 1


@njit(nogil=True, cache=True)
def count_columns(x, cols, edges, offsets, table, t_offsets, lo, scale, counts):  # type: ignore[no-untyped-def]
    """Add events ``x`` (n, features) to several 1D volumes at once, each over one column.

    Axis ``a`` of the kernel arrays bins column ``cols[a]``; ``counts`` holds the volumes' cells
    one after another (volume ``a`` starts at ``offsets[a] − a``). One pass over the rows: every
    event is read once for all its observables, however many there are.
    """
    n = x.shape[0]
    d = cols.shape[0]
    for k in range(n):
        for a in range(d):
            s = offsets[a]
            e = offsets[a + 1]
            j = _locate(edges, s, e, table, t_offsets[a], t_offsets[a + 1], lo[a], scale[a], x[k, cols[a]])
            counts[s - a + j] += 1
