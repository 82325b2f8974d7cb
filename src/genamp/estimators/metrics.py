"""Any metric has an ``n_equiv`` (docs/formulas.md §7.9): the size of the true sample that is as far
from the truth, under that metric, as the generated sample is.

The numbers people quote for a generator (a Wasserstein distance per observable, a Fréchet
distance of features) are distances to a reference sample of true events. A true sample of ``n``
events is itself that far from the reference on average, ``M_true(n)``, falling with ``n`` towards
the reference's own noise: its **truth line**. Measured on subsamples of a pool (disjoint from the
reference), with the spread over draws, it turns a metric's value into events: the generated
sample's ``n_equiv`` is the ``n`` where ``M_true(n)`` equals the generated sample's value (the
line interpolated in ``log M`` against ``log n``). Above the line's smallest size the sample is
worth fewer events than the line measured (an upper bound), below its largest more (a lower
bound); the spread of the line at the crossing gives the range.

- :func:`wasserstein` (1D, per observable) and :func:`frechet` (features standardised by the
  reference) are the metrics, pure functions of two samples; :func:`auc_distance` makes one of a
  classifier's AUC, ``(AUC − 1/2)²`` (a trained classifier per evaluation: slow);
- :func:`truth_line` measures a metric's line on subsamples of true events;
- :func:`n_equiv` reads a value off a line.

For the quantile MSE and the KS distance the line is known in closed form (§1.3, §3.3): use the
truth-based and the differential estimators for those.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from genamp.errors import GenampError

__all__ = ["MetricEquivalent", "TruthLine", "auc_distance", "frechet", "n_equiv", "truth_line", "wasserstein"]

#: a distance between two samples (n, features)
Metric = Callable[[np.ndarray, np.ndarray], float]


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """The 1D Wasserstein distance ``∫ |F_a − F_b| dy`` of two samples (n,) (the earth mover's)."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(np.ravel(a), np.ravel(b)))


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance of Gaussians fitted to two samples (n, d):
    ``|μ_a − μ_b|² + tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2})`` (the FID's and FPD's formula,
    Heusel et al. 2017, arXiv:1706.08500, Eq. 6), on features as given (standardise them first:
    :func:`standardiser`)."""
    from scipy.linalg import sqrtm

    a, b = np.atleast_2d(np.asarray(a, float).T).T, np.atleast_2d(np.asarray(b, float).T).T
    mu = a.mean(axis=0) - b.mean(axis=0)
    ca, cb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = sqrtm(ca @ cb)
    return float(mu @ mu + np.trace(ca + cb - 2.0 * np.real(root)))


def auc_distance(steps: int = 600, seed: int = 0) -> Metric:
    """A classifier's AUC as a distance, ``(AUC − 1/2)²``: a classifier (docs/formulas.md §4,
    :func:`~genamp.estimators.classifier.classifier_test`, ``steps`` optimiser steps) trained on
    half of each sample and tested on the other half. A true sample's AUC scatters about 1/2
    by ``~1/sqrt(n)``, so its square falls like ``1/n``: a truth line like the others. Each call
    trains a classifier (a new seed each time, from ``seed``)."""
    from genamp.estimators.classifier import classifier_test

    calls = itertools.count()

    def metric(a: np.ndarray, b: np.ndarray) -> float:
        a, b = np.asarray(a, float), np.asarray(b, float)
        a, b = (a[:, None] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
        return float((classifier_test(a, b, np.random.SeedSequence([seed, next(calls)]), steps=steps).auc - 0.5) ** 2)

    return metric


def standardiser(reference: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Features scaled to the reference's mean and standard deviation (a column of one value kept as is)."""
    mean, std = reference.mean(axis=0), reference.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return lambda x: (np.asarray(x, float) - mean) / std


@dataclass(frozen=True)
class TruthLine:
    """A metric between true samples of each size and the reference: mean and standard
    deviation over ``draws`` subsamples per size."""

    sizes: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    draws: int


def truth_line(metric: Metric, pool: np.ndarray, reference: np.ndarray, sizes: Sequence[int], draws: int = 10,
               seed: int = 0) -> TruthLine:  # fmt: skip
    """``metric(true subsample of n events, reference)`` for each ``n`` in ``sizes``, ``draws``
    subsamples of ``pool`` each (without replacement within a draw); ``pool`` and ``reference``
    must be disjoint true events."""
    pool = np.asarray(pool, dtype=np.float64)
    sizes = np.asarray(sorted(int(n) for n in sizes))
    if sizes.size < 2 or sizes[0] < 2:
        raise GenampError("a truth line needs at least two sizes of at least 2 events")
    if sizes[-1] > pool.shape[0]:
        raise GenampError(f"a truth line up to {sizes[-1]} events needs a pool of at least that many, got {pool.shape[0]}")
    if draws < 2:
        raise GenampError("a truth line needs at least 2 draws per size for its spread")
    rng = np.random.default_rng(seed)
    values = np.array([[metric(pool[rng.choice(pool.shape[0], n, replace=False)], reference) for _ in range(draws)]
                       for n in sizes])  # fmt: skip
    return TruthLine(sizes, values.mean(axis=1), values.std(axis=1, ddof=1), draws)


@dataclass(frozen=True)
class MetricEquivalent:
    """A metric's value for a sample and the true events it is worth on the line: ``n_equiv``
    and the range ``(low, high)`` where the line ± its spread meets the value; ``bound``:
    ``"upper"`` or ``"lower"`` where the value lies beyond the line's sizes (``n_equiv`` is then
    the line's end)."""

    value: float
    n_equiv: float
    low: float
    high: float
    bound: str | None


def _crossing(sizes: np.ndarray, line: np.ndarray, value: float) -> tuple[float, str | None]:
    """Where a falling line meets ``value``, interpolated in log–log; the end it passes, as a bound."""
    if value >= line[0]:
        return float(sizes[0]), "upper"
    if value <= line[-1]:
        return float(sizes[-1]), "lower"
    # a measured line may wiggle: the first size at which it has fallen to the value
    i = int(np.flatnonzero(line <= value)[0])
    x0, x1, y0, y1 = np.log(sizes[i - 1]), np.log(sizes[i]), np.log(line[i - 1]), np.log(line[i])
    t = (np.log(value) - y0) / (y1 - y0) if y1 != y0 else 0.0
    return float(np.exp(x0 + t * (x1 - x0))), None


def n_equiv(line: TruthLine, value: float) -> MetricEquivalent:
    """The true events a sample whose metric is ``value`` is worth on ``line`` (formulas §7.9)."""
    if not np.isfinite(value) or value <= 0 or (line.mean <= 0).any():
        raise GenampError(f"a metric's n_equiv needs positive values, got {value} and a line from {line.mean.min():.3g}")
    n, bound = _crossing(line.sizes, line.mean, value)
    # a higher line (the mean plus its spread) meets the value at a larger n
    high, _ = _crossing(line.sizes, line.mean + line.std, value)
    low, _ = _crossing(line.sizes, np.maximum(line.mean - line.std, 1e-300), value)
    return MetricEquivalent(float(value), n, min(low, n), max(high, n), bound)
