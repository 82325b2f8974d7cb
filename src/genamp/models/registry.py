"""The models a study can run, by name.

``build`` makes an untrained model for a toy truth; ``None`` stands for the training set
itself. ``sampled`` says whether the model's occupancies come from generated events (and so
depend on the n_gen grid) or are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from genamp.densities import Density
from genamp.models.base import Generator
from genamp.models.fit import ParametricFit
from genamp.models.resample import Resampler


@dataclass(frozen=True)
class ModelEntry:
    build: Callable[[Density], Any] | None
    sampled: bool
    description: str
    #: a network model whose repetitions train together as one vectorised model (fit_members)
    vectorised: bool = False
    #: a Bayesian network: one training per repetition, fixed posterior draws as its generators;
    #: its build takes the KL weight and the initial log-variance of the weights
    bayesian: bool = False
    #: the generators give their log density (the differential method needs it)
    likelihood: bool = False

    @property
    def ensembled(self) -> bool:
        """Whether ``--ensemble`` trains it several times per repetition (a sampled generator
        with a training; a Bayesian model spreads by posterior draws instead)."""
        return self.build is not None and self.sampled and not self.bayesian


# torch is imported only when a network is built: the command line starts fast without it
def _gan(density: Density) -> Generator:
    from genamp.models.gan import GAN

    return GAN()


def _gan_paper(density: Density) -> Generator:
    from genamp.models.gan import GAN, PAPER

    return GAN(PAPER)


def _cfm(density: Density) -> Generator:
    from genamp.models.cfm import FlowMatching

    return FlowMatching()


def _flow(density: Density) -> Generator:
    from genamp.models.flow import SplineFlow

    return SplineFlow()


def _bflow(density: Density, kl_weight: float = 1.0, init_logvar: float = -9.0) -> Generator:
    from genamp.models.bayesian import BayesianSplineFlow

    return BayesianSplineFlow(kl_weight=kl_weight, init_logvar=init_logvar)


def _bcfm(density: Density, kl_weight: float = 1.0, init_logvar: float = -9.0) -> Generator:
    from genamp.models.bayesian import BayesianFlowMatching

    return BayesianFlowMatching(kl_weight=kl_weight, init_logvar=init_logvar)


MODEL_REGISTRY: dict[str, ModelEntry] = {
    "sample": ModelEntry(None, sampled=False, description="the training set itself (G = 1 by construction)"),
    "fit": ModelEntry(ParametricFit, sampled=False, description="maximum-likelihood fit of the true family"),
    "resample": ModelEntry(lambda density: Resampler(), sampled=True, description="bootstrap of the training set"),
    "gan": ModelEntry(_gan, sampled=True, vectorised=True, description="the GANplification GAN, CPU default (shorter)"),
    "gan-paper": ModelEntry(
        _gan_paper, sampled=True, vectorised=True, description="the GANplification GAN as published (10 000 epochs: a GPU job)"
    ),
    "cfm": ModelEntry(_cfm, sampled=True, vectorised=True, likelihood=True, description="conditional flow matching, MLP velocity field"),
    "flow": ModelEntry(_flow, sampled=True, vectorised=True, likelihood=True, description="rational-quadratic spline flow (zuko NSF)"),
    "bflow": ModelEntry(_bflow, sampled=True, bayesian=True, likelihood=True, description="Bayesian spline flow, posterior predictive"),
    "bcfm": ModelEntry(_bcfm, sampled=True, bayesian=True, likelihood=True, description="Bayesian flow matching, posterior predictive"),
}
