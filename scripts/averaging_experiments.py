"""Calibration experiments of the averaging forecast outside a study (numbers in the README).

Trains, per repetition, either an ensemble of a network with model settings (``--set steps=8000``;
in a study ``genamp run --set cfm.steps=8000``), or a Bayesian network with M posterior draws, and prints
the forecast G∞ beside the truth-based G of the same mixture and the coverage beside the ideal.

    python scripts/averaging_experiments.py ring cfm --mode bootstrap --n-train 1000 --set steps=8000
    python scripts/averaging_experiments.py ring bcfm --kl-weight 0.1 --set init_logvar=-5
    python scripts/averaging_experiments.py ring bcfm --set chain=20000 --set temperature=0.01 --bootstrap cfm

Every random stream derives from ``--seed``; the repetitions differ from those of ``genamp run``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from genamp.densities import make_density
from genamp.estimators.averaging import forecast
from genamp.estimators.calibration import LEVELS, member_plateau, summarise
from genamp.estimators.tempering import match_spread
from genamp.models.ensemble import Ensemble
from genamp.models.registry import MODEL_REGISTRY
from genamp.seeding import child, seed_sequence
from genamp.volumes import QuantileGrid, count_occupancy, sample_chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("density")
    parser.add_argument("model")
    parser.add_argument("--mode", default="bootstrap", help="ensemble mode of a non-Bayesian model")
    parser.add_argument("--members", type=int, default=10, help="K members, or M posterior draws")
    parser.add_argument("--kl-weight", type=float, default=1.0)
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--repetitions", type=int, default=6)
    parser.add_argument("--n-gen", type=int, default=30_000)
    parser.add_argument("--quantiles", default="2,5,10,20")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--set", action="append", default=[], help="model attribute as key=value")
    parser.add_argument(
        "--bootstrap", metavar="MODEL",
        help="also train a bootstrap ensemble of MODEL (K = --members) on the same training sets, print its forecast "
        "beside, and the Bayesian model's temperature (or KL weight) that matches its summed σ²_model (estimators.tempering)",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(1)
    density = make_density(args.density)
    qs = [int(q) for q in args.quantiles.split(",")]
    grids = [QuantileGrid.from_density(density, q) for q in qs]
    settings = {k: float(v) for k, v in (item.split("=") for item in args.set)}
    entry = MODEL_REGISTRY[args.model]
    forecasts: dict[int, list] = {q: [] for q in qs}
    plateaus: dict[int, list] = {q: [] for q in qs}
    boot_forecasts: dict[int, list] = {q: [] for q in qs}
    boot_plateaus: dict[int, list] = {q: [] for q in qs}

    def occupancies(generators: list, r: int, into: dict[int, list], plateaus_into: dict[int, list]) -> None:
        counts = [
            count_occupancy(sample_chunks(g.sample, args.n_gen, child(seed_sequence(args.seed, r, 2), k), args.n_gen), grids)
            for k, g in enumerate(generators)
        ]
        for i, (q, grid) in enumerate(zip(qs, grids, strict=True)):
            f = np.stack([c[i].fractions[0] for c in counts])
            into[q].append(forecast(f, args.n_gen, args.n_train))
            plateaus_into[q].append(member_plateau(f, args.n_gen, grid.probabilities))

    start = time.perf_counter()
    for r in range(args.repetitions):
        x = density.sample(args.n_train, seed_sequence(args.seed, r, 0))
        model = entry.build(density, kl_weight=args.kl_weight) if entry.bayesian else entry.build(density)
        for key, value in settings.items():
            setattr(model, key, type(getattr(model, key))(value))
        if entry.bayesian:
            generators = model.fit(x, seed_sequence(args.seed, r, 1)).draws(args.members, seed_sequence(args.seed, r, 3))
        else:
            generators = Ensemble(model, args.members, args.mode).fit(x, seed_sequence(args.seed, r, 1)).members()
        occupancies(generators, r, forecasts, plateaus)
        if args.bootstrap:
            ensemble = Ensemble(MODEL_REGISTRY[args.bootstrap].build(density), args.members, "bootstrap")
            occupancies(ensemble.fit(x, seed_sequence(args.seed, r, 4)).members(), r, boot_forecasts, boot_plateaus)
        print(f"repetition {r} done after {time.perf_counter() - start:.0f} s", flush=True)
    chained = settings.get("chain", 0) > 0
    knob = settings.get("temperature", 1.0) if chained else args.kl_weight
    for q, grid in zip(qs, grids, strict=True):
        rows = [(args.model, settings or "", forecasts[q], plateaus[q])]
        if args.bootstrap:
            rows.append((f"{args.bootstrap}×{args.members} bootstrap", "", boot_forecasts[q], boot_plateaus[q]))
        for name, what, fs, ps in rows:
            s = summarise(fs, grid.probabilities, ps)
            (c68, i68), (c95, i95) = s.coverage_at(LEVELS[0]), s.coverage_at(LEVELS[1])
            print(
                f"{args.density} {name} {what} n_train={args.n_train} Q={q}: "
                f"forecast G∞ {s.G_inf:.3g} ± {s.G_inf_std:.2g} | truth (mixture) {s.truth_G:.3g} ± {s.truth_G_std:.2g} | "
                f"member {s.G_inf_member:.3g} / {s.truth_G_member:.3g} | coverage {c68:.2f}/{c95:.2f} ideal {i68:.2f}/{i95:.2f}"
            )
        if args.bootstrap and entry.bayesian:
            m = match_spread(forecasts[q], boot_forecasts[q], knob)
            print(f"  Q={q}: Σσ²_model bootstrap / posterior = {m.ratio:.3g} ± {m.ratio_std:.2g}: "
                  f"matched {'temperature' if chained else 'KL weight'} {m.value:.3g} ± {m.value_std:.2g}"
                  f"{'' if m.resolved else ' (a sum not resolved: indicative)'}")  # fmt: skip


if __name__ == "__main__":
    main()
