"""Toy densities with known truth (docs/formulas.md §6).

Each density has a seeded sampler, an exact ``log_prob``, and a set of *factorising
coordinates* ``u = to_factorised(x)`` in which the truth is a product of one-dimensional
marginals with exact CDF and quantile function. Quantile grids are built in those coordinates
(docs/formulas.md §1.1), so every cell probability is known exactly:

- :class:`CamelBack`: the 1D camel back ``f N(mu1, sigma1) + (1 - f) N(mu2, sigma2)``
  (default ``N(-4, 1)`` and ``N(4, 1)`` with equal weights, a choice of docs/formulas.md §6), and in ``d``
  dimensions the product of ``d`` independent camel backs; factorising coordinates are the
  Cartesian ones.
- :class:`Shell`: radius ``r ~ N(mu, sigma)`` truncated to ``r > 0``, direction uniform on the
  sphere; in two dimensions this is the Gaussian ring (:func:`ring`). Factorising coordinates
  are hyperspherical ``(r, theta_1 .. theta_{d-2}, phi)``, where ``theta_k`` has density
  ``∝ sin^(d-1-k) theta_k`` on ``[0, pi]`` and ``phi`` is uniform on ``[0, 2 pi)``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from scipy import optimize, special

from genamp import _validate
from genamp.errors import GenampError
from genamp.seeding import SeedLike, rng

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _norm_logpdf(z: np.ndarray) -> np.ndarray:
    return -0.5 * z * z - _LOG_SQRT_2PI


class Density(ABC):
    """A density of events in ``R^dim`` with known truth in factorising coordinates."""

    #: short name used in results and on the command line
    name: str
    #: ``"cartesian"`` or ``"spherical"``: which transform ``to_factorised`` applies
    coordinates: str

    #: number of features; concrete densities are frozen dataclasses with this field
    n_dim: int

    @property
    def dim(self) -> int:
        """Number of features of an event."""
        return self.n_dim

    @property
    @abstractmethod
    def axis_names(self) -> tuple[str, ...]:
        """Names of the factorising coordinates."""

    @abstractmethod
    def sample(self, n: int, seed: SeedLike) -> np.ndarray:
        """``n`` events, shape (n, dim); a pure function of ``seed``."""

    @abstractmethod
    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Exact log density at events ``x`` of shape (n, dim)."""

    @abstractmethod
    def to_factorised(self, x: np.ndarray) -> np.ndarray:
        """Events in the coordinates where the truth factorises, shape (n, dim)."""

    @abstractmethod
    def marginal_cdf(self, axis: int, u: np.ndarray) -> np.ndarray:
        """Exact CDF of factorising coordinate ``axis``."""

    @abstractmethod
    def marginal_ppf(self, axis: int, q: np.ndarray) -> np.ndarray:
        """Exact quantile function of factorising coordinate ``axis``."""

    @abstractmethod
    def marginal_support(self, axis: int) -> tuple[float, float]:
        """Range of factorising coordinate ``axis``."""

    def quantile_edges(self, quantiles: int, axis: int) -> np.ndarray:
        """The ``quantiles + 1`` edges that cut ``axis`` into bins of probability ``1/quantiles``."""
        q = _validate.positive_int(quantiles, "quantiles", minimum=2)
        edges = self.marginal_ppf(axis, np.linspace(0.0, 1.0, q + 1))
        edges[0], edges[-1] = self.marginal_support(axis)
        return edges

    def params(self) -> dict[str, Any]:
        """The parameters that define this density (also its fit's free parameters)."""
        p = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        p["dim"] = p.pop("n_dim")
        return p

    def with_params(self, **params: Any) -> Density:
        """The same family with other parameter values (a fit result is one)."""
        if "dim" in params:
            params["n_dim"] = params.pop("dim")
        return replace(self, **params)  # type: ignore[type-var]

    def spec(self) -> dict[str, Any]:
        """Name and parameters: enough to rebuild the density with :func:`make_density`."""
        return {"name": self.name, **self.params()}

    def _events(self, x: np.ndarray) -> np.ndarray:
        return _validate.events(x, self.dim)


@dataclass(frozen=True)
class CamelBack(Density):
    """Product of ``dim`` independent camel backs ``f N(mu1, sigma1) + (1 - f) N(mu2, sigma2)``."""

    n_dim: int = 1
    mu1: float = -4.0
    sigma1: float = 1.0
    mu2: float = 4.0
    sigma2: float = 1.0
    frac: float = 0.5

    coordinates = "cartesian"

    def __post_init__(self) -> None:
        _validate.positive_int(self.n_dim, "dim", minimum=1)
        if not (self.sigma1 > 0 and self.sigma2 > 0):
            raise GenampError(f"camel back widths must be positive, got {self.sigma1}, {self.sigma2}")
        if not 0.0 <= self.frac <= 1.0:
            raise GenampError(f"camel back fraction must lie in [0, 1], got {self.frac}")
        if not all(math.isfinite(v) for v in (self.mu1, self.mu2)):
            raise GenampError("camel back means must be finite")

    @property
    def name(self) -> str:  # type: ignore[override]
        return "camel" if self.n_dim == 1 else "camels"

    @property
    def axis_names(self) -> tuple[str, ...]:
        return ("x",) if self.n_dim == 1 else tuple(f"x{i + 1}" for i in range(self.n_dim))

    def sample(self, n: int, seed: SeedLike) -> np.ndarray:
        g = rng(seed)
        first = g.random((n, self.n_dim)) < self.frac
        z = g.standard_normal((n, self.n_dim))
        return np.where(first, self.mu1 + self.sigma1 * z, self.mu2 + self.sigma2 * z)

    def _log_pdf_1d(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            a = math.log(self.frac) if self.frac > 0 else -np.inf
            b = math.log1p(-self.frac) if self.frac < 1 else -np.inf
        la = a + _norm_logpdf((x - self.mu1) / self.sigma1) - math.log(self.sigma1)
        lb = b + _norm_logpdf((x - self.mu2) / self.sigma2) - math.log(self.sigma2)
        return np.logaddexp(la, lb)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return self._log_pdf_1d(self._events(x)).sum(axis=1)

    def to_factorised(self, x: np.ndarray) -> np.ndarray:
        return self._events(x)

    def marginal_cdf(self, axis: int, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        return self.frac * special.ndtr((u - self.mu1) / self.sigma1) + (
            1.0 - self.frac
        ) * special.ndtr((u - self.mu2) / self.sigma2)

    def marginal_ppf(self, axis: int, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        out = np.empty_like(q)
        lo = min(self.mu1, self.mu2) - 40.0 * max(self.sigma1, self.sigma2)
        hi = max(self.mu1, self.mu2) + 40.0 * max(self.sigma1, self.sigma2)
        for i, qi in np.ndenumerate(q):
            if qi <= 0.0:
                out[i] = -np.inf
            elif qi >= 1.0:
                out[i] = np.inf
            else:
                out[i] = optimize.brentq(
                    lambda t, qi=qi: float(self.marginal_cdf(axis, np.float64(t))) - qi,
                    lo,
                    hi,
                    xtol=1e-14,
                    rtol=4.0 * np.finfo(float).eps,
                    maxiter=500,
                )
        return out

    def marginal_support(self, axis: int) -> tuple[float, float]:
        return (-np.inf, np.inf)



@dataclass(frozen=True)
class Shell(Density):
    """Radius ``r ~ N(mu, sigma)`` truncated to ``r > 0``, direction uniform on ``S^(dim-1)``."""

    n_dim: int = 3
    mu: float = 4.0
    sigma: float = 1.0

    coordinates = "spherical"

    def __post_init__(self) -> None:
        _validate.positive_int(self.n_dim, "dim", minimum=2)
        if not self.sigma > 0:
            raise GenampError(f"shell width must be positive, got {self.sigma}")
        if not math.isfinite(self.mu):
            raise GenampError("shell radius must be finite")

    @property
    def name(self) -> str:  # type: ignore[override]
        return "ring" if self.n_dim == 2 else "shell"

    @property
    def axis_names(self) -> tuple[str, ...]:
        thetas = tuple(f"theta{k}" for k in range(1, self.n_dim - 1))
        return ("r", *thetas, "phi")

    # --- radius: normal truncated to r > 0 -------------------------------------------------
    @property
    def _cdf_at_zero(self) -> float:
        return float(special.ndtr(-self.mu / self.sigma))

    @property
    def _norm_radial(self) -> float:
        return float(special.ndtr(self.mu / self.sigma))

    def _sample_radius(self, n: int, g: np.random.Generator) -> np.ndarray:
        r = self.mu + self.sigma * g.standard_normal(n)
        bad = r <= 0.0
        while bad.any():  # rejection keeps the truncated normal exact
            r[bad] = self.mu + self.sigma * g.standard_normal(int(bad.sum()))
            bad = r <= 0.0
        return r

    def _log_radial(self, r: np.ndarray) -> np.ndarray:
        return (
            _norm_logpdf((r - self.mu) / self.sigma)
            - math.log(self.sigma)
            - math.log(self._norm_radial)
        )

    def sample(self, n: int, seed: SeedLike) -> np.ndarray:
        g = rng(seed)
        r = self._sample_radius(n, g)
        direction = g.standard_normal((n, self.n_dim))
        norm = np.sqrt(np.einsum("ij,ij->i", direction, direction))
        while (norm == 0.0).any():  # probability zero in exact arithmetic, guard anyway
            zero = norm == 0.0
            direction[zero] = g.standard_normal((int(zero.sum()), self.n_dim))
            norm = np.sqrt(np.einsum("ij,ij->i", direction, direction))
        return direction * (r / norm)[:, None]

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        x = self._events(x)
        r = np.sqrt(np.einsum("ij,ij->i", x, x))
        d = self.n_dim
        log_area = math.log(2.0) + 0.5 * d * math.log(math.pi) - special.gammaln(0.5 * d)
        with np.errstate(divide="ignore"):
            return self._log_radial(r) - (d - 1) * np.log(r) - log_area

    def to_factorised(self, x: np.ndarray) -> np.ndarray:
        x = self._events(x)
        d = self.n_dim
        u = np.empty_like(x)
        # tail[:, i] = |(x_i, ..., x_d)|
        tail = np.sqrt(np.cumsum(x[:, ::-1] ** 2, axis=1)[:, ::-1])
        u[:, 0] = tail[:, 0]
        for i in range(d - 2):
            u[:, i + 1] = np.arctan2(tail[:, i + 1], x[:, i])
        phi = np.arctan2(x[:, d - 1], x[:, d - 2])
        u[:, d - 1] = np.where(phi < 0.0, phi + 2.0 * np.pi, phi)
        return u

    def _theta_shape(self, axis: int) -> float:
        # theta_k (axis k) has density ∝ sin^m with m = d - 1 - k; (1 - cos theta)/2 = sin²(theta/2)
        # is then Beta(a, a) with a = (m + 1) / 2.
        return 0.5 * (self.n_dim - axis)

    def marginal_cdf(self, axis: int, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        if axis == 0:
            c = (special.ndtr((u - self.mu) / self.sigma) - self._cdf_at_zero) / self._norm_radial
            return np.clip(c, 0.0, 1.0)
        if axis == self.n_dim - 1:
            return np.clip(u / (2.0 * np.pi), 0.0, 1.0)
        a = self._theta_shape(axis)
        return special.betainc(a, a, np.sin(0.5 * np.clip(u, 0.0, np.pi)) ** 2)

    def marginal_ppf(self, axis: int, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        if axis == 0:
            r = self.mu + self.sigma * special.ndtri(self._cdf_at_zero + q * self._norm_radial)
            return np.maximum(r, 0.0)
        if axis == self.n_dim - 1:
            return 2.0 * np.pi * q
        a = self._theta_shape(axis)
        return 2.0 * np.arcsin(np.sqrt(special.betaincinv(a, a, q)))

    def marginal_support(self, axis: int) -> tuple[float, float]:
        if axis == 0:
            return (0.0, np.inf)
        if axis == self.n_dim - 1:
            return (0.0, 2.0 * np.pi)
        return (0.0, np.pi)



def _fixed_dim(params: dict[str, Any], name: str, dim: int, other: str) -> None:
    """A toy of one dimension refuses another (it would silently become a different toy)."""
    given = params.pop("dim", dim)
    if given != dim:
        raise GenampError(f"the {name} is {dim}-dimensional: --dim {given:g} does not apply ({other})")


def _least_dim(params: dict[str, Any], name: str, least: int, default: int, other: str) -> int:
    dim = _validate.positive_int(params.pop("dim", default), "dim", minimum=1)
    if dim < least:
        raise GenampError(f"the {name} needs --dim of at least {least}, got {dim} ({other})")
    return dim


def camel(**params: Any) -> CamelBack:
    """The 1D camel back (docs/formulas.md §6 defaults)."""
    _fixed_dim(params, "camel back", 1, "camels is the product of d camel backs: genamp run camels --dim d")
    return CamelBack(n_dim=1, **params)


def ring(**params: Any) -> Shell:
    """The 2D Gaussian ring: ``r ~ N(4, 1)`` (truncated to ``r > 0``), uniform angle."""
    _fixed_dim(params, "ring", 2, "shell is the Gaussian shell in d ≥ 3 dimensions: genamp run shell --dim d")
    return Shell(n_dim=2, **params)


def shell(**params: Any) -> Shell:
    """The d-dimensional Gaussian shell (default d = 3)."""
    return Shell(n_dim=_least_dim(params, "shell toy", 3, 3, "in two dimensions it is the ring: genamp run ring"), **params)


def camels(**params: Any) -> CamelBack:
    """The product of d camel backs (default d = 2)."""
    return CamelBack(n_dim=_least_dim(params, "camels toy", 2, 2, "in one dimension it is the camel: genamp run camel"), **params)


DENSITIES = {"camel": camel, "ring": ring, "shell": shell, "camels": camels}
#: the density of each toy name, whose fields (but ``n_dim``: the ``dim`` option) are its parameters
_FAMILIES: dict[str, type[Density]] = {"camel": CamelBack, "ring": Shell, "shell": Shell, "camels": CamelBack}
_HAS_DIM = {"shell", "camels"}


def parameters(name: str) -> tuple[str, ...]:
    """The parameters a toy takes, in the user's words (``dim`` where its dimension is free)."""
    names = tuple(f.name for f in fields(_FAMILIES[name]) if f.name != "n_dim")  # type: ignore[arg-type]
    return names + (("dim",) if name in _HAS_DIM else ())


def make_density(name: str, **params: Any) -> Density:
    """A toy density by name (``camel``, ``ring``, ``shell``, ``camels``) and parameters."""
    try:
        factory = DENSITIES[name]
    except KeyError:
        raise GenampError(
            f"unknown density {name!r}; choose one of {', '.join(DENSITIES)}"
        ) from None
    allowed = parameters(name)
    unknown = [k for k in params if k not in allowed and not (k == "dim" and name not in _HAS_DIM)]
    if unknown:
        raise GenampError(
            f"{name} has no parameter {', '.join(repr(k) for k in unknown)}; "
            f"its parameters are {', '.join(allowed)}"
        )
    return factory(**params)
