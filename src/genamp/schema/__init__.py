"""The format of genamp's results files, for readers that rely on it.

``results.schema.json`` (JSON Schema 2020-12) describes what ``genamp run`` writes to
``results.json`` and ``genamp estimate --out`` to its file. :data:`SCHEMA_VERSION` is written
into both; a reader of ``1.x`` reads every ``1.y``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_VERSION", "schema"]

#: major.minor of results.schema.json; the minor grows with new optional fields
SCHEMA_VERSION = "1.4"


def schema() -> dict[str, Any]:
    """The JSON Schema of a results file."""
    return json.loads(resources.files(__package__).joinpath("results.schema.json").read_text())
