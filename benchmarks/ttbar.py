"""Top-pair generation: events/s per core at parton and jet level against a bare Pythia loop.

Every figure is a ratio measured in the same run. Each case runs in its own single-threaded
child process holding three Pythias with the same settings and seed (so the same events): one
runs ``pythia.next()`` alone (the bare loop), one ``nextBatch`` alone (Pythia handing the events
to Python as an awkward record, the only bulk access its Python interface has), and one genamp's
batch; a block of one batch on each in turn, on CPU time (``time.process_time``), so all see the
same load on a shared machine. Pythia's start-up and a first, untimed batch (imports, first calls)
are left out. The child sets up its memory as a chunk's process does (``keep_freed_memory``).

- parton level: ``_parton_batch`` (``nextBatch``, the record's columns in numpy, the six quarks
  picked by their mothers); beside it the per-core rate of a whole chunk (start-up, events and
  the chunk's file);
- jet level (MPI on, the default, and off): ``_jet_batch`` (``nextBatch``, the quarks, fastjet's
  anti-kT over the whole batch, the jet choice), and the clustering time as a fraction of the
  shower time (``nextBatch``'s);
- workers: the wall time of ``genamp.data.ttbar.generate`` for the same parton sample with one and
  two workers, alternated (1, 2, 1, 2; the spawned pool's start-up included), beside the machine's
  own ceiling: two bare Pythia loops side by side against one; and what the rates mean for 10^6
  parton and 10^5 jet-level events on two cores (``--full`` times the 10^6 parton events).

    python benchmarks/ttbar.py                 # about 5 minutes on two free cores
    python benchmarks/ttbar.py --scale 3 --full
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _children
import numpy as np

#: level, MPI, blocks of one batch each variant runs
CASES = {"parton": ("parton", False, 30), "jet-mpi": ("jet", True, 4), "jet-nompi": ("jet", False, 10)}
SEED = 12345


def child(case: str, blocks: int) -> dict[str, Any]:
    """The three variants in one process, block by block: three Pythias with the same seed (the
    same events), a block of one batch timed on each in turn, so all see the same load."""
    from genamp._processes import keep_freed_memory
    from genamp.data import ttbar

    keep_freed_memory()
    level, mpi, _ = CASES[case]
    spec = ttbar.TtbarSpec.make(level, 1, mpi=mpi)
    batch = spec.batch_events
    start = time.process_time()
    bare = ttbar.make_pythia(spec.settings, SEED)
    init = time.process_time() - start
    handed = ttbar.make_pythia(spec.settings, SEED)
    ours = ttbar.make_pythia(spec.settings, SEED)

    def run_bare() -> None:
        for _ in range(batch):
            bare.next()

    def run_handed() -> None:
        ttbar._next_batch(handed, batch)

    timing: dict[str, float] = {}
    kept = [0]

    def run_ours() -> None:
        if level == "parton":
            ttbar._parton_batch(ours, batch)
        else:
            kept[0] += len(ttbar._jet_batch(ours, batch, timing)[0])

    # one batch first, untimed, in every variant (the same events follow): imports and first
    # calls (scipy, fastjet) are paid once per process, not per event
    run_bare()
    run_handed()
    ttbar._parton_batch(ours, batch) if level == "parton" else ttbar._jet_batch(ours, batch)
    variants = {"bare": run_bare, "nextBatch": run_handed, "genamp": run_ours}
    seconds: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(blocks):
        for variant, run in variants.items():
            t = time.process_time()
            run()
            seconds[variant].append(time.process_time() - t)
    events = blocks * batch
    ratios = [b / g for b, g in zip(seconds["bare"], seconds["genamp"])]
    return {
        "case": case, "events": events, "init_seconds": init, "kept": kept[0],
        **{f"{v}_per_second": events / sum(t) for v, t in seconds.items()},
        "ratio_median": float(sorted(ratios)[len(ratios) // 2]), "ratio_total": sum(seconds["bare"]) / sum(seconds["genamp"]),
        "ratio_nextbatch": sum(seconds["bare"]) / sum(seconds["nextBatch"]),
        "ratio_over_nextbatch": sum(seconds["nextBatch"]) / sum(seconds["genamp"]),
        **{f"{k}_seconds": v for k, v in timing.items()},
    }  # fmt: skip


def bare_loop(events: int) -> float:
    """A bare Pythia loop in this process: CPU seconds per event (the ceiling of the workers)."""
    from genamp.data import ttbar

    pythia = ttbar.make_pythia(ttbar.TtbarSpec.make("parton", 1).settings, SEED)
    start = time.process_time()
    for _ in range(events):
        pythia.next()
    return (time.process_time() - start) / events


def chunk_rate(n: int) -> dict[str, Any]:
    """One parton chunk of ``n`` events end to end in this process: start-up, events, file."""
    from genamp.data import ttbar

    spec = ttbar.TtbarSpec.make("parton", 1, chunk_events=n)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.process_time()
        ttbar.run_chunk(spec, 0, None, Path(tmp))
        seconds = time.process_time() - start
    return {"events": n, "seconds": seconds, "events_per_second": n / seconds}


def measure(case: str, blocks: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, str(blocks)],
        capture_output=True, text=True, env={**os.environ, **_children.SINGLE_THREAD}, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def workers_speedup(n: int, chunk: int, pairs: int = 2) -> dict[str, Any]:
    """``generate`` with 1 and 2 workers, alternated ``pairs`` times; and bare loops, one alone and
    two side by side, alternated too: what the machine itself gives two processes, from their
    CPU time per event (``2 × alone / side by side``; start-up left out)."""
    from genamp.data import ttbar

    times: dict[int, float] = {1: 0.0, 2: 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        for p in range(pairs):
            for w in (1, 2):
                start = time.perf_counter()
                ttbar.generate("parton", n, Path(tmp) / f"w{w}-{p}.h5", seed=2, chunk_events=chunk, workers=w)
                times[w] += time.perf_counter() - start
    bare_events = n // (2 * pairs)
    per_event: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(pairs):
        for k in (1, 2):
            loops = [subprocess.Popen([sys.executable, __file__, "--bare", str(bare_events)], stdout=subprocess.PIPE, text=True,
                                      env={**os.environ, **_children.SINGLE_THREAD}) for _ in range(k)]  # fmt: skip
            per_event[k] += [float(loop.communicate()[0].strip().splitlines()[-1]) for loop in loops]
    return {"events": n, "chunk_events": chunk, "pairs": pairs, "seconds_1": times[1] / pairs, "seconds_2": times[2] / pairs,
            "speedup": times[1] / times[2], "bare_events": bare_events,
            "bare_speedup": 2 * float(np.mean(per_event[1])) / float(np.mean(per_event[2]))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=1, help="run this many times more blocks of each case")
    parser.add_argument("--full", action="store_true", help="also time 10^6 parton events on two workers")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        print(bare_loop(args.bare))
        return
    if args.child:
        case, blocks = args.child
        print(json.dumps(child(case, int(blocks))))
        return
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.2f} (1 min), {load[1]:.2f} (5 min) on {os.cpu_count()} cores", flush=True)
    results: dict[str, Any] = {"load_average": load}
    for case, (level, mpi, blocks) in CASES.items():
        r = measure(case, blocks * args.scale)
        line = (f"{case:10s} {r['events']:6d} events  bare {r['bare_per_second']:8.0f}/s   nextBatch {r['nextBatch_per_second']:8.0f}/s"
                f"   genamp {r['genamp_per_second']:8.0f}/s   ratio {r['ratio_total']:5.1%} (median over blocks {r['ratio_median']:5.1%})"
                f"\n{'':10s} of which Pythia's hand-over (nextBatch against next()) {r['ratio_nextbatch']:5.1%}, genamp's own work"
                f" (genamp against nextBatch) {r['ratio_over_nextbatch']:5.1%}   (Pythia start-up {r['init_seconds']:.2f} s, not counted)")  # fmt: skip
        if level == "jet":
            shower = r["shower_seconds"]
            line += (f"\n{'':10s} clustering {r['cluster_seconds'] / shower:5.1%} of the shower time (nextBatch); "
                     f"quarks {r['quarks_seconds'] / shower:5.1%}, jet choice {r['select_seconds'] / shower:5.1%}; "
                     f"nextBatch {shower / r['events'] * 1e3:.2f} ms/event against {1e3 / r['bare_per_second']:.2f} for next(); "
                     f"kept {r['kept']} of {r['events']}")  # fmt: skip
        print(line, flush=True)
        results[case] = r
    chunk = chunk_rate(100_000)
    print(f"parton chunk of 100000 end to end (start-up, events, file): {chunk['events_per_second']:.0f} events/s per core", flush=True)
    results["parton_chunk"] = chunk
    speed = workers_speedup(200_000, 25_000, pairs=3)
    print(f"workers: {speed['events']} parton events in chunks of {speed['chunk_events']}, alternated {speed['pairs']} times: "
          f"{speed['seconds_1']:.1f} s on 1, {speed['seconds_2']:.1f} s on 2 workers, speed-up x{speed['speedup']:.2f}; "
          f"two bare Pythia loops side by side against one, from their CPU time per event: x{speed['bare_speedup']:.2f} (the machine's ceiling)", flush=True)  # fmt: skip
    results["workers"] = speed
    parton_rate = 2 * chunk["events_per_second"] * min(speed["speedup"] / 2, 1.0)
    print(f"estimate for two cores: 10^6 parton events {1e6 / parton_rate:.0f} s", flush=True)
    for case in ("jet-mpi", "jet-nompi"):
        r = results[case]
        eff = r["kept"] / r["events"]
        if eff:
            wall = 1e5 / eff / (2 * r["genamp_per_second"] * min(speed["speedup"] / 2, 1.0))
            print(f"estimate for two cores: 10^5 jet-level events ({case}, efficiency {eff:.1%}): {wall / 60:.0f} min", flush=True)
    if args.full:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            from genamp.data import ttbar

            ttbar.generate("parton", 1_000_000, Path(tmp) / "m.h5", seed=3, workers=2)
            seconds = time.perf_counter() - start
        print(f"measured: 10^6 parton events on 2 workers in {seconds:.0f} s ({1e6 / seconds:.0f} events/s)", flush=True)
        results["million_parton_seconds"] = seconds
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
