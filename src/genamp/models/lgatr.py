"""Flow matching with a Lorentz-equivariant velocity field (L-GATr; docs/formulas.md §8.8).

The velocity of conditional flow matching (:mod:`genamp.models.cfm`) is an L-GATr network
(Spinner et al. 2024, arXiv:2405.14806; Brehmer et al. 2024, *A Lorentz-equivariant transformer
for all of the LHC*, arXiv:2411.00446, §4 and its ``GATrCFM`` velocity) over the ``k`` objects of
an event, as the paper *Forecasting Generative Amplification* uses for its event generators.

The flow runs in the objects' coordinates ``u = (log pT, η, φ[, log m])`` per object
(:class:`genamp.data.coordinates.PhysicsCoordinates`, the study's ``--coordinates objects``),
standardised. At every point ``x_t`` of a path the network sees the four-momenta those
coordinates stand for:

1. ``p_i = (E, pT cos φ, pT sin φ, pT sinh η)`` with ``E² = |p|² + m²`` per object (a constant
   mass where the coordinates dropped it), divided by one momentum unit (the training set's
   geometric mean pT: a scale commutes with every Lorentz transformation);
2. each ``p_i`` embedded as the vector grade of a multivector (one token per object), with two
   reference multivectors as extra channels of every token, as arXiv:2411.00446 for its top-pair
   generator (``beam_reference: xyplane``, ``add_time_reference: true``): the bivector of the
   plane transverse to the beam, ``e_x ∧ e_y``, and the time direction ``(1, 0, 0, 0)``;
   scalar channels: the object's one-hot type and the time embedding of :class:`TimeEmbedding`;
3. the output per token: a vector ``w_i`` (the velocity of ``p_i``) and two scalars. The velocity
   of ``η`` and ``φ`` is ``w_i`` carried into the coordinates by the Jacobian (:func:`eta_phi_velocity`),

       φ̇ = (p_x w_y − p_y w_x) / pT²,    η̇ = (w_z − p_z ṗT / pT) / |p|,   ṗT = (p_x w_x + p_y w_y) / pT,

   and the velocity of ``log pT`` and ``log m`` are the two scalars (the paper's ``scalar_dims``:
   a log's Jacobian ``1/pT`` would make them large where pT is small).

**The azimuths on their circle.** As arXiv:2411.00446's generator, the base density is uniform
in every φ (normal in the other coordinates) and a path takes the shorter arc of φ's circle,
wrapped onto it: the velocity depends on φ only through ``cos φ`` and ``sin φ``, so the flow is a
map of the cylinder, and with a base density and velocity both invariant under rotations about
the beam, so is the density of the generated events (tested: each object's φ is uniform, as a
Gaussian base in φ, wrapped, is not).

**Symmetry.** L-GATr is equivariant under the proper orthochronous Lorentz group SO⁺(1,3)
(the package's ``subgroup`` default: it mixes scalars with pseudoscalars, so no reflection is a
symmetry of it). The references leave of that the rotations about the beam axis: ``e_x ∧ e_y``
is left alone by rotations about z and by boosts along z, the time direction by rotations only.
So a rotation ``R_z(α)`` of every object turns every output vector by ``R_z(α)`` and leaves the
scalars, and so the whole velocity in the coordinates (``φ ↦ φ + α`` is a shift), unchanged;
a boost along the beam or a rotation about a transverse axis changes the output otherwise
(tests/test_lgatr.py measures both). The beam symmetry is what the process has; a Lorentz
symmetry the process does not have (boosts: the partons' momenta are not those of the beams)
is broken, as it must be (a density cannot be invariant under a non-compact group).

The ``lgatr`` package is an optional extra, ``pip install -c constraints.txt 'genamp[lgatr]'``:
this module imports it only when a network is built (:func:`require_lgatr`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from genamp.errors import GenampError
from genamp.models.base import Limits
from genamp.models.cfm import CFM_LIMITS, FlowMatching, TimeEmbedding, ode_log_prob, rk4, standard_normal_log_prob
from genamp.models.neural import DTYPE, STOPPING_LIMITS, MemberStreams, Stacked

__all__ = ["LGATR_GPU", "LGATrFlowMatching", "LGATrVelocity", "ObjectLayout", "eta_phi_velocity", "require_lgatr"]

#: the full setting, for a GPU: arXiv:2411.00446's top-pair generator (6 blocks, 16 multivector
#: and 32 scalar channels, 8 heads, batches of 2048); ``--set lgatr-cfm.KEY=VALUE`` for each
LGATR_GPU: dict[str, Any] = {"blocks": 6, "mv_channels": 16, "s_channels": 32, "heads": 8, "mlp_ratio": 4,
                             "batch_size": 2048, "lr": 1e-3}  # fmt: skip


def require_lgatr() -> None:
    """Nothing where the ``lgatr`` package can be imported; else one error saying what to install."""
    from genamp.models.registry import check_requirement

    check_requirement("lgatr-cfm")


def eta_phi_velocity(p: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """``(η̇, φ̇)`` of momenta ``p`` (..., 4) moving with velocity ``w`` (..., 4), both ``(E, px, py, pz)``.

    The Jacobian of ``η = asinh(p_z / pT)`` and ``φ = atan2(p_y, p_x)`` applied to ``w``: with
    ``ṗT = (p_x w_x + p_y w_y) / pT``, ``φ̇ = (p_x w_y − p_y w_x) / pT²`` and
    ``η̇ = (w_z − p_z ṗT / pT) / |p|``. Neither depends on ``E`` or its velocity.
    """
    px, py, pz = p[..., 1], p[..., 2], p[..., 3]
    wx, wy, wz = w[..., 1], w[..., 2], w[..., 3]
    pt2 = px.square() + py.square()
    pt = pt2.sqrt()
    pt_dot = (px * wx + py * wy) / pt
    eta_dot = (wz - pz * pt_dot / pt) / (pt2 + pz.square()).sqrt()
    phi_dot = (px * wy - py * wx) / pt2
    return eta_dot, phi_dot


class ObjectLayout:
    """Where each object's ``log pT``, ``η``, ``φ`` and ``log m`` are among the coordinates' features.

    Read from a fitted :class:`~genamp.data.coordinates.PhysicsCoordinates`' feature names
    (``{object}_log_pt``, ``_eta``, ``_phi``, ``_log_m``): ``columns`` (k, 4) holds the feature
    index of each, ``-1`` for a mass the coordinates dropped as constant (it is ``mass[i]``).
    """

    def __init__(self, coords: Any) -> None:
        names = getattr(coords, "feature_names_out_", None)
        if names is None or not hasattr(coords, "mass_"):
            raise GenampError(
                "lgatr-cfm reads the objects' four-momenta from the objects coordinates (log pT, eta, phi, log m per "
                f"object); got {type(coords).__name__} (a study: --coordinates objects)"
            )
        names = list(names)
        objects = [f.removesuffix("_log_pt") for f in names if f.endswith("_log_pt")]
        self.n_objects = len(objects)
        self.columns = np.array(
            [[names.index(f"{o}_{c}") if f"{o}_{c}" in names else -1 for c in ("log_pt", "eta", "phi", "log_m")] for o in objects],
            dtype=np.int64,
        )  # fmt: skip
        self.dim = len(names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectLayout) and np.array_equal(self.columns, other.columns)

    __hash__ = None  # type: ignore[assignment]


class LGATrVelocity(nn.Module):
    """``v(x, t)`` in standardised object coordinates, from an L-GATr over the objects' four-momenta.

    ``x`` (n, dim) are the coordinates as the flow sees them, ``u = x · scale + shift`` their
    unscaled values (``scale`` and ``shift`` (dim,) are buffers: the member's own standardisation
    composed with the coordinates'); ``mass`` (k,) the constant masses (0 where a mass is a
    coordinate) and ``unit`` the momentum unit, also buffers, filled by :class:`LGATrFlowMatching`.
    """

    #: the members run one after the other (:class:`~genamp.models.neural.Stacked`): torch has no
    #: batching rule for the CPU's attention kernel, and vmap ran 1.5× slower than a loop
    members_in_turn = True

    def __init__(
        self, layout: ObjectLayout, blocks: int, mv_channels: int, s_channels: int, heads: int, mlp_ratio: int,
        n_frequencies: int, sparse_gp: bool,
    ) -> None:  # fmt: skip
        super().__init__()
        require_lgatr()
        from lgatr import LGATr, get_spurions

        self.layout = layout
        self.time = TimeEmbedding(n_frequencies)
        spurions = get_spurions(beam_spurion="xyplane", add_time_spurion=True, dtype=DTYPE)
        self.register_buffer("spurions", spurions)  # (2, 16): e_x ∧ e_y and (1, 0, 0, 0)
        self.register_buffer("columns", torch.as_tensor(layout.columns))
        self.register_buffer("scale", torch.ones(layout.dim, dtype=DTYPE))
        self.register_buffer("shift", torch.zeros(layout.dim, dtype=DTYPE))
        self.register_buffer("mass", torch.zeros(layout.n_objects, dtype=DTYPE))
        self.register_buffer("unit", torch.ones((), dtype=DTYPE))
        k = layout.n_objects
        self.net = LGATr(
            num_blocks=blocks, in_mv_channels=1 + spurions.shape[0], out_mv_channels=1, hidden_mv_channels=mv_channels,
            in_s_channels=k + self.time.n_out, out_s_channels=2, hidden_s_channels=s_channels,
            attention={"num_heads": heads}, mlp={"mlp_ratio": mlp_ratio}, primitives={"sparse_gp": sparse_gp},
        )  # fmt: skip

    def momenta(self, x: Tensor) -> Tensor:
        """The four-momenta (n, k, 4) of coordinates ``x`` (n, dim), in units of ``unit``."""
        u = x * self.scale + self.shift
        c = self.columns
        log_pt, eta, phi = u[:, c[:, 0]], u[:, c[:, 1]], u[:, c[:, 2]]
        kept = c[:, 3] >= 0
        log_m = u[:, c[:, 3].clamp_min(0)]
        m = torch.where(kept, log_m.exp(), self.mass)
        pt = (log_pt - self.unit.log()).exp()
        px, py, pz = pt * phi.cos(), pt * phi.sin(), pt * eta.sinh()
        m = m / self.unit
        e = (px.square() + py.square() + pz.square() + m.square()).sqrt()
        return torch.stack([e, px, py, pz], dim=-1)

    def tokens(self, p: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """The network's input: multivectors (n, k, 1 + references, 16) and scalars (n, k, k + time)."""
        from lgatr import embed_vector

        n, k = p.shape[:2]
        mv = torch.cat([embed_vector(p).unsqueeze(-2), self.spurions.expand(n, k, -1, -1)], dim=-2)
        types = torch.eye(k, dtype=p.dtype, device=p.device).expand(n, k, k)
        s = torch.cat([types, self.time(t).unsqueeze(1).expand(n, k, -1)], dim=-1)
        return mv, s

    def equivariant(self, p: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """The network on four-momenta ``p`` (n, k, 4): output vectors (n, k, 4) and scalars (n, k, 2)."""
        from lgatr import extract_vector

        mv, s = self.net(*self.tokens(p, t))
        return extract_vector(mv[..., 0, :]), s

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """``v(x, t)`` (n, dim) for ``x`` (n, dim) and ``t`` (n, 1)."""
        p = self.momenta(x)
        w, s = self.equivariant(p, t)
        eta_dot, phi_dot = eta_phi_velocity(p, w)
        c = self.columns
        v = torch.empty_like(x)
        v[:, c[:, 0]] = s[..., 0]
        v[:, c[:, 1]] = eta_dot / self.scale[c[:, 1]]
        v[:, c[:, 2]] = phi_dot / self.scale[c[:, 2]]
        kept = c[:, 3] >= 0
        if bool(kept.any()):
            v[:, c[kept, 3]] = s[:, kept, 1]
        return v


#: where the L-GATr's settings make sense
LGATR_LIMITS: dict[str, Limits] = {
    **{k: v for k, v in CFM_LIMITS.items() if k != "hidden"}, **STOPPING_LIMITS, "steps": Limits(0),
    "blocks": Limits(1), "mv_channels": Limits(1), "s_channels": Limits(1), "heads": Limits(1), "mlp_ratio": Limits(1),
    "sparse_gp": Limits(0, 1),
}  # fmt: skip


class LGATrFlowMatching(FlowMatching):
    """Conditional flow matching of top-pair (any ``k``-object) events with an L-GATr velocity field.

    Trains in the objects coordinates: give their fitted map, one per member or one for all,
    with :meth:`with_coordinates` before :meth:`fit` (a study does with ``--coordinates objects``)::

        coords = PhysicsCoordinates().fit(train)                    # train (n, k, 4)
        model = LGATrFlowMatching(steps=2000).with_coordinates(coords).fit(coords.transform(train), seed)
        events = coords.inverse_transform(model.sample(10_000, seed))

    Parameters
    ----------
    blocks, mv_channels, s_channels, heads, mlp_ratio:
        The L-GATr: transformer blocks, hidden multivector and scalar channels, attention heads,
        and the width of its geometric MLP over its channels. The default is small enough for a
        CPU (15 000 weights); :data:`LGATR_GPU` is the paper's, for ``--device cuda``.
    sparse_gp:
        The geometric product by the package's gather-and-reduce kernel (its advice for compiled
        models) instead of the dense one, which was 1.5–2× faster uncompiled on two CPU cores
        (training step and forward pass of the default size): the default.
    steps, lr, batch_size, ode_steps, n_frequencies, epochs, patience, probes, device:
        As for :class:`~genamp.models.cfm.FlowMatching`; ``probes`` = 0, the exact divergence of
        the likelihood, takes one backward pass per coordinate.
    """

    name = "lgatr-cfm"
    limits: ClassVar[dict[str, Limits]] = LGATR_LIMITS

    def __init__(
        self,
        blocks: int = 2,
        mv_channels: int = 4,
        s_channels: int = 16,
        heads: int = 2,
        mlp_ratio: int = 2,
        sparse_gp: bool = False,
        steps: int = 0,
        lr: float = 1e-3,
        batch_size: int = 256,
        ode_steps: int = 16,
        n_frequencies: int = 4,
        epochs: float = 100.0,
        patience: int = 0,
        probes: int = 0,
        device: str | None = None,
    ) -> None:
        super().__init__(steps=steps, lr=lr, batch_size=batch_size, ode_steps=ode_steps, n_frequencies=n_frequencies,
                         epochs=epochs, patience=patience, probes=probes, device=device)  # fmt: skip
        del self.hidden  # the MLP's setting: no MLP here
        self.blocks = blocks
        self.mv_channels = mv_channels
        self.s_channels = s_channels
        self.heads = heads
        self.mlp_ratio = mlp_ratio
        self.sparse_gp = sparse_gp
        self._coordinates: list[Any] | None = None

    def with_coordinates(self, coordinates: Any | Sequence[Any]) -> LGATrFlowMatching:
        """The fitted objects coordinates the members' training sets are in: one map for every
        member, or one per member (a study: its repetitions' maps, each for its K members)."""
        maps = list(coordinates) if isinstance(coordinates, (list, tuple)) else [coordinates]
        layouts = [ObjectLayout(c) for c in maps]
        if any(lay != layouts[0] for lay in layouts):
            raise GenampError("lgatr-cfm: the members' coordinates have different features (objects or kept masses)")
        self._coordinates = maps
        self._layout = layouts[0]
        return self

    def _build(self, dim: int, streams: MemberStreams) -> None:
        if self._coordinates is None:
            raise GenampError(
                "lgatr-cfm reads four-momenta from the objects coordinates: call with_coordinates(coords) before "
                "fitting or loading (a study: --coordinates objects)"
            )
        if self._layout.dim != dim:
            raise GenampError(f"lgatr-cfm: the coordinates have {self._layout.dim} features, the training set {dim}")
        settings = (self.blocks, self.mv_channels, self.s_channels, self.heads, self.mlp_ratio, self.n_frequencies, self.sparse_gp)
        self.net = Stacked.build(lambda: LGATrVelocity(self._layout, *settings), streams.init_seeds(), self.device)
        if self._mean is not None and self._mean.shape[0] == len(streams):
            self._fill_maps(len(streams))  # training: each member's map; a loaded state brings its own

    def _fill_maps(self, k: int) -> None:
        """Each member's ``scale``, ``shift``, ``mass`` and ``unit`` from its coordinates and standardisation."""
        maps = self._coordinates if len(self._coordinates) == k else self._coordinates * k
        if len(maps) != k:
            raise GenampError(f"lgatr-cfm: {len(self._coordinates)} coordinate maps for {k} members")
        b = self.net.buffers
        with torch.no_grad():
            for m, coords in enumerate(maps):
                scale = torch.as_tensor(coords.scale_, dtype=DTYPE, device=self.device)
                mean = torch.as_tensor(coords.mean_, dtype=DTYPE, device=self.device)
                b["scale"][m] = self._std[m] * scale
                b["shift"][m] = self._mean[m] * scale + mean
                b["mass"][m] = torch.as_tensor(np.nan_to_num(coords.mass_, nan=0.0), dtype=DTYPE)
                log_pt = mean[torch.as_tensor(self._layout.columns[:, 0])]
                b["unit"][m] = log_pt.mean().exp()  # the geometric mean pT of the training set

    # ---- the azimuths live on a circle -------------------------------------------------------
    def _azimuths(self) -> tuple[Tensor, Tensor, Tensor]:
        """The φ columns (k,), and per member (K, k) where each φ's circle begins in the flow's
        coordinates and its period: ``u = x · scale + shift`` runs over (−π, π] for ``x`` from
        ``(−π − shift)/scale`` over one period ``2π/scale``."""
        cols = torch.as_tensor(self._layout.columns[:, 2], device=self.device)
        scale, shift = self.net.buffers["scale"][:, cols], self.net.buffers["shift"][:, cols]
        return cols, (-math.pi - shift) / scale, 2 * math.pi / scale

    def _base_noise(self, streams: MemberStreams, n: int, dim: int) -> Tensor:
        """A standard normal in every coordinate but the azimuths, which are uniform on their circle."""
        cols, low, period = self._azimuths()
        x0 = streams.normal(n, dim)
        (u,) = streams.uniform((n, cols.numel()))
        x0[:, :, cols] = low[:, None] + u * period[:, None]
        return x0

    def _path(self, x0: Tensor, x1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Straight paths, the azimuths' along the shorter arc of their circle and wrapped onto it."""
        cols, low, period = self._azimuths()
        step = x1 - x0
        p = period[:, None]
        step[..., cols] = step[..., cols] - p * torch.round(step[..., cols] / p)
        xt = x0 + t * step
        xt[..., cols] = low[:, None] + torch.remainder(xt[..., cols] - low[:, None], p)
        return xt, step

    def _sample_member(self, k: int, n: int, generator: torch.Generator) -> Tensor:
        cols, low, period = self._azimuths()
        x0 = torch.randn(n, self.dim, generator=generator, dtype=DTYPE)
        u = torch.rand(n, cols.numel(), generator=generator, dtype=DTYPE)
        x0 = x0.to(self.device)
        x0[:, cols] = low[k] + u.to(self.device) * period[k]
        return rk4(self._velocity(k), x0, 0.0, 1.0, self.ode_steps)

    def _log_prob_member(self, k: int, z: Tensor) -> Tensor:
        """The base density is normal in all but the azimuths and ``1/period`` in each of them (the
        velocity is periodic in them: where the path back ends on the circle does not matter).
        The divergence exact by autograd, one backward pass per coordinate (or Hutchinson's)."""
        cols, _, period = self._azimuths()
        rest = torch.ones(self.dim, dtype=torch.bool, device=self.device)
        rest[cols] = False
        log_period = float(period[k].log().sum())

        def log_base(x0: Tensor) -> Tensor:
            return standard_normal_log_prob(x0[:, rest]) - log_period

        return ode_log_prob(self._velocity(k), z, self.ode_steps, self.probes, log_base=log_base)
