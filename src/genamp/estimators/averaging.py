"""Averaging amplification: a forecast of G from the spread of K generators (docs/formulas.md §2).

Arrays in, results out. ``K`` generators that express the model uncertainty (ensemble members,
or fixed draws from a Bayesian network's weight posterior) each generate ``n_gen`` events; their
occupancies ``Ī_kj`` of volumes ``V_j`` give, per volume,

- ``m_j = mean_k Ī_kj``, ``v_j = var_k Ī_kj`` (ddof 1);
- the model uncertainty with the sampling noise removed, ``σ²_model,j = v_j − m_j(1 − m_j)/n_gen``,
  whose standard error is about ``v_j·sqrt(2/(K − 1))`` (a Gaussian sample variance);
- equivalent events ``1/n_equiv,j = 1/n + f·σ²_model,j / (m_j(1 − m_j))`` for a sample of ``n``
  events, ``G_j = n_equiv,j / n_train`` and ``G∞_j = m_j(1 − m_j) / (n_train f σ²_model,j)``.

``f`` says which sample the forecast speaks of (choice, docs/formulas.md §2 preamble and §2.2): the sample a
user draws from the ensemble as a whole (``target="mixture"``, the default) misses the truth by
``(1 + 1/K)·σ²_model`` if the truth behaves like one more member; one member alone
(``target="member"``) by ``2·σ²_model``. For large ``K`` the mixture's factor is docs/formulas.md §2.3's 1.

Where ``σ²_model,j`` is not ``significance`` standard errors above zero, the volume gets no number:
only a one-sided 95% lower bound on ``G`` (from the χ² upper bound on ``σ²_model``) and the
``n_gen`` or ``K`` that would resolve it. Volumes where a member holds fewer than ``min_events``
events on average get neither (the Gaussian error of a variance does not hold there). Over a
partition, ``1/n_equiv = Σ_j [m_j(1 − m_j)/n + f σ²_model,j] / Σ_j m_j(1 − m_j)`` (docs/formulas.md §2.4),
with the standard error of ``Σ_j v_j`` from the members' full covariance across volumes.

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
from typing import Literal

import numpy as np
from scipy.special import ndtri
from scipy.stats import chi2

from genamp import _validate
from genamp.errors import GenampError
from genamp.estimators.truth import plateau, truth_line

Target = Literal["mixture", "member"]

#: significance (standard errors above zero) for σ²_model to count as resolved
SIGNIFICANCE = 2.0
#: fewest events a member must hold in a volume, on average, for the volume to get a number
MIN_EVENTS = 10.0
#: central coverage levels reported: ±1 and ±2 standard deviations
LEVELS = (0.6826894921370859, 0.9544997361036416)
#: levels of the calibration curve
CURVE_LEVELS = tuple(sorted({*np.round(np.linspace(0.05, 0.95, 19), 2).tolist(), *LEVELS, 0.99}))


def model_factor(n_members: int, target: Target) -> float:
    """``f``: how many σ²_model the sample of ``target`` misses the truth by (docs/formulas.md §2.2)."""
    if target == "mixture":
        return 1.0 + 1.0 / n_members
    if target == "member":
        return 2.0
    raise GenampError(f"target must be 'mixture' or 'member', got {target!r}")


def _n_equiv(n: float, binomial: np.ndarray, model: np.ndarray) -> np.ndarray:
    """``n_equiv`` with ``1/n_equiv = 1/n + model/binomial`` (inf where both terms vanish)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / n + np.where(binomial > 0, model / np.where(binomial > 0, binomial, 1.0), np.inf)
        return np.where(inv > 0, 1.0 / inv, np.inf)


def _g_inf(binomial: np.ndarray, model: np.ndarray, n_train: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(model > 0, binomial / (n_train * np.where(model > 0, model, 1.0)), np.inf)


def _resolving(
    ratio: np.ndarray, sigma2: np.ndarray, binomial: np.ndarray, n_gen: float, n_members: int, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest ``n_gen`` (at this ``K``) and ``K`` (at this ``n_gen``) that would resolve ``sigma2``.

    Resolution needs ``σ² > z·r·sqrt(2/(K − 1))·(σ² + m(1 − m)/n_gen)``, with ``r`` the ratio of
    the error of a sum of variances to its single-volume value (1 for one volume). ``n_gen`` is
    infinite where no sample size is enough at this ``K``.
    """
    a = z * ratio * np.sqrt(2.0 / (n_members - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        n_needed = np.where(a < 1.0, a * binomial / (sigma2 * (1.0 - a)), np.inf)
        members = np.ceil(1.0 + 2.0 * (z * ratio) ** 2 * (1.0 + binomial / (n_gen * sigma2)) ** 2)
        return np.ceil(n_needed), members


def _upper_variance(v: np.ndarray, dof: float) -> np.ndarray:
    """One-sided 95% upper bound on a variance estimated as ``v`` with ``dof`` degrees of freedom.

    ``dof·v/Var ~ χ²_dof``; the bound is ``dof·v / χ²_dof(5%)``. (A normal bound ``v + 1.645 se``
    with the plug-in ``se = v sqrt(2/dof)`` covers only about 80% for K = 10: when ``v`` comes out
    low, so does its error.) A sum over volumes uses Satterthwaite's effective degrees of freedom.
    """
    return dof * v / chi2.ppf(0.05, dof)


def _trace_c2(centred: np.ndarray) -> float:
    """``tr(C²)`` of the members' covariance C across volumes, without the bias of ``tr(Ĉ²)``.

    The sum ``Σ_j v_j`` has ``Var = 2 tr(C²)/(K − 1)`` for Gaussian members (volumes correlate:
    they share the members' fluctuations). With ``S = XᵀX`` (Wishart, ``ν = K − 1``),
    ``E[tr S² − (tr S)²/ν] = (ν + 2)(ν − 1) tr C²``; ``tr S²`` is the squared Frobenius norm of
    the K×K Gram matrix ``XXᵀ`` (cost K²J). The plug-in ``tr Ĉ²`` would be too large by about
    ``(tr C)²/(K − 1)``, several times the truth for many volumes. The estimate is floored at
    ``(tr Ĉ)²/J``, the smallest ``tr C²`` a covariance with that trace can have.
    """
    k, j = centred.shape
    gram = centred @ centred.T
    nu = k - 1
    tr_s2, tr_s = float(np.sum(gram**2)), float(np.trace(gram))
    floor = (tr_s / nu) ** 2 / j
    if nu < 2:
        return tr_s2 / nu**2
    return max((tr_s2 - tr_s**2 / nu) / ((nu + 2) * (nu - 1)), floor)


@dataclass(frozen=True)
class AveragingForecast:
    """The averaging forecast of one set of ``K`` generators (one training) for ``J`` volumes.

    Per-volume arrays have shape (J,); ``NaN`` where the volume gets no number (see ``status``).
    The ``total_*`` fields are the aggregate over the partition (docs/formulas.md §2.4).
    """

    n_members: int
    n_gen: float
    n_train: int
    target: Target
    factor: float
    significance: float
    mean: np.ndarray
    var: np.ndarray
    #: ``m(1 − m)``: the binomial variance of one event
    binomial: np.ndarray
    sigma2: np.ndarray
    sigma2_error: np.ndarray
    #: per volume: "resolved", "unresolved" (lower bounds only), "few events", "empty"
    status: np.ndarray
    #: one-sided 95% upper bound on σ²_model
    sigma2_upper: np.ndarray
    n_equiv: np.ndarray
    G: np.ndarray
    G_inf: np.ndarray
    #: 95% lower bounds (every volume with events; the forecast where resolved is above them)
    G_lower: np.ndarray
    G_inf_lower: np.ndarray
    #: where unresolved: the n_gen per member (at this K) or K (at this n_gen) that would resolve
    #: a σ²_model as large as its upper bound; inf: no n_gen suffices with this K
    n_gen_needed: np.ndarray
    members_needed: np.ndarray
    total_sigma2: float
    total_sigma2_error: float
    total_binomial: float
    total_resolved: bool
    total_n_equiv: float
    total_G: float
    total_G_inf: float
    total_G_lower: float
    total_G_inf_lower: float
    total_n_gen_needed: float
    total_members_needed: float

    @property
    def n_sample(self) -> float:
        """Events of the sample the forecast speaks of: the mixture's ``K·n_gen``, or one member's."""
        return self.n_members * self.n_gen if self.target == "mixture" else self.n_gen

    @property
    def resolved(self) -> np.ndarray:
        return self.status == "resolved"

    def n_equiv_at(self, n: float) -> np.ndarray:
        """Per-volume ``n_equiv`` of a sample of ``n`` events (NaN where not resolved)."""
        return np.where(self.resolved, _n_equiv(n, self.binomial, self.factor * self.sigma2), np.nan)

    def pulls(self, p: np.ndarray) -> np.ndarray:
        """``(m_j − p_j) / sqrt(f_mix σ²_model,j + m_j(1 − m_j)/(K n_gen))`` for volumes with events.

        σ²_model is clipped at zero; volumes with no events (or only events) give NaN.
        """
        p = _validate_probabilities(p, self.mean.size)
        f = model_factor(self.n_members, "mixture")
        scale = f * np.maximum(self.sigma2, 0.0) + self.binomial / (self.n_members * self.n_gen)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(scale > 0, (self.mean - p) / np.sqrt(scale), np.nan)


def _validate_probabilities(p: np.ndarray, n_cells: int) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (n_cells,):
        raise GenampError(f"cell probabilities have shape {p.shape}, the occupancies {n_cells} cells")
    return p


def check_members(fractions: np.ndarray, n_gen: float) -> np.ndarray:
    """Occupancies of K generators (K, J) as float64, or a clear error."""
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 2:
        raise GenampError(f"member occupancies must have shape (members, volumes), got {f.shape}")
    if f.shape[0] < 2:
        raise GenampError(
            f"averaging amplification needs the spread of at least 2 generators, got {f.shape[0]}; "
            "train an ensemble (--ensemble K) or draw from a Bayesian posterior (--bayesian M), K ≥ 10"
        )
    if f.shape[1] == 0:
        raise GenampError("no volumes to estimate in")
    if not np.isfinite(f).all():
        raise GenampError("member occupancies contain NaN or inf")
    if (f < 0).any() or (f > 1).any():
        raise GenampError("member occupancies must be fractions in [0, 1]")
    if not (np.isfinite(n_gen) and n_gen >= 2):
        raise GenampError(f"n_gen must be at least 2 events per member, got {n_gen}")
    return f


def forecast(
    fractions: np.ndarray,
    n_gen: float,
    n_train: int,
    *,
    target: Target = "mixture",
    significance: float = SIGNIFICANCE,
    min_events: float = MIN_EVENTS,
) -> AveragingForecast:
    """The averaging forecast (docs/formulas.md §2.1–2.5) from occupancies of ``K`` generators.

    Parameters
    ----------
    fractions:
        ``Ī_kj``, shape (K, J): each of the K generators' fraction of ``n_gen`` events in volume j.
    n_gen:
        Events each generator drew.
    n_train:
        Training events the amplification refers to.
    target:
        ``"mixture"`` (the sample a user draws from the ensemble as a whole) or ``"member"``.
    significance:
        Standard errors σ²_model must lie above zero to count as resolved.
    min_events:
        Fewest events a member must hold in a volume, on average, for the volume to get a number.
    """
    f = check_members(fractions, n_gen)
    n_train = _validate.positive_int(n_train, "n_train", minimum=2)
    if not significance > 0:
        raise GenampError(f"significance must be positive, got {significance}")
    k, _ = f.shape
    factor = model_factor(k, target)
    m = f.mean(axis=0)
    centred = f - m
    v = (centred**2).sum(axis=0) / (k - 1)
    binomial = m * (1.0 - m)
    sampling = binomial / n_gen
    sigma2 = v - sampling
    err = v * np.sqrt(2.0 / (k - 1))
    upper = np.maximum(_upper_variance(v, k - 1) - sampling, 0.0)
    empty = binomial <= 0.0
    few = ~empty & (n_gen * np.minimum(m, 1.0 - m) < min_events)
    resolved = ~empty & ~few & (sigma2 > significance * err)
    status = np.where(empty, "empty", np.where(few, "few events", np.where(resolved, "resolved", "unresolved")))
    n_sample = k * n_gen if target == "mixture" else n_gen
    with np.errstate(invalid="ignore"):
        number = lambda a: np.where(resolved, a, np.nan)  # noqa: E731
        bound = lambda a: np.where(empty | few, np.nan, a)  # noqa: E731
        n_needed, k_needed = _resolving(np.ones_like(m), upper, binomial, n_gen, k, significance)
        unresolved = status == "unresolved"
        total_v = float(v.sum())
        total_err = float(np.sqrt(2.0 * _trace_c2(centred) / (k - 1)))
        total_sigma2 = float(sigma2.sum())
        total_binomial = float(binomial.sum())
        total_resolved = bool(total_sigma2 > significance * total_err and total_binomial > 0)
        dof = 2.0 * total_v**2 / total_err**2 if total_err > 0 else k - 1.0
        total_upper = max(float(_upper_variance(np.array([total_v]), dof)[0]) - total_binomial / n_gen, 0.0)
        ratio = np.array([total_err / total_v / np.sqrt(2.0 / (k - 1)) if total_v > 0 else 1.0])
        tn, tk = _resolving(ratio, np.array([total_upper]), np.array([total_binomial]), n_gen, k, significance)
        # the sums as one volume: n_equiv and G∞ of Σσ²_model and of its upper bound
        total_model = factor * np.array([total_sigma2, total_upper])
        total_n_equiv = _n_equiv(n_sample, np.full(2, total_binomial), total_model)
        total_g_inf = _g_inf(np.full(2, total_binomial), total_model, n_train)
        n_equiv = _n_equiv(n_sample, binomial, factor * sigma2)
        return AveragingForecast(
            n_members=k,
            n_gen=float(n_gen),
            n_train=n_train,
            target=target,
            factor=factor,
            significance=float(significance),
            mean=m,
            var=v,
            binomial=binomial,
            sigma2=sigma2,
            sigma2_error=err,
            status=status,
            sigma2_upper=upper,
            n_equiv=number(n_equiv),
            G=number(n_equiv / n_train),
            G_inf=number(_g_inf(binomial, factor * sigma2, n_train)),
            G_lower=bound(_n_equiv(n_sample, binomial, factor * upper) / n_train),
            G_inf_lower=bound(_g_inf(binomial, factor * upper, n_train)),
            n_gen_needed=np.where(unresolved, n_needed, np.nan),
            members_needed=np.where(unresolved, k_needed, np.nan),
            total_sigma2=total_sigma2,
            total_sigma2_error=total_err,
            total_binomial=total_binomial,
            total_resolved=total_resolved,
            total_n_equiv=float(total_n_equiv[0]) if total_resolved else np.nan,
            total_G=float(total_n_equiv[0] / n_train) if total_resolved else np.nan,
            total_G_inf=float(total_g_inf[0]) if total_resolved else np.nan,
            total_G_lower=float(total_n_equiv[1] / n_train),
            total_G_inf_lower=float(total_g_inf[1]),
            total_n_gen_needed=np.nan if total_resolved else float(tn[0]),
            total_members_needed=np.nan if total_resolved else float(tk[0]),
        )


def resolution_advice(n_gen_needed: float, members_needed: float, n_gen: float, n_members: int) -> str:
    """What would resolve an unresolved σ²_model, in words."""
    if np.isfinite(n_gen_needed):
        return (
            f"σ²_model not resolved: n_gen ≥ {n_gen_needed:.3g} per member (now {n_gen:.3g}) "
            f"or K ≥ {members_needed:.0f} members (now {n_members}) would resolve it at the size of its upper bound"
        )
    return (
        f"σ²_model not resolved: with K = {n_members} no n_gen suffices; "
        f"K ≥ {members_needed:.0f} members would resolve it at the size of its upper bound"
    )


# ---- calibration ---------------------------------------------------------------------------------
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


def member_plateau(fractions: np.ndarray, n_gen: float, p: np.ndarray) -> float:
    """Mean over members of the truth-based plateau (docs/formulas.md §1.4) of one member's sample."""
    return float(plateau(np.asarray(fractions, dtype=np.float64), n_gen, p).mean())


def summarise(
    forecasts: list[AveragingForecast],
    p: np.ndarray | None = None,
    member_plateaus: list[float] | None = None,
    reference_draws: int = 200,
    seed: int = 0,
    levels: tuple[float, ...] = CURVE_LEVELS,
) -> AveragingSummary:
    """Combine per-repetition forecasts; with the exact ``p``, add calibration and closure.

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
