"""Checks of user input that turn bad arrays into one clear :class:`GenampError` line."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genamp.errors import GenampError


def events(x: object, dim: int, what: str = "events", min_events: int = 1) -> np.ndarray:
    """``x`` as a C-contiguous float64 array of shape (n, dim), or a clear error.

    A 1D array is accepted as n events of one feature when ``dim == 1``.
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise GenampError(f"{what}: cannot be read as numbers ({exc})") from None
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
