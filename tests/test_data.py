"""Tests for nncli.datasets: built-in datasets, user files, the registry, and every
bad-input message."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nncli.datasets import BUILTIN_DATASETS, SPLITS, Dataset, Split, base, load_dataset, registry
from nncli.datasets.base import Bare, Source
from nncli.datasets.files import split_counts
from nncli.datasets.sine import SINE_OMEGA
from nncli.errors import InputError

HERE = Path(__file__).resolve().parent
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL = {"train": 30, "val": 7, "test": 5}


def load(cfg, base_dir: Path = HERE, seed: int = 0) -> Dataset:
    return load_dataset(cfg, base_dir, seed)


def splits(ds: Dataset) -> list[Split]:
    return [ds.split(name) for name in ("train", "val", "test")]


def assert_same(a: Dataset, b: Dataset) -> None:
    for sa, sb in zip(splits(a), splits(b), strict=True):
        np.testing.assert_array_equal(sa.x, sb.x)
        np.testing.assert_array_equal(sa.y, sb.y)


def input_error(cfg, *fragments: str, base_dir: Path = HERE, seed: int = 0) -> str:
    with pytest.raises(InputError) as info:
        load_dataset(cfg, base_dir, seed)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- digits ------------------------------------------------------------------------------


def test_digits_shapes_counts_and_classes():
    ds = load("digits")
    assert (ds.name, ds.task, ds.num_classes) == ("digits", "classification", 10)
    assert [len(s) for s in splits(ds)] == [1259, 269, 269]
    assert sum(len(s) for s in splits(ds)) == 1797
    for s in splits(ds):
        assert s.x.dtype == np.float64 and s.x.shape[1:] == (1, 8, 8)
        assert s.y.dtype == np.int64 and s.y.shape == (len(s),)
        assert s.x.min() >= 0.0 and s.x.max() <= 1.0
        assert set(s.y.tolist()) == set(range(10))
        assert np.allclose(s.x * 16, np.round(s.x * 16))  # pixel counts / 16
    assert ds.input_shape == (1, 8, 8)


def test_digits_splits_are_disjoint_and_stratified():
    ds = load("digits")
    rows = [{img.tobytes() for img in s.x} for s in splits(ds)]
    assert sum(len(r) for r in rows) == 1797  # every image distinct, none shared
    shares = [np.bincount(s.y, minlength=10) / len(s) for s in splits(ds)]
    assert np.abs(shares[0] - shares[1]).max() < 0.02
    assert np.abs(shares[0] - shares[2]).max() < 0.02


def test_digits_flat_and_file_layout():
    flat = load({"name": "digits", "flat": True})
    assert flat.train.x.shape == (1259, 64)
    np.testing.assert_array_equal(flat.train.x, load("digits").train.x.reshape(-1, 64))
    with np.load(HERE.parent / "data" / "digits.npz", allow_pickle=False) as raw:
        assert sorted(raw.files) == sorted(
            f"{a}_{s}" for a in "xy" for s in ("train", "val", "test")
        )
        assert raw["x_train"].dtype == np.uint8 and raw["y_train"].dtype == np.int64


def test_digits_missing_file(monkeypatch, tmp_path):
    monkeypatch.setattr(base, "shipped_file", lambda name: tmp_path / name)
    input_error("digits", "data.name", "missing", str(tmp_path))


# --- generators --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["adding", "sine", "bars"])
def test_generators_are_deterministic(name):
    cfg = {"name": name, **SMALL}
    assert_same(load(cfg, seed=3), load(cfg, seed=3))
    a, b = load(cfg, seed=3), load(cfg, seed=4)
    assert not np.array_equal(a.train.x, b.train.x)
    # the three splits are separate streams, not prefixes of one another
    assert not np.array_equal(a.train.x[:5], a.test.x)


@pytest.mark.parametrize(
    ("name", "task", "classes", "sample_x", "sample_y"),
    [
        ("adding", "regression", None, (50, 2), (1,)),
        ("sine", "regression", None, (20, 1), (1,)),
        ("bars", "classification", 2, (1, 8, 8), ()),
    ],
)
def test_generator_defaults(name, task, classes, sample_x, sample_y):
    ds = load(name)
    assert (ds.task, ds.num_classes, ds.input_shape) == (task, classes, sample_x)
    assert ds.train.y.shape[1:] == sample_y
    counts = [len(s) for s in splits(ds)]
    assert counts == [registry.named()[name].OPTIONS[key].default for key in SPLITS]
    for s in splits(ds):
        assert s.x.dtype == np.float64
        assert s.y.dtype == (np.int64 if task == "classification" else np.float64)


def test_adding_markers_and_targets():
    ds = load("adding")
    x, y = ds.train.x, ds.train.y
    values, markers = x[:, :, 0], x[:, :, 1]
    assert set(np.unique(markers).tolist()) == {0.0, 1.0}
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :25].sum(axis=1) == 1)  # one mark in each half (T = 50)
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(axis=1))
    assert values.min() >= 0.0 and values.max() <= 1.0
    # sum of two U(0, 1): mean 1, variance 1/6, so guessing 1.0 scores MSE 1/6
    # (standard error of this estimate over 10,000 samples is about 0.002)
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.01
    assert abs(y.mean() - 1.0) < 0.02


def test_adding_odd_steps():
    ds = load({"name": "adding", "steps": 7, **SMALL})
    markers = ds.train.x[:, :, 1]
    assert ds.input_shape == (7, 2)
    assert np.all(markers[:, :3].sum(axis=1) == 1) and np.all(markers[:, 3:].sum(axis=1) == 1)


def test_sine_target_is_next_value_of_the_same_wave():
    ds = load({"name": "sine", "steps": 12, **SMALL})
    x, y = ds.train.x[:, :, 0], ds.train.y[:, 0]
    assert np.abs(x).max() <= 1.0
    # a sine obeys s[t+1] = c * s[t] - s[t-1] with c = 2 cos(w); fit c from the window
    c = ((x[:, 2:] + x[:, :-2]) * x[:, 1:-1]).sum(axis=1) / (x[:, 1:-1] ** 2).sum(axis=1)
    np.testing.assert_allclose(y, c * x[:, -1] - x[:, -2], atol=1e-9)
    omega = np.arccos(c / 2)
    assert omega.min() >= SINE_OMEGA[0] - 1e-9 and omega.max() <= SINE_OMEGA[1] + 1e-9


def test_sine_noise_touches_inputs_only():
    clean = load({"name": "sine", **SMALL})
    noisy = load({"name": "sine", "noise": 0.5, **SMALL})
    np.testing.assert_array_equal(clean.train.y, noisy.train.y)
    assert 0.3 < np.std(noisy.train.x - clean.train.x) < 0.7


def test_bars_without_noise_are_full_lines():
    ds = load({"name": "bars", "noise": 0.0, "size": 5, **SMALL})
    for img, label in zip(ds.train.x[:, 0], ds.train.y, strict=True):
        lines = img if label == 0 else img.T  # rows of horizontal bars
        assert set(np.unique(img).tolist()) <= {0.0, 1.0}
        assert np.all((lines == 0).all(axis=1) | (lines == 1).all(axis=1))
        assert (lines == 1).all(axis=1).sum() in (1, 2)


def test_bars_labels_match_the_bars():
    ds = load("bars")
    for s in splits(ds):
        img = s.x[:, 0]
        vertical = img.mean(axis=1).max(axis=1) > img.mean(axis=2).max(axis=1)
        np.testing.assert_array_equal(vertical.astype(np.int64), s.y)
    assert 0.4 < ds.train.y.mean() < 0.6


def test_builtin_names_are_documented():
    assert set(BUILTIN_DATASETS) == {"digits", "adding", "sine", "bars"}
    assert all(isinstance(text, str) and text for text in BUILTIN_DATASETS.values())


def test_empty_val_and_test_are_allowed():
    ds = load({"name": "bars", "train": 4, "val": 0, "test": 0})
    assert ds.val.x.shape == (0, 1, 8, 8) and ds.test.y.shape == (0,)


# --- user files --------------------------------------------------------------------------


def rows_of(ds: Dataset) -> list[tuple]:
    out = []
    for s in splits(ds):
        out += [(xi.tobytes(), np.asarray(yi).tobytes()) for xi, yi in zip(s.x, s.y, strict=True)]
    return sorted(out)


def test_npz_round_trip_classification(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)), rng.integers(0, 4, size=20)
    y[0] = 4
    np.savez(tmp_path / "mine.npz", x=x, y=y)
    ds = load({"path": "mine.npz"}, tmp_path, seed=5)
    assert (ds.name, ds.task, ds.num_classes) == ("mine.npz", "classification", 5)
    assert [len(s) for s in splits(ds)] == [16, 2, 2]
    expected = Dataset(
        "", "", None, Split(x, y.astype(np.int64)), Split(x[:0], y[:0]), Split(x[:0], y[:0])
    )
    assert rows_of(ds) == rows_of(expected)
    assert_same(ds, load({"path": "mine.npz"}, tmp_path, seed=5))
    assert not np.array_equal(ds.train.y, load({"path": "mine.npz"}, tmp_path, seed=6).train.y)


def test_npz_regression_shape_and_task_override(tmp_path):
    x = np.arange(40.0).reshape(10, 4)
    np.savez(tmp_path / "reg.npz", x=x, y=np.linspace(0, 1, 10))
    ds = load({"path": "reg.npz", "shape": [1, 2, 2], "split": [0.6, 0.2, 0.2]}, tmp_path)
    assert (ds.task, ds.num_classes) == ("regression", None)
    assert ds.train.x.shape == (6, 1, 2, 2) and ds.train.y.shape == (6, 1)
    np.savez(tmp_path / "ints.npz", x=x, y=np.arange(10))
    forced = load({"path": "ints.npz", "task": "regression"}, tmp_path)
    assert forced.task == "regression" and forced.train.y.dtype == np.float64


def test_csv_round_trip_with_header_and_target_first(tmp_path):
    table = np.array([[1, 0.5, 2.0], [0, 1.5, -2.0], [1, 0.0, 3.0], [2, 4.0, 4.0]])
    text = "label,a,b\n" + "\n".join(",".join(str(v) for v in row) for row in table) + "\n"
    (tmp_path / "t.csv").write_text(text)
    ds = load({"path": "t.csv", "target": "first", "split": [1, 0, 0]}, tmp_path)
    assert (ds.task, ds.num_classes) == ("classification", 3)
    assert ds.train.x.shape == (4, 2) and len(ds.val) == 0
    order = np.argsort(ds.train.x[:, 1])
    np.testing.assert_array_equal(ds.train.x[order], table[np.argsort(table[:, 2]), 1:])
    last = load({"path": "t.csv", "split": [1, 0, 0]}, tmp_path)
    assert last.task == "regression" and last.train.y.shape == (4, 1)


@FAST
@given(
    n=st.integers(1, 30),
    cols=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_csv_and_npy_round_trip_property(tmp_path_factory, n, cols, seed):
    folder = tmp_path_factory.mktemp("rt")
    rng = np.random.default_rng(seed)
    table = np.round(rng.normal(size=(n, cols)), 6)
    np.savetxt(folder / "t.csv", table, delimiter=",", fmt="%.6f")
    np.save(folder / "t.npy", table)
    for name in ("t.csv", "t.npy"):
        ds = load({"path": name, "task": "regression", "split": [1, 0, 0]}, folder, seed)
        got = np.hstack([ds.train.x, ds.train.y])
        np.testing.assert_allclose(got[np.lexsort(got.T)], table[np.lexsort(table.T)])


@FAST
@given(
    n=st.integers(1, 200),
    val=st.floats(0, 0.45),
    test=st.floats(0, 0.45),
)
def test_split_counts_add_up(n, val, test):
    fractions = [1 - val - test, val, test]
    try:
        counts = split_counts(fractions, n, Source(Bare(), HERE, 0))
    except InputError as err:
        assert "none for training" in str(err)
        return
    assert sum(counts) == n and counts[0] >= 1 and min(counts) >= 0


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "fragments"),
    [
        ("digts", ["data.name: unknown dataset 'digts'", "did you mean 'digits'?"]),
        ("zzz", ["valid names: adding, bars, digits, sine"]),
        ("foo.csv", ["data: {path: foo.csv}"]),
        ({"name": 3}, ["data.name: unknown dataset '3'"]),
        ({"name": "sine", "steps": -3}, ["data.steps: expected an integer >= 1, got -3"]),
        ({"name": "adding", "steps": 1}, ["data.steps: expected an integer >= 2, got 1"]),
        ({"name": "adding", "steps": 2.5}, ["data.steps", "2.5"]),
        ({"name": "adding", "steps": True}, ["data.steps", "True"]),
        ({"name": "bars", "train": 0}, ["data.train: expected an integer >= 1"]),
        ({"name": "bars", "val": -1}, ["data.val: expected an integer >= 0"]),
        ({"name": "bars", "size": 2}, ["data.size: expected an integer >= 3"]),
        ({"name": "bars", "noise": -0.1}, ["data.noise: expected a number >= 0"]),
        ({"name": "sine", "noise": float("nan")}, ["data.noise"]),
        ({"name": "digits", "flat": "yes"}, ["data.flat: expected true or false"]),
        (
            {"name": "adding", "stpes": 5},
            [
                "data.stpes: unknown option",
                "did you mean 'steps'?",
                "valid options: name, steps, train, val, test",
            ],
        ),
        ({"name": "digits", "steps": 5}, ["valid options: name, flat"]),
        ({"name": "digits", "path": "x.npz"}, ["exactly one of 'name:'", "'path:'"]),
        ({"flat": True}, ["exactly one of"]),
        (5, ["data: expected a dataset name or a mapping"]),
        ({"path": 5}, ["data.path: expected a file name"]),
        ({"path": "x.npz", "colour": 1},
         ["data.colour", "valid options: path, task, split, shape, target"]),
    ],
)
def test_bad_config(cfg, fragments):
    input_error(cfg, *fragments)


def test_bad_seed():
    input_error("bars", "seed: expected an integer >= 0", seed=-1)


def test_unknown_split_name():
    with pytest.raises(InputError, match="unknown split 'tst'"):
        load({"name": "bars", **SMALL}).split("tst")


def test_missing_and_unsupported_files(tmp_path):
    input_error(
        {"path": "foo.npz"},
        "data.path: file 'foo.npz' not found",
        f"(looked in {tmp_path.resolve()})",
        "relative to the spec's folder",
        base_dir=tmp_path,
    )
    (tmp_path / "x.txt").write_text("1,2\n")
    input_error({"path": "x.txt"}, "data.path", "expected a .npz", base_dir=tmp_path)


@pytest.fixture
def folder(tmp_path):
    np.savez(tmp_path / "ok.npz", x=np.zeros((10, 2)), y=np.arange(10) % 2)
    return tmp_path


def test_npz_problems(folder):
    np.savez(folder / "nox.npz", inputs=np.zeros((3, 2)), y=np.zeros(3))
    input_error(
        {"path": "nox.npz"}, "data.path", "no array 'x'", "found inputs, y", base_dir=folder
    )
    np.savez(folder / "noxy.npz", a=np.zeros(3))
    input_error({"path": "noxy.npz"}, "no array 'x' or 'y'", base_dir=folder)
    x = np.zeros((4, 3))
    x[2, 1] = np.nan
    np.savez(folder / "nan.npz", x=x, y=np.zeros(4))
    input_error({"path": "nan.npz"}, "array 'x'", "NaN or inf", "(2, 1)", base_dir=folder)
    np.savez(folder / "inf.npz", x=np.zeros((4, 3)), y=np.array([0, 1, np.inf, 0]))
    input_error({"path": "inf.npz"}, "array 'y'", "NaN or inf", "(2,)", base_dir=folder)
    np.savez(folder / "len.npz", x=np.zeros((4, 3)), y=np.zeros(5))
    input_error({"path": "len.npz"}, "one row per sample", base_dir=folder)
    np.savez(folder / "str.npz", x=np.array([["a", "b"]]), y=np.zeros(1))
    input_error({"path": "str.npz"}, "array 'x'", "not numeric", base_dir=folder)
    np.savez(folder / "cplx.npz", x=np.zeros((2, 2), dtype=complex), y=np.zeros(2))
    input_error({"path": "cplx.npz"}, "not numeric", base_dir=folder)
    input_error({"path": "ok.npz", "target": "first"}, "data.target: only applies", base_dir=folder)


def test_object_arrays_are_never_unpickled(folder):
    objects = np.array([{"a": 1}, None], dtype=object)
    np.savez(folder / "obj.npz", x=objects, y=np.zeros(2))
    input_error(
        {"path": "obj.npz"}, "data.path: cannot read", "obj.npz'", "Python objects",
        base_dir=folder
    )
    np.save(folder / "obj.npy", objects, allow_pickle=True)
    input_error({"path": "obj.npy"}, "data.path: 'obj.npy' holds Python objects", base_dir=folder)
    np.save(folder / "one.npy", np.zeros(3))
    (folder / "one.npy").rename(folder / "one.npz")
    input_error({"path": "one.npz"}, "single array", base_dir=folder)
    np.save(folder / "flat.npy", np.zeros(3))
    input_error({"path": "flat.npy"}, "2-D table", base_dir=folder)


def test_garbage_npz(folder):
    (folder / "junk.npz").write_bytes(b"this is not a zip file at all")
    input_error({"path": "junk.npz"}, "data.path: cannot read", "junk.npz'", base_dir=folder)
    (folder / "empty.npz").write_bytes(b"")
    input_error({"path": "empty.npz"}, "cannot read", base_dir=folder)


def test_npy_problems(folder):
    """.npy tables go through nncli.io's checked reader: every failure is one line."""
    table = np.arange(12.0).reshape(4, 3)
    np.save(folder / "ok.npy", table)
    good = (folder / "ok.npy").read_bytes()
    for cut in (0, 10, 60, len(good) - 8):
        (folder / "cut.npy").write_bytes(good[:cut])
        input_error({"path": "cut.npy"}, "data.path", "'cut.npy'", base_dir=folder)
    np.save(folder / "cplx.npy", table.astype(complex))
    input_error({"path": "cplx.npy"}, "data.path", "complex", base_dir=folder)
    table[1, 2] = np.inf
    np.save(folder / "inf.npy", table)
    input_error({"path": "inf.npy"}, "data.path", "finite", base_dir=folder)
    with open(folder / "zip.npy", "wb") as handle:       # np.savez would add .npz
        np.savez(handle, x=table)
    input_error({"path": "zip.npy"}, "is an .npz archive", base_dir=folder)
    np.save(folder / "bools.npy", np.array([[True, False], [False, True]]))
    ds = load({"path": "bools.npy", "split": [1, 0, 0]}, folder)
    assert ds.train.x.dtype == np.float64 and ds.task == "classification"


def _npz_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=np.arange(60.0).reshape(20, 3), y=np.arange(20) % 3)
    return buffer.getvalue()


NPZ = _npz_bytes()


@FAST
@given(cut=st.integers(0, len(NPZ) - 1))
def test_truncated_npz_is_one_line_error(tmp_path_factory, cut):
    folder = tmp_path_factory.mktemp("cut")
    (folder / "cut.npz").write_bytes(NPZ[:cut])
    input_error({"path": "cut.npz"}, "data.path", base_dir=folder)


@FAST
@given(at=st.integers(0, len(NPZ) - 1), byte=st.integers(0, 255))
def test_corrupt_npz_never_crashes(tmp_path_factory, at, byte):
    folder = tmp_path_factory.mktemp("flip")
    damaged = bytearray(NPZ)
    damaged[at] = byte
    (folder / "bad.npz").write_bytes(bytes(damaged))
    try:
        ds = load({"path": "bad.npz"}, folder)
    except InputError as err:
        assert "\n" not in str(err)
    else:  # a byte the reader never checks (e.g. a timestamp): the data must still load
        assert sum(len(s) for s in splits(ds)) == 20


def test_csv_problems(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,x\n")
    input_error(
        {"path": "bad.csv"}, "'bad.csv' line 3: expected a number, got 'x'", base_dir=tmp_path
    )
    (tmp_path / "ragged.csv").write_text("1,2,3\n4,5\n")
    input_error({"path": "ragged.csv"}, "line 2: 2 columns, expected 3", base_dir=tmp_path)
    (tmp_path / "empty.csv").write_text("# nothing here\n\n")
    input_error({"path": "empty.csv"}, "at least 2 numbers", base_dir=tmp_path)
    (tmp_path / "nan.csv").write_text("1,2\nnan,3\n")
    input_error({"path": "nan.csv"}, "array 'x'", "NaN or inf", base_dir=tmp_path)
    (tmp_path / "ok.csv").write_text("1,0\n2,1\n3,0\n")
    input_error(
        {"path": "ok.csv", "target": "middle"},
        "data.target: expected one of first, last",
        base_dir=tmp_path,
    )


def test_bad_file_options(folder):
    ok = {"path": "ok.npz"}
    input_error(
        {**ok, "task": "clustering"},
        "data.task: expected one of classification, regression",
        base_dir=folder,
    )
    np.savez(folder / "real.npz", x=np.zeros((4, 2)), y=np.array([0.5, 1, 2, 3]))
    input_error(
        {"path": "real.npz", "task": "classification"}, "integer labels >= 0", base_dir=folder
    )
    np.savez(folder / "neg.npz", x=np.zeros((4, 2)), y=np.array([-1, 1, 2, 3]))
    input_error(
        {"path": "neg.npz", "task": "classification"}, "integer labels >= 0", base_dir=folder
    )
    assert load({"path": "neg.npz"}, folder).task == "regression"  # negative ints: regression
    input_error(
        {**ok, "split": [0.5, 0.5]}, "data.split: expected three fractions", base_dir=folder
    )
    input_error({**ok, "split": [0.5, 0.2, 0.2]}, "data.split", "summing to 1", base_dir=folder)
    input_error({**ok, "split": [0.0, 0.5, 0.5]}, "data.split", "train > 0", base_dir=folder)
    input_error({**ok, "split": [0.01, 0.5, 0.49]}, "leave none for training", base_dir=folder)
    input_error(
        {**ok, "shape": [3]},
        "data.shape: cannot reshape samples of 2 values to [3]",
        base_dir=folder,
    )
    input_error({**ok, "shape": "2"}, "data.shape: expected a list of integers", base_dir=folder)
    input_error({**ok, "shape": [2, 0]}, "data.shape", base_dir=folder)


def test_zip_without_npy_members(folder):
    with zipfile.ZipFile(folder / "plain.npz", "w") as archive:
        archive.writestr("x.txt", "hello")
    input_error({"path": "plain.npz"}, "data.path", base_dir=folder)
