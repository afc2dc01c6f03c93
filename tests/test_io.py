"""Reading (nncli.io, nncli.parse) and writing (nncli.output): every input form, every bad
input (one-line message), JSON and atomic writes."""

from __future__ import annotations

import io as stdio
import json
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nncli import budget, formatting, io, output
from nncli.errors import InputError, RunFailed

SEED_A = [[1, 0, 0, 0, 1], [0, 1, 0, 0, 1], [0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 0, 0, 1]]


def err(source, name="INPUT", **kw) -> str:
    with pytest.raises(InputError) as info:
        io.read_array(str(source), name, **kw)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{name}: ")
    return message


class Stdin:
    """A stand-in for sys.stdin: text or bytes, with .buffer and isatty()."""

    def __init__(self, data: bytes, tty: bool = False):
        self.buffer = stdio.BytesIO(data)
        self.tty = tty

    def isatty(self):
        return self.tty


# --------------------------------------------------------------------------- good inputs

@pytest.mark.parametrize("text", [
    "1 0 1; 0 1 0", "1,0,1;0,1,0", "1 0 1\n0 1 0", " 1, 0, 1 ; 0 ,1, 0 ;", "[[1,0,1],[0,1,0]]",
    '{"schema": "nncli.conv/1", "shape": [2, 3], "output": [[1, 0, 1], [0, 1, 0]]}',
])
def test_inline_forms_give_the_same_int_matrix(text):
    a = io.read_array(text)
    assert a.dtype == np.int64
    np.testing.assert_array_equal(a, [[1, 0, 1], [0, 1, 0]])


def test_floats_and_mixed_values_become_float64():
    a = io.read_array("1 2.5; -3e-1 4")
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, [[1, 2.5], [-0.3, 4]])
    assert io.read_array("[1, 2.0]").dtype == np.float64
    assert io.read_array("[1, 2]").dtype == np.int64
    assert io.read_array("7").shape == (1, 1)
    assert io.read_array("[7]").shape == (1,)


def test_huge_integers_are_read_as_floats():
    a = io.read_array(f"1 {2**60}")
    assert a.dtype == np.float64 and a[0, 1] == 2.0**60


def test_text_file_with_comments_and_csv_tsv(tmp_path):
    txt = tmp_path / "a.txt"
    txt.write_text("# seed A\n" + "\n".join(" ".join(map(str, r)) for r in SEED_A) + "\n")
    np.testing.assert_array_equal(io.read_array(str(txt)), SEED_A)
    csv = tmp_path / "a.csv"
    csv.write_text("1,2,3,\n4,5,6,\n")       # a trailing comma, as some exports write
    np.testing.assert_array_equal(io.read_array(str(csv)), [[1, 2, 3], [4, 5, 6]])
    tsv = tmp_path / "a.TSV"
    tsv.write_text("1\t2\n3\t4\n")
    np.testing.assert_array_equal(io.read_array(str(tsv)), [[1, 2], [3, 4]])


def test_blank_lines_separate_channels(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("1 2\n3 4\n\n5 6\n7 8\n\n")
    a = io.read_array(str(f))
    assert a.shape == (2, 2, 2)
    np.testing.assert_array_equal(a[1], [[5, 6], [7, 8]])


def test_npy_npz_json_files(tmp_path):
    np.save(tmp_path / "i.npy", np.array([[1, 2], [3, 4]], dtype=np.uint8))
    np.save(tmp_path / "f.npy", np.ones((2, 3, 4), dtype=np.float32))
    np.save(tmp_path / "b.npy", np.array([True, False]))
    np.savez(tmp_path / "w.npz", first=np.arange(3), second=np.eye(2))
    (tmp_path / "m.json").write_text(json.dumps(SEED_A))
    i = io.read_array(str(tmp_path / "i.npy"))
    assert i.dtype == np.int64 and i.tolist() == [[1, 2], [3, 4]]
    f = io.read_array(str(tmp_path / "f.npy"))
    assert f.dtype == np.float64 and f.shape == (2, 3, 4)
    assert io.read_array(str(tmp_path / "b.npy")).tolist() == [1, 0]
    np.testing.assert_array_equal(io.read_array(f"{tmp_path / 'w.npz'}:first"), [0, 1, 2])
    np.savez(tmp_path / "one.npz", only=np.arange(3))
    assert io.read_array(str(tmp_path / "one.npz")).tolist() == [0, 1, 2]
    np.testing.assert_array_equal(io.read_array(f"{tmp_path / 'w.npz'}:second"), np.eye(2))
    assert io.read_array(str(tmp_path / "m.json")).tolist() == SEED_A


def test_stdin_text_json_and_npy():
    assert io.read_array("-", stdin=Stdin(b"1 2\n3 4\n")).tolist() == [[1, 2], [3, 4]]
    payload = b'{"schema": "nncli.pool/1", "shape": [2, 2], "output": [[2, 0], [1, 2]]}\n'
    assert io.read_array("-", stdin=Stdin(payload)).tolist() == [[2, 0], [1, 2]]
    buf = stdio.BytesIO()
    np.save(buf, np.arange(6.0).reshape(2, 3))
    assert io.read_array("-", stdin=Stdin(buf.getvalue())).shape == (2, 3)


def test_ndims_restriction():
    assert io.read_array("1 2", ndims=(2,)).shape == (1, 2)
    m = err("[1, 2]", ndims=(2, 3))
    assert m == ("INPUT: expected a 2-D matrix or a 3-D tensor (C, H, W), got a 1-D array of "
                 "shape 2")


# --------------------------------------------------------------------------- properties

@settings(max_examples=80, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.data())
def test_int_matrices_round_trip_through_every_text_form(rows, cols, data):
    values = data.draw(st.lists(st.lists(st.integers(-10**6, 10**6), min_size=cols,
                                         max_size=cols), min_size=rows, max_size=rows))
    seps = data.draw(st.sampled_from([(" ", "; "), (",", ";"), (", ", "\n"), ("\t", "\n")]))
    text = seps[1].join(seps[0].join(str(v) for v in r) for r in values)
    for form in (text, json.dumps(values), output.dumps_json({"output": values})):
        a = io.read_array(form)
        assert a.dtype == np.int64
        assert a.tolist() == values


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64),
                         min_size=3, max_size=3), min_size=1, max_size=4))
def test_float_matrices_round_trip_exactly(values):
    text = "; ".join(" ".join(repr(v) for v in r) for r in values)
    np.testing.assert_array_equal(io.read_array(text), np.array(values, dtype=np.float64))
    np.testing.assert_array_equal(io.read_array(json.dumps(values)), np.array(values))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=2, max_size=6).filter(lambda n: len(set(n)) > 1))
def test_ragged_rows_are_always_reported(lengths):
    text = "; ".join(" ".join("1" * 1 for _ in range(n)) for n in lengths)
    m = err(text)
    bad = next(i for i, n in enumerate(lengths) if n != lengths[0])
    assert m.startswith(f"INPUT: row {bad + 1} has {formatting.plural(lengths[bad], 'value')} but "
                        f"row 1 has {lengths[0]}")
    assert "row" in err(json.dumps([[1] * n for n in lengths]))


# --------------------------------------------------------------------------- bad inputs

def test_ragged_rows_message_matches_the_issue():
    assert err("1 2 3 4 5; 1 2 3") == ("INPUT: row 2 has 3 values but row 1 has 5; every row "
                                       "needs the same number of values")
    assert err("[[1,2,3,4,5],[1,2,3]]", "KERNEL").startswith(
        "KERNEL: row 2 has 3 values but row 1 has 5")


def test_ragged_text_file_cites_the_line(tmp_path):
    f = tmp_path / "r.txt"
    f.write_text("# header\n1 2\n3\n")
    assert err(f).startswith("INPUT: row 2 (line 3) has 1 value but row 1 has 2")


def test_ragged_channels(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("1 2\n3 4\n\n5 6\n")
    assert "block 2 (from line 4) has 1 rows but block 1 has 2" in err(f)
    assert "[1][0] has 1 entry but [0][0] has 2" in err("[[[1,2]],[[1]]]")


@pytest.mark.parametrize("text, found", [
    ("1 x", "row 1, value 2 is 'x', which is not a number"),
    ("1 2; 3 four", "row 2, value 2 is 'four', which is not a number"),
    ("1 nan", "row 1, value 2 is nan; every value must be a finite number"),
    ("inf 1", "row 1, value 1 is inf; every value must be a finite number"),
    ("[[1, true]]", "[0][1] is true, which is not a number"),
    ('[[1, "2"]]', "[0][1] is \"2\", which is not a number"),
    ("[[1, null]]", "[0][1] is null, which is not a number"),
    ("[1, NaN]", "JSON holds NaN; every value must be a finite number"),
    ("[1e999]", "[0] is inf; every value must be a finite number"),
    ("[[1, 2], 3]", "row 2 is a number but row 1 is a list"),
    ("1,,2", "row 1 has an empty value"),
    ("[1, 2", "not valid JSON"),
    ('{"a": 1}', 'JSON object has no "output" field'),
    ('{"shape": [3], "output": [1, 2]}', 'JSON "shape" is [3] but "output" has shape [2]'),
    ("[[[[[1]]]]]", "nested 5 levels deep"),
])
def test_bad_values(text, found):
    assert found in err(text)


@pytest.mark.parametrize("text", ["", "   ", " ; ; ", "[]", "[[]]", "[[], []]", "# only\n"])
def test_empty_matrix(text):
    assert "the matrix is empty" in err(text)


def test_missing_unknown_and_unreadable_files(tmp_path):
    assert err(tmp_path / "nope.txt") == (
        f"INPUT: file '{tmp_path / 'nope.txt'}' not found; expected an inline matrix like "
        '"1 0; 0 1", a file (.txt, .csv, .npy, .npz, .json) or - for stdin')
    assert "not found" in err("data/missing.npy", "KERNEL")
    odd = tmp_path / "m.xlsx"
    odd.write_text("1 2")
    assert err(odd) == (f"INPUT: unknown file type '.xlsx' for '{odd}'; expected .txt, .csv, "
                        ".tsv, .npy, .npz or .json")
    noext = tmp_path / "matrix"
    noext.write_text("1 2")
    assert "unknown file type '(no extension)'" in err(noext)
    assert "is a folder" in err(tmp_path)
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    assert "is not UTF-8 text" in err(binary)
    empty = tmp_path / "e.txt"
    empty.write_text("")
    assert "the matrix is empty" in err(empty)
    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"not an npy")
    assert "is not a valid .npy array" in err(broken)
    assert "is not a valid .npz archive" in err(_write(tmp_path / "z.npz", b"junk"))


def test_permission_denied(tmp_path, monkeypatch):
    f = tmp_path / "secret.txt"
    f.write_text("1 2")
    real_read = Path.read_bytes

    def refuse(self):                        # a chmod 0 file (root would read it anyway)
        if self == f:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert "cannot read" in err(f) and "Permission denied" in err(f)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_npy_with_objects_is_refused_without_unpickling(tmp_path):
    f = tmp_path / "obj.npy"
    np.save(f, np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    assert err(f) == (f"INPUT: '{f}' holds Python objects (dtype object); nncli never "
                      "unpickles files; save a plain numeric array instead")
    z = tmp_path / "obj.npz"
    np.savez(z, w=np.array([1, "a"], dtype=object))
    assert "holds Python objects" in err(z)
    rec = tmp_path / "rec.npy"
    np.save(rec, np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]))
    assert "structured record array" in err(rec)
    cplx = tmp_path / "c.npy"
    np.save(cplx, np.ones(2, dtype=complex))
    assert "holds dtype complex128; expected integers or floats" in err(cplx)
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([[1.0, np.nan]]))
    assert err(nan) == "INPUT: the value at [0, 1] is nan; every value must be a finite number"


def test_npz_key_errors(tmp_path):
    z = tmp_path / "w.npz"
    np.savez(z, a=np.ones(2))
    assert "has no array 'b'; it holds: a" in err(f"{z}:b")
    empty = tmp_path / "none.npz"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "hi")
    assert "holds no arrays" in err(empty)
    two = tmp_path / "two.npz"
    np.savez(two, x=np.ones(2), y=np.zeros(2))        # several: refused, never the first
    assert err(two) == f"INPUT: '{two}' holds 2 arrays (x, y); pick one, e.g. '{two}:x'"
    assert err("-", stdin=Stdin(two.read_bytes())) == (
        "INPUT: 'standard input' holds 2 arrays (x, y); pick one, e.g. FILE.npz:x with the "
        "file instead of standard input")


def test_stdin_errors():
    assert "nothing was piped in" in err("-", stdin=Stdin(b"", tty=True))
    assert "the matrix is empty" in err("-", stdin=Stdin(b""))


# --------------------------------------------------------------------------- memory budget

def test_budget_refuses_large_inline_and_text(monkeypatch, tmp_path):
    monkeypatch.setenv(budget.BUDGET_ENV, "1K")
    big = " ".join(["1"] * 200)
    m = err(big)
    assert m.startswith("INPUT: parsing 399 bytes of text needs about 9.4 KB, over the memory "
                        "budget of 1.0 KB")
    assert budget.BUDGET_ENV in m
    f = tmp_path / "big.txt"
    f.write_text(big)
    assert "over the memory budget" in err(f)
    assert "over the memory budget" in err("[" + ",".join(["1"] * 200) + "]")
    assert "over the memory budget" in err("-", stdin=Stdin(big.encode()))
    assert io.read_array("1 2; 3 4").shape == (2, 2)      # small input still fine


def test_budget_is_checked_from_the_npy_header_before_allocating(tmp_path):
    f = tmp_path / "huge.npy"
    with open(f, "wb") as fh:                   # a header promising 80 TB, and no data
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000, 1000)})
    m = err(f)
    assert m.startswith(f"INPUT: the 100000x100000x1000 array in '{f}' needs about 72.8 TB, "
                        "over the memory budget of")


def test_budget_setting(monkeypatch):
    assert budget.parse_size("512M") == 512 * 1024**2
    assert budget.parse_size("2G") == 2 * 1024**3
    assert budget.parse_size("1.5kb") == 1536
    assert budget.parse_size("1000") == 1000
    monkeypatch.setenv(budget.BUDGET_ENV, "lots")
    with pytest.raises(InputError, match="NNCLI_MEMORY_BUDGET: expected a size like 512M"):
        budget.memory_budget()
    monkeypatch.delenv(budget.BUDGET_ENV)
    assert budget.memory_budget() >= 64 * 1024**2


# --------------------------------------------------------------------------- writing

def test_write_json_is_strict_plain_json():
    out = stdio.StringIO()
    output.write_json({"output": np.array([[1, 2]]), "x": np.float64(0.5), "n": np.int64(3)}, out)
    assert out.getvalue() == '{"output": [[1, 2]], "x": 0.5, "n": 3}\n'
    with pytest.raises(RunFailed, match="non-finite"):
        output.write_json({"output": np.array([np.nan])}, stdio.StringIO())


def test_atomic_write_bytes_text_and_callback(tmp_path):
    target = tmp_path / "out.bin"
    output.atomic_write(target, b"abc")
    assert target.read_bytes() == b"abc"
    output.atomic_write(target, "héllo")
    assert target.read_text(encoding="utf-8") == "héllo"
    npz = tmp_path / "w.npz"
    output.atomic_write(npz, lambda f: np.savez(f, w=np.eye(2)))
    np.testing.assert_array_equal(np.load(npz)["w"], np.eye(2))
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode & 0o600 == 0o600 and not mode & 0o111
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin", "w.npz"]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "ckpt.npz"
    target.write_bytes(b"old")

    def boom(f):
        f.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        output.atomic_write(target, boom)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
    with pytest.raises(InputError, match="--out: cannot write"):
        output.atomic_write(tmp_path / "no" / "such" / "dir.txt", b"x")
