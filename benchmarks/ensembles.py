"""Vectorised ensembles: K members trained as one vmapped model against K trainings one after another.

Trains K members (default 32) of a network model twice, with the same training sets, seeds and
steps:

- sequentially: ``fit_members`` with one member, called K times (member k on its own training
  set with its own seed), as a loop over independent trainings would do;
- vectorised: one ``fit_members`` with all K members (``torch.func.vmap`` over stacked
  parameters, one optimiser step for all members).

Each member's training set is its own ``n_train`` events of the toy truth (default: 100 events
of the 1D camel back, the study default). The models are

- ``cfm``: conditional flow matching with its defaults (``FlowMatching()``: MLP 64x64x64,
  2000 steps, batch 256, i.e. the whole training set at every step);
- ``gan``: the seed paper's GAN, architecture and training exactly as published (``GAN(PAPER)``:
  generator 1000 -> 7 x 256, batch-aware discriminator, batch 10), but for a fixed small number
  of epochs (default 5, i.e. 50 steps of one discriminator and one generator update at
  n_train = 100); its 10 000 epochs would take days on a CPU, and the ratio does not depend on
  the number of epochs;
- ``gan-cpu``: the CPU default GAN (``GAN()``: the same networks and losses, narrower and with
  a larger learning rate), for the same number of epochs.

The floating-point operations of one member's step are counted by
``torch.utils.flop_counter.FlopCounterMode`` on a short one-member training, and the table
gives the GFLOP/s each path reaches next to this machine's float32 matrix-product rate: a step
whose single-member matrices already run near that rate cannot gain much from vectorising.

Both paths are warmed up once (a short training of each) before timing, so first-call
overheads (vmap tracing, allocator, thread pool) are not counted. The table gives the wall
time of each path, the time per member per step, and the speed-up ratio, all from the same run.
After timing, every vectorised member k is checked against the sequentially trained member k:
both sample the same events from the same seed, and the largest absolute difference is
printed (it should be at float32 rounding level), so the ratio compares equal work.

Torch threads are set with ``--threads`` (default: all cores this process may use). Run it on
a quiet machine: other load skews the ratio (the header prints the load average and warns
when it is above 0.5); with all cores busy elsewhere, several torch threads can be slower than one
by orders of magnitude (their workers spin waiting for each other).

There is no ``--device`` option: the models run on CPU tensors only (``fit_members`` and the
member streams create their tensors on the CPU and sampling converts through ``.numpy()``), so
timing them on a GPU needs changes in ``genamp.models.neural`` first.

    python benchmarks/ensembles.py                       # K = 32, cfm 2000 steps, gan 5 epochs
    python benchmarks/ensembles.py --models gan --gan-epochs 10
    python benchmarks/ensembles.py --quick               # a few seconds: checks the script works
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def make_model(name: str, cfm_steps: int, gan_epochs: int):
    if name == "cfm":
        from genamp.models.cfm import FlowMatching

        return FlowMatching(steps=cfm_steps)
    if name == "gan":
        from genamp.models.gan import GAN, PAPER

        return GAN(PAPER, epochs=gan_epochs)
    if name == "gan-cpu":
        from genamp.models.gan import GAN

        return GAN(epochs=gan_epochs)
    raise SystemExit(f"unknown model {name!r} (choose from cfm, gan, gan-cpu)")


def flops_per_member_step(name: str, xs, seeds, n_train: int) -> float:
    """Floating-point operations of one member's training step, counted by torch (K = 1)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = make_model(name, 4, 1)
    with FlopCounterMode(display=False) as counter:
        model.fit_members(xs[:1], seeds[:1])
    return counter.get_total_flops() / steps_of(model, n_train)


def gemm_gflops(size: int = 1024, repeats: int = 20) -> float:
    """What this machine's float32 matrix product reaches: the ceiling of any compute-bound step."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def steps_of(model, n_train: int) -> int:
    """Optimiser steps of one member's training (for the GAN: discriminator + generator pairs)."""
    if model.name == "cfm":
        return model.steps
    s = model.settings
    return s.epochs * (n_train // s.batch_size)


def run(name: str, args: argparse.Namespace) -> dict:
    import numpy as np

    from genamp.densities import make_density
    from genamp.seeding import child

    k = args.members
    density = make_density(args.density)
    xs = np.stack([density.sample(args.n_train, child(args.seed, 0, m)) for m in range(k)])
    seeds = [child(args.seed, 1, m) for m in range(k)]

    # warm-up: one short training along each path, with the timed runs' tensor shapes (the
    # GAN's batches are 10 events whatever n_train, so its warm-up takes two batches: 2 steps)
    warm = xs if name == "cfm" else xs[:, :20]
    make_model(name, 2, 1).fit_members(warm[:1], seeds[:1])
    make_model(name, 2, 1).fit_members(warm, seeds)

    start = time.perf_counter()
    sequential = []
    for m in range(k):
        model = make_model(name, args.cfm_steps, args.gan_epochs)
        model.fit_members(xs[m : m + 1], seeds[m : m + 1])
        sequential.append(model)
    t_seq = time.perf_counter() - start

    start = time.perf_counter()
    vectorised = make_model(name, args.cfm_steps, args.gan_epochs).fit_members(xs, seeds)
    t_vec = time.perf_counter() - start

    steps = steps_of(vectorised, args.n_train)
    flops = flops_per_member_step(name, xs, seeds, args.n_train)
    diverged = sorted(set(vectorised.diverged) | {m for m, s in enumerate(sequential) if s.diverged})
    diffs = []
    for m in range(k):
        if m in diverged:
            diffs.append(float("nan"))
            continue
        check_seed = child(args.seed, 2, m)
        a = vectorised.sample_member(m, args.check_events, check_seed)
        b = sequential[m].sample_member(0, args.check_events, check_seed)
        diffs.append(float(np.max(np.abs(a - b))))
    return {
        "model": name,
        "members": k,
        "steps": steps,
        "sequential_s": t_seq,
        "vectorised_s": t_vec,
        "sequential_ms_per_member_step": 1e3 * t_seq / (k * steps),
        "vectorised_ms_per_member_step": 1e3 * t_vec / (k * steps),
        "speedup": t_seq / t_vec,
        "mflop_per_member_step": flops / 1e6,
        "sequential_gflops": flops * k * steps / t_seq / 1e9,
        "vectorised_gflops": flops * k * steps / t_vec / 1e9,
        "max_diff_member0": diffs[0],
        "max_diff_all": float(np.nanmax(diffs)) if not all(np.isnan(diffs)) else float("nan"),
        "diverged": diverged,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cfm,gan,gan-cpu", help="comma-separated: cfm, gan (paper), gan-cpu (CPU default)")
    parser.add_argument("--members", type=int, default=32, help="ensemble members K")
    parser.add_argument("--cfm-steps", type=int, default=2000, help="flow-matching optimiser steps")
    parser.add_argument("--gan-epochs", type=int, default=5, help="epochs of either GAN (n_train / 10 steps each)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads")
    parser.add_argument("--density", default="camel", help="toy truth the training sets come from")
    parser.add_argument("--n-train", type=int, default=100, help="training events per member")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check-events", type=int, default=1000, help="events sampled per member for the equality check")
    parser.add_argument("--quick", action="store_true", help="validation only: 20 cfm steps, 1 gan epoch")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if args.quick:
        args.cfm_steps, args.gan_epochs = 20, 1

    import torch

    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    print(
        f"torch {torch.__version__}   threads {torch.get_num_threads()}   CPU {cpu_model()} "
        f"({os.cpu_count()} logical cores)   load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    if load[0] > 0.5:
        print(f"warning: the machine is not quiet (1-minute load {load[0]:.2f}); timings and the ratio are unreliable")
    print(
        f"K = {args.members} members, {args.n_train} {args.density} events each; "
        f"cfm {args.cfm_steps} steps, gan (paper) {args.gan_epochs} epochs{'   [--quick]' if args.quick else ''}"
    )
    print(f"float32 GEMM (1024²) on this machine: {gemm_gflops():.1f} GFLOP/s")
    print(
        f"{'model':7s} {'steps':>6s} {'sequential':>11s} {'vectorised':>11s} "
        f"{'ms/member-step seq':>19s} {'vec':>7s} {'speed-up':>9s} {'MFLOP/step':>10s} "
        f"{'GFLOP/s seq':>11s} {'vec':>6s} {'max|Δ| m0':>10s} {'max|Δ| all':>10s}"
    )
    results = []
    for name in (n.strip() for n in args.models.split(",") if n.strip()):
        r = run(name, args)
        print(
            f"{name:7s} {r['steps']:6d} {r['sequential_s']:10.1f}s {r['vectorised_s']:10.1f}s "
            f"{r['sequential_ms_per_member_step']:19.2f} {r['vectorised_ms_per_member_step']:7.2f} "
            f"{'x' + format(r['speedup'], '.1f'):>9s} {r['mflop_per_member_step']:10.2f} "
            f"{r['sequential_gflops']:11.1f} {r['vectorised_gflops']:6.1f} "
            f"{r['max_diff_member0']:10.1e} {r['max_diff_all']:10.1e}"
            + (f"   diverged members: {r['diverged']}" if r["diverged"] else ""),
            flush=True,
        )
        results.append(r)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"torch": torch.__version__, "threads": args.threads, "cpu": cpu_model(), "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
