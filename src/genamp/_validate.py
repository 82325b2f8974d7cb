"""Checks of user input that turn bad arrays into one clear :class:`GenampError` line."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from genamp.errors import GenampError


def events(x: object, dim: int, what: str = "events", min_events: int = 1) -> np.ndarray:
    """``x`` as a C-contiguous float64 array of shape (n, dim), or a clear error.

    A 1D array is accepted as n events of one feature when ``dim == 1``.
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise GenampError(f"{what}: cannot be read as numbers ({exc})") from None
    real_dtype(arr.dtype, what)  # before any cast: complex or bool would convert with no error
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 1 and dim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise GenampError(
            f"{what}: expected an array of shape (events, {dim}), got shape {arr.shape}"
        )
    if arr.shape[1] != dim:
        raise GenampError(
            f"{what}: events have {arr.shape[1]} feature(s), but this density has {dim}"
        )
    if arr.shape[0] < min_events:
        raise GenampError(
            f"{what}: {arr.shape[0]} event(s) given, at least {min_events} needed"
        )
    if not np.isfinite(arr).all():  # one fast pass; the rows are located only on failure
        finite = np.isfinite(arr).all(axis=1)
        bad = np.flatnonzero(~finite)
        raise GenampError(
            f"{what}: {bad.size} of {arr.shape[0]} events contain NaN or inf "
            f"(first at row {bad[0]}); remove or fix them, they would bias every occupancy"
        )
    return np.ascontiguousarray(arr)


def positive_int(value: object, name: str, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum``, or a clear error naming the parameter."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        as_int = int(value)
    elif isinstance(value, (float, np.floating)) and float(value).is_integer():
        as_int = int(value)
    else:
        raise GenampError(f"{name} must be an integer, got {value!r}")
    if as_int < minimum:
        raise GenampError(f"{name} must be at least {minimum}, got {as_int}")
    return as_int


def int_list(values: Sequence[object], name: str, minimum: int) -> tuple[int, ...]:
    """A non-empty tuple of distinct integers, each at least ``minimum``, in the given order."""
    if len(values) == 0:
        raise GenampError(f"{name}: give at least one value")
    out = tuple(positive_int(v, name, minimum) for v in values)
    if len(set(out)) != len(out):
        raise GenampError(f"{name}: values repeat in {list(out)}")
    return out


#: events per volume below which a plateau or an occupancy is poorly resolved (a warning);
#: below one, most volumes of the largest sample hold no event at all (an error)
SENSIBLE_EVENTS_PER_VOLUME = 10


def events_per_volume(n: int, quantiles: int, dim: int, what: str) -> str | None:
    """Check that ``n`` events fill a grid of ``quantiles**dim`` volumes of equal probability.

    Fewer than one event per volume is an error that says what would be sensible; fewer than
    :data:`SENSIBLE_EVENTS_PER_VOLUME` returns a warning (``None`` when there is enough).
    """
    cells = quantiles**dim
    per = n / cells
    sensible = SENSIBLE_EVENTS_PER_VOLUME * cells
    if per < 1:
        q = 2
        while (q + 1) ** dim <= n:
            q += 1
        raise GenampError(
            f"at Q = {quantiles} the {dim}D grid has {cells} volumes: {what} ({n} events) puts {per:.2g} "
            f"events in each, so most hold none; use at most {q} quantiles, or {sensible} events or more "
            f"({SENSIBLE_EVENTS_PER_VOLUME} per volume)"
        )
    if per < SENSIBLE_EVENTS_PER_VOLUME:
        return (
            f"at Q = {quantiles} {what} ({n} events) puts only {per:.3g} events in each of the {cells} volumes: "
            f"poorly resolved; {SENSIBLE_EVENTS_PER_VOLUME} or more per volume ({sensible} events) is sensible"
        )
    return None


def real_dtype(dtype: np.dtype, what: str) -> None:
    """Events are real numbers: integer or floating dtypes; anything else is one clear error."""
    kinds = {"b": "booleans", "c": "complex numbers", "U": "strings", "S": "byte strings", "O": "Python objects",
             "V": "raw bytes", "M": "dates", "m": "time spans"}  # fmt: skip
    if dtype.kind == "V" and dtype.names:
        raise GenampError(
            f"{what}: holds records with fields {', '.join(dtype.names)} (a structured array); events must be "
            "finite real numbers: stack the fields into one float array of shape (events, features)"
        )
    if dtype.kind not in "iuf":
        never = " (genamp never loads pickles)" if dtype.kind == "O" else ""
        raise GenampError(
            f"{what}: holds {kinds.get(dtype.kind, 'values')} (dtype {dtype}){never}; events must be finite real numbers"
        )


def pool_events_per_volume(n: int, quantiles: int, dim: int, what: str) -> None:
    """A pool is the truth: it must hold :data:`SENSIBLE_EVENTS_PER_VOLUME` events per volume
    or more (fewer is an error, not a warning: its noise would be the measurement)."""
    warning = events_per_volume(n, quantiles, dim, what)
    if warning is not None:
        raise GenampError(f"{warning}; a pool, the truth, needs at least that")


#: the kinds of value a setting takes: a flag, a whole number, a number, a name, or a tuple of
#: one of the last three (``(tuple, int)``); see :func:`kind_of` and :func:`coerce`
Kind = type | tuple[type, type]

_TRUE, _FALSE = ("true", "yes", "on"), ("false", "no", "off")


def kind_of(default: object) -> Kind:
    """The kind of value a setting with this default takes: its type, or a tuple of its elements'."""
    if isinstance(default, tuple):
        kinds = {type(v) for v in default}
        return (tuple, str if str in kinds else float if float in kinds else int)
    return type(default)


def coerce(value: object, kind: Kind, name: str) -> object:
    """``value`` as a value of ``kind``, or a clear error naming the setting.

    Strings (from the command line, or a YAML number PyYAML leaves as text, like ``1e-3``) are
    read by the kind: ``8000`` or ``1e4`` a whole number, ``true``/``false`` a flag, ``64,64``
    a tuple; a single number stands for a tuple of one.
    """
    if isinstance(kind, tuple):
        element = kind[1]
        if isinstance(value, str):
            items: list[object] = [v.strip() for v in value.split(",")]
            if not all(items):
                raise GenampError(f"{name}: an empty item in {value!r}; give values separated by single commas")
        elif isinstance(value, (list, tuple)):
            items = list(value)
        elif element is not str and _is_number(value):
            items = [value]
        else:
            items = None  # type: ignore[assignment]
        what = {int: "whole numbers separated by commas (e.g. 64,64)", float: "numbers separated by commas (e.g. 0.5,0.9)",
                str: "names separated by commas (e.g. sample,fit)"}[element]  # fmt: skip
        if not items:
            raise GenampError(f"{name} must be {what}, got {value!r}")
        try:
            return tuple(coerce(v, element, name) for v in items)
        except GenampError:
            raise GenampError(f"{name} must be {what}, got {value!r}") from None
    if kind is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise GenampError(f"{name} must be true or false, got {value!r}")
    if kind is str:
        if isinstance(value, str) and value.strip():
            return value.strip()
        raise GenampError(f"{name} must be a name, got {value!r}")
    if kind in (int, float):
        number: float | None = None
        if _is_number(value):
            number = value  # type: ignore[assignment]
        elif isinstance(value, str):
            try:
                number = int(value.strip()) if kind is int and value.strip().lstrip("+-").isdigit() else float(value)
            except ValueError:
                number = None
        exact = isinstance(number, (int, np.integer))
        if number is None or not (exact or math.isfinite(number)):
            raise GenampError(f"{name} must be a {'whole number' if kind is int else 'number'}, got {value!r}")
        if kind is float:
            try:
                return float(number)
            except OverflowError:
                raise GenampError(f"{name} must be a number, got {value!r}") from None
        if not (exact or float(number).is_integer()):
            raise GenampError(f"{name} must be a whole number, got {value!r}")
        return int(number)
    raise TypeError(f"no reading of a {kind} from text")  # a model whose default is of another kind


def _is_number(value: object) -> bool:
    """An int or a float (numpy's too), not a flag."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
