"""Top-quark pair events from Pythia 8 (docs/formulas.md §8): six quarks at parton level, six jets at jet level.

The process is ``p p → t t̄`` at √s = 13 TeV (Pythia's leading-order ``Top:gg2ttbar`` and
``Top:qqbar2ttbar``, its default NNPDF2.3 LO PDF), ``t → W⁺ b``, both ``W → q q̄′`` (fully
hadronic). An event is six four-momenta ``(E, px, py, pz)`` in GeV in the fixed order
``(b, q1, q2, bbar, q3, q4)``: the W⁺'s daughters after the b, the W⁻'s after the b̄, and in each
pair the quark before the antiquark — q1 is the W⁺'s up-type quark and q2 its down-type
antiquark, q3 the W⁻'s down-type quark and q4 its up-type antiquark.

**Parton level.** The quarks are read from the event record, not the process record, so they
carry the tops' recoil against initial-state radiation and the primordial kT: the daughters of
the last copy of each top (W and b) and of the last copy of each W. Pythia hands over a batch of
events as one awkward record (``nextBatch``); its columns are flattened to numpy, and the
daughters of the last copies are the particles whose mother is a top or a W (a copy's mother is
the previous copy, a shower quark's mother a quark). Every role must be filled exactly once per
event, and on the first batch of every chunk the last event is also followed copy by copy
(``iBotCopyId``) and must give the same six momenta. ISR is on by default: without it the six
quarks balance exactly in pT, a constraint no generator meets by chance (docs/formulas.md §8.2).
``isr=False`` also turns off the primordial kT of the incoming partons
(``BeamRemnants:primordialKT``), which alone would give the pair a pT of about 2 GeV: without
ISR the balance is exact (to rounding, 10⁻¹¹ GeV), as the coordinates that build it in assume. FSR, MPI and hadronisation are off, so the quarks are final-state particles (checked
on every event).

**Jet level.** Shower (ISR, FSR) and hadronisation, with multi-parton interactions on by
default: the underlying event is part of every LHC event and Pythia's default, and the
datasets of the generative-network papers include it; ``mpi=False`` is about four times faster
and gives narrower mass peaks. The final visible particles (every final-state particle but
neutrinos) are clustered with ``fastjet``'s anti-kT, R = 0.4, a whole batch of events at a time;
jets need pT > 22 GeV. The six jets are chosen by the hard process (choice): the jets are
matched one-to-one to the six quarks of the top decays (the daughters of the last W and top
copies, before their shower) by the assignment with the least total ΔR, every quark within
ΔR < 0.4 of its jet; each jet takes its quark's name and place, so both levels share one
layout. An event is kept when (1) it has at least six jets, (2) such a matching exists and
(3) the six matched jets are more than ΔR = 0.5 apart, every pair (η–φ distance). The file
reports each cut's efficiency, relative to the one before, and their product.

**Reproducibility.** Events are generated in chunks of a fixed number of generated events
(:data:`CHUNK_EVENTS`), chunk ``k`` with the Pythia seed drawn from
``SeedSequence(seed, spawn_key=(purpose, k))``; a sample of ``n`` events is chunks ``0, 1, …`` in
order, cut at ``n``. Chunks run in sub-batches of :data:`BATCH_EVENTS` events, and the last chunk
stops at the end of the sub-batch that reaches ``n``, so the same ``(seed, n)`` gives the same
file — events and statistics — whatever the number of workers, and a sample is the first ``n``
events of any larger one with the same settings. Each chunk is written atomically into
``FILE.h5.parts/`` with its identity (settings, seed, chunk number) and a checksum; a stopped run
resumes and reuses every chunk that verifies, a damaged one is redone. The final file is
written atomically and the parts folder removed.

**Cross-section.** Pythia's ``sigmaGen`` includes the branching fractions of the decays it
allows (here both W hadronic, t → W b). Each chunk is an independent run; their estimates are
combined weighted by their generated events (inverse-variance weights would correlate with the
estimates), errors in quadrature.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import multiprocessing as mp
import os
import queue as queue_module
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from genamp import __version__
from genamp._files import atomic_path, remove_temporaries
from genamp._processes import default_workers, keep_freed_memory, worker_init
from genamp.errors import GenampError
from genamp.seeding import seed_sequence, stable_id

LEVELS = ("parton", "jet")
OBJECTS = ("b", "q1", "q2", "bbar", "q3", "q4")
COMPONENTS = ("E", "px", "py", "pz")
PROCESS = (
    "p p -> t tbar at sqrt(s) = 13 TeV (Pythia 8 at leading order: g g -> t tbar, q qbar -> t tbar), "
    "t -> W+ b, tbar -> W- bbar, both W -> q qbar' (fully hadronic)"
)
#: the version of the files written here (part of a sample's identity)
FORMAT_VERSION = 1

#: generated events per chunk: fixed, so a sample is a pure function of (settings, seed, n)
CHUNK_EVENTS = {"parton": 100_000, "jet": 5_000}
#: events per sub-batch: the unit of progress, of clustering, and of the last chunk's length
BATCH_EVENTS = {"parton": 1_000, "jet": 200}

JET_R = 0.4
JET_PT_MIN = 22.0
JET_DR_MIN = 0.5
MATCH_DR_MAX = 0.4
CUTS = (
    ("six_jets", f"at least six anti-kT R = {JET_R} jets with pT > {JET_PT_MIN:g} GeV"),
    ("matched", f"six of them matched one-to-one to the six quarks, each within dR < {MATCH_DR_MAX} (least total dR)"),
    ("separated", f"the six matched jets more than dR = {JET_DR_MIN} apart, every pair"),
)
#: a selection that needs more generated events per kept one is refused
MAX_GENERATED_PER_SELECTED = 100
#: attempts allowed per event before Pythia's failures stop a chunk
ATTEMPTS_PER_EVENT = 10.0
PYTHIA_SEED_MAX = 900_000_000
#: a guess of the jet-level efficiency, used only to decide how many chunks to start at once
_PRIOR_EFFICIENCY = 0.2
_SEED_PURPOSE = stable_id("pythia ttbar chunk")

PYTHIA_INSTALL = "pip install pythia8mc==8.317.2"
FASTJET_INSTALL = "pip install fastjet"

#: (generated, selected) increments, reported as sub-batches finish
Progress = Callable[[int, int], None]


# ----------------------------------------------------------------------------- the libraries


def _import_pythia() -> Any:
    try:
        import pythia8mc
    except Exception as exc:  # not installed, or a shared library that does not load
        raise GenampError(
            f"top-pair events need Pythia 8, which cannot be imported ({type(exc).__name__}: {exc}); "
            f"install it with: {PYTHIA_INSTALL}"
        ) from None
    return pythia8mc


def _import_awkward() -> Any:
    try:
        import awkward
    except Exception as exc:
        raise GenampError(
            f"top-pair events need awkward (Pythia's batches of events), which cannot be imported ({type(exc).__name__}: {exc}); "
            "install it with: pip install awkward"
        ) from None
    return awkward


def _import_fastjet() -> tuple[Any, Any]:
    ak = _import_awkward()
    try:
        import fastjet
    except Exception as exc:
        raise GenampError(
            f"jet-level events need fastjet, which cannot be imported ({type(exc).__name__}: {exc}); install it with: {FASTJET_INSTALL}"
        ) from None
    return fastjet, ak


def pythia_version() -> str:
    """The installed ``pythia8mc`` (read from its metadata, without loading Pythia)."""
    from importlib import metadata

    try:
        return metadata.version("pythia8mc")
    except metadata.PackageNotFoundError:
        raise GenampError(f"top-pair events need Pythia 8, which is not installed; install it with: {PYTHIA_INSTALL}") from None


def check_events(n: int) -> int:
    """The number of events a sample is asked for, checked."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise GenampError(f"--events: {n!r} must be a whole number >= 1")
    return int(n)


def require(level: str) -> None:
    """Fail with one line naming what to install before any work starts."""
    _import_pythia()
    _import_awkward()
    if level == "jet":
        _import_fastjet()


# ----------------------------------------------------------------------------- settings


def pythia_settings(level: str, isr: bool, mpi: bool) -> list[str]:
    """Every ``readString`` line of a sample but the chunk's ``Random:seed``."""

    def on(flag: bool) -> str:
        return "on" if flag else "off"

    shower = level == "jet"
    return [
        # no banner, listings or counters; Pythia's error messages would interleave with the
        # progress bar and the printed path: a failed event is retried and counted instead
        "Print:quiet = on",
        "Next:numberCount = 0",
        "Print:errors = off",
        "Beams:eCM = 13000.",
        "Top:gg2ttbar = on",
        "Top:qqbar2ttbar = on",
        "6:onMode = off",
        "6:onIfMatch = 24 5",
        "24:onMode = off",
        "24:onIfAny = 1 2 3 4 5",
        f"PartonLevel:ISR = {on(isr)}",
        # without ISR the hard system must not recoil at all: no primordial kT either
        *([] if isr else ["BeamRemnants:primordialKT = off"]),
        f"PartonLevel:FSR = {on(shower)}",
        f"PartonLevel:MPI = {on(mpi)}",
        f"HadronLevel:all = {on(shower)}",
        "Random:setSeed = on",
    ]


def make_pythia(settings: Sequence[str], seed: int | None = None) -> Any:
    """An initialised ``pythia8mc.Pythia``; a setting it refuses (``readString`` returns False:
    a wrong name or value) or a failed ``init`` is a :class:`GenampError` naming it."""
    pythia8mc = _import_pythia()
    lines = [*settings, *([f"Random:seed = {int(seed)}"] if seed is not None else [])]
    with _quiet_stdout():  # Pythia prints a warning of its own for a refused line
        pythia = pythia8mc.Pythia("", False)
        for line in lines:
            if not pythia.readString(line):
                raise GenampError(f"Pythia refused the setting {line!r} (readString returned False: no such setting, or a value it cannot take)")
        ok = pythia.init()
    if not ok:
        raise GenampError("Pythia could not initialise with the settings " + "; ".join(lines))
    return pythia


def pythia_seed(seed: int, chunk: int) -> int:
    """Pythia's ``Random:seed`` for ``chunk`` of a sample with ``seed``: in 1..900000000."""
    state = seed_sequence(seed, _SEED_PURPOSE, chunk).generate_state(1, np.uint64)[0]
    return int(state % PYTHIA_SEED_MAX) + 1


@contextlib.contextmanager
def _quiet_stdout():
    """File descriptor 1 to /dev/null: C++ libraries print there (Pythia's warnings, fastjet's
    banner), past Python's ``sys.stdout``."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@dataclass(frozen=True)
class TtbarSpec:
    """What makes a sample what it is, apart from its size."""

    level: str
    seed: int = 1
    isr: bool = True
    mpi: bool = False
    chunk_events: int = 0
    batch_events: int = 0

    @classmethod
    def make(cls, level: str, seed: int = 1, isr: bool = True, mpi: bool | None = None, chunk_events: int | None = None) -> TtbarSpec:
        """A checked spec; ``mpi=None`` is the level's default (on at jet level; the parton
        level has none)."""
        if level not in LEVELS:
            raise GenampError(f"--level: {level!r} is not a level; use parton or jet")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise GenampError(f"--seed: {seed!r} must be a whole number >= 0")
        if mpi is None:
            mpi = level == "jet"
        if mpi and level == "parton":
            raise GenampError("--mpi: multi-parton interactions belong to the jet level; the parton level has none")
        batch = BATCH_EVENTS[level]
        chunk = CHUNK_EVENTS[level] if chunk_events is None else int(chunk_events)
        if chunk < batch or chunk % batch:
            raise GenampError(f"--chunk-events: {chunk_events} must be a positive multiple of {batch} (the {level}-level batch)")
        return cls(level, int(seed), bool(isr), bool(mpi), chunk, batch)

    @property
    def settings(self) -> list[str]:
        return pythia_settings(self.level, self.isr, self.mpi)

    @property
    def selection(self) -> dict[str, Any] | None:
        if self.level != "jet":
            return None
        return {
            "particles": "final-state particles but neutrinos",
            "algorithm": "anti-kt", "R": JET_R, "pt_min": JET_PT_MIN,
            "choice": "six jets matched one-to-one to the six quarks of the top decays by the least total dR",
            "match_dr_max": MATCH_DR_MAX, "dr_min": JET_DR_MIN, "dr": "sqrt(d_eta^2 + d_phi^2), pseudorapidity",
        }  # fmt: skip

    def identity(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION, "layout": "ttbar", "level": self.level, "seed": self.seed,
            "isr": self.isr, "mpi": self.mpi, "chunk_events": self.chunk_events, "batch_events": self.batch_events,
            "settings": self.settings, "selection": self.selection, "pythia_version": pythia_version(),
        }  # fmt: skip

    def identity_json(self) -> str:
        return json.dumps(self.identity(), sort_keys=True)

    @property
    def key(self) -> str:
        """A short name of the identity (cache file names)."""
        return hashlib.sha256(self.identity_json().encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- parton level


def _next_batch(pythia: Any, n: int) -> Any:
    """``n`` events from Pythia as one awkward record (``nextBatch``, failed events retried)."""
    try:
        return pythia.nextBatch(n, ATTEMPTS_PER_EVENT)["prt"]
    except Exception as exc:  # Pythia gave up after ATTEMPTS_PER_EVENT x n attempts
        raise GenampError(f"Pythia failed to generate a batch of {n} events ({exc}); see its settings") from None


def _columns(prt: Any, n: int) -> dict[str, np.ndarray]:
    """A batch's record as flat numpy columns, ``event`` naming each particle's event and
    ``mother_id`` the PDG id of its first mother.

    The columns are views of the record's buffers (its layout: a list of records per event),
    not copies: awkward's jagged operations (``flatten`` of every field) cost more than
    Pythia's own work per batch at parton level."""
    layout = prt.layout  # ListOffsetArray of the events, over one RecordArray of every particle
    offsets = np.asarray(layout.offsets)
    first, last = int(offsets[0]), int(offsets[-1])
    record, momentum = layout.content, layout.content.content("p")
    cols = {c: np.asarray(record.content(c).data)[first:last] for c in ("id", "mother1", "status")}
    cols.update({c: np.asarray(momentum.content(c).data)[first:last] for c in ("e", "px", "py", "pz")})
    counts = np.diff(offsets)
    if len(counts) != n:
        raise GenampError(f"Pythia handed over {len(counts)} events for a batch of {n} (a bug)")
    cols["event"] = np.repeat(np.arange(n), counts)
    cols["mother_id"] = cols["id"][cols["mother1"] + np.repeat(offsets[:-1] - first, counts)]
    return cols


def _role_masks(pid: np.ndarray, mid: np.ndarray) -> list[np.ndarray]:
    """Per particle and role (b, q1, q2, bbar, q3, q4): is it that quark? The daughters of the
    last copy of a top or W are exactly the particles whose mother is a top or W (a copy's
    mother is the previous copy; a shower's quarks have a quark as mother)."""
    return [
        (pid == 5) & (mid == 6),
        (mid == 24) & (pid > 0) & (pid <= 5),
        (mid == 24) & (pid < 0) & (pid >= -5),
        (pid == -5) & (mid == -6),
        (mid == -24) & (pid > 0) & (pid <= 5),
        (mid == -24) & (pid < 0) & (pid >= -5),
    ]


def _decay_quarks(cols: dict[str, np.ndarray], n: int, final: bool) -> np.ndarray:
    """The six quarks of every event (n, 6, 4) in the order (b, q1, q2, bbar, q3, q4); each role
    must be filled exactly once per event, and at parton level by a final-state particle."""
    quarks = np.empty((n, 6, 4))
    mother = np.abs(cols["mother_id"])
    near = np.flatnonzero((mother == 6) | (mother == 24))  # a few per event: the roles are judged on these
    for j, mask in enumerate(_role_masks(cols["id"][near], cols["mother_id"][near])):
        where = near[mask]
        if len(where) != n or (cols["event"][where] != np.arange(n)).any() or (final and (cols["status"][where] <= 0).any()):
            raise GenampError(f"an event record is not t -> W b, W -> q qbar' with one {'final ' if final else ''}"
                              f"{OBJECTS[j]} per event; the settings do not give this process")  # fmt: skip
        quarks[:, j] = np.stack([cols[c][where] for c in ("e", "px", "py", "pz")], axis=-1)
    return quarks


def _parton_batch(pythia: Any, n: int, check: bool = False) -> np.ndarray:
    """``n`` events' six quarks (n, 6, 4); ``check``: also follow the last event's record."""
    quarks = _decay_quarks(_columns(_next_batch(pythia, n), n), n, final=True)
    if check:
        _check_record(pythia, quarks[-1])
    return quarks


def _check_record(pythia: Any, last: np.ndarray) -> None:
    """The quarks of a batch's last event (``last``, found by their mothers) are those found by
    following its record: the last copy of each top, its daughters W and b, the last copy of
    the W, its daughters (run on the first batch of every chunk)."""
    ev = pythia.event
    found = np.full((6, 4), np.nan)
    for i in (5, 6):  # the hard process's t and tbar, in either order
        top = ev[ev[i].iBotCopyId()]
        sign = 1 if top.id() > 0 else -1
        w, b = sorted((ev[top.daughter1()], ev[top.daughter2()]), key=lambda p: -p.idAbs())
        w = ev[w.iBotCopyId()]
        q, qb = sorted((ev[w.daughter1()], ev[w.daughter2()]), key=lambda p: -p.id())
        if (top.idAbs(), w.id(), b.id(), q.id() > 0 > qb.id()) != (6, 24 * sign, 5 * sign, True):
            raise GenampError("an event record is not t -> W b, W -> q qbar'; the settings do not give this process")
        found[[0, 1, 2] if sign > 0 else [3, 4, 5]] = [[p.e(), p.px(), p.py(), p.pz()] for p in (b, q, qb)]
    if not np.array_equal(found, last):
        raise GenampError("the quarks found by their mothers are not those of the last top and W copies (a bug)")


# ----------------------------------------------------------------------------- jet level


def _eta_phi(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    px, py, pz = p4[..., 1], p4[..., 2], p4[..., 3]
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):  # a quark along the beam: eta = ±inf
        eta = np.arcsinh(pz / pt)
    return eta, np.arctan2(py, px)


def _delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    with np.errstate(invalid="ignore"):  # inf - inf for two objects along the beam
        return np.hypot(eta1 - eta2, dphi)


def select_jets(quarks: np.ndarray, jets: np.ndarray, n_jets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The jet choice of the jet level, for a batch.

    ``quarks`` (n, 6, 4) and ``jets`` (n, m, 4) are (E, px, py, pz), jets padded with NaN past
    ``n_jets`` (n,). Returns the cut each event passed (0: fewer than six jets, 1: six or more
    but no one-to-one matching within dR < 0.4, 2: matched but two jets within dR = 0.5,
    3: kept) and, where matched, the jet taken for each quark (n, 6).
    """
    from scipy.optimize import linear_sum_assignment

    n = len(quarks)
    stage = np.zeros(n, dtype=np.uint8)
    chosen = np.full((n, 6), -1, dtype=np.int64)
    q_eta, q_phi = _eta_phi(quarks)
    j_eta, j_phi = _eta_phi(jets)
    dr = _delta_r(q_eta[:, :, None], q_phi[:, :, None], j_eta[:, None, :], j_phi[:, None, :])
    # any assignment using a pair beyond the cone costs more than every allowed one (< 6 x 0.4)
    cost = np.where(dr < MATCH_DR_MAX, dr, 1e3)
    upper = np.triu_indices(6, 1)
    for i in np.flatnonzero(n_jets >= 6):
        stage[i] = 1
        rows, cols = linear_sum_assignment(cost[i, :, : n_jets[i]])
        if not (dr[i, rows, cols] < MATCH_DR_MAX).all():
            continue
        chosen[i] = cols
        stage[i] = 2
        e, f = j_eta[i, cols], j_phi[i, cols]
        if (_delta_r(e[:, None], f[:, None], e[None], f[None])[upper] > JET_DR_MIN).all():
            stage[i] = 3
    return stage, chosen


def _jet_batch(pythia: Any, n: int, timing: dict[str, float] | None = None, check: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``n`` events through shower and hadronisation; returns the kept events' six jets
    (selected, 6, 4) and every event's cut stage (n,); ``check``: also follow the last event's
    record to its quarks (:func:`_check_record`). ``timing`` (benchmarks) adds up the
    seconds spent in Pythia (``shower``: ``nextBatch``, which also builds the awkward record),
    reading the quarks (``quarks``), clustering (``cluster``) and choosing the jets (``select``)."""
    fastjet, ak = _import_fastjet()
    clock = [time.process_time()]
    prt = _next_batch(pythia, n)
    clock.append(time.process_time())
    cols = _columns(prt, n)
    quarks = _decay_quarks(cols, n, final=False)
    if check:
        _check_record(pythia, quarks[-1])
    clock.append(time.process_time())
    apid = np.abs(cols["id"])
    visible = (cols["status"] > 0) & (apid != 12) & (apid != 14) & (apid != 16)
    particles = ak.unflatten(
        ak.zip({"px": cols["px"][visible], "py": cols["py"][visible], "pz": cols["pz"][visible], "E": cols["e"][visible]}),
        np.bincount(cols["event"][visible], minlength=n),
    )
    with _quiet_stdout():  # fastjet's banner, once per process
        sequence = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R))
        found = sequence.inclusive_jets(min_pt=JET_PT_MIN)
    n_jets = ak.to_numpy(ak.num(found, axis=1))
    clock.append(time.process_time())
    width = max(int(n_jets.max(initial=0)), 6)
    jets = np.stack(
        [ak.to_numpy(ak.fill_none(ak.pad_none(found[c], width, axis=1), np.nan)) for c in ("E", "px", "py", "pz")], axis=-1
    )
    stage, chosen = select_jets(quarks, jets, n_jets)
    kept = np.flatnonzero(stage == 3)
    events = jets[kept[:, None], chosen[kept]]
    if timing is not None:
        clock.append(time.process_time())
        for name, a, b in zip(("shower", "quarks", "cluster", "select"), clock, clock[1:]):
            timing[name] = timing.get(name, 0.0) + b - a
    return events, stage


# ----------------------------------------------------------------------------- chunks


@dataclass
class Chunk:
    """A chunk's events on disk and its statistics at the end of each sub-batch (cumulative)."""

    index: int
    pythia_seed: int
    generated: np.ndarray  # (batches,) events generated
    selected: np.ndarray  # (batches,) events kept
    passed: np.ndarray  # (batches, cuts) events past each cut
    sigma_pb: np.ndarray  # (batches,) Pythia's cross-section estimate so far
    sigma_err_pb: np.ndarray
    complete: bool  # it ran to the chunk's full length
    path: Path
    reused: bool = False
    checksum: str = ""  # of its file's contents (:func:`_digest`)

    @property
    def kept(self) -> int:
        return int(self.selected[-1])

    def end(self, need: int | None) -> int:
        """The sub-batch whose end closes the sample: the last one, or the first that reaches
        ``need`` kept events (the same whether the chunk ran in full or stopped there)."""
        if need is None or self.kept < need:
            return len(self.selected) - 1
        return int(np.searchsorted(self.selected, need))


def chunk_path(parts: Path, k: int) -> Path:
    return parts / f"chunk{k:05d}.h5"


def parts_folder(out: Path) -> Path:
    """Where a sample's chunks wait until its file is written."""
    return out.with_name(out.name + ".parts")


_ARRAYS = ("events", "generated", "selected", "passed", "sigma_pb", "sigma_err_pb")


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in _ARRAYS:
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


_STATISTICS = _ARRAYS[1:]


def _chunk_arrays(chunk: Chunk, events: np.ndarray) -> dict[str, np.ndarray]:
    return {"events": events, **{name: getattr(chunk, name) for name in _STATISTICS}}


def _write_chunk(path: Path, spec: TtbarSpec, chunk: Chunk, events: np.ndarray) -> None:
    """Write ``chunk`` with its ``events`` to ``path`` atomically; sets ``chunk.checksum``."""
    arrays = _chunk_arrays(chunk, events)
    chunk.checksum = _digest(arrays)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for name, a in arrays.items():
            f.create_dataset(name, data=a)
        f.attrs["identity"] = spec.identity_json()
        f.attrs["chunk"] = chunk.index
        f.attrs["pythia_seed"] = chunk.pythia_seed
        f.attrs["checksum"] = chunk.checksum


class DamagedChunk(Exception):
    """A chunk file that cannot be trusted: unreadable, failing its checksum, or made for other
    settings."""


def read_chunk(path: Path, spec: TtbarSpec, k: int) -> Chunk | None:
    """The chunk in ``path`` if it verifies (``None`` when there is no file); raises
    :class:`DamagedChunk` with the reason otherwise."""
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r") as f:
            arrays = {name: np.asarray(f[name]) for name in _ARRAYS}
            attrs = {key: f.attrs[key] for key in ("identity", "chunk", "pythia_seed", "checksum")}
    except (OSError, KeyError, ValueError) as exc:
        raise DamagedChunk(f"unreadable ({type(exc).__name__})") from None
    if _digest(arrays) != attrs["checksum"]:
        raise DamagedChunk("its contents do not match its checksum")
    if attrs["identity"] != spec.identity_json() or int(attrs["chunk"]) != k or int(attrs["pythia_seed"]) != pythia_seed(spec.seed, k):
        raise DamagedChunk("it was made for other settings, seed or chunk")
    generated, selected = arrays["generated"], arrays["selected"]
    if not (len(generated) and len(arrays["events"]) == selected[-1] and generated[-1] <= spec.chunk_events):
        raise DamagedChunk("its event counts do not add up")
    return Chunk(k, int(attrs["pythia_seed"]), generated, selected, arrays["passed"], arrays["sigma_pb"], arrays["sigma_err_pb"],
                 complete=bool(generated[-1] == spec.chunk_events), path=path, reused=True, checksum=str(attrs["checksum"]))  # fmt: skip


def donate_chunks(source: Path, spec: TtbarSpec, parts: Path, n: int) -> int:
    """Put the chunks that the finished sample in ``source`` holds whole into ``parts``, where a
    run of ``n`` events of ``spec`` takes them as its own; returns how many.

    A sample's file keeps each chunk's statistics and checksum (``chunks/NNNNN``). A chunk that
    ran to its full length and whose kept events all made it into the file is the same chunk in
    every sample of these settings (chunk ``k`` does not depend on the sample's size), so a larger
    request need not generate it again. Each is rebuilt from the file and must match the checksum
    of the chunk file it was written from; the first that does not (or is short, or cut) ends the
    donation. A chunk already in ``parts`` is left as it is (the resumed run judges it), and
    chunks past the ``n`` events the run needs are not written.
    """
    attrs = read_sample(source)
    if attrs is None or attrs.get("identity") != spec.identity_json():
        return 0
    given = kept = 0
    try:
        with h5py.File(source, "r") as f:
            chunks = f.get("chunks")
            while chunks is not None and kept < n and f"{given:05d}" in chunks:
                g = chunks[f"{given:05d}"]
                stats = {name: np.asarray(g.attrs[name]) for name in _STATISTICS}
                first, taken = int(g.attrs["first"]), int(g.attrs["taken"])
                k = given
                chunk = Chunk(k, pythia_seed(spec.seed, k), **stats, complete=True, path=chunk_path(parts, k))
                if first != kept or stats["generated"][-1] != spec.chunk_events or taken != chunk.kept:
                    break  # the chunk stopped short, or the file holds only its first events
                if not chunk.path.exists():
                    events = np.asarray(f["events"][first : first + taken])
                    if _digest(_chunk_arrays(chunk, events)) != g.attrs["checksum"]:
                        break
                    _write_chunk(chunk.path, spec, chunk, events)
                given += 1
                kept += taken
    except (OSError, KeyError, ValueError, IndexError):  # a file damaged since: what was given stands
        pass
    return given


def run_chunk(spec: TtbarSpec, k: int, need: int | None, parts: Path, report: Progress | None = None) -> Chunk:
    """Generate chunk ``k`` (stopping at the end of the sub-batch that reaches ``need`` kept
    events, or at the chunk's end) and write it into ``parts``."""
    chunk, events = make_chunk(spec, k, need, parts, report)
    _write_chunk(chunk.path, spec, chunk, events)
    return chunk


def make_chunk(spec: TtbarSpec, k: int, need: int | None, parts: Path, report: Progress | None = None) -> tuple[Chunk, np.ndarray]:
    """Chunk ``k`` as :func:`run_chunk` makes it, and its events (events, 6, 4), not written:
    a Dask worker returns them and the client writes the chunk (:mod:`genamp.cluster`)."""
    keep_freed_memory()  # every batch arrives in new buffers: reuse them rather than fault in fresh pages
    seed = pythia_seed(spec.seed, k)
    pythia = make_pythia(spec.settings, seed)
    batches = spec.chunk_events // spec.batch_events
    stats: list[tuple[int, int, list[int], float, float]] = []
    pieces: list[np.ndarray] = []
    generated = selected = 0
    passed = np.zeros(len(CUTS) if spec.level == "jet" else 0, dtype=np.int64)
    for b in range(batches):
        if spec.level == "parton":
            events = _parton_batch(pythia, spec.batch_events, check=b == 0)
        else:
            events, stage = _jet_batch(pythia, spec.batch_events, check=b == 0)
            passed += [(stage > c).sum() for c in range(len(CUTS))]
        pieces.append(events)
        generated += spec.batch_events
        selected += len(events)
        info = pythia.infoPython()  # a copy: read it after the batch
        stats.append((generated, selected, passed.tolist(), info.sigmaGen() * 1e9, info.sigmaErr() * 1e9))
        if report is not None:
            report(spec.batch_events, len(events))
        if need is not None and selected >= need:
            break
    g, s, p, sig, err = (np.array(col) for col in zip(*stats))
    chunk = Chunk(k, seed, g.astype(np.int64), s.astype(np.int64), p.astype(np.int64).reshape(len(stats), -1),
                  sig.astype(np.float64), err.astype(np.float64), complete=generated == spec.chunk_events,
                  path=chunk_path(parts, k))  # fmt: skip
    events = np.concatenate(pieces) if pieces else np.empty((0, 6, 4))
    return chunk, events.astype(np.float64).reshape(-1, 6, 4)


# ----------------------------------------------------------------------------- the sample


@dataclass
class Sample:
    """A written sample and what it took."""

    path: Path
    events: int
    generated: int
    efficiency: float
    cut_efficiencies: dict[str, float]
    sigma_pb: float
    sigma_err_pb: float
    chunks: int
    chunks_reused: int = 0
    file_reused: bool = False


def combine_sigma(sigma: np.ndarray, err: np.ndarray, generated: np.ndarray) -> tuple[float, float]:
    """Independent runs' cross-sections, weighted by their generated events; errors in quadrature."""
    w = np.asarray(generated, dtype=np.float64) / np.sum(generated)
    return float(np.sum(w * sigma)), float(np.sqrt(np.sum((w * err) ** 2)))


def _summary(spec: TtbarSpec, chunks: list[Chunk], n: int) -> dict[str, Any]:
    """The sample's statistics over the sub-batches that make it."""
    ends, remaining = [], n
    for c in chunks:
        ends.append(c.end(remaining))
        remaining -= int(c.selected[ends[-1]])
    rows = [(c.generated[e], c.passed[e], c.sigma_pb[e], c.sigma_err_pb[e]) for c, e in zip(chunks, ends)]
    generated = np.array([r[0] for r in rows])
    passed = np.sum([r[1] for r in rows], axis=0) if spec.level == "jet" else np.zeros(0, dtype=np.int64)
    sigma, err = combine_sigma(np.array([r[2] for r in rows]), np.array([r[3] for r in rows]), generated)
    total = int(generated.sum())
    before = np.concatenate([[total], passed[:-1]]) if len(passed) else np.zeros(0)
    cut_eff = {name: float(p / b) if b else 0.0 for (name, _), p, b in zip(CUTS, passed, before)}
    selected = int(passed[-1]) if len(passed) else total
    return {"generated": total, "sigma_pb": sigma, "sigma_err_pb": err, "cut_efficiencies": cut_eff,
            "efficiency": selected / total if total else 0.0, "passed": passed.tolist()}  # fmt: skip


def _write_sample(out: Path, spec: TtbarSpec, chunks: list[Chunk], n: int) -> dict[str, Any]:
    summary = _summary(spec, chunks, n)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        ds = f.create_dataset("events", shape=(n, 6, 4), dtype=np.float64)
        at = 0
        for c in chunks:
            with h5py.File(c.path, "r") as part:
                take = min(len(part["events"]), n - at)
                ds[at : at + take] = part["events"][:take]
            # what a larger sample of these settings needs to take this chunk instead of making it
            # attributes, not datasets: the file's one array stays `events`
            g = f.create_group(f"chunks/{c.index:05d}")
            for name in _STATISTICS:
                g.attrs[name] = getattr(c, name)
            g.attrs["pythia_seed"], g.attrs["first"], g.attrs["taken"], g.attrs["checksum"] = c.pythia_seed, at, take, c.checksum
            at += take
        if at != n:
            raise GenampError(f"{out}: the chunks hold {at} of {n} events (a bug)")
        a = f.attrs
        a["objects"], a["components"], a["units"], a["layout"] = list(OBJECTS), list(COMPONENTS), "GeV", "ttbar"
        a["level"], a["seed"], a["events"], a["isr"], a["mpi"] = spec.level, spec.seed, n, spec.isr, spec.mpi
        a["process"], a["pythia_version"], a["genamp_version"] = PROCESS, pythia_version(), __version__
        a["sigma_pb"], a["sigma_err_pb"] = summary["sigma_pb"], summary["sigma_err_pb"]
        a["generated"], a["efficiency"] = summary["generated"], summary["efficiency"]
        for name, eff in summary["cut_efficiencies"].items():
            a[f"efficiency_{name}"] = eff
        a["cuts"] = json.dumps([
            {"name": name, "description": text, "passed": p, "efficiency": summary["cut_efficiencies"][name]}
            for (name, text), p in zip(CUTS if spec.level == "jet" else (), summary["passed"])
        ])  # fmt: skip
        a["selection"] = json.dumps(spec.selection)
        a["settings"] = json.dumps(spec.settings)
        a["seeds"] = "Random:seed of chunk k: pythia_seed(seed, k), from numpy SeedSequence(seed, spawn_key=(purpose, k))"
        a["chunk_seeds"] = np.array([c.pythia_seed for c in chunks], dtype=np.int64)
        a["chunk_events"], a["batch_events"] = spec.chunk_events, spec.batch_events
        a["format_version"], a["identity"], a["key"] = FORMAT_VERSION, spec.identity_json(), spec.key
    return summary


def read_sample(path: Path) -> dict[str, Any] | None:
    """A written sample's attributes, or ``None`` where the file is missing or not one."""
    try:
        with h5py.File(path, "r") as f:
            attrs = dict(f.attrs)
            if f["events"].shape != (int(attrs["events"]), 6, 4):
                return None
            return attrs
    except (OSError, KeyError, ValueError, TypeError):
        return None


def _sample_from_attrs(path: Path, attrs: dict[str, Any], **extra: Any) -> Sample:
    return Sample(
        path=path, events=int(attrs["events"]), generated=int(attrs["generated"]), efficiency=float(attrs["efficiency"]),
        cut_efficiencies={c["name"]: c["efficiency"] for c in json.loads(attrs["cuts"])},
        sigma_pb=float(attrs["sigma_pb"]), sigma_err_pb=float(attrs["sigma_err_pb"]), chunks=len(attrs["chunk_seeds"]), **extra,
    )  # fmt: skip


# ----------------------------------------------------------------------------- running chunks


_REPORT: Progress | None = None


def _pool_init(reports: Any) -> None:
    worker_init()
    global _REPORT
    _REPORT = lambda generated, selected: reports.put((generated, selected))  # noqa: E731


def _pool_chunk(spec: TtbarSpec, k: int, need: int | None, parts: str) -> Chunk:
    return run_chunk(spec, k, need, Path(parts), _REPORT)


class _Inline:
    """Chunks run in this process, one at a time."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.done = progress, []

    def submit(self, spec: TtbarSpec, k: int, need: int | None, parts: Path) -> None:
        self.done.append(run_chunk(spec, k, need, parts, self.progress))

    def wait(self) -> Chunk:
        return self.done.pop(0)

    def close(self) -> None:
        pass


class _Pool:
    """Chunks run in worker processes (``spawn``); their progress comes back through a queue."""

    def __init__(self, workers: int, progress: Progress | None) -> None:
        ctx = mp.get_context("spawn")
        self.reports = ctx.Queue()
        self.results: queue_module.SimpleQueue = queue_module.SimpleQueue()
        self.pool = ctx.Pool(workers, initializer=_pool_init, initargs=(self.reports,))
        self.progress = progress

    def submit(self, spec: TtbarSpec, k: int, need: int | None, parts: Path) -> None:
        self.pool.apply_async(_pool_chunk, (spec, k, need, str(parts)), callback=self.results.put, error_callback=self.results.put)

    def wait(self) -> Chunk:
        while True:
            with contextlib.suppress(queue_module.Empty):
                report = self.reports.get(timeout=0.1)
                if self.progress is not None:
                    self.progress(*report)
            with contextlib.suppress(queue_module.Empty):
                result = self.results.get_nowait()
                if isinstance(result, BaseException):
                    raise result
                return result

    def close(self) -> None:
        # finished chunks are on disk; running ones are killed (their temporaries removed next time)
        self.pool.terminate()
        self.pool.join()


class _Dask:
    """Chunks run on a Dask cluster's workers, which return their events; this process writes
    each chunk as it arrives (progress then counts whole chunks)."""

    def __init__(self, client: Any, progress: Progress | None) -> None:
        from distributed import as_completed

        self.client, self.progress = client, progress
        self.spec: TtbarSpec | None = None
        self.running = as_completed()

    def submit(self, spec: TtbarSpec, k: int, need: int | None, parts: Path) -> None:
        self.spec = spec
        self.running.add(self.client.submit(make_chunk, spec, k, need, parts, pure=False))

    def wait(self) -> Chunk:
        from genamp.cluster import result_of

        chunk, events = result_of(next(self.running))
        _write_chunk(chunk.path, self.spec, chunk, events)  # type: ignore[arg-type]
        if self.progress is not None:
            self.progress(int(chunk.generated[-1]), chunk.kept)
        return chunk

    def close(self) -> None:
        # finished chunks are on disk; running ones are cancelled
        self.client.cancel(list(self.running.futures))


def _too_rare(first: Chunk, n: int) -> str | None:
    s, g = first.kept, int(first.generated[-1])
    if s == 0 or g / s > MAX_GENERATED_PER_SELECTED:
        eff = f"{s / g:.3%}" if s else f"below 1/{g}"
        return (f"the jet-level selection kept {s} of the first {g} generated events (efficiency {eff}); "
                f"{n} events would need more than {MAX_GENERATED_PER_SELECTED} x {n} generated")  # fmt: skip
    return None


def generate(level: str, n: int, out: Path | str, *, seed: int = 1, isr: bool = True, mpi: bool | None = None,
             workers: int | None = 1, chunk_events: int | None = None, progress: Progress | None = None,
             note: Callable[[str], None] | None = None, reuse: Sequence[Path | str] = (),
             cluster: str | None = None) -> Sample:  # fmt: skip
    """Generate (or resume, or find already written) ``n`` top-pair events into ``out`` (HDF5).

    ``workers`` processes run the chunks (``None``: every core), or a Dask ``cluster``
    (``local:N``, ``tcp://HOST:PORT``: :mod:`genamp.cluster`) whose workers return the events
    to this process; the file is the same for any number and either. ``progress(generated, selected)`` is called with increments as sub-batches finish,
    ``note(text)`` with what is reused or redone. The whole chunks of a finished sample of the same
    settings, in ``out`` itself or in a file of ``reuse`` (another size), are taken rather than
    generated again (:func:`donate_chunks`).
    """
    spec = TtbarSpec.make(level, seed, isr, mpi, chunk_events)
    n = check_events(n)
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise GenampError(f"--workers: {workers} must be at least 1")
    require(level)
    out = Path(out)
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise GenampError(f"--out {out}: the events are written as HDF5; give a name ending in .h5")
    from genamp._files import prepare_output_file

    prepare_output_file(out)
    attrs = read_sample(out)
    if attrs is not None and attrs.get("identity") == spec.identity_json() and int(attrs["events"]) == n:
        return _sample_from_attrs(out, attrs, file_reused=True)
    note = note or (lambda text: None)
    if out.exists():
        note(f"{out} holds another sample (or none); it is replaced when this one is written")
    parts = parts_folder(out)
    parts.mkdir(parents=True, exist_ok=True)
    remove_temporaries(parts)
    for source in dict.fromkeys(Path(r) for r in (out, *reuse)):
        if source.exists() and (given := donate_chunks(source, spec, parts, n)):
            note(f"took {given} finished chunk(s) of the sample in {source} (the same settings) instead of generating them")
    if cluster is None:
        chunks = _run_chunks(spec, n, parts, workers, progress, note)
    else:
        from genamp.cluster import connect

        with connect(cluster) as client:
            workers = max(1, len(client.scheduler_info()["workers"]))
            chunks = _run_chunks(spec, n, parts, workers, progress, note, client)
    summary = _write_sample(out, spec, chunks, n)
    shutil.rmtree(parts, ignore_errors=True)
    return Sample(out, n, summary["generated"], summary["efficiency"], summary["cut_efficiencies"], summary["sigma_pb"],
                  summary["sigma_err_pb"], len(chunks), sum(c.reused for c in chunks))  # fmt: skip


def _run_chunks(spec: TtbarSpec, n: int, parts: Path, workers: int, progress: Progress | None,
                note: Callable[[str], None], client: Any = None) -> list[Chunk]:  # fmt: skip
    """Chunks 0, 1, ... until they hold ``n`` kept events; chunks on disk that verify are reused.

    At parton level every chunk's share of ``n`` is known from the start. At jet level a chunk
    started when all before it are finished knows how many events it must add and stops there;
    one started beside running chunks (a free worker's) runs in full, and more are started only
    while the events expected from the running ones (at the efficiency measured so far) fall
    short of ``n``.
    """
    full = spec.chunk_events
    parton_chunks = math.ceil(n / full)
    planned = parton_chunks if spec.level == "parton" else math.ceil(n / (full * _PRIOR_EFFICIENCY))
    size = min(workers, planned)
    if client is not None:
        runner: _Inline | _Pool | _Dask = _Dask(client, progress)
    else:
        runner = _Inline(progress) if size == 1 else _Pool(size, progress)
    finished: dict[int, Chunk] = {}
    running: dict[int, int | None] = {}  # chunk -> the events it stops at (None: its full length)
    next_k = 0

    def start_one(prefix_k: int, prefix: int) -> str:
        """Reuse or start chunk ``next_k``: 'reused', 'started', or 'wait' (not now)."""
        nonlocal next_k
        if spec.level == "parton":
            if next_k >= parton_chunks:
                return "wait"
            need: int | None = min(full, n - next_k * full)
        else:
            kept = sum(c.kept for c in finished.values())
            generated = sum(int(c.generated[-1]) for c in finished.values())
            eff = kept / generated if generated else _PRIOR_EFFICIENCY
            expected = kept + sum(full * eff if m is None else min(m, full * eff) for m in running.values())
            if running and expected >= n:
                return "wait"
            need = n - prefix if next_k == prefix_k and not running else None
        path = chunk_path(parts, next_k)
        try:
            chunk = read_chunk(path, spec, next_k)
        except DamagedChunk as exc:
            note(f"{path}: {exc}; it is generated again")
            path.unlink(missing_ok=True)
            chunk = None
        if chunk is not None and (chunk.complete or (need is not None and chunk.kept >= need)):
            finished[next_k] = chunk
            if progress is not None:
                progress(0, chunk.kept)
            next_k += 1
            return "reused"
        if chunk is not None and need is None:
            return "wait"  # a short chunk of an earlier run: judged when its turn comes
        runner.submit(spec, next_k, need, parts)
        running[next_k] = need
        next_k += 1
        return "started"

    try:
        while True:
            prefix_k = prefix = 0
            while prefix_k in finished and prefix < n:
                prefix += finished[prefix_k].kept
                prefix_k += 1
            if prefix >= n:
                return [finished[k] for k in range(prefix_k)]
            if spec.level == "jet" and 0 in finished:
                rare = _too_rare(finished[0], n)
                if rare is not None:
                    raise GenampError(rare)
            status = "started"
            while len(running) < size and status == "started":
                status = start_one(prefix_k, prefix)
            if status == "reused":
                continue
            chunk = runner.wait()
            running.pop(chunk.index)
            finished[chunk.index] = chunk
    finally:
        runner.close()
