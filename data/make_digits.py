"""Make data/digits.npz from the copy of the UCI digits that ships inside scikit-learn.

This script documents (and can repeat) how `digits.npz` was made. It needs numpy only:
scikit-learn is NOT installed, its wheel is only unzipped to read one data file.

    pip download --no-deps -d /tmp/skl scikit-learn
    python data/make_digits.py /tmp/skl/scikit_learn-*.whl      # or .../digits.csv.gz

The source, `sklearn/datasets/data/digits.csv.gz`, has 1,797 rows of 65 integers: 64 pixel
counts (an 8x8 image, row by row, values 0..16) and the digit (0..9) last.

The split is made once, per class ("stratified"), with a seeded generator:
for each digit, its rows are shuffled and round(15%) go to val, round(15%) to test and the
rest to train; each split is then shuffled. Output arrays (no object arrays):

    x_train, x_val, x_test: uint8 (N, 8, 8)     y_train, y_val, y_test: int64 (N,)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "sklearn/datasets/data/digits.csv.gz"
SPLIT_SEED = 1797
VAL_FRACTION = 0.15
TEST_FRACTION = 0.15


def read_source(path: Path) -> bytes:
    """The gzipped CSV's bytes, from a scikit-learn wheel or from digits.csv.gz itself."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(MEMBER)
    return path.read_bytes()


def parse(gz_bytes: bytes) -> tuple[np.ndarray, np.ndarray]:
    """images: uint8 (1797, 8, 8) in 0..16; labels: int64 (1797,) in 0..9."""
    table = np.loadtxt(io.BytesIO(gzip.decompress(gz_bytes)), delimiter=",", dtype=np.int64)
    if table.shape != (1797, 65):
        raise SystemExit(f"unexpected table shape {table.shape}, wanted (1797, 65)")
    pixels, labels = table[:, :64], table[:, 64]
    if pixels.min() < 0 or pixels.max() > 16 or set(labels.tolist()) != set(range(10)):
        raise SystemExit("unexpected values: pixels must be 0..16 and labels 0..9")
    return pixels.reshape(-1, 8, 8).astype(np.uint8), labels.astype(np.int64)


def split_indices(labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Per-class shuffled split into train/val/test row indices (each split shuffled)."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        n_val = round(VAL_FRACTION * len(rows))
        n_test = round(TEST_FRACTION * len(rows))
        parts["val"].append(rows[:n_val])
        parts["test"].append(rows[n_val : n_val + n_test])
        parts["train"].append(rows[n_val + n_test :])
    return {name: rng.permutation(np.concatenate(chunks)) for name, chunks in parts.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="scikit-learn wheel or digits.csv.gz")
    parser.add_argument(
        "-o", "--output", type=Path, default=Path(__file__).resolve().parent / "digits.npz"
    )
    args = parser.parse_args(argv)

    gz_bytes = read_source(args.source)
    images, labels = parse(gz_bytes)
    index = split_indices(labels, SPLIT_SEED)
    arrays = {}
    for name, rows in index.items():
        arrays[f"x_{name}"] = images[rows]
        arrays[f"y_{name}"] = labels[rows]

    # Write atomically: a temp file in the same folder, then os.replace.
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=args.output.parent)
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)

    print(f"source sha256 {hashlib.sha256(gz_bytes).hexdigest()}", file=sys.stderr)
    for name, rows in index.items():
        counts = np.bincount(labels[rows], minlength=10).tolist()
        print(f"{name:5s} {len(rows):4d} rows, per digit {counts}", file=sys.stderr)
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
