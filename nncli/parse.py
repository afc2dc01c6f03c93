"""Numbers written as text parsed into checked arrays: inline matrices, text files, JSON.

`parse_text` reads rows of numbers ("1 0; 0 1", .txt/.csv/.tsv), `parse_json` a nested list
or an nncli --json object, and `finish_array` applies the checks every array nncli reads
passes, whatever its source (non-empty, at most 4-D, finite, int64 or float64). Every
problem is one `InputError` naming the argument; sizes are checked against the memory
budget before parsing.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from nncli.budget import check_budget, human_bytes
from nncli.errors import InputError
from nncli.formatting import plural, shape_str

FORMS = 'an inline matrix like "1 0; 0 1", a file (.txt, .csv, .npy, .npz, .json) or - for stdin'
TEXT_COST_PER_CHAR = 24         # working bytes parsing needs per character of text or JSON
INT_EXACT = 2**53               # integers beyond this are read as float64
MAX_NDIM = 4


def check_text_budget(nchars: int, name: str) -> None:
    check_budget(nchars * TEXT_COST_PER_CHAR, name, f"parsing {human_bytes(nchars)} of text",
                 "save the matrix as .npy instead")


def is_number(text: str) -> bool:
    """True if `text` reads as one number (as float() reads it: "5", "-1e3", " nan")."""
    try:
        float(text)
    except ValueError:
        return False
    return True


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
    check_text_budget(len(text), name)
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
    check_text_budget(len(text), name)

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

