"""Matrices and tensors in and out: inline text, .txt/.csv/.tsv, .npy, .npz, .json, stdin.

Every problem becomes one `InputError` line that names the argument (`INPUT`, `KERNEL`, ...),
what was expected and what was found. Nothing here prints, and nothing is unpickled.

Sizes are checked against the memory budget (nncli/budget.py) *before* anything large is
allocated.
"""

from __future__ import annotations

import io as _io
import json
import math
import os
import re
import sys
import tempfile
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Iterable
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import numpy as np

from nncli.budget import check_budget, human_bytes, memory_budget
from nncli.errors import InputError, RunFailed

TEXT_SUFFIXES = (".txt", ".csv", ".tsv")
KNOWN_SUFFIXES = TEXT_SUFFIXES + (".npy", ".npz", ".json")
FORMS = 'an inline matrix like "1 0; 0 1", a file (.txt, .csv, .npy, .npz, .json) or - for stdin'
TEXT_COST_PER_CHAR = 24         # working bytes parsing needs per character of text or JSON
INT_EXACT = 2**53               # integers beyond this are read as float64
MAX_NDIM = 4
_NPY_MAGIC = b"\x93NUMPY"


def _check_text_budget(nchars: int, name: str) -> None:
    check_budget(nchars * TEXT_COST_PER_CHAR, name, f"parsing {human_bytes(nchars)} of text",
                 "save the matrix as .npy instead")


# --------------------------------------------------------------------------- reading

def read_array(source: str, name: str = "INPUT", *, ndims: Iterable[int] | None = None,
               what: str | None = None, stdin: IO | None = None) -> np.ndarray:
    """Read a tensor from `source`: inline text or JSON, a file path, or '-' for stdin.

    Returns int64 when every value is an integer (|v| <= 2**53), else float64; all values
    finite, at least one value, at most 4-D. `ndims` restricts the accepted ranks (`what`
    describes them in the error, e.g. "a 2-D matrix (H, W)").
    npz members are chosen with `file.npz:key` (default: the first array).
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


def shape_str(shape: Iterable[int]) -> str:
    """(5, 5) -> '5x5'; (3,) -> '3'."""
    return "x".join(str(int(n)) for n in shape) or "scalar"


def plural(n: int, word: str) -> str:
    """plural(1, 'value') -> '1 value'; plural(3, 'entry') -> '3 entries'."""
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def _describe_ndims(ndims: tuple[int, ...]) -> str:
    names = {1: "a 1-D vector", 2: "a 2-D matrix", 3: "a 3-D tensor (C, H, W)",
             4: "a 4-D tensor (F, C, kh, kw)"}
    return " or ".join(names.get(n, f"a {n}-D array") for n in ndims)


def _as_path(source: str, name: str) -> tuple[Path | None, str | None]:
    """An existing file named by `source` (or by `file.npz:key`), else (None, None)."""
    if not source.strip() or _is_number(source):
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


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _looks_like_path(source: str) -> bool:
    s = source.strip()
    if not s or re.search(r"[\s;,\[\]{}]", s) or _is_number(s):
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
                return _read_npy(f, name, str(path))
        if suffix == ".npz":
            return _read_npz(path, name, key)
        _check_text_budget(path.stat().st_size, name)
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
        return _read_npy(_io.BytesIO(data), name, "standard input")
    if data.startswith(b"PK"):
        return _read_npz(_io.BytesIO(data), name, None)
    _check_text_budget(len(data), name)
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


def _read_npy(f: IO[bytes], name: str, where: str) -> np.ndarray:
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
    return _read_npy(data, name, label)


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


# --------------------------------------------------------------------------- text

def parse_text(text: str, name: str = "INPUT", *, lines: bool = False) -> np.ndarray:
    """Parse rows of numbers: rows split by newlines or ';', values by spaces or commas.

    Text that starts with '[' or '{' is JSON. '#' starts a comment. A blank line between
    rows starts a new block, so blocks of equal size make a 3-D (C, H, W) tensor.
    `lines=True` (files, stdin) makes messages cite line numbers.
    """
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return parse_json(text, name)
    _check_text_budget(len(text), name)
    blocks: list[list[np.ndarray]] = [[]]
    row_lines: list[list[int]] = [[]]
    all_int = True
    first_len = None
    row_no = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0]
        if not line.strip():
            if blocks[-1]:
                blocks.append([])
                row_lines.append([])
            continue
        for segment in line.split(";"):
            if not segment.strip():
                continue
            row_no += 1
            where = f"row {row_no} (line {line_no})" if lines else f"row {row_no}"
            values, is_int = _parse_row(segment, name, where)
            all_int = all_int and is_int
            if first_len is None:
                first_len = len(values)
            elif len(values) != first_len:
                raise InputError(f"{name}: {where} has {plural(len(values), 'value')} but row 1 "
                                 f"has {first_len}; every row needs the same number of values")
            blocks[-1].append(values)
            row_lines[-1].append(line_no)
    if not blocks[-1]:
        blocks.pop()
    if not blocks:
        raise InputError(f"{name}: the matrix is empty; expected at least one number, "
                         f"as {FORMS}")
    if len(blocks) > 1:
        heights = [len(b) for b in blocks]
        bad = next(i for i, h in enumerate(heights) if h != heights[0]) if len(
            set(heights)) > 1 else None
        if bad is not None:
            raise InputError(f"{name}: block {bad + 1} (from line {row_lines[bad][0]}) has "
                             f"{heights[bad]} rows but block 1 has {heights[0]}; blank lines "
                             f"separate channels, and every channel needs the same rows")
        arr = np.array(blocks)
    else:
        arr = np.array(blocks[0])
    return finish_array(arr, name)


def _parse_row(segment: str, name: str, where: str) -> tuple[np.ndarray, bool]:
    fields = [f.strip() for f in segment.split(",")]
    if len(fields) > 1 and not fields[-1]:
        fields.pop()                       # one trailing comma, as some exports write
    tokens: list[str] = []
    for field in fields:
        if not field:
            raise InputError(f"{name}: {where} has an empty value (two commas in a row?); "
                             f"expected numbers separated by spaces or commas")
        tokens.extend(field.split())
    try:
        ints = [int(t) for t in tokens]
        if all(-INT_EXACT <= v <= INT_EXACT for v in ints):
            return np.array(ints, dtype=np.int64), True
    except ValueError:
        pass
    out = np.empty(len(tokens), dtype=np.float64)
    for i, tok in enumerate(tokens):
        try:
            v = float(tok)
        except ValueError:
            hint = " (an option? options go after the arguments)" if tok.startswith("--") else ""
            raise InputError(f"{name}: {where}, value {i + 1} is '{_clip(tok)}', which is not "
                             f"a number{hint}; expected {FORMS}") from None
        if not math.isfinite(v):
            raise InputError(f"{name}: {where}, value {i + 1} is {tok}; every value must be a "
                             f"finite number")
        out[i] = v
    return out, False


def _clip(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[:n] + "…"


# --------------------------------------------------------------------------- JSON

def parse_json(text: str, name: str = "INPUT") -> np.ndarray:
    """A JSON nested list of numbers, or an nncli `--json` object (its "output" is read)."""
    _check_text_budget(len(text), name)

    def no_constants(const: str) -> Any:
        raise InputError(f"{name}: JSON holds {const}; every value must be a finite number")

    try:
        obj = json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as err:
        raise InputError(f"{name}: not valid JSON: {err.msg} (line {err.lineno}, column "
                         f"{err.colno})") from None
    except RecursionError:
        raise InputError(f"{name}: JSON is nested too deeply; nncli reads at most "
                         f"{MAX_NDIM}-D tensors") from None
    shape = None
    if isinstance(obj, dict):
        if "output" not in obj:
            keys = ", ".join(repr(k) for k in list(obj)[:8]) or "none"
            raise InputError(f"{name}: JSON object has no \"output\" field (keys: {keys}); "
                             f"expected a nested list of numbers or an nncli --json result")
        shape = obj.get("shape")
        obj = obj["output"]
    arr = from_nested(obj, name)
    if shape is not None and (not isinstance(shape, list) or list(arr.shape) != shape):
        raise InputError(f"{name}: JSON \"shape\" is {_clip(json.dumps(shape))} but "
                         f"\"output\" has shape {list(arr.shape)}")
    return arr


def from_nested(obj: Any, name: str = "INPUT") -> np.ndarray:
    """Validate a nested list of numbers (rectangular, finite, <= 4-D) -> int64/float64."""
    if not isinstance(obj, list):
        obj = [obj]
    shape: list[int] = []
    node = obj
    while isinstance(node, list):
        shape.append(len(node))
        if not node:
            break
        node = node[0]
    if len(shape) > MAX_NDIM:
        raise InputError(f"{name}: JSON is nested {len(shape)} levels deep; nncli reads at "
                         f"most {MAX_NDIM}-D tensors")
    if 0 in shape:
        raise InputError(f"{name}: the matrix is empty; expected at least one number")
    check_budget(math.prod(shape) * 8, name, f"the {shape_str(shape)} JSON array")
    state = {"int": True}
    _check_nested(obj, shape, (), name, state)
    dtype = np.int64 if state["int"] else np.float64
    try:
        arr = np.array(obj, dtype=dtype)
    except OverflowError:
        raise InputError(f"{name}: a value is too large for a 64-bit float") from None
    return finish_array(arr, name)


def _where(path: tuple[int, ...], depth: int) -> str:
    if depth == 2 and len(path) == 1:
        return f"row {path[0] + 1}"
    return "".join(f"[{i}]" for i in path) if path else "the top level"


def _check_nested(node: Any, shape: list[int], path: tuple[int, ...], name: str,
                  state: dict) -> None:
    depth = len(path)
    if depth == len(shape):
        if isinstance(node, bool) or not isinstance(node, int | float):
            shown = json.dumps(node)
            raise InputError(f"{name}: {_where(path, 0)} is {_clip(shown)}, which is not a "
                             f"number; expected a nested list of numbers")
        if isinstance(node, float):
            if not math.isfinite(node):
                raise InputError(f"{name}: {_where(path, 0)} is {node}; every value must be "
                                 f"a finite number")
            state["int"] = False
        elif state["int"] and abs(node) > INT_EXACT:
            state["int"] = False
        return
    if not isinstance(node, list):
        raise InputError(f"{name}: {_where(path, len(shape))} is a number but "
                         f"{_where((0,) * depth, len(shape))} is a list; every row needs the "
                         f"same nesting")
    if len(node) != shape[depth]:
        first = _where((0,) * depth, len(shape))
        if len(shape) == 2 and depth == 1:
            raise InputError(f"{name}: row {path[0] + 1} has {plural(len(node), 'value')} but "
                             f"row 1 has {shape[1]}; every row needs the same number of values")
        raise InputError(f"{name}: {_where(path, len(shape))} has {plural(len(node), 'entry')} "
                         f"but {first} has {shape[depth]}; every row needs the same number of "
                         f"values")
    for i, child in enumerate(node):
        _check_nested(child, shape, (*path, i), name, state)


# --------------------------------------------------------------------------- normalising

def finish_array(arr: np.ndarray, name: str = "INPUT") -> np.ndarray:
    """Common checks for every source: non-empty, <= 4-D, finite; int64 or float64."""
    arr = np.asarray(arr)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.size == 0:
        raise InputError(f"{name}: the matrix is empty (shape {shape_str(arr.shape)}); "
                         f"expected at least one number")
    if arr.ndim > MAX_NDIM:
        raise InputError(f"{name}: got a {arr.ndim}-D array of shape {shape_str(arr.shape)}; "
                         f"nncli reads at most {MAX_NDIM}-D tensors")
    if arr.dtype.kind in "biu":
        if arr.dtype.kind == "b" or arr.dtype.itemsize < 8 or (
                int(arr.max()) <= INT_EXACT and int(arr.min()) >= -INT_EXACT):
            return arr.astype(np.int64, copy=False)
        return arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise InputError(f"{name}: holds dtype {arr.dtype}; expected integers or floats")
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        idx = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise InputError(f"{name}: the value at {list(idx)} is {arr[idx]}; every value must "
                         f"be a finite number")
    return arr


# --------------------------------------------------------------------------- writing

def to_jsonable(obj: Any) -> Any:
    """numpy arrays and scalars -> lists, ints and floats (for json.dumps)."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps_json(obj: Any) -> str:
    """Compact, strict JSON (no NaN/Infinity) on one line, numpy types converted."""
    try:
        return json.dumps(obj, default=to_jsonable, allow_nan=False, separators=(", ", ": "))
    except ValueError:
        raise RunFailed("the result holds a non-finite value (overflow); nothing was "
                        "written") from None


def write_json(obj: Any, stream: IO[str] | None = None) -> None:
    """Print `obj` as plain JSON plus a newline to stdout (or `stream`); nothing else."""
    text = dumps_json(obj)
    out = stream if stream is not None else sys.stdout
    out.write(text + "\n")
    out.flush()


def _umask() -> int:
    with suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, data: bytes | str | Callable[[IO[bytes]], None],
                 name: str = "--out") -> Path:
    """Write a file so readers see the old or the new content, never a half-written one.

    `data` is bytes, str (UTF-8) or a callback that writes to a binary file object
    (e.g. `lambda f: np.savez(f, **arrays)`). A temp file in the same folder is filled,
    flushed, fsynced and then `os.replace`d over `path`.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"{name}: '{path}' is a folder; expected a file name")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise InputError(f"{name}: cannot write '{path}': {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as err:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise RunFailed(f"{name}: writing '{path}' failed: {err.strerror or err}") from None
        raise
    with suppress(OSError, AttributeError):
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path
