"""Decay coordinates of top pairs (genamp.data.decay): an exact inverse, the beam symmetry, the
balance built in, flavours as dequantised categories, near-normal features where the decays are
isotropic, and every generated point a valid event; and a study whose networks train in them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from genamp.data.decay import DecayCoordinates, two_body_momentum
from genamp.errors import GenampError
from synthetic_ttbar import FEATURES, ttbar_events, write_ttbar


def _relative_error(a, b):
    return float((np.abs(a - b).max(axis=(1, 2)) / np.abs(b).max(axis=(1, 2))).max())


def _turned(p, angle):
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    out = p.copy()
    out[..., 1], out[..., 2] = c * p[..., 1] - s * p[..., 2], s * p[..., 1] + c * p[..., 2]
    return out


@pytest.fixture(scope="module")
def parton():
    """ISR, light quarks of two flavours' masses (a category each), b quarks of a fixed mass."""
    return ttbar_events(20000, 1, quark_masses=(0.33, 1.5))


@pytest.mark.parametrize("kind", ["isr", "balanced", "jets"])
def test_the_inverse_is_exact(parton, kind):
    events = {"isr": parton, "balanced": ttbar_events(5000, 2, isr=False)}.get(kind)
    if kind == "jets":  # every mass varies, as a jet's does
        m = np.random.default_rng(2).uniform(2.0, 20.0, parton.shape[:2])
        events = parton.copy()
        events[..., 0] = np.sqrt((parton[..., 1:] ** 2).sum(axis=-1) + m**2)
    coords = DecayCoordinates().fit(events)
    z = coords.transform(events, seed=3)
    assert np.isfinite(z).all() and z.shape[1] == len(coords.feature_names_out_)
    assert ("tt_log_pt" in coords.feature_names_out_) is (kind != "balanced") and coords.balanced_ is (kind == "balanced")
    back = coords.inverse_transform(z, phi=coords.angle(events))
    assert _relative_error(back, events) < 1e-10
    # flattened pool rows are the same events
    assert np.array_equal(coords.transform(events.reshape(len(events), 24), seed=3), z)


def test_a_massless_jet_is_a_jet_at_the_mass_floor(parton):
    """A jet of one massless particle (mass 0 among varying masses, seen in a Pythia jet sample)
    takes the floor, 10⁻³ of the median mass: the map stays finite and every other event exact."""
    m = np.random.default_rng(2).uniform(2.0, 20.0, parton.shape[:2])
    m[17, 4] = 0.0
    events = parton.copy()
    events[..., 0] = np.sqrt((parton[..., 1:] ** 2).sum(axis=-1) + m**2)
    coords = DecayCoordinates().fit(events)
    kind, floor = coords.masses_["q3"]
    assert kind == "log" and floor == pytest.approx(1e-3 * np.median(m[:, 4]), rel=1e-3)  # the masses as E² − p² gives them
    z = coords.transform(events, seed=3)
    assert np.isfinite(z).all()
    back = coords.inverse_transform(z, phi=coords.angle(events))
    others = np.arange(len(events)) != 17
    assert _relative_error(back[others], events[others]) < 1e-10
    q3 = back[17, 4]
    assert np.sqrt(q3[0] ** 2 - (q3[1:] ** 2).sum()) == pytest.approx(floor, rel=1e-4)


def test_an_event_turned_about_the_beam_has_the_same_coordinates(parton):
    coords = DecayCoordinates().fit(parton)
    angle = np.random.default_rng(4).uniform(-np.pi, np.pi, len(parton))
    assert np.abs(coords.transform(_turned(parton, angle), seed=5) - coords.transform(parton, seed=5)).max() < 1e-8


def test_isotropic_decays_and_flavours_become_unit_normals(parton):
    """The synthetic decays are isotropic: each angle's coordinate is N(0, 1), as is each
    dequantised flavour; the KS distance stays below the Kolmogorov law's 99.9% point."""
    coords = DecayCoordinates().fit(parton)
    z = coords.transform(parton, seed=6)
    names = coords.feature_names_out_
    normal = [f for f in names if f.endswith(("_cos", "_phi")) and f != "tt_phi" or f in ("q1_m", "q2_m", "q3_m", "q4_m")]
    assert len(normal) == 12
    bound = stats.kstwobign.ppf(0.999) / np.sqrt(len(z))
    for f in normal:
        assert stats.kstest(z[:, names.index(f)], "norm").statistic < bound, f


def test_flavours_come_back_in_their_shares(parton):
    coords = DecayCoordinates().fit(parton)
    assert coords.masses_["q1"][0] == "discrete" and coords.masses_["b"][0] == "constant"
    gen = coords.inverse_transform(np.random.default_rng(7).standard_normal((20000, len(coords.feature_names_out_))), seed=8)
    m = np.sqrt(np.clip(gen[..., 0] ** 2 - (gen[..., 1:] ** 2).sum(axis=-1), 0, None))
    share = np.mean(np.abs(m[:, 1] - 1.5) < 1e-6)
    expected = coords.masses_["q1"][2][1]
    assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / 20000)  # binomial
    assert np.allclose(m[:, 0], 4.8, rtol=1e-9) and np.isin(np.round(m[:, 1:3], 6), [0.33, 1.5]).all()


def test_any_point_is_a_valid_event_and_a_balanced_training_set_generates_balanced_events():
    events = ttbar_events(5000, 9, isr=False, width=2.0)
    coords = DecayCoordinates().fit(events)
    z = 2 * np.random.default_rng(10).standard_normal((5000, len(coords.feature_names_out_)))
    gen = coords.inverse_transform(z, seed=11)
    assert np.isfinite(gen).all()
    assert (gen[..., 0] >= np.sqrt((gen[..., 1:] ** 2).sum(axis=-1)) * (1 - 1e-12)).all()
    pt_sum = np.hypot(gen[..., 1].sum(axis=1), gen[..., 2].sum(axis=1))
    assert (pt_sum < 1e-8 * gen[..., 0].sum(axis=1)).all()
    # the thresholds hold: each W at least its quarks' masses, each top its W and b
    w = gen[:, 1] + gen[:, 2]
    assert (w[:, 0] ** 2 - (w[:, 1:] ** 2).sum(axis=1) >= -1e-6 * w[:, 0] ** 2).all()
    # a top at its threshold (the lightest top, the heaviest W of wide peaks): the W at rest in its frame
    wide = DecayCoordinates().fit(ttbar_events(2000, 9, isr=False, width=12.0))
    edge = np.zeros((1, len(wide.feature_names_out_)))
    edge[0, [wide.feature_names_out_.index("t_m"), wide.feature_names_out_.index("Wp_m")]] = -40.0, 40.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        at_rest = wide.inverse_transform(edge, seed=12)
    t, w = at_rest[0, :3].sum(axis=0), at_rest[0, 1:3].sum(axis=0)
    assert np.isfinite(at_rest).all() and np.sqrt(t[0] ** 2 - (t[1:] ** 2).sum()) == pytest.approx(
        np.sqrt(w[0] ** 2 - (w[1:] ** 2).sum()) + 4.8, rel=1e-9)
    # generated angles about the beam are uniform
    phi = np.arctan2(gen[:, 0, 2] + gen[:, 1, 2] + gen[:, 2, 2], gen[:, 0, 1] + gen[:, 1, 1] + gen[:, 2, 1])
    assert stats.kstest(phi, "uniform", args=(-np.pi, 2 * np.pi)).statistic < stats.kstwobign.ppf(0.999) / np.sqrt(5000)


def test_two_body_momentum_is_the_closed_form():
    # W → two massless quarks: p* = m/2; t → W b: λ^{1/2}/2m by hand
    assert two_body_momentum(np.array([80.0]), np.array([0.0]), np.array([0.0]))[0] == pytest.approx(40.0)
    m, a, b = 172.5, 80.4, 4.8
    by_hand = np.sqrt((m**2 - (a + b) ** 2) * (m**2 - (a - b) ** 2)) / (2 * m)
    assert two_body_momentum(np.array([m]), np.array([a]), np.array([b]))[0] == pytest.approx(by_hand, rel=1e-14)
    assert two_body_momentum(np.array([80.0]), np.array([50.0]), np.array([40.0]))[0] == 0.0  # below threshold


def test_bad_input_is_one_clear_error(parton):
    coords = DecayCoordinates()
    with pytest.raises(GenampError, match="fit it on a training set first"):
        coords.transform(parton)
    with pytest.raises(GenampError, match=r"take top-pair events of shape \(events, 6, 4\)"):
        coords.fit(parton[:, :5])
    coords.fit(parton)
    other = ttbar_events(100, 12, quark_masses=(0.5,))
    with pytest.raises(GenampError, match=r"q1's mass takes the values \[0.33, 1.5\] in the training set, but not in 100"):
        coords.transform(other)
    with pytest.raises(GenampError, match="give the events' angles about the beam"):
        coords.inverse_transform(np.zeros((2, len(coords.feature_names_out_))))
    with pytest.raises(GenampError, match="t_m is the same for every training event"):
        DecayCoordinates().fit(ttbar_events(100, 13, width=0.0))


@pytest.mark.parametrize("coordinates", ["decay", "objects"])
def test_a_pool_study_trains_its_networks_in_coordinates_and_counts_four_momenta(tmp_path, coordinates):
    from genamp.study.config import StudyConfig
    from genamp.study.runner import run_study
    from genamp.study.tasks import plan

    pool = write_ttbar(tmp_path / "pool.h5", ttbar_events(20000, 14, isr=False))
    cfg = StudyConfig(pool=pool, observables=("t_m", "Wp_m", "b_pt"), pairs=("Wp_m:t_m",), models=("sample", "cfm"),
                      methods=("truth",), quantiles=(5,), n_train=500, repetitions=2, n_gen=(500, 2000),
                      settings={"cfm": {"steps": 30}}, coordinates=coordinates)  # fmt: skip
    tasks = plan(cfg)
    assert {t.model: t.spec.get("coordinates") for t in tasks} == {"sample": None, "cfm": coordinates}
    result = run_study(cfg, tmp_path / "study", workers=1, plots=False)
    cfm = [r for r in result.records if r["model"] == "cfm"]
    assert {r["observable"] for r in cfm} == {"t_m", "Wp_m", "b_pt", "Wp_m × t_m"}
    assert all(r["G"] is not None or r["n_equiv_lower"] is not None for r in cfm)
    preview = np.load(tasks[1].path(tmp_path / "study"))["preview"].reshape(-1, 6, 4)
    if coordinates == "decay":  # generated events balance in pT as the training set does
        assert (np.hypot(preview[..., 1].sum(1), preview[..., 2].sum(1)) < 1e-8 * preview[..., 0].sum(1)).all()
    # the sample's key does not depend on the coordinates: it trains nothing
    plain = StudyConfig(pool=pool, observables=("t_m", "Wp_m", "b_pt"), pairs=("Wp_m:t_m",), models=("sample", "cfm"),
                        quantiles=(5,), n_train=500, repetitions=2, n_gen=(500, 2000), settings={"cfm": {"steps": 30}})  # fmt: skip
    assert plan(plain)[0].key == [t for t in tasks if t.model == "sample"][0].key


@pytest.mark.parametrize("fields, message", [
    ({"density": "ring", "coordinates": "decay"}, "--coordinates applies to a pool of top-pair events"),
    ({"coordinates": "polar"}, "unknown coordinates 'polar'; choose from decay, objects"),
    ({"coordinates": "decay", "models": ("sample",)}, "what the networks train in; sample have none"),
])  # fmt: skip
def test_coordinates_the_study_cannot_use_are_one_error(tmp_path, fields, message):
    from genamp.study.config import StudyConfig

    if "density" not in fields:
        fields = {"pool": write_ttbar(tmp_path / "pool.h5", ttbar_events(2000, 15)), "n_train": 100, "repetitions": 2,
                  "quantiles": (5,), **fields}  # fmt: skip
    with pytest.raises(GenampError, match=message):
        StudyConfig(**fields)


def test_the_decay_coordinates_need_a_top_pair(tmp_path):
    from genamp.study.config import StudyConfig

    path = tmp_path / "other.npy"
    np.save(path, np.random.default_rng(0).normal(size=(2000, 24)))
    with pytest.raises(GenampError, match="the decay coordinates take the four-momenta of a top pair"):
        StudyConfig(pool=str(path), models=("cfm",), n_train=100, repetitions=2, quantiles=(5,), coordinates="decay")
    assert len(FEATURES) == 24


def test_generated_events_are_forward_backward_symmetric_whatever_the_network_learned(parton):
    """Half of the generated events are turned by π about a transverse axis (the beams swapped):
    a network whose tops all go forward still gives as many backward, within the binomial's 4σ;
    the rotation keeps every mass and the balance, and the exact inverse (given angles) flips none."""
    coords = DecayCoordinates().fit(parton)
    z = np.zeros((20000, len(coords.feature_names_out_)))
    z[:, coords.feature_names_out_.index("t_y")] = 3.0  # every top far forward
    gen = coords.inverse_transform(z, seed=13)
    t = gen[:, :3].sum(axis=1)
    forward = int((t[:, 3] > 0).sum())
    assert abs(forward - 10000) < 4 * np.sqrt(20000 * 0.25)
    m = lambda p: np.sqrt(p[..., 0] ** 2 - (p[..., 1:] ** 2).sum(axis=-1))  # noqa: E731
    assert np.allclose(m(t), m(coords.inverse_transform(z[:1], phi=np.zeros(1))[:, :3].sum(axis=1))[0], rtol=1e-9)
    assert (coords.inverse_transform(z[:100], phi=np.zeros(100))[:, :3].sum(axis=1)[:, 3] > 0).all()
