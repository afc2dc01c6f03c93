"""The adding problem (Le et al. 2015), a test of memory over long sequences."""

from __future__ import annotations

import numpy as np

from nncli.datasets.base import Split, name_option
from nncli.datasets.generated import Generated, count_options
from nncli.options import Option


class Adding(Generated):
    name = "adding"
    summary = ("adding problem (Le et al. 2015): x (N, T, 2) values + two markers; "
               "target (N, 1) = sum of the two marked values")
    OPTIONS = {"name": name_option("adding"),
               "steps": Option("int>=2", 50, "sequence length T"),
               **count_options(10000, 1000, 1000)}

    def values_per_sample(self, opts: dict) -> int:
        return 4 * opts["steps"] + 4          # float64 working arrays, about 4 per value

    def generate(self, rng: np.random.Generator, n: int, opts: dict) -> Split:
        """x: (n, T, 2); channel 0 ~ U[0, 1], channel 1 marks one step in [0, T//2) and
        one in [T//2, T). y: (n, 1) = sum of the two marked values (mean 1, variance 1/6)."""
        t = opts["steps"]
        values = rng.uniform(0.0, 1.0, size=(n, t))
        rows = np.arange(n)
        first = rng.integers(0, t // 2, size=n)
        second = rng.integers(t // 2, t, size=n)
        markers = np.zeros((n, t))
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        y = (values[rows, first] + values[rows, second])[:, None]
        return Split(np.stack([values, markers], axis=-1), y)
