"""Shared test settings.

Statistical checks marked ``slow`` run at a small size by default (and in CI) and at full size
with ``GENAMP_FULL_TESTS=1``. Their tolerances come from the theory (binomial and multinomial
variances, the Kolmogorov law) at the size actually run, so both sizes test the same claim.
"""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("GENAMP_FULL_TESTS") == "1"


def size(ci: int, full: int) -> int:
    """The number of repetitions (or events) for a statistical test."""
    return full if FULL else ci


@pytest.fixture(scope="session", autouse=True)
def _no_display():
    import matplotlib

    matplotlib.use("Agg")
