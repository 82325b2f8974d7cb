"""The GANplification GAN (Butter, Diefenbacher, Kasieczka, Nachman, Plehn, arXiv:2008.06545).

As the seed paper describes it (docs/formulas.md §5):

* generator: 1000 inputs uniform in [−1, 1], seven fully connected layers of 256 with ELU and a
  50 % dropout after each, kept on when sampling, a linear output of ``dim`` nodes;
* discriminator: sees a point ``x`` and its whole batch ``B``. The differences ``B − x`` are
  embedded by three width-1 convolutions (256, 256, 32 filters, LeakyReLU 0.01 each: the same
  as a per-difference MLP), aggregated by their standard deviation over the batch, concatenated
  with ``x`` and passed through seven layers of 256 (LeakyReLU 0.01, 50 % dropout) to a sigmoid;
* training: strict alternation of one discriminator and one generator step per batch of 10,
  the data reshuffled every epoch; Adam with β = (0.5, 0.9) and learning rate 5·10⁻⁵ times 0.9
  every 1000 epochs, 10 000 epochs; uniform noise in [−0.1, 0.1] added to the training data at
  every discriminator call; gradient penalty γ = 0.01.

Choices where the paper is silent (recorded in the README): the gradient penalty is the
regulariser of its reference, Roth et al. 2017 (arXiv:1705.09367), for the standard GAN loss,
``γ/2 · (E_data[(1 − D)² |∇φ|²] + E_gen[D² |∇φ|²])`` with ``φ`` the discriminator's logit and
the gradient taken with respect to the batch's points; the generator minimises the
non-saturating ``−log D(G(z))``; the batch standard deviation is PyTorch's default (n − 1); the
last incomplete batch of an epoch is dropped (none at n_train = 100). The features are not
standardised, as in the paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genamp.errors import GenampError
from genamp.models.base import Limits
from genamp.models.neural import (
    DTYPE,
    MLP,
    LossMonitor,
    MemberStreams,
    Stacked,
    Vectorised,
    adam,
    descend,
    _linear,
    as_dropout_masks,
)


@dataclass(frozen=True)
class GANSettings:
    """Architecture and training of the GANplification GAN; :data:`PAPER` is the paper's."""

    latent: int = 1000
    hidden: tuple[int, ...] = (256,) * 7
    embedding: tuple[int, ...] = (256, 256, 32)
    dropout: float = 0.5
    epochs: int = 10_000
    batch_size: int = 10
    lr: float = 5e-5
    lr_decay: float = 0.9
    decay_every: int = 1000
    betas: tuple[float, float] = (0.5, 0.9)
    gradient_penalty: float = 0.01
    noise: float = 0.1


#: the seed paper's GAN: about an hour per training on a P100, a GPU job
PAPER = GANSettings()

#: the CPU default: the paper's architecture, losses and batches, narrower and shorter (README)
CPU = replace(PAPER, latent=64, hidden=(64,) * 4, embedding=(64, 64, 32), epochs=500, lr=1e-3, decay_every=50)


def _std(h: Tensor, dim: int) -> Tensor:
    """The sample standard deviation along ``dim`` (``n − 1`` in the denominator), as
    ``Tensor.std`` gives it, in elementary operations: on a GAN step's (20, 10, 10, 32)
    embeddings, with the gradients of first and second order the regulariser needs, ``std``
    took 2.2 ms on one CPU thread and these 1.2 ms (its forward alone 1.4 ms)."""
    centred = h - h.mean(dim=dim, keepdim=True)
    return (centred.square().sum(dim=dim) / (h.shape[dim] - 1)).sqrt()


class Discriminator(nn.Module):
    """Batch-aware discriminator: a point and the spread of its differences to the batch."""

    def __init__(self, dim: int, hidden: Sequence[int], embedding: Sequence[int]) -> None:
        super().__init__()
        widths = [dim, *embedding]
        self.embed = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.net = MLP(dim + embedding[-1], 1, hidden, lambda: nn.LeakyReLU(0.01))

    def forward(self, x: Tensor, masks: Sequence[Tensor] = ()) -> Tensor:
        """Logits (batch,) of the points ``x`` (batch, dim), each judged with its batch."""
        h = x[None, :, :] - x[:, None, :]  # row i: B − x_i
        for layer in self.embed:
            h = F.leaky_relu(layer(h), 0.01)
        return self.net(torch.cat([x, _std(h, 1)], dim=-1), masks)[..., 0]

    def stacked(self, params: dict[str, Tensor], x: Tensor, masks: Sequence[Tensor] = ()) -> Tensor:
        """Every member at once (:meth:`MLP.stacked`): ``x`` (K, batch, dim), ``masks`` (K, batch, w);
        the pairwise differences of a member's batch go through each embedding layer as one
        batched matrix product of (K, batch², ·). The same logits as :meth:`forward` per member,
        to float rounding, without ``vmap``'s per-call work (a third of a GAN step)."""
        k, b, dim = x.shape
        h = (x[:, None, :, :] - x[:, :, None, :]).reshape(k, b * b, dim)  # member k's row i: B − x_i
        for i in range(len(self.embed)):
            h = F.leaky_relu(_linear(params, f"embed.{i}", h), 0.01)
        spread = _std(h.reshape(k, b, b, -1), 2)
        return self.net.stacked(params, torch.cat([x, spread], dim=-1), masks, prefix="net.")[..., 0]


class _StepDraws(NamedTuple):
    """One GAN step's random numbers per member (leading axis K): the real events' noise and
    latent points uniform on [−1, 1], dropout masks per hidden layer (none without dropout)."""

    noise: Tensor
    z_disc: Tensor
    gen_masks_disc: list[Tensor]
    real_masks: list[Tensor]
    fake_masks: list[Tensor]
    z_gen: Tensor
    gen_masks_gen: list[Tensor]
    disc_masks_gen: list[Tensor]


class GAN(Vectorised):
    """The GANplification GAN; ``GAN(PAPER)`` is the paper's setup, ``GAN()`` the CPU default.

    Any field of :class:`GANSettings` may be overridden by keyword (``GAN(PAPER, epochs=100)``);
    ``device`` is where the networks train (``"cpu"`` or ``"cuda"``; :mod:`genamp.models.neural`).
    """

    name = "gan"
    standardise = False
    #: where the fields of :class:`GANSettings` make sense (a batch needs two events for its spread)
    limits: ClassVar[dict[str, Limits]] = {
        "latent": Limits(1),
        "hidden": Limits(1),
        "embedding": Limits(1),
        "dropout": Limits(0, 1, high_open=True),
        "epochs": Limits(1),
        "batch_size": Limits(2),
        "lr": Limits(0, low_open=True),
        "lr_decay": Limits(0, 1, low_open=True),
        "decay_every": Limits(1),
        "betas": Limits(0, 1, high_open=True, length=2),
        "gradient_penalty": Limits(0),
        "noise": Limits(0),
    }

    def __init__(self, settings: GANSettings | None = None, device: str | None = None, **overrides: object) -> None:
        super().__init__(device)
        self.settings = replace(settings or CPU, **overrides)  # type: ignore[arg-type]

    networks = ("gen",)  # what sampling needs: the discriminator is not kept (it is 96% of the paper GAN's weights)

    def _build(self, dim: int, streams: MemberStreams) -> None:
        s = self.settings
        self.gen = Stacked.build(lambda: MLP(s.latent, dim, s.hidden, nn.ELU), streams.init_seeds(0), self.device)
        self.disc = Stacked.build(lambda: Discriminator(dim, s.hidden, s.embedding), streams.init_seeds(1), self.device)

    def _train(self, x: Tensor, streams: MemberStreams) -> LossMonitor:
        s = self.settings
        n_members, n, dim = x.shape
        if n < s.batch_size:
            raise GenampError(f"gan: {n} training events are fewer than one batch of {s.batch_size}")
        self._build(dim, streams)
        g_params, d_params = self.gen.parameters(), self.disc.parameters()
        g_opt, d_opt = adam(g_params, s.lr, s.betas), adam(d_params, s.lr, s.betas)
        monitor = LossMonitor(n_members, self.name)
        rows = torch.arange(n_members, device=x.device)[:, None]
        b = s.batch_size
        step = 0
        for epoch in range(s.epochs):
            lr = s.lr * s.lr_decay ** (epoch // s.decay_every)
            for opt in (g_opt, d_opt):
                for group in opt.param_groups:
                    group["lr"] = lr
            order = streams.batches(n, b)
            for i in range(order.shape[1]):
                real = x[rows, order[:, i]]
                draw = self._step_draws(streams, dim)
                # discriminator step
                with torch.no_grad():
                    fake = self.gen(draw.z_disc, draw.gen_masks_disc)
                real = (real + s.noise * draw.noise).requires_grad_(True)
                fake.requires_grad_(True)
                d_real = self.disc(real, draw.real_masks)
                d_fake = self.disc(fake, draw.fake_masks)
                d_loss = self._discriminator_loss(real, fake, d_real, d_fake)
                descend(d_opt, d_params, d_loss, monitor, step)
                # generator step (the discriminator's weights held fixed)
                for p in d_params:
                    p.requires_grad_(False)
                fake = self.gen(draw.z_gen, draw.gen_masks_gen)
                logits = self.disc(fake, draw.disc_masks_gen)
                g_loss = F.softplus(-logits).mean(dim=1)  # −log D(G(z))
                for p in d_params:
                    p.requires_grad_(True)
                descend(g_opt, g_params, g_loss, monitor, step)
                step += 1
            if epoch % 10 == 0 or epoch == s.epochs - 1:
                monitor.record(torch.stack([d_loss, g_loss], dim=1))
        for p in (*g_params, *d_params):
            p.requires_grad_(False)
        return monitor

    def _step_draws(self, streams: MemberStreams, dim: int) -> _StepDraws:
        """A training step's random numbers, in the order of the seven draws the step once made.

        One draw per member instead of seven: ``torch.rand`` gives the same numbers for one
        draw of ``a + b`` as for a draw of ``a`` and then one of ``b`` from a generator (tested
        in tests/test_gan.py), so the members are those of seven draws to the bit, without the
        140 calls a block of 20 members made each step (9% of its time).
        """
        s = self.settings
        b = s.batch_size
        widths = list(s.hidden) if s.dropout > 0 else []
        masks = [(b, w) for w in widths]
        u = iter(streams.uniform((b, dim), (b, s.latent), *masks * 3, (b, s.latent), *masks * 2))

        def symmetric() -> Tensor:  # uniform on [−1, 1], as streams.uniform(low=-1.0, high=1.0)
            return -1.0 + 2.0 * next(u)

        def dropout() -> list[Tensor]:
            return as_dropout_masks([next(u) for _ in widths], s.dropout)

        noise, z_disc = symmetric(), symmetric()
        gen_disc, real, fake = dropout(), dropout(), dropout()
        z_gen = symmetric()
        return _StepDraws(noise, z_disc, gen_disc, real, fake, z_gen, dropout(), dropout())

    def _discriminator_loss(self, real: Tensor, fake: Tensor, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """Standard GAN loss plus Roth et al.'s regulariser, per member (K,)."""
        s = self.settings
        loss = F.softplus(-d_real).mean(dim=1) + F.softplus(d_fake).mean(dim=1)
        if s.gradient_penalty > 0:
            g_real, g_fake = torch.autograd.grad((d_real.sum(), d_fake.sum()), (real, fake), create_graph=True)
            p_real, p_fake = torch.sigmoid(d_real), torch.sigmoid(d_fake)
            reg = ((1 - p_real).square() * g_real.square().sum(-1)).mean(dim=1) + (
                p_fake.square() * g_fake.square().sum(-1)
            ).mean(dim=1)
            loss = loss + 0.5 * s.gradient_penalty * reg
        return loss

    def _sample_member(self, k: int, n: int, generator: torch.Generator) -> Tensor:
        s = self.settings
        z = (2.0 * torch.rand(n, s.latent, generator=generator, dtype=DTYPE) - 1.0).to(self.device)
        keep = 1.0 - s.dropout
        masks = [(torch.rand(n, w, generator=generator, dtype=DTYPE) < keep).to(DTYPE).to(self.device) / keep for w in s.hidden] if s.dropout > 0 else []
        return self.gen.member(k, z, masks)
