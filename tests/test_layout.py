"""A file of the ttbar layout, (events, 6, 4) four-momenta with its objects and components named,
is read as flattened events (events, 24) everywhere events are read; any other 3D array is an error."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from genamp.cli import main
from genamp.data.io import open_events
from genamp.errors import GenampError
from genamp.truths import Pool
from synthetic_ttbar import FEATURES, OBJECTS, ttbar_events, write_ttbar


def test_a_layout_file_is_read_as_flattened_events(tmp_path):
    events = ttbar_events(4000, 1)
    path = write_ttbar(tmp_path / "t.h5", events, level="jet")
    f = open_events(path)
    flat = events.reshape(len(events), 24)
    assert f.shape == (4000, 24) and f.features == FEATURES and f.features[:5] == ("b_E", "b_px", "b_py", "b_pz", "q1_E")
    assert f.layout.objects == OBJECTS and f.layout.components == ("E", "px", "py", "pz")
    assert (f.layout.name, f.layout.level) == ("ttbar", "jet")
    np.testing.assert_array_equal(f.read(), flat)
    np.testing.assert_array_equal(np.concatenate(list(f.chunks(333))), flat)
    rows = np.random.default_rng(0).permutation(4000)[:700]
    np.testing.assert_array_equal(f.rows(rows, block=128), flat[rows])
    pool = Pool.from_file(path)
    assert (pool.n_events, pool.dim, pool.features) == (4000, 24, FEATURES)
    np.testing.assert_array_equal(pool.head(10), flat[:10])


def test_other_3d_arrays_are_one_error(capsys, tmp_path):
    x = np.zeros((10, 6, 4))
    with h5py.File(tmp_path / "bare.h5", "w") as f:
        f["events"] = x
    with h5py.File(tmp_path / "short.h5", "w") as f:
        f["events"] = x
        f["events"].attrs.update({"objects": ["b", "q1"], "components": ["E", "px", "py", "pz"]})
    with h5py.File(tmp_path / "twice.h5", "w") as f:
        f["events"] = x
        f["events"].attrs.update({"objects": ["b"] * 6, "components": ["E", "px", "py", "pz"]})
    with h5py.File(tmp_path / "deep.h5", "w") as f:
        f["events"] = np.zeros((10, 6, 4, 2))
    np.save(tmp_path / "cube.npy", x)
    cases = [("bare.h5", r"a 3D array of shape \(10, 6, 4\) is read as \(events, objects, components\) only with the attributes objects \(6 names\)"),
             ("short.h5", "it has 2 objects and 4 components"),
             ("twice.h5", "its objects must be distinct"),
             ("deep.h5", r"expected events of shape \(events, features\) or \(events, objects, components\)"),
             ("cube.npy", "only from HDF5 with the attributes objects and components")]  # fmt: skip
    for name, message in cases:
        with pytest.raises(GenampError, match=message):
            open_events(tmp_path / name)
    # where events are read: one error line, no traceback
    rc = main(["estimate", "--pool", str(tmp_path / "bare.h5"), "-s", str(tmp_path / "bare.h5"), "--n-train", "10"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "a 3D array of shape (10, 6, 4)" in lines[0], lines
