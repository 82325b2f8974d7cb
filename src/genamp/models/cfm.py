"""Conditional flow matching (Lipman et al. 2022, arXiv:2210.02747; docs/formulas.md §5).

Straight paths ``x_t = (1 − t) z + t x`` from a standard normal ``z`` (t = 0) to a data point
``x`` (t = 1). An MLP velocity field ``v(x_t, t)`` is regressed on the path's velocity
``x − z``; its flow carries the Gaussian onto the data. Sampling solves ``dx/dt = v`` from
t = 0 to 1 with fixed-step RK4. The likelihood follows from the instantaneous change of
variables, ``d log p(x_t)/dt = −∇·v``: integrating ``(x_t, ∫∇·v)`` back from a data point to
t = 0 gives ``log p(x) = log N(x_0) − ∫_0^1 ∇·v dt``, with the divergence as the exact trace of
the Jacobian (one backward pass per dimension: cheap in the few dimensions of the toys) or, with
``probes`` > 0, Hutchinson's estimator ``∇·v ≈ (1/P) Σ_p ε_pᵀ (∂v/∂x) ε_p`` with ``P`` Rademacher
vectors held fixed along the solve (Grathwohl et al. 2018, FFJORD, arXiv:1810.01367, Eq. 7):
one backward pass per probe, unbiased for ``log p`` but with a noise of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from genamp.models.base import Limits
from genamp.models.neural import (
    DTYPE,
    MLP,
    NETWORK_LIMITS,
    STOPPING_LIMITS,
    LossMonitor,
    MemberStreams,
    Stacked,
    Vectorised,
    WithLikelihood,
    minibatches,
    minimise,
)

#: a velocity field as the ODE solver sees it: ``v(x, t)`` with ``x`` (n, dim) and a scalar time
Velocity = Callable[[Tensor, float], Tensor]

#: a velocity field with its exact divergence: ``(v(x, t), ∇·v(x, t))`` for ``x`` (n, dim)
VelocityDivergence = Callable[[Tensor, float], tuple[Tensor, Tensor]]


class TimeEmbedding(nn.Module):
    """``t`` and fixed Fourier features ``sin/cos(2^j π t)``, j < n_frequencies."""

    def __init__(self, n_frequencies: int = 4) -> None:
        super().__init__()
        self.register_buffer("frequencies", math.pi * 2.0 ** torch.arange(n_frequencies, dtype=DTYPE))

    @property
    def n_out(self) -> int:
        return 1 + 2 * self.frequencies.shape[0]

    def forward(self, t: Tensor) -> Tensor:
        ft = t * self.frequencies
        return torch.cat([t, torch.sin(ft), torch.cos(ft)], dim=-1)


class VelocityField(nn.Module):
    """``v(x, t)``: an MLP on the point and an embedding of the time."""

    def __init__(self, dim: int, hidden: Sequence[int], n_frequencies: int = 4) -> None:
        super().__init__()
        self.time = TimeEmbedding(n_frequencies)
        self.net = MLP(dim + self.time.n_out, dim, hidden, nn.SiLU)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """``x`` (..., dim), ``t`` (..., 1)."""
        return self.net(torch.cat([x, self.time(t)], dim=-1))

    def stacked(self, params: dict[str, Tensor], x: Tensor, t: Tensor) -> Tensor:
        """Every member at once (:meth:`~genamp.models.neural.MLP.stacked`): ``x`` (K, n, dim),
        ``t`` (K, n, 1); the time embedding has no weights, the same for every member."""
        return self.net.stacked(params, torch.cat([x, self.time(t)], dim=-1), prefix="net.")

    def with_divergence(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """``v(x, t)`` and its exact divergence ``∇_x·v`` (n,) in one pass (:func:`jacobian_trace`)."""
        return jacobian_trace(self.net, torch.cat([x, self.time(t)], dim=-1), x.shape[-1])


#: events per block of :func:`jacobian_trace`'s tangents on a CPU: a block's (events, dim, width)
#: tangents stay in a core's cache (measured on two cores, 2000 events, 17 dimensions, 3×128:
#: blocks of 64–256 events ran 1.7–1.8× faster than autograd's columns, the 2000 events in one
#: block 1.2× slower, bound by memory)
TRACE_BLOCK = 128


def jacobian_trace(net: MLP, h: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """``net(h)`` and the trace of its Jacobian with respect to the first ``dim`` inputs, exact.

    For ``v = W_L σ(… σ(W_1 h + b_1) …) + b_L`` the Jacobian is ``W_L D_{L−1} W_{L−1} … D_1 W_1``
    with ``D_l = diag σ'(a_l)`` at the layer's pre-activation ``a_l``. Forward mode carries the
    ``dim`` tangent columns ``T_l = D_l W_l T_{l−1}`` (``T_0`` the first ``dim`` unit vectors),
    and the trace is ``Σ_i (W_L T_{L−1})_{ii}``: the same ``dim`` matrix products per layer as
    ``dim`` backward passes, but as one product of ``dim``·events rows a layer, without
    autograd's graph or its activation derivatives recomputed ``dim`` times. The tangents go in
    blocks of :data:`TRACE_BLOCK` events. The activation must be SiLU,
    ``σ'(a) = s (1 + a (1 − s))`` with ``s`` the logistic function; the network takes no dropout.
    """
    if not isinstance(net.act, nn.SiLU):
        raise TypeError(f"jacobian_trace knows the derivative of SiLU, not of {type(net.act).__name__}")
    if net.out.out_features != dim:
        raise ValueError(f"the trace needs as many outputs as inputs differentiated: {net.out.out_features} and {dim}")
    slopes = []
    for layer in net.hidden:
        a = layer(h)
        h = net.act(a)  # the forward's own kernel: v is the network's output to the bit
        s = torch.sigmoid(a)
        slopes.append(s * (1 + a * (1 - s)))
    out = net.out(h)
    first = net.hidden[0].weight[:, :dim].T.contiguous()  # (dim, width): the unit tangents through W_1
    later = [layer.weight.T for layer in net.hidden[1:]]
    last = net.out.weight.reshape(-1)
    trace = torch.empty(h.shape[0], dtype=h.dtype, device=h.device)
    block = TRACE_BLOCK if h.device.type == "cpu" else h.shape[0]  # a GPU takes them all at once
    for start in range(0, h.shape[0], block):
        rows = slice(start, start + block)
        tangents = first * slopes[0][rows, None, :]  # (events, dim, width)
        for weight, slope in zip(later, slopes[1:], strict=True):
            m = tangents.shape[0]
            tangents = (tangents.reshape(m * dim, -1) @ weight).reshape(m, dim, -1).mul_(slope[rows, None, :])
        trace[rows] = tangents.reshape(tangents.shape[0], -1) @ last  # Σ_i Σ_h W_L[i, h] T[i, h]
    return out, trace


def straight_path(x0: Tensor, x1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """The point ``x_t = (1 − t) x0 + t x1`` of the straight path and its velocity ``x1 − x0``."""
    return (1 - t) * x0 + t * x1, x1 - x0


def at_time(network: Callable[[Tensor, Tensor], Tensor]) -> Velocity:
    """``v(x, t)`` for a scalar ``t`` from a network that takes the time as a column (n, 1) (or
    ``(v, ∇·v)`` from :meth:`VelocityField.with_divergence`)."""

    def v(x: Tensor, t: float) -> Tensor:
        return network(x, torch.full((x.shape[0], 1), t, dtype=DTYPE, device=x.device))

    return v


def rk4(f: Velocity, x: Tensor, t0: float, t1: float, steps: int) -> Tensor:
    """Fixed-step classical Runge-Kutta from ``t0`` to ``t1`` for ``dx/dt = f(x, t)``."""
    h = (t1 - t0) / steps
    for i in range(steps):
        t = t0 + i * h
        k1 = f(x, t)
        k2 = f(x + 0.5 * h * k1, t + 0.5 * h)
        k3 = f(x + 0.5 * h * k2, t + 0.5 * h)
        k4 = f(x + h * k3, t + h)
        x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def rademacher(n: int, dim: int, probes: int, seed: int = 0) -> Tensor:
    """``probes`` Rademacher vectors (probes, n, dim) of ±1, a pure function of the shape and
    ``seed``: the same events always get the same probes, so a log density is a function."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 2, (probes, n, dim), generator=g) * 2 - 1).to(DTYPE)


def standard_normal_log_prob(x0: Tensor) -> Tensor:
    """``log N(x0; 0, 1)`` per row of ``x0`` (n, dim): the base density of flow matching."""
    return -0.5 * x0.square().sum(dim=1) - 0.5 * x0.shape[1] * math.log(2 * math.pi)


def ode_log_prob(
    v: Velocity, x: Tensor, steps: int, probes: int = 0, exact: VelocityDivergence | None = None,
    log_base: Callable[[Tensor], Tensor] = standard_normal_log_prob,
) -> Tensor:  # fmt: skip
    """``log p(x) = log p_0(x_0) − ∫_0^1 ∇·v dt`` by RK4 of ``(x_t, ∫∇·v)`` from t = 1 back to 0;
    the divergence exact (``probes`` = 0) or Hutchinson's with ``probes`` fixed vectors.

    The exact divergence is ``exact(x, t)`` where the field gives it with its velocity
    (:meth:`VelocityField.with_divergence`), else the trace of autograd's Jacobian, one backward
    pass per dimension. ``log_base`` is the base density ``log p_0`` (a standard normal unless given).
    """
    eps = rademacher(x.shape[0], x.shape[1], probes).to(x.device) if probes > 0 else None

    def divergence(x: Tensor, t: float) -> tuple[Tensor, Tensor]:
        if eps is None and exact is not None:
            return exact(x, t)
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            out = v(x, t)
            div = torch.zeros(x.shape[0], dtype=DTYPE, device=x.device)
            if eps is None:  # the exact trace of the Jacobian, one column per dimension
                for i in range(x.shape[1]):
                    (g,) = torch.autograd.grad(out[:, i].sum(), x, retain_graph=i < x.shape[1] - 1)
                    div = div + g[:, i]
            else:  # εᵀ (∂v/∂x) ε, one vector-Jacobian product per probe
                for p in range(eps.shape[0]):
                    (g,) = torch.autograd.grad((out * eps[p]).sum(), x, retain_graph=p < eps.shape[0] - 1)
                    div = div + (g * eps[p]).sum(dim=1) / eps.shape[0]
        return out.detach(), div.detach()

    def augmented(state: Tensor, t: float) -> Tensor:
        out, div = divergence(state[:, :-1], t)
        return torch.cat([out, div[:, None]], dim=1)

    state = torch.cat([x, torch.zeros(x.shape[0], 1, dtype=DTYPE, device=x.device)], dim=1)
    end = rk4(augmented, state, 1.0, 0.0, steps)
    x0, integral = end[:, :-1], end[:, -1]
    # integral = ∫_1^0 ∇·v dt = −∫_0^1 ∇·v dt
    return log_base(x0) + integral


#: where flow matching's hyper-parameters make sense (the plain and the Bayesian model)
CFM_LIMITS: dict[str, Limits] = {**NETWORK_LIMITS, "ode_steps": Limits(1), "n_frequencies": Limits(0), "probes": Limits(0)}


class FlowMatching(Vectorised, WithLikelihood):
    """Conditional flow matching with an MLP velocity field.

    Parameters
    ----------
    hidden:
        Widths of the velocity MLP (SiLU).
    steps:
        Optimiser steps (each on one minibatch of the training set, the whole set if it is
        smaller than ``batch_size``); 0, the default: a budget that grows with the training set,
        ``max(2000, ⌈epochs · n_train / batch_size⌉)``.
    lr:
        Adam learning rate, cosine-annealed to zero over the steps.
    batch_size:
        Training events per step.
    ode_steps:
        RK4 steps for sampling and the likelihood.
    probes:
        Hutchinson probe vectors of the likelihood's divergence; 0 (the default): its exact
        trace, one backward pass per dimension instead of one per probe.
    n_frequencies:
        Fourier features ``sin/cos(2^j π t)`` of the time, j < n_frequencies (0: the time alone).
    epochs:
        Passes over the training set of the budget where ``steps`` is 0 (the cosine schedule spans
        it). 2000 keeps a toy's 100 events at 2000 steps and gives 1000 events 7813: with 2000
        fixed steps the ring's forecast at n_train = 1000 was 1.7× its truth, with 7813 it closes
        (README, "Averaging amplification").
    patience:
        With validation events (a bootstrap member's out-of-bag ones), validations every
        ``VALIDATE_EVERY`` steps without a lower validation loss before the member stops; it keeps
        its parameters at its lowest (0: no validation, the last parameters). The validation loss
        is the training loss at noise ``z`` and times ``t`` drawn once per validation event, so
        two validations differ only by the network.
    device:
        Where the networks live and train: ``"cpu"`` (the default) or ``"cuda"`` (``"cuda:N"``);
        the random numbers are the same on both (:mod:`genamp.models.neural`).
    """

    name = "cfm"
    limits: ClassVar[dict[str, Limits]] = {**CFM_LIMITS, **STOPPING_LIMITS, "steps": Limits(0)}

    def __init__(
        self,
        hidden: Sequence[int] = (64, 64, 64),
        steps: int = 0,
        lr: float = 3e-3,
        batch_size: int = 256,
        ode_steps: int = 16,
        n_frequencies: int = 4,
        epochs: float = 2000.0,
        patience: int = 0,
        probes: int = 0,
        device: str | None = None,
    ) -> None:
        super().__init__(device)
        self.probes = probes
        self.hidden = tuple(hidden)
        self.steps = steps
        self.lr = lr
        self.batch_size = batch_size
        self.ode_steps = ode_steps
        self.n_frequencies = n_frequencies
        self.epochs = epochs
        self.patience = patience

    networks = ("net",)

    def _build(self, dim: int, streams: MemberStreams) -> None:
        self.net = Stacked.build(lambda: VelocityField(dim, self.hidden, self.n_frequencies), streams.init_seeds(), self.device)

    def _train(self, x: Tensor, streams: MemberStreams) -> LossMonitor:
        n_members, n, dim = x.shape
        self._build(dim, streams)
        monitor = LossMonitor(n_members, self.name)
        batch = min(self.batch_size, n)
        batches = minibatches(x, streams, batch)

        def losses_at(step: int) -> Tensor:
            x1 = next(batches)
            x0 = self._base_noise(streams, batch, dim)
            (t,) = streams.uniform((batch, 1))
            xt, target = self._path(x0, x1, t)
            return (self.net(xt, t) - target).square().mean(dim=(1, 2))

        validate = None
        if self._validation is not None:
            xv, mask = self._validation
            x0v = self._base_noise(streams, xv.shape[1], dim)
            (tv,) = streams.uniform((xv.shape[1], 1))
            xtv, targetv = self._path(x0v, xv, tv)

            def validate() -> Tensor:
                error = (self.net(xtv, tv) - targetv).square().mean(dim=2)
                return (error * mask).sum(dim=1) / mask.sum(dim=1)

        minimise(self.net.parameters(), losses_at, self.budget(n), self.lr, monitor, validate, self.patience)
        return monitor

    def _base_noise(self, streams: MemberStreams, n: int, dim: int) -> Tensor:
        """Each member's ``n`` draws (K, n, dim) of the base density, from its own stream."""
        return streams.normal(n, dim)

    def _path(self, x0: Tensor, x1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """The point at ``t`` of the path from ``x0`` to ``x1`` and its velocity (all (K, n, dim))."""
        return straight_path(x0, x1, t)

    def _velocity(self, k: int) -> Velocity:
        return at_time(lambda x, t: self.net.member(k, x, t))

    def _sample_member(self, k: int, n: int, generator: torch.Generator) -> Tensor:
        return rk4(self._velocity(k), self.randn(n, generator), 0.0, 1.0, self.ode_steps)

    def _log_prob_member(self, k: int, z: Tensor) -> Tensor:
        exact = at_time(lambda x, t: self.net.member(k, x, t, method="with_divergence"))
        return ode_log_prob(self._velocity(k), z, self.ode_steps, self.probes, exact)
