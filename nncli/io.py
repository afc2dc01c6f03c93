"""Matrices and tensors in: inline text, .txt/.csv/.tsv, .npy, .npz, .json, stdin.

`read_array` is the entry every command uses for a matrix argument; text and JSON are
parsed by nncli.parse, .npy/.npz files are read here (`read_npz` for every array of an
archive: weights, checkpoints, datasets). Every problem becomes one `InputError` line that
names the argument (`INPUT`, `KERNEL`, ...), what was expected and what was found. Nothing
here prints, and nothing is unpickled. Writing (JSON, atomic files) is nncli.output.

Sizes are checked against the memory budget (nncli/budget.py) *before* anything large is
allocated.
"""

from __future__ import annotations

import io as _io
import math
import re
import sys
import tokenize
import zipfile
import zlib
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import IO

import numpy as np

from nncli.budget import check_budget, memory_budget
from nncli.errors import InputError
from nncli.formatting import shape_str
from nncli.parse import (
    FORMS,
    MAX_NDIM,
    check_text_budget,
    finish_array,
    is_number,
    parse_json,
    parse_text,
)

TEXT_SUFFIXES = (".txt", ".csv", ".tsv")
KNOWN_SUFFIXES = TEXT_SUFFIXES + (".npy", ".npz", ".json")
_NPY_MAGIC = b"\x93NUMPY"


# --------------------------------------------------------------------------- reading

def read_array(source: str, name: str = "INPUT", *, ndims: Iterable[int] | None = None,
               what: str | None = None, stdin: IO | None = None) -> np.ndarray:
    """Read a tensor from `source`: inline text or JSON, a file path, or '-' for stdin.

    Returns int64 when every value is an integer (|v| <= 2**53), else float64; all values
    finite, at least one value, at most 4-D. `ndims` restricts the accepted ranks (`what`
    describes them in the error, e.g. "a 2-D matrix (H, W)").
    npz members are chosen with `file.npz:key` (without a key, the archive must hold one
    array: several are refused, listed, rather than the first taken silently).
    """
    if source == "-":
        arr = _read_stdin(name, stdin)
    else:
        path, key = _as_path(source, name)
        if path is not None:
            arr = read_file(path, name, key=key)
        elif _looks_like_path(source):
            raise InputError(f"{name}: file '{source}' not found; expected {FORMS}")
        else:
            arr = parse_text(source, name)
    if ndims is not None:
        ndims = tuple(ndims)
        if arr.ndim not in ndims:
            raise InputError(f"{name}: expected {what or _describe_ndims(ndims)}, got a "
                             f"{arr.ndim}-D array of shape {shape_str(arr.shape)}")
    return arr



def _describe_ndims(ndims: tuple[int, ...]) -> str:
    names = {1: "a 1-D vector", 2: "a 2-D matrix", 3: "a 3-D tensor (C, H, W)",
             4: "a 4-D tensor (F, C, kh, kw)"}
    return " or ".join(names.get(n, f"a {n}-D array") for n in ndims)


def _as_path(source: str, name: str) -> tuple[Path | None, str | None]:
    """An existing file named by `source` (or by `file.npz:key`), else (None, None)."""
    if not source.strip() or is_number(source):
        return None, None                 # "5" is a value even if a file named 5 exists
    try:
        p = Path(source)
        if p.exists():
            if p.is_dir():
                raise InputError(f"{name}: '{source}' is a folder; expected {FORMS}")
            return p, None
        head, sep, key = source.rpartition(":")
        if sep and head.lower().endswith(".npz") and Path(head).is_file():
            return Path(head), key
    except (OSError, ValueError):
        pass
    return None, None



def _looks_like_path(source: str) -> bool:
    s = source.strip()
    if not s or re.search(r"[\s;,\[\]{}]", s) or is_number(s):
        return False
    return "/" in s or "\\" in s or re.search(r"\.[A-Za-z_]\w*(:.*)?$", s) is not None


def read_file(path: str | Path, name: str = "INPUT", *, key: str | None = None) -> np.ndarray:
    """Read one tensor from a .txt/.csv/.tsv/.npy/.npz/.json file (see read_array)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in KNOWN_SUFFIXES:
        raise InputError(f"{name}: unknown file type '{suffix or '(no extension)'}' for "
                         f"'{path}'; expected .txt, .csv, .tsv, .npy, .npz or .json")
    try:
        if suffix == ".npy":
            with open(path, "rb") as f:
                return read_npy(f, name, str(path))
        if suffix == ".npz":
            return _read_npz(path, name, key)
        check_text_budget(path.stat().st_size, name)
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{name}: cannot read '{path}': {err.strerror or err}") from None
    text = _decode(data, name, str(path))
    if suffix == ".json":
        return parse_json(text, name)
    return parse_text(text, name, lines=True)


def _decode(data: bytes, name: str, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name}: '{where}' is not UTF-8 text; expected numbers as text, "
                         f"or a .npy/.npz file") from None


def _read_stdin(name: str, stdin: IO | None) -> np.ndarray:
    stream = stdin if stdin is not None else sys.stdin
    if stream is None:
        raise InputError(f"{name}: '-' reads standard input, but there is none")
    with suppress(AttributeError, ValueError, OSError):
        if stream.isatty():
            raise InputError(f"{name}: '-' reads standard input, but nothing was piped in; "
                             f"e.g. nncli conv A K --json | nncli pool -")
    budget = memory_budget()
    raw = getattr(stream, "buffer", None)
    data = raw.read(budget + 1) if raw is not None else stream.read(budget + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > budget:
        check_budget(len(data), name, "standard input (more than the budget was piped in)")
    if data.startswith(_NPY_MAGIC):
        return read_npy(_io.BytesIO(data), name, "standard input")
    if data.startswith(b"PK"):
        return _read_npz(_io.BytesIO(data), name, None)
    check_text_budget(len(data), name)
    return parse_text(_decode(data, name, "standard input"), name, lines=True)



# --------------------------------------------------------------------------- npy / npz

# What numpy raises on a damaged .npy header (it parses the header as Python literals).
NPY_ERRORS = (ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError)
# ... and zipfile and zlib on damaged archives (bad CRC, truncated or "encrypted" data).
ZIP_ERRORS = (*NPY_ERRORS, zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError)


def _npy_header(f: IO[bytes], name: str, where: str) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(f)
        else:                                   # (3, 0): a utf-8 header; private in numpy
            impl = getattr(np.lib, "_format_impl", fmt)
            read = getattr(impl, "_read_array_header", None) or getattr(
                fmt, "_read_array_header", None)
            if version != (3, 0) or read is None:
                raise InputError(f"{name}: '{where}' is a .npy file of format version "
                                 f"{version[0]}.{version[1]}, which this numpy cannot read")
            shape, _, dtype = read(f, version)
    except NPY_ERRORS as err:
        raise InputError(f"{name}: '{where}' is not a valid .npy array ({err})") from None
    return shape, dtype


def _check_npy_dtype(shape: tuple[int, ...], dtype: np.dtype, name: str, where: str) -> None:
    if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None:
        what = "Python objects" if dtype.hasobject else "a structured record array"
        raise InputError(f"{name}: '{where}' holds {what} (dtype {dtype}); nncli never "
                         f"unpickles files; save a plain numeric array instead")
    if dtype.kind not in "biuf":
        raise InputError(f"{name}: '{where}' holds dtype {dtype}; expected integers or floats")
    if len(shape) > MAX_NDIM:
        raise InputError(f"{name}: '{where}' holds a {len(shape)}-D array of shape "
                         f"{shape_str(shape)}; nncli reads at most {MAX_NDIM}-D tensors")
    check_budget(math.prod(shape) * max(dtype.itemsize, 8), name,
                 f"the {shape_str(shape)} array in '{where}'")


def read_npy(f: IO[bytes], name: str, where: str) -> np.ndarray:
    """One array from an open .npy stream: header, dtype and size checked before the data is
    read (no pickles, at most 4-D, within the memory budget), then `finish_array`'s checks.
    `where` names the file in messages."""
    start = f.tell()
    shape, dtype = _npy_header(f, name, where)
    _check_npy_dtype(shape, dtype, name, where)
    f.seek(start)
    try:
        arr = np.lib.format.read_array(f, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"{name}: '{where}' is not a valid .npy array ({err})") from None
    return finish_array(arr, name)


def _read_npz(path: Path | IO[bytes], name: str, key: str | None) -> np.ndarray:
    where = str(path) if isinstance(path, Path) else "standard input"
    try:
        return _read_npz_member(path, name, key, where)
    except ZIP_ERRORS as err:
        raise InputError(f"{name}: '{where}' is not a valid .npz archive "
                         f"({type(err).__name__}: {err})") from None


def _read_npz_member(path: Path | IO[bytes], name: str, key: str | None,
                     where: str) -> np.ndarray:
    zf = zipfile.ZipFile(path)
    with zf:
        members = [n for n in zf.namelist() if n.endswith(".npy")]
        keys = [n[:-4] for n in members]
        if not members:
            raise InputError(f"{name}: '{where}' holds no arrays")
        if key is None and len(keys) > 1:
            pick = (f"'{where}:{keys[0]}'" if isinstance(path, Path)
                    else f"FILE.npz:{keys[0]} with the file instead of standard input")
            raise InputError(f"{name}: '{where}' holds {len(keys)} arrays ({', '.join(keys)});"
                             f" pick one, e.g. {pick}")
        if key is None:
            member = members[0]
        elif key in keys:
            member = members[keys.index(key)]
        else:
            raise InputError(f"{name}: '{where}' has no array '{key}'; it holds: "
                             f"{', '.join(keys)}")
        label = f"{where}:{member[:-4]}"
        with zf.open(member) as f:
            shape, dtype = _npy_header(f, name, label)
        _check_npy_dtype(shape, dtype, name, label)
        with zf.open(member) as f:
            data = _io.BytesIO(f.read())
    return read_npy(data, name, label)


def read_npz(path: str | Path, what: str, numeric: bool = False) -> dict[str, np.ndarray]:
    """Every array of an .npz archive (weights, checkpoints, datasets), loaded with
    allow_pickle=False after its headers pass the memory budget; any problem is one
    InputError naming `what`. numeric: refuse arrays that are not bool/int/float."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what}: file '{path}' not found")
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as err:
        raise InputError(f"{what}: cannot read '{path}': {err.strerror or err}") from None
    if not head.startswith((b"PK", b"\x93NUMPY")):
        kind = "a Python pickle" if head.startswith(b"\x80") else "something else"
        raise InputError(f"{what}: cannot read '{path}': it is {kind}, not an .npz archive "
                         f"(write one with np.savez, 'nncli init' or 'nncli train'; nncli "
                         f"never unpickles files)")
    check_array_file(path, what)
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise InputError(f"{what}: cannot read '{path}': it holds a single array "
                             f"(.npy), not an .npz archive of named arrays (np.savez)")
        with data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as err:
        if "pickle" in str(err):
            raise InputError(f"{what}: cannot read '{path}': it holds Python objects, which "
                             f"nncli never unpickles; save plain numeric arrays") from None
        raise InputError(f"{what}: cannot read '{path}': not a readable .npz file "
                         f"({err})") from None
    except (*ZIP_ERRORS, KeyError) as err:
        raise InputError(f"{what}: cannot read '{path}': not a readable .npz file "
                         f"({type(err).__name__}: {err}); is it truncated?") from None
    for key, array in arrays.items():
        if not isinstance(array, np.ndarray):         # a member that is not a .npy file
            raise InputError(f"{what}: '{path}' holds '{key}', which is not a numpy array")
        if numeric and array.dtype.kind not in "biuf":
            raise InputError(f"{what}: array '{key}' in '{path.name}' is not numeric "
                             f"({array.dtype})")
    return arrays


def check_array_file(path: str | Path, name: str) -> None:
    """Refuse an .npy/.npz file whose arrays, by their headers, need more than the memory
    budget, before numpy reads them (a compressed .npz can hold far more than its size on
    disk). A file whose headers cannot be read is left for the loader to report."""
    path = Path(path)
    total = 0
    with suppress(*ZIP_ERRORS, InputError):
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for member in zf.namelist():
                    if member.endswith(".npy"):
                        with zf.open(member) as f:
                            shape, dtype = _npy_header(f, name, f"{path}:{member[:-4]}")
                        total += math.prod(shape) * max(dtype.itemsize, 1)
        else:
            with open(path, "rb") as f:
                shape, dtype = _npy_header(f, name, str(path))
            total = math.prod(shape) * max(dtype.itemsize, 1)
    check_budget(total, name, f"the arrays in '{path}'")

