"""Time and peak memory of ``genamp assess`` on K member files (issue 15's benchmark).

Writes a training set, a pool and K member files of ``N`` events each (``F`` features, HDF5),
then runs ``genamp assess`` on them as a separate process under ``/usr/bin/time -v`` (the
operating system's own wall time and peak resident memory), for each K and N asked. Files are
streamed, so the peak must not grow with K × N: the figure printed beside each run is its peak
memory against the run with the fewest events, in the same call.

    python benchmarks/assess.py                           # K = 2, 10 at N = 10⁵, 10⁶ (about 10 min, 1 GB of files)
    python benchmarks/assess.py --members 2,10 --events 100000 --features 4    # a quick look
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np


def _write(path: Path, x: np.ndarray, names: list[str], block: int = 10**5) -> None:
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("events", x.shape, dtype="f8")
        ds.attrs["features"] = names
        for start in range(0, x.shape[0], block):
            ds[start : start + block] = x[start : start + block]


def _events(rng: np.random.Generator, n: int, features: int, shift: float = 0.0) -> np.ndarray:
    return rng.normal(shift, 1.0, size=(n, features))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="2,10", help="K values, comma-separated")
    parser.add_argument("--events", default="100000,1000000", help="events per member file, comma-separated")
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--pool-events", type=int, default=1_000_000)
    parser.add_argument("-q", "--quantiles", default="5,10,20")
    parser.add_argument("--keep", type=Path, default=None, help="write the files here and keep them (default: a temporary folder)")
    args = parser.parse_args()
    ks = [int(k) for k in args.members.split(",")]
    sizes = [int(float(n)) for n in args.events.split(",")]
    names = [f"x{i}" for i in range(args.features)]
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        _write(root / "train.h5", _events(rng, args.n_train, args.features), names)
        _write(root / "pool.h5", _events(rng, args.pool_events, args.features), names)
        for k in range(max(ks)):
            _write(root / f"m{k}.h5", _events(rng, max(sizes), args.features, shift=0.02 * rng.normal()), names)
        rows = []
        for n in sizes:
            for k in ks:
                files = [str(root / f"m{i}.h5") for i in range(k)]
                if n < max(sizes):  # the first n events of each file: a copy of that size
                    files = []
                    for i in range(k):
                        part = root / f"m{i}_{n}.h5"
                        if not part.exists():
                            with h5py.File(root / f"m{i}.h5", "r") as f:
                                _write(part, f["events"][:n], names)
                        files.append(str(part))
                cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "genamp.cli", "assess", "--train", str(root / "train.h5"),
                       "-g", *files, "--pool", str(root / "pool.h5"), "-q", args.quantiles, "--out", str(root / f"out-{k}-{n}")]  # fmt: skip
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True)
                wall = time.perf_counter() - t0
                if proc.returncode != 0:
                    sys.exit(proc.stderr[-2000:])
                peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) / 1024
                rows.append({"members": k, "events_per_member": n, "events_in_all": k * n, "wall_seconds": round(wall, 1),
                             "peak_MiB": round(peak, 1)})  # fmt: skip
        base = min(rows, key=lambda r: r["events_in_all"])["peak_MiB"]
        for r in rows:
            r["peak_over_smallest"] = round(r["peak_MiB"] / base, 2)
        print(json.dumps({"features": args.features, "n_train": args.n_train, "pool_events": args.pool_events,
                          "quantiles": args.quantiles, "runs": rows}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
