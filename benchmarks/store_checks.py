"""The cost of trusting nothing: checking every task file against the study's wall time.

Runs the default study (``genamp run camel``, timed as a whole command) unless ``--out`` already
holds it and ``--study-seconds`` gives its time, then measures on its task files:

- ``verified``: :func:`genamp.study.store.inspect` of every task (read every array, SHA-256 of the
  whole content, identity and completeness) — what a resume does once per task, and a fresh run
  twice (after the run and in the aggregation);
- ``unchecked``: the same arrays read as before the checks (``np.load`` and the metadata's JSON);
- ``digest``: the SHA-256 alone, what writing a task adds.

The checks' cost in one fresh run is at most ``2 × verified + digest`` (all store reading
counted as cost, though the aggregation read the arrays before too), printed as a fraction of
the study's wall time. Each figure is the median of ``--passes`` passes over all files (the
page cache is warm, as it is for a study that just wrote them).

    python benchmarks/store_checks.py                       # runs the default study first (~2 min)
    python benchmarks/store_checks.py --out runs/camel --study-seconds 110
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _median_seconds(fn, passes: int) -> float:
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench-store"), help="the default study's folder")
    parser.add_argument("--study-seconds", type=float, default=None, help="its wall time, if it is already there")
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()

    from genamp.study import store
    from genamp.study.config import StudyConfig
    from genamp.study.tasks import plan

    seconds = args.study_seconds
    if seconds is None:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "genamp.cli", "run", "camel", "--out", str(args.out)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        seconds = time.perf_counter() - t0
    tasks = plan(StudyConfig())
    paths = [t.path(args.out) for t in tasks]
    if not all(p.is_file() for p in paths):
        raise SystemExit(f"{args.out} does not hold the default study's {len(tasks)} task files")

    def verified() -> None:
        for t in tasks:
            meta, damage = store.inspect(args.out, t)
            assert meta is not None, damage

    def unchecked() -> None:
        for p in paths:
            with np.load(p, allow_pickle=False) as data:
                arrays = {n: data[n] for n in data.files}
            json.loads(str(arrays["meta"]))

    contents = []
    for p in paths:
        with np.load(p, allow_pickle=False) as data:
            contents.append({n: data[n] for n in data.files if n != store.CHECKSUM})

    def digest() -> None:
        for arrays in contents:
            store.content_digest(arrays)

    t_verified = _median_seconds(verified, args.passes)
    t_unchecked = _median_seconds(unchecked, args.passes)
    t_digest = _median_seconds(digest, args.passes)
    size = sum(p.stat().st_size for p in paths)
    cost = 2 * t_verified + t_digest
    print(f"default study: {len(tasks)} task files, {size / 2**20:.1f} MiB, wall time {seconds:.1f} s")
    print(f"verified read of all files: {1e3 * t_verified:.1f} ms  ({1e3 * t_verified / len(tasks):.2f} ms per file)")
    print(f"unchecked read of all files: {1e3 * t_unchecked:.1f} ms  (verified / unchecked = {t_verified / t_unchecked:.2f})")
    print(f"SHA-256 of all contents (the write side): {1e3 * t_digest:.1f} ms")
    print(f"checks in one fresh run, at most: {1e3 * cost:.0f} ms = {100 * cost / seconds:.2f}% of the study's wall time")
    print(f"a resume of the finished study checks every file once: {1e3 * t_verified:.0f} ms")


if __name__ == "__main__":
    main()
