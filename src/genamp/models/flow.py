"""Rational-quadratic neural spline flow (Durkan et al. 2019, arXiv:1906.04032; docs/formulas.md §5).

A bijection ``z = f(x)`` onto a standard normal, built by zuko's :class:`zuko.flows.NSF`: a
stack of autoregressive transforms, each a monotonic rational-quadratic spline of ``bins``
bins on [−5, 5] per feature whose knots are set by a masked MLP of the preceding features (in
one dimension the knots are free parameters, started at the identity), the feature order
reversed between transforms.
The likelihood is exact, ``log p(x) = log N(f(x)) + log |det ∂f/∂x|``, and training maximises it;
sampling inverts the transforms, ``x = f⁻¹(z)`` with ``z ~ N(0, 1)``. The splines are the
identity outside [−5, 5], so the features are standardised first (the base class does it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
import zuko
from torch import Tensor, nn

from genamp.models.base import Limits
from genamp.models.neural import (
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


class SplineNetwork(nn.Module):
    """A zuko spline flow seen through two methods, ``log_prob`` and ``inverse``.

    zuko's flow module returns a distribution that reads the module's parameters lazily, when
    its ``log_prob`` runs; ``functional_call`` has already put the module's own parameters back
    by then. Asking for the number itself inside the call keeps the swapped parameters in use.
    """

    def __init__(self, dim: int, transforms: int, hidden: Sequence[int], bins: int) -> None:
        super().__init__()
        self.flow = zuko.flows.NSF(features=dim, transforms=transforms, hidden_features=tuple(hidden), bins=bins)
        # zuko starts a spline without inputs (every spline of a one-dimensional flow) at random
        # knots, φ ~ N(0, 1), far from the identity that φ = 0 gives; from there a 1D camel back
        # (n_train = 1000) trained to a mean log-likelihood 0.12-0.24 below the one reached from
        # the identity, after 300 steps as after 2000
        with torch.no_grad():
            for module in self.flow.modules():
                if isinstance(module, zuko.flows.ElementWiseTransform) and hasattr(module, "phi"):
                    for phi in module.phi:
                        phi.zero_()

    def log_prob(self, x: Tensor) -> Tensor:
        """``log p(x)`` (n,) of events ``x`` (n, dim)."""
        return self.flow().log_prob(x)

    def inverse(self, z: Tensor) -> Tensor:
        """``f⁻¹(z)``: the events (n, dim) that base points ``z`` map to."""
        return self.flow().transform.inv(z)


#: where the spline flow's hyper-parameters make sense (the plain and the Bayesian model)
FLOW_LIMITS: dict[str, Limits] = {**NETWORK_LIMITS, "transforms": Limits(1), "bins": Limits(1)}


class SplineFlow(Vectorised, WithLikelihood):
    """A neural spline flow trained by maximum likelihood.

    Parameters
    ----------
    transforms:
        Autoregressive spline transforms stacked.
    hidden:
        Widths of each transform's masked MLP (ReLU); unused in one dimension, where the knots
        are free parameters.
    bins:
        Spline bins per feature on [−5, 5].
    steps:
        Optimiser steps (each on one minibatch of the training set, the whole set if it is
        smaller than ``batch_size``).
    lr:
        Adam learning rate, cosine-annealed to zero over the steps.
    batch_size:
        Training events per step.
    epochs, patience:
        The budget's passes over the data where ``steps`` is 0 (not the default: 2000 fixed steps,
        not yet measured otherwise), and the stop on a validation loss (the negative
        log-likelihood of a member's out-of-bag events), as for :class:`~genamp.models.cfm.FlowMatching`.
    device:
        Where the networks live and train: ``"cpu"`` (the default) or ``"cuda"`` (``"cuda:N"``);
        the random numbers are the same on both (:mod:`genamp.models.neural`).
    """

    name = "flow"
    limits: ClassVar[dict[str, Limits]] = {**FLOW_LIMITS, **STOPPING_LIMITS, "steps": Limits(0)}

    def __init__(
        self,
        transforms: int = 3,
        hidden: Sequence[int] = (64, 64),
        bins: int = 8,
        steps: int = 2000,
        lr: float = 1e-3,
        batch_size: int = 256,
        epochs: float = 0.0,
        patience: int = 0,
        device: str | None = None,
    ) -> None:
        super().__init__(device)
        self.epochs = epochs
        self.patience = patience
        self.transforms = transforms
        self.hidden = tuple(hidden)
        self.bins = bins
        self.steps = steps
        self.lr = lr
        self.batch_size = batch_size

    networks = ("net",)

    def _build(self, dim: int, streams: MemberStreams) -> None:
        self.net = Stacked.build(lambda: SplineNetwork(dim, self.transforms, self.hidden, self.bins), streams.init_seeds(), self.device)

    def _train(self, x: Tensor, streams: MemberStreams) -> LossMonitor:
        n_members, n, dim = x.shape
        self._build(dim, streams)
        monitor = LossMonitor(n_members, self.name)
        batches = minibatches(x, streams, min(self.batch_size, n))

        def losses_at(step: int) -> Tensor:
            return -self.net(next(batches), method="log_prob").mean(dim=1)

        validate = None
        if self._validation is not None:
            xv, mask = self._validation

            def validate() -> Tensor:
                return -(self.net(xv, method="log_prob") * mask).sum(dim=1) / mask.sum(dim=1)

        minimise(self.net.parameters(), losses_at, self.budget(n), self.lr, monitor, validate, self.patience)
        return monitor

    def _sample_member(self, k: int, n: int, generator: torch.Generator) -> Tensor:
        return self.net.member(k, self.randn(n, generator), method="inverse")

    def _log_prob_member(self, k: int, z: Tensor) -> Tensor:
        with torch.no_grad():
            return self.net.member(k, z, method="log_prob")
