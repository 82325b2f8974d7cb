"""Matching a posterior's spread to a bootstrap ensemble's (genamp.estimators.tempering)."""

from __future__ import annotations

import numpy as np
import pytest

from genamp.errors import GenampError
from genamp.estimators.averaging import forecast
from genamp.estimators.tempering import match_spread

N_GEN = 1e12  # sampling noise negligible: σ²_model is the members' variance
J = 20
P = np.full(J, 1.0 / J)


def _members(k: int, sigma2: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """K generators' fractions scattering about P with per-volume variances ``sigma2``."""
    return P + np.sqrt(sigma2) * rng.standard_normal((k, J))


def test_the_knob_scales_by_the_ratio_of_summed_model_variances():
    """Posterior draws with σ² = s per volume and bootstrap members with 3s (10 draws, 10
    members, 2 repetitions): the matched knob is 3× the given one within 4 of its own standard
    errors, and that error is the spread of the ratio over 300 such matches within the 20% a
    standard deviation estimated from 300 values can be off by (4 × 1/√(2·299) = 16%)."""
    rng = np.random.default_rng(5)
    s = np.linspace(1e-6, 4e-6, J)

    def one() -> tuple[float, float, float]:
        post = [forecast(_members(10, s, rng), N_GEN, 100) for _ in range(2)]
        boot = [forecast(_members(10, 3 * s, rng), N_GEN, 100) for _ in range(2)]
        m = match_spread(post, boot, knob=0.02)
        assert m.value == pytest.approx(0.02 * m.ratio) and m.value_std == pytest.approx(0.02 * m.ratio_std)
        assert m.resolved
        return m.ratio, m.ratio_std, m.value

    ratio, ratio_std, _ = one()
    assert abs(ratio - 3.0) < 4 * ratio_std
    ratios, errors = np.array([one()[:2] for _ in range(300)]).T
    assert abs(ratios.std(ddof=1) / errors.mean() - 1.0) < 0.2


def test_it_refuses_what_it_cannot_match():
    rng = np.random.default_rng(1)
    f = forecast(_members(5, np.full(J, 1e-6), rng), N_GEN, 100)
    g = forecast(0.1 + 1e-3 * rng.standard_normal((5, 10)), N_GEN, 100)  # 10 volumes, not 20
    with pytest.raises(GenampError, match="one bootstrap forecast per posterior"):
        match_spread([f], [], knob=1.0)
    with pytest.raises(GenampError, match="same volumes"):
        match_spread([f], [g], knob=1.0)
    with pytest.raises(GenampError, match="> 0"):
        match_spread([f], [f], knob=0.0)
    flat = forecast(np.tile(P, (5, 1)), N_GEN, 100)  # draws that do not differ: nothing to scale
    with pytest.raises(GenampError, match="not above the sampling noise"):
        match_spread([flat], [f], knob=1.0)
