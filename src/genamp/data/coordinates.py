"""Physics coordinates for generators: four-momenta to ``(log pT, η, φ, log m)`` per object and back.

A generator of top-pair events learns the sharp W and top mass peaks only in a representation
that carries the masses, and pT spans decades: it trains in ``(log pT, η, φ, log m)`` per object
(docs/formulas.md §5), not in ``(E, px, py, pz)``. :class:`PhysicsCoordinates` is that map,
fitted on the training set:

- a mass that is the same for every training event (a b quark's 4.8 GeV at parton level) is
  dropped and put back as that constant: a generator is not asked for a value it need not learn;
- ``log pT``, ``η`` and ``log m`` are standardised by the training set's mean and standard
  deviation; ``φ`` is not, it stays an angle, and comes back wrapped into (−π, π];
- :meth:`~PhysicsCoordinates.inverse_transform` is exact (to float rounding), and any point of
  the transformed space, a generator's output, is a valid four-momentum (``E ≥ |p|``).

    coords = PhysicsCoordinates().fit(train)          # train (n, objects, 4): (E, px, py, pz)
    z = coords.transform(train)                       # (n, features_out), for the generator
    events = coords.inverse_transform(generated_z)    # (n, objects, 4) four-momenta

The four-vector arithmetic is :mod:`vector`'s. A study trains its networks in these coordinates
with ``--coordinates objects`` (:mod:`genamp.models.coordinates`); the events must then be
flattened objects, ``(n, 4k)``, which :meth:`~PhysicsCoordinates.transform` also takes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genamp.errors import GenampError
from genamp.physics import COMPONENTS, PRECISION, mass
from genamp.seeding import SeedLike

__all__ = ["PhysicsCoordinates", "enough_finite", "wrap_phi"]


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Angles wrapped into (−π, π]: ``φ ↦ π − ((π − φ) mod 2π)``."""
    return np.pi - np.mod(np.pi - np.asarray(phi, dtype=np.float64), 2 * np.pi)


class PhysicsCoordinates:
    """Four-momenta ``(E, px, py, pz)`` of ``k`` objects, (n, k, 4), to ``(log pT, η, φ, log m)``
    per object, standardised, and back.

    Parameters
    ----------
    objects:
        The objects' names, for :attr:`feature_names_out_` (``o0, o1, ...`` unless given).
    standardise:
        Whether ``log pT``, ``η`` and ``log m`` are centred and scaled by the training set's mean
        and standard deviation (``φ`` never is).
    drop_constant_masses:
        Whether a mass that is the same for every training event is left out and put back as
        that constant (else its ``log m`` is a feature, which a constant cannot be standardised in).
    rtol:
        Masses within ``rtol`` of their magnitude are the same (float rounding of ``E² − |p|²``).

    Attributes (after :meth:`fit`)
    ------------------------------
    n_objects_:
        ``k``.
    mass_:
        (k,) the constant mass of each object whose mass is dropped, NaN where it is a feature.
    mean_, scale_:
        (features_out,) what is subtracted and divided by (0 and 1 for ``φ``, and for every
        feature without ``standardise``).
    feature_names_out_:
        ``{object}_log_pt``, ``{object}_eta``, ``{object}_phi`` and ``{object}_log_m`` (where kept).
    """

    def __init__(
        self, objects: Sequence[str] | None = None, standardise: bool = True, drop_constant_masses: bool = True,
        rtol: float = PRECISION,
    ) -> None:  # fmt: skip
        self.objects = objects
        self.standardise = standardise
        self.drop_constant_masses = drop_constant_masses
        self.rtol = rtol

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, events: np.ndarray, seed: SeedLike | None = None) -> PhysicsCoordinates:
        """Fit on training four-momenta (n, k, 4): which masses are constant, means and scales."""
        p = self._momenta(events, "the training set", min_events=2)
        k = p.shape[1]
        names = [f"o{i}" for i in range(k)] if self.objects is None else [str(o) for o in self.objects]
        if len(names) != k:
            raise GenampError(f"{len(names)} object names given for events of {k} objects")
        pt, eta, phi, m = _kinematics(p)
        self.mass_ = np.full(k, np.nan)
        for i in range(k):
            if self.drop_constant_masses and np.ptp(m[:, i]) <= self.rtol * np.abs(m[:, i]).max():
                self.mass_[i] = float(np.mean(m[:, i]))
        self.n_objects_ = k
        self.feature_names_out_ = tuple(
            f"{o}_{c}" for i, o in enumerate(names) for c in ("log_pt", "eta", "phi", "log_m")
            if c != "log_m" or np.isnan(self.mass_[i])
        )  # fmt: skip
        self.mean_ = np.zeros(len(self.feature_names_out_))
        self.scale_ = np.ones(len(self.feature_names_out_))
        u = self._unscaled(pt, eta, phi, m, names, "the training set")
        if self.standardise:
            angle = self._is_phi
            self.mean_[~angle] = u[:, ~angle].mean(axis=0)
            self.scale_[~angle] = u[:, ~angle].std(axis=0)
            flat = [self.feature_names_out_[j] for j in np.flatnonzero(~angle & (self.scale_ == 0))]
            if flat:
                raise GenampError(f"{', '.join(flat)} is the same for every training event: it cannot be standardised")
        return self

    @property
    def _is_phi(self) -> np.ndarray:
        return np.array([f.endswith("_phi") for f in self.feature_names_out_])

    # -- the map and its inverse --------------------------------------------------------------

    def transform(self, events: np.ndarray, seed: SeedLike | None = None) -> np.ndarray:
        """Four-momenta (n, k, 4) to standardised ``(log pT, η, φ[, log m])`` per object, (n, features_out);
        the map is deterministic (``seed`` is taken, and unused, as by every map of
        :data:`genamp.models.coordinates.COORDINATES`).

        A mass dropped as constant must be that constant in these events too (else they would
        not come back): another one is an error.
        """
        self._check_fitted()
        p = self._momenta(events, "events")
        if p.shape[1] != self.n_objects_:
            raise GenampError(f"events of {p.shape[1]} objects given, the coordinates were fitted on {self.n_objects_}")
        pt, eta, phi, m = _kinematics(p)
        names = [f.removesuffix("_log_pt") for f in self.feature_names_out_ if f.endswith("_log_pt")]
        for i in np.flatnonzero(~np.isnan(self.mass_)):
            off = np.abs(m[:, i] - self.mass_[i]) > self.rtol * abs(self.mass_[i])
            if off.any():
                raise GenampError(
                    f"{names[i]}'s mass was {self.mass_[i]:.6g} for every training event, but differs in "
                    f"{int(off.sum())} of these {off.size} events: fit the coordinates on events like these"
                )
        return (self._unscaled(pt, eta, phi, m, names, "events") - self.mean_) / self.scale_

    def inverse_transform(self, z: np.ndarray, seed: SeedLike | None = None) -> np.ndarray:
        """Standardised coordinates (n, features_out) back to four-momenta (n, k, 4) ``(E, px, py, pz)``
        (every ``φ`` is a coordinate: nothing is drawn, ``seed`` is unused).

        ``pT = exp(log pT)``, ``φ`` wrapped into (−π, π], ``m = exp(log m)`` or the constant, and
        ``(px, py, pz) = (pT cos φ, pT sin φ, pT sinh η)`` and ``E = sqrt(px² + py² + pz² + m²)``:
        any finite input is a valid four-momentum of mass ``m ≥ 0`` (``E ≥ |p|`` in float too).
        """
        import vector

        self._check_fitted()
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self.mean_.size:
            raise GenampError(f"coordinates of shape (events, {self.mean_.size}) expected, got shape {z.shape}")
        if not np.isfinite(z).all():
            raise GenampError(f"{int((~np.isfinite(z)).any(axis=1).sum())} of {z.shape[0]} events have NaN or inf coordinates")
        u = z * self.scale_ + self.mean_
        out = np.empty((z.shape[0], self.n_objects_, 4))
        j = 0
        for i in range(self.n_objects_):
            log_pt, eta, phi = u[:, j], u[:, j + 1], wrap_phi(u[:, j + 2])
            j += 3
            if np.isnan(self.mass_[i]):
                m, j = np.exp(u[:, j]), j + 1
            else:
                m = np.full(z.shape[0], self.mass_[i])
            v = vector.array({"pt": np.exp(log_pt), "eta": eta, "phi": phi, "mass": m})
            # E from the components as they are stored: E ≥ |p| holds in float arithmetic too
            out[:, i, 1:] = np.column_stack([v.px, v.py, v.pz])
            out[:, i, 0] = vector.array({"px": out[:, i, 1], "py": out[:, i, 2], "pz": out[:, i, 3], "mass": m}).E
        return out

    def fit_transform(self, events: np.ndarray) -> np.ndarray:
        return self.fit(events).transform(events)

    # -- helpers ------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise GenampError("PhysicsCoordinates: fit it on a training set first")

    @staticmethod
    def _momenta(events: np.ndarray, what: str, min_events: int = 1) -> np.ndarray:
        p = np.asarray(events, dtype=np.float64)
        if p.ndim != 3 or p.shape[2] != len(COMPONENTS):
            raise GenampError(
                f"{what}: expected four-momenta of shape (events, objects, 4) as ({', '.join(COMPONENTS)}), "
                f"got shape {p.shape}"
            )
        return enough_finite(p, what, min_events)

    def _unscaled(self, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, m: np.ndarray,
                  names: Sequence[str], what: str) -> np.ndarray:  # fmt: skip
        """``(log pT, η, φ[, log m])`` per object, not standardised; pT and a kept mass must be > 0."""
        cols = []
        for i, name in enumerate(names):
            for values, label in ((pt[:, i], "pT"), (m[:, i], "mass")):
                if label == "mass" and not np.isnan(self.mass_[i]):
                    continue
                bad = int((values <= 0).sum())
                if bad:
                    raise GenampError(f"{what}: {name}'s {label} is 0 or less in {bad} of {values.size} events; its log is undefined")
            cols += [np.log(pt[:, i]), eta[:, i], phi[:, i]]
            if np.isnan(self.mass_[i]):
                cols.append(np.log(m[:, i]))
        return np.column_stack(cols)


def enough_finite(p: np.ndarray, what: str, min_events: int = 1) -> np.ndarray:
    """Four-momenta (n, k, 4) of at least ``min_events`` events, every one finite; else one error."""
    if p.shape[0] < min_events:
        raise GenampError(f"{what}: {p.shape[0]} event(s) given, at least {min_events} needed")
    if not np.isfinite(p).all():
        raise GenampError(f"{what}: {int((~np.isfinite(p)).any(axis=(1, 2)).sum())} of {p.shape[0]} events contain NaN or inf")
    return p


def _kinematics(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``pT, η, φ, m`` (each (n, k)) of four-momenta (n, k, 4), by :mod:`vector`."""
    import vector

    v = vector.array({c: p[..., k] for k, c in enumerate(COMPONENTS)})
    return (np.asarray(v.pt, dtype=np.float64), np.asarray(v.eta, dtype=np.float64),
            np.asarray(v.phi, dtype=np.float64), mass(v))  # fmt: skip
