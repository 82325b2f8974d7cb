"""Shared test settings.

Statistical checks marked ``slow`` run at a small size by default (and in CI) and at full size
with ``GENAMP_FULL_TESTS=1``. Their tolerances come from the theory (binomial and multinomial
variances, the Kolmogorov law) at the size actually run, so both sizes test the same claim.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy import stats

FULL = os.environ.get("GENAMP_FULL_TESTS") == "1"


def size(ci: int, full: int) -> int:
    """The number of repetitions (or events) for a statistical test."""
    return full if FULL else ci


def kolmogorov_critical(n_gen: int, n_train: int, level: float = 0.999) -> float:
    """The KS distance that a trained generator's events exceed with probability ``1 − level``.

    Against the exact CDF the statistic of a perfect generator is ``K / sqrt(n_gen)``
    (Kolmogorov's law). A trained generator differs from the truth by its own error; one that
    is only as good as its training set has the error of an empirical CDF of ``n_train``
    events, a Brownian bridge ``B / sqrt(n_train)`` independent of the generated sample. Two
    independent bridges add to one with the summed variance, so the statistic follows
    Kolmogorov's law with the effective size ``1 / n_eff = 1 / n_gen + 1 / n_train``.
    """
    return float(stats.kstwobign.ppf(level) / np.sqrt(n_gen * n_train / (n_gen + n_train)))


@pytest.fixture(scope="session", autouse=True)
def _no_display():
    import matplotlib

    matplotlib.use("Agg")


def assert_valid_results(path) -> dict:
    """A results file that its JSON Schema accepts (genamp.schema), returned as read."""
    import json

    import jsonschema

    from genamp.schema import SCHEMA_VERSION, schema

    data = json.loads(open(path).read())
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert data["schema_version"] == SCHEMA_VERSION
    return data
