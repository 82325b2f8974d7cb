"""The physics observables of top-pair events (the ttbar layout): against closed forms on
synthetic four-momenta, select() by name, the refusal of a constant observable, and genamp
estimate / run --pool on such files."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_valid_results
from genamp.cli import main
from genamp.data.io import open_events
from genamp.errors import GenampError
from genamp.observables import columns, select
from genamp.physics import objects_of, observables
from genamp.study.config import StudyConfig
from genamp.study.tasks import plan, volume_sets
from genamp.volumes import ObservableBins, count_occupancy
from synthetic_ttbar import FEATURES, OBJECTS, ttbar_events, write_ttbar


@pytest.fixture(scope="module")
def events():
    return ttbar_events(4000, 1)


def _values(names, x):
    flat = x.reshape(len(x), -1)
    return {o.name: o(flat) for o in select(names, flat.shape[1], FEATURES)}


def _p4(e, px, py, pz):
    return [e, px, py, pz]


# -- the observables against closed forms ---------------------------------------------------------


def test_masses_of_constructed_tops_and_ws_are_exact():
    x = ttbar_events(500, 2, width=0.0)
    v = _values("Wp_m,Wm_m,t_m,tbar_m,b_m,bbar_m,q1_m,q4_m", x)
    for name, m in (("Wp_m", 80.4), ("Wm_m", 80.4), ("t_m", 172.5), ("tbar_m", 172.5), ("b_m", 4.8), ("bbar_m", 4.8)):
        np.testing.assert_allclose(v[name], m, rtol=1e-9, err_msg=name)
    assert (v["q1_m"] == 0).all() and (v["q4_m"] == 0).all()  # massless: exactly 0, not float noise


def test_a_w_from_two_massless_quarks_and_the_kinematics_of_known_vectors():
    """W⁺ at rest decaying to two back-to-back massless quarks of 40.2 GeV: m = 80.4, pT = 0 for
    the W; the quarks have pT, η, φ as written; ΔR wraps around φ = ±π."""
    eta, phi = 0.7, 3.0
    pt = 40.2 / np.cosh(eta)
    q1 = _p4(40.2, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta))
    q2 = [q1[0], *(-np.array(q1[1:]))]
    b = _p4(13.0, 3.0, 4.0, 12.0)  # |p| = 13: massless, pT 5
    near_pi = [[10 * np.cosh(1.0), 10 * np.cos(a), 10 * np.sin(a), 10 * np.sinh(1.0)] for a in (np.pi - 0.1, -np.pi + 0.1)]
    x = np.array([[b, q1, q2, near_pi[0], near_pi[1], b]])
    v = _values("Wp_m,Wp_pt,q1_pt,q1_eta,q1_phi,q2_eta,b_pt,b_eta,b_phi,b_m,dR_bbar_q3,dR_q1_q2,bbar_phi,q3_phi", x)
    np.testing.assert_allclose(v["Wp_m"], 80.4, rtol=1e-12)
    assert v["Wp_pt"] == 0.0  # below the rounding of the quarks' momenta
    np.testing.assert_allclose([v["q1_pt"][0], v["q1_eta"][0], v["q1_phi"][0], v["q2_eta"][0]], [pt, eta, phi, -eta], rtol=1e-12)
    np.testing.assert_allclose([v["b_pt"][0], v["b_eta"][0], v["b_phi"][0]], [5.0, np.arcsinh(12 / 5), np.arctan2(4, 3)], rtol=1e-12)
    assert v["b_m"] == 0.0
    np.testing.assert_allclose(v["dR_bbar_q3"], 0.2, rtol=1e-9)  # Δφ = 2π − 0.2 wraps to 0.2
    np.testing.assert_allclose(v["dR_q1_q2"], np.hypot(2 * eta, np.pi), rtol=1e-12)  # back to back: Δφ = π
    np.testing.assert_allclose([v["bbar_phi"][0], v["q3_phi"][0]], [np.pi - 0.1, -np.pi + 0.1], rtol=1e-12)


def test_composites_are_the_sums_of_their_objects(events):
    flat = events.reshape(len(events), 24)
    v = _values("ttbar_m,ttbar_pt,t_pt,t_eta", events)
    total = events.sum(axis=1)
    np.testing.assert_allclose(v["ttbar_m"], np.sqrt(total[:, 0] ** 2 - (total[:, 1:] ** 2).sum(axis=1)), rtol=1e-9)
    np.testing.assert_allclose(v["ttbar_pt"], np.hypot(total[:, 1], total[:, 2]), rtol=1e-12)
    top = events[:, :3].sum(axis=1)
    np.testing.assert_allclose(v["t_pt"], np.hypot(top[:, 1], top[:, 2]), rtol=1e-12)
    np.testing.assert_allclose(v["t_eta"], np.arcsinh(top[:, 3] / np.hypot(top[:, 1], top[:, 2])), rtol=1e-9)
    obs = observables(FEATURES)
    assert obs["t_m"].reads == tuple(range(12)) and obs["dR_b_q4"].reads == (0, 1, 2, 3, 20, 21, 22, 23)
    assert len(obs) == (6 + 5) * 4 + 15 and not any(o.is_column for o in obs.values())
    # counted through the chunked machinery as numpy would
    bins = ObservableBins.from_quantiles([obs["t_m"], obs["dR_b_q1"]], flat[:1000], 5)
    expected = np.histogramdd(bins.values(flat), bins=bins.edges)[0].ravel()
    (occ,) = count_occupancy((flat[s : s + 999] for s in range(0, len(flat), 999)), [bins])
    np.testing.assert_allclose(occ.fractions[0] * len(flat), expected, rtol=1e-12)


# -- select() by name ------------------------------------------------------------------------------


def test_select_finds_physics_observables_by_name_and_keeps_columns():
    obs = select("t_m, b_E,x5,dR_q1_q2", 24, FEATURES)
    assert [o.name for o in obs] == ["t_m", "b_E", "q1_px", "dR_q1_q2"]
    assert [o.is_column for o in obs] == [False, True, True, False]
    assert objects_of(FEATURES) == OBJECTS and objects_of(("a", "b")) is None and objects_of(FEATURES[:-1]) is None
    with pytest.raises(GenampError) as err:
        select("t_mass", 24, FEATURES)
    message = str(err.value)
    assert message.startswith("no observable 't_mass'; the events have {o}_E") and "o = b, q1, q2, bbar, q3, q4" in message
    assert "t (b + q1 + q2)" in message and "did you mean t_m?" in message and "\n" not in message
    with pytest.raises(GenampError, match="names an observable twice"):
        select("t_m,t_m", 24, FEATURES)
    # other features have no physics names: the message is the columns', as before
    with pytest.raises(GenampError, match="no observable 't_m'; the events have a, b$"):
        select("t_m", 2, ("a", "b"))
    # objects other than a top pair's: their own observables, no composites
    jets = ("j1_E", "j1_px", "j1_py", "j1_pz", "j2_E", "j2_px", "j2_py", "j2_pz")
    assert [o.name for o in select("j1_pt,dR_j1_j2", 8, jets)] == ["j1_pt", "dR_j1_j2"]
    with pytest.raises(GenampError, match=r"o = j1, j2; dR_\{a\}_\{b\} for a before b"):
        select("t_m", 8, jets)


def test_a_constant_observable_is_refused_where_its_bins_are_built(events):
    flat = events.reshape(len(events), 24)
    obs = observables(FEATURES)
    for name, value in (("b_m", "4.8"), ("q2_m", "0")):
        with pytest.raises(GenampError, match=rf"observable {name} is constant \({value}\) in the training set: .* leave it out"):
            ObservableBins.from_quantiles([obs[name]], flat, 5, what="the training set")
    with pytest.raises(GenampError, match=r"observable x0 is constant \(1\) in reference events"):
        ObservableBins.from_quantiles(columns(1), np.ones((100, 1)), 5)  # a column: exactly constant
    balanced = ttbar_events(1000, 3, isr=False).reshape(1000, 24)  # no ISR: pT(tt̄) = 0 to rounding
    with pytest.raises(GenampError, match=r"observable ttbar_pt is constant \(0\)"):
        ObservableBins.from_quantiles([obs["ttbar_pt"]], balanced, 5)
    # flavour masses (0.33, 0.5 GeV) computed from momenta: a few values up to rounding, not noise to bin
    flavours = ttbar_events(2000, 4, quark_masses=(0.33, 0.5)).reshape(2000, 24)
    assert np.unique(obs["q1_m"](flavours)).size > 2  # rounding makes them differ
    with pytest.raises(GenampError, match="q1_m: its reference values have too few distinct values for 5 quantile bins"):
        ObservableBins.from_quantiles([obs["q1_m"]], flavours, 5)


# -- pool studies and genamp estimate ---------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ttbar")
    return {"pool": write_ttbar(d / "pool.h5", ttbar_events(20_000, 5)),
            "gen": write_ttbar(d / "gen.h5", ttbar_events(5000, 6, width=1.5)),
            "dir": d}  # fmt: skip


def test_a_pool_study_stores_derived_observables_by_name_and_columns_as_before(files):
    config = StudyConfig(pool=files["pool"], models=("sample",), repetitions=2, n_train=200, quantiles=(5,),
                         observables=("t_m", "b_E"), pairs=("Wp_m:b_px",))  # fmt: skip
    spec = plan(config)[0].spec
    assert [(v["observables"], v["columns"]) for v in spec["volumes"]] == [(["t_m"], [None]), (["b_E"], [0]), (["Wp_m", "b_px"], [None, 1])]
    bins = volume_sets(spec)
    assert [b.name for b in bins.values()] == ["t_m", "b_E", "Wp_m × b_px"] and bins[1].column == 0
    flat = open_events(files["pool"]).read()
    np.testing.assert_array_equal(bins[0].values(flat)[:, 0], observables(FEATURES)["t_m"](flat))


def test_estimate_against_a_ttbar_pool_per_physics_observable(capsys, files):
    out = files["dir"] / "r.json"
    args = ["estimate", "--pool", files["pool"], "-s", files["gen"], "--n-train", "1000", "-q", "5"]
    assert main([*args, "--observables", "t_m,Wp_m", "--out", str(out)]) == 0, capsys.readouterr().err
    records = assert_valid_results(out)["records"]
    assert [r["observable"] for r in records] == ["t_m", "Wp_m"]
    assert all(r["truth"] == "pool" and r["n_cells"] == 5 and r["n_equiv"] > 0 for r in records)
    capsys.readouterr()
    for extra, message in ((["--observables", "t_mass"], "no observable 't_mass'"),
                           (["--observables", "b_m"], "observable b_m is constant (4.8) in the pool"),
                           (["--pairs", "t_m:m_t"], "did you mean t_m?")):  # fmt: skip
        rc = main([*args, *extra])
        lines = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (extra, lines)


def test_run_against_a_ttbar_pool(capsys, files):
    out = files["dir"] / "study"
    rc = main(["run", "--pool", files["pool"], "-m", "sample", "--observables", "t_m,b_pt", "-r", "2", "-q", "5",
               "--n-train", "200", "-j", "1", "-o", str(out)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    records = assert_valid_results(out / "results.json")["records"]
    assert {r["observable"] for r in records} == {"t_m", "b_pt"} and all(r["repetitions"] == 2 for r in records)
