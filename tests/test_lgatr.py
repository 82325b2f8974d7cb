"""The L-GATr velocity field of ``lgatr-cfm``: its symmetry (rotations about the beam, to float32
precision) and what its reference multivectors break, its map from coordinates to four-momenta,
the Jacobian of its (η, φ) velocity, and a study with it; a missing package is one error."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest
import torch
from synthetic_ttbar import FEATURES, ttbar_events, write_ttbar
from test_cli import run_cli

from genamp.models.coordinates import make_coordinates
from genamp.models.lgatr import LGATrVelocity, ObjectLayout, eta_phi_velocity

needs_lgatr = pytest.mark.skipif(importlib.util.find_spec("lgatr") is None, reason="lgatr is not installed (genamp[lgatr])")

#: float32's unit roundoff: the symmetry holds to a small multiple of it (a few layers of sums)
EPS32 = float(torch.finfo(torch.float32).eps)


def _rotation_z(alpha: float) -> torch.Tensor:
    c, s = math.cos(alpha), math.sin(alpha)
    return torch.tensor([[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1]], dtype=torch.float64)


def _rotation_x(alpha: float) -> torch.Tensor:
    c, s = math.cos(alpha), math.sin(alpha)
    return torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, c, -s], [0, 0, s, c]], dtype=torch.float64)


def _boost_z(rapidity: float) -> torch.Tensor:
    c, s = math.cosh(rapidity), math.sinh(rapidity)
    return torch.tensor([[c, 0, 0, s], [0, 1, 0, 0], [0, 0, 1, 0], [s, 0, 0, c]], dtype=torch.float64)


def _velocity(seed: int = 0) -> tuple[LGATrVelocity, np.ndarray, object]:
    """A randomly initialised velocity field on synthetic top pairs' object coordinates, and 64 events."""
    events = ttbar_events(200, seed=seed)
    coords = make_coordinates("objects", FEATURES).fit(events)
    torch.manual_seed(seed)
    v = LGATrVelocity(ObjectLayout(coords), blocks=2, mv_channels=4, s_channels=8, heads=2, mlp_ratio=2, n_frequencies=4,
                      sparse_gp=False)  # fmt: skip
    with torch.no_grad():
        v.scale.copy_(torch.as_tensor(coords.scale_, dtype=torch.float32))
        v.shift.copy_(torch.as_tensor(coords.mean_, dtype=torch.float32))
        v.mass.copy_(torch.as_tensor(np.nan_to_num(coords.mass_, nan=0.0), dtype=torch.float32))
        v.unit.fill_(50.0)
    return v.eval(), events[:64], coords


def _transformed(p: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """``Λ p`` per object, computed in float64 and rounded once to float32."""
    return (p.double() @ lam.T).float()


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


@needs_lgatr
@pytest.mark.parametrize("alpha", [0.3, 2.0, -2.9])
def test_the_network_turns_its_vectors_with_a_rotation_about_the_beam_and_keeps_its_scalars(alpha):
    v, events, _ = _velocity()
    p = torch.as_tensor(events, dtype=torch.float32) / 50.0
    t = torch.full((p.shape[0], 1), 0.4)
    lam = _rotation_z(alpha)
    with torch.no_grad():
        w, s = v.equivariant(p, t)
        w_rot, s_rot = v.equivariant(_transformed(p, lam), t)
    assert _relative(w_rot, _transformed(w, lam)) < 100 * EPS32
    assert _relative(s_rot, s) < 100 * EPS32


@needs_lgatr
@pytest.mark.parametrize("name, lam", [("boost along the beam, y = 0.5", _boost_z(0.5)), ("rotation about x by 0.3", _rotation_x(0.3))])
def test_what_the_references_break_is_broken_and_only_by_them(name, lam):
    """A boost along z (broken by the time direction) and a rotation about a transverse axis (by
    the transverse plane) change the output by more than a thousand roundings of float32 (seed 0:
    by 2·10⁻² and 2·10⁻³ of its largest value, against 10⁻⁷ for a rotation about the beam); with
    the references zeroed the same network is equivariant under both within a thousand roundings
    (measured: 4·10⁻⁵ and 2·10⁻⁵; with nothing but the events' own vectors its normalisations
    divide by smaller Minkowski norms): the references break them, nothing else does."""
    v, events, _ = _velocity()
    p = torch.as_tensor(events, dtype=torch.float32) / 50.0
    t = torch.full((p.shape[0], 1), 0.7)
    with torch.no_grad():
        w, s = v.equivariant(p, t)
        w_lam, s_lam = v.equivariant(_transformed(p, lam), t)
        assert _relative(w_lam, _transformed(w, lam)) > 1000 * EPS32, name
        assert _relative(s_lam, s) > 1000 * EPS32, name
        v.spurions.zero_()
        w, s = v.equivariant(p, t)
        w_lam, s_lam = v.equivariant(_transformed(p, lam), t)
    assert _relative(w_lam, _transformed(w, lam)) < 1000 * EPS32, name
    assert _relative(s_lam, s) < 1000 * EPS32, name


@needs_lgatr
def test_the_velocity_in_coordinates_is_unchanged_by_a_turn_of_every_azimuth():
    """A rotation about the beam shifts every φ by α and leaves log pT, η, log m: the velocity
    field in the coordinates must be the same at both points (φ's velocity of a shift is the same)."""
    v, events, coords = _velocity()
    x = torch.as_tensor(coords.transform(events), dtype=torch.float32)
    phi = torch.as_tensor([f.endswith("_phi") for f in coords.feature_names_out_])
    t = torch.full((x.shape[0], 1), 0.5)
    with torch.no_grad():
        base = v(x, t)
        turned = v(torch.where(phi, x + 1.1, x), t)
    assert _relative(turned, base) < 1000 * EPS32


def test_the_eta_phi_velocity_is_the_jacobian_of_eta_and_phi():
    """Against autograd's Jacobian of ``η = asinh(pz / pT)`` and ``φ = atan2(py, px)`` in float64."""
    rng = np.random.default_rng(3)
    p = torch.as_tensor(rng.normal(size=(50, 4)) * 40, dtype=torch.float64)
    w = torch.as_tensor(rng.normal(size=(50, 4)), dtype=torch.float64)

    def eta_phi(q):
        pt = torch.hypot(q[:, 1], q[:, 2])
        return torch.stack([torch.asinh(q[:, 3] / pt), torch.atan2(q[:, 2], q[:, 1])], dim=1)

    _, jvp = torch.func.jvp(eta_phi, (p,), (w,))
    eta_dot, phi_dot = eta_phi_velocity(p, w)
    np.testing.assert_allclose(eta_dot.numpy(), jvp[:, 0].numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(phi_dot.numpy(), jvp[:, 1].numpy(), rtol=1e-10, atol=1e-12)


@needs_lgatr
def test_the_network_sees_the_four_momenta_the_coordinates_stand_for():
    """``momenta`` (float32, in units of ``unit``) is the coordinates' own inverse map, a constant
    mass put back as the constant."""
    v, events, coords = _velocity()
    x = torch.as_tensor(coords.transform(events), dtype=torch.float32)
    with torch.no_grad():
        p = v.momenta(x).double().numpy() * 50.0
    np.testing.assert_allclose(p, coords.inverse_transform(coords.transform(events)), rtol=2e-5, atol=2e-4)


@needs_lgatr
def test_a_pool_study_runs_lgatr_cfm_in_object_coordinates_with_every_method(capsys, tmp_path):
    """Bootstrap members of the L-GATr flow on a pool of top pairs: truth, averaging and
    differential records as the MLP's, events that come back as four-momenta; a second run
    resumes every task."""
    pool = write_ttbar(tmp_path / "pool.h5", ttbar_events(20_000, seed=3))
    args = ["run", "--pool", pool, "--coordinates", "objects", "-m", "lgatr-cfm", "--method", "truth,averaging,differential",
            "-K", "2", "-r", "2", "--n-train", "300", "--observables", "t_m,Wp_m,b_eta", "-q", "5", "--n-gen", "300,600",
            "--set", "lgatr-cfm.steps=10", "--set", "lgatr-cfm.ode_steps=2", "--set", "lgatr-cfm.probes=1",
            "--set", "lgatr-cfm.mv_channels=2", "--set", "lgatr-cfm.s_channels=4", "-j", "1", "--out", str(tmp_path / "s")]  # fmt: skip
    rc, out, err = run_cli(capsys, *args)
    assert rc == 0, err
    results = json.loads((tmp_path / "s" / "results.json").read_text())
    methods = {(r["model"], r["method"]) for r in results["records"]}
    assert methods == {("lgatr-cfm", m) for m in ("truth", "averaging", "differential")}
    truth = [r for r in results["records"] if r["method"] == "truth" and r["observable"] == "t_m"]
    assert len(truth) == 1 and truth[0]["n_failed"] == 0 and truth[0]["G"] > 0
    assert results["config"]["settings"]["lgatr-cfm"]["steps"] == 10
    rc, out, err = run_cli(capsys, *args)
    assert rc == 0 and "resumed: 2 finished task(s)" in err


@pytest.mark.parametrize("extra, message", [
    (["--coordinates", "decay"], "lgatr-cfm trains in the objects coordinates: give --coordinates objects (the study's are decay)"),
    ([], "lgatr-cfm trains in the objects coordinates: give --coordinates objects (the study has none"),
])  # fmt: skip
def test_lgatr_cfm_in_other_coordinates_is_one_error(capsys, tmp_path, extra, message):
    pool = write_ttbar(tmp_path / "pool.h5", ttbar_events(5000, seed=3))
    rc, out, err = run_cli(capsys, "run", "--pool", pool, "-m", "lgatr-cfm", "-r", "2", "--n-train", "100", *extra,
                           "--out", str(tmp_path / "s"))  # fmt: skip
    assert rc == 2 and "Traceback" not in err
    (line,) = [x for x in err.strip().splitlines() if not x.startswith("note:")]
    assert line.startswith("error: ") and message in line
    assert not (tmp_path / "s" / "results.json").exists()


def test_a_missing_lgatr_package_is_one_error_that_says_what_to_install(capsys, tmp_path, monkeypatch):
    """Without the package (hidden from the import system here) the study stops before any work;
    so does building the model from Python."""
    from genamp.errors import GenampError
    from genamp.models.registry import MODEL_REGISTRY

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lgatr" else real(name, *a))
    pool = write_ttbar(tmp_path / "pool.h5", ttbar_events(5000, seed=3))
    rc, out, err = run_cli(capsys, "run", "--pool", pool, "--coordinates", "objects", "-m", "lgatr-cfm", "-r", "2",
                           "--n-train", "100", "--out", str(tmp_path / "s"))  # fmt: skip
    assert rc == 2 and "Traceback" not in err
    (line,) = [x for x in err.strip().splitlines() if not x.startswith("note:")]
    assert line == ("error: lgatr-cfm needs the lgatr package, which is not installed: "
                    "pip install -c constraints.txt 'genamp[lgatr]' (or pip install lgatr)")  # fmt: skip
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())
    with pytest.raises(GenampError, match="needs the lgatr package"):
        MODEL_REGISTRY["lgatr-cfm"].build(None)


@needs_lgatr
def test_the_generated_events_are_invariant_under_rotations_about_the_beam():
    """The base density is uniform in every azimuth and the velocity is periodic and equivariant,
    so the generated density is invariant under rotations about the beam, trained or not: each
    object's φ is uniform, by the Kolmogorov–Smirnov test at p > 10⁻³ on 2000 events. The MLP's
    Gaussian base, wrapped, is not (p < 10⁻³ on the same events): the test tells them apart."""
    from scipy import stats

    from genamp.models.cfm import FlowMatching
    from genamp.models.lgatr import LGATrFlowMatching

    events = ttbar_events(400, seed=5)
    coords = make_coordinates("objects", FEATURES).fit(events)
    x = coords.transform(events)
    small = {"steps": 20, "ode_steps": 2, "batch_size": 64}
    lgatr = LGATrFlowMatching(blocks=1, mv_channels=2, s_channels=4, heads=1, mlp_ratio=1, **small).with_coordinates(coords)
    mlp = FlowMatching(hidden=(16,), **small)
    uniform = stats.uniform(-np.pi, 2 * np.pi).cdf
    for model, invariant in ((lgatr, True), (mlp, False)):
        generated = coords.inverse_transform(model.fit(x, 1).sample(2000, 2))
        phi = np.arctan2(generated[..., 2], generated[..., 1])  # (2000, 6)
        p = [stats.kstest(phi[:, i], uniform).pvalue for i in range(phi.shape[1])]
        assert (min(p) > 1e-3) if invariant else (max(p) < 1e-3), (type(model).__name__, p)
