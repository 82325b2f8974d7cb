"""Compiled occupancy-counting loops (numba).

Counting is the hot path of every estimator: 10^8 generated events per model and repetition
are routine. One pass per event, no temporaries per event, so memory stays at the size of the
counts whatever the number of events. Bins are left-closed, ``edges[i] <= v < edges[i + 1]``;
values below the first inner edge go to the first bin and values at or above the last inner
edge to the last one, so the outer edges may be infinite or the end of a coordinate's range.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(nogil=True, cache=True, inline="always")
def _locate(edges, start, stop, uniform, inv_width, v):  # type: ignore[no-untyped-def]
    """Bin of ``v`` among ``edges[start:stop]`` (the bin count is ``stop - start - 1``)."""
    q = stop - start - 1
    if uniform:
        # Equal-width bins: start from the arithmetic guess, then correct by comparing with the
        # stored edges, so the answer is exactly the one a search over the edges gives.
        t = (v - edges[start]) * inv_width
        if t < 0.0:
            t = 0.0
        if t > q - 1:
            t = q - 1.0
        j = int(t)
        while j > 0 and edges[start + j] > v:
            j -= 1
        while j < q - 1 and edges[start + j + 1] <= v:
            j += 1
        return j
    lo = 1
    hi = q
    while lo < hi:
        mid = (lo + hi) >> 1
        if edges[start + mid] <= v:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


@njit(nogil=True, cache=True)
def count_product(u, edges, offsets, uniform, inv_width, counts):  # type: ignore[no-untyped-def]
    """Add the events ``u`` (n, d) to ``counts`` of a product grid, C order over the axes."""
    n, d = u.shape
    for k in range(n):
        idx = 0
        for a in range(d):
            s = offsets[a]
            e = offsets[a + 1]
            i = _locate(edges, s, e, uniform[a], inv_width[a], u[k, a])
            idx = idx * (e - s - 1) + i
        counts[idx] += 1


@njit(nogil=True, cache=True)
def count_polar(x, r2_edges, phi_edges, phi_uniform, phi_inv_width, counts):  # type: ignore[no-untyped-def]
    """Add Cartesian 2D events ``x`` (n, 2) to ``counts`` of an (r, phi) grid.

    The radius is compared through ``r^2`` against squared edges (no square root), the angle
    ``phi = atan2(y, x)`` is mapped to ``[0, 2 pi)``.
    """
    n = x.shape[0]
    n_r = r2_edges.shape[0]
    n_phi = phi_edges.shape[0]
    q_phi = n_phi - 1
    two_pi = 2.0 * math.pi
    for k in range(n):
        a = x[k, 0]
        b = x[k, 1]
        i = _locate(r2_edges, 0, n_r, False, 0.0, a * a + b * b)
        p = math.atan2(b, a)
        if p < 0.0:
            p += two_pi
        j = _locate(phi_edges, 0, n_phi, phi_uniform, phi_inv_width, p)
        counts[i * q_phi + j] += 1


def is_uniform(edges: np.ndarray) -> bool:
    """Whether finite, equally spaced edges allow the arithmetic first guess."""
    if not np.isfinite(edges).all() or edges.size < 2:
        return False
    widths = np.diff(edges)
    return bool(np.allclose(widths, widths[0], rtol=1e-9, atol=0.0))
