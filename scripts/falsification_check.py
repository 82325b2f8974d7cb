"""How well a holdout falsifies forecasts: a study's averaging records against their truth.

For a study run with ``--method truth,averaging --holdout N`` (a toy, or a pool), every averaging
record carries its forecast ``G_inf``, the truth-based G of the same mixture (``truth_G``, with its
error), the first training's ``n_equiv_reach`` (the largest n_equiv its holdout could refute) and,
over repetitions, the fraction of trainings whose forecast the holdout falsified. This sorts the
records by how far the forecast is off:

- **3× off**: ``G_inf / truth_G ≥ 3`` or ``≤ 1/3``; *within reach* where the true n_equiv
  (``truth_G · n_train``) is at most ``n_equiv_reach``: the holdout should catch these;
- **good**: forecast and truth within two combined standard errors: the holdout should pass
  these (it flags a true forecast at its threshold's rate, 10⁻³);
- the rest, in between.

and prints, per class, how many records and the mean fraction of trainings falsified.

    python scripts/falsification_check.py runs/ring-holdout/results.json [more results.json ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def classify(rec: dict) -> str | None:
    g, t = rec.get("G_inf"), rec.get("truth_G")
    if g is None or t is None or not (g > 0 and t > 0) or rec.get("falsification") is None:
        return None
    ratio = g / t
    if ratio >= 3 or ratio <= 1 / 3:
        return "3x off, within reach" if t * rec["n_train"] <= (rec.get("n_equiv_reach") or 0) else "3x off, beyond reach"
    err = np.hypot(rec.get("G_inf_std") or 0.0, rec.get("truth_G_std") or 0.0)
    return "good" if abs(g - t) <= 2 * err else "in between"


def main(paths: list[str]) -> None:
    rows = []
    for path in paths:
        for rec in json.loads(Path(path).read_text())["records"]:
            if rec.get("method") != "averaging":
                continue
            kind = classify(rec)
            if kind is None:
                continue
            rows.append((kind, rec))
            print(f"{Path(path).parent.name:18s} {rec.get('observable') or '':14s} Q={rec['quantiles']!s:3s} "
                  f"forecast {rec['G_inf']:8.3g}  truth {rec['truth_G']:8.3g}  reach {rec['n_equiv_reach'] or 0:9.3g}  "
                  f"holdout {rec['holdout']:6d}  falsified {rec['falsification']['falsified_fraction']:5.0%}  {kind}")  # fmt: skip
    print()
    for kind in ("3x off, within reach", "3x off, beyond reach", "in between", "good"):
        mine = [r for k, r in rows if k == kind]
        if mine:
            rate = np.mean([r["falsification"]["falsified_fraction"] for r in mine])
            reps = sum(r["repetitions"] for r in mine)
            print(f"{kind:22s} {len(mine):4d} records ({reps} trainings): {rate:6.1%} of trainings falsified")


if __name__ == "__main__":
    main(sys.argv[1:])
