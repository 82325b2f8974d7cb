"""The harness of the counting benchmarks: each variant runs alone in a single-threaded child
process (so its peak memory is its own) and reports one JSON line."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

#: one thread for every numeric library, so a figure is per core
SINGLE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def arguments(doc: str, events: str, chunk: int) -> argparse.ArgumentParser:
    """``--events``, ``--chunk`` and the hidden ``--child CASE VARIANT EVENTS``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", default=events, help="comma-separated numbers of events")
    parser.add_argument("--chunk", type=int, default=chunk, help="events per chunk")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "VARIANT", "EVENTS"), help=argparse.SUPPRESS)
    return parser


def serve(args: argparse.Namespace, child: Callable[[str, str, int, int], dict[str, Any]]) -> bool:
    """In a child process: run the one measurement, print it, and say so."""
    if not args.child:
        return False
    case, variant, n = args.child
    print(json.dumps(child(case, variant, int(n), args.chunk)))
    return True


def measure(script: str, args: argparse.Namespace, case: str, variant: str, n: int) -> dict[str, Any]:
    """Run one measurement in a fresh single-threaded process."""
    out = subprocess.run(
        [sys.executable, script, "--chunk", str(args.chunk), "--child", case, variant, str(n)],
        capture_output=True, text=True, env={**os.environ, **SINGLE_THREAD}, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def sizes(args: argparse.Namespace) -> list[int]:
    return [int(float(v)) for v in args.events.split(",")]
