"""Pool closure: a toy's exact truth-based G beside the G measured against pools of true events.

Reads a finished truth study of a toy (its task files: every repetition's occupancies on the
toy's quantile grids), draws pools of M true events from the toy (a seed of their own, so they
are disjoint from every training set), counts them into the same grids, and measures every
model against the exact cell probabilities and against each pool (SPEC §7.3). Prints, per model
and resolution, the exact G ± its error, then per pool G ± its error with the pool's share, or a
lower bound where the pool cannot resolve it.

    genamp run camel --out runs/camel && python scripts/pool_closure.py runs/camel
    python scripts/pool_closure.py runs/ring --pools 1e4,1e5,1e6 --pool-seed 7
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from genamp.errors import GenampError
from genamp.estimators.truth import combine_repetitions, summarise_repetition
from genamp.seeding import seed_sequence
from genamp.study import store
from genamp.study.config import StudyConfig
from genamp.study.tasks import plan
from genamp.truths import Pool
from genamp.volumes import QuantileGrid


def _g(res) -> str:  # type: ignore[no-untyped-def]
    if not res.resolved:
        return f"≥ {res.n_equiv_lower / res.n_train:.3g}"
    share = f", pool {res.G * res.pool_error / res.plateau:.2g}" if np.isfinite(res.pool_size) else ""
    return f"{res.G:.3g} ± {res.G_std:.2g}{share}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("--pools", default="1e4,1e5,1e6", help="pool sizes M")
    parser.add_argument("--pool-seed", type=int, default=2026)
    args = parser.parse_args()
    config = StudyConfig.from_dict(json.loads((args.study / "study.json").read_text())["config"])
    density = config.make_density()
    grids = {q: QuantileGrid.from_density(density, q) for q in config.quantiles}
    sizes = [int(float(m)) for m in args.pools.split(",")]
    pools = {}
    for m in sizes:
        events = density.sample(m, seed_sequence(args.pool_seed, m))
        pool = Pool(events, name=f"pool of {m:.0e}")
        pools[m] = {}
        for q, g in grids.items():
            try:
                pools[m][q] = pool.cell_probabilities(g)
            except GenampError:  # under 10 events per volume: no measurement, as genamp refuses it
                pools[m][q] = None
    tasks = plan(config)
    header = ["model", "Q", "exact G"] + [f"M = {m:.0e}" for m in sizes]
    rows = []
    for model in config.models:
        outputs = [store.load_task(t.path(args.study), t) for t in tasks if t.model == model]
        outputs = [o for o in outputs if o is not None and o.meta["status"] == "ok"]
        for q, grid in grids.items():
            occ = [o.occupancies[q] for o in outputs]
            truths = [grid.probabilities] + [pools[m][q] for m in sizes]
            cells = []
            for truth in truths:
                if truth is None:
                    cells.append("< 10 per volume")
                    continue
                summaries = [summarise_repetition(o.fractions, o.n, truth) for o in occ]
                cells.append(_g(combine_repetitions(summaries, occ[0].n, truth, config.n_train)))
            rows.append([model, str(q), *cells])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"{density.name}, n_train = {config.n_train}, {len(outputs)} repetitions; pools drawn with seed {args.pool_seed}")
    for r in [header, *rows]:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
