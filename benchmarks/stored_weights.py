"""A finished study run again with a new resolution: sampling its stored networks against
training them again (issue 16's figure).

Runs ``genamp run camel -m MODELS -q 10`` into a folder, then the same with ``-q 10,50`` twice:
into the same folder (its tasks find the networks the first run kept) and into a fresh one (they
train), each timed as a whole process; prints both and their ratio, and checks that the two
give the same records.

    python benchmarks/stored_weights.py                  # gan, flow, cfm; 20 repetitions (a few minutes)
    python benchmarks/stored_weights.py --models cfm --repetitions 10
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
    subprocess.run([str(Path(sys.executable).parent / "genamp"), "run", *args, "--out", str(out)], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="gan,flow,cfm")
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    a = parser.parse_args()
    base = ["camel", "-m", a.models, "-r", str(a.repetitions), "-j", str(a.workers)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        first = _run([*base, "-q", "10"], root / "study")
        print(f"genamp run {' '.join(base)} -q 10: {first:.1f} s (trains and keeps the networks)", flush=True)
        size = sum(p.stat().st_size for p in (root / "study" / "weights").rglob("*.pt"))
        print(f"  networks kept: {size / 1e6:.2f} MB in {root / 'study' / 'weights'}", flush=True)
        stored = _run([*base, "-q", "10,50"], root / "study")
        fresh = _run([*base, "-q", "10,50"], root / "fresh")
        same = json.loads((root / "study" / "results.json").read_text())["records"] == json.loads(
            (root / "fresh" / "results.json").read_text())["records"]  # fmt: skip
        print(f"again with -q 10,50: {stored:.1f} s from the stored networks, {fresh:.1f} s training them again: "
              f"{fresh / stored:.1f}x faster; the same records: {same}")  # fmt: skip


if __name__ == "__main__":
    main()
