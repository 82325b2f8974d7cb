"""The truth-free rule on a finished study: the temperature (or KL weight) that gives a Bayesian
network's posterior the summed model variance of a bootstrap ensemble run beside it.

Reads a ``results.json`` of a study with both models' averaging records (``genamp run ... -m
cfm,bcfm --method averaging -K 10 --bayesian 10``) and prints, per observable and Q, the ratio
``G∞_posterior / G∞_bootstrap``. With the same number of draws and members and the same volumes,
``G∞ = Σ m(1 − m) / (n_train f Σσ²_model)`` makes it the ratio ``Σσ²_boot / Σσ²_post`` of
:func:`genamp.estimators.tempering.match_spread` (up to the two mixtures' ``Σ m(1 − m)``, equal to
well under a percent where both generate well), so the matched knob is the given one times it.
The median over observables is the setting to run the posterior at.

    python scripts/match_temperature.py runs/tt-bcfm/results.json --posterior bcfm --bootstrap cfm --knob 0.03
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--posterior", default="bcfm")
    parser.add_argument("--bootstrap", default="cfm")
    parser.add_argument("--knob", type=float, required=True, help="the posterior's temperature (or KL weight) in the study")
    args = parser.parse_args()
    averaging = [r for r in json.loads(args.results.read_text())["records"] if r["method"] == "averaging"]
    records, n_all = [r for r in averaging if r.get("G_inf")], len(averaging)
    by = {(r["model"], r.get("observable", ""), r["quantiles"] if isinstance(r["quantiles"], int) else tuple(r["quantiles"])): r
          for r in records}  # fmt: skip
    ratios: dict[object, list[float]] = {}
    print("| observable | Q | G∞ posterior | G∞ bootstrap | Σσ²_boot / Σσ²_post | matched knob |")
    print("|---|---|---|---|---|---|")
    for (model, obs, q), post in sorted(by.items(), key=lambda kv: (kv[0][1], str(kv[0][2]))):
        boot = by.get((args.bootstrap, obs, q))
        if model != args.posterior or boot is None:
            continue
        ratio = post["G_inf"] / boot["G_inf"]
        err = ratio * math.hypot(post["G_inf_std"] / post["G_inf"], boot["G_inf_std"] / boot["G_inf"])
        ratios.setdefault(q, []).append(ratio)
        print(f"| {obs} | {q} | {post['G_inf']:.3g} | {boot['G_inf']:.3g} | {ratio:.3g} ± {err:.2g} | {args.knob * ratio:.3g} |")
    if not ratios:
        raise SystemExit(f"error: no observable has resolved averaging records of both {args.posterior} and {args.bootstrap}")
    print()
    for q, rs in ratios.items():
        med = statistics.median(rs)
        spread = f" (quartiles {statistics.quantiles(rs, n=4)[0]:.3g}–{statistics.quantiles(rs, n=4)[2]:.3g})" if len(rs) > 1 else ""
        print(f"Q = {q}: median ratio {med:.3g} over {len(rs)} observable(s){spread}: matched knob {args.knob * med:.3g}")
    print(f"({n_all - len(records)} averaging records without a resolved G∞ are left out: a posterior whose draws do not "
          "differ beyond their sampling noise has only a bound)")


if __name__ == "__main__":
    main()
