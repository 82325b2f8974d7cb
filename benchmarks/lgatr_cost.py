"""What the L-GATr velocity field costs against the MLP's (issue 18): training step and sampling rate.

Both flow-matching models train on the same parton-level top pairs in the same objects
coordinates (22 features), K bootstrap members each, in one process:

- **training step**: seconds per optimiser step of K members (cfm: one vectorised model, the
  study's path; lgatr-cfm: its members in turn, as it trains): two trainings, of ``s`` and
  ``s + n`` steps, after an untimed one; the step is the difference of their times over ``n``
  (``--steps`` n for lgatr-cfm, ten times as many for the faster cfm), so that what a training
  costs once (building, the coordinates) cancels;
- **sampling rate**: events per second of one member, ``--n-gen`` events with the models'
  ``ode_steps`` RK4 steps (four velocity evaluations each), mapped back to four-momenta.

It prints each figure and the ratios lgatr-cfm / cfm, measured in the same run. The MLP is the
top-pair study's (``genamp.study.ttbar.CFM_SETTINGS``, 3×128); the L-GATr is the CPU default,
``--full`` the GPU setting (``genamp.models.lgatr.LGATR_GPU``); ``--device cuda`` runs both on a GPU.

    python benchmarks/lgatr_cost.py                           # CPU, ~2 min on two cores
    python benchmarks/lgatr_cost.py --device cuda --full --n-gen 100000
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps of lgatr-cfm (cfm: ten times as many)")
    parser.add_argument("--n-gen", type=int, default=4096, help="events each model samples for its rate")
    parser.add_argument("--ode-steps", type=int, default=16)
    parser.add_argument("--device", default=None)
    parser.add_argument("--full", action="store_true", help="the L-GATr's GPU setting instead of the CPU default")
    parser.add_argument("--pool-events", type=int, default=10**6)
    args = parser.parse_args()

    import torch

    from genamp.data import cache
    from genamp.data.io import open_events
    from genamp.models.base import ensemble_training_sets
    from genamp.models.cfm import FlowMatching
    from genamp.models.coordinates import make_coordinates
    from genamp.models.lgatr import LGATR_GPU, LGATrFlowMatching
    from genamp.seeding import child
    from genamp.study import ttbar as study

    path = cache.ttbar_events("parton", args.pool_events)
    f = open_events(path, None)
    x = f.rows(np.sort(np.random.default_rng(1).choice(f.n_events, args.n_train, replace=False)))
    seed = np.random.SeedSequence(7)
    coords = make_coordinates("objects", f.features).fit(x.reshape(-1, 6, 4))
    xs = ensemble_training_sets(x, args.members, "bootstrap", child(seed, 2))
    zs = np.stack([coords.transform(v.reshape(-1, 6, 4)) for v in xs])
    seeds = [child(seed, 0, k) for k in range(args.members)]
    lgatr = {**(LGATR_GPU if args.full else {}), "ode_steps": args.ode_steps}
    makers = {
        "cfm": lambda steps: FlowMatching(**{**study.CFM_SETTINGS, "ode_steps": args.ode_steps, "steps": steps}, device=args.device),
        "lgatr-cfm": lambda steps: LGATrFlowMatching(**{**lgatr, "steps": steps}, device=args.device).with_coordinates(coords),
    }
    where = args.device or "cpu"
    print(f"{where}, {torch.get_num_threads()} threads; n_train {args.n_train}, K = {args.members}, {zs.shape[2]} coordinates", flush=True)

    def sync() -> None:
        if where.startswith("cuda"):
            torch.cuda.synchronize()

    def timed_fit(make, steps: int):  # noqa: ANN001, ANN202
        sync()
        start = time.perf_counter()
        model = make(steps).fit_members(zs, seeds)
        sync()
        return model, time.perf_counter() - start

    step, rate = {}, {}
    for name, make in makers.items():
        n = args.steps * (10 if name == "cfm" else 1)
        timed_fit(make, 2)  # untimed: the first call's one-off costs
        _, short = timed_fit(make, 2)
        model, long = timed_fit(make, 2 + n)
        step[name] = (long - short) / n
        weights = sum(p[0].numel() for p in model.net.parameters())
        member = model.member(0)
        member.sample(min(256, args.n_gen), 1)  # warm the kernels
        sync()
        start = time.perf_counter()
        member.sample(args.n_gen, 2)
        sync()
        rate[name] = args.n_gen / (time.perf_counter() - start)
        print(f"{name}: {weights} weights per member; training step of {args.members} members {1e3 * step[name]:.1f} ms "
              f"(batch {model.batch_size}); sampling {rate[name]:.0f} events/s per member ({args.ode_steps} RK4 steps)", flush=True)  # fmt: skip
    print(f"lgatr-cfm / cfm: training step {step['lgatr-cfm'] / step['cfm']:.1f}x slower, "
          f"sampling {rate['cfm'] / rate['lgatr-cfm']:.1f}x slower")  # fmt: skip


if __name__ == "__main__":
    main()
