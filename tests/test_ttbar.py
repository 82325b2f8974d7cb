"""Top-pair events from Pythia 8 (genamp.data.ttbar, genamp.data.cache, genamp data ttbar).

The physics checks use plain numpy on the file as written (h5py): the top and W candidate masses
at both levels, the recoil against ISR, the jet cuts, the cross-section across seeds. The
machinery checks: the same seed gives the same bytes for any number of workers, a stopped run
resumes without regenerating a finished chunk (even after kill -9), a damaged chunk is redone,
a wrong Pythia setting and every bad input are one clear line. Sizes are small (a few thousand
parton events, a few hundred jet events); GENAMP_FULL_TESTS=1 runs the statistical ones larger.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import size
from genamp.cli import main
from genamp.data import cache, ttbar
from genamp.errors import GenampError

needs_pythia = pytest.mark.skipif(importlib.util.find_spec("pythia8mc") is None, reason="pythia8mc is not installed")
needs_fastjet = pytest.mark.skipif(importlib.util.find_spec("fastjet") is None, reason="fastjet is not installed")

N_PARTON = size(4000, 40000)
N_JET = size(200, 2000)
SMALL_CHUNK = 1000  # parton events per chunk in the chunking tests: several chunks from a few thousand events


def read(path: Path) -> tuple[np.ndarray, dict]:
    with h5py.File(path, "r") as f:
        return f["events"][:], dict(f.attrs)


def mass(p: np.ndarray) -> np.ndarray:
    """Invariant mass of (..., 4) four-momenta (E, px, py, pz)."""
    m2 = p[..., 0] ** 2 - p[..., 1] ** 2 - p[..., 2] ** 2 - p[..., 3] ** 2
    return np.sqrt(np.maximum(m2, 0.0))


def eta_phi(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.arcsinh(p[..., 3] / np.hypot(p[..., 1], p[..., 2])), np.arctan2(p[..., 2], p[..., 1])


def cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def one_error(rc: int, out: str, err: str) -> str:
    assert rc == 2, err
    assert "Traceback" not in out + err
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ")
    return line


@pytest.fixture(scope="module")
def parton(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("parton") / "parton.h5"
    ttbar.generate("parton", N_PARTON, out, seed=1)
    return out


@pytest.fixture(scope="module")
def chunked(tmp_path_factory) -> Path:
    """3000 parton events in chunks of 1000, on one worker: the reference of the chunking tests."""
    out = tmp_path_factory.mktemp("chunked") / "chunked.h5"
    ttbar.generate("parton", 3 * SMALL_CHUNK, out, seed=5, chunk_events=SMALL_CHUNK, workers=1)
    return out


@pytest.fixture(scope="module")
def jets(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("jet") / "jet.h5"
    ttbar.generate("jet", N_JET, out, seed=3, mpi=False)
    return out


# ----------------------------------------------------------------------------- parton level


@needs_pythia
@pytest.mark.parametrize("level", ["parton", "jet"])
def test_a_generated_file_is_read_with_its_physics_observables(level, parton, jets):
    """What genamp data ttbar writes is what open_events, select and the volumes read: 24
    features, the top and W masses by name, peaked where the generated events put them."""
    from genamp.data.io import open_events
    from genamp.observables import select

    path = parton if level == "parton" else jets
    f = open_events(path)
    assert f.shape[1] == 24 and f.features[:4] == ("b_E", "b_px", "b_py", "b_pz") and f.layout.level == level
    t_m, w_m = select("t_m,Wp_m", 24, f.features)
    x = f.read()
    events, _ = read(path)
    np.testing.assert_array_equal(x, events.reshape(len(events), 24))
    low, high = ((170, 176), (78, 83)) if level == "parton" else ((130, 220), (60, 110))
    assert low[0] < np.median(t_m(x)) < low[1] and high[0] < np.median(w_m(x)) < high[1]



@needs_pythia
def test_parton_file_holds_the_contract(parton):
    events, attrs = read(parton)
    assert events.shape == (N_PARTON, 6, 4) and events.dtype == np.float64
    assert list(attrs["objects"]) == ["b", "q1", "q2", "bbar", "q3", "q4"]
    assert list(attrs["components"]) == ["E", "px", "py", "pz"]
    assert (attrs["units"], attrs["layout"], attrs["level"]) == ("GeV", "ttbar", "parton")
    assert (int(attrs["seed"]), int(attrs["events"]), bool(attrs["isr"]), bool(attrs["mpi"])) == (1, N_PARTON, True, False)
    assert attrs["pythia_version"] == "8.317.2" and attrs["genamp_version"]
    assert "t tbar" in attrs["process"] and float(attrs["efficiency"]) == 1.0 and json.loads(attrs["cuts"]) == []
    settings = json.loads(attrs["settings"])
    assert {"Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5",
            "PartonLevel:FSR = off", "PartonLevel:MPI = off", "HadronLevel:all = off"} <= set(settings)  # fmt: skip
    assert 0 < float(attrs["sigma_err_pb"]) < 0.05 * float(attrs["sigma_pb"])
    assert np.isfinite(events).all() and (events[..., 0] > 0).all()


@needs_pythia
def test_parton_masses_peak_at_the_top_and_w(parton):
    events, _ = read(parton)
    for top, w in ((slice(0, 3), slice(1, 3)), (slice(3, 6), slice(4, 6))):
        m_top = np.median(mass(events[:, top].sum(axis=1)))
        m_w = np.median(mass(events[:, w].sum(axis=1)))
        assert 172.5 < m_top < 173.5, m_top
        assert 80.0 < m_w < 80.8, m_w
    # the quarks are (nearly) massless, the b's carry their mass
    assert np.allclose(np.median(mass(events[:, [0, 3]])), 4.8, atol=0.2)


@needs_pythia
def test_isr_makes_the_tops_recoil(parton, tmp_path):
    """Without ISR (and so without primordial kT) the six quarks balance exactly in pT; with it
    the pair recoils by tens of GeV."""
    events, _ = read(parton)
    no_isr, attrs = read(ttbar.generate("parton", 1000, tmp_path / "no-isr.h5", isr=False).path)
    assert not attrs["isr"] and {"PartonLevel:ISR = off", "BeamRemnants:primordialKT = off"} <= set(json.loads(attrs["settings"]))
    recoil = np.median(np.hypot(*events[:, :, 1:3].sum(axis=1).T))
    balance = np.hypot(*no_isr[:, :, 1:3].sum(axis=1).T)
    # rounding of momenta of up to a few TeV in double precision: far below a GeV
    assert balance.max() < 1e-8 and recoil > 15.0, (balance.max(), recoil)


@needs_pythia
def test_cross_section_agrees_across_seeds(parton, tmp_path):
    _, a = read(parton)
    _, b = read(ttbar.generate("parton", N_PARTON, tmp_path / "seed2.h5", seed=2).path)
    diff = abs(float(a["sigma_pb"]) - float(b["sigma_pb"]))
    assert diff < 4 * np.hypot(float(a["sigma_err_pb"]), float(b["sigma_err_pb"]))
    assert list(a["chunk_seeds"]) != list(b["chunk_seeds"])


def test_chunk_seeds_are_pythia_seeds():
    seeds = {ttbar.pythia_seed(s, k) for s in range(20) for k in range(20)}
    assert len(seeds) == 400 and min(seeds) >= 1 and max(seeds) <= 900_000_000
    assert ttbar.pythia_seed(3, 7) == ttbar.pythia_seed(3, 7)


def test_cross_sections_combine_by_events():
    sigma, err = ttbar.combine_sigma(np.array([100.0, 110.0]), np.array([2.0, 4.0]), np.array([3000, 1000]))
    assert sigma == pytest.approx(102.5) and err == pytest.approx(np.hypot(0.75 * 2, 0.25 * 4))


# ----------------------------------------------------------------------------- chunks


@needs_pythia
def test_same_seed_same_bytes_for_any_workers(chunked, tmp_path):
    two = ttbar.generate("parton", 3 * SMALL_CHUNK, tmp_path / "two.h5", seed=5, chunk_events=SMALL_CHUNK, workers=2)
    (a, attrs_a), (b, attrs_b) = read(chunked), read(two.path)
    assert a.tobytes() == b.tobytes()
    assert {k: str(v) for k, v in attrs_a.items()} == {k: str(v) for k, v in attrs_b.items()}
    assert len(attrs_a["chunk_seeds"]) == 3
    assert not ttbar.parts_folder(two.path).exists()
    # a smaller sample is the first events of a larger one
    small, _ = read(ttbar.generate("parton", 1500, tmp_path / "small.h5", seed=5, chunk_events=SMALL_CHUNK).path)
    assert small.tobytes() == a[:1500].tobytes()


class _Stop:
    """A progress callback that interrupts a run after ``after`` generated events."""

    def __init__(self, after: int) -> None:
        self.after, self.generated = after, 0

    def __call__(self, generated: int, selected: int) -> None:
        self.generated += generated
        if self.generated > self.after:
            raise KeyboardInterrupt


@pytest.fixture
def count_chunks(monkeypatch) -> list[int]:
    """The chunks generated (not reused) in this process."""
    ran: list[int] = []
    real = ttbar.run_chunk

    def counted(spec, k, *args, **kwargs):
        ran.append(k)
        return real(spec, k, *args, **kwargs)

    monkeypatch.setattr(ttbar, "run_chunk", counted)
    return ran


def _interrupted(out: Path) -> Path:
    """A run stopped in its third chunk: chunks 0 and 1 are on disk, the file is not."""
    with pytest.raises(KeyboardInterrupt):
        ttbar.generate("parton", 3 * SMALL_CHUNK, out, seed=5, chunk_events=SMALL_CHUNK, progress=_Stop(2 * SMALL_CHUNK))
    parts = ttbar.parts_folder(out)
    assert sorted(p.name for p in parts.iterdir()) == ["chunk00000.h5", "chunk00001.h5"] and not out.exists()
    return parts


@needs_pythia
def test_a_stopped_run_resumes_without_redoing_a_chunk(chunked, tmp_path, count_chunks):
    out = tmp_path / "resumed.h5"
    _interrupted(out)
    del count_chunks[:]
    sample = ttbar.generate("parton", 3 * SMALL_CHUNK, out, seed=5, chunk_events=SMALL_CHUNK)
    assert count_chunks == [2] and sample.chunks_reused == 2
    assert read(out)[0].tobytes() == read(chunked)[0].tobytes()
    # the finished file is found again, not regenerated
    del count_chunks[:]
    assert ttbar.generate("parton", 3 * SMALL_CHUNK, out, seed=5, chunk_events=SMALL_CHUNK).file_reused
    assert count_chunks == []


@needs_pythia
def test_a_larger_sample_takes_the_whole_chunks_of_a_smaller_one(chunked, tmp_path, count_chunks):
    # 2500 events in chunks of 1000: chunks 0 and 1 whole, chunk 2 stopped at its first 500
    small = ttbar.generate("parton", 2500, tmp_path / "small.h5", seed=5, chunk_events=SMALL_CHUNK).path
    del count_chunks[:]
    notes: list[str] = []
    out = tmp_path / "large.h5"
    sample = ttbar.generate("parton", 3 * SMALL_CHUNK, out, seed=5, chunk_events=SMALL_CHUNK, reuse=[small], note=notes.append)
    assert count_chunks == [2] and sample.chunks_reused == 2
    assert any("took 2 finished chunk(s)" in line and str(small) in line for line in notes)
    (a, attrs_a), (b, attrs_b) = read(out), read(chunked)
    assert a.tobytes() == b.tobytes() and attrs_a["sigma_pb"] == attrs_b["sigma_pb"]
    # the file a sample replaces gives its chunks too; a changed event is not taken
    with h5py.File(out, "r+") as f:
        f["events"][1500, 0, 0] += 1.0  # inside chunk 1
    del count_chunks[:]
    sample = ttbar.generate("parton", 4 * SMALL_CHUNK, out, seed=5, chunk_events=SMALL_CHUNK)
    assert count_chunks == [1, 2, 3] and sample.chunks_reused == 1
    # another seed's sample gives nothing
    assert ttbar.donate_chunks(small, ttbar.TtbarSpec.make("parton", 6, chunk_events=SMALL_CHUNK), tmp_path / "p", 5000) == 0


@pytest.mark.parametrize("damage", ["flip", "truncate", "other-seed"])
@needs_pythia
def test_a_damaged_chunk_is_redone(chunked, tmp_path, count_chunks, damage):
    out = tmp_path / "damaged.h5"
    parts = _interrupted(out)
    first = parts / "chunk00000.h5"
    if damage == "flip":  # a value inside the events changes: the checksum catches it
        with h5py.File(first, "r+") as f:
            f["events"][3, 2, 1] += 1.0
    elif damage == "truncate":
        first.write_bytes(first.read_bytes()[:1000])
    else:  # a chunk of another sample in its place
        other = ttbar.run_chunk(ttbar.TtbarSpec.make("parton", 6, chunk_events=SMALL_CHUNK), 0, None, tmp_path)
        other.path.replace(first)
    del count_chunks[:]
    notes: list[str] = []
    ttbar.generate("parton", 3 * SMALL_CHUNK, out, seed=5, chunk_events=SMALL_CHUNK, note=notes.append)
    assert count_chunks == [0, 2]
    (line,) = notes
    assert "chunk00000.h5" in line and "generated again" in line
    assert read(out)[0].tobytes() == read(chunked)[0].tobytes()


@needs_pythia
def test_kill_9_then_resume(tmp_path):
    """A real kill -9 of the command in the middle of a run; the rerun reuses what was finished."""
    out = tmp_path / "killed.h5"
    args = [sys.executable, "-m", "genamp.cli", "data", "ttbar", "--level", "parton", "--events", str(8 * SMALL_CHUNK),
            "--chunk-events", str(SMALL_CHUNK), "-j", "1", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parts = ttbar.parts_folder(out)
    deadline = time.monotonic() + 120
    while len(list(parts.glob("chunk*.h5"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert not out.exists(), "the run finished before it was killed"
    kept = {p.name: p.stat().st_mtime_ns for p in parts.glob("chunk*.h5")}
    assert len(kept) >= 2
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"reused {len(kept)} of 8 chunk(s) already made" in again.stderr
    reference = ttbar.generate("parton", 8 * SMALL_CHUNK, tmp_path / "ref.h5", chunk_events=SMALL_CHUNK)
    assert read(out)[0].tobytes() == read(reference.path)[0].tobytes()


# ----------------------------------------------------------------------------- jet level


@needs_pythia
@needs_fastjet
def test_jet_file_reports_its_selection(jets):
    events, attrs = read(jets)
    assert events.shape == (N_JET, 6, 4) and attrs["level"] == "jet" and not attrs["mpi"]
    cuts = json.loads(attrs["cuts"])
    assert [c["name"] for c in cuts] == ["six_jets", "matched", "separated"]
    efficiency = float(attrs["efficiency"])
    assert 0 < efficiency < 1
    assert efficiency == pytest.approx(np.prod([c["efficiency"] for c in cuts]))
    assert all(0 < float(attrs[f"efficiency_{c['name']}"]) <= 1 for c in cuts)
    assert int(attrs["generated"]) >= N_JET / efficiency - ttbar.BATCH_EVENTS["jet"]
    assert json.loads(attrs["selection"])["R"] == 0.4


@needs_pythia
@needs_fastjet
def test_six_separated_jets_above_threshold(jets):
    events, _ = read(jets)
    assert (np.hypot(events[..., 1], events[..., 2]) > 22.0).all()
    eta, phi = eta_phi(events)
    i, j = np.triu_indices(6, 1)
    dphi = (phi[:, i] - phi[:, j] + np.pi) % (2 * np.pi) - np.pi
    assert (np.hypot(eta[:, i] - eta[:, j], dphi) > 0.5).all()


@needs_pythia
@needs_fastjet
def test_jet_masses_near_their_peaks(jets):
    """Loose: jets lose and gain energy (radiation out of the cone, neutrinos, underlying event)."""
    events, _ = read(jets)
    for top, w in ((slice(0, 3), slice(1, 3)), (slice(3, 6), slice(4, 6))):
        assert 60 < np.median(mass(events[:, w].sum(axis=1))) < 110
        assert 130 < np.median(mass(events[:, top].sum(axis=1))) < 220


@needs_pythia
@needs_fastjet
def test_jet_level_same_bytes_for_any_workers(tmp_path):
    """Chunks of two sub-batches: the last chunk stops where the sample is full on one worker,
    runs in full beside another on two; the file is the same."""
    one, two = (ttbar.generate("jet", 150, tmp_path / f"j{w}.h5", seed=4, mpi=False, chunk_events=400, workers=w)
                for w in (1, 2))  # fmt: skip
    (a, attrs_a), (b, attrs_b) = read(one.path), read(two.path)
    assert one.chunks > 1 and a.tobytes() == b.tobytes()
    assert {k: str(v) for k, v in attrs_a.items()} == {k: str(v) for k, v in attrs_b.items()}


def _jet(pt: float, eta: float, phi: float, m: float = 5.0) -> list[float]:
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return [np.sqrt(px**2 + py**2 + pz**2 + m**2), px, py, pz]


def test_jets_are_matched_by_least_total_delta_r():
    quarks = np.array([[_jet(50, e, p, 0.3) for e, p in [(0, 0), (1, 1), (-1, 2), (0.5, 3), (-0.5, 4), (1.5, 5)]]])
    # each quark's jet, shuffled and nudged, and a stray jet near the first quark but farther
    jets_ = [_jet(60, e + 0.05, p - 0.05) for e, p in [(1.5, 5), (0, 0), (-0.5, 4), (1, 1), (0.5, 3), (-1, 2)]]
    jets_.append(_jet(30, 0.2, 0.1))
    stage, chosen = ttbar.select_jets(quarks, np.array([jets_]), np.array([7]))
    assert stage.tolist() == [3] and chosen[0].tolist() == [1, 3, 5, 4, 2, 0]
    # five jets: the first cut; a quark with no jet in its cone: the second
    assert ttbar.select_jets(quarks, np.array([jets_[:5] + [[np.nan] * 4] * 2]), np.array([5]))[0].tolist() == [0]
    far = [*jets_[:3], _jet(60, 3.0, 1.0), *jets_[4:]]
    assert ttbar.select_jets(quarks, np.array([far]), np.array([7]))[0].tolist() == [1]
    # two quarks 0.45 apart, each with its jet: matched, but the jets are too close
    close = quarks.copy()
    close[0, 1] = _jet(50, 0.0, 0.45, 0.3)
    near = [_jet(60, e, p) for e, p in [(0, 0), (0, 0.45), (-1, 2), (0.5, 3), (-0.5, 4), (1.5, 5)]]
    assert ttbar.select_jets(close, np.array([near]), np.array([6]))[0].tolist() == [2]


@needs_pythia
@needs_fastjet
def test_a_selection_out_of_reach_is_one_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ttbar, "JET_PT_MIN", 5000.0)  # no event has six such jets
    with pytest.raises(GenampError, match=r"kept 0 of the first 200 generated events \(efficiency below 1/200\)"):
        ttbar.generate("jet", 50, tmp_path / "none.h5", mpi=False, chunk_events=200)
    line = one_error(*cli(capsys, "data", "ttbar", "--level", "jet", "--events", "50", "--no-mpi", "--chunk-events", "200",
                          "-j", "1", "--out", str(tmp_path / "none.h5")))  # fmt: skip
    assert "efficiency" in line and "more than 100 x 50 generated" in line


# ----------------------------------------------------------------------------- settings and errors


@needs_pythia
def test_a_wrong_setting_is_named():
    settings = ttbar.pythia_settings("parton", isr=True, mpi=False)
    with pytest.raises(GenampError, match=r"Pythia refused the setting 'Top:gg2ttbarr = on'"):
        ttbar.make_pythia([*settings[:4], "Top:gg2ttbarr = on"])
    # settings Pythia takes but cannot start from (no process switched on)
    with pytest.raises(GenampError, match=r"Pythia could not initialise with the settings Print:quiet = on"):
        ttbar.make_pythia(["Print:quiet = on"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--level", "quark", "--events", "10"], "--level: 'quark' is not a level"),
        (["--level", "parton", "--events", "0"], "--events: 0 must be a whole number >= 1"),
        (["--level", "parton", "--events", "10", "--mpi"], "--mpi: multi-parton interactions belong to the jet level"),
        (["--level", "parton", "--events", "10", "--seed", "-3"], "--seed: -3 must be a whole number >= 0"),
        (["--level", "parton", "--events", "10", "--chunk-events", "1500"], "--chunk-events: 1500 must be a positive multiple of 1000"),
        (["--level", "parton", "--events", "10", "--out", "events.txt"], "give a name ending in .h5"),
        (["--level", "parton", "--events", "10", "-j", "0"], "--workers: 0 must be at least 1"),
        (["--events", "10"], "Missing option '--level'.  (see genamp data ttbar --help)"),
        (["--level", "parton", "--events", "many"], "Invalid value for '--events'"),
    ],
)
def test_bad_input_is_one_line(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENAMP_CACHE", str(tmp_path / "cache"))
    assert message in one_error(*cli(capsys, "data", "ttbar", *args))
    assert not (tmp_path / "cache").exists()


def test_an_output_folder_is_refused(capsys, tmp_path):
    folder = tmp_path / "out.h5"
    folder.mkdir()
    assert "is a directory" in one_error(*cli(capsys, "data", "ttbar", "--level", "parton", "--events", "10", "--out", str(folder)))


@pytest.mark.parametrize("module, level, install", [("pythia8mc", "parton", "pip install pythia8mc==8.317.2"),
                                                    ("awkward", "parton", "pip install awkward"),
                                                    ("fastjet", "jet", "pip install fastjet")])  # fmt: skip
def test_a_missing_library_says_what_to_install(capsys, tmp_path, monkeypatch, module, level, install):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if it were not installed
    line = one_error(*cli(capsys, "data", "ttbar", "--level", level, "--events", "10", "--out", str(tmp_path / "x.h5")))
    assert line.endswith(install)
    # the rest of genamp works without it
    assert cli(capsys, "--help")[0] == 0
    assert cli(capsys, "data", "ttbar", "--help")[0] == 0


# ----------------------------------------------------------------------------- the cache


@needs_pythia
def test_the_cache_serves_a_sample_and_any_smaller_one(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GENAMP_CACHE", str(tmp_path / "cache"))
    rc, out, err = cli(capsys, "data", "ttbar", "--level", "parton", "--events", "1500", "--seed", "7", "-j", "1")
    assert rc == 0, err
    path = Path(out.strip())
    assert path.parent == tmp_path / "cache" / "ttbar" and path.is_file()
    assert "1500 parton-level events, sigma = " in err
    # the same request and a smaller one are served by the file; the smaller is its first rows
    rc, again, err = cli(capsys, "data", "ttbar", "--level", "parton", "--events", "1500", "--seed", "7")
    assert (rc, again) == (0, out) and "found in the cache" in err
    rc, smaller, err = cli(capsys, "data", "ttbar", "--level", "parton", "--events", "600", "--seed", "7")
    assert (rc, smaller) == (0, out) and "its first 600 are this sample (read events[:600])" in err
    assert cache.ttbar_events("parton", 600, seed=7) == path
    fresh = ttbar.generate("parton", 600, tmp_path / "fresh.h5", seed=7)
    assert read(fresh.path)[0].tobytes() == read(path)[0][:600].tobytes()
    # other settings are another sample; a larger request is generated
    assert cache.cached_ttbar(ttbar.TtbarSpec.make("parton", 7, isr=False), 10) is None
    assert cache.cached_ttbar(ttbar.TtbarSpec.make("parton", 7), 1501) is None


@needs_pythia
def test_the_cache_grows_a_sample_from_a_smaller_one(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GENAMP_CACHE", str(tmp_path / "cache"))
    args = ("data", "ttbar", "--level", "parton", "--seed", "8", "--chunk-events", str(SMALL_CHUNK), "-j", "1")
    rc, small, err = cli(capsys, *args, "--events", str(SMALL_CHUNK))
    assert rc == 0, err
    rc, large, err = cli(capsys, *args, "--events", str(2 * SMALL_CHUNK))
    assert rc == 0, err
    assert "took 1 finished chunk(s)" in err and "reused 1 of 2 chunk(s)" in err
    assert Path(small.strip()).is_file() and Path(large.strip()) != Path(small.strip())
    assert read(Path(large.strip()))[0][:SMALL_CHUNK].tobytes() == read(Path(small.strip()))[0].tobytes()


def test_the_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("GENAMP_CACHE", str(tmp_path))
    assert cache.cache_dir() == tmp_path
    assert cache.cache_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("GENAMP_CACHE")
    assert cache.cache_dir() == Path.home() / ".cache" / "genamp"
