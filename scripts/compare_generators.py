"""Two or more generators side by side on a pool: per observable, the pool-truth G and the averaging
forecast G∞ of each, at one resolution; then where each amplifies.

Each column is ``LABEL=RESULTS[:MODEL]``, a pool study's ``results.json`` run with ``--method
truth,averaging`` and the model whose records to read (needed where the study ran several). Rows
and errors are :func:`ttbar_closure.rows`'s: a truth that is only a bound is ``≥``, a forecast
that is not resolved is ``–``.

    python scripts/compare_generators.py "cfm=runs/i18-cfm-default/results.json" \\
        "cfm, equal time=runs/i18-equal/results.json:cfm" "lgatr-cfm=runs/i18-equal/results.json:lgatr-cfm" -q 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ttbar_closure import _fmt, rows  # noqa: E402


def column(spec: str) -> tuple[str, list[dict]]:
    """``LABEL=RESULTS[:MODEL]`` as its label and its rows."""
    label, _, where = spec.partition("=")
    path, _, model = where.partition(":")
    records = json.loads(Path(path).read_text())["records"]
    models = sorted({r["model"] for r in records})
    if not model and len(models) > 1:
        raise SystemExit(f"error: {path} holds records of {', '.join(models)}: write {label}={path}:MODEL")
    return label, rows([r for r in records if model in ("", r["model"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("columns", nargs="+", help="LABEL=RESULTS[:MODEL]")
    parser.add_argument("-q", "--quantiles", type=int, default=10, help="the resolution of the table (Q bins per axis)")
    args = parser.parse_args()
    columns = [column(c) for c in args.columns]
    by = [{r["observable"]: r for r in rs if (r["Q"] if isinstance(r["Q"], int) else r["Q"][0]) == args.quantiles} for _, rs in columns]
    observables = [o for o in by[0] if all(o in b for b in by)]
    if not observables:
        raise SystemExit(f"error: no observable at Q = {args.quantiles} in every column")
    print("| observable | " + " | ".join(f"{label}: truth G | {label}: forecast G∞" for label, _ in columns) + " |")
    print("|---|" + "---|---|" * len(columns))
    for o in observables:
        cells = []
        for b in by:
            r = b[o]
            cells += [_fmt(r["truth"], r["truth_std"], r["truth_bound"]), _fmt(r["forecast"], r["forecast_std"])]
        print(f"| {o} | " + " | ".join(cells) + " |")
    print()
    for (label, _), b in zip(columns, by, strict=True):
        rs = [b[o] for o in observables]
        truths = [r["truth"] for r in rs if r["truth"] is not None and not r["truth_bound"]]
        amplifies = [r["observable"] for r in rs if r["truth"] is not None and r["truth"] > 1]
        ratios = [r["ratio"] for r in rs if r["ratio"] is not None and not r["truth_bound"]]
        pulls = [r["pull"] for r in rs if r["pull"] is not None]
        median = f"{statistics.median(truths):.3g}" if truths else "–"
        ratio = f"{statistics.median(ratios):.2g}" if ratios else "–"
        print(f"{label} (Q = {args.quantiles}): truth G > 1 for {len(amplifies)} of {len(rs)} observables; median truth G "
              f"{median} ({len(truths)} resolved); forecast within two combined errors for {sum(abs(p) <= 2 for p in pulls)} "
              f"of {len(pulls)}, median forecast/truth {ratio}")  # fmt: skip


if __name__ == "__main__":
    main()
