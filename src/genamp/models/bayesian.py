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

With the setting ``chain`` > 0 the posterior is drawn instead by a Metropolis-adjusted Langevin
chain over the plain network's weights (:mod:`genamp.models.langevin`): its kept states are the
draws, the mode it starts from gives ``log_prob``.

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
from genamp.models.langevin import Chain, fisher_metric, langevin_chain
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


#: the prior's variance and the Langevin chain's settings; kl_weight and init_logvar are checked
#: with the study's options of that name
PRIOR_LIMITS: dict[str, Limits] = {
    "prior_var": Limits(0, low_open=True), "chain": Limits(0), "temperature": Limits(0, low_open=True),
    "chain_keep": Limits(1), "logvar_lr": Limits(0), "chain_batch": Limits(0), "chain_last": Limits(0, 1),
}  # fmt: skip


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
        chain: int = 0,
        temperature: float = 1.0,
        chain_keep: int = 20,
        logvar_lr: float = 0.0,
        chain_last: bool = False,
        chain_batch: int = 0,
    ) -> None:
        super().__init__(device)
        self.steps = steps
        self.lr = lr
        self.batch_size = batch_size
        self.kl_weight = kl_weight
        self.prior_var = prior_var
        self.init_logvar = init_logvar
        self.logvar_lr = logvar_lr
        self.chain = chain
        self.temperature = temperature
        self.chain_keep = chain_keep
        self.chain_last = chain_last
        self.chain_batch = chain_batch

    @property
    def sampler(self) -> str:
        """How the posterior is drawn: ``"vi"`` (variational, ``chain`` = 0) or ``"langevin"``."""
        return "langevin" if self.chain > 0 else "vi"

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

    @abstractmethod
    def _chain_loss(self, net: nn.Module, x: Tensor, generator: torch.Generator) -> Tensor:
        """The mean loss per event of ``net`` on the whole training set ``x`` (n, dim), its noise
        (if any) from ``generator``: the chain's ``L̄`` (:mod:`genamp.models.langevin`)."""

    @abstractmethod
    def _output_layers(self, net: nn.Module) -> list[Tensor]:
        """The parameters of the network's output layer(s): what the chain moves with ``chain_last``."""

    def _chained(self, net: nn.Module) -> list[Tensor]:
        """The parameters the chain moves: all, or the output layers' (``chain_last``)."""
        return self._output_layers(net) if self.chain_last else list(net.parameters())

    #: whether :meth:`_chain_loss` draws no noise (the chain then evaluates each state once)
    _deterministic_loss: ClassVar[bool] = False

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
        if self.chain > 0:
            return self._train_chain(x, streams)
        self.chain_: Chain | None = None
        monitor = LossMonitor(1, self.name)
        with torch.random.fork_rng(devices=self._forked()):
            torch.manual_seed(torch_seed(streams.init_seeds()[0]))
            self.bayes = BayesianModel(self._network(dim).to(DTYPE).to(self.device), init_logvar=self.init_logvar)
            # the weight draws ε of the training steps, a stream of their own
            torch.manual_seed(torch_seed(child(streams.seeds[0], 2)))
            params = [*self.bayes.means.values(), *self.bayes.logvars.values()]
            scales = [1.0] * len(self.bayes.means) + [self.logvar_lr / self.lr if self.logvar_lr > 0 else 1.0] * len(self.bayes.logvars)
            batches = minibatches(x, streams, min(self.batch_size, n))
            minimise(params, lambda step: self.objective(next(batches)[0], n, streams)[None], self.steps, self.lr, monitor,
                     lr_scales=scales)  # fmt: skip
        self._posterior_mean = self._with_weights({k.replace("-", "."): m for k, m in self.bayes.means.items()})
        return monitor

    def _prior_energy(self, params: Sequence[Tensor]) -> Tensor:
        """``‖θ‖² / (2 σ_p²)``, the prior's part of the chain's energy."""
        return sum(p.square().sum() for p in params) / (2.0 * self.prior_var)

    def _train_chain(self, x: Tensor, streams: MemberStreams) -> LossMonitor:
        """The weights to the tempered posterior's mode with Adam (``steps`` on minibatches of
        ``L̄ + T ‖θ‖² / (2 σ_p² n)``), then ``chain`` Langevin steps from there
        (:func:`~genamp.models.langevin.langevin_chain`, the Fisher metric) over all weights or,
        with ``chain_last``, the output layers' (the rest stay at the mode); ``chain_keep``
        states are the posterior draws."""
        _, n, dim = x.shape
        monitor = LossMonitor(1, self.name)
        net = self._fresh_network(dim, streams.init_seeds()[0])
        params = list(net.parameters())
        batches = minibatches(x, streams, min(self.batch_size, n))

        def loss_at(step: int) -> Tensor:
            return (self._loss(net, next(batches)[0], streams) + self.temperature * self._prior_energy(params) / n)[None]

        minimise(params, loss_at, self.steps, self.lr, monitor)
        self._posterior_mean = copy.deepcopy(net)
        self.chain_ = None
        if monitor.diverged:
            return monitor
        params = self._chained(net)
        noise_seed = torch_seed(child(streams.seeds[0], 4))
        for p in params:
            p.requires_grad_(True)
        fisher = self._fisher(net, params, x[0], torch.Generator().manual_seed(noise_seed - 1))
        metric = fisher_metric(fisher, n, self.temperature, self.prior_var)

        subset = 0 < self.chain_batch < n

        def energy(theta: Tensor, step: int) -> tuple[Tensor, Tensor]:
            self._set_flat(params, theta)
            generator = torch.Generator().manual_seed(noise_seed + step)
            events = x[0][torch.randperm(n, generator=generator)[: self.chain_batch].to(x.device)] if subset else x[0]
            loss = self._chain_loss(net, events, generator)
            u = n / self.temperature * loss + self._prior_energy(params)
            grads = torch.autograd.grad(u, params)
            return u.detach(), torch.cat([g.flatten() for g in grads])

        start = torch.cat([p.detach().flatten() for p in params])
        generator = torch.Generator().manual_seed(torch_seed(child(streams.seeds[0], 3)))
        self.chain_ = langevin_chain(start, energy, metric, self.chain, self.chain_keep, generator, self._deterministic_loss and not subset)
        for p in params:
            p.requires_grad_(False)
        return monitor

    def _fresh_network(self, dim: int, seed: SeedLike | None = None) -> nn.Module:
        """An untrained network for ``dim`` features, built in a forked torch stream seeded by
        ``seed`` (``None``: a loader's, whose weights are overwritten): the global stream is left
        as it was."""
        with torch.random.fork_rng(devices=self._forked()):
            if seed is not None:
                torch.manual_seed(torch_seed(seed))
            return self._network(dim).to(DTYPE).to(self.device)

    #: training events the chain's Fisher information is estimated on (a random subset of larger sets)
    FISHER_EVENTS: ClassVar[int] = 256

    def _fisher(self, net: nn.Module, params: Sequence[Tensor], x: Tensor, generator: torch.Generator) -> Tensor:
        """The empirical Fisher information per event, ``mean_e (∂ℓ_e / ∂θ)²`` over at most
        :attr:`FISHER_EVENTS` training events (one backward pass each)."""
        if x.shape[0] > self.FISHER_EVENTS:
            x = x[torch.randperm(x.shape[0], generator=generator)[: self.FISHER_EVENTS].to(x.device)]
        total = torch.zeros(sum(p.numel() for p in params), dtype=DTYPE, device=x.device)
        for e in range(x.shape[0]):
            grads = torch.autograd.grad(self._chain_loss(net, x[e : e + 1], generator), params, allow_unused=True)
            total += torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(params, grads, strict=True)]).square()
        return total / x.shape[0]

    @staticmethod
    def _set_flat(params: Sequence[Tensor], theta: Tensor) -> None:
        """Copy the flat weights ``theta`` into ``params``, in order."""
        with torch.no_grad():
            for p, value in zip(params, torch.split(theta, [p.numel() for p in params]), strict=True):
                p.copy_(value.view_as(p))

    def _chain_draw(self, i: int) -> nn.Module:
        """The network at the chain's ``i``-th kept state."""
        net = copy.deepcopy(self._posterior_mean)
        self._set_flat(self._chained(net), self.chain_.states[i].to(self.device))
        return net.requires_grad_(False)

    def _forked(self) -> list[int]:
        """The CUDA devices whose global stream the weight draws use (none on the CPU): the
        noise ε of the weights is drawn by zuko on the weights' device, so on a GPU a seed gives
        other weight draws than on the CPU, the same on every run."""
        return [self.device.index or 0] if self.device.type == "cuda" else []

    # ---- keeping what training made ------------------------------------------------------------
    networks = ("bayes",)  # the posterior: each weight's mean and log-variance

    def _networks_state(self, rows: Tensor) -> dict[str, Any]:
        """The posterior (every weight's mean and log-variance) and the network's buffers; of a
        Langevin chain, the mode's network and the kept states."""
        if self.chain > 0:
            return {"chain": {"mode": {n: t.detach().cpu().clone() for n, t in self._posterior_mean.state_dict().items()},
                              "states": self.chain_.states.cpu().clone(),
                              "acceptance": self.chain_.acceptance, "step_size": self.chain_.step_size}}  # fmt: skip
        return {"bayes": {"means": {n: t.detach().cpu().clone() for n, t in self.bayes.means.items()},
                          "logvars": {n: t.detach().cpu().clone() for n, t in self.bayes.logvars.items()},
                          "buffers": {n: t.detach().cpu().clone() for n, t in self.bayes.base.named_buffers()}}}  # fmt: skip

    def _load_networks(self, states: Sequence[dict[str, Any]], k: int) -> None:
        """The stored posterior in a network of this model's settings (one training: ``k`` = 1)."""
        if k != 1 or len(states) != 1:
            raise GenampError(f"{self.name} is one Bayesian network: load one trained state, not {k}")
        if ("chain" in states[0]) != (self.chain > 0):
            raise GenampError(f"{self.name}: the stored posterior was drawn by another sampler than this model's ({self.sampler})")
        if self.chain > 0:
            stored = states[0]["chain"]
            net = self._fresh_network(self.dim)
            self._restore(dict(net.state_dict()), [stored["mode"]], "chain's mode")
            if tuple(stored["states"].shape) != (self.chain_keep, sum(p.numel() for p in self._chained(net))):
                raise GenampError(f"{self.name}: the stored chain's states do not match this model's settings")
            self._posterior_mean = net.requires_grad_(False)
            self.chain_ = Chain(stored["states"].to(DTYPE), float(stored["acceptance"]), float(stored["step_size"]))
            return
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
        if self.chain > 0:  # evenly spaced states of the chain (the seed chooses nothing)
            if n_draws > self.chain_keep:
                raise GenampError(f"{self.name}'s chain kept {self.chain_keep} states: ask for at most that many draws, "
                                  f"or set chain_keep ≥ {n_draws}")  # fmt: skip
            kept = np.linspace(0, self.chain_keep - 1, n_draws).round().astype(int)
            return [PosteriorDraw(self, m, self._chain_draw(int(i))) for m, i in enumerate(kept)]
        seed = as_seed_sequence(seed)
        return [PosteriorDraw(self, m, self._weights_draw(torch_seed(child(seed, m)))) for m in range(n_draws)]

    def _sample_member(self, k: int, n: int, generator: torch.Generator) -> Tensor:
        # posterior predictive: fresh weights (a chain's state) for each block, then the block's events
        if self.chain > 0:
            net = self._chain_draw(int(torch.randint(0, self.chain_keep, (1,), generator=generator)))
        else:
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
    chain, temperature, chain_keep, chain_last, chain_batch:
        ``chain`` > 0 draws the posterior by a Metropolis-adjusted Langevin chain of that many
        steps instead of variational inference (:mod:`genamp.models.langevin`): the weights are
        trained to the mode of the posterior at ``temperature`` (1: Bayes' posterior of the
        flow's likelihood), the chain runs from there, and ``chain_keep`` evenly spaced states of
        its second half are the draws (``kl_weight``, ``init_logvar`` and ``logvar_lr`` then do
        nothing). ``chain_last``: the chain moves only the output layer(s), the rest stays at the mode.
        ``chain_batch`` > 0: each step's energy on a fresh random subset of that many training
        events (scaled to all), both states on the same subset: a stochastic-gradient chain,
        exact only as the subset's noise vanishes, for training sets too large to evaluate whole.
    logvar_lr:
        Adam's learning rate of the weights' log-variances in variational inference (0: ``lr``);
        a larger one lets the variances move within the steps.
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
        chain: int = 0,
        temperature: float = 1.0,
        chain_keep: int = 20,
        logvar_lr: float = 0.0,
        chain_last: bool = False,
        chain_batch: int = 0,
        device: str | None = None,
    ) -> None:
        super().__init__(
            steps, lr, batch_size, kl_weight, prior_var, init_logvar, device,
            chain, temperature, chain_keep, logvar_lr, chain_last, chain_batch,
        )  # fmt: skip
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

    _deterministic_loss = True

    def _output_layers(self, net: nn.Module) -> list[Tensor]:
        # the last linear layer of each transform's hyper-network (a 1-d flow has none: all its parameters)
        hypers = [m.hyper for m in net.flow.transform.transforms if hasattr(m, "hyper")]
        if not hypers:
            return list(net.parameters())
        return [p for h in hypers for p in [m for m in h if isinstance(m, nn.Linear)][-1].parameters()]

    def _chain_loss(self, net: nn.Module, x: Tensor, generator: torch.Generator) -> Tensor:
        return -net.log_prob(x).mean()


class BayesianFlowMatching(BayesianGenerator):
    """Conditional flow matching (:mod:`genamp.models.cfm`) with a variational Gaussian velocity MLP.

    Parameters
    ----------
    hidden, steps, lr, batch_size, ode_steps, n_frequencies, probes:
        As for :class:`~genamp.models.cfm.FlowMatching`.
    kl_weight, prior_var, init_logvar, chain, temperature, chain_keep, chain_last, chain_batch, logvar_lr, device:
        As for :class:`BayesianSplineFlow`; the regression loss is no likelihood, so no
        ``temperature`` (or ``kl_weight``) is exact: it is set by calibration
        (:mod:`genamp.estimators.tempering`).
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
        chain: int = 0,
        temperature: float = 1.0,
        chain_keep: int = 20,
        logvar_lr: float = 0.0,
        chain_last: bool = False,
        chain_batch: int = 0,
        device: str | None = None,
    ) -> None:
        super().__init__(
            steps, lr, batch_size, kl_weight, prior_var, init_logvar, device,
            chain, temperature, chain_keep, logvar_lr, chain_last, chain_batch,
        )  # fmt: skip
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

    def _output_layers(self, net: nn.Module) -> list[Tensor]:
        return list(net.net.out.parameters())

    def _chain_loss(self, net: nn.Module, x: Tensor, generator: torch.Generator) -> Tensor:
        x0 = torch.randn(x.shape, generator=generator, dtype=DTYPE).to(x.device)
        t = torch.rand((x.shape[0], 1), generator=generator, dtype=DTYPE).to(x.device)
        xt, target = straight_path(x0, x, t)
        return (net(xt, t) - target).square().mean()

    def _density(self, net: nn.Module, z: Tensor) -> Tensor:
        return ode_log_prob(at_time(net), z, self.ode_steps, self.probes, at_time(net.with_divergence))
