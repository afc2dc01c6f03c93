"""Datasets for training: built-in ones (digits, adding, sine, bars) and the user's own files.

`load_dataset(cfg, base_dir, seed)` takes the `data:` entry of a spec, either a name
(`data: digits`) or a mapping (`data: {name: adding, steps: 30}` / `data: {path: xor.csv}`),
and returns a `Dataset` with three `Split`s. Layouts follow the rest of nncli: images
(N, C, H, W), sequences (N, T, F). Generated data comes from `np.random.default_rng`
seeded by (seed, dataset, split), so the same seed gives the same arrays and the three
splits are independent draws. Bad input raises `InputError` naming the spec path.

Options and their defaults (train/val/test are sample counts; val and test may be 0):

    digits  flat: false                                      (fixed split 1259/269/269)
    adding  steps: 50  train: 10000  val: 1000  test: 1000
    sine    steps: 20  noise: 0.0  train: 2000  val: 400  test: 400
    bars    size: 8    noise: 0.1  train: 1000  val: 200  test: 200
    path:   task: (classification if y holds integers >= 0, else regression)
            split: [0.8, 0.1, 0.1]  shape: (none)  target: last (.csv/.npy only)

Text datasets (`sonnets`, `agreement`, `path: FILE.txt`) are read by nncli/text.py.
"""

from __future__ import annotations

import csv
import difflib
import math
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nncli.errors import InputError
from nncli.io import read_npz

DIGITS_PATH = Path(__file__).resolve().parent.parent / "data" / "digits.npz"
SPLITS = ("train", "val", "test")
FILE_SUFFIXES = (".npz", ".csv", ".npy")

BUILTIN_DATASETS: dict[str, str] = {
    "digits": "8x8 handwritten digits (UCI), 10 classes; x (N, 1, 8, 8) in [0, 1], "
    "or (N, 64) with flat: true",
    "adding": "adding problem (Le et al. 2015): x (N, T, 2) values + two markers; "
    "target (N, 1) = sum of the two marked values",
    "sine": "next value of a sine wave of random phase and frequency: x (N, T, 1), target (N, 1)",
    "bars": "horizontal (0) or vertical (1) bars in noise: x (N, 1, S, S), 2 classes",
}
# Text datasets (nncli/text.py): x (N, T) token ids, y (N, T) the next token at every step.
TEXT_DATASETS: dict[str, str] = {
    "sonnets": "Shakespeare's sonnets (data/sonnets.txt), by character or word",
    "agreement": "sentences of a seeded grammar with subject-verb agreement across clauses",
}

_COUNTS = {"adding": (10000, 1000, 1000), "sine": (2000, 400, 400), "bars": (1000, 200, 200)}
_OPTIONS = {
    "digits": {"flat": False},
    "adding": {"steps": 50},
    "sine": {"steps": 20, "noise": 0.0},
    "bars": {"size": 8, "noise": 0.1},
}
for _name, (_train, _val, _test) in _COUNTS.items():
    _OPTIONS[_name].update(train=_train, val=_val, test=_test)
_FILE_OPTIONS = {"task": None, "split": [0.8, 0.1, 0.1], "shape": None, "target": None}
# What numpy and zipfile raise on damaged files (zipfile uses RuntimeError and
# NotImplementedError for bytes that claim encryption or unknown zip features).
_READ_ERRORS = (OSError, ValueError, EOFError, RuntimeError, NotImplementedError,
                SyntaxError, tokenize.TokenError, zipfile.BadZipFile, zlib.error)
SINE_OMEGA = (0.2, 0.6)  # angular frequency range, radians per step (periods ~10 to ~31 steps)


@dataclass(frozen=True, eq=False)
class Split:
    """x: float64 (N, *input_shape); y: int64 labels (N,) or (N, T), or float64 targets (N, K).

    A split may be empty (N = 0), e.g. a user file split [1, 0, 0].
    """

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Three splits of one task. task: "classification" (num_classes set) or "regression"."""

    name: str
    task: str
    num_classes: int | None
    train: Split
    val: Split
    test: Split
    vocab: Any = None   # a text dataset's nncli.text.Vocab (ids <-> tokens), else None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. (1, 8, 8) for digits or (T, 2) for adding."""
        return tuple(self.train.x.shape[1:])

    def split(self, name: str) -> Split:
        """The split called `name`: "train", "val" or "test"."""
        if name not in SPLITS:
            raise InputError(f"split: unknown split '{name}'; expected train, val or test")
        return getattr(self, name)


def load_dataset(cfg: dict | str, base_dir: Path, seed: int) -> Dataset:
    """Build the dataset a spec's `data:` entry describes.

    cfg: a built-in name, or a mapping with `name:` (built-in + options) or `path:` (a
    .npz / .csv / .npy file, relative to base_dir, the spec's folder). seed: int >= 0.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: expected an integer >= 0, got {seed!r}")
    if isinstance(cfg, str):
        cfg = {"name": cfg}
    if not isinstance(cfg, dict):
        raise InputError(
            f"data: expected a dataset name or a mapping with 'name:' or 'path:', "
            f"got {type(cfg).__name__}"
        )
    if ("name" in cfg) == ("path" in cfg):
        raise InputError(
            "data: give exactly one of 'name:' (a built-in dataset) or 'path:' (a file)"
        )
    from nncli import text  # text datasets live there (it imports this module)

    if text.is_text_config(cfg):
        return text.load_text_dataset(cfg, Path(base_dir), int(seed))
    if "path" in cfg:
        opts = _options(cfg, _FILE_OPTIONS, "a data file", extra="path")
        return _load_file(cfg["path"], opts, Path(base_dir), int(seed))
    name = cfg["name"]
    if not isinstance(name, str) or name not in BUILTIN_DATASETS:
        raise InputError(_unknown_name_message(name))
    opts = _options(cfg, _OPTIONS[name], f"dataset '{name}'", extra="name")
    if name == "digits":
        return _digits(bool(_flag(opts, "flat")))
    counts = [_int(opts, key, 1 if key == "train" else 0) for key in SPLITS]
    _check_generated_size(name, opts, sum(counts))
    make = {"adding": _adding, "sine": _sine, "bars": _bars}[name]
    rngs = [np.random.default_rng([int(seed), zlib.crc32(name.encode()), i]) for i in range(3)]
    splits = [make(rng, n, opts) for rng, n in zip(rngs, counts, strict=True)]
    num_classes = 2 if name == "bars" else None
    task = "classification" if name == "bars" else "regression"
    return Dataset(name, task, num_classes, *splits)


# --- options -----------------------------------------------------------------------------


def _unknown_name_message(name: Any) -> str:
    names = [*BUILTIN_DATASETS, *TEXT_DATASETS]
    valid = f"{', '.join(sorted(BUILTIN_DATASETS))}; text: {', '.join(sorted(TEXT_DATASETS))}"
    text = str(name)
    close = difflib.get_close_matches(text, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f"; valid names: {valid}"
    if Path(text).suffix.lower() in FILE_SUFFIXES:
        hint += f"; to read a file write 'data: {{path: {text}}}'"
    return f"data.name: unknown dataset '{text}'{hint}"


def _options(cfg: dict, defaults: dict, what: str, extra: str) -> dict:
    """cfg's options over the defaults; an unknown key is an error listing the valid ones."""
    valid = sorted([extra, *defaults])
    for key in cfg:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError(
                f"data.{key}: unknown option for {what}{hint}; valid options: {', '.join(valid)}"
            )
    return {**defaults, **cfg}


def _int(opts: dict, key: str, minimum: int) -> int:
    value = opts[key]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"data.{key}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _float(opts: dict, key: str) -> float:
    value = opts[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise InputError(f"data.{key}: expected a number >= 0, got {value!r}")
    return float(value)


def _flag(opts: dict, key: str) -> bool:
    if not isinstance(opts[key], bool):
        raise InputError(f"data.{key}: expected true or false, got {opts[key]!r}")
    return opts[key]


# --- built-ins ---------------------------------------------------------------------------


def _check_generated_size(name: str, opts: dict, n: int) -> None:
    """Refuse, before generating, a dataset whose arrays would exceed the memory budget:
    float64 working arrays per sample, about 4 times the sample's values."""
    from nncli.budget import check_budget

    if name == "bars":
        side = _int(opts, "size", 3)
        values = 4 * side * side + 4 * side
    else:
        steps = _int(opts, "steps", 2 if name == "adding" else 1)
        values = 4 * steps + 4
    check_budget(8 * n * values, f"data.{name}", f"generating {n:,} samples",
                 "ask for fewer samples (data.train, data.val, data.test)")


def _digits(flat: bool) -> Dataset:
    """x: (N, 1, 8, 8) or (N, 64), pixel counts / 16 in [0, 1]; y: int64 (N,) digits 0..9."""
    path = DIGITS_PATH
    if not path.is_file():
        raise InputError(
            f"data.name: the built-in 'digits' file is missing (looked for {path}); "
            "run nncli from a source checkout, or recreate it with data/make_digits.py"
        )
    arrays = read_npz(path, "data.name", numeric=True)
    splits = []
    for part in SPLITS:
        if f"x_{part}" not in arrays or f"y_{part}" not in arrays:
            raise InputError(f"data.name: {path} has no x_{part}/y_{part}; recreate it")
        x = arrays[f"x_{part}"].astype(np.float64) / 16.0
        shape = (-1, 64) if flat else (-1, 1, 8, 8)
        splits.append(Split(x.reshape(shape), arrays[f"y_{part}"].astype(np.int64)))
    return Dataset("digits", "classification", 10, *splits)


def _adding(rng: np.random.Generator, n: int, opts: dict) -> Split:
    """x: (n, T, 2); channel 0 ~ U[0, 1], channel 1 marks one step in [0, T//2) and one in
    [T//2, T). y: (n, 1) = sum of the two marked values (mean 1, variance 1/6)."""
    t = _int(opts, "steps", 2)
    values = rng.uniform(0.0, 1.0, size=(n, t))
    rows = np.arange(n)
    first = rng.integers(0, t // 2, size=n)
    second = rng.integers(t // 2, t, size=n)
    markers = np.zeros((n, t))
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = (values[rows, first] + values[rows, second])[:, None]
    return Split(np.stack([values, markers], axis=-1), y)


def _sine(rng: np.random.Generator, n: int, opts: dict) -> Split:
    """x: (n, T, 1) = sin(w t + phi) + noise * N(0, 1) for t = 0..T-1, with w ~ U(SINE_OMEGA)
    and phi ~ U[0, 2 pi); y: (n, 1) = sin(w T + phi), the clean next value."""
    t = _int(opts, "steps", 1)
    noise = _float(opts, "noise")
    omega = rng.uniform(*SINE_OMEGA, size=(n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
    wave = np.sin(omega * np.arange(t + 1) + phase)
    x = wave[:, :t] + noise * rng.standard_normal((n, t))
    return Split(x[:, :, None], wave[:, t:])


def _bars(rng: np.random.Generator, n: int, opts: dict) -> Split:
    """x: (n, 1, S, S), one or two full-length bars of 1.0 on 0.0 plus noise * N(0, 1);
    y: (n,) 0 = horizontal bars, 1 = vertical bars."""
    size = _int(opts, "size", 3)  # two bars in a 2x2 image would fill it: no orientation
    noise = _float(opts, "noise")
    labels = rng.integers(0, 2, size=n)
    count = rng.integers(1, 3, size=n)
    picks = np.argsort(rng.random((n, size)), axis=1)[:, :2]  # two distinct positions
    lines = np.zeros((n, size))
    lines[np.arange(n), picks[:, 0]] = 1.0
    lines[np.arange(n)[count == 2], picks[count == 2, 1]] = 1.0
    horizontal = np.broadcast_to(lines[:, :, None], (n, size, size))
    vertical = np.broadcast_to(lines[:, None, :], (n, size, size))
    images = np.where(labels[:, None, None] == 1, vertical, horizontal)
    images = images + noise * rng.standard_normal((n, size, size))
    return Split(images[:, None, :, :], labels.astype(np.int64))


# --- user files --------------------------------------------------------------------------


def data_file(raw: Any, base_dir: Path) -> Path:
    """`data.path` resolved against the spec's folder (files there are only ever read)."""
    if not isinstance(raw, str) or not raw.strip():
        raise InputError(f"data.path: expected a file name, got {raw!r}")
    return (Path(base_dir) / Path(raw).expanduser()).resolve()


def require_file(path: Path, raw: str) -> Path:
    if not path.is_file():
        raise InputError(f"data.path: file '{raw}' not found (looked in {path.parent}); "
                         f"check the path, which is relative to the spec's folder")
    return path


def _load_file(raw: Any, opts: dict, base_dir: Path, seed: int) -> Dataset:
    path = data_file(raw, base_dir)
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise InputError(
            f"data.path: cannot read '{raw}': expected a .npz (arrays x and y), "
            "a .csv or a .npy (a numeric table whose first or last column is the target); "
            "for text to train a language model on, add 'tokens: chars' or 'tokens: words'"
        )
    require_file(path, raw)
    target = opts["target"]
    if target not in (None, "first", "last"):
        raise InputError(f"data.target: expected first or last, got {target!r}")
    if suffix == ".npz":
        if target is not None:
            raise InputError("data.target: only applies to .csv and .npy files; remove it")
        arrays = read_npz(path, "data.path", numeric=True)
        missing = [key for key in ("x", "y") if key not in arrays]
        if missing:
            raise InputError(
                f"data.path: '{raw}' has no array {' or '.join(map(repr, missing))} "
                f"(found {', '.join(sorted(arrays)) or 'none'}); "
                "save it with np.savez(path, x=..., y=...)"
            )
        x, y = arrays["x"], arrays["y"]
    else:
        table = _read_table(path, raw) if suffix == ".csv" else _read_npy(path, raw)
        x, y = (table[:, 1:], table[:, 0]) if target == "first" else (table[:, :-1], table[:, -1])
    return _make_file_dataset(raw, x, y, opts, seed)


def _read_npy(path: Path, raw: str) -> np.ndarray:
    from nncli.io import check_array_file

    check_array_file(path, "data.path")
    try:
        table = np.load(path, allow_pickle=False)
    except _READ_ERRORS as err:
        raise InputError(_unreadable(path, "data.path", err)) from None
    if not isinstance(table, np.ndarray):
        table.close()
        raise InputError(f"data.path: '{raw}' is an .npz archive; name it .npz to read x and y")
    if table.ndim != 2 or table.shape[1] < 2:
        raise InputError(f"data.path: '{raw}' must hold a 2-D table with at least 2 columns")
    if table.dtype.kind not in "biuf":
        raise InputError(f"data.path: '{raw}' is not numeric ({table.dtype})")
    return table


def _unreadable(path: Path, where: str, err: Exception) -> str:
    """One line for a file that numpy, zipfile or csv could not read."""
    reason = str(err).splitlines()[0] if str(err).strip() else type(err).__name__
    reason = "".join(c if c.isprintable() else "?" for c in reason)[:120]
    if "Object arrays" in reason or "pickled" in reason:
        return (
            f"{where}: cannot read '{path.name}': it holds Python objects (pickled data), "
            "which nncli never loads; save plain numeric arrays"
        )
    if path.suffix.lower() == ".csv":
        return f"{where}: cannot read '{path.name}' ({reason}); save it as UTF-8 text"
    return (
        f"{where}: cannot read '{path.name}': damaged or not a numpy file ({reason}); "
        "write it again with numpy (np.savez / np.save)"
    )


def _read_table(path: Path, raw: str) -> np.ndarray:
    """A numeric CSV as float64 (rows, cols); a first line that is not numeric is a header."""
    rows: list[list[float]] = []
    first = True
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for line_no, fields in enumerate(csv.reader(handle), start=1):
                if not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
                    continue
                try:
                    row = [float(field) for field in fields]
                except ValueError:
                    if first:
                        first = False
                        continue  # a header line
                    bad = next(f for f in fields if not _is_number(f))
                    raise InputError(
                        f"data.path: '{raw}' line {line_no}: expected a number, got '{bad}'"
                    ) from None
                if rows and len(row) != len(rows[0]):
                    raise InputError(
                        f"data.path: '{raw}' line {line_no}: {len(row)} columns, "
                        f"expected {len(rows[0])} like the first row"
                    )
                rows.append(row)
                first = False
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(_unreadable(path, "data.path", err)) from None
    if not rows or len(rows[0]) < 2:
        raise InputError(f"data.path: '{raw}' needs rows of at least 2 numbers (inputs, target)")
    return np.array(rows, dtype=np.float64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _make_file_dataset(raw: str, x: np.ndarray, y: np.ndarray, opts: dict, seed: int) -> Dataset:
    """Check x (N, ...) and y (N, ...), pick the task, shuffle with the seed and split."""
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise InputError(
            f"data.path: '{raw}': x and y must have one row per sample, "
            f"got x {x.shape} and y {y.shape}"
        )
    if len(x) == 0:
        raise InputError(f"data.path: '{raw}' holds no samples")
    for key, array in (("x", x), ("y", y)):
        bad = ~np.isfinite(array.astype(np.float64))
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"data.path: array '{key}' in '{raw}' has NaN or inf (first at {at})")
    x = x.astype(np.float64).reshape(len(x), -1) if x.ndim == 1 else x.astype(np.float64)
    if opts["shape"] is not None:
        x = _reshape(x, opts["shape"])
    labels = y.astype(np.float64)
    integral = bool(np.all(np.mod(labels, 1) == 0)) and labels.min() >= 0
    task = (
        opts["task"]
        if opts["task"] is not None
        else ("classification" if integral else "regression")
    )
    num_classes = None
    if task == "classification":
        if not integral:
            raise InputError(
                f"data.task: classification needs integer labels >= 0 in y of '{raw}'; "
                "use task: regression for real-valued targets"
            )
        y = y.astype(np.int64)
        num_classes = int(y.max()) + 1
    elif task == "regression":
        y = y.astype(np.float64).reshape(len(y), -1) if y.ndim == 1 else y.astype(np.float64)
    else:
        raise InputError(f"data.task: expected classification or regression, got {task!r}")
    counts = _split_counts(opts["split"], len(x))
    order = np.random.default_rng(seed).permutation(len(x))
    edges = np.cumsum(counts)[:2]
    parts = [Split(x[idx], y[idx]) for idx in np.split(order, edges)]
    return Dataset(raw, task, num_classes, *parts)


def _reshape(x: np.ndarray, shape: Any) -> np.ndarray:
    ok = (
        isinstance(shape, (list, tuple))
        and len(shape) > 0
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape)
    )
    if not ok:
        raise InputError(f"data.shape: expected a list of integers >= 1, got {shape!r}")
    per_sample = int(np.prod(x.shape[1:]))
    if int(np.prod(shape)) != per_sample:
        raise InputError(
            f"data.shape: cannot reshape samples of {per_sample} values to {list(shape)} "
            f"({int(np.prod(shape))} values); the sizes must multiply to {per_sample}"
        )
    return x.reshape(len(x), *shape)


def _split_counts(fractions: Any, n: int) -> list[int]:
    """Sample counts for train/val/test from fractions that sum to 1; train gets the rest."""
    ok = (
        isinstance(fractions, (list, tuple))
        and len(fractions) == 3
        and all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and 0 <= f <= 1
            for f in fractions
        )
    )
    if not ok or abs(sum(fractions) - 1.0) > 1e-6 or fractions[0] <= 0:
        raise InputError(
            f"data.split: expected three fractions [train, val, test] >= 0 summing to 1 "
            f"with train > 0, e.g. [0.8, 0.1, 0.1]; got {fractions!r}"
        )
    n_val, n_test = round(fractions[1] * n), round(fractions[2] * n)
    if n - n_val - n_test < 1:
        raise InputError(f"data.split: {n} samples leave none for training with {fractions!r}")
    return [n - n_val - n_test, n_val, n_test]
