"""How many events to generate (docs/formulas.md §7.6).

A generated sample of ``n`` events is worth ``n_equiv(n)`` true events with

    1/n_equiv(n) = 1/n + 1/n_equiv,∞ ,

so it reaches a fraction ``f`` of its asymptote ``n_equiv,∞`` at ``n = n_equiv,∞ · f/(1 − f)``:
9 × n_equiv,∞ at 90%, 19 × at 95%. Beyond ``n_gen_90`` (``f`` = 0.9, the default) generating more
gains less than 10% of what the sample can ever be worth.

What to use when:

- :func:`n_gen_for`: the formula, on any ``n_equiv,∞`` (an averaging forecast's, a truth-based
  plateau's), arrays or numbers;
- :func:`advise`: one record's advice, with its standard error, and a *bound* where
  ``n_equiv,∞`` is itself only a lower bound (then so is the advice: more events keep paying at
  least up to it);
- :func:`overall`: over a model's records (observables, resolutions), the one that saturates
  first, which limits what more events can buy, and the one that saturates last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from genamp.errors import GenampError

__all__ = ["FRACTION", "GenerationAdvice", "advise", "n_gen_for", "overall"]

#: default fraction of the asymptote: beyond it more events gain less than 10%
FRACTION = 0.9


def _factor(fraction: float) -> float:
    if not 0.0 < fraction < 1.0:
        raise GenampError(f"the fraction of n_equiv,∞ must lie in (0, 1), got {fraction}")
    return fraction / (1.0 - fraction)


def n_gen_for(n_equiv_inf: np.ndarray | float, fraction: float = FRACTION) -> np.ndarray | float:
    """Events at which ``n_equiv(n)`` reaches ``fraction`` of ``n_equiv,∞``: ``n_equiv,∞ f/(1 − f)``
    (docs/formulas.md §7.6); infinite where ``n_equiv,∞`` is."""
    return np.multiply(n_equiv_inf, _factor(fraction))


@dataclass(frozen=True)
class GenerationAdvice:
    """Generating more than ``n_gen`` events gains less than ``1 − fraction`` of the asymptote.

    ``bound``: ``n_equiv,∞`` was only a lower bound, so ``n_gen`` is one too (more events keep
    gaining at least up to it) and has no standard error. ``n_gen`` is ``None`` where nothing is
    known.
    """

    n_gen: float | None
    n_gen_std: float | None
    bound: bool
    fraction: float = FRACTION

    def to_record(self, prefix: str = "n_gen_90") -> dict[str, Any]:
        """The record's fields: ``n_gen_90``, ``n_gen_90_std``, ``n_gen_90_bound``."""
        return {prefix: self.n_gen, f"{prefix}_std": self.n_gen_std, f"{prefix}_bound": self.bound}


def _finite(x: float | None) -> bool:
    return x is not None and bool(np.isfinite(x)) and x > 0


def advise(
    n_equiv_inf: float | None, n_equiv_inf_std: float | None = None, lower: float | None = None, fraction: float = FRACTION
) -> GenerationAdvice:
    """The advice from ``n_equiv,∞`` (with its standard error), else from a lower bound on it."""
    k = _factor(fraction)
    if _finite(n_equiv_inf):
        std = k * n_equiv_inf_std if n_equiv_inf_std is not None and np.isfinite(n_equiv_inf_std) else None  # type: ignore[operator]
        return GenerationAdvice(k * float(n_equiv_inf), std, False, fraction)  # type: ignore[arg-type]
    if _finite(lower):
        return GenerationAdvice(k * float(lower), None, True, fraction)  # type: ignore[arg-type]
    return GenerationAdvice(None, None, False, fraction)


def _where(rec: dict[str, Any]) -> str:
    place = f"{rec['observable']} at Q = {rec['quantiles']}" if rec.get("observable") else f"Q = {rec['quantiles']}"
    return f"{place}, {'averaging forecast' if rec.get('method') == 'averaging' else 'truth-based'}"


def _events(rec: dict[str, Any]) -> str:
    std = rec.get("n_gen_90_std")
    return f"{rec['n_gen_90']:.3g}" + (f" ± {std:.2g}" if std is not None and np.isfinite(std) else "")


def overall(records: list[dict[str, Any]], fraction: float = FRACTION) -> dict[str, Any] | None:
    """A model's advice over its records (JSON records carrying ``n_gen_90``, ``n_gen_90_bound``).

    The averaging forecast speaks where it has a number, else the truth-based measurement. The
    record with the smallest ``n_gen_90`` saturates first: beyond it, more events gain less than
    10% where the generator is weakest (``limit``). The largest says when every observable and
    resolution has saturated (``all``); a bound among them makes that one a bound too. ``None`` where no record
    has advice.
    """
    chosen = [r for r in records if r.get("method") == "averaging" and r.get("n_gen_90") is not None]
    if not chosen:
        chosen = [r for r in records if r.get("method") == "truth" and r.get("n_gen_90") is not None]
    if not chosen:
        return None
    numbers = [r for r in chosen if not r.get("n_gen_90_bound")]
    first = min(numbers or chosen, key=lambda r: r["n_gen_90"])
    last = max(chosen, key=lambda r: r["n_gen_90"])
    pct = f"{100 * (1 - fraction):.0f}%"
    if first.get("n_gen_90_bound"):  # every record is a bound
        text = f"nothing is seen to saturate: more events keep adding {pct} or more up to at least {first['n_gen_90']:.3g} ({_where(first)})"
    else:
        text = f"generating more than {_events(first)} events adds less than {pct} where the generator is weakest ({_where(first)})"
    if last is not first:
        text += (f"; every observable and resolution saturates beyond {'at least ' if last.get('n_gen_90_bound') else ''}"
                 f"{last['n_gen_90']:.3g} ({_where(last)})")  # fmt: skip
    return {
        "method": first.get("method"),
        "n_gen": first["n_gen_90"], "n_gen_std": first.get("n_gen_90_std"), "bound": bool(first.get("n_gen_90_bound")),
        "limit": {k: first.get(k) for k in ("observable", "quantiles", "method")},
        "all": {"n_gen": last["n_gen_90"], "bound": bool(last.get("n_gen_90_bound")),
                **{k: last.get(k) for k in ("observable", "quantiles", "method")}},
        "fraction": fraction,
        "advice": text,
    }  # fmt: skip
