"""What a study is: density, models, their settings, resolutions, sizes, repetitions, seed."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from genamp import _validate
from genamp.densities import Density, make_density
from genamp.errors import GenampError
from genamp.estimators.averaging import SIGNIFICANCE
from genamp.models.base import ENSEMBLE_MODES
from genamp.models.registry import BAYESIAN_OPTIONS, MODEL_REGISTRY, Settable

METHODS = ("truth", "averaging", "differential")

#: members per repetition (ensembles) and posterior draws (Bayesian models) when the averaging
#: method is asked for without a number: enough to resolve the sum over a grid, not every volume
DEFAULT_MEMBERS = 10
PLATEAU_METHODS = ("corrected", "fit")

#: the generated-sample sizes of the MSE curve (nested prefixes of one stream per repetition)
#: (a network's plateau is reached near its n_equiv, a few hundred to a few thousand events at
#: n_train = 100; 3·10^4 keeps sampling within the default run's 5 minutes on 2 cores)
DEFAULT_N_GEN = (100, 300, 1_000, 3_000, 10_000, 30_000)

#: the holdout of a study with the averaging method where none is given, as a share of n_train:
#: measured on the ring at n_train = 1000, 200 held-out events caught 83% of trainings whose
#: forecast was 15–50× its truth and flagged none of 160 whose forecast closed (README)
DEFAULT_HOLDOUT = 0.2

#: defaults of the options that are ``None`` until resolved (``None``: not given by the user)
DEFAULTS: dict[str, Any] = {
    "ensemble_mode": "bootstrap",
    "kl_weight": 1.0,
    "init_logvar": -9.0,
    "significance": SIGNIFICANCE,
    "plateau": "corrected",
    "n_gen": DEFAULT_N_GEN,
}

#: the most events one generator may draw per repetition: counting alone runs at about 10^7
#: events per second and core, a network samples 10–100× slower, so more is no study
MAX_N_GEN = 10**9
#: the largest training set (10^8 events of one feature are 800 MB)
MAX_N_TRAIN = 10**8
#: every task of a study is planned up front
MAX_REPETITIONS = 100_000


@dataclass(frozen=True)
class StudyConfig:
    """A truth-based amplification study (defaults: the GANplification camel back).

    Attributes
    ----------
    density, density_params:
        The toy truth, by name and parameters (see :func:`genamp.densities.make_density`;
        ``camel`` unless a pool is given).
    pool, dataset:
        A file of true events instead of a toy (HDF5 or NumPy; ``dataset`` names its array): the
        repetitions' training sets are drawn from it, and the rows no repetition trained on are
        the truth (:mod:`genamp.study.pooltruth`, docs/formulas.md §7).
    observables, pairs:
        On a pool, the volumes: ``Q`` bins of each observable (feature names or ``x{i}``, or
        the physics observables of four-momenta, ``t_m``, ``Wp_m``, ``b_pt``: :mod:`genamp.physics`;
        every column by default), and ``Q × Q`` bins of each pair ``"a:b"``.
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
    methods:
        ``truth`` (docs/formulas.md §1) and/or ``averaging`` (docs/formulas.md §2); both read the same trained models.
    ensemble:
        Members per repetition of every non-Bayesian generator (0: one network per repetition;
        :data:`DEFAULT_MEMBERS` when ``averaging`` is asked for). The truth method then measures
        the members' mixture.
    ensemble_mode:
        ``bootstrap`` (members see bootstrap resamples of the training set; the default because
        only it carries the training set's own fluctuation, docs/formulas.md §2.6) or ``seed``.
    bayesian:
        Fixed posterior draws per repetition of a Bayesian model (``bflow``, ``bcfm``); 0: its
        posterior predictive with fresh weights per block (:data:`DEFAULT_MEMBERS` for averaging).
    kl_weight:
        Factor of the KL term of the Bayesian models (the calibration knob of their width).
    init_logvar:
        Initial log-variance of every Bayesian weight (zuko's −9; larger starts the posterior wider).
    significance:
        Standard errors σ²_model must lie above zero before the forecast gives a number.
    settings:
        Hyper-parameters per model, ``{"cfm": {"steps": 8000, "hidden": (64, 64)}}``: keywords of
        the model's constructor (:attr:`genamp.models.registry.ModelEntry.settable` names them),
        each read as the type of its default and checked against the model's limits. Those that
        differ from the defaults enter the model's task key; the Bayesian models' ``kl_weight``
        and ``init_logvar`` are the options above, not settings.
    holdout:
        True events per repetition that no member sees, to falsify the averaging forecast
        (docs/formulas.md §7.7): a count, or a fraction of ``n_train`` below 1 (``0.2``), kept
        as the count it gives; 0: none; ``None``: :data:`DEFAULT_HOLDOUT` of ``n_train`` with the
        averaging method, none without.
    coordinates:
        On a pool of top-pair four-momenta, what the networks train in: ``decay`` (the decay
        coordinates with the beam symmetry, :mod:`genamp.data.decay`) or ``objects``
        (``log pT, η, φ, log m`` per object, :mod:`genamp.data.coordinates`); generated events
        come back as four-momenta before they are counted. ``None``: the file's columns.

    Options left ``None`` take their value from :data:`DEFAULTS`. An option given for a study
    that does not use it (a KL weight without a Bayesian model, ``n_gen`` without a sampled
    model, a significance without the averaging method, an ensemble of the baselines) is an
    error, never silently ignored.
    """

    density: str | None = None
    density_params: dict[str, Any] = field(default_factory=dict)
    pool: str | None = None
    dataset: str | None = None
    observables: tuple[str, ...] | None = None
    pairs: tuple[str, ...] = ()
    models: tuple[str, ...] | None = None
    methods: tuple[str, ...] = ("truth",)
    quantiles: tuple[int, ...] = (10, 20, 50)
    n_train: int = 100
    repetitions: int = 100
    seed: int = 1
    n_gen: tuple[int, ...] | None = None
    plateau: str | None = None
    ensemble: int = 0
    ensemble_mode: str | None = None
    bayesian: int = 0
    kl_weight: float | None = None
    init_logvar: float | None = None
    significance: float | None = None
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    holdout: float | None = None
    coordinates: str | None = None

    def __post_init__(self) -> None:
        # normalise and check everything up front: a bad value must fail before any work is done
        set_ = object.__setattr__
        set_(self, "methods", _names(self.methods, "method", METHODS))
        averaging = "averaging" in self.methods
        differential = "differential" in self.methods
        if self.holdout and not averaging:
            raise GenampError("--holdout tests the averaging forecast: give --method averaging")
        if self.holdout is None:
            set_(self, "holdout", DEFAULT_HOLDOUT if averaging else 0)
        self._check_truth()
        if self.models is None:
            # the baselines have no spread of generators: a forecast-only study runs the network
            default = ("sample", "fit", "cfm") if "truth" in self.methods else ("cfm",)
            if self.pool is not None:
                default = tuple(m for m in default if m != "fit")
            set_(self, "models", default + (("bcfm",) if self.bayesian and "bcfm" not in default else ()))
        set_(self, "models", _names(self.models, "model", tuple(MODEL_REGISTRY)))
        set_(self, "settings", _settings(self.settings, self.models))
        set_(self, "ensemble", _validate.positive_int(self.ensemble, "ensemble", minimum=0))
        set_(self, "bayesian", _validate.positive_int(self.bayesian, "bayesian", minimum=0))
        self._check_options_apply()
        for name, default in DEFAULTS.items():
            if getattr(self, name) is None:
                set_(self, name, default)
        if self.ensemble_mode not in ENSEMBLE_MODES:
            raise GenampError(f"ensemble mode must be one of {', '.join(ENSEMBLE_MODES)}, got {self.ensemble_mode!r}")
        if not (np.isfinite(self.kl_weight) and self.kl_weight >= 0):
            raise GenampError(f"kl_weight must be a number ≥ 0, got {self.kl_weight}")
        if not (np.isfinite(self.init_logvar) and -30 <= self.init_logvar <= 5):
            raise GenampError(f"init_logvar must be a number between -30 and 5, got {self.init_logvar}")
        if not (np.isfinite(self.significance) and self.significance > 0):
            raise GenampError(f"significance must be a positive number, got {self.significance}")
        for name, value in (("ensemble", self.ensemble), ("bayesian", self.bayesian)):
            if value == 1:
                raise GenampError(f"--{name} 1 has no spread; give at least 2 (10 or more to resolve a forecast)")
        if differential and not any(MODEL_REGISTRY[m].likelihood for m in self.models or ("cfm",)):
            raise GenampError(
                "the differential method needs generators with a likelihood (cfm, flow, bflow, bcfm); "
                f"{', '.join(self.models or ())} have none"
            )
        if averaging or differential:
            entries = [MODEL_REGISTRY[m] for m in self.models]
            # only where a model takes it: a written config must read back as the same study
            if not self.ensemble and any(e.ensembled for e in entries):
                set_(self, "ensemble", DEFAULT_MEMBERS)
            if not self.bayesian and any(e.bayesian for e in entries):
                set_(self, "bayesian", DEFAULT_MEMBERS)
        if averaging:
            if not any(self.spread_of(m) for m in self.models):
                raise GenampError(
                    f"the averaging method needs generators whose spread it reads; {', '.join(self.models)} "
                    f"have none. Add a network (-m cfm, gan, flow, bcfm)"
                    + ("" if "truth" in self.methods else ", or --method truth,averaging for the baselines")
                )
        if "truth" not in self.methods:
            lacking = [m for m in self.models if not self.serves(m)]
            if lacking:
                raise GenampError(
                    f"{', '.join(lacking)} give(s) nothing to {' or '.join(self.methods)} (no spread of generators"
                    f"{' or likelihood' if differential else ''}); drop them or add --method truth,{','.join(self.methods)}"
                )
        set_(self, "quantiles", _validate.int_list(self.quantiles, "quantiles", minimum=2))
        set_(self, "n_train", _validate.positive_int(self.n_train, "n_train", minimum=2))
        if self.n_train > MAX_N_TRAIN:
            raise GenampError(f"n_train {self.n_train:.3g} is more than a study can hold (at most {MAX_N_TRAIN:.0e})")
        set_(self, "holdout", _holdout(self.holdout, self.n_train))
        set_(self, "repetitions", _validate.positive_int(self.repetitions, "repetitions", minimum=1))
        if self.repetitions > MAX_REPETITIONS:
            raise GenampError(
                f"{self.repetitions} repetitions are more than a study plans (at most {MAX_REPETITIONS}); "
                "100 give G to a few percent"
            )
        set_(self, "seed", _validate.positive_int(self.seed, "seed", minimum=0))
        n_gen = _validate.int_list(self.n_gen, "n_gen", minimum=2)
        if list(n_gen) != sorted(n_gen):
            raise GenampError(f"n_gen must increase, got {list(n_gen)}")
        if n_gen[-1] > MAX_N_GEN:
            raise GenampError(
                f"n_gen {n_gen[-1]:.3g} cannot be drawn: at most {MAX_N_GEN:.0e} events per generator and repetition "
                "(counting alone runs at about 10^7 events/s; a network samples far slower)"
            )
        set_(self, "n_gen", n_gen)
        if self.plateau not in PLATEAU_METHODS:
            raise GenampError(f"plateau must be one of {', '.join(PLATEAU_METHODS)}, got {self.plateau!r}")
        set_(self, "density_params", dict(self.density_params))
        if self.coordinates is not None and self.pool is None:
            raise GenampError("--coordinates applies to a pool of top-pair events (--pool FILE, or genamp run ttbar)")
        if self.pool is not None:
            self._check_pool()
        else:
            dim = self.make_density().dim
            cells = max(self.quantiles) ** dim
            if cells > 10**7:
                raise GenampError(
                    f"{max(self.quantiles)} quantiles in {dim} dimensions make {cells:.1e} cells; use fewer quantiles"
                )
        self._check_requirements()
        self._thin_volumes(self._volume_dim)  # an error where a volume holds no event

    def _check_requirements(self) -> None:
        """Each model's optional package and the coordinates it must train in: one error before any work."""
        from genamp.models.registry import check_requirement

        for m in self.models:
            entry = MODEL_REGISTRY[m]
            if entry.coordinates is not None and self.coordinates != entry.coordinates:
                where = f"the study's are {self.coordinates}" if self.coordinates else "the study has none (a pool of top pairs: --pool FILE)"
                raise GenampError(f"{m} trains in the {entry.coordinates} coordinates: give --coordinates {entry.coordinates} ({where})")
            check_requirement(m)

    def _check_truth(self) -> None:
        """One truth: a toy density (``camel`` by default) or a pool file, never both."""
        if self.pool is None:
            if self.dataset is not None or self.observables is not None or self.pairs:
                given = [n for n in ("dataset", "observables", "pairs") if getattr(self, n)]
                raise GenampError(f"--{', --'.join(given)} appl{'ies' if len(given) == 1 else 'y'} to a pool of events (--pool FILE)")
            if self.density is None:
                object.__setattr__(self, "density", "camel")
            return
        if self.density is not None or self.density_params:
            raise GenampError(
                f"a pool of events and the toy {self.density or 'density'} are two truths; give one "
                "(--pool FILE, or a toy name)"
            )
        for fit in ("fit", "bfit"):
            if fit in (self.models or ()):
                raise GenampError(f"{fit} is the parametric fit of a toy's true family; a pool of events has none (drop -m {fit})")

    def _check_pool(self) -> None:
        """The pool file, its observables and pairs, and that it keeps enough events as the truth."""
        from genamp.observables import pairs, select
        from genamp.study.pooltruth import MAX_TRAINING_SHARE, describe

        pool = describe(self.pool, self.dataset)
        object.__setattr__(self, "_pool_spec", pool)
        object.__setattr__(self, "pool", pool["path"])  # absolute: study.json reads back from anywhere
        dim, features = pool["dim"], pool["features"]
        if self.observables is not None:
            object.__setattr__(self, "observables", tuple(o.name for o in select(",".join(self.observables), dim, features)))
        if self.pairs:
            found = pairs(",".join(self.pairs), dim, features)
            object.__setattr__(self, "pairs", tuple(f"{a.name}:{b.name}" for a, b in found))
        used = self.repetitions * (self.n_train + self.holdout)
        if used > MAX_TRAINING_SHARE * pool["events"]:
            held = f" and {self.holdout} held out" if self.holdout else ""
            raise GenampError(
                f"{self.repetitions} repetitions of {self.n_train} training events{held} take {used} of the {pool['events']} "
                f"events of {self.pool}: more than {MAX_TRAINING_SHARE:.0%}, too few would be left as the truth; "
                "give fewer repetitions or a smaller n_train, or a larger pool"
            )
        if self.coordinates is not None:
            from genamp.models.coordinates import check_coordinates

            check_coordinates(self.coordinates, features, self.pool)
            if not any(MODEL_REGISTRY[m].network for m in self.models):
                raise GenampError(f"--coordinates are what the networks train in; {', '.join(self.models)} have none (add -m cfm)")
        rest = pool["events"] - used
        for q in self.quantiles:
            _validate.pool_events_per_volume(rest, q, 2 if self.pairs else 1, f"the pool {self.pool} less its training rows")

    @property
    def pool_spec(self) -> dict[str, Any] | None:
        """What a task spec says of the pool file (path, array, size, fingerprint), or ``None``."""
        return getattr(self, "_pool_spec", None)

    @property
    def _volume_dim(self) -> int:
        """Axes of the finest volumes: the toy's dimension, or 1 (2 with pairs) on a pool."""
        if self.pool is not None:
            return 2 if self.pairs else 1
        return self.make_density().dim

    @property
    def _sampled(self) -> bool:
        """Whether some model's occupancies come from generated events (and so from n_gen)."""
        return any(MODEL_REGISTRY[m].sampled for m in self.models or ())

    def _check_options_apply(self) -> None:
        """Refuse an option given for a study that does not use it (it would change nothing, silently)."""
        entries = {m: MODEL_REGISTRY[m] for m in self.models or ()}
        bayesian = [m for m, e in entries.items() if e.bayesian]
        chains = [m for m in entries if self.langevin(m)]
        variational = [m for m, e in entries.items() if e.bayesian and e.network and m not in chains]
        members = [m for m, e in entries.items() if e.ensembled]
        spread = "averaging" in self.methods or "differential" in self.methods
        given = ", ".join(entries)
        problems = []
        if self.ensemble and not members:
            problems.append(f"--ensemble applies to generators trained several times (resample, gan, cfm, flow), not to {given}")
        if self.ensemble_mode is not None and not (members and (self.ensemble or spread)):
            problems.append("--ensemble-mode applies to ensembles: give --ensemble K (or --method averaging) with a network")
        if self.bayesian and not bayesian:
            problems.append(f"--bayesian applies to the Bayesian models (bfit, bflow, bcfm), not to {given}")
        for name in ("kl_weight", "init_logvar"):
            if getattr(self, name) is not None and not variational:
                why = f" ({', '.join(chains)} draw{'s' if len(chains) == 1 else ''} by a Langevin chain: its setting chain > 0)" if chains else ""
                problems.append(f"--{name.replace('_', '-')} applies to the variational Bayesian models (bflow, bcfm), not to {given}{why}")
        for m in entries:
            if entries[m].bayesian and entries[m].network:
                chain_only = sorted({"temperature", "chain_keep", "chain_last", "chain_batch"} & set(self.settings.get(m, {})))
                if chain_only and not self.langevin(m):
                    problems.append(f"{m}.{chain_only[0]} applies to the Langevin chain: set {m}.chain to its steps")
                keep = self._setting(m, "chain_keep")
                if self.langevin(m) and self.bayesian and self.bayesian > keep:
                    problems.append(f"--bayesian {self.bayesian}: {m}'s chain keeps {keep} states (set {m}.chain_keep ≥ {self.bayesian})")
        if self.significance is not None and "averaging" not in self.methods:
            problems.append("--significance applies to the averaging forecast (--method averaging)")
        if self.plateau is not None and "truth" not in self.methods:
            problems.append("--plateau applies to the truth-based method (--method truth)")
        if self.n_gen is not None and not self._sampled:
            problems.append(f"--n-gen applies to generated samples; {given} have exact occupancies")
        if problems:
            raise GenampError("; ".join(problems))

    @property
    def warnings(self) -> tuple[str, ...]:
        """Settings that are legal but suspicious; they travel with the records and are printed."""
        return tuple(self._thin_volumes(self._volume_dim))

    def _thin_volumes(self, dim: int) -> list[str]:
        """Where the largest n_gen puts fewer than 10 events per volume (an error below one)."""
        if not self._sampled:
            return []
        thin = (_validate.events_per_volume(self.n_gen[-1], q, dim, "the largest n_gen") for q in self.quantiles)
        return [w for w in thin if w is not None]

    def _setting(self, model: str, name: str) -> Any:
        """The study's value of a model's setting, its default where not set."""
        return self.settings.get(model, {}).get(name, MODEL_REGISTRY[model].settable().defaults[name])  # type: ignore[misc]

    def langevin(self, model: str) -> bool:
        """Whether the Bayesian network ``model`` draws its posterior by a Langevin chain
        (its setting ``chain`` > 0) instead of variational inference."""
        entry = MODEL_REGISTRY[model]
        return entry.bayesian and entry.network and int(self._setting(model, "chain")) > 0

    def serves(self, model: str) -> bool:
        """Whether some method of the study gives ``model`` a record."""
        entry = MODEL_REGISTRY[model]
        return (
            "truth" in self.methods
            or ("averaging" in self.methods and self.spread_of(model) is not None)
            or ("differential" in self.methods and entry.likelihood)
        )

    def spread_of(self, model: str) -> dict[str, Any] | None:
        """How ``model`` is run as several generators per repetition, or ``None`` (one)."""
        entry = MODEL_REGISTRY[model]
        if entry.build is None or not entry.sampled:
            return None
        if entry.bayesian:
            if not self.bayesian:
                return None
            if not entry.network:  # the Laplace fit: no weights, no KL weight
                return {"draws": self.bayesian}
            if self.langevin(model):  # a chain's states: no KL weight either
                return {"draws": self.bayesian, "sampler": "langevin", "temperature": float(self._setting(model, "temperature"))}
            return {"draws": self.bayesian, "kl_weight": self.kl_weight, "init_logvar": self.init_logvar}
        return {"members": self.ensemble, "mode": self.ensemble_mode} if self.ensemble else None

    def options_of(self, model: str) -> dict[str, Any]:
        """What the model's build takes beyond the density, where it differs from the defaults
        (it enters the task key; at the defaults the key is the one of a study without them).

        These are the model's :attr:`settings` that differ from its defaults and, for a
        Bayesian model without posterior draws, ``kl_weight`` and ``init_logvar`` (they still
        shape its posterior predictive; with draws they are part of its spread).
        """
        entry = MODEL_REGISTRY[model]
        options = {}
        if entry.bayesian and entry.network and self.spread_of(model) is None and not self.langevin(model):
            bayesian = {"kl_weight": self.kl_weight, "init_logvar": self.init_logvar}
            if bayesian != {k: DEFAULTS[k] for k in bayesian}:
                options.update(bayesian)
        given = self.settings.get(model, {})
        if given:
            defaults = entry.settable().defaults  # type: ignore[misc]
            options.update({k: v for k, v in given.items() if v != defaults[k]})
        return options

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudyConfig:
        """The study of a ``config`` written by :meth:`to_dict` (study.json, results.json).

        Options at their default are given back as "not given": only those can have been
        resolved for a study that does not use them.
        """
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        for key, default in DEFAULTS.items():
            value = kwargs.get(key)
            if value is not None and (tuple(value) if isinstance(value, list) else value) == default:
                kwargs[key] = None
        for key in ("models", "methods", "quantiles", "n_gen", "observables", "pairs"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)  # settings: a list read back becomes a tuple by its default's type

    def make_density(self) -> Density:
        if self.density is None:
            raise GenampError("a study against a pool of events has no toy density")
        return make_density(self.density, **self.density_params)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.holdout and "averaging" not in self.methods:  # as before holdouts (0 with averaging is a choice)
            del d["holdout"]
        if self.coordinates is None:  # nor before coordinates
            del d["coordinates"]
        if self.pool is None:  # a toy study's config reads as it did before pools existed
            for name in ("pool", "dataset", "observables", "pairs"):
                del d[name]
            d["density_spec"] = self.make_density().spec()
        else:
            d["pool_spec"] = self.pool_spec
        return d


def _holdout(value: object, n_train: int) -> int:
    """The holdout's events per repetition: a count (``2000``), or a fraction of ``n_train``
    below 1 (``0.2``: a fifth of ``n_train``, at least one event)."""
    if isinstance(value, (float, np.floating)) and 0 < value < 1:
        return max(1, round(float(value) * n_train))
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise GenampError(f"holdout must be a count of events or a fraction of n_train below 1, got {value!r}")
    return _validate.positive_int(value, "holdout", minimum=0)


def _settings(settings: object, models: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The settings per model, each value of its default's type and within the model's limits."""
    if not isinstance(settings, Mapping):
        raise GenampError(f"settings must map model names to their settings (cfm: {{steps: 8000}}), got {settings!r}")
    settable = [m for m, e in MODEL_REGISTRY.items() if e.settable is not None]
    out: dict[str, dict[str, Any]] = {}
    for model, values in settings.items():
        if model not in MODEL_REGISTRY:
            raise GenampError(f"settings for an unknown model {model!r}; the models with settings are {', '.join(settable)}")
        entry = MODEL_REGISTRY[model]
        if entry.settable is None:
            raise GenampError(f"{model} takes no settings; the models with settings are {', '.join(settable)}")
        if model not in models:
            raise GenampError(
                f"settings for {model}, which is not a model of this study ({', '.join(models)}); "
                f"add it with --model or drop its settings"
            )
        if not isinstance(values, Mapping):
            raise GenampError(f"the settings of {model} must map names to values (steps: 8000), got {values!r}")
        known = entry.settable()
        checked = {key: _setting(model, key, value, known) for key, value in values.items()}
        if checked:
            out[model] = checked
    return out


def _setting(model: str, key: Any, value: object, known: Settable) -> Any:
    """One setting of ``model``, read as the type of its default and within its limits."""
    name = f"{model}.{key}"
    if key in BAYESIAN_OPTIONS and MODEL_REGISTRY[model].bayesian:
        raise GenampError(
            f"{name} is the study option {key} (--{key.replace('_', '-')}), one value for its Bayesian models; give it there"
        )
    if key not in known.defaults:
        raise GenampError(f"{model} has no setting {key!r}; its settings are {', '.join(known.defaults)}")
    read = _validate.coerce(value, _validate.kind_of(known.defaults[key]), name)
    limits = known.limits.get(key)
    if limits is None:
        return read
    elements = read if isinstance(read, tuple) else (read,)
    if limits.length is not None and len(elements) != limits.length:
        raise GenampError(f"{name} takes {limits.length} values, got {len(elements)}")
    if not all(limits.admits(v) for v in elements):
        if isinstance(read, tuple):
            raise GenampError(f"each of {name} must be {limits.describe()}, got {value!r}")
        raise GenampError(f"{name} must be {limits.describe()}, got {read!r}")
    return read


def _names(values: tuple[str, ...] | list[str], what: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    out = tuple(v.strip() for v in values)
    if not out:
        raise GenampError(f"give at least one {what}")
    if not all(out):
        raise GenampError(f"an empty {what} name in {', '.join(out)!r}; give names separated by single commas")
    unknown = [v for v in out if v not in allowed]
    if unknown:
        raise GenampError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}")
    if len(set(out)) != len(out):
        raise GenampError(f"{what}s repeat in {', '.join(out)}")
    return out


def read_config(path: Path) -> dict[str, Any]:
    """The study of a YAML file (``genamp run --config``): a mapping of :class:`StudyConfig`
    fields, each value read as its field's type (``quantiles: 10,20`` or ``[10, 20]``).

    Every problem is one :class:`GenampError` naming the file: unreadable, not YAML (or a key
    given twice), not a mapping, a key that is no field, a value of the wrong type. The file is
    read by ``yaml.safe_load``: plain data, never Python objects.
    """
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GenampError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise GenampError(f"{path}: is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        raise GenampError(f"{path}: is not a text file (YAML is UTF-8 text)") from None
    except OSError as exc:
        raise GenampError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        _no_repeated_keys(yaml.compose(text, Loader=yaml.SafeLoader), path)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise GenampError(f"{path}: is not valid YAML ({_yaml_problem(exc)})") from None
    if data is None:
        raise GenampError(f"{path}: holds no settings; give a mapping such as 'models: [cfm]' and 'n_train: 100'")
    if not isinstance(data, dict):
        raise GenampError(
            f"{path}: holds {type(data).__name__} {data!r:.40}, not a mapping of study settings "
            "(lines such as 'n_train: 100')"
        )
    kinds = _field_kinds()
    unknown = [repr(k) for k in data if k not in kinds]
    if unknown:
        raise GenampError(f"{path}: unknown key {', '.join(unknown)}; the keys are {', '.join(kinds)}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        kind, optional = kinds[key]
        name = f"{path}: {key}"
        if value is None and optional:
            out[key] = None
        elif kind is dict:
            if not isinstance(value, dict):
                raise GenampError(f"{name} must be a mapping (key: value lines), got {value!r}")
            out[key] = value if key == "settings" else {
                str(k): v if isinstance(v, int) and not isinstance(v, bool) else _validate.coerce(v, float, f"{name}.{k}")
                for k, v in value.items()
            }  # fmt: skip
        else:
            out[key] = _validate.coerce(value, kind, name)
    return out


def _field_kinds() -> dict[str, tuple[Any, bool]]:
    """Each field of a study: the kind of its value (see :func:`genamp._validate.coerce`, or
    ``dict``) and whether it may be left ``None``, from the dataclass's annotations."""
    out = {}
    for name, hint in typing.get_type_hints(StudyConfig).items():
        args = typing.get_args(hint)
        optional = isinstance(hint, types.UnionType) and type(None) in args
        if optional:
            (hint,) = (a for a in args if a is not type(None))
        origin = typing.get_origin(hint)
        if origin is tuple:
            out[name] = ((tuple, typing.get_args(hint)[0]), optional)
        else:
            out[name] = (origin or hint, optional)
    return out


def _no_repeated_keys(node: Any, path: Path) -> None:
    """A key given twice in one mapping is an error (PyYAML would keep the last, silently)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise GenampError(
                        f"{path}: is not valid YAML (key {key.value!r} given twice, on lines "
                        f"{seen[key.value] + 1} and {key.start_mark.line + 1})"
                    )
                seen[key.value] = key.start_mark.line
            _no_repeated_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _no_repeated_keys(item, path)


def _yaml_problem(exc: Exception) -> str:
    """PyYAML's message on one line: what is wrong, and where."""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(str(problem).split()) + where

