"""Truth-based amplification: the GANplification quantile MSE (docs/formulas.md §1).

Arrays in, results out; nothing here knows about models.

For cells with exact probabilities ``p_j`` (J cells) and a data set with occupancies ``Ī_j``:

- quantile MSE: ``MSE = (1/J) Σ_j (Ī_j − p_j)²``;
- a true sample of ``n`` events has ``E[MSE] = c/n`` with ``c = (1/J) Σ_j p_j (1 − p_j)``
  (exact, :func:`truth_line`);
- a generator whose cell integrals are ``I_j`` has ``E[MSE](n_gen) = B + c_gen/n_gen`` with the
  plateau ``B = (1/J) Σ_j (I_j − p_j)²``; ``n_equiv = c / B``, ``G = n_equiv / n_train``.

The plateau of a finite generated sample is estimated without bias (:func:`plateau`): since
``E[Ī(1 − Ī)] = I(1 − I)(1 − 1/n)``, subtracting ``Ī_j(1 − Ī_j)/(n − 1)`` from each squared
deviation removes the sampling term exactly. Occupancies with ``n = inf`` are exact (a fit's
CDF, or a data set evaluated as it is) and need no correction.

The truth's cell probabilities are :class:`CellProbabilities`: exact (an analytic density), or
counted from a **pool** of ``M`` true events (docs/formulas.md §7.2), ``p̂_j`` with variance ``p_j(1 − p_j)/M``.
Against a pool the pool's own noise is subtracted as well (docs/formulas.md §7.3),
``b_j = (Ī_j − p̂_j)² − Ī_j(1 − Ī_j)/(n − 1) − p̂_j(1 − p̂_j)/(M − 1)``, and the plateau's error
includes the pool's, which all repetitions share: ``n_equiv`` is resolved only up to about
``M``; beyond, the result is a lower bound. Every function here takes either a plain array of
exact probabilities or :class:`CellProbabilities`.

Use :func:`truth_amplification` on an array of occupancies (repetitions × sizes × cells), or
:func:`summarise_repetition` per repetition and :func:`combine_repetitions` to stream them;
:func:`volume_amplification` gives the same per volume (where a generator amplifies, bin by bin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from genamp import _validate
from genamp.errors import GenampError

#: one-sided 95% quantile of the normal distribution, for lower bounds on n_equiv
Z95 = 1.6448536269514722

PlateauMethod = Literal["corrected", "fit"]


@dataclass(frozen=True)
class CellProbabilities:
    """The truth's probability of every volume, and how well it is known.

    ``n_events`` is ``inf`` for an analytic truth (exact ``p_j``) and the pool size ``M`` for
    probabilities counted from ``M`` true events (docs/formulas.md §7.2), each with variance
    ``p_j(1 − p_j)/M``.
    """

    p: np.ndarray
    n_events: float = np.inf

    def __post_init__(self) -> None:
        p = np.asarray(self.p, dtype=np.float64)
        if p.ndim != 1 or p.size == 0 or not np.isfinite(p).all() or (p < 0).any():
            raise GenampError("cell probabilities must be a non-empty list of finite numbers ≥ 0")
        if not (self.n_events == np.inf or self.n_events >= 2):
            raise GenampError(f"a pool needs at least 2 events, got {self.n_events}")
        object.__setattr__(self, "p", p)
        object.__setattr__(self, "n_events", float(self.n_events))

    @classmethod
    def counted(cls, counts: np.ndarray) -> CellProbabilities:
        """From the number of pool events in every volume."""
        counts = np.asarray(counts, dtype=np.float64)
        total = float(counts.sum())
        if total < 2:
            raise GenampError(f"a pool needs at least 2 events in its volumes, got {total:g}")
        return cls(counts / total, total)

    @property
    def exact(self) -> bool:
        return not np.isfinite(self.n_events)

    @property
    def noise(self) -> float:
        """``(1/J) Σ_j p̂_j(1 − p̂_j)/(M − 1)``: the pool's own term in a squared error, unbiased
        (docs/formulas.md §7.3); zero for an analytic truth."""
        return 0.0 if self.exact else float(np.mean(self.p * (1.0 - self.p))) / (self.n_events - 1.0)

    @property
    def variance(self) -> np.ndarray:
        """``p_j(1 − p_j)/M`` per volume (zero for an analytic truth)."""
        return np.zeros_like(self.p) if self.exact else self.p * (1.0 - self.p) / self.n_events


TruthLike = np.ndarray | CellProbabilities


def cells(truth: TruthLike) -> CellProbabilities:
    """``truth`` as :class:`CellProbabilities` (a plain array is exact)."""
    return truth if isinstance(truth, CellProbabilities) else CellProbabilities(np.asarray(truth, dtype=np.float64))


def truth_line(p: TruthLike) -> float:
    """``c`` of the exact truth line ``E[MSE] = c/n`` of a true sample of ``n`` events.

    From a pool, ``E[p̂(1 − p̂)] = p(1 − p)(1 − 1/M)``: the factor ``M/(M − 1)`` makes it unbiased.
    """
    truth = cells(p)
    c = float(np.mean(truth.p * (1.0 - truth.p)))
    return c if truth.exact else c * truth.n_events / (truth.n_events - 1.0)


def quantile_mse(fractions: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Quantile MSE over the last axis (the cells)."""
    return np.mean((np.asarray(fractions) - p) ** 2, axis=-1)


def plateau(fractions: np.ndarray, n: np.ndarray | float, p: TruthLike) -> np.ndarray:
    """Unbiased estimate of ``B = (1/J) Σ (I_j − p_j)²`` from occupancies of ``n`` events.

    ``fractions`` has the cells on its last axis; ``n`` broadcasts against the other axes.
    Against a pool of ``M`` events the pool's sampling term ``p̂(1 − p̂)/(M − 1)`` is removed too
    (docs/formulas.md §7.3).
    """
    truth = cells(p)
    fractions = np.asarray(fractions, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    if np.any(n < 2):
        raise GenampError("a plateau needs at least 2 generated events per sample")
    # (n - 1) = inf for exact occupancies: no sampling term to remove
    return (
        np.mean((fractions - truth.p) ** 2, axis=-1)
        - np.mean(fractions * (1.0 - fractions), axis=-1) / (n - 1.0)
        - truth.noise
    )


def plateau_sampling_error(fractions: np.ndarray, n: float, p: TruthLike) -> float:
    """Standard error of :func:`plateau` from the finite generated sample alone.

    Multinomial counts to leading order: ``Var = (1/J²) Σ_j [2 (I(1−I)/n)² + 4 (I − p)² I(1−I)/n]``.
    It ignores the training fluctuation, so it only stands in where one repetition is all there is.
    """
    if not np.isfinite(n):
        return 0.0
    f = np.asarray(fractions, dtype=np.float64)
    p = cells(p).p
    var_cell = f * (1.0 - f) / n
    j = f.shape[-1]
    return float(np.sqrt(np.sum(2.0 * var_cell**2 + 4.0 * (f - p) ** 2 * var_cell)) / j)


def pool_error(mean_fractions: np.ndarray, truth: TruthLike) -> float:
    """Standard error of a plateau from the pool's own noise (zero for an analytic truth).

    The pool is one multinomial draw shared by every repetition, so this part does not average
    away. With ``d = I − p`` the generator's mean deviation and ``δ = p̂ − p`` the pool's, whose
    covariance is ``Σ = (diag p − p pᵀ)/M``, the plateau moves as ``(1/J) Σ_j (−2 d_j δ_j + δ_j² − s_j²)``:
    ``Var = (1/J²) [4 dᵀΣd + 2 tr Σ²]`` to leading order in ``1/M``. Measured, ``d`` is
    ``g = Ī − p̂`` with ``E[g gᵀ] = d dᵀ + Σ``, so ``(1/J²) [4 gᵀΣg − 2 tr Σ²]`` is unbiased; it is kept
    at least ``2 tr Σ²``, what a generator equal to the truth still has.
    """
    truth = cells(truth)
    if truth.exact:
        return 0.0
    p, m = truth.p, truth.n_events
    g = np.asarray(mean_fractions, dtype=np.float64) - p
    g_sigma_g = (np.sum(g**2 * p) - np.sum(g * p) ** 2) / m
    p2 = float(np.sum(p**2))
    tr_sigma2 = (p2 - 2.0 * float(np.sum(p**3)) + p2**2) / m**2
    var = max(4.0 * g_sigma_g - 2.0 * tr_sigma2, 2.0 * tr_sigma2)
    return float(np.sqrt(var) / p.size)


def _fit_plateau(mse: np.ndarray, n: np.ndarray, c: float) -> float:
    """``B`` from a weighted least-squares fit of ``MSE(n) = B + a/n`` over the n_gen grid.

    The weights assume the standard deviation of an MSE is proportional to its expectation
    (a scaled χ² of J − 1 degrees of freedom), with ``c/n + B`` as the expectation.
    """
    guess = max(float(mse[-1] - c / n[-1]), 0.0)
    w = 1.0 / (c / n + guess)
    design = np.stack([np.ones_like(n), 1.0 / n], axis=1) * w[:, None]
    coef, *_ = np.linalg.lstsq(design, mse * w, rcond=None)
    return float(coef[0])


@dataclass(frozen=True)
class TruthAmplification:
    """Truth-based amplification of one model at one resolution over ``R`` repetitions."""

    n_train: int
    n_cells: int
    c: float
    #: sample sizes of the MSE curve (inf: exact occupancies)
    n_gen: np.ndarray
    #: mean and standard deviation over repetitions of the MSE at each n_gen
    mse_mean: np.ndarray
    mse_std: np.ndarray
    #: per-repetition plateau estimates
    plateaus: np.ndarray
    plateau: float
    plateau_error: float
    n_equiv: float
    #: one-sided 95% lower bound on n_equiv
    n_equiv_lower: float
    G: float
    #: standard error of G (delta method on the mean plateau)
    G_std: float
    #: 16% and 84% quantiles of the per-repetition G: the spread of one training
    G_spread: tuple[float, float]
    #: G of the median repetition (the per-repetition plateau is skewed, so this is the
    #: typical training, while G from the mean plateau weights the poor ones)
    G_median: float
    #: whether the plateau is resolved (more than two standard errors above zero)
    resolved: bool
    #: events of the pool the truth was counted from (inf: an analytic truth)
    pool_size: float = np.inf
    #: the part of ``plateau_error`` that comes from the pool's own noise (shared by all repetitions)
    pool_error: float = 0.0

    @property
    def repetitions(self) -> int:
        return int(self.plateaus.size)


@dataclass(frozen=True)
class RepetitionSummary:
    """What one repetition contributes: its MSE curve and its plateau (no occupancies kept)."""

    mse: np.ndarray
    plateau: float
    #: standard error of the plateau from the generated sample's own noise
    sampling_error: float
    #: occupancies at the largest sample size (what the pool's error needs), shape (cells,)
    last: np.ndarray | None = None


def _check_sizes(n_gen: np.ndarray) -> None:
    if n_gen.size > 1 and (np.diff(n_gen) <= 0).any():
        raise GenampError(f"n_gen must increase, got {n_gen.tolist()}")


def summarise_repetition(
    fractions: np.ndarray, n_gen: np.ndarray, p: TruthLike, method: PlateauMethod = "corrected"
) -> RepetitionSummary:
    """Reduce one repetition's occupancies (N sample sizes, J cells) to its MSE curve and plateau.

    A study streams its repetitions through this, so memory grows with R × J, not R × N × J.
    """
    truth = cells(p)
    fractions = np.asarray(fractions, dtype=np.float64)
    n_gen = np.asarray(n_gen, dtype=np.float64)
    p = truth.p
    if fractions.ndim != 2 or fractions.shape != (n_gen.size, p.size):
        raise GenampError(
            f"shapes disagree: occupancies {fractions.shape}, n_gen {n_gen.shape}, cells {p.shape}"
        )
    if not np.isfinite(fractions).all():
        raise GenampError("occupancies contain NaN or inf")
    _check_sizes(n_gen)
    mse = quantile_mse(fractions, p)
    if method == "fit" and np.isfinite(n_gen).all() and n_gen.size >= 3:
        # against a pool the MSE curve carries c/M on top: the fit's constant absorbs it
        b = _fit_plateau(mse, n_gen, truth_line(truth)) - truth.noise
    elif method in ("corrected", "fit"):
        b = float(plateau(fractions[-1], n_gen[-1], truth))
    else:
        raise GenampError(f"unknown plateau method {method!r}; use 'corrected' or 'fit'")
    return RepetitionSummary(mse, b, plateau_sampling_error(fractions[-1], float(n_gen[-1]), p), fractions[-1].copy())


def combine_repetitions(
    summaries: list[RepetitionSummary], n_gen: np.ndarray, p: TruthLike, n_train: int
) -> TruthAmplification:
    """Truth-based amplification of ``R`` repetitions from their summaries (docs/formulas.md §1.4, §1.5, §7.3)."""
    if not summaries:
        raise GenampError("no repetitions to estimate from")
    _validate.positive_int(n_train, "n_train", minimum=2)
    truth = cells(p)
    n_gen = np.asarray(n_gen, dtype=np.float64)
    p = truth.p
    r = len(summaries)
    c = truth_line(truth)
    mse = np.stack([s.mse for s in summaries])
    plateaus = np.array([s.plateau for s in summaries])
    b = float(plateaus.mean())
    # the spread over repetitions holds the training fluctuation; one repetition has only the
    # generated sample's own noise to go by, a lower bound on the real uncertainty
    b_err = float(plateaus.std(ddof=1) / np.sqrt(r)) if r > 1 else summaries[0].sampling_error
    # the pool's noise is common to every repetition: it adds in quadrature, whatever R is
    b_pool = 0.0
    if not truth.exact:
        if any(s.last is None for s in summaries):
            raise GenampError("a pool's error needs every repetition's occupancies at its largest sample")
        b_pool = pool_error(np.mean([s.last for s in summaries], axis=0), truth)
        b_err = float(np.hypot(b_err, b_pool))
    resolved = b > 2.0 * b_err and b > 0.0
    n_equiv = c / b if b > 0.0 else np.inf
    upper_b = max(b, 0.0) + Z95 * b_err
    n_equiv_lower = c / upper_b if upper_b > 0.0 else np.inf
    g = n_equiv / n_train
    g_std = g * b_err / b if (resolved and r > 1) else np.nan
    b_lo, b_med, b_hi = np.percentile(plateaus, [16.0, 50.0, 84.0])
    spread = tuple(c / (n_train * v) if v > 0.0 else np.inf for v in (b_hi, b_lo, b_med))
    return TruthAmplification(
        n_train=int(n_train),
        n_cells=int(p.size),
        c=c,
        n_gen=n_gen,
        mse_mean=mse.mean(axis=0),
        mse_std=mse.std(axis=0, ddof=1) if r > 1 else np.full(n_gen.size, np.nan),
        plateaus=plateaus,
        plateau=b,
        plateau_error=b_err,
        n_equiv=float(n_equiv),
        n_equiv_lower=float(n_equiv_lower),
        G=float(g),
        G_std=float(g_std),
        G_spread=(float(spread[0]), float(spread[1])),
        G_median=float(spread[2]),
        resolved=bool(resolved),
        pool_size=truth.n_events,
        pool_error=float(b_pool),
    )


@dataclass(frozen=True)
class VolumeAmplification:
    """Truth-based G of every volume (docs/formulas.md §1.7): ``G`` where the volume's plateau is
    resolved (NaN elsewhere), ``G_lower`` the one-sided 95% lower bound everywhere."""

    G: np.ndarray
    G_std: np.ndarray
    G_lower: np.ndarray
    resolved: np.ndarray


def volume_amplification(last: np.ndarray, n: float, p: TruthLike, n_train: int) -> VolumeAmplification:
    """Truth-based G per volume from ``R`` repetitions' occupancies of ``n`` events (R, J).

    ``b_j = mean_r [(Ī_rj − p̂_j)² − Ī_rj(1 − Ī_rj)/(n − 1)] − p̂_j(1 − p̂_j)/(M − 1)`` (§1.4 and
    §7.3 for one volume), its error from the spread over repetitions and the pool's noise, ``n_equiv,j = p_j(1 − p_j)/b_j``
    and ``G_j = n_equiv,j / n_train``; resolved where ``b_j`` is above 2 standard errors (two
    repetitions at least), else a lower bound from ``b_j + 1.645 σ``. Averaged over the volumes
    with weights ``p_j(1 − p_j)``, ``1/G_j`` gives back the total's ``1/G``.
    """
    truth = cells(p)
    f = np.asarray(last, dtype=np.float64)
    if f.ndim != 2 or f.shape[1] != truth.p.size:
        raise GenampError(f"occupancies must have shape (repetitions, {truth.p.size}), got {f.shape}")
    if not n >= 2:
        raise GenampError("a plateau needs at least 2 generated events per sample")
    _validate.positive_int(n_train, "n_train", minimum=2)
    per_rep = (f - truth.p) ** 2 - f * (1.0 - f) / (n - 1.0)
    pool = 0.0 if truth.exact else truth.p * (1.0 - truth.p) / (truth.n_events - 1.0)
    b = per_rep.mean(axis=0) - pool
    r = f.shape[0]
    err = per_rep.std(axis=0, ddof=1) / np.sqrt(r) if r > 1 else np.full(b.shape, np.inf)
    # the pool's own deviation δ_j, shared by every repetition, moves b_j by −2 g_j δ_j + δ_j² − s_j²
    # (as :func:`pool_error` for the total): variance 4 g_j² σ_j² + 2 σ_j⁴ with σ_j² = p(1 − p)/M
    g = f.mean(axis=0) - truth.p
    err = np.sqrt(err**2 + 4.0 * g**2 * pool + 2.0 * pool**2)
    c = truth.p * (1.0 - truth.p) * (1.0 if truth.exact else truth.n_events / (truth.n_events - 1.0))  # as truth_line
    resolved = (b > 2.0 * err) & (b > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(resolved, c / (n_train * b), np.nan)
        upper = np.maximum(b, 0.0) + Z95 * err
        lower = np.where(upper > 0.0, c / (n_train * upper), np.inf)
    return VolumeAmplification(g, np.where(resolved, g * err / b, np.nan), lower, resolved)


def truth_amplification(
    fractions: np.ndarray,
    n_gen: np.ndarray,
    p: TruthLike,
    n_train: int,
    method: PlateauMethod = "corrected",
) -> TruthAmplification:
    """Truth-based amplification from occupancies of ``R`` repetitions.

    Parameters
    ----------
    fractions:
        Occupancies, shape (R, N, J): repetition, sample size, cell.
    n_gen:
        The N sample sizes, increasing; ``inf`` for exact occupancies.
    p:
        The truth's cell probabilities (J,): exact, or :class:`CellProbabilities` from a pool.
    n_train:
        Training-set size the amplification refers to.
    method:
        ``"corrected"``: the plateau is the bias-corrected MSE at the largest ``n_gen``
        (default); ``"fit"``: a fit of ``B + a/n`` over the whole n_gen grid.
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    p = cells(p)
    if fractions.ndim != 3:
        raise GenampError(f"occupancies must have shape (repetitions, sizes, cells), got {fractions.shape}")
    summaries = [summarise_repetition(f, n_gen, p, method) for f in fractions]
    return combine_repetitions(summaries, n_gen, p, n_train)
