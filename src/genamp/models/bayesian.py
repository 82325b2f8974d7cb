"""Bayesian spline flow and Bayesian flow matching: variational Gaussian weights (docs/formulas.md §5).

Variational inference on the weights (Blundell et al. 2015, arXiv:1505.05424) through zuko's
:class:`zuko.bayesian.BayesianModel`: every weight has an independent posterior
``q(w_i) = N(μ_i, σ_i²)`` and the prior ``p(w_i) = N(0, prior_var)``. Training minimises, per
training event, the negative evidence lower bound

    L = E_q[ℓ(w; batch)] + kl_weight · KL(q ‖ p) / n_train,

with ``ℓ`` the model's usual loss per event (the flow's ``−log p(x)``, flow matching's
regression error) and ``E_q`` estimated by one reparameterised draw ``w = μ + σ ε`` per step.
``kl_weight = 1`` is the ELBO of a likelihood model; docs/formulas.md §5 makes the weight a calibration knob
(for flow matching the regression error is not a likelihood, so no value is exact).

A trained model stands for its posterior over generators: :meth:`~BayesianGenerator.sample`
draws from the posterior predictive (fresh weights for every block of ``SAMPLE_BLOCK`` events),
``log_prob`` uses the posterior-mean weights ``μ``, and :meth:`~BayesianGenerator.draws` returns
``M`` plain generators, each with fixed weights ``w_m ~ q``. One network is trained (no ensemble
axis); its randomness comes from the seed alone.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import torch
from torch import Tensor, nn
from zuko.bayesian import BayesianModel

from genamp.errors import GenampError
from genamp.models.base import Limits
from genamp.models.cfm import CFM_LIMITS, VelocityField, at_time, ode_log_prob, rk4, straight_path
from genamp.models.flow import FLOW_LIMITS, SplineNetwork
from genamp.models.neural import (
    DTYPE,
    LossMonitor,
    MemberStreams,
    TrainingDiverged,
    WithLikelihood,
    as_seed_sequence,
    minibatches,
    minimise,
    torch_seed,
)
from genamp.seeding import SeedLike, child


#: the prior's variance; kl_weight and init_logvar are checked with the study's options of that name
PRIOR_LIMITS: dict[str, Limits] = {"prior_var": Limits(0, low_open=True)}


class BayesianGenerator(WithLikelihood):
    """A network generator with variational Gaussian weights; the model is its posterior
    (a :class:`~genamp.models.base.Posterior`: one network, no member axis, :meth:`draws`).

    A subclass says what its network is (``_network``), its loss per event on a minibatch
    (``_loss``), and how a network with fixed weights samples (``_generate``) and gives the
    log density (``_density``), both in standardised coordinates.
    """

    def __init__(
        self,
        steps: int,
        lr: float,
        batch_size: int,
        kl_weight: float,
        prior_var: float,
        init_logvar: float,
        device: str | None = None,
    ) -> None:
        super().__init__(device)
        self.steps = steps
        self.lr = lr
        self.batch_size = batch_size
        self.kl_weight = kl_weight
        self.prior_var = prior_var
        self.init_logvar = init_logvar

    # ---- what a model defines -------------------------------------------------------------
    @abstractmethod
    def _network(self, dim: int) -> nn.Module:
        """An untrained network for ``dim`` features (its weights become the posterior means)."""

    @abstractmethod
    def _loss(self, net: nn.Module, x: Tensor, streams: MemberStreams) -> Tensor:
        """The mean loss per event of ``net`` on the minibatch ``x`` (batch, dim); noise from ``streams``."""

    @abstractmethod
    def _generate(self, net: nn.Module, n: int, generator: torch.Generator) -> Tensor:
        """``n`` standardised events of ``net``, its noise drawn from ``generator``."""

    @abstractmethod
    def _density(self, net: nn.Module, z: Tensor) -> Tensor:
        """``log p(z)`` of ``net`` at standardised events ``z``."""

    # ---- training -------------------------------------------------------------------------
    def objective(self, x: Tensor, n_train: int, streams: MemberStreams) -> Tensor:
        """``ℓ(μ + σ ε; x) + kl_weight · KL(q ‖ p) / n_train``, the −ELBO per event on minibatch ``x``.

        ``ε`` comes from torch's global stream (training seeds it inside a fork).
        """
        with self.bayes.reparameterize() as net:
            data = self._loss(net, x, streams)
        return data + self.kl_weight * self.bayes.kl_divergence(self.prior_var) / n_train

    def _train(self, x: Tensor, streams: MemberStreams) -> LossMonitor:
        n_members, n, dim = x.shape
        if n_members != 1:
            raise GenampError(f"{self.name} trains one Bayesian network; draw from its posterior instead of an ensemble of {n_members}")
        monitor = LossMonitor(1, self.name)
        with torch.random.fork_rng(devices=self._forked()):
            torch.manual_seed(torch_seed(streams.init_seeds()[0]))
            self.bayes = BayesianModel(self._network(dim).to(DTYPE).to(self.device), init_logvar=self.init_logvar)
            # the weight draws ε of the training steps, a stream of their own
            torch.manual_seed(torch_seed(child(streams.seeds[0], 2)))
            params = [*self.bayes.means.values(), *self.bayes.logvars.values()]
            batches = minibatches(x, streams, min(self.batch_size, n))
            minimise(params, lambda step: self.objective(next(batches)[0], n, streams)[None], self.steps, self.lr, monitor)
        self._posterior_mean = self._with_weights({k.replace("-", "."): m for k, m in self.bayes.means.items()})
        return monitor

    def _forked(self) -> list[int]:
        """The CUDA devices whose global stream the weight draws use (none on the CPU): the
        noise ε of the weights is drawn by zuko on the weights' device, so on a GPU a seed gives
        other weight draws than on the CPU, the same on every run."""
        return [self.device.index or 0] if self.device.type == "cuda" else []

    # ---- keeping what training made ------------------------------------------------------------
    networks = ("bayes",)  # the posterior: each weight's mean and log-variance

    def _networks_state(self, rows: Tensor) -> dict[str, Any]:
        """The posterior (every weight's mean and log-variance) and the network's buffers."""
        return {"bayes": {"means": {n: t.detach().cpu().clone() for n, t in self.bayes.means.items()},
                          "logvars": {n: t.detach().cpu().clone() for n, t in self.bayes.logvars.items()},
                          "buffers": {n: t.detach().cpu().clone() for n, t in self.bayes.base.named_buffers()}}}  # fmt: skip

    def _load_networks(self, states: Sequence[dict[str, Any]], k: int) -> None:
        """The stored posterior in a network of this model's settings (one training: ``k`` = 1)."""
        if k != 1 or len(states) != 1:
            raise GenampError(f"{self.name} is one Bayesian network: load one trained state, not {k}")
        with torch.random.fork_rng(devices=self._forked()):  # its initial weights are overwritten
            self.bayes = BayesianModel(self._network(self.dim).to(DTYPE).to(self.device), init_logvar=self.init_logvar)
        stored = states[0]["bayes"]
        targets = {"means": dict(self.bayes.means.items()), "logvars": dict(self.bayes.logvars.items()),
                   "buffers": dict(self.bayes.base.named_buffers())}  # fmt: skip
        for kind, target in targets.items():
            self._restore(target, [stored[kind]], f"posterior's {kind}")
        self._posterior_mean = self._with_weights({k.replace("-", "."): m for k, m in self.bayes.means.items()})

    # ---- posterior --------------------------------------------------------------------------
    def _with_weights(self, weights: dict[str, Tensor]) -> nn.Module:
        """A standalone copy of the network with the given weights (by parameter name)."""
        net = copy.deepcopy(self.bayes.base)
        missing, unexpected = net.load_state_dict(weights, strict=False)
        if unexpected or set(missing) - {name for name, _ in net.named_buffers()}:
            raise GenampError(f"{self.name}: the posterior does not cover the network's weights ({missing}, {unexpected})")
        return net.requires_grad_(False)

    def _weights_draw(self, seed: int) -> nn.Module:
        """The network with weights ``w ~ q``, drawn from torch stream ``seed``."""
        with torch.random.fork_rng(devices=self._forked()), torch.no_grad():
            torch.manual_seed(seed)
            weights = self.bayes.sample_params()
        return self._with_weights(weights)

    def draws(self, n_draws: int, seed: SeedLike) -> list[PosteriorDraw]:
        """``n_draws`` generators with fixed weights ``w_m ~ q``, draw ``m`` seeded by ``child(seed, m)``."""
        self.n_members  # noqa: B018 - raises when not fitted
        if self.diverged:
            raise TrainingDiverged(self.diverged[0].message(self.name))
        seed = as_seed_sequence(seed)
        return [PosteriorDraw(self, m, self._weights_draw(torch_seed(child(seed, m)))) for m in range(n_draws)]

    def _sample_member(self, k: int, n: int, generator: torch.Generator) -> Tensor:
        # posterior predictive: fresh weights for each block, then the block's events
        net = self._weights_draw(int(torch.randint(0, 2**62, (1,), generator=generator)))
        return self._generate(net, n, generator)

    def _log_prob_member(self, k: int, z: Tensor) -> Tensor:
        return self._density(self._posterior_mean, z)


class PosteriorDraw(WithLikelihood):
    """One fixed weight draw ``w_m ~ q`` of a trained Bayesian model, as a plain generator."""

    def __init__(self, model: BayesianGenerator, index: int, net: nn.Module) -> None:
        super().__init__(model.device)
        self.model = model
        self.index = index
        self.net = net
        self.name = f"{model.name}[draw {index}]"
        self._mean, self._std = model._mean, model._std
        self.dim, self.n_train = model.dim, model.n_train

    def fit(self, x_train: np.ndarray, seed: SeedLike) -> Self:
        raise GenampError(f"{self.name} is a fixed posterior draw: fit its Bayesian model instead")

    def _train(self, x: Tensor, streams: MemberStreams) -> LossMonitor:
        raise GenampError(f"{self.name} is a fixed posterior draw: fit its Bayesian model instead")

    def _sample_member(self, k: int, n: int, generator: torch.Generator) -> Tensor:
        return self.model._generate(self.net, n, generator)

    def _log_prob_member(self, k: int, z: Tensor) -> Tensor:
        return self.model._density(self.net, z)


class BayesianSplineFlow(BayesianGenerator):
    """The spline flow of :mod:`genamp.models.flow` with variational Gaussian weights.

    Parameters
    ----------
    transforms, hidden, bins, steps, lr, batch_size:
        As for :class:`~genamp.models.flow.SplineFlow`.
    kl_weight:
        Factor of the KL term (1: the ELBO).
    prior_var:
        Variance of the Gaussian prior of every weight.
    init_logvar:
        Initial ``log σ²`` of every weight (zuko's default; the means start at the network's
        usual initialisation).
    device:
        Where the network lives and trains, ``"cpu"`` or ``"cuda"``: batches and the base noise
        are drawn on the CPU as for every network; the weights' noise ε on the device
        (:meth:`BayesianGenerator._forked`).
    """

    name = "bflow"
    limits: ClassVar[dict[str, Limits]] = {**FLOW_LIMITS, **PRIOR_LIMITS}

    def __init__(
        self,
        transforms: int = 3,
        hidden: Sequence[int] = (64, 64),
        bins: int = 8,
        steps: int = 2000,
        lr: float = 1e-3,
        batch_size: int = 256,
        kl_weight: float = 1.0,
        prior_var: float = 1.0,
        init_logvar: float = -9.0,
        device: str | None = None,
    ) -> None:
        super().__init__(steps, lr, batch_size, kl_weight, prior_var, init_logvar, device)
        self.transforms = transforms
        self.hidden = tuple(hidden)
        self.bins = bins

    def _network(self, dim: int) -> SplineNetwork:
        return SplineNetwork(dim, self.transforms, self.hidden, self.bins)

    def _loss(self, net: nn.Module, x: Tensor, streams: MemberStreams) -> Tensor:
        return -net.log_prob(x).mean()

    def _generate(self, net: nn.Module, n: int, generator: torch.Generator) -> Tensor:
        return net.inverse(self.randn(n, generator))

    def _density(self, net: nn.Module, z: Tensor) -> Tensor:
        with torch.no_grad():
            return net.log_prob(z)


class BayesianFlowMatching(BayesianGenerator):
    """Conditional flow matching (:mod:`genamp.models.cfm`) with a variational Gaussian velocity MLP.

    Parameters
    ----------
    hidden, steps, lr, batch_size, ode_steps, n_frequencies, probes:
        As for :class:`~genamp.models.cfm.FlowMatching`.
    kl_weight, prior_var, init_logvar, device:
        As for :class:`BayesianSplineFlow`.
    """

    name = "bcfm"
    limits: ClassVar[dict[str, Limits]] = {**CFM_LIMITS, **PRIOR_LIMITS}

    def __init__(
        self,
        hidden: Sequence[int] = (64, 64, 64),
        steps: int = 2000,
        lr: float = 3e-3,
        batch_size: int = 256,
        ode_steps: int = 16,
        n_frequencies: int = 4,
        probes: int = 0,
        kl_weight: float = 1.0,
        prior_var: float = 1.0,
        init_logvar: float = -9.0,
        device: str | None = None,
    ) -> None:
        super().__init__(steps, lr, batch_size, kl_weight, prior_var, init_logvar, device)
        self.probes = probes
        self.hidden = tuple(hidden)
        self.ode_steps = ode_steps
        self.n_frequencies = n_frequencies

    def _network(self, dim: int) -> VelocityField:
        return VelocityField(dim, self.hidden, self.n_frequencies)

    def _loss(self, net: nn.Module, x: Tensor, streams: MemberStreams) -> Tensor:
        x0 = streams.normal(*x.shape)[0]
        (t,) = streams.uniform((x.shape[0], 1))
        xt, target = straight_path(x0, x, t[0])
        return (net(xt, t[0]) - target).square().mean()

    def _generate(self, net: nn.Module, n: int, generator: torch.Generator) -> Tensor:
        return rk4(at_time(net), self.randn(n, generator), 0.0, 1.0, self.ode_steps)

    def _density(self, net: nn.Module, z: Tensor) -> Tensor:
        return ode_log_prob(at_time(net), z, self.ode_steps, self.probes, at_time(net.with_divergence))
