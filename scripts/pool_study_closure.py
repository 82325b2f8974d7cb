"""Pool-study closure: a study run on a pool file drawn from a toy, measured again against the toy.

``genamp run --pool FILE`` measures every repetition against the rows no repetition trained on.
When FILE was drawn from a toy whose coordinates are its columns (``camel``, ``camels``), the
exact probability of every volume is known too: a bin of a column is a difference of the toy's
marginal CDF at its edges, a bin of a pair the product of two. This script reads the study's task
files (the same generated samples) and gives, per model, observable and Q, the G against the pool
beside the G against the exact probabilities. They differ only by the pool's own noise, which the
pool's estimate subtracts and carries in its error (docs/formulas.md §7.3, §7.5).

    python -c "import h5py; from genamp.densities import make_density; \\
      h5py.File('pool.h5', 'w')['events'] = make_density('camels', dim=2).sample(10**6, 99)"
    genamp run --pool pool.h5 -m sample,cfm -q 5,10 --pairs x0:x1 --out runs/pool
    python scripts/pool_study_closure.py runs/pool camels --dim 2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from genamp.densities import make_density
from genamp.estimators.truth import combine_repetitions, summarise_repetition
from genamp.study import store
from genamp.study.config import StudyConfig
from genamp.study.runner import study_truth
from genamp.study.tasks import plan, volume_sets


def _g(res) -> str:  # type: ignore[no-untyped-def]
    if not res.resolved:
        return f"≥ {res.n_equiv_lower / res.n_train:.3g}"
    return f"{res.G:.3g} ± {res.G_std:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("toy", help="the toy the pool file was drawn from (its columns are its coordinates)")
    parser.add_argument("--dim", type=int, default=None)
    args = parser.parse_args()
    config = StudyConfig.from_dict(json.loads((args.study / "study.json").read_text())["config"])
    density = make_density(args.toy, **({} if args.dim is None else {"dim": args.dim}))
    if density.coordinates != "cartesian":
        raise SystemExit(f"the {args.toy} does not factorise in its columns: its bins have no closed form here")
    tasks = plan(config)
    volumes = volume_sets(tasks[0].spec)
    pooled = study_truth(tasks, volumes)
    exact = {}
    for key, v in volumes.items():
        p = np.ones(1)
        for o, e in zip(v.observables, v.edges, strict=True):
            cdf = density.marginal_cdf(o.reads[0], e)
            cdf[0], cdf[-1] = 0.0, 1.0
            p = np.multiply.outer(p, np.diff(cdf)).ravel()
        exact[key] = p
    print(f"{'model':8} {'observable':12} {'Q':>3}  {'G against the pool':>22}  {'G against the exact toy':>24}")
    for model in config.models:
        mine = [t for t in tasks if t.model == model]
        outputs = [store.load_task(t.path(args.study), t) for t in mine]
        for key, v in volumes.items():
            occ = [o.occupancies[key] for o in outputs if o is not None and o.meta.get("status") == "ok"]
            line = []
            for truth in (pooled[key], exact[key]):
                reps = [summarise_repetition(x.fractions, x.n, truth, config.plateau) for x in occ]
                line.append(_g(combine_repetitions(reps, occ[0].n, truth, config.n_train)))
            print(f"{model:8} {v.name:12} {v.quantiles!s:>3}  {line[0]:>22}  {line[1]:>24}")


if __name__ == "__main__":
    main()
