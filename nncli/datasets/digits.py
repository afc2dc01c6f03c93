"""The 8x8 handwritten digits (UCI), shipped as digits.npz with a fixed split."""

from __future__ import annotations

import numpy as np

from nncli.datasets import base
from nncli.datasets.base import SPLITS, Dataset, DatasetKind, Source, Split, name_option
from nncli.io import read_npz
from nncli.options import Option


class Digits(DatasetKind):
    name = "digits"
    summary = ("8x8 handwritten digits (UCI), 10 classes; x (N, 1, 8, 8) in [0, 1], "
               "or (N, 64) with flat: true")
    OPTIONS = {"name": name_option("digits"),
               "flat": Option("bool", False, "samples as vectors of 64 instead of images")}

    def load(self, opts: dict, src: Source) -> Dataset:
        """x: (N, 1, 8, 8) or (N, 64), pixel counts / 16 in [0, 1]; y: int64 (N,) digits
        0..9; the split is fixed (1259/269/269)."""
        path = base.shipped_file("digits.npz")
        if not path.is_file():
            raise src.error("name", f"the built-in 'digits' file is missing (looked for "
                            f"{path}); reinstall nncli, or recreate it with "
                            f"data/make_digits.py")
        arrays = read_npz(path, src.label("name"), numeric=True)
        splits = []
        for part in SPLITS:
            if f"x_{part}" not in arrays or f"y_{part}" not in arrays:
                raise src.error("name", f"{path} has no x_{part}/y_{part}; recreate it")
            x = arrays[f"x_{part}"].astype(np.float64) / 16.0
            shape = (-1, 64) if opts["flat"] else (-1, 1, 8, 8)
            splits.append(Split(x.reshape(shape), arrays[f"y_{part}"].astype(np.int64)))
        return Dataset("digits", "classification", 10, *splits)
