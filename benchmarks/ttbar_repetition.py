"""One parton-level repetition of a top-pair study, timed part by part (issue 14's benchmark).

A repetition of ``genamp run ttbar --level parton`` at ``n_train`` = 10⁴ with K = 10 bootstrap
members generating ``n_gen`` = 10⁵ events each is, in order:

- **coordinates**: the decay coordinates fitted on the training set, the K bootstrap sets mapped;
- **training**: the K members of flow matching trained as one vectorised model (the study's
  path), for the model's step budget at this ``n_train``;
- **sampling**: each member's ``n_gen`` events, generated in the coordinates and mapped back to
  four-momenta;
- **counting**: the events of every member counted into every volume of the study (Q bins of
  every observable at each Q, and the mass planes);
- **log-likelihoods**: what the differential method reads, every member's log density at every
  member's ``DIFF_EVENTS`` events (K² evaluations of the ODE with its exact divergence, the
  forward-mode trace of :func:`genamp.models.cfm.jacobian_trace`), and the same with
  Hutchinson's estimator of one probe (``cfm.probes=1``), in the same run: the time of each, and
  the pair forecast's distance (docs/formulas.md §3.4) from each table, so that the probe's noise
  is seen where it matters. The exact trace by autograd's columns (one backward pass per
  dimension, what the model did before) is timed on one row of the table (K evaluations), against
  the same row of the forward-mode table.

The network's settings are the top-pair study's (``genamp.study.ttbar.CFM_SETTINGS``: 3×128, 1000
passes over the training set); ``--set`` overrides each.

Beside the vectorised training it times K members trained one after another for the same number
of steps (a few hundred: the per-step ratio is what carries over), in the same run, so the
speed-up is a ratio of two figures measured together. The repetition's total is the sum of the
parts, with the training at the full budget.

    python benchmarks/ttbar_repetition.py                     # the issue's sizes, ~8 min on two cores
    python benchmarks/ttbar_repetition.py --n-gen 10000 --steps 500 --members 4   # a quick look
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--n-gen", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=0, help="training steps (0: the model's budget at n_train)")
    parser.add_argument("--compare-steps", type=int, default=200, help="steps of the vectorised-against-sequential comparison")
    parser.add_argument("--set", action="append", default=[], help="a cfm setting KEY=VALUE, as --set cfm.KEY=VALUE in a study")
    parser.add_argument("--pool-events", type=int, default=10**6)
    args = parser.parse_args()

    import torch

    from genamp.data import cache
    from genamp.data.io import open_events
    from genamp.models.base import ensemble_training_sets
    from genamp.models.cfm import FlowMatching, ode_log_prob
    from genamp.models.coordinates import InCoordinates, make_coordinates
    from genamp.models.registry import MODEL_REGISTRY
    from genamp.seeding import child
    from genamp.study import ttbar as study
    from genamp.study.config import _setting
    from genamp.study.pooltruth import volume_specs
    from genamp.study.tasks import DIFF_EVENTS
    from genamp.volumes import count_occupancy, sample_chunks
    from genamp.observables import pairs, select

    settings = dict(study.CFM_SETTINGS)
    for item in args.set:
        key, value = item.split("=", 1)
        settings[key] = _setting("cfm", key, value, MODEL_REGISTRY["cfm"].settable())
    path = cache.ttbar_events("parton", args.pool_events)
    f = open_events(path, None)
    x = f.rows(np.sort(np.random.default_rng(1).choice(f.n_events, args.n_train, replace=False)))
    names, _ = study.observables(path)
    obs = select(",".join(names), f.shape[1], f.features)
    planes = pairs(",".join(study.PAIRS), f.shape[1], f.features)
    spec = {"pool": {"dim": f.shape[1], "features": list(f.features)},
            "volumes": volume_specs(f, obs, planes, list(study.DEFAULTS["quantiles"]))}  # fmt: skip
    from genamp.study.pooltruth import volumes

    grids = list(volumes(spec).values())
    seed = np.random.SeedSequence(7)
    times: dict[str, float] = {}

    t0 = time.perf_counter()
    coords = make_coordinates("decay", f.features).fit(x.reshape(-1, 6, 4), child(seed, 5))
    xs = ensemble_training_sets(x, args.members, "bootstrap", child(seed, 2))
    zs = np.stack([coords.transform(v.reshape(-1, 6, 4), child(seed, 5, k)) for k, v in enumerate(xs)])
    times["coordinates"] = time.perf_counter() - t0

    model = FlowMatching(**settings)
    steps = args.steps or model.budget(args.n_train)
    seeds = [child(seed, 0, k) for k in range(args.members)]

    def train(n_steps: int, sequential: bool) -> float:
        start = time.perf_counter()
        if sequential:
            for k in range(args.members):
                FlowMatching(**{**settings, "steps": n_steps}).fit_members(zs[k : k + 1], seeds[k : k + 1])
        else:
            FlowMatching(**{**settings, "steps": n_steps}).fit_members(zs, seeds)
        return time.perf_counter() - start

    # the comparison first, alternated, on the same number of steps
    vec = [train(args.compare_steps, False), train(args.compare_steps, True), train(args.compare_steps, False)]
    seq = vec.pop(1)
    per_step_vec, per_step_seq = min(vec) / args.compare_steps, seq / args.compare_steps

    t0 = time.perf_counter()
    trained = FlowMatching(**{**settings, "steps": steps}).fit_members(zs, seeds)
    times["training"] = time.perf_counter() - t0
    members = [InCoordinates(trained.member(k), coords) for k in range(args.members)]

    t0 = time.perf_counter()
    samples = [np.concatenate(list(sample_chunks(m.sample, args.n_gen, child(seed, 1, k), chunk_size=min(100_000, args.n_gen))))
               for k, m in enumerate(members)]  # fmt: skip
    times["sampling"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    for events in samples:
        count_occupancy(events, grids)
    times["counting"] = time.perf_counter() - t0

    from genamp.estimators.differential import pair_forecast

    events = [trained.member(k).sample(DIFF_EVENTS, child(seed, 4, k)) for k in range(args.members)]
    tables, ll_seconds = {}, {}
    for probes in (0, 1):
        trained.probes = probes
        t0 = time.perf_counter()
        tables[probes] = [[trained.member(k).log_prob(e) for k in range(args.members)] for e in events]
        ll_seconds[probes] = time.perf_counter() - t0
    trained.probes = 0
    times["log-likelihoods"] = ll_seconds[0]
    # one row of the table again, the exact trace by autograd's columns
    t0 = time.perf_counter()
    row = []
    for k in range(args.members):
        z = (torch.as_tensor(events[0], dtype=torch.float32) - trained._mean[k]) / trained._std[k]
        row.append(ode_log_prob(trained._velocity(k), z, trained.ode_steps).double().numpy() - float(torch.log(trained._std[k]).sum()))
    row_autograd = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in range(args.members):
        trained.member(k).log_prob(events[0])
    row_forward = time.perf_counter() - t0
    row_diff = max(float(np.abs(a - b).max()) for a, b in zip(row, tables[0][0], strict=True))
    forecasts = {p: pair_forecast(t, seed=0) for p, t in tables.items()}

    total = sum(times.values())
    report = {
        "n_train": args.n_train, "members": args.members, "n_gen_per_member": args.n_gen, "steps": steps,
        "settings": {k: v for k, v in settings.items()}, "volumes": len(grids), "torch_threads": torch.get_num_threads(),
        "seconds": {k: round(v, 1) for k, v in times.items()}, "total_seconds": round(total, 1),
        "goal_seconds": 600, "within_goal": total <= 600,
        "training_step_ms": {"vectorised": round(1e3 * per_step_vec, 2), "one_member_after_another": round(1e3 * per_step_seq, 2)},
        "vectorised_speedup": round(per_step_seq / per_step_vec, 2),
        "log_likelihoods": {
            "exact_seconds": round(ll_seconds[0], 1), "hutchinson_1_probe_seconds": round(ll_seconds[1], 1),
            "one_row_seconds": {"forward_mode_trace": round(row_forward, 2), "autograd_columns": round(row_autograd, 2)},
            "autograd_over_forward_mode": round(row_autograd / row_forward, 2), "one_row_max_abs_log_p_difference": row_diff,
            "exact_over_hutchinson": round(ll_seconds[0] / ll_seconds[1], 2),
            "pair_delta_member": {"exact": round(forecasts[0].delta_member, 4), "hutchinson": round(forecasts[1].delta_member, 4)},
            "pairs_resolved": {"exact": forecasts[0].resolved_pairs, "hutchinson": forecasts[1].resolved_pairs},
            "total_with_hutchinson_seconds": round(total - ll_seconds[0] + ll_seconds[1], 1),
        },
    }  # fmt: skip
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
