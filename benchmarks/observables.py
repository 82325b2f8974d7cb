"""Counting events into observable bins: events per second and peak memory, against numpy.

Streams N events of 10 correlated features (default 10^7, in chunks) into

- ``10 × 50``: 50 quantile bins of each of the 10 columns (genamp.volumes.ObservableBins);
- ``5 pairs × 20×20``: the pairs (0,1), (2,3), ... in 20 × 20 bins of their marginal quantiles;

once with genamp's ``count_occupancy`` (validation included) and once with ``numpy.histogram``
(1D) or ``numpy.histogramdd`` (pairs) on the same chunks and edges (finite outer edges for
numpy). Generating the events is timed apart and not counted. Each variant runs alone in a
single-threaded process, so its peak resident memory is its own; both must give identical counts.

    python benchmarks/observables.py                 # 10^7 events
    python benchmarks/observables.py --events 1e6    # a quick look
"""

from __future__ import annotations

import resource
import time

import _children

FEATURES = 10


def child(case: str, variant: str, n_events: int, chunk: int) -> dict:
    import numpy as np

    from genamp.observables import columns
    from genamp.volumes import ObservableBins, count_occupancy

    mix = np.linalg.cholesky(0.5 * np.eye(FEATURES) + 0.5 / FEATURES)  # correlated features

    def events(n: int, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((n, FEATURES)) @ mix.T

    obs = columns(FEATURES)
    reference = events(100_000, 0)
    if case == "10x50":
        volumes = [ObservableBins.from_quantiles([o], reference, 50) for o in obs]
    else:
        volumes = [ObservableBins.from_quantiles([obs[i], obs[i + 1]], reference, 20) for i in range(0, FEATURES, 2)]
    count_occupancy(reference[:10], volumes)  # compile before timing
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    generating = 0.0

    def chunks():
        nonlocal generating
        for k, start in enumerate(range(0, n_events, chunk)):
            t = time.perf_counter()
            x = events(min(chunk, n_events - start), 1 + k)
            generating += time.perf_counter() - t
            yield x

    start = time.perf_counter()
    if variant == "genamp":
        counts = [o.fractions[0] * n_events for o in count_occupancy(chunks(), volumes)]
    else:
        finite = [[np.clip(e, -1e300, 1e300) for e in v.edges] for v in volumes]
        counts = [np.zeros(v.n_cells) for v in volumes]
        for x in chunks():
            for v, e, c in zip(volumes, finite, counts, strict=True):
                cols = [o.reads[0] for o in v.observables]
                if len(cols) == 1:
                    c += np.histogram(x[:, cols[0]], bins=e[0])[0]
                else:
                    c += np.histogramdd(x[:, cols], bins=e)[0].ravel()
    counting = time.perf_counter() - start - generating
    return {
        "events_per_second": n_events / counting,
        "count_seconds": counting,
        "generate_seconds": generating,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_counting_mb": rss_start / 1024,
        "checksum": [int(round(v)) for c in counts for v in c],
    }


def main() -> None:
    args = _children.arguments(__doc__, "1e7", 2**18).parse_args()
    if _children.serve(args, child):
        return
    for n in _children.sizes(args):
        for case, baseline in (("10x50", "numpy.histogram"), ("5x20x20", "numpy.histogramdd")):
            row = {variant: _children.measure(__file__, args, case, variant, n) for variant in ("genamp", "numpy")}
            same = row["genamp"].pop("checksum") == row["numpy"].pop("checksum")
            g, h = row["genamp"], row["numpy"]
            print(
                f"{case:8s} N={n:.0e}  genamp {g['events_per_second'] / 1e6:6.2f} M events/s (peak {g['peak_rss_mb']:4.0f} MB)   "
                f"{baseline} {h['events_per_second'] / 1e6:6.2f} M events/s (peak {h['peak_rss_mb']:4.0f} MB)   "
                f"speed-up x{g['events_per_second'] / h['events_per_second']:.1f}   identical counts: {same}   "
                f"[generating {g['generate_seconds']:.1f} s, not counted]",
                flush=True,
            )


if __name__ == "__main__":
    main()
