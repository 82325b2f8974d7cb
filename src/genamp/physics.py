"""Physics observables of four-momenta: pT, η, φ and mass of objects and their sums, ΔR.

Events whose features are the four-momenta ``(E, px, py, pz)`` of named objects, in that order
per object (``b_E, b_px, b_py, b_pz, q1_E, ...``: a file of the ``ttbar`` layout, read flattened
by :func:`genamp.data.io.open_events`, or any file whose features are named so), have, besides
their columns, these observables:

- per object ``o``: ``o_pt``, ``o_eta``, ``o_phi``, ``o_m``;
- per composite of a top pair, where its objects are there: ``Wp = q1 + q2``, ``Wm = q3 + q4``,
  ``t = b + q1 + q2``, ``tbar = bbar + q3 + q4``, ``ttbar`` (all six): ``_m``, ``_pt``,
  ``_eta``, ``_phi`` of the summed four-momentum;
- per pair of objects ``a`` before ``b`` (in the file's order): ``dR_a_b``.

with ``pT = sqrt(px² + py²)``, ``η = asinh(pz / pT)``, ``φ = atan2(py, px)`` in [−π, π],
``m = sqrt(E² − |p|²)`` and ``ΔR = sqrt(Δη² + Δφ²)``, ``Δφ`` wrapped into [−π, π]; the
four-vector arithmetic is :mod:`vector`'s. What float rounding leaves of a zero is 0
(:data:`ROUNDING`: a massless quark's mass, pT(tt̄) without ISR), so such an observable is
constant, which the volumes refuse, and not noise to bin.

Use :func:`genamp.observables.select` for names typed by a user (``--observables t_m,Wp_m``):
it finds these when the features are four-momenta (:func:`objects_of` reads the objects from
the feature names); :func:`observables` gives all of them, :func:`kinematic` the values for
arrays.

    obs = select("t_m,Wp_m,b_pt", 24, f.features)    # with f = open_events("ttbar.h5")
    obs[0](events)                                   # (n,) top masses, events (n, 24)
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np

from genamp.observables import Observable

__all__ = [
    "COMPONENTS",
    "COMPOSITES",
    "KINEMATICS",
    "PRECISION",
    "ROUNDING",
    "four_vectors",
    "kinematic",
    "mass",
    "objects_of",
    "observables",
    "unknown",
]

#: the components of an object's four-momentum, in the order the columns hold them
COMPONENTS = ("E", "px", "py", "pz")

#: the composites of a top pair and the objects they sum (W⁺ → q1 q2, W⁻ → q3 q4)
COMPOSITES: dict[str, tuple[str, ...]] = {
    "Wp": ("q1", "q2"),
    "Wm": ("q3", "q4"),
    "t": ("b", "q1", "q2"),
    "tbar": ("bbar", "q3", "q4"),
    "ttbar": ("b", "q1", "q2", "bbar", "q3", "q4"),
}

#: the observables of every object and composite, by the suffix of their names
KINEMATICS = ("pt", "eta", "phi", "m")

#: float rounding, as a share of the energies summed: a pT below ``ROUNDING · Σ E`` of the objects
#: summed, and an ``|E² − |p|²|`` below ``ROUNDING · E²``, are 0 (the six quarks of a hard process
#: without ISR balance to pT(tt̄) ≈ 1e-13 GeV; a massless quark's ``m`` from float64 momenta
#: scatters by about 1e-5 GeV): an observable that is 0 is then constant, and refused as such
ROUNDING = 1e-12

#: the relative precision of the observables' values (:attr:`Observable.rtol`): a mass from
#: float64 momenta of TeV is known to about 1e-8 of itself, so values closer than this are one
PRECISION = 1e-6


def objects_of(features: Sequence[str] | None) -> tuple[str, ...] | None:
    """The objects of events whose features are four-momenta, ``{o}_E, {o}_px, {o}_py, {o}_pz``
    per object ``o`` in turn; ``None`` for any other features."""
    if not features or len(features) % len(COMPONENTS):
        return None
    objects = []
    for start in range(0, len(features), len(COMPONENTS)):
        name = str(features[start]).removesuffix("_E")
        if not name or [str(f) for f in features[start : start + 4]] != [f"{name}_{c}" for c in COMPONENTS]:
            return None
        objects.append(name)
    return tuple(objects) if len(set(objects)) == len(objects) else None


def four_vectors(events: np.ndarray, objects: Sequence[str], which: Sequence[str]) -> Any:
    """The sum of the four-momenta of objects ``which`` (a :mod:`vector` array of n momenta),
    from events (n, 4 × objects) holding ``objects`` in turn."""
    import vector

    total = None
    for name in which:
        i = 4 * list(objects).index(name)
        p = vector.array({c: events[:, i + k] for k, c in enumerate(COMPONENTS)})
        total = p if total is None else total + p
    return total


def mass(p: Any) -> np.ndarray:
    """The invariant mass ``m = sqrt(E² − |p|²)`` of four-momenta ``p`` (:mod:`vector`'s), negative
    (``−sqrt(|p|² − E²)``) for a spacelike one, and 0 where ``|E² − |p|²| ≤ ROUNDING · E²``: a
    massless object's mass is 0, not float noise."""
    m = np.asarray(p.mass, dtype=np.float64)
    return np.where(np.abs(np.asarray(p.mass2)) <= ROUNDING * np.asarray(p.E) ** 2, 0.0, m)


def kinematic(kind: str, events: np.ndarray, objects: Sequence[str], which: Sequence[str]) -> np.ndarray:
    """``pt``, ``eta``, ``phi`` or ``m`` of the sum of objects ``which``: ``pT = sqrt(px² + py²)``,
    ``η = asinh(pz / pT)``, ``φ = atan2(py, px)`` in [−π, π], ``m`` as :func:`mass`. A pT below
    ``ROUNDING · Σ E`` of the objects is 0, and its η and φ are then NaN (they are undefined)."""
    p = four_vectors(events, objects, which)
    if kind == "m":
        return mass(p)
    scale = sum(events[:, 4 * list(objects).index(o)] for o in which)
    pt = np.asarray(p.pt, dtype=np.float64)
    zero = pt <= ROUNDING * np.abs(scale)
    if kind == "pt":
        return np.where(zero, 0.0, pt)
    return np.where(zero, np.nan, np.asarray(getattr(p, kind), dtype=np.float64))


def _delta_r(a: Any, b: Any) -> np.ndarray:
    """``ΔR = sqrt(Δη² + Δφ²)`` with ``Δφ`` wrapped into [−π, π] (vector's ``deltaR``)."""
    return np.asarray(a.deltaR(b), dtype=np.float64)


def observables(features: Sequence[str] | None) -> dict[str, Observable]:
    """Every physics observable of events with these features, by name (empty when the
    features are not four-momenta): ``{o}_pt``, ``{o}_eta``, ``{o}_phi``, ``{o}_m`` of every object
    and composite, and ``dR_{a}_{b}`` of every pair of objects in their order."""
    objects = objects_of(features)
    if objects is None:
        return {}
    out: dict[str, Observable] = {}

    def reads(which: Sequence[str]) -> tuple[int, ...]:
        return tuple(4 * objects.index(o) + k for o in which for k in range(4))

    groups = [(o, (o,)) for o in objects] + [(c, parts) for c, parts in COMPOSITES.items() if set(parts) <= set(objects)]
    for name, parts in groups:
        for kind in KINEMATICS:
            fn = lambda x, parts=parts, kind=kind: kinematic(kind, x, objects, parts)
            out[f"{name}_{kind}"] = Observable(f"{name}_{kind}", fn, reads=reads(parts), rtol=PRECISION)
    for i, a in enumerate(objects):
        for b in objects[i + 1 :]:
            fn = lambda x, a=a, b=b: _delta_r(four_vectors(x, objects, (a,)), four_vectors(x, objects, (b,)))
            out[f"dR_{a}_{b}"] = Observable(f"dR_{a}_{b}", fn, reads=reads((a, b)), rtol=PRECISION)
    return out


def unknown(item: str, features: Sequence[str]) -> str:
    """What to say of a name that is not an observable of events with these four-momentum
    features: what there is, briefly, and the closest names."""
    objects = objects_of(features) or ()
    composites = [f"{c} ({' + '.join(p) if len(p) < 6 else 'all six'})" for c, p in COMPOSITES.items() if set(p) <= set(objects)]
    names = [*features, *observables(features)]
    pairs = list(dict.fromkeys(f"dR_{a}_{b}" for a, b in ((objects[0], objects[1]), (objects[-2], objects[-1])))) if len(objects) > 1 else []
    parts = item.split("_")
    swapped = ["_".join(parts[::-1]), "_".join([parts[0], *parts[:0:-1]])] if len(parts) > 1 else []
    close = [n for n in dict.fromkeys(swapped) if n in names] or difflib.get_close_matches(item, names, n=3)
    return (
        f"no observable {item!r}; the events have {{o}}_E, _px, _py, _pz, _pt, _eta, _phi, _m for the objects o = "
        f"{', '.join(objects)}"
        + (f"; _m, _pt, _eta, _phi of {', '.join(composites)}" if composites else "")
        + (f"; dR_{{a}}_{{b}} for a before b ({', ..., '.join(pairs)})" if pairs else "")
        + (f"; did you mean {' or '.join(close)}?" if close else "")
    )
