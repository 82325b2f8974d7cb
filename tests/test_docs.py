"""Every formula the code cites is in the repository: docs/formulas.md has each section and item
that a docstring names (``docs/formulas.md §2.4``), so a reader of the code can follow it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sections() -> dict[str, set[str]]:
    """Section number -> the numbers of its list items, from docs/formulas.md."""
    out: dict[str, set[str]] = {}
    current = None
    for line in (ROOT / "docs" / "formulas.md").read_text().splitlines():
        heading = re.match(r"## (\d+)\. ", line)
        if heading:
            current = heading.group(1)
            out[current] = set()
        elif current is not None and (item := re.match(r"(\d+)\. ", line)):
            out[current].add(item.group(1))
    return out


def test_every_cited_formula_is_in_the_docs():
    sections = _sections()
    cited = set()
    for path in (ROOT / "src" / "genamp").rglob("*.py"):
        for ref in re.findall(r"docs/formulas\.md §(\d+)(?:\.(\d+))?", path.read_text()):
            cited.add(ref)
    assert cited, "the code cites no formula: the pattern is wrong"
    missing = [f"§{s}" + (f".{i}" if i else "") for s, i in sorted(cited) if s not in sections or (i and i not in sections[s])]
    assert not missing, f"cited but not in docs/formulas.md: {missing}"
    assert "SPEC" not in "".join(p.read_text() for p in (ROOT / "src" / "genamp").rglob("*.py"))


def test_the_estimator_layer_is_one_import_without_torch():
    """genamp.estimators exports every estimator by name (__all__); arrays-only users do not pay
    for torch until they ask for the classifier."""
    import subprocess
    import sys

    code = ("import sys, genamp.estimators as e; missing = [n for n in e.__all__ if n not in ('ClassifierTest', "
            "'classifier_test') and not hasattr(e, n)]; print(missing, 'torch' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("]")
    assert out[0] == "[" and out[1].strip() == "False", out
    import genamp.estimators as e

    assert callable(e.classifier_test) and e.ClassifierTest.__name__ == "ClassifierTest"
