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

Calibration and closure over repetitions are in :mod:`genamp.estimators.calibration`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import chi2

from genamp import _validate
from genamp.errors import GenampError
from genamp.estimators.truth import CellProbabilities, TruthLike, cells

__all__ = ["MIN_EVENTS", "SIGNIFICANCE", "AveragingForecast", "check_members", "forecast", "model_factor", "resolution_advice"]

Target = Literal["mixture", "member"]

#: significance (standard errors above zero) for σ²_model to count as resolved
SIGNIFICANCE = 2.0
#: fewest events a member must hold in a volume, on average, for the volume to get a number
MIN_EVENTS = 10.0


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

    def pulls(self, p: TruthLike) -> np.ndarray:
        """``(m_j − p_j) / sqrt(f_mix σ²_model,j + m_j(1 − m_j)/(K n_gen) + var p̂_j)`` for volumes
        with events; ``var p̂_j = p̂_j(1 − p̂_j)/M`` against a pool of ``M`` events (docs/formulas.md
        §7.2), zero against exact ``p_j``.

        σ²_model is clipped at zero; volumes with no events (or only events) give NaN.
        """
        truth = _validate_probabilities(p, self.mean.size)
        f = model_factor(self.n_members, "mixture")
        scale = f * np.maximum(self.sigma2, 0.0) + self.binomial / (self.n_members * self.n_gen) + truth.variance
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(scale > 0, (self.mean - truth.p) / np.sqrt(scale), np.nan)


def _validate_probabilities(p: TruthLike, n_cells: int) -> CellProbabilities:
    truth = cells(p)
    if truth.p.shape != (n_cells,):
        raise GenampError(f"cell probabilities have shape {truth.p.shape}, the occupancies {n_cells} cells")
    return truth


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
    if not np.isfinite(members_needed):
        return (
            f"σ²_model not resolved: with K = {n_members} no n_gen suffices, and its upper bound gives no number of "
            "members that would; train more members (10 or more)"
        )
    return (
        f"σ²_model not resolved: with K = {n_members} no n_gen suffices; "
        f"K ≥ {members_needed:.0f} members would resolve it at the size of its upper bound"
    )


# ---- calibration ---------------------------------------------------------------------------------
