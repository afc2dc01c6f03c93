"""The user's own arrays: `data: {path: FILE}` with a .npz (arrays x and y), or a .csv or
.npy table whose first or last column is the target.

Options: task (classification if y holds integers >= 0, else regression), split
[0.8, 0.1, 0.1] (shuffled with the seed), shape (reshape each sample), target (first or
last column; .csv/.npy only). A `path:` with `tokens:` is a text file instead (text_file.py).
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from nncli.datasets.base import PATH_OPTION, Dataset, DatasetKind, Source, Split
from nncli.datasets.option_kinds import Fractions, OneOf, Shape
from nncli.errors import InputError
from nncli.io import read_npy, read_npz
from nncli.options import Option
from nncli.parse import is_number

FILE_SUFFIXES = (".npz", ".csv", ".npy")


class ArrayFile(DatasetKind):
    name = "file"
    by_path = True
    summary = ("a .npz (arrays x and y), .csv or .npy table (target in the first or last "
               "column)")
    OPTIONS = {
        "path": PATH_OPTION,
        "task": Option(OneOf("classification", "regression"), None,
                       "null: classification if y holds integers >= 0, else regression"),
        "split": Option(Fractions(), [0.8, 0.1, 0.1],
                        "fractions [train, val, test] of the shuffled samples"),
        "shape": Option(Shape(), None, "reshape each sample, e.g. [1, 8, 8]"),
        "target": Option(OneOf("first", "last"), None,
                         "the target column of a .csv/.npy table (null: last)"),
    }

    def load(self, opts: dict, src: Source) -> Dataset:
        raw = opts["path"]
        path = resolve(raw, src)
        suffix = path.suffix.lower()
        if suffix not in FILE_SUFFIXES:
            raise src.error("path", f"cannot read '{raw}': expected a .npz (arrays x and y), "
                            "a .csv or a .npy (a numeric table whose first or last column "
                            "is the target); for text to train a language model on, add "
                            "'tokens: chars' or 'tokens: words'")
        require_file(path, raw, src)
        target = opts["target"]
        if suffix == ".npz":
            if target is not None:
                raise src.error("target", "only applies to .csv and .npy files; remove it")
            arrays = read_npz(path, src.label("path"), numeric=True)
            missing = [key for key in ("x", "y") if key not in arrays]
            if missing:
                raise src.error("path", f"'{raw}' has no array "
                                f"{' or '.join(map(repr, missing))} (found "
                                f"{', '.join(sorted(arrays)) or 'none'}); save it with "
                                "np.savez(path, x=..., y=...)")
            x, y = arrays["x"], arrays["y"]
        else:
            table = _read_csv(path, raw, src) if suffix == ".csv" else _read_npy(path, raw, src)
            x, y = ((table[:, 1:], table[:, 0]) if target == "first"
                    else (table[:, :-1], table[:, -1]))
        return _make_dataset(raw, x, y, opts, src)


def resolve(raw: str, src: Source) -> Path:
    """`data.path` resolved against the spec's folder (files there are only ever read)."""
    return (src.base_dir / Path(raw).expanduser()).resolve()


def require_file(path: Path, raw: str, src: Source) -> Path:
    if not path.is_file():
        raise src.error("path", f"file '{raw}' not found (looked in {path.parent}); check "
                        "the path, which is relative to the spec's folder")
    return path


def split_counts(fractions: list[float], n: int, src: Source) -> list[int]:
    """Sample counts for train/val/test from fractions that sum to 1 (checked by the
    Fractions kind); train gets the rest and must get at least one."""
    n_val, n_test = round(fractions[1] * n), round(fractions[2] * n)
    if n - n_val - n_test < 1:
        raise src.error("split", f"{n} samples leave none for training with {fractions!r}")
    return [n - n_val - n_test, n_val, n_test]


def _unreadable(path: Path, err: Exception, src: Source) -> InputError:
    """One line for a file that could not be opened or decoded."""
    reason = str(err).splitlines()[0] if str(err).strip() else type(err).__name__
    reason = "".join(c if c.isprintable() else "?" for c in reason)[:120]
    return src.error("path", f"cannot read '{path.name}' ({reason}); save it as UTF-8 text")


def _read_npy(path: Path, raw: str, src: Source) -> np.ndarray:
    """A 2-D numeric table from a .npy file, through nncli.io's checked reader (header,
    dtype and size checked before the data is read; never unpickled; finite)."""
    if zipfile.is_zipfile(path):
        raise src.error("path", f"'{raw}' is an .npz archive; name it .npz to read x and y")
    try:
        with path.open("rb") as handle:
            table = read_npy(handle, src.label("path"), raw)
    except OSError as err:
        raise src.error("path", f"cannot read '{raw}': {err.strerror or err}") from None
    if table.ndim != 2 or table.shape[1] < 2:
        raise src.error("path", f"'{raw}' must hold a 2-D table with at least 2 columns")
    return table


def _read_csv(path: Path, raw: str, src: Source) -> np.ndarray:
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
                    bad = next(f for f in fields if not is_number(f))
                    raise src.error("path", f"'{raw}' line {line_no}: expected a number, "
                                    f"got '{bad}'") from None
                if rows and len(row) != len(rows[0]):
                    raise src.error("path", f"'{raw}' line {line_no}: {len(row)} columns, "
                                    f"expected {len(rows[0])} like the first row")
                rows.append(row)
                first = False
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise _unreadable(path, err, src) from None
    if not rows or len(rows[0]) < 2:
        raise src.error("path", f"'{raw}' needs rows of at least 2 numbers (inputs, target)")
    return np.array(rows, dtype=np.float64)


def _make_dataset(raw: str, x: np.ndarray, y: np.ndarray, opts: dict, src: Source) -> Dataset:
    """Check x (N, ...) and y (N, ...), pick the task, shuffle with the seed and split."""
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise src.error("path", f"'{raw}': x and y must have one row per sample, got x "
                        f"{x.shape} and y {y.shape}")
    if len(x) == 0:
        raise src.error("path", f"'{raw}' holds no samples")
    for key, array in (("x", x), ("y", y)):
        bad = ~np.isfinite(array.astype(np.float64))
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise src.error("path", f"array '{key}' in '{raw}' has NaN or inf (first at {at})")
    x = x.astype(np.float64).reshape(len(x), -1) if x.ndim == 1 else x.astype(np.float64)
    if opts["shape"] is not None:
        x = _reshape(x, opts["shape"], src)
    labels = y.astype(np.float64)
    integral = bool(np.all(np.mod(labels, 1) == 0)) and labels.min() >= 0
    task = opts["task"] or ("classification" if integral else "regression")
    num_classes = None
    if task == "classification":
        if not integral:
            raise src.error("task", f"classification needs integer labels >= 0 in y of "
                            f"'{raw}'; use task: regression for real-valued targets")
        y = y.astype(np.int64)
        num_classes = int(y.max()) + 1
    else:
        y = y.astype(np.float64).reshape(len(y), -1) if y.ndim == 1 else y.astype(np.float64)
    counts = split_counts(opts["split"], len(x), src)
    order = np.random.default_rng(src.seed).permutation(len(x))
    edges = np.cumsum(counts)[:2]
    parts = [Split(x[idx], y[idx]) for idx in np.split(order, edges)]
    return Dataset(raw, task, num_classes, *parts)


def _reshape(x: np.ndarray, shape: list[int], src: Source) -> np.ndarray:
    per_sample = int(np.prod(x.shape[1:]))
    if int(np.prod(shape)) != per_sample:
        raise src.error("shape", f"cannot reshape samples of {per_sample} values to "
                        f"{list(shape)} ({int(np.prod(shape))} values); the sizes must "
                        f"multiply to {per_sample}")
    return x.reshape(len(x), *shape)
