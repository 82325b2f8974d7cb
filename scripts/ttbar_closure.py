"""Closure of a pool study's forecasts: per observable and Q, the averaging forecast G∞ beside the
pool-truth G of the same mixture, their ratio and pull, and the holdout's verdict.

Reads the ``results.json`` of a study run with ``--method truth,averaging`` on a pool (a
top-pair study of ``genamp run ttbar``, say) and prints a Markdown table, then a summary: where
the generator amplifies (truth G > 1, a bound counted where its lower end is above 1), how many
forecasts lie within two combined errors of their truth, and, of those more than 3× off, how many
the holdout falsified within its reach (``n_equiv_reach``) and beyond.

    genamp run ttbar --level parton --method truth,averaging -K 10 -r 5 -q 5,10,20 --n-train 1000 --out runs/tt3
    python scripts/ttbar_closure.py runs/tt3/results.json
    python scripts/ttbar_closure.py runs/tt-bcfm/results.json --model bcfm   # a study of several models
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path


def _fmt(g: float | None, err: float | None = None, bound: bool = False) -> str:
    if g is None:
        return "–"
    text = f"{'≥ ' if bound else ''}{g:.3g}"
    return text + (f" ± {err:.2g}" if err is not None and not bound else "")


def rows(records: list[dict]) -> list[dict]:
    """One row per (observable, Q): the forecast's and the truth's G with errors, the verdict."""
    truth = {(r["observable"], r["quantiles"]): r for r in records if r["method"] == "truth"}
    out = []
    for a in (r for r in records if r["method"] == "averaging"):
        key = (a["observable"], a["quantiles"])
        t = truth.get(key)
        if t is None:
            continue
        resolved = bool(t.get("resolved")) and t.get("G") is not None
        g_t = t["G"] if resolved else (t["n_equiv_lower"] / t["n_train"] if t.get("n_equiv_lower") else None)
        g_f, s_f = a.get("G_inf") if a.get("resolved") else None, a.get("G_inf_std")
        ratio = g_f / g_t if g_f and g_t else None
        pull = None
        if resolved and g_f is not None and s_f is not None and t.get("G_std") is not None:
            pull = (g_f - g_t) / math.hypot(s_f, t["G_std"])
        out.append({
            "observable": key[0], "Q": key[1], "forecast": g_f, "forecast_std": s_f, "truth": g_t,
            "truth_std": t.get("G_std"), "truth_bound": not resolved, "ratio": ratio, "pull": pull,
            "falsified": (a.get("falsification") or {}).get("falsified_fraction"), "reach": a.get("n_equiv_reach"),
            "n_train": a["n_train"],
        })  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a pool study's results.json")
    parser.add_argument("--model", help="the model whose records to read (needed where the study ran several)")
    args = parser.parse_args()
    data = json.loads(args.results.read_text())
    models = sorted({r["model"] for r in data["records"]})
    if args.model is None and len(models) > 1:
        raise SystemExit(f"error: {args.results} holds records of {', '.join(models)}: choose one with --model")
    table = rows([r for r in data["records"] if args.model in (None, r["model"])])
    if not table:
        raise SystemExit(f"error: {args.results} has no averaging records beside truth records")
    print("| observable | Q | forecast G∞ | pool-truth G | forecast/truth | pull | falsified |")
    print("|---|---|---|---|---|---|---|")
    for r in table:
        ratio = "–" if r["ratio"] is None else f"{r['ratio']:.2g}"
        pull = "–" if r["pull"] is None else f"{r['pull']:+.1f}"
        fals = "–" if r["falsified"] is None else f"{100 * r['falsified']:.0f}%"
        print(f"| {r['observable']} | {r['Q']} | {_fmt(r['forecast'], r['forecast_std'])} | "
              f"{_fmt(r['truth'], r['truth_std'], r['truth_bound'])} | {ratio} | {pull} | {fals} |")  # fmt: skip
    by_q: dict[int, list[dict]] = defaultdict(list)
    for r in table:
        by_q[r["Q"] if isinstance(r["Q"], int) else r["Q"][0]].append(r)
    print()
    for q, rs in sorted(by_q.items()):
        amplifies = sorted(r["observable"] for r in rs if r["truth"] is not None and r["truth"] > 1)
        not_amp = sorted(r["observable"] for r in rs if r["truth"] is not None and r["truth"] <= 1 and not r["truth_bound"])
        pulls = [r["pull"] for r in rs if r["pull"] is not None]
        within = sum(abs(p) <= 2 for p in pulls)
        off = [r for r in rs if r["ratio"] is not None and not r["truth_bound"] and (r["ratio"] > 3 or r["ratio"] < 1 / 3)]
        n_train = rs[0]["n_train"]
        reachable = [r for r in off if r["reach"] is not None and r["truth"] * n_train <= r["reach"]]
        caught = sum((r["falsified"] or 0) > 0 for r in reachable)
        print(f"Q = {q}: truth G > 1 for {len(amplifies)} of {len(rs)} observables; G ≤ 1 (resolved) for "
              f"{len(not_amp)}: {', '.join(not_amp) or 'none'}")
        print(f"  forecast within 2 combined errors of the truth: {within} of {len(pulls)} resolved; "
              f"median forecast/truth {sorted(r['ratio'] for r in rs if r['ratio'])[len([r for r in rs if r['ratio']]) // 2]:.2g}")
        print(f"  more than 3× off: {len(off)}; within the holdout's reach: {len(reachable)}, of which falsified "
              f"(in any repetition): {caught}")


if __name__ == "__main__":
    main()
