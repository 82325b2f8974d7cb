"""The models a study can run, by name.

``build(density, **settings)`` makes an untrained model for a toy truth; ``None`` stands for the
training set itself. ``sampled`` says whether the model's occupancies come from generated events
(and so depend on the n_gen grid) or are exact. ``settable`` gives the hyper-parameters a study
may set (:attr:`genamp.study.config.StudyConfig.settings`), with their defaults and limits.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from genamp.densities import Density
from genamp.errors import GenampError
from genamp.models.base import Generator, Limits
from genamp.models.fit import ParametricFit
from genamp.models.resample import Resampler

#: arguments of the Bayesian builds that are the study options of the same name (one value for
#: every Bayesian model of a study, in its posterior spread), not per-model settings
BAYESIAN_OPTIONS = ("kl_weight", "init_logvar")


@dataclass(frozen=True)
class Settable:
    """A model's hyper-parameters that a study may set: their defaults (whose types the given
    values take) and, where the model states them, their limits."""

    defaults: Mapping[str, Any]
    limits: Mapping[str, Limits] = field(default_factory=dict)

    @classmethod
    def of(cls, model: type, exclude: tuple[str, ...] = ()) -> Settable:
        """The keyword arguments of ``model``'s constructor with a number, a flag or a tuple of
        numbers as default, and the class's ``limits``."""
        defaults = {
            name: p.default
            for name, p in inspect.signature(model).parameters.items()
            if name not in exclude and isinstance(p.default, (bool, int, float, tuple))
        }
        return cls(defaults, getattr(model, "limits", {}))


@dataclass(frozen=True)
class ModelEntry:
    build: Callable[..., Any] | None
    sampled: bool
    description: str
    #: a network model whose repetitions train together as one vectorised model (fit_members;
    #: a :class:`~genamp.models.base.VectorisedGenerator`)
    vectorised: bool = False
    #: a Bayesian model: one training per repetition, fixed posterior draws as its generators
    #: (a :class:`~genamp.models.base.Posterior`); a Bayesian network's build (one with
    #: settings) also takes the KL weight and the initial log-variance of the weights
    #: (:data:`BAYESIAN_OPTIONS`), the Laplace fit's takes neither
    bayesian: bool = False
    #: a sampled generator that gives its log density (a :class:`~genamp.models.base.Likelihood`;
    #: the differential method needs it)
    likelihood: bool = False
    #: the hyper-parameters its build takes as keywords (a function: the networks' modules import
    #: torch, which the command line loads only when a network is used); ``None``: it takes none
    settable: Callable[[], Settable] | None = None
    #: the optional package it needs (an extra of genamp: ``genamp[lgatr]``), ``None``: none
    requires: str | None = None
    #: the coordinates it must train in (:data:`genamp.models.coordinates.COORDINATES`), ``None``: any
    coordinates: str | None = None

    @property
    def network(self) -> bool:
        """Whether it is a network (one with settings): what trains in a study's coordinates."""
        return self.settable is not None

    @property
    def ensembled(self) -> bool:
        """Whether ``--ensemble`` trains it several times per repetition (a sampled generator
        with a training; a Bayesian model spreads by posterior draws instead)."""
        return self.build is not None and self.sampled and not self.bayesian


# torch is imported only when a network is built: the command line starts fast without it
def _gan(density: Density, **settings: Any) -> Generator:
    from genamp.models.gan import CPU, GAN

    return GAN(CPU, **settings)


def _gan_paper(density: Density, **settings: Any) -> Generator:
    from genamp.models.gan import GAN, PAPER

    return GAN(PAPER, **settings)


def _cfm(density: Density, **settings: Any) -> Generator:
    from genamp.models.cfm import FlowMatching

    return FlowMatching(**settings)


def _flow(density: Density, **settings: Any) -> Generator:
    from genamp.models.flow import SplineFlow

    return SplineFlow(**settings)


def _bflow(density: Density, kl_weight: float = 1.0, init_logvar: float = -9.0, **settings: Any) -> Generator:
    from genamp.models.bayesian import BayesianSplineFlow

    return BayesianSplineFlow(kl_weight=kl_weight, init_logvar=init_logvar, **settings)


def _bfit(density: Density) -> Generator:
    from genamp.models.fit import LaplaceFit

    return LaplaceFit(density)


def _bcfm(density: Density, kl_weight: float = 1.0, init_logvar: float = -9.0, **settings: Any) -> Generator:
    from genamp.models.bayesian import BayesianFlowMatching

    return BayesianFlowMatching(kl_weight=kl_weight, init_logvar=init_logvar, **settings)


def _lgatr_cfm(density: Density, **settings: Any) -> Generator:
    from genamp.models.lgatr import LGATrFlowMatching

    check_requirement("lgatr-cfm")
    return LGATrFlowMatching(**settings)


@cache
def _gan_settable(preset: str) -> Settable:
    from genamp.models import gan

    return Settable(asdict(getattr(gan, preset)), gan.GAN.limits)


@cache
def _cfm_settable() -> Settable:
    from genamp.models.cfm import FlowMatching

    return Settable.of(FlowMatching)


@cache
def _flow_settable() -> Settable:
    from genamp.models.flow import SplineFlow

    return Settable.of(SplineFlow)


@cache
def _lgatr_cfm_settable() -> Settable:
    from genamp.models.lgatr import LGATrFlowMatching

    return Settable.of(LGATrFlowMatching)


@cache
def _bflow_settable() -> Settable:
    from genamp.models.bayesian import BayesianSplineFlow

    return Settable.of(BayesianSplineFlow, exclude=BAYESIAN_OPTIONS)


@cache
def _bcfm_settable() -> Settable:
    from genamp.models.bayesian import BayesianFlowMatching

    return Settable.of(BayesianFlowMatching, exclude=BAYESIAN_OPTIONS)


def check_requirement(model: str) -> None:
    """Nothing where ``model``'s optional package (:attr:`ModelEntry.requires`) can be imported;
    else one error that says what to install."""
    import importlib.util

    package = MODEL_REGISTRY[model].requires
    if package is not None and importlib.util.find_spec(package) is None:
        raise GenampError(
            f"{model} needs the {package} package, which is not installed: "
            f"pip install -c constraints.txt 'genamp[{package}]' (or pip install {package})"
        )


MODEL_REGISTRY: dict[str, ModelEntry] = {
    "sample": ModelEntry(None, sampled=False, description="the training set itself (G = 1 by construction)"),
    "fit": ModelEntry(ParametricFit, sampled=False, description="maximum-likelihood fit of the true family"),
    "bfit": ModelEntry(
        _bfit, sampled=True, bayesian=True, likelihood=True,
        description="the fit's Laplace posterior: draws of its parameters from the HESSE covariance",
    ),
    "resample": ModelEntry(lambda density: Resampler(), sampled=True, description="bootstrap of the training set"),
    "gan": ModelEntry(
        _gan, sampled=True, vectorised=True, description="the GANplification GAN, CPU default (shorter)",
        settable=lambda: _gan_settable("CPU"),
    ),
    "gan-paper": ModelEntry(
        _gan_paper, sampled=True, vectorised=True, description="the GANplification GAN as published (10 000 epochs: a GPU job)",
        settable=lambda: _gan_settable("PAPER"),
    ),
    "cfm": ModelEntry(
        _cfm, sampled=True, vectorised=True, likelihood=True, description="conditional flow matching, MLP velocity field",
        settable=_cfm_settable,
    ),
    "lgatr-cfm": ModelEntry(
        _lgatr_cfm, sampled=True, vectorised=True, likelihood=True, requires="lgatr", coordinates="objects",
        description="conditional flow matching, Lorentz-equivariant L-GATr velocity field (top pairs; the lgatr package)",
        settable=_lgatr_cfm_settable,
    ),
    "flow": ModelEntry(
        _flow, sampled=True, vectorised=True, likelihood=True, description="rational-quadratic spline flow (zuko NSF)",
        settable=_flow_settable,
    ),
    "bflow": ModelEntry(
        _bflow, sampled=True, bayesian=True, likelihood=True, description="Bayesian spline flow, posterior predictive",
        settable=_bflow_settable,
    ),
    "bcfm": ModelEntry(
        _bcfm, sampled=True, bayesian=True, likelihood=True, description="Bayesian flow matching, posterior predictive",
        settable=_bcfm_settable,
    ),
}
