"""A posterior's width set without a truth: match its model spread to a bootstrap ensemble's.

A Bayesian network's spread depends on a knob nothing fixes a priori: the temperature ``T`` of
its weight posterior (the KL weight of variational inference plays the same part). A bootstrap
ensemble calibrates without one (README, "Averaging amplification"), but costs ``K`` trainings.
The rule: on a few repetitions (or one), on volumes of one resolution, let both give their
averaging forecasts (:func:`genamp.estimators.averaging.forecast`) and scale the knob by the
ratio of their summed model variances,

    T' = T · Σ_r Σ_j σ²_boot,rj / Σ_r Σ_j σ²_post,rj,

which is exact where the posterior is Gaussian (its covariance, hence every σ²_model, is
proportional to ``T``; for variational inference approximately, the optimum of a KL-weighted
ELBO being the tempered posterior's best Gaussian). The ratio's standard error comes from the
sums' own (``total_sigma2_error``, independent between the two). Nothing here uses a truth:
what it needs is the bootstrap ensemble once, after which the posterior runs alone at ``T'``.
Whether ``T'`` calibrates the posterior's *per-volume* pulls is a separate question (the spread
may sit in other volumes than the error): the README's scan answers it on the toys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genamp.errors import GenampError
from genamp.estimators.averaging import AveragingForecast

__all__ = ["SpreadMatch", "match_spread"]


@dataclass(frozen=True)
class SpreadMatch:
    """The knob that gives the posterior the bootstrap ensemble's summed σ²_model.

    ``value``: the knob scaled by ``ratio`` (``Σσ²_boot / Σσ²_post``), ``value_std`` its standard
    error; ``resolved``: whether both sums are two standard errors above zero (else ``value`` is
    only indicative).
    """

    value: float
    value_std: float
    ratio: float
    ratio_std: float
    posterior_sigma2: float
    bootstrap_sigma2: float
    resolved: bool


def match_spread(posterior: Sequence[AveragingForecast], bootstrap: Sequence[AveragingForecast], knob: float) -> SpreadMatch:
    """Scale ``knob`` (the posterior's temperature or KL weight, > 0) by the ratio of the
    bootstrap ensemble's summed σ²_model to the posterior's, summed over the given forecasts
    (one per repetition, the same volumes in both)."""
    if not posterior or len(posterior) != len(bootstrap):
        raise GenampError(f"match_spread needs one bootstrap forecast per posterior forecast, got {len(posterior)} and {len(bootstrap)}")
    if not knob > 0:
        raise GenampError(f"the knob to scale must be > 0, got {knob}")
    if any(p.mean.shape != b.mean.shape for p, b in zip(posterior, bootstrap, strict=True)):
        raise GenampError("the posterior's and the bootstrap ensemble's forecasts must be over the same volumes")
    s_post = float(sum(f.total_sigma2 for f in posterior))
    s_boot = float(sum(f.total_sigma2 for f in bootstrap))
    e_post = float(np.sqrt(sum(f.total_sigma2_error**2 for f in posterior)))
    e_boot = float(np.sqrt(sum(f.total_sigma2_error**2 for f in bootstrap)))
    resolved = s_post > 2 * e_post and s_boot > 2 * e_boot
    if s_post <= 0:
        raise GenampError("the posterior's summed σ²_model is not above the sampling noise: more draws or n_gen per draw")
    ratio = s_boot / s_post
    ratio_std = abs(ratio) * float(np.hypot(e_boot / s_boot if s_boot else np.inf, e_post / s_post))
    return SpreadMatch(knob * ratio, knob * ratio_std, ratio, ratio_std, s_post, s_boot, bool(resolved))
