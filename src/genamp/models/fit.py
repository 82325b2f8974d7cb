"""The parametric-fit benchmark (docs/formulas.md §1.6, §5): maximum likelihood of the truth's own family.

A fit that knows the true functional form is the best a generator can hope to be; the seed
paper reports it worth roughly 300, 500 and 1000 true events at 10, 20 and 50 quantiles for 100
training points of the camel back. Its occupancies are exact integrals of the fitted density
over the cells (an infinite sample of the fit), from its CDF at the cell edges.

Families:

- camel back: ``f N(mu1, sigma1) + (1 − f) N(mu2, sigma2)``, five parameters. For the product
  of ``d`` camel backs the marginals are identical, so the maximum-likelihood fit of the product
  is the fit of all ``n_train · d`` coordinates pooled (a choice: the family with one shared
  camel back).
- ring and shell: the radius ``|x|`` as a normal truncated to ``r > 0`` (``mu``, ``sigma``); the
  direction is uniform by assumption, so angular occupancies are exact.

The negative log-likelihood is :class:`iminuit.cost.UnbinnedNLL`, minimised by MIGRAD from
several starting points (the best valid minimum wins); HESSE gives the covariance.
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
from iminuit import Minuit
from iminuit.cost import UnbinnedNLL
from scipy import special

from genamp import _validate
from genamp.densities import CamelBack, Density, Shell
from genamp.errors import FitFailed, GenampError
from genamp.seeding import SeedLike, child

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def camel_logpdf(x: np.ndarray, frac: float, mu1: float, sigma1: float, mu2: float, sigma2: float) -> np.ndarray:
    """Log density of the camel back ``frac N(mu1, sigma1) + (1 − frac) N(mu2, sigma2)``."""
    a = -0.5 * ((x - mu1) / sigma1) ** 2 - math.log(sigma1) + math.log(frac)
    b = -0.5 * ((x - mu2) / sigma2) ** 2 - math.log(sigma2) + math.log1p(-frac)
    return np.logaddexp(a, b) - _LOG_SQRT_2PI


def radial_logpdf(r: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """Log density of a normal truncated to ``r > 0``."""
    return (
        -0.5 * ((r - mu) / sigma) ** 2
        - math.log(sigma)
        - _LOG_SQRT_2PI
        - math.log(max(float(special.ndtr(mu / sigma)), 1e-300))
    )


def _camel_starts(data: np.ndarray) -> list[dict[str, float]]:
    """Starting points that split the data at several quantiles into two Gaussians."""
    s = float(data.std())
    starts = []
    for split in (0.5, 0.35, 0.65, 0.2, 0.8):
        cut = np.quantile(data, split)
        left, right = data[data <= cut], data[data > cut]
        if left.size < 2 or right.size < 2:
            continue
        starts.append(
            dict(
                frac=split,
                mu1=float(left.mean()),
                sigma1=max(float(left.std()), 0.05 * s),
                mu2=float(right.mean()),
                sigma2=max(float(right.std()), 0.05 * s),
            )
        )
    return starts


class ParametricFit:
    """Maximum-likelihood fit of a toy density's family to the training set.

    Parameters
    ----------
    family:
        The truth whose functional form is assumed known (its parameter values are not used,
        only its family and dimension).
    """

    name = "fit"

    def __init__(self, family: Density) -> None:
        if not isinstance(family, (CamelBack, Shell)):
            raise GenampError(f"no parametric fit is defined for the {family.name}")
        self.family = family
        self.fitted: Density | None = None
        self.values: dict[str, float] = {}
        self.errors: dict[str, float] = {}
        self.covariance: np.ndarray | None = None
        self.limits: dict[str, tuple[float, float]] = {}
        self.nll: float = math.nan

    def fit(self, x_train: np.ndarray, seed: SeedLike = None) -> Self:
        x = _validate.events(x_train, self.family.dim, what="training set", min_events=2)
        if isinstance(self.family, CamelBack):
            data = x.ravel()
            cost = UnbinnedNLL(data, camel_logpdf, log=True)
            s, lo, hi = float(data.std()), float(data.min()), float(data.max())
            limits = {
                "frac": (1e-4, 1.0 - 1e-4),
                "mu1": (lo - s, hi + s),
                "mu2": (lo - s, hi + s),
                "sigma1": (1e-3 * s, 10.0 * s),
                "sigma2": (1e-3 * s, 10.0 * s),
            }
            starts = _camel_starts(data)
        else:
            data = np.sqrt(np.einsum("ij,ij->i", x, x))
            cost = UnbinnedNLL(data, radial_logpdf, log=True)
            s = float(data.std())
            if s == 0.0:
                raise FitFailed("radial fit: all training events have the same radius")
            limits = {"sigma": (1e-3 * s, 10.0 * s)}
            starts = [dict(mu=float(data.mean()), sigma=s)]
        if not starts:
            raise FitFailed(f"{self.family.name} fit: too few distinct training events to start")
        best: Minuit | None = None
        for start in starts:
            m = Minuit(cost, **start)
            for par, lim in limits.items():
                m.limits[par] = lim
            m.migrad()
            if m.valid and (best is None or m.fval < best.fval):
                best = m
        if best is None:
            raise FitFailed(
                f"{self.family.name} fit did not converge from any of {len(starts)} starting points"
            )
        best.hesse()
        self.values = {k: float(v) for k, v in zip(best.parameters, best.values, strict=True)}
        self.errors = {k: float(v) for k, v in zip(best.parameters, best.errors, strict=True)}
        self.covariance = np.array(best.covariance) if best.covariance is not None else None
        self.limits = {par: limits.get(par, (-math.inf, math.inf)) for par in best.parameters}
        self.nll = float(best.fval)
        self.fitted = self.family.with_params(**self.values)
        return self

    def _require_fitted(self) -> Density:
        if self.fitted is None:
            raise GenampError("fit: call fit before using the fitted density")
        return self.fitted

    def sample(self, n: int, seed: SeedLike) -> np.ndarray:
        return self._require_fitted().sample(n, seed)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return self._require_fitted().log_prob(x)

    def cell_probabilities(self, grid: Any) -> np.ndarray:
        """Exact cell integrals of the fitted density (an infinite sample of the fit)."""
        return grid.probabilities_under(self._require_fitted())

    def info(self) -> dict[str, Any]:
        """Fitted values and their HESSE errors, for the record."""
        return {"values": self.values, "errors": self.errors, "nll": self.nll}


class LaplaceFit:
    """The fit's Laplace posterior: a Bayesian fit (``bfit``), the known answer for Bayesian generators.

    Laplace's method approximates the posterior of the parameters ``θ`` (flat prior) by the
    normal ``N(θ̂, V)`` around the maximum-likelihood point ``θ̂``, with ``V`` the inverse Hessian
    of the negative log-likelihood there: MIGRAD's minimum and HESSE's covariance
    (MacKay, *Information Theory, Inference, and Learning Algorithms*, 2003, Eq. 27.8). Its
    spread is the training set's statistical fluctuation, which the averaging forecast reads
    (docs/formulas.md §2): if the fit's family is the truth's, the truth is one more draw, so
    the forecast of its draws must calibrate, as a Bayesian network's should.

    - :meth:`draws` gives ``M`` fits with ``θ_m ~ N(θ̂, V)`` restricted to the fit's limits
      (a draw outside them, a width below zero say, is drawn again: the normal truncated to the
      parameters' domain), draw ``m`` a pure function of ``child(seed, m)``;
    - :meth:`sample` is the posterior predictive: a new ``θ`` for each block of ``block`` events;
    - :meth:`log_prob` is the density at ``θ̂``, the posterior's mean (as a Bayesian network's
      is its posterior-mean network's).

    Parameters
    ----------
    family:
        The truth whose functional form is assumed known (:class:`ParametricFit`).
    block:
        Events per parameter draw of the posterior predictive.
    """

    name = "bfit"

    def __init__(self, family: Density, block: int = 1000) -> None:
        self.mle = ParametricFit(family)
        self.block = block
        self._cholesky: np.ndarray | None = None

    def fit(self, x_train: np.ndarray, seed: SeedLike = None) -> Self:
        self.mle.fit(x_train, seed)
        cov = self.mle.covariance
        try:
            self._cholesky = np.linalg.cholesky(cov) if cov is not None else None
        except np.linalg.LinAlgError:
            self._cholesky = None
        if self._cholesky is None:
            raise FitFailed(f"{self.mle.family.name} fit: HESSE gave no positive-definite covariance for a Laplace posterior")
        return self

    def _theta(self, seed: SeedLike) -> dict[str, float]:
        """One draw ``θ ~ N(θ̂, V)`` inside the fit's limits."""
        if self._cholesky is None:
            raise GenampError("bfit: call fit before drawing from the posterior")
        names = list(self.mle.values)
        centre = np.array([self.mle.values[k] for k in names])
        low = np.array([self.mle.limits[k][0] for k in names])
        high = np.array([self.mle.limits[k][1] for k in names])
        gen = np.random.default_rng(seed)
        for _ in range(1000):
            theta = centre + self._cholesky @ gen.standard_normal(len(names))
            if np.all(theta > low) and np.all(theta < high):
                return dict(zip(names, theta.tolist(), strict=True))
        raise FitFailed(f"{self.mle.family.name} fit: its Laplace posterior lies outside the parameters' limits")

    def draws(self, n_draws: int, seed: SeedLike) -> list[LaplaceDraw]:
        """``n_draws`` fits with fixed parameters ``θ_m ~ N(θ̂, V)``."""
        return [LaplaceDraw(self.mle.family.with_params(**self._theta(child(seed, m))), m) for m in range(n_draws)]

    def sample(self, n: int, seed: SeedLike) -> np.ndarray:
        """``n`` events of the posterior predictive: block ``b`` from ``θ_b ~ N(θ̂, V)``."""
        parts = []
        for b, start in enumerate(range(0, n, self.block)):
            density = self.mle.family.with_params(**self._theta(child(seed, 0, b)))
            parts.append(density.sample(min(self.block, n - start), child(seed, 1, b)))
        return np.concatenate(parts) if parts else np.empty((0, self.mle.family.dim))

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return self.mle.log_prob(x)

    def info(self) -> dict[str, Any]:
        """The maximum-likelihood values and their HESSE errors, for the record."""
        return self.mle.info()


class LaplaceDraw:
    """One fit of the Laplace posterior: a density with fixed parameters ``θ_m``."""

    def __init__(self, density: Density, index: int) -> None:
        self.density = density
        self.name = f"bfit[draw {index}]"

    def fit(self, x_train: np.ndarray, seed: SeedLike = None) -> Self:
        raise GenampError("a draw of the Laplace posterior has fixed parameters: fit the bfit model instead")

    def sample(self, n: int, seed: SeedLike) -> np.ndarray:
        return self.density.sample(n, seed)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return self.density.log_prob(x)
