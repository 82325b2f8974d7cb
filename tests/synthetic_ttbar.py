"""Synthetic top-pair events for the tests: the six quarks' four-momenta, built by two-body decays
in each parent's rest frame boosted to the lab, with the masses known by construction.

t → b W⁺, W⁺ → q1 q2 and t̄ → b̄ W⁻, W⁻ → q3 q4, in the order of the ``ttbar`` layout
``(b, q1, q2, bbar, q3, q4)``; the tt̄ system recoils against ISR (a transverse momentum) and is
boosted along the beam. Quarks are massless, b quarks of mass 4.8 GeV (a constant, as in Pythia).
"""

from __future__ import annotations

import h5py
import numpy as np
import vector

OBJECTS = ("b", "q1", "q2", "bbar", "q3", "q4")
FEATURES = tuple(f"{o}_{c}" for o in OBJECTS for c in ("E", "px", "py", "pz"))
M_B = 4.8


def two_body(m: np.ndarray, m1: float | np.ndarray, m2: float | np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Daughters (n, 4) of parents of mass ``m`` at rest, back to back in a uniform direction."""
    n = m.size
    p = np.sqrt((m**2 - (m1 + m2) ** 2) * (m**2 - (m1 - m2) ** 2)) / (2 * m)
    cos, phi = rng.uniform(-1, 1, n), rng.uniform(-np.pi, np.pi, n)
    sin = np.sqrt(1 - cos**2)
    d = p[:, None] * np.stack([sin * np.cos(phi), sin * np.sin(phi), cos], axis=1)
    first = np.column_stack([np.sqrt(p**2 + m1**2), d])
    second = np.column_stack([np.sqrt(p**2 + m2**2), -d])
    return first, second


def _v(p: np.ndarray) -> vector.MomentumNumpy4D:
    return vector.array({"E": p[:, 0], "px": p[:, 1], "py": p[:, 2], "pz": p[:, 3]})


def boost(p: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """``p`` (n, 4) from the rest frame of ``parent`` (n, 4) to the frame where it moves."""
    b = _v(p).boost_p4(_v(parent))
    return np.column_stack([b.E, b.px, b.py, b.pz])


def ttbar_events(n: int, seed: int, m_t: float = 172.5, m_w: float = 80.4, width: float = 1.0,
                 isr: bool = True, quark_masses: tuple[float, ...] = (0.0,)) -> np.ndarray:  # fmt: skip
    """``n`` events (n, 6, 4) of ``(E, px, py, pz)``; top and W masses normal about ``m_t`` and
    ``m_w`` with standard deviation ``width`` (exact masses at ``width = 0``); without ``isr`` the
    tt̄ system has no pT (the six quarks balance); each light quark's mass is drawn from
    ``quark_masses`` (its flavour's, as in Pythia's hard process)."""
    rng = np.random.default_rng(seed)
    out = []
    tops = []
    for _ in range(2):
        mt = m_t + width * rng.standard_normal(n)
        mw = m_w + width * rng.standard_normal(n)
        tops.append((mt, mw))
    m_tt = tops[0][0] + tops[1][0] + rng.exponential(150.0, n)
    t, tbar = two_body(m_tt, tops[0][0], tops[1][0], rng)
    pt, phi, y = rng.exponential(20.0, n) * isr, rng.uniform(-np.pi, np.pi, n), rng.normal(0.0, 1.0, n)
    mt_tt = np.sqrt(m_tt**2 + pt**2)
    system = np.column_stack([mt_tt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), mt_tt * np.sinh(y)])
    for top, (mt, mw) in zip((t, tbar), tops, strict=True):
        b, w = two_body(mt, M_B, mw, rng)
        q, qq = two_body(mw, rng.choice(quark_masses, n), rng.choice(quark_masses, n), rng)
        top_lab = boost(top, system)
        w_lab = boost(w, top_lab)
        out += [boost(b, top_lab), boost(q, w_lab), boost(qq, w_lab)]
    return np.stack(out, axis=1)


def write_ttbar(path, events: np.ndarray, level: str = "parton", **attrs) -> str:
    """An HDF5 file of the ``ttbar`` layout: dataset ``events`` (n, 6, 4) with its attributes."""
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("events", data=events)
        ds.attrs.update({"objects": list(OBJECTS), "components": ["E", "px", "py", "pz"], "units": "GeV",
                         "layout": "ttbar", "level": level, "seed": 1, **attrs})  # fmt: skip
    return str(path)
