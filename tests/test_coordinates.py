"""Physics coordinates (log pT, η, φ, log m) per object: fitted on a training set, constant masses
dropped and put back, standardised with φ left periodic; the inverse is exact, and any point of
the transformed space (a generator's output) is a valid four-momentum the observables read."""

from __future__ import annotations

import numpy as np
import pytest

from genamp.data.coordinates import PhysicsCoordinates, wrap_phi
from genamp.errors import GenampError
from genamp.observables import select
from genamp.volumes import ObservableBins
from synthetic_ttbar import FEATURES, OBJECTS, ttbar_events


@pytest.fixture(scope="module")
def parton():
    return ttbar_events(5000, 1)


@pytest.fixture(scope="module")
def jets(parton):
    """Parton momenta given masses of 2–20 GeV, as jets have: every mass varies."""
    m = np.random.default_rng(2).uniform(2.0, 20.0, parton.shape[:2])
    out = parton.copy()
    out[..., 0] = np.sqrt((parton[..., 1:] ** 2).sum(axis=-1) + m**2)
    return out


def _relative_error(a, b):
    """|a − b| per component, relative to the object's energy."""
    return float((np.abs(a - b) / b[..., :1]).max())


def test_parton_level_drops_the_fixed_masses_and_comes_back_exactly(parton):
    coords = PhysicsCoordinates(objects=OBJECTS).fit(parton)
    np.testing.assert_allclose(coords.mass_, [4.8, 0, 0, 4.8, 0, 0], rtol=1e-9)
    assert coords.feature_names_out_[:4] == ("b_log_pt", "b_eta", "b_phi", "q1_log_pt") and len(coords.feature_names_out_) == 18
    z = coords.transform(parton)
    assert z.shape == (5000, 18)
    back = coords.inverse_transform(z)
    assert back.shape == parton.shape and _relative_error(back, parton) < 1e-12


def test_jet_level_keeps_every_mass_standardised_and_phi_periodic(jets):
    coords = PhysicsCoordinates().fit(jets)
    assert np.isnan(coords.mass_).all() and len(coords.feature_names_out_) == 24 and coords.feature_names_out_[3] == "o0_log_m"
    z = coords.transform(jets)
    phi = np.array([n.endswith("_phi") for n in coords.feature_names_out_])
    np.testing.assert_allclose(z[:, ~phi].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z[:, ~phi].std(axis=0), 1.0, rtol=1e-12)
    assert (coords.mean_[phi] == 0).all() and (coords.scale_[phi] == 1).all()
    assert (np.abs(z[:, phi]) <= np.pi).all()
    np.testing.assert_allclose(z[:, 3], (np.log(np.sqrt(jets[:, 0, 0] ** 2 - (jets[:, 0, 1:] ** 2).sum(1))) - coords.mean_[3]) / coords.scale_[3], rtol=1e-6, atol=1e-9)
    assert _relative_error(coords.inverse_transform(z), jets) < 1e-12
    # φ is an angle: shifted by whole turns, the same momenta come back
    turned = z.copy()
    turned[:, phi] += 2 * np.pi * np.random.default_rng(3).integers(-3, 4, size=turned[:, phi].shape)
    assert _relative_error(coords.inverse_transform(turned), jets) < 1e-12
    unscaled = PhysicsCoordinates(standardise=False).fit(jets)
    np.testing.assert_allclose(unscaled.transform(jets)[:, 0], np.log(np.hypot(jets[:, 0, 1], jets[:, 0, 2])), rtol=1e-12)


def test_wrap_phi_is_into_minus_pi_to_pi():
    np.testing.assert_allclose(wrap_phi(np.array([np.pi, -np.pi, 1.5 * np.pi, -1.5 * np.pi, 0.3, 7 * np.pi])),
                               [np.pi, np.pi, -0.5 * np.pi, 0.5 * np.pi, 0.3, np.pi], atol=1e-12)  # fmt: skip


def test_generated_points_are_valid_four_momenta_the_observables_read(parton, jets):
    """Random numbers in the transformed space, wider than the training set: E ≥ |p| for every
    object, fixed masses put back, and the physics observables finite on them."""
    for train in (parton, jets):
        coords = PhysicsCoordinates(objects=OBJECTS).fit(train)
        z = 2.0 * np.random.default_rng(4).standard_normal((3000, coords.mean_.size))
        gen = coords.inverse_transform(z)
        assert gen.shape == (3000, 6, 4) and np.isfinite(gen).all()
        assert (gen[..., 0] >= np.sqrt((gen[..., 1:] ** 2).sum(axis=-1))).all()
        flat, train_flat = gen.reshape(3000, 24), train.reshape(len(train), 24)
        obs = select("t_m,Wp_m,ttbar_pt,dR_b_q1,q1_eta", 24, FEATURES)
        for o in obs:
            assert np.isfinite(o(flat)).all(), o.name
        bins = ObservableBins.from_quantiles(obs[:2], train_flat, 5)
        assert bins.count(flat).sum() == 3000
        if train is parton:
            b_m, q1_m = select("b_m,q1_m", 24, FEATURES)
            # m² = E² − |p|² to the rounding of E² (boosted far out, a mass is known only so well)
            assert (np.abs(b_m(flat) ** 2 - 4.8**2) <= 1e-14 * gen[:, 0, 0] ** 2 + 1e-9).all()
            assert (q1_m(flat) == 0).all()


def test_bad_input_is_one_clear_error(parton, jets):
    coords = PhysicsCoordinates(objects=OBJECTS)
    with pytest.raises(GenampError, match="fit it on a training set first"):
        coords.transform(parton)
    with pytest.raises(GenampError, match=r"expected four-momenta of shape \(events, objects, 4\)"):
        coords.fit(parton.reshape(5000, 24))
    with pytest.raises(GenampError, match="2 object names given for events of 6 objects"):
        PhysicsCoordinates(objects=("b", "q1")).fit(parton)
    coords.fit(parton)
    with pytest.raises(GenampError, match=r"b's mass was 4.8 for every training event, but differs in 5000 of these 5000"):
        coords.transform(jets)
    with pytest.raises(GenampError, match=r"coordinates of shape \(events, 18\) expected"):
        coords.inverse_transform(np.zeros((3, 24)))
    with pytest.raises(GenampError, match="1 of 3 events have NaN or inf coordinates"):
        coords.inverse_transform(np.array([[0.0] * 17 + [np.nan], [0.0] * 18, [1.0] * 18]))
    some_massless = jets.copy()
    some_massless[:10, 1, 0] = np.sqrt((some_massless[:10, 1, 1:] ** 2).sum(axis=-1))
    with pytest.raises(GenampError, match=r"q1's mass is 0 or less in 10 of 5000 events; its log is undefined"):
        PhysicsCoordinates(objects=OBJECTS).fit(some_massless)
    nan = parton.copy()
    nan[7, 2, 3] = np.nan
    with pytest.raises(GenampError, match="the training set: 1 of 5000 events contain NaN or inf"):
        PhysicsCoordinates().fit(nan)
