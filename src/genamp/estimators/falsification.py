"""A forecast that can be falsified without a pool (docs/formulas.md §7.7).

The averaging forecast assumes the truth behaves like one more member. Members that share a bias
(all undertrained, all smearing a narrow peak) agree with each other, and the forecast is then far
too optimistic without a sign. A holdout of ``n_H`` true events that no member saw tests the
assumption, volume by volume:

    z_j = (m_j − h_j) / sqrt((1 + 1/K) σ²_model,j + m_j(1 − m_j)/n_H + m_j(1 − m_j)/(K n_gen)),

with ``h_j`` the holdout's occupancy and ``σ²_model,j`` clipped at zero; over a partition
``χ² = Σ_j z_j²``.

**genamp** (choice): the p-value of ``χ²`` is not read from ``χ²_{J−1}``. With ``K`` = 10 members
``σ²_model`` is known only to about 47% (``sqrt(2/(K − 1))``), so where it dominates each pull is
t-like and ``χ²_{J−1}`` would reject a true forecast several times too often (measured: 17% of
p-values below 5%). The reference is simulated instead, as the calibration's reference pulls are
(:func:`genamp.estimators.calibration.reference_pulls`): in each draw the truth and the ``K``
members are normal deviations of variance ``σ²_model,j`` about the members' mean occupancy, the
members add their sampling noise, each conditioned to sum to zero over the partition
(occupancies sum to 1), and ``χ²`` is formed exactly as here, ``σ²_model`` estimated from the
simulated members. The holdout is drawn as what it is: ``n_H`` events of the simulated truth
(clipped at zero), counted in the volumes, a multinomial. With 20 events in 50 volumes its
counts are far from normal; normal holdout noise made true forecasts fall below p = 0.01 in
2.3–2.5% of tests and below 10⁻³ in 0.8% (``tests/test_falsification.py``).

The p-value is Besag and Clifford's sequential Monte Carlo one (*Sequential Monte Carlo
p-values*, Biometrika 78 (1991) 301): the simulation stops at the ``h``-th draw with
``χ²_sim ≥ χ²`` (``h`` = :data:`EXCEEDANCES`), after ``n`` draws, and ``p = h / n``; if fewer
than ``h`` of all ``draws`` exceed, ``p = (1 + #{χ²_sim ≥ χ²}) / (1 + draws)``. Both are valid
p-values. A forecast far from refuted costs a few hundred draws instead of 20 000 (a
300-repetition study spent 360 of its 366 s of aggregation here); near the threshold every draw
is made, so small p-values keep their resolution.
A volume where no member has an event but the holdout has some gets ``z = ∞``; one empty in both
is left out.
A p-value below ``threshold`` (choice: 10⁻³) falsifies the forecast, naming the volumes with
``|z_j| > 3``.

**genamp** (choice): the holdout's binomial variance is taken at ``m_j``, the occupancy the null
hypothesis predicts, rather than at ``h_j``: a volume the holdout leaves empty would otherwise
carry no holdout noise and a spurious pull.

The check has a reach. With a bias ``d_j`` the χ² grows by ``Σ_j d_j²/var_j ≈ J n_H/n_equiv``,
which stands out at about 3σ of the χ² (``3 sqrt(2(J − 1))``) when

    n_equiv ≲ n_reach = n_H J / (3 sqrt(2 (J − 1)))      (≈ 0.79 n_H at J = 10).

A forecast that passes is confirmed only up to ``n_reach``; one beyond it rests on the members
not sharing a bias.

Use :func:`falsify` on an :class:`~genamp.estimators.averaging.AveragingForecast` and the
holdout's occupancies of the same volumes; :func:`reach` alone for planning a holdout's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from genamp import _validate
from genamp.errors import GenampError
from genamp.estimators.averaging import AveragingForecast, model_factor

__all__ = ["DRAWS", "EXCEEDANCES", "FAILING_PULL", "THRESHOLD", "Falsification", "falsify", "null_chi2", "reach", "sequential_p"]

#: a p-value below this falsifies the forecast
THRESHOLD = 1e-3
#: volumes whose pull exceeds this are named as failing
FAILING_PULL = 3.0


def reach(n_holdout: float, n_cells: int) -> float:
    """``n_reach = n_H J / (3 sqrt(2 (J − 1)))``: the largest ``n_equiv`` a holdout of ``n_H``
    events refutes at about 3σ over ``J`` volumes (infinite for one volume: no test)."""
    if n_cells < 2:
        return np.inf
    return float(n_holdout) * n_cells / (3.0 * np.sqrt(2.0 * (n_cells - 1)))


@dataclass(frozen=True)
class Falsification:
    """The holdout's verdict on one forecast over one partition."""

    n_holdout: int
    #: per volume (J,); NaN where the volume holds no events in the members
    pulls: np.ndarray
    chi2: float
    #: volumes in the test (those with events in the members or the holdout)
    volumes: int
    p_value: float
    threshold: float
    falsified: bool
    #: volumes with |z| > :data:`FAILING_PULL`, largest first
    failing: np.ndarray
    n_equiv_reach: float


#: draws of the simulated reference at most: p-values resolved to about 5·10⁻⁵
DRAWS = 20_000
#: simulated χ² at least as large as the observed one after which the simulation stops
#: (Besag and Clifford's h): the p-value is then known to about 1/sqrt(h) = 10%
EXCEEDANCES = 100
#: draws simulated at a time (fewer where K × J is large: memory stays at a few 10 MB)
BLOCK = 1000


def _zero_sum(x: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Independent normal deviations of variances ``var`` (last axis) conditioned on summing to zero."""
    total = var.sum()
    return x - var * x.sum(axis=-1, keepdims=True) / total if total > 0 else x


def null_chi2(sigma2: np.ndarray, centre: np.ndarray, n_members: int, n_gen: float, n_holdout: int,
              draws: int = DRAWS, seed: int = 0) -> np.ndarray:  # fmt: skip
    """``χ²`` of a truth that behaves like one more member (draws,), by simulation (module doc):
    ``centre`` is the members' mean occupancy, ``sigma2`` their model variance per volume."""
    return np.concatenate(list(_null_blocks(sigma2, centre, n_members, n_gen, n_holdout, draws, seed)))


def _null_blocks(sigma2: np.ndarray, centre: np.ndarray, n_members: int, n_gen: float, n_holdout: int,
                 draws: int, seed: int) -> Iterator[np.ndarray]:  # fmt: skip
    """:func:`null_chi2`'s draws, a block at a time (one random stream over all of them)."""
    rng = np.random.default_rng(seed)
    sigma2 = np.maximum(np.asarray(sigma2, dtype=np.float64), 0.0)
    centre = np.asarray(centre, dtype=np.float64)
    binomial = centre * (1.0 - centre)
    s, hv = binomial / n_gen, binomial / n_holdout
    k, j = n_members, sigma2.size
    step = max(1, min(BLOCK, 2**22 // max(1, k * j)))  # blocks keep memory at step × K × J
    for start in range(0, draws, step):
        d = min(step, draws - start)

        def normal(*shape: int, var: np.ndarray) -> np.ndarray:
            return _zero_sum(rng.standard_normal((*shape, j)) * np.sqrt(var), var)

        # the truth: one more member about the centre; the holdout: n_H events of it, counted
        p = np.clip(centre + normal(d, var=sigma2), 0.0, None)
        p /= np.where(p.sum(axis=1, keepdims=True) > 0, p.sum(axis=1, keepdims=True), 1.0)
        truth = rng.multinomial(n_holdout, p) / n_holdout - centre
        members = normal(d, k, var=sigma2) + normal(d, k, var=s)
        m = members.mean(axis=1)
        est = members.var(axis=1, ddof=1) - s
        scale = (1.0 + 1.0 / k) * np.maximum(est, 0.0) + hv + s / k
        with np.errstate(divide="ignore", invalid="ignore"):
            z2 = np.where(scale > 0, (m - truth) ** 2 / scale, 0.0)
        yield z2.sum(axis=1)


def sequential_p(chi2: float, blocks: Iterable[np.ndarray], draws: int, exceedances: int = EXCEEDANCES) -> float:
    """Besag and Clifford's sequential Monte Carlo p-value of ``chi2`` against simulated values
    coming in ``blocks`` (``draws`` in all): ``h / n`` at the ``h``-th simulated value ``≥ chi2``
    (the ``n``-th draw), else ``(1 + count) / (1 + draws)`` (module doc)."""
    count, seen = 0, 0
    for block in blocks:
        hits = np.flatnonzero(block >= chi2)
        if count + hits.size >= exceedances:
            return exceedances / (seen + int(hits[exceedances - count - 1]) + 1)
        count, seen = count + hits.size, seen + block.size
    return (1 + count) / (1 + draws)


def falsify(
    fc: AveragingForecast, holdout: np.ndarray, n_holdout: int, threshold: float = THRESHOLD, draws: int = DRAWS, seed: int = 0
) -> Falsification:
    """Test ``fc`` against the occupancies ``holdout`` (J,) of ``n_holdout`` true events that no
    member trained on; ``draws`` and ``seed`` make the simulated reference of the p-value."""
    n_holdout = _validate.positive_int(n_holdout, "holdout events", minimum=1)
    h = np.asarray(holdout, dtype=np.float64)
    if h.shape != fc.mean.shape:
        raise GenampError(f"the holdout's occupancies have shape {h.shape}, the forecast's volumes {fc.mean.shape}")
    if not np.isfinite(h).all() or (h < 0).any() or (h > 1).any():
        raise GenampError("the holdout's occupancies must be fractions in [0, 1]")
    if not 0.0 < threshold < 1.0:
        raise GenampError(f"the falsification threshold must lie in (0, 1), got {threshold}")
    k, m = fc.n_members, fc.mean
    binomial = m * (1.0 - m)
    scale = model_factor(k, "mixture") * np.maximum(fc.sigma2, 0.0) + binomial / n_holdout + binomial / (k * fc.n_gen)
    with np.errstate(divide="ignore", invalid="ignore"):
        # no member puts an event where the holdout has some: infinitely far (and named)
        z = np.where(scale > 0, (m - h) / np.sqrt(scale), np.where(h != m, np.copysign(np.inf, m - h), np.nan))
    used = ~np.isnan(z)
    j = int(used.sum())
    x2 = float(np.sum(z[used] ** 2))
    if j < 2:
        p = 1.0
    elif not np.isfinite(x2):
        p = 0.0
    else:
        blocks = _null_blocks(fc.sigma2[used], m[used], k, fc.n_gen, n_holdout, draws, seed)
        p = float(sequential_p(x2, blocks, draws))
    big = np.flatnonzero(np.abs(np.nan_to_num(z)) > FAILING_PULL)
    failing = big[np.argsort(-np.abs(z[big]))]
    return Falsification(n_holdout, z, x2, j, p, float(threshold), bool(p < threshold), failing, reach(n_holdout, j))
