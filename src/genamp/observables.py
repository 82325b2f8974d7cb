"""Observables: named functions of an event array (docs/formulas.md §7.1).

On data the volumes are bins of observables, not a toy's product grid. An observable maps
events of shape (n, features) to one value per event: a column (``pt``, ``eta`` of a stored
object), or a derived quantity (a mass, a ΔR) built from several. Without a choice, every column
of the events is an observable (:func:`columns`). Events whose features are four-momenta
(``b_E, b_px, b_py, b_pz, ...``: a top pair's quarks or jets) also have the physics observables
of :mod:`genamp.physics` (``t_m``, ``Wp_m``, ``b_pt``, ``dR_b_q1``, ...), which :func:`select`
finds by name.

    obs = columns(2, names=("x", "y"))               # every column, by name
    pick = select("y,x0", 2, features=("x", "y"))    # by feature name or by index ("x0", "x1", ...)
    obs[0](events)                                   # (n,) values
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from genamp.errors import GenampError

__all__ = ["Observable", "column", "columns", "pairs", "select"]


@dataclass(frozen=True)
class Observable:
    """A named function ``events (n, features) -> values (n,)``."""

    name: str
    function: Callable[[np.ndarray], np.ndarray]
    #: the feature columns it reads (checked against the events before counting)
    reads: tuple[int, ...] = ()

    #: whether it is the one column in ``reads`` as it is (the counting then reads it in place)
    is_column: bool = False

    #: the relative precision of its values: values closer than ``rtol`` times their magnitude
    #: are one value (a mass computed from TeV momenta is known to about 1e-8 of itself), so a
    #: fixed mass is constant, not float noise to put bin edges in (0: as stored)
    rtol: float = 0.0

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return np.asarray(self.function(events), dtype=np.float64)


def column(index: int, name: str | None = None) -> Observable:
    """Feature column ``index`` of the events (named ``x{index}`` unless named)."""
    return Observable(name or f"x{index}", lambda x, i=index: x[:, i], reads=(index,), is_column=True)


def columns(n_features: int, names: Sequence[str] | None = None) -> list[Observable]:
    """Every column of events with ``n_features`` features: the default observables."""
    if names is not None and len(names) != n_features:
        raise GenampError(f"{len(names)} feature names given for {n_features} features")
    return [column(i, None if names is None else str(names[i])) for i in range(n_features)]


def select(text: str, n_features: int, features: Sequence[str] | None = None) -> list[Observable]:
    """Observables from a comma-separated list of feature names or ``x{index}``, and of physics
    observables by name where the features are four-momenta (:func:`genamp.physics.observables`);
    a name that is not there is one clear error naming those that are."""
    known = columns(n_features, features)
    # a feature's own name wins over the index alias x{i} (a file may name its columns x1, x2, ...)
    by_name = {f"x{i}": o for i, o in enumerate(known)} | {o.name: o for o in known}
    derived: dict[str, Observable] = {}
    if features is not None:
        from genamp import physics

        derived = physics.observables(features)
        by_name = derived | by_name
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise GenampError(f"--observables: an empty item in {text!r}")
        if item not in by_name:
            if derived:
                raise GenampError(physics.unknown(item, features))  # type: ignore[arg-type]
            raise GenampError(f"no observable {item!r}; the events have {', '.join(o.name for o in known)}")
        out.append(by_name[item])
    if len({o.name for o in out}) != len(out):
        raise GenampError(f"--observables: {text!r} names an observable twice")
    return out


def pairs(text: str, n_features: int, features: Sequence[str] | None = None) -> list[tuple[Observable, Observable]]:
    """Pairs of observables from ``"a:b,c:d"`` (each side as in :func:`select`), for ``Q × Q``
    volumes; a malformed pair, an unknown name, a pair of one observable twice or a pair given
    twice is one clear error."""
    out = []
    for item in text.split(","):
        parts = [p.strip() for p in item.split(":")]
        if len(parts) != 2 or not all(parts):
            raise GenampError(f"--pairs: a pair is two observables joined by ':', like pt:eta; got {item.strip()!r}")
        a, b = select(",".join(parts), n_features, features)
        out.append((a, b))
    names = [f"{a.name}:{b.name}" for a, b in out]
    if len(set(names)) != len(names):
        raise GenampError(f"--pairs: pairs repeat in {', '.join(names)}")
    return out
