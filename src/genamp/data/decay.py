"""Decay coordinates of top-pair events: what a generator learns in place of the six four-momenta.

The six objects of a top pair, ``(b, q1, q2, bbar, q3, q4)`` with ``t → b W⁺, W⁺ → q1 q2`` and
``t̄ → b̄ W⁻, W⁻ → q3 q4``, are fixed by the tops' kinematics, the four resonance masses, the
decay angles and the objects' own masses. :class:`DecayCoordinates` maps an event onto those
numbers and back, exactly, each mapped so that a generator meets a near-normal variable
(docs/formulas.md §8.6):

- **the beam symmetries**: every event is turned about the beam so that the top has ``φ = 0``
  (the angle is dropped); :meth:`~DecayCoordinates.inverse_transform` turns each event back by a
  given angle, uniform for generated events. A rotation about the beam is an exact symmetry of
  ``p p → t t̄``, so no generator has to learn the lab's ``φ`` or its periodicity. So is the
  rotation by π about a transverse axis, which swaps the two protons: half of the generated
  events get it at random, so the generated sample is forward-backward symmetric as the truth
  is, whatever asymmetry the network learned;
- **the tops**: the top's ``log pT`` and rapidity ``y``, the antitop's ``y``, and the tt̄
  system's transverse momentum (the ISR recoil) in polar form, ``log max(pT^{tt̄}, f)`` with
  ``f`` the training set's smallest positive one (an exactly balanced event has no log), and
  its azimuth from the top's, ``Φ⁻¹((φ + π)/2π)``: the recoil's density in the plane
  ``(p_x, p_y)`` has a cusp at the origin (it is ``f(pT)/pT``), which a network cannot learn,
  while ``log pT`` is near normal; where the
  training set balances exactly (no ISR: docs/formulas.md §8.2) both are dropped, and the
  balance ``pT(t̄) = −pT(t)`` holds exactly in every generated event;
- **the narrow peaks**: each of ``m_t, m_t̄, m_W⁺, m_W⁻`` through the Cauchy (Breit-Wigner)
  CDF truncated to ``[a, b]`` and the normal quantile,
  ``u = Φ⁻¹((F(m) − F(a)) / (F(b) − F(a)))`` with ``F(m) = arctan(2 (m − M)/Γ)``, ``M`` the
  training set's median and ``Γ`` its interquartile range (the quartiles of a Breit-Wigner of
  width Γ lie at ``M ± Γ/2``), ``[a, b]`` the training set's range widened by half of itself
  on each side (``a ≥ 0``): a peak of 1–2 GeV becomes a near unit normal, not a spike a network
  must resolve, and no generated mass leaves ``[a, b]``;
- **the decays**: the W's direction in its top's rest frame (axes those of the turned lab) and
  the first quark's in its W's rest frame, reached from the top's, about the W's direction
  there (the helicity angle θ*, whose V−A distribution is the same in every event, and the
  azimuth from the plane of the W and the beam), as
  ``Φ⁻¹((1 + cos θ)/2)`` and ``Φ⁻¹((φ + π)/2π)``: uniform angles, as an unpolarised decay gives
  them, become unit normals. The momenta follow from two-body kinematics,
  ``p* = λ^{1/2}(M², m₁², m₂²)/2M``;
- **the objects' masses**: a mass the same in every training event (a parton b's 4.8 GeV) is
  dropped; one of a few values (a quark's flavour, ``u`` 0.33 or ``c`` 1.5 GeV) is a category,
  dequantised uniformly within its share of the training set and passed through ``Φ⁻¹`` (a
  generated value falls back onto the category whose share holds ``Φ(u)``); any other (a jet's)
  is ``log m``.

``log pT``, ``y``, the tt̄ ``log pT`` and ``log m`` are standardised by the training set. Any
finite point of the coordinates is a valid event: masses are clipped at their decay thresholds
(``m_W ≥ m_q1 + m_q2`` and at least 10⁻³ of its peak, ``m_t ≥ m_W + m_b``), and energies are ``sqrt(|p|² + m²)``.

    coords = DecayCoordinates().fit(train)            # train (n, 6, 4): (E, px, py, pz)
    z = coords.transform(train, seed)                 # (n, features_out); seed: the dequantisation
    back = coords.inverse_transform(z, phi=coords.angle(train))   # == train, to rounding
"""

from __future__ import annotations

import numpy as np
from scipy import special

from genamp.data.coordinates import enough_finite
from genamp.errors import GenampError
from genamp.physics import COMPONENTS, PRECISION, ROUNDING
from genamp.seeding import SeedLike, rng

__all__ = ["DISCRETE_VALUES", "OBJECTS", "DecayCoordinates", "two_body_momentum"]

#: the objects, in the order of the ``ttbar`` layout (genamp.data.ttbar)
OBJECTS = ("b", "q1", "q2", "bbar", "q3", "q4")

#: a mass with at most this many distinct values in the training set is a category (a flavour)
DISCRETE_VALUES = 8

#: the decay sides: top, its W, the b, the W's two quarks (indices into OBJECTS)
_SIDES = (("t", "Wp", 0, 1, 2), ("tbar", "Wm", 3, 4, 5))

#: the smallest resonance mass, as a share of its peak (a generated W of mass 0 has no rest frame)
_FLOOR = 1e-3

#: how far from 0 and 1 a probability is kept before Φ⁻¹ (a training value at the edge stays finite)
_EDGE = 1e-12


def two_body_momentum(m: np.ndarray, m1: np.ndarray, m2: np.ndarray) -> np.ndarray:
    """``p* = λ^{1/2}(m², m₁², m₂²) / 2m``, the daughters' momentum in the parent's rest frame (0 at threshold)."""
    lam = (m**2 - (m1 + m2) ** 2) * (m**2 - (m1 - m2) ** 2)
    return np.sqrt(np.clip(lam, 0.0, None)) / (2 * m)


def _boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Four-momenta ``p`` (n, 4) of a frame moving with velocity ``beta`` (n, 3), in the frame it moves in."""
    b2 = np.clip((beta**2).sum(axis=1), 0.0, 1.0 - 1e-15)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = (beta * p[:, 1:]).sum(axis=1)
    # (γ − 1)/β² = γ²/(γ + 1): no division by β² at rest
    factor = gamma**2 / (gamma + 1.0) * bp + gamma * p[:, 0]
    return np.column_stack([gamma * (p[:, 0] + bp), p[:, 1:] + factor[:, None] * beta])


def _velocity(p: np.ndarray) -> np.ndarray:
    return p[:, 1:] / p[:, :1]


def _mass(p: np.ndarray) -> np.ndarray:
    """``sqrt(E² − |p|²)``, 0 where ``|E² − |p|²| ≤ ROUNDING · E²`` (a massless object, in float)."""
    m2 = p[:, 0] ** 2 - (p[:, 1:] ** 2).sum(axis=1)
    return np.where(np.abs(m2) <= ROUNDING * p[:, 0] ** 2, 0.0, np.sqrt(np.clip(m2, 0.0, None)))


def _on_shell(p3: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Four-momenta of three-momenta ``p3`` (n, 3) and masses ``m``: ``E = sqrt(|p|² + m²)``."""
    return np.column_stack([np.sqrt((p3**2).sum(axis=1) + m**2), p3])


def _rotate(p: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Objects (n, k, 4) turned about the beam by ``angle`` (n,)."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    out = p.copy()
    out[..., 1] = c * p[..., 1] - s * p[..., 2]
    out[..., 2] = s * p[..., 1] + c * p[..., 2]
    return out


def _helicity_axes(axis: np.ndarray) -> np.ndarray:
    """Rows (n, 3, 3) ``x', y', z'`` of the frame whose ``z'`` is along ``axis`` (n, 3) and whose
    ``x'`` lies in the plane of ``axis`` and the beam: ``R @ v`` are a vector's components there
    (a zero ``axis``, a W at rest in its top's frame at threshold, stands for the beam's)."""
    length = np.linalg.norm(axis, axis=1, keepdims=True)
    beam = np.broadcast_to([0.0, 0.0, 1.0], axis.shape)
    z = np.where(length > 0, axis / np.where(length > 0, length, 1.0), beam)
    x = beam - (z * beam).sum(axis=1, keepdims=True) * z
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.where(norm > 1e-12, x / np.where(norm > 0, norm, 1.0), [1.0, 0.0, 0.0])  # along the beam: any x'
    return np.stack([x, np.cross(z, x), z], axis=1)


def _direction(p3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cos θ`` and ``φ`` of three-momenta (n, 3)."""
    r = np.sqrt((p3**2).sum(axis=1))
    return np.clip(p3[:, 2] / np.where(r > 0, r, 1.0), -1.0, 1.0), np.arctan2(p3[:, 1], p3[:, 0])


def _unit(cos: np.ndarray, phi: np.ndarray) -> np.ndarray:
    sin = np.sqrt(np.clip(1.0 - cos**2, 0.0, None))
    return np.column_stack([sin * np.cos(phi), sin * np.sin(phi), cos])


def _levels(m: np.ndarray, tolerance: float) -> np.ndarray | None:
    """The distinct values of ``m`` (those closer than ``tolerance`` are one, their mean), or
    ``None`` where there are more than :data:`DISCRETE_VALUES`."""
    v = np.sort(m)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(v) > tolerance) + 1])
    if starts.size > DISCRETE_VALUES:
        return None
    return np.add.reduceat(v, starts) / np.diff(np.concatenate([starts, [v.size]]))


def _probit(u: np.ndarray) -> np.ndarray:
    return special.ndtri(np.clip(u, _EDGE, 1.0 - _EDGE))


def _angle(u: np.ndarray) -> np.ndarray:
    """The azimuth ``2π Φ(u) − π`` of a coordinate ``u = Φ⁻¹((φ + π)/2π)``."""
    return special.ndtr(u) * 2 * np.pi - np.pi


class DecayCoordinates:
    """Top-pair events (n, 6, 4) ``(E, px, py, pz)`` of ``(b, q1, q2, bbar, q3, q4)`` to decay
    coordinates (n, features_out) and back (the module's docstring gives the map).

    Parameters
    ----------
    rtol:
        Values within ``rtol`` of their magnitude are the same (a constant mass; float rounding).

    Attributes (after :meth:`fit`)
    ------------------------------
    feature_names_out_:
        The coordinates' names, in order (``t_log_pt``, ``t_y``, ``t_m``, ..., ``q1_m``).
    balanced_:
        Whether the training set's tt̄ system has no transverse momentum (its two coordinates dropped).
    tt_floor_:
        The smallest tt̄ pT the log takes (the training set's smallest positive one; 0 when balanced).
    peaks_:
        ``{name: (M, Γ, a, b)}`` of the four resonance masses.
    masses_:
        Per object, ``("constant", m)``, ``("discrete", values, shares)`` or ``("log", floor)``: a
        varying mass (a jet's) is ``log max(m, floor)``, ``floor`` :data:`_FLOOR` of its median (a
        jet of one massless particle, or float rounding of ``E² − |p|²``, has mass 0).
    mean_, scale_:
        (features_out,) what is subtracted and divided by (0 and 1 where a feature is a probit).
    """

    def __init__(self, rtol: float = PRECISION) -> None:
        self.rtol = rtol

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, events: np.ndarray, seed: SeedLike = 0) -> DecayCoordinates:
        """Fit on training events (n, 6, 4): the balance, the peaks, the masses' kinds, the scales."""
        raw = self._raw(self._events(events, "the training set", min_events=2))
        pt_tt = raw["tt_pt"]
        scale = np.abs(np.stack([raw["t_pt"], raw["tbar_pt"]])).max(axis=0)
        self.balanced_ = bool(np.all(pt_tt <= self.rtol * scale))
        self.tt_floor_ = 0.0 if self.balanced_ else float(pt_tt[pt_tt > 0].min())
        self.peaks_ = {}
        for name in ("t_m", "tbar_m", "Wp_m", "Wm_m"):
            low, q1, q2, q3, high = np.percentile(raw[name], [0, 25, 50, 75, 100])
            if q3 - q1 <= self.rtol * abs(q2):
                raise GenampError(f"{name} is the same for every training event: it has no peak to learn")
            margin = (high - low) / 2
            self.peaks_[name] = (float(q2), float(q3 - q1), float(max(low - margin, 0.0)), float(high + margin))
        self.masses_ = {}
        for o in OBJECTS:
            m = raw[f"{o}_m"]
            values = _levels(m, self._tolerance(m))
            if np.ptp(m) <= self._tolerance(m):
                self.masses_[o] = ("constant", float(np.mean(m)))
            elif values is not None:
                shares = np.bincount(self._level(m, values), minlength=values.size) / m.size
                self.masses_[o] = ("discrete", values, shares)
            elif not np.any(m > 0):
                raise GenampError(f"{o}'s mass is 0 or less in every training event but varies: its log is undefined")
            else:
                self.masses_[o] = ("log", float(_FLOOR * np.median(m[m > 0])))
        names = ["t_log_pt", "t_y", "t_m", "tbar_y", "tbar_m"]
        if not self.balanced_:
            names += ["tt_log_pt", "tt_phi"]
        names += ["Wp_m", "Wp_cos", "Wp_phi", "Wm_m", "Wm_cos", "Wm_phi", "q1_cos", "q1_phi", "q3_cos", "q3_phi"]
        names += [f"{o}_m" for o in OBJECTS if self.masses_[o][0] != "constant"]
        self.feature_names_out_ = tuple(names)
        self.mean_ = np.zeros(len(names))
        self.scale_ = np.ones(len(names))
        u = self._features(raw, seed)
        linear = self._standardised
        self.mean_[linear] = u[:, linear].mean(axis=0)
        self.scale_[linear] = u[:, linear].std(axis=0)
        flat = [names[j] for j in np.flatnonzero(linear & (self.scale_ == 0))]
        if flat:
            raise GenampError(f"{', '.join(flat)} is the same for every training event: it cannot be standardised")
        return self

    def _tolerance(self, m: np.ndarray) -> float:
        """How close two masses are the same: ``rtol`` of the largest (float rounding of ``E² − |p|²``)."""
        return self.rtol * max(float(np.abs(m).max()), 1.0)

    @staticmethod
    def _level(m: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The index of the value nearest each mass."""
        return np.abs(m[:, None] - values[None, :]).argmin(axis=1)

    @property
    def _standardised(self) -> np.ndarray:
        """Which features are centred and scaled (``log pT``, ``y``, ``log m``)."""
        kinds = {o: k[0] for o, k in self.masses_.items()}
        return np.array([
            f in ("t_log_pt", "t_y", "tbar_y", "tt_log_pt") or (f[:-2] in kinds and kinds[f[:-2]] == "log")
            for f in self.feature_names_out_
        ])  # fmt: skip

    # -- the map ------------------------------------------------------------------------------

    def angle(self, events: np.ndarray) -> np.ndarray:
        """The top's ``φ`` in each event: the angle :meth:`transform` turns it by (back with
        :meth:`inverse_transform`'s ``phi``)."""
        p = self._events(events, "events")
        t = p[:, 0] + p[:, 1] + p[:, 2]
        return np.arctan2(t[:, 2], t[:, 1])

    def transform(self, events: np.ndarray, seed: SeedLike = 0) -> np.ndarray:
        """Events (n, 6, 4) to decay coordinates (n, features_out); ``seed`` draws the
        dequantisation of the categorical masses (nothing else is random)."""
        self._check_fitted()
        raw = self._raw(self._events(events, "events"))
        for o, kind in self.masses_.items():
            m = raw[f"{o}_m"]
            if kind[0] == "constant":
                off = np.abs(m - kind[1]) > self.rtol * max(abs(kind[1]), 1.0)
            elif kind[0] == "discrete":
                off = np.abs(m - kind[1][self._level(m, kind[1])]) > self.rtol * max(float(kind[1].max()), 1.0)
            else:
                continue
            if off.any():
                raise GenampError(
                    f"{o}'s mass takes {'the value' if kind[0] == 'constant' else 'the values'} "
                    f"{np.round(np.atleast_1d(kind[1]), 6).tolist()} in the training set, but not in {int(off.sum())} "
                    f"of these {off.size} events: fit the coordinates on events like these"
                )
        return (self._features(raw, seed) - self.mean_) / self.scale_

    def inverse_transform(self, z: np.ndarray, phi: np.ndarray | None = None, seed: SeedLike | None = None) -> np.ndarray:
        """Decay coordinates (n, features_out) back to events (n, 6, 4), each turned about the
        beam by ``phi`` (n,), or, given ``seed`` instead (a generated event), by a uniform angle
        and, for half of the events at random, by π about the x axis first (the beams swapped:
        ``(px, py, pz) → (px, −py, −pz)``, a rotation, so the V−A decays keep their handedness)."""
        self._check_fitted()
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self.mean_.size:
            raise GenampError(f"coordinates of shape (events, {self.mean_.size}) expected, got shape {z.shape}")
        if not np.isfinite(z).all():
            raise GenampError(f"{int((~np.isfinite(z)).any(axis=1).sum())} of {z.shape[0]} events have NaN or inf coordinates")
        n = z.shape[0]
        flip = np.zeros(n, dtype=bool)
        if phi is None:
            if seed is None:
                raise GenampError("give the events' angles about the beam (phi) or a seed to draw them")
            gen = rng(seed)
            phi = gen.uniform(-np.pi, np.pi, n)
            flip = gen.random(n) < 0.5
        u = dict(zip(self.feature_names_out_, (z * self.scale_ + self.mean_).T, strict=True))
        m_obj = {o: self._object_mass(o, u, n) for o in OBJECTS}
        m = {name: self._peak_mass(name, u[name]) for name in self.peaks_}
        out = np.empty((n, 6, 4))
        # the tops in the turned frame: the top along x, the antitop from the system's pT
        pt_t = np.exp(u["t_log_pt"])
        if self.balanced_:
            tt = (np.zeros(n), np.zeros(n))
        else:
            pt_tt, phi_tt = np.exp(u["tt_log_pt"]), _angle(u["tt_phi"])
            tt = (pt_tt * np.cos(phi_tt), pt_tt * np.sin(phi_tt))
        transverse = {"t": (pt_t, np.zeros(n)), "tbar": (tt[0] - pt_t, tt[1])}
        for top, w, ib, i1, i2 in _SIDES:
            # thresholds first, so every decay has a real momentum (and no resonance is massless)
            m_w = np.maximum(m[f"{w}_m"], np.maximum(m_obj[OBJECTS[i1]] + m_obj[OBJECTS[i2]], _FLOOR * self.peaks_[f"{w}_m"][0]))
            m_t = np.maximum(m[f"{top}_m"], m_w + m_obj[OBJECTS[ib]])
            px, py = transverse[top]
            y = u["t_y"] if top == "t" else u["tbar_y"]
            mt = np.sqrt(px**2 + py**2 + m_t**2)
            p_top = np.column_stack([mt * np.cosh(y), px, py, mt * np.sinh(y)])
            # the W and the b in the top's rest frame
            d = two_body_momentum(m_t, m_w, m_obj[OBJECTS[ib]])[:, None] * _unit(
                special.ndtr(u[f"{w}_cos"]) * 2 - 1, _angle(u[f"{w}_phi"]))
            w_star = _on_shell(d, m_w)
            # the quarks in the W's rest frame, about the W's direction, then in the top's
            q = "q1" if top == "t" else "q3"
            e = two_body_momentum(m_w, m_obj[OBJECTS[i1]], m_obj[OBJECTS[i2]])[:, None] * np.einsum(
                "nji,nj->ni", _helicity_axes(d),
                _unit(special.ndtr(u[f"{q}_cos"]) * 2 - 1, _angle(u[f"{q}_phi"])))
            beta_w = _velocity(w_star)
            beta = _velocity(p_top)
            for i, p in ((ib, _on_shell(-d, m_obj[OBJECTS[ib]])), (i1, _boost(_on_shell(e, m_obj[OBJECTS[i1]]), beta_w)),
                         (i2, _boost(_on_shell(-e, m_obj[OBJECTS[i2]]), beta_w))):  # fmt: skip
                out[:, i] = _on_shell(_boost(p, beta)[:, 1:], m_obj[OBJECTS[i]])  # the mass exactly, in float too
        out[flip, :, 2:] *= -1.0  # π about the x axis: the two protons swapped
        return _rotate(out, np.asarray(phi, dtype=np.float64))

    # -- helpers ------------------------------------------------------------------------------

    def _raw(self, p: np.ndarray) -> dict[str, np.ndarray]:
        """The decay's numbers, unmapped, of events turned so that the top has ``φ = 0``."""
        t = p[:, 0] + p[:, 1] + p[:, 2]
        p = _rotate(p, -np.arctan2(t[:, 2], t[:, 1]))
        raw: dict[str, np.ndarray] = {}
        for top, w, ib, i1, i2 in _SIDES:
            p_w = p[:, i1] + p[:, i2]
            p_t = p_w + p[:, ib]
            raw[f"{top}_pt"] = np.hypot(p_t[:, 1], p_t[:, 2])
            raw[f"{top}_px"], raw[f"{top}_py"] = p_t[:, 1], p_t[:, 2]
            raw[f"{top}_y"] = 0.5 * np.log((p_t[:, 0] + p_t[:, 3]) / (p_t[:, 0] - p_t[:, 3]))
            raw[f"{top}_m"], raw[f"{w}_m"] = _mass(p_t), _mass(p_w)
            # the W in the top's rest frame, then the quark in the W's, reached from there
            beta_t = -_velocity(p_t)
            w_star = _boost(p_w, beta_t)
            raw[f"{w}_cos"], raw[f"{w}_phi"] = _direction(w_star[:, 1:])
            q_star = _boost(_boost(p[:, i1], beta_t), -_velocity(w_star))
            q = "q1" if top == "t" else "q3"
            raw[f"{q}_cos"], raw[f"{q}_phi"] = _direction(np.einsum("nij,nj->ni", _helicity_axes(w_star[:, 1:]), q_star[:, 1:]))
        raw["tt_px"], raw["tt_py"] = raw["t_px"] + raw["tbar_px"], raw["t_py"] + raw["tbar_py"]
        raw["tt_pt"], raw["tt_phi"] = np.hypot(raw["tt_px"], raw["tt_py"]), np.arctan2(raw["tt_py"], raw["tt_px"])
        for i, o in enumerate(OBJECTS):
            raw[f"{o}_m"] = _mass(p[:, i])
        return raw

    def _features(self, raw: dict[str, np.ndarray], seed: SeedLike) -> np.ndarray:
        """The coordinates before standardisation."""
        gen = rng(seed)
        cols = []
        for f in self.feature_names_out_:
            if f == "t_log_pt":
                cols.append(np.log(raw["t_pt"]))
            elif f in ("t_y", "tbar_y"):
                cols.append(raw[f])
            elif f == "tt_log_pt":
                cols.append(np.log(np.maximum(raw["tt_pt"], self.tt_floor_)))
            elif f in self.peaks_:
                cols.append(_probit(self._peak_cdf(f, raw[f])))
            elif f.endswith("_cos"):
                cols.append(_probit((1 + raw[f]) / 2))
            elif f.endswith("_phi"):
                cols.append(_probit((raw[f] + np.pi) / (2 * np.pi)))
            else:  # an object's mass
                kind = self.masses_[f[:-2]]
                m = raw[f]
                if kind[0] == "log":
                    cols.append(np.log(np.maximum(m, kind[1])))
                else:
                    values, shares = kind[1], kind[2]
                    lower = np.concatenate([[0.0], np.cumsum(shares)[:-1]])
                    k = self._level(m, values)
                    cols.append(_probit(lower[k] + shares[k] * gen.uniform(size=m.size)))
        return np.column_stack(cols)

    def _peak_cdf(self, name: str, m: np.ndarray) -> np.ndarray:
        """The Breit-Wigner CDF of the peak, truncated to its range: ``(F(m) − F(a)) / (F(b) − F(a))``."""
        centre, width, low, high = self.peaks_[name]
        f = lambda v: np.arctan(2 * (np.asarray(v) - centre) / width)  # noqa: E731 - π F(v) − π/2
        return (f(m) - f(low)) / (f(high) - f(low))

    def _peak_mass(self, name: str, u: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`_peak_cdf` at ``Φ(u)``: a mass inside the peak's range."""
        centre, width, low, high = self.peaks_[name]
        a, b = np.arctan(2 * (low - centre) / width), np.arctan(2 * (high - centre) / width)
        return np.clip(centre + 0.5 * width * np.tan(a + special.ndtr(u) * (b - a)), low, high)

    def _object_mass(self, o: str, u: dict[str, np.ndarray], n: int) -> np.ndarray:
        kind = self.masses_[o]
        if kind[0] == "constant":
            return np.full(n, kind[1])
        if kind[0] == "log":
            return np.exp(u[f"{o}_m"])
        values, shares = kind[1], kind[2]
        k = np.searchsorted(np.cumsum(shares)[:-1], special.ndtr(u[f"{o}_m"]), side="right")
        return values[np.clip(k, 0, values.size - 1)]

    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise GenampError("DecayCoordinates: fit it on a training set first")

    @staticmethod
    def _events(events: np.ndarray, what: str, min_events: int = 1) -> np.ndarray:
        p = np.asarray(events, dtype=np.float64)
        if p.ndim == 2 and p.shape[1] == len(OBJECTS) * len(COMPONENTS):
            p = p.reshape(p.shape[0], len(OBJECTS), len(COMPONENTS))
        if p.ndim != 3 or p.shape[1:] != (len(OBJECTS), len(COMPONENTS)):
            raise GenampError(
                f"{what}: the decay coordinates take top-pair events of shape (events, 6, 4), the four-momenta "
                f"({', '.join(COMPONENTS)}) of {', '.join(OBJECTS)}; got shape {p.shape}"
            )
        return enough_finite(p, what, min_events)

