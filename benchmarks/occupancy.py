"""Occupancy counting: events per second per core and peak memory, against numpy.histogramdd.

Counts N events (default 10^7 and 10^8) streamed from the toy samplers into

- a 50 x 50 polar grid of the ring (r quantiles x phi quantiles), from Cartesian events;
- 50 quantiles of the 1D camel back;

once with genamp's streamed counting (``count_occupancy``: validation, transform and binning)
and once with a plain ``numpy.histogramdd`` of the same chunks after the same transform to
factorising coordinates. Sampling time is measured separately and excluded from the counting
rate. Each variant runs in its own single-threaded process, so its peak resident memory (which
includes the Python interpreter and imported libraries, about 200 MB) is its own. Both variants
must give identical counts.

    python benchmarks/occupancy.py                  # 10^7 and 10^8 events
    python benchmarks/occupancy.py --events 1e6     # a quick look
"""

from __future__ import annotations

import json
import resource
import time

import _children

CASES = {"polar-50x50": ("ring", 50), "1d-50": ("camel", 50)}


def child(case: str, variant: str, n_events: int, chunk: int) -> dict:
    import numpy as np

    from genamp.densities import make_density
    from genamp.volumes import QuantileGrid, count_occupancy, sample_chunks

    name, q = CASES[case]
    density = make_density(name)
    grid = QuantileGrid.from_density(density, q)
    grid.count(density.sample(10, 0))  # compile before timing
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    sampling = 0.0

    def timed_chunks():
        """The sampler's chunks, with the time spent sampling them added to ``sampling``."""
        nonlocal sampling
        stream = sample_chunks(density.sample, n_events, 1, chunk_size=chunk)
        while True:
            t = time.perf_counter()
            x = next(stream, None)
            sampling += time.perf_counter() - t
            if x is None:
                return
            yield x

    start = time.perf_counter()
    if variant == "genamp":
        counts = count_occupancy(timed_chunks(), [grid])[0].fractions[0] * n_events
    else:
        counts = np.zeros(grid.shape)
        for x in timed_chunks():
            counts += np.histogramdd(density.to_factorised(x), bins=list(grid.edges))[0]
        counts = counts.ravel()
    total = time.perf_counter() - start
    counting = total - sampling
    return {
        "case": case,
        "variant": variant,
        "events": n_events,
        "count_seconds": counting,
        "sample_seconds": sampling,
        "events_per_second": n_events / counting,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_counting_mb": rss_start / 1024,
        "checksum": [int(round(v)) for v in counts],
    }


def main() -> None:
    parser = _children.arguments(__doc__, "1e7,1e8", 2**20)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if _children.serve(args, child):
        return
    results = []
    for n in _children.sizes(args):
        for case in CASES:
            row = {variant: _children.measure(__file__, args, case, variant, n) for variant in ("genamp", "histogramdd")}
            same = row["genamp"].pop("checksum") == row["histogramdd"].pop("checksum")
            g, h = row["genamp"], row["histogramdd"]
            ratio = g["events_per_second"] / h["events_per_second"]
            print(
                f"{case:12s} N={n:.0e}  genamp {g['events_per_second'] / 1e6:6.1f} M events/s "
                f"(peak {g['peak_rss_mb']:5.0f} MB)   histogramdd {h['events_per_second'] / 1e6:5.1f} M events/s "
                f"(peak {h['peak_rss_mb']:5.0f} MB)   speed-up x{ratio:4.1f}   identical counts: {same}   "
                f"[sampling {g['sample_seconds']:.1f} s, not counted]",
                flush=True,
            )
            results.append({"case": case, "events": n, "genamp": g, "histogramdd": h, "speedup": ratio, "identical": same})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
