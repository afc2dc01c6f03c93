"""Horizontal or vertical bars in noise: a small image classification task."""

from __future__ import annotations

import numpy as np

from nncli.datasets.base import Split, name_option
from nncli.datasets.generated import Generated, count_options
from nncli.options import Option


class Bars(Generated):
    name = "bars"
    summary = "horizontal (0) or vertical (1) bars in noise: x (N, 1, S, S), 2 classes"
    OPTIONS = {"name": name_option("bars"),
               # two bars in a 2x2 image would fill it: no orientation left to see
               "size": Option("int>=3", 8, "image side S"),
               "noise": Option("float>=0", 0.1, "standard deviation of the pixel noise"),
               **count_options(1000, 200, 200)}
    task = "classification"
    num_classes = 2

    def values_per_sample(self, opts: dict) -> int:
        side = opts["size"]
        return 4 * side * side + 4 * side

    def generate(self, rng: np.random.Generator, n: int, opts: dict) -> Split:
        """x: (n, 1, S, S), one or two full-length bars of 1.0 on 0.0 plus noise * N(0, 1);
        y: (n,) 0 = horizontal bars, 1 = vertical bars."""
        size, noise = opts["size"], opts["noise"]
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
