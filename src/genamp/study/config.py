"""What a study is: density, models, resolutions, sizes, repetitions, seed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from genamp import _validate
from genamp.densities import Density, make_density
from genamp.errors import GenampError
from genamp.models.registry import MODEL_REGISTRY

METHODS = ("truth",)
PLATEAU_METHODS = ("corrected", "fit")

#: the generated-sample sizes of the MSE curve (nested prefixes of one stream per repetition)
#: (a network's plateau is reached near its n_equiv, a few hundred to a few thousand events at
#: n_train = 100; 3·10^4 keeps sampling within the default run's 5 minutes on 2 cores)
DEFAULT_N_GEN = (100, 300, 1_000, 3_000, 10_000, 30_000)


@dataclass(frozen=True)
class StudyConfig:
    """A truth-based amplification study (defaults: the GANplification camel back).

    Attributes
    ----------
    density, density_params:
        The toy truth, by name and parameters (see :func:`genamp.densities.make_density`).
    models:
        Names in :data:`genamp.models.registry.MODEL_REGISTRY`: ``sample`` (the training set
        itself), ``fit`` (the parametric benchmark), ``resample`` (the bootstrap generator),
        the networks ``gan``, ``gan-paper``, ``cfm``, ``flow`` and the Bayesian ``bflow``, ``bcfm``.
    quantiles:
        Truth quantiles per factorising coordinate, one grid per value.
    n_train:
        Training events per repetition.
    repetitions:
        Independent repetitions, each with a fresh training set and a fresh training.
    seed:
        Study seed; every random stream derives from it.
    n_gen:
        Generated-sample sizes of the MSE curve of a generator.
    plateau:
        ``corrected`` (bias-corrected MSE at the largest n_gen) or ``fit`` (B + a/n over the grid).
    """

    density: str = "camel"
    density_params: dict[str, Any] = field(default_factory=dict)
    models: tuple[str, ...] = ("sample", "fit", "cfm")
    methods: tuple[str, ...] = ("truth",)
    quantiles: tuple[int, ...] = (10, 20, 50)
    n_train: int = 100
    repetitions: int = 100
    seed: int = 1
    n_gen: tuple[int, ...] = DEFAULT_N_GEN
    plateau: str = "corrected"

    def __post_init__(self) -> None:
        # normalise and check everything up front: a bad value must fail before any work is done
        set_ = object.__setattr__
        set_(self, "models", _names(self.models, "model", tuple(MODEL_REGISTRY)))
        set_(self, "methods", _names(self.methods, "method", METHODS))
        set_(self, "quantiles", _validate.int_list(self.quantiles, "quantiles", minimum=2))
        set_(self, "n_train", _validate.positive_int(self.n_train, "n_train", minimum=2))
        set_(self, "repetitions", _validate.positive_int(self.repetitions, "repetitions", minimum=1))
        set_(self, "seed", _validate.positive_int(self.seed, "seed", minimum=0))
        n_gen = _validate.int_list(self.n_gen, "n_gen", minimum=2)
        if list(n_gen) != sorted(n_gen):
            raise GenampError(f"n_gen must increase, got {list(n_gen)}")
        set_(self, "n_gen", n_gen)
        if self.plateau not in PLATEAU_METHODS:
            raise GenampError(f"plateau must be one of {', '.join(PLATEAU_METHODS)}, got {self.plateau!r}")
        set_(self, "density_params", dict(self.density_params))
        density = self.make_density()
        cells = max(self.quantiles) ** density.dim
        if cells > 10**7:
            raise GenampError(
                f"{max(self.quantiles)} quantiles in {density.dim} dimensions make {cells:.1e} cells; "
                "use fewer quantiles"
            )

    def make_density(self) -> Density:
        return make_density(self.density, **self.density_params)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["density_spec"] = self.make_density().spec()
        return d


def _names(values: tuple[str, ...] | list[str], what: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    out = tuple(v.strip() for v in values if v.strip())
    if not out:
        raise GenampError(f"give at least one {what}")
    unknown = [v for v in out if v not in allowed]
    if unknown:
        raise GenampError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}")
    if len(set(out)) != len(out):
        raise GenampError(f"{what}s repeat in {', '.join(out)}")
    return out
