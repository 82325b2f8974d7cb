"""The uncertainty to put on a histogram of generated events (docs/formulas.md §2.9).

A user fills a histogram in their own binning with ``n`` events generated from an ensemble (an
equal share from every member, or a fresh posterior draw per batch). The naive error of a bin,
``√N`` of its count, is the generated sample's own noise only: it shrinks without end as ``n``
grows, while the generator's error does not. With the members' occupancies ``Ī_kj`` of the bins
(the averaging forecast of the same volumes, :func:`~genamp.estimators.averaging.forecast`), the
fraction ``m_j`` of events in bin ``j`` differs from the truth's by

    σ²_j = m_j(1 − m_j)/n + (1 + 1/K) σ²_model,j,

the sample's binomial noise and the model's share (if the truth behaves like one more member the
mixture of ``K`` misses it by ``(1 + 1/K) σ²_model``, §2.2). In counts ``N_j = n m_j`` both scale
by ``n²``. The model's share is the estimate ``σ²_model,j`` clipped at zero, resolved or not: it
is what the bin's error is, as far as ``K`` members tell (a bin's pull is then Student-like, with
``K − 1`` degrees of freedom). ``resolved`` says where it clears its significance, and
``total_upper`` gives the total with ``σ²_model``'s 95% upper bound (docs/formulas.md §2.5)
beside it.

Use :func:`bin_uncertainties` on a forecast of the histogram's bins (its outer edges at ±∞ hold
the underflow and the overflow), and :func:`to_hist` for a ``hist`` histogram whose variances
are the total, ready for an analysis (``uproot`` writes it as a ROOT TH1D).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genamp import _validate
from genamp.errors import GenampError
from genamp.estimators.averaging import AveragingForecast

__all__ = ["BinUncertainties", "bin_uncertainties", "to_hist"]


@dataclass(frozen=True)
class BinUncertainties:
    """Per bin of one observable (arrays of the bins, under- and overflow included): the
    fraction ``m``, and standard deviations of the fraction: ``stat`` (the sample's binomial),
    ``model`` (``sqrt((1 + 1/K) max(σ²_model, 0))``), ``total`` and ``total_upper`` (with the
    model's 95% upper bound); ``resolved`` where ``σ²_model`` clears its significance;
    ``n_equiv``: the true events the bin's generated events are worth (NaN where unresolved)."""

    n_events: float
    fraction: np.ndarray
    stat: np.ndarray
    model: np.ndarray
    total: np.ndarray
    total_upper: np.ndarray
    resolved: np.ndarray
    n_equiv: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        """Expected events per bin, ``n m``."""
        return self.n_events * self.fraction

    @property
    def naive(self) -> np.ndarray:
        """``√N`` of each bin's count, as a fraction: what a histogram shows without genamp."""
        return np.sqrt(self.counts) / self.n_events


def bin_uncertainties(fc: AveragingForecast, n_events: float | None = None) -> BinUncertainties:
    """The uncertainties of a histogram of ``n_events`` generated events (default: the members'
    sample, ``K · n_gen``) in the volumes of the mixture forecast ``fc``."""
    if fc.target != "mixture":
        raise GenampError("a histogram of generated events is filled from the members' mixture: forecast it with target 'mixture'")
    n = float(fc.n_members * fc.n_gen if n_events is None else _validate.positive_int(n_events, "n_events", minimum=1))
    m = fc.mean
    stat = np.sqrt(m * (1.0 - m) / n)
    model2 = fc.factor * np.nan_to_num(np.maximum(fc.sigma2, 0.0), nan=0.0)
    upper2 = fc.factor * np.nan_to_num(np.maximum(fc.sigma2_upper, 0.0), nan=0.0)
    total = np.sqrt(stat**2 + model2)
    return BinUncertainties(n, m, stat, np.sqrt(model2), total, np.sqrt(stat**2 + np.maximum(upper2, model2)),
                            fc.resolved, fc.n_equiv_at(n))  # fmt: skip


def to_hist(u: BinUncertainties, edges: np.ndarray, name: str, label: str | None = None):  # noqa: ANN201 - hist is imported lazily
    """A ``hist.Hist`` with weight storage over the finite ``edges`` (the volumes' edges were
    ``[−∞, *edges, ∞]``, so ``u`` has the under- and the overflow as its first and last bins,
    which become the histogram's flow bins): each bin's value is its expected count ``n m``, its
    variance the total of :func:`bin_uncertainties` in counts."""
    import hist

    finite = np.asarray(edges, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size + 1 != u.fraction.size:
        raise GenampError(f"{name}: {finite.size} finite edges for {u.fraction.size - 2} bins between the under- and the overflow")
    h = hist.Hist(hist.axis.Variable(finite, name=name, label=label or name), storage=hist.storage.Weight())
    view = h.view(flow=True)
    view.value = u.counts
    view.variance = (u.n_events * u.total) ** 2
    return h
