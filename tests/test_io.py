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
    with pytest.raises(GenampError, match=r"m.h5:s: holds byte strings \(dtype \|S1\)"):
        open_events(tmp_path / "m.h5", "s")


def test_unknown_and_broken_files(tmp_path):
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(GenampError, match="unknown format"):
        open_events(tmp_path / "x.csv")
    (tmp_path / "x.h5").write_text("not hdf5")
    with pytest.raises(GenampError, match="x.h5: is a text file .it begins 'not hdf5'., not an HDF5 file"):
        open_events(tmp_path / "x.h5")
    (tmp_path / "t.npy").write_text("1.0 2.0\n3.0 4.0\n")
    with pytest.raises(GenampError, match="t.npy: is a text file .it begins '1.0 2.0'., not a NumPy .npy file"):
        open_events(tmp_path / "t.npy")
    (tmp_path / "b.npz").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(GenampError, match=r"b.npz: is not a NumPy .npz archive \(its first bytes are"):
        open_events(tmp_path / "b.npz")
    (tmp_path / "e.npy").write_bytes(b"")
    with pytest.raises(GenampError, match=r"e.npy: is empty \(0 bytes\)"):
        open_events(tmp_path / "e.npy")
    with pytest.raises(GenampError, match="is a directory"):
        open_events(tmp_path)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (np.ones((4, 1), dtype=complex), r"complex numbers \(dtype complex128\)"),
        (np.ones((4, 1), dtype=bool), r"booleans \(dtype bool\)"),
        (np.array([["a"], ["b"]]), r"strings \(dtype <U1\)"),
        (np.zeros(4, dtype=[("pt", "f8"), ("eta", "f8")]), r"records with fields pt, eta \(a structured array\)"),
    ],
    ids=["complex", "bool", "str", "structured"],
)
@pytest.mark.parametrize("suffix", [".npy", ".npz", ".h5"])
def test_values_that_are_not_real_numbers_are_refused_by_dtype(tmp_path, values, words, suffix):
    """Refused when the file is opened, never cast to float (which NumPy does with at most a warning)."""
    path = tmp_path / f"v{suffix}"
    if suffix == ".npy":
        np.save(path, values)
    elif suffix == ".npz":
        np.savez(path, events=values)
    else:
        with h5py.File(path, "w") as f:
            f["events"] = values if values.dtype.kind != "U" else values.astype("S")
            words = words.replace("strings \\(dtype <U1", "byte strings \\(dtype \\|S1")
    with pytest.raises(GenampError, match=rf"v{suffix}(:events)?: holds {words}; events must be finite real numbers"):
        open_events(path)


def test_integers_are_real_numbers(tmp_path):
    np.save(tmp_path / "i.npy", np.arange(6).reshape(3, 2))
    np.testing.assert_array_equal(open_events(tmp_path / "i.npy").read(), np.arange(6.0).reshape(3, 2))


def _root_file(path, n=25):
    """A ROOT file as a generator's output might be: a TTree with flat branches of several
    types, a jagged one with its counter, a fixed-size array, and an RNTuple beside it."""
    import awkward as ak
    import uproot

    rng = np.random.default_rng(0)
    cols = {"pt": rng.exponential(50.0, n), "eta": rng.normal(size=n).astype(np.float32), "njet": rng.integers(0, 9, n).astype(np.int32)}
    with uproot.recreate(path) as f:
        tree = f.mktree("events", {"pt": np.float64, "eta": np.float32, "njet": np.int32, "tracks": "var * float64",
                                   "p3": ("f8", (3,)), "ok": np.bool_})  # fmt: skip
        for lo in range(0, n, 10):  # several baskets, as a file written while generating
            hi = min(n, lo + 10)
            tree.extend({**{k: v[lo:hi] for k, v in cols.items()}, "tracks": ak.Array([[1.0, 2.0]] * (hi - lo)),
                         "p3": np.ones((hi - lo, 3)), "ok": np.ones(hi - lo, bool)})  # fmt: skip
        f["ntuple"] = {"a": np.arange(4.0)}
    return cols


def test_a_root_tree_is_read_by_branch_name(tmp_path):
    """A TTree's flat numeric branches are its features (not the jagged one, its counter, the
    array or the booleans); chunks across baskets give the file's values; ``select`` reads only
    the named branches in the named order; RNTuples are trees too."""
    cols = _root_file(tmp_path / "gen.root")
    with pytest.raises(GenampError, match="holds 2 arrays .events, ntuple.; name one with --dataset"):
        open_events(tmp_path / "gen.root")
    ev = open_events(tmp_path / "gen.root", "events")
    assert ev.features == ("pt", "eta", "njet") and ev.shape == (25, 3)
    want = np.stack([cols["pt"], cols["eta"].astype(np.float64), cols["njet"]], axis=1)
    np.testing.assert_array_equal(np.concatenate(list(ev.chunks(7))), want)
    picked = ev.select(["njet", "pt"])
    assert picked.features == ("njet", "pt") and picked.shape == (25, 2)
    np.testing.assert_array_equal(picked.read(), want[:, [2, 0]])
    np.testing.assert_array_equal(picked.rows(np.array([24, 3])), want[[24, 3]][:, [2, 0]])
    np.testing.assert_array_equal(open_events(tmp_path / "gen.root", "ntuple").read(), np.arange(4.0)[:, None])


def test_features_are_matched_by_name_in_every_format(tmp_path):
    x = np.arange(30.0).reshape(10, 3)
    np.savez(tmp_path / "b.npz", events=x, features=np.array(["pt", "eta", "phi"]))
    ev = open_events(tmp_path / "b.npz")
    np.testing.assert_array_equal(ev.select(["phi", "pt"]).read(), x[:, [2, 0]])
    np.testing.assert_array_equal(ev.select(["phi", "pt"]).select(["pt"]).read(), x[:, [0]])
    with pytest.raises(GenampError, match=r"b.npz: no feature m, E; it has pt, eta, phi"):
        ev.select(["pt", "m", "E"])
    np.save(tmp_path / "a.npy", x)
    with pytest.raises(GenampError, match="its columns have no names"):
        open_events(tmp_path / "a.npy").select(["pt"])


def test_a_root_file_without_the_named_branches_or_trees_is_one_error(tmp_path):
    _root_file(tmp_path / "gen.root")
    with pytest.raises(GenampError, match=r"gen.root: no feature b_pt; it has pt, eta, njet"):
        open_events(tmp_path / "gen.root", "events").select(["pt", "b_pt"])
    with pytest.raises(GenampError, match="no dataset 'tree'"):
        open_events(tmp_path / "gen.root", "tree")
    (tmp_path / "text.root").write_text("a,b\n1,2\n")
    with pytest.raises(GenampError, match="text.root: is a text file"):
        open_events(tmp_path / "text.root")
    (tmp_path / "cut.root").write_bytes((tmp_path / "gen.root").read_bytes()[:300])
    with pytest.raises(GenampError, match="cut.root: cannot be read"):
        open_events(tmp_path / "cut.root")
