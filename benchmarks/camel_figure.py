"""The camel figure with every network, on this checkout against an earlier revision (issue 16's
CPU figure, whose goal is three minutes on two cores).

Runs ``genamp run camel -m gan,flow,cfm,fit,sample -q 10,50 -r 100 -j 2`` once with the
baseline revision's code (a temporary ``git worktree``, run from its source with this
environment's packages) and once with this checkout's, one after the other, each timed as a
whole process. Prints the wall times, their ratio, where the time went (the tasks' own seconds
per model, summed over both workers: training, sampling and counting) and whether each model's
records are the same in both.

    python benchmarks/camel_figure.py                         # against 6991daf, before issue 16 (~20 min)
    python benchmarks/camel_figure.py --baseline HEAD~3 --repetitions 40
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("gan", "flow", "cfm", "fit", "sample")


def _study(source: Path, out: Path, repetitions: int, workers: int) -> float:
    """Wall seconds of one whole ``genamp run`` with the package from ``source``."""
    command = "import sys; from genamp.cli import main; sys.argv[0] = 'genamp'; sys.exit(main())"
    args = ["run", "camel", "-m", ",".join(MODELS), "-q", "10,50", "-r", str(repetitions), "-j", str(workers), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(source / "src")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", command, *args], check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def _task_seconds(out: Path) -> dict[str, float]:
    """Each model's tasks' own seconds, summed (a block's training shared out over its tasks)."""
    seconds: dict[str, float] = {}
    for path in (out / "tasks").rglob("*.npz"):
        meta = json.loads(str(np.load(path, allow_pickle=False)["meta"]))
        seconds[meta["model"]] = seconds.get(meta["model"], 0.0) + meta["seconds"]
    return seconds


def _records(out: Path) -> dict[str, list[dict]]:
    records = json.loads((out / "results.json").read_text())["records"]
    return {m: [r for r in records if r.get("model") == m] for m in MODELS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="6991daf", help="the revision to compare with (default: before issue 16)")
    parser.add_argument("--repetitions", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    a = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), a.baseline], check=True, capture_output=True)
        try:
            walls = {}
            for name, source in (("baseline", tree), ("this checkout", ROOT)):
                walls[name] = _study(source, Path(tmp) / f"study-{name.replace(' ', '-')}", a.repetitions, a.workers)
                print(f"{name}: {walls[name]:.1f} s", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False, capture_output=True)
        print(f"speed-up: {walls['baseline'] / walls['this checkout']:.2f}x (goal: 180 s)")
        studies = [Path(tmp) / f"study-{n}" for n in ("baseline", "this-checkout")]
        before, after = (_task_seconds(s) for s in studies)
        old, new = (_records(s) for s in studies)
        print("model    task seconds: baseline -> this checkout    records")
        for m in MODELS:
            same = "the same" if old[m] == new[m] else "differ (G " + ", ".join(
                f"{r['G']:.3g} -> {s['G']:.3g}" for r, s in zip(old[m], new[m], strict=False)) + ")"  # fmt: skip
            print(f"{m:8s} {before.get(m, 0):8.1f} -> {after.get(m, 0):8.1f}    {same}")


if __name__ == "__main__":
    main()
