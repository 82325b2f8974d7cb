"""Reading user events: HDF5 and NumPy, never pickles, in chunks."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from genamp.data.io import open_events
from genamp.errors import GenampError


def test_formats_and_feature_names(tmp_path):
    x = np.arange(20.0).reshape(10, 2)
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "b.npz", events=x, features=np.array(["pt", "eta"]))
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_group("g")["events"] = x
        f["g/events"].attrs["features"] = ["pt", "eta"]
    for name, features in (("a.npy", None), ("b.npz", ("pt", "eta")), ("c.h5", ("pt", "eta"))):
        ev = open_events(tmp_path / name)
        assert ev.shape == (10, 2) and ev.features == features
        np.testing.assert_array_equal(ev.read(), x)
        np.testing.assert_array_equal(np.concatenate(list(ev.chunks(3))), x)


def test_pickles_are_refused(tmp_path):
    np.save(tmp_path / "o.npy", np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(GenampError, match="never loads pickles"):
        open_events(tmp_path / "o.npy")
    np.savez(tmp_path / "o.npz", events=np.array([{}], dtype=object))
    with pytest.raises(GenampError, match="never loads pickles"):
        open_events(tmp_path / "o.npz")


def test_choosing_a_dataset(tmp_path):
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["a"] = np.zeros((3, 1))
        f["b"] = np.ones((4, 1))
        f["s"] = np.array([b"x", b"y"])
    assert open_events(tmp_path / "m.h5", "b").n_events == 4
    with pytest.raises(GenampError, match="holds 3 arrays"):
        open_events(tmp_path / "m.h5")
    with pytest.raises(GenampError, match="no dataset 'c'"):
        open_events(tmp_path / "m.h5", "c")
    with pytest.raises(GenampError, match="not numbers"):
        open_events(tmp_path / "m.h5", "s")


def test_unknown_and_broken_files(tmp_path):
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(GenampError, match="unknown format"):
        open_events(tmp_path / "x.csv")
    (tmp_path / "x.h5").write_text("not hdf5")
    with pytest.raises(GenampError, match="cannot be read"):
        open_events(tmp_path / "x.h5")
