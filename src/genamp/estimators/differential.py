"""Differential amplification: G without volumes, from a KS distance along the likelihood ratio (docs/formulas.md §3).

Arrays in, results out. For densities ``a`` and ``b`` the summary ``s_ab = log p_a − log p_b`` is
the most powerful one-dimensional statistic that tells them apart (Neyman–Pearson); the
distance ``δ_ab`` is the Kolmogorov–Smirnov distance between the distributions of ``s_ab`` under
``a`` and under ``b``. A true sample of ``n`` events sits ``κ/sqrt(n)`` from the truth on average,
``κ = sqrt(π/2)·ln 2 ≈ 0.8687`` (the mean of Kolmogorov's distribution), so
``n_equiv = (κ/δ)²`` and ``G = n_equiv/n_train``.

A KS statistic from finite samples of sizes ``n_a``, ``n_b`` is not ``δ``: even for ``a = b`` it
averages ``κ·sqrt(1/n_a + 1/n_b)``. The null is removed (choice) in quadrature,
``δ̂² = KS² − E_null[KS²]``, with ``E_null`` from a Monte Carlo of the same sizes (the KS null is
distribution-free, so uniform samples serve); the Kolmogorov law is its cross-check
(``E_null[KS²] → (π²/12)(1/n_a + 1/n_b)``). A KS below the null's 95% quantile is not resolved:
``δ`` then gets an upper bound and ``n_equiv`` a lower bound.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from genamp.errors import GenampError

#: mean of Kolmogorov's distribution, sqrt(π/2)·ln 2
KAPPA = math.sqrt(math.pi / 2.0) * math.log(2.0)
#: mean of its square, π²/12
KAPPA2 = math.pi**2 / 12.0


def _values(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size < 2:
        raise GenampError(f"{what}: {x.size} value(s); a KS distance needs at least 2")
    if not np.isfinite(x).all():
        raise GenampError(f"{what}: the summary contains NaN or inf (a log density of zero?)")
    return x


def ks_statistic(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic ``sup_y |F_a(y) − F_b(y)|`` and the ``y`` where it is reached."""
    a, b = np.sort(_values(a, "first sample")), np.sort(_values(b, "second sample"))
    grid = np.concatenate([a, b])
    diff = np.abs(np.searchsorted(a, grid, side="right") / a.size - np.searchsorted(b, grid, side="right") / b.size)
    i = int(np.argmax(diff))
    return float(diff[i]), float(grid[i])


def null_ks(n_a: int, n_b: int | float, draws: int = 400, seed: int = 0) -> np.ndarray:
    """KS statistics of ``draws`` pairs of samples from one distribution (``n_b = inf``: one sample
    against its exact CDF). Distribution-free, so uniform samples are used; a null depends on the
    sizes and the seed alone and is computed once (read-only array)."""
    return _null_ks(int(n_a), float(n_b), int(draws), int(seed))


@functools.lru_cache(maxsize=64)
def _null_ks(n_a: int, n_b: float, draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(draws)
    for d in range(draws):
        a = np.sort(rng.random(n_a))
        if np.isinf(n_b):
            i = np.arange(1, n_a + 1)
            out[d] = max(np.max(i / n_a - a), np.max(a - (i - 1) / n_a))
        else:
            out[d] = ks_statistic(a, rng.random(int(n_b)))[0]
    out.flags.writeable = False
    return out


def kolmogorov_null(n_a: float, n_b: float) -> tuple[float, float]:
    """Asymptotic mean and mean square of the KS null (Kolmogorov's law)."""
    scale = 1.0 / n_a + (0.0 if np.isinf(n_b) else 1.0 / n_b)
    return KAPPA * math.sqrt(scale), KAPPA2 * scale


@dataclass(frozen=True)
class Distance:
    """A KS distance along a likelihood ratio, its null removed, and what it is worth in events."""

    ks: float
    #: where the CDFs differ most (in the summary's units)
    y: float
    n_a: float
    n_b: float
    null_mean: float
    null_rms: float
    null_q95: float
    resolved: bool
    #: the null-removed distance; an upper bound where not resolved
    delta: float
    n_equiv: float
    #: ``None`` unless a reference sample of ``m`` events was used (then ``n_equiv ≥ m`` at best)
    reference: float | None = None

    def G(self, n_train: int) -> float:
        return self.n_equiv / n_train


def distance(
    s_a: np.ndarray, s_b: np.ndarray | None = None, *, cdf_b=None, null_draws: int = 400, seed: int = 0
) -> Distance:
    """``δ`` between the summary's values under ``a`` and under ``b`` (a sample, or ``b``'s exact CDF).

    The generator's own sampling noise and that of ``b``'s sample are removed by the Monte Carlo
    null of the same sizes; a sample of ``b`` counts as the truth (docs/formulas.md §3.5), not as a reference
    of limited size (for that, :func:`reference_distance`).
    """
    s_a = _values(s_a, "first sample")
    if s_b is None:
        if cdf_b is None:
            raise GenampError("give the second sample or its exact CDF")
        x = np.sort(s_a)
        f = np.asarray(cdf_b(x), dtype=np.float64)
        i = np.arange(1, x.size + 1)
        diff = np.maximum(i / x.size - f, f - (i - 1) / x.size)
        j = int(np.argmax(diff))
        ks, y, n_b = float(diff[j]), float(x[j]), np.inf
    else:
        s_b = _values(s_b, "second sample")
        (ks, y), n_b = ks_statistic(s_a, s_b), float(s_b.size)
    null = null_ks(s_a.size, n_b, null_draws, seed)
    null_ms = float(np.mean(null**2))
    q95 = float(np.quantile(null, 0.95))
    resolved = ks > q95
    delta = math.sqrt(max(ks**2 - null_ms, 0.0)) if resolved else math.sqrt(max(max(ks, q95) ** 2 - null_ms, 0.0))
    n_equiv = (KAPPA / delta) ** 2 if delta > 0 else np.inf
    return Distance(ks, y, float(s_a.size), n_b, float(null.mean()), math.sqrt(null_ms), q95, bool(resolved), delta, n_equiv)


def reference_distance(s_gen: np.ndarray, s_ref: np.ndarray, null_draws: int = 400, seed: int = 0) -> Distance:
    """docs/formulas.md §3.6: against a reference of ``m`` true events, ``1/n_equiv = (KS/κ)² − 1/m − 1/n_gen``.

    The reference's own fluctuation limits what can be resolved: an ``n_equiv`` beyond about ``m``
    is reported as the lower bound ``m`` (``resolved`` is then false).
    """
    d = distance(s_gen, s_ref, null_draws=null_draws, seed=seed)
    m = d.n_b
    inv = (d.ks / KAPPA) ** 2 - 1.0 / m - 1.0 / d.n_a
    if d.resolved and inv > 1.0 / m:
        return Distance(**{**d.__dict__, "n_equiv": 1.0 / inv, "reference": m})
    return Distance(**{**d.__dict__, "resolved": False, "n_equiv": m, "reference": m})


@dataclass(frozen=True)
class Profile:
    """Local amplification along the summary (docs/formulas.md §3.7): ``G(y)`` for the regions ``{s ≤ y}``."""

    y: np.ndarray
    #: CDFs of the summary under the generator and under the reference / truth
    f_gen: np.ndarray
    f_ref: np.ndarray
    n_equiv: np.ndarray

    def at(self, s: np.ndarray, n_train: int) -> np.ndarray:
        """``G`` mapped back onto events: the profile at each event's summary value."""
        g = self.n_equiv / n_train
        return np.interp(np.asarray(s, dtype=np.float64), self.y, np.where(np.isfinite(g), g, np.nan))


def profile(s_gen: np.ndarray, s_ref: np.ndarray, points: int = 49, m: float | None = None) -> Profile:
    """``1/n_equiv(y) = Δ(y)²/(F(1 − F)) − 1/n_gen − 1/n_ref`` at quantiles 2–98% of the pooled summary.

    ``Δ = F_gen − F_ref``; the two sampling terms remove the noise of both finite samples (with a
    reference of ``m`` events the ``1/m`` of docs/formulas.md §3.7). Where the result is not positive the
    volume is consistent with a perfect generator: ``n_equiv = inf``.
    """
    s_gen, s_ref = np.sort(_values(s_gen, "generated")), np.sort(_values(s_ref, "reference"))
    y = np.quantile(np.concatenate([s_gen, s_ref]), np.linspace(0.02, 0.98, points))
    f_gen = np.searchsorted(s_gen, y, side="right") / s_gen.size
    f_ref = np.searchsorted(s_ref, y, side="right") / s_ref.size
    var = f_ref * (1.0 - f_ref)
    n_ref = s_ref.size if m is None else m
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = (f_gen - f_ref) ** 2 / var - 1.0 / s_gen.size - 1.0 / n_ref
        n_equiv = np.where((var > 0) & (inv > 0), 1.0 / inv, np.inf)
    return Profile(y, f_gen, f_ref, n_equiv)


# ---- the forecast from pairs of generators ---------------------------------------------------------
@dataclass(frozen=True)
class PairForecast:
    """docs/formulas.md §3.4: the distances between K generators, and what they forecast (no truth needed)."""

    n_members: int
    #: null-removed δ_ij of every pair (K, K), symmetric, NaN on the diagonal
    delta: np.ndarray
    #: how many pairs were resolved
    resolved_pairs: int
    #: rms over pairs: a member's forecast distance; the mixture's is sqrt((1 + 1/K)/2) times it
    delta_member: float
    delta_mixture: float

    def n_equiv(self, target: str = "mixture") -> float:
        d = self.delta_mixture if target == "mixture" else self.delta_member
        return (KAPPA / d) ** 2 if d > 0 else np.inf


def pair_forecast(log_probs: list[list[np.ndarray]], null_draws: int = 200, seed: int = 0) -> PairForecast:
    """The forecast from ``log_probs[i][j] = log p_j`` at the events of generator ``i``.

    Pair ``(i, j)`` compares ``s_ij = log p_i − log p_j`` on generator i's events with the same on
    generator j's events. Unresolved pairs enter with their upper bound (so the forecast errs
    towards fewer equivalent events).
    """
    k = len(log_probs)
    if k < 2 or any(len(row) != k for row in log_probs):
        raise GenampError(f"the forecast needs a K×K table of log densities, K ≥ 2, got {k} rows")
    delta = np.full((k, k), np.nan)
    resolved = 0
    for i in range(k):
        for j in range(i + 1, k):
            d = distance(log_probs[i][i] - log_probs[i][j], log_probs[j][i] - log_probs[j][j],
                         null_draws=null_draws, seed=seed)  # fmt: skip
            delta[i, j] = delta[j, i] = d.delta
            resolved += d.resolved
    member = float(np.sqrt(np.nanmean(delta**2)))
    return PairForecast(k, delta, resolved, member, math.sqrt((1.0 + 1.0 / k) / 2.0) * member)


def mixture_log_prob(member_log_probs: np.ndarray) -> np.ndarray:
    """``log p_mix`` of an equal-weight mixture from the members' log densities (K, n)."""
    lp = np.asarray(member_log_probs, dtype=np.float64)
    return logsumexp(lp, axis=0) - math.log(lp.shape[0])
