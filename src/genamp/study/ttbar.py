"""``genamp run ttbar``: an amplification study of top-pair generators against a pool of events.

The pool is a Pythia sample of the cache (:func:`genamp.data.cache.cached_ttbar`: found by its
settings; the command line generates it once where it is missing), at least :data:`POOL_EVENTS`
events. From there it is a pool study
(:mod:`genamp.study.pooltruth`) with these defaults, each of which the command line overrides:

- the networks train in the decay coordinates (:mod:`genamp.data.decay`) and generate
  four-momenta;
- the volumes are ``Q`` bins of every physics observable of the events (:func:`observables`:
  pT, η, φ, m of the objects and of W, t, tt̄, and the ΔRs) and ``Q × Q`` bins of the planes
  (m_W⁺, m_t) and (m_W⁻, m_t̄);
- :data:`DEFAULTS` for the sizes: ``n_train = 10⁴``, 5 repetitions, Q = 5, 10, 20, and
  generated samples up to 10⁵ events per generator; :data:`CFM_SETTINGS` for flow matching.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genamp.errors import GenampError

__all__ = ["CFM_SETTINGS", "DEFAULTS", "PAIRS", "POOL_EVENTS", "observables"]

#: events of the pool by level: far more than any n_equiv the study can resolve, and room for
#: 5 repetitions of n_train = 10⁴ (training rows take at most half of it). The jet level's
#: 2·10⁵ events take about 70 minutes to generate on two cores (once; the cache keeps them)
POOL_EVENTS = {"parton": 10**6, "jet": 2 * 10**5}

#: the two planes of the W and top masses
PAIRS = ("Wp_m:t_m", "Wm_m:tbar_m")

#: flow matching's settings for top pairs where the command line gives none (``--set`` overrides
#: each): three layers of 128 for the 19–23 coordinates, and a budget of 1000 passes over the
#: training set (39 063 steps at n_train = 10⁴). Measured at n_train = 10⁴, K = 5: 5000 steps left
#: every η at G = 0.14–0.34 (Q = 5); 19 531 (500 passes) gave 0.4–0.8 and doubled the W and
#: tt̄ mass G; 1000 passes keep a repetition of K = 10 within ten minutes on two cores
CFM_SETTINGS: dict[str, Any] = {"hidden": (128, 128, 128), "epochs": 1000.0}

#: the study's sizes where the command line gives none
DEFAULTS: dict[str, Any] = {
    "n_train": 10_000,
    "repetitions": 5,
    "quantiles": (5, 10, 20),
    "n_gen": (1_000, 10_000, 100_000),
    "models": ("cfm",),
    "coordinates": "decay",
    "pairs": PAIRS,
}

#: events of the pool whose values decide which observables are binned
_SCAN_EVENTS = 100_000


def observables(path: Path | str, dataset: str | None = None) -> tuple[list[str], list[str]]:
    """Every physics observable of the pool's events that can be binned, and those left out with why.

    Left out: one that is constant (a parton b's mass, pT(tt̄) without ISR), one of a few values
    (a quark's mass is its flavour's) and one undefined in some events (the η and φ of a tt̄
    system without pT), judged on the pool's first :data:`_SCAN_EVENTS` events.
    """
    from genamp import physics
    from genamp.data.decay import DISCRETE_VALUES
    from genamp.data.io import open_events

    f = open_events(path, dataset)
    found = physics.observables(f.features)
    if not found:
        raise GenampError(f"{f.path}: its features are not four-momenta ({', '.join(list(f.features or ())[:4])}, ...)")
    x = f.rows(np.arange(min(_SCAN_EVENTS, f.n_events)))
    keep, skipped = [], []
    for name, o in found.items():
        with np.errstate(invalid="ignore"):
            v = o(x)
        if not np.isfinite(v).all():
            skipped.append(f"{name} (undefined in {int((~np.isfinite(v)).sum())} events)")
            continue
        levels = np.unique(np.round(v / max(float(np.abs(v).max()), 1e-300) / o.rtol))
        if levels.size == 1:
            skipped.append(f"{name} (constant)")
        elif levels.size <= DISCRETE_VALUES:
            skipped.append(f"{name} ({levels.size} values)")
        else:
            keep.append(name)
    return keep, skipped
