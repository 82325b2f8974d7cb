"""The data cache: a sample is generated once and found again by its settings.

The cache folder is ``$GENAMP_CACHE``, else ``~/.cache/genamp``. A top-pair sample lives in
``ttbar/<level>-<key>-<n>.h5``, ``key`` naming everything that makes the events what they are
(level, seed, ISR, MPI, every Pythia setting, the chunk size, the jet selection, Pythia's
version: :meth:`genamp.data.ttbar.TtbarSpec.identity`); a file is trusted only when the identity
stored inside it is the one asked for.

A request for ``n`` events is served by the smallest cached file of the same identity with at
least ``n`` events. Its first ``n`` events are exactly the sample ``(seed, n)``: a sample is the
chunks ``0, 1, …`` cut at its size, and the chunks do not depend on it. Read them as
``events[:n]``; the file's attributes (``events``, ``sigma_pb``, ``efficiency``) describe all of it.
A larger request than any cached file is generated, taking the whole chunks of the largest
smaller one instead of making them again; the smaller file stays (a study may name it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from genamp.data import ttbar as _ttbar


def cache_dir(cache: Path | str | None = None) -> Path:
    """``cache`` if given, else ``$GENAMP_CACHE``, else ``~/.cache/genamp``."""
    if cache is not None:
        return Path(cache)
    env = os.environ.get("GENAMP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "genamp"


def _ttbar_folder(cache: Path | str | None) -> Path:
    return cache_dir(cache) / "ttbar"


def _cached_sizes(spec: _ttbar.TtbarSpec, cache: Path | str | None) -> list[tuple[int, Path]]:
    """The cached files of ``spec`` that verify, by size."""
    folder = _ttbar_folder(cache)
    pattern = re.compile(rf"{re.escape(spec.level)}-{spec.key}-(\d+)\.h5")
    named = sorted((int(m.group(1)), p) for p in folder.glob(f"{spec.level}-{spec.key}-*.h5") if (m := pattern.fullmatch(p.name)))
    identity = spec.identity_json()
    return [(size, path) for size, path in named
            if (attrs := _ttbar.read_sample(path)) is not None and attrs.get("identity") == identity and int(attrs["events"]) == size]  # fmt: skip


def cached_ttbar(spec: _ttbar.TtbarSpec, n: int, cache: Path | str | None = None) -> Path | None:
    """The smallest cached file of ``spec`` with at least ``n`` events, if there is one."""
    return next((path for size, path in _cached_sizes(spec, cache) if size >= n), None)


def smaller_ttbar(spec: _ttbar.TtbarSpec, n: int, cache: Path | str | None = None) -> Path | None:
    """The largest cached file of ``spec`` with fewer than ``n`` events: its whole chunks are the
    first chunks of ``n`` events (``generate(..., reuse=[it])`` takes them)."""
    return next((path for size, path in reversed(_cached_sizes(spec, cache)) if size < n), None)


def ttbar_path(spec: _ttbar.TtbarSpec, n: int, cache: Path | str | None = None) -> Path:
    """Where the cache keeps ``n`` events of ``spec``."""
    return _ttbar_folder(cache) / f"{spec.level}-{spec.key}-{n}.h5"


def ttbar_events(level: str, n: int, seed: int = 1, isr: bool = True, mpi: bool | None = None,
                 cache: Path | str | None = None, **options) -> Path:  # fmt: skip
    """A file holding at least ``n`` top-pair events of these settings: the cached one (its first
    ``n`` events are the sample), else one generated into the cache now.

    ``options`` go to :func:`genamp.data.ttbar.generate` (``workers``, ``chunk_events``,
    ``progress``, ``note``).
    """
    spec = _ttbar.TtbarSpec.make(level, seed, isr, mpi, options.get("chunk_events"))
    n = _ttbar.check_events(n)
    found = cached_ttbar(spec, n, cache)
    if found is not None:
        return found
    smaller = smaller_ttbar(spec, n, cache)
    return _ttbar.generate(level, n, ttbar_path(spec, n, cache), seed=seed, isr=isr, mpi=mpi,
                           reuse=[smaller] if smaller else [], **options).path  # fmt: skip
