"""Calibration and closure of the averaging forecast over repetitions (docs/formulas.md §2.7, §2.8).

Use :func:`summarise` on the forecasts of ``R`` repetitions (:func:`genamp.estimators.averaging.forecast`)
with the truth's cell probabilities: the mean forecast, its error, the truth-based G of the same
mixture, and the coverage of the per-volume pulls beside the coverage of a perfectly calibrated
forecast with the same ``K`` (:func:`reference_pulls`).

Calibration (docs/formulas.md §2.7) compares the members' mean with the exact cell probabilities ``p_j``.
``m_j`` is the occupancy of the ``K·n_gen`` events of the mixture, so its expected squared miss
is ``f_mix·σ²_model,j + m_j(1 − m_j)/(K n_gen)``; the pull divides by the root of that (§2.7's
denominator with the mixture's own size, choice). With ``σ²_model`` estimated from ``K`` members
the pulls of a perfect forecast are not standard normal but wider (Student-like with ``K − 1``
degrees of freedom where the model term dominates), so coverage is reported beside the coverage a
perfectly calibrated forecast with the same ``K``, ``n_gen`` and cells would have
(:func:`reference_pulls`, a simulation of that hierarchy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from genamp.errors import GenampError
from genamp.estimators.averaging import (
    AveragingForecast,
    _g_inf,
    _n_equiv,
    _validate_probabilities,
    model_factor,
    resolution_advice,
)
from genamp.estimators.truth import TruthLike, plateau, truth_line

__all__ = ["CURVE_LEVELS", "LEVELS", "AveragingSummary", "coverage", "member_plateau", "reference_pulls", "summarise"]

#: central coverage levels reported: ±1 and ±2 standard deviations
LEVELS = (0.6826894921370859, 0.9544997361036416)
#: levels of the calibration curve
CURVE_LEVELS = tuple(sorted({*np.round(np.linspace(0.05, 0.95, 19), 2).tolist(), *LEVELS, 0.99}))


def reference_pulls(
    sigma2: np.ndarray, binomial: np.ndarray, n_members: int, n_gen: float, draws: int, seed: int = 0
) -> np.ndarray:
    """Pulls of a perfectly calibrated forecast with these volumes (draws, J), by simulation.

    In every draw the truth and the K members' integrals are independent normal draws of
    variance ``sigma2`` about a common centre, each member's occupancy adds its sampling noise
    ``binomial/n_gen``, and the pull is formed exactly as :meth:`AveragingForecast.pulls` does
    (estimated σ²_model, clipped at zero). The pulls are scale-free, so the centre is zero.
    """
    rng = np.random.default_rng(seed)
    sigma2 = np.maximum(np.asarray(sigma2, dtype=np.float64), 0.0)
    s = np.asarray(binomial, dtype=np.float64) / n_gen
    k = n_members
    out = np.empty((draws, sigma2.size))
    # blocks of draws keep memory at draws_per_block × K × J
    step = max(1, 2**22 // max(1, k * sigma2.size))
    for start in range(0, draws, step):
        d = min(step, draws - start)
        truth = rng.standard_normal((d, sigma2.size)) * np.sqrt(sigma2)
        members = rng.standard_normal((d, k, sigma2.size)) * np.sqrt(sigma2) + rng.standard_normal(
            (d, k, sigma2.size)
        ) * np.sqrt(s)
        m = members.mean(axis=1)
        est = members.var(axis=1, ddof=1) - s
        scale = (1.0 + 1.0 / k) * np.maximum(est, 0.0) + s / k
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start : start + d] = np.where(scale > 0, (m - truth) / np.sqrt(scale), np.nan)
    return out


def coverage(pulls: np.ndarray, levels: np.ndarray | tuple[float, ...] = LEVELS) -> np.ndarray:
    """Fraction of finite pulls inside the central normal interval of every level."""
    x = np.abs(np.asarray(pulls, dtype=np.float64).ravel())
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.full(len(levels), np.nan)
    z = ndtri(0.5 + 0.5 * np.asarray(levels, dtype=np.float64))
    return (x[None, :] < z[:, None]).mean(axis=1)


# ---- many trainings --------------------------------------------------------------------------------
@dataclass(frozen=True)
class AveragingSummary:
    """The forecast over ``R`` repetitions (fresh training sets), and its closure with the truth.

    ``G_inf`` is the forecast from the mean over repetitions of ``Σ_j σ²_model,j`` (the analogue of
    the truth method's mean plateau), ``G_inf_std`` its standard error, ``G_inf_spread`` the
    16–84% range of single repetitions (a user's one training). ``truth_*`` are the truth-based G
    of docs/formulas.md §1 for the same volumes: of the mixture, and of one member on average.
    """

    n_members: int
    n_gen: float
    n_train: int
    repetitions: int
    G: float
    G_inf: float
    G_inf_std: float
    G_inf_spread: tuple[float, float]
    G_inf_member: float
    #: fraction of repetitions whose aggregate σ²_model was resolved on its own
    resolved_fraction: float
    #: fraction of (repetition, volume) pairs with a per-volume number
    volumes_resolved_fraction: float
    #: per volume, over repetitions: mean m, mean σ²_model, its standard error, G∞ from the mean
    volume_mean: np.ndarray
    volume_sigma2: np.ndarray
    volume_sigma2_error: np.ndarray
    volume_G_inf: np.ndarray
    volume_resolved_fraction: np.ndarray
    truth_G: float
    truth_G_std: float
    truth_G_member: float
    #: pulls (R, J) against the exact p, and the coverage at ``levels`` of them and of a perfectly
    #: calibrated forecast with the same K, n_gen and volumes
    pulls: np.ndarray
    levels: tuple[float, ...]
    coverage: np.ndarray
    reference_coverage: np.ndarray
    #: what the summary could not give a number for, in words
    notes: tuple[str, ...]

    def coverage_at(self, level: float) -> tuple[float, float]:
        """Observed and reference coverage at one of ``levels``."""
        i = int(np.argmin(np.abs(np.asarray(self.levels) - level)))
        return float(self.coverage[i]), float(self.reference_coverage[i])


def member_plateau(fractions: np.ndarray, n_gen: float, p: TruthLike) -> float:
    """Mean over members of the truth-based plateau (docs/formulas.md §1.4) of one member's sample."""
    return float(plateau(np.asarray(fractions, dtype=np.float64), n_gen, p).mean())


def summarise(
    forecasts: list[AveragingForecast],
    p: TruthLike | None = None,
    member_plateaus: list[float] | None = None,
    reference_draws: int = 200,
    seed: int = 0,
    levels: tuple[float, ...] = CURVE_LEVELS,
) -> AveragingSummary:
    """Combine per-repetition forecasts; with the truth ``p``, add calibration and closure.

    ``p`` is exact (an array) or counted from a pool (:class:`CellProbabilities`): the closure's
    plateau then subtracts the pool's noise and the pulls add its variance (docs/formulas.md §7.4).

    ``member_plateaus`` (one per repetition, :func:`member_plateau`) give the per-member
    truth-based G; without them it is NaN.
    """
    if not forecasts:
        raise GenampError("no repetitions to summarise")
    first = forecasts[0]
    k, n_gen, n_train = first.n_members, first.n_gen, first.n_train
    if any(f.mean.shape != first.mean.shape or f.n_members != k or f.n_gen != n_gen for f in forecasts):
        raise GenampError("the repetitions differ in volumes, members or n_gen")
    r = len(forecasts)
    mix, member = model_factor(k, "mixture"), model_factor(k, "member")
    totals = np.array([f.total_sigma2 for f in forecasts])
    binom = float(np.mean([f.total_binomial for f in forecasts]))
    s_mean = float(totals.mean())
    s_err = float(totals.std(ddof=1) / np.sqrt(r)) if r > 1 else first.total_sigma2_error
    notes: list[str] = []

    def g_inf(total: float, factor: float) -> float:
        return binom / (n_train * factor * total) if total > 0 else np.inf

    resolved = s_mean > first.significance * s_err
    if not resolved:
        notes.append(
            f"mean Σσ²_model {s_mean:.3g} ± {s_err:.2g} over {r} repetition(s) is not resolved; "
            + resolution_advice(first.total_n_gen_needed, first.total_members_needed, n_gen, k)
        )
    sig = np.stack([f.sigma2 for f in forecasts])
    vol_sigma2 = sig.mean(axis=0)
    vol_err = sig.std(axis=0, ddof=1) / np.sqrt(r) if r > 1 else first.sigma2_error
    vol_mean = np.stack([f.mean for f in forecasts]).mean(axis=0)
    vol_ok = vol_sigma2 > first.significance * vol_err
    vol_g = np.where(vol_ok, _g_inf(vol_mean * (1 - vol_mean), mix * vol_sigma2, n_train), np.nan)
    lo, hi = np.percentile(totals, [16.0, 84.0])
    summary = dict(
        n_members=k,
        n_gen=n_gen,
        n_train=n_train,
        repetitions=r,
        G=float(_n_equiv(k * n_gen, np.array([binom]), np.array([mix * s_mean]))[0] / n_train) if resolved else np.nan,
        G_inf=g_inf(s_mean, mix) if resolved else np.nan,
        G_inf_std=g_inf(s_mean, mix) * s_err / s_mean if resolved else np.nan,
        G_inf_spread=(g_inf(hi, mix), g_inf(lo, mix)),
        G_inf_member=g_inf(s_mean, member) if resolved else np.nan,
        resolved_fraction=float(np.mean([f.total_resolved for f in forecasts])),
        volumes_resolved_fraction=float(np.mean([f.resolved.mean() for f in forecasts])),
        volume_mean=vol_mean,
        volume_sigma2=vol_sigma2,
        volume_sigma2_error=vol_err,
        volume_G_inf=vol_g,
        volume_resolved_fraction=np.mean([f.resolved for f in forecasts], axis=0),
    )
    if p is None:
        none = np.full(len(levels), np.nan)
        return AveragingSummary(**summary, truth_G=np.nan, truth_G_std=np.nan, truth_G_member=np.nan,
                                pulls=np.empty((0, first.mean.size)), levels=levels, coverage=none,
                                reference_coverage=none, notes=tuple(notes))  # fmt: skip
    p = _validate_probabilities(p, first.mean.size)
    c = truth_line(p)
    # the mixture's occupancy is that of K·n_gen events; its plateau is corrected for that noise
    plateaus = np.array([plateau(f.mean, k * n_gen, p) for f in forecasts])
    b = float(plateaus.mean())
    b_err = float(plateaus.std(ddof=1) / np.sqrt(r)) if r > 1 else np.nan
    truth_g = c / (n_train * b) if b > 0 else np.inf
    if member_plateaus is not None:
        member_b = float(np.mean(member_plateaus))
        truth_member = c / (n_train * member_b) if member_b > 0 else np.inf
    else:
        truth_member = np.nan
    if not b > 2 * b_err:
        notes.append("the truth-based plateau of the mixture is not resolved: its G is a lower bound at best")
    pulls = np.stack([f.pulls(p) for f in forecasts])
    ref = reference_pulls(np.maximum(vol_sigma2, 0.0), vol_mean * (1 - vol_mean), k, n_gen, reference_draws, seed)
    return AveragingSummary(
        **summary,
        truth_G=truth_g,
        truth_G_std=truth_g * b_err / b if b > 0 else np.nan,
        truth_G_member=truth_member,
        pulls=pulls,
        levels=levels,
        coverage=coverage(pulls, levels),
        reference_coverage=coverage(ref, levels),
        notes=tuple(notes),
    )
