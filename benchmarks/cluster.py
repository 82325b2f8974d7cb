"""A study on a Dask cluster against the local process pool (issue 16's scaling figures).

Runs the same study, each time into a fresh folder and timed as a whole ``genamp run`` process
(start-up, cluster start included), on:

- the local pool with 1 and with 2 worker processes (``-j 1``, ``-j 2``);
- a local Dask cluster of 1 and of 2 workers (``--cluster local:1``, ``local:2``).

It prints each wall time, the speed-up of 2 workers against 1 for both executors, and checks
that all four wrote the same records. The overhead per task is measured on a second study of
many tiny tasks (``sample``: exact occupancies, no training), as (Dask − pool) / tasks with the
same number of workers.

    python benchmarks/cluster.py                    # about 5 minutes on two cores
    python benchmarks/cluster.py --repetitions 20   # a quick look
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(args: list[str], out: Path) -> float:
    start = time.perf_counter()
    genamp = Path(sys.executable).parent / "genamp"
    subprocess.run([str(genamp), "run", *args, "--out", str(out)], check=True, capture_output=True)
    return time.perf_counter() - start


def _records(out: Path) -> list:
    return json.loads((out / "results.json").read_text())["records"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=40, help="repetitions of the training study")
    parser.add_argument("--tiny", type=int, default=400, help="repetitions (tasks) of the tiny-task study (sample)")
    a = parser.parse_args()
    study = ["camel", "-m", "resample,fit,cfm", "-q", "10,50", "-r", str(a.repetitions), "--n-gen", "1000,10000,100000",
             "--set", "cfm.epochs=300"]  # fmt: skip
    tiny = ["camel", "-m", "sample", "-q", "10", "-r", str(a.tiny)]
    runs = {"pool, 1 worker": ["-j", "1"], "pool, 2 workers": ["-j", "2"], "Dask, 1 worker": ["--cluster", "local:1"],
            "Dask, 2 workers": ["--cluster", "local:2"]}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        walls, records = {}, {}
        print(f"study: genamp run {' '.join(study)}", flush=True)
        for k, (name, how) in enumerate(runs.items()):
            walls[name] = _run(study + how, root / f"s{k}")
            records[name] = _records(root / f"s{k}")
            print(f"  {name:16s} {walls[name]:7.1f} s", flush=True)
        same = all(r == records["pool, 1 worker"] for r in records.values())
        print(f"  the same records from all four: {same}")
        print(f"  speed-up of 2 workers against 1: pool {walls['pool, 1 worker'] / walls['pool, 2 workers']:.2f}x, "
              f"Dask {walls['Dask, 1 worker'] / walls['Dask, 2 workers']:.2f}x; Dask 2 workers against the pool's 2: "
              f"{walls['Dask, 2 workers'] / walls['pool, 2 workers']:.2f}x the time")  # fmt: skip
        print(f"tiny tasks: genamp run {' '.join(tiny)} ({a.tiny} tasks)", flush=True)
        tiny_walls = {}
        for k, (name, how) in enumerate(runs.items()):
            tiny_walls[name] = _run(tiny + how, root / f"t{k}")
            print(f"  {name:16s} {tiny_walls[name]:7.1f} s", flush=True)
        for n in (1, 2):
            s = "" if n == 1 else "s"
            extra = tiny_walls[f"Dask, {n} worker{s}"] - tiny_walls[f"pool, {n} worker{s}"]
            print(f"  overhead per task, {n} worker{s}: {1000 * extra / a.tiny:+.1f} ms (Dask − pool, cluster start-up included)")


if __name__ == "__main__":
    main()
