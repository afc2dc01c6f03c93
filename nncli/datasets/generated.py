"""Datasets generated from the spec's seed: the sample counts every one of them takes and
the memory check made before generating (adding, sine and bars build on this)."""

from __future__ import annotations

import numpy as np

from nncli.datasets.base import SPLITS, Dataset, DatasetKind, Source, Split, split_rngs
from nncli.options import Option


def count_options(train: int, val: int, test: int, unit: str = "samples"
                  ) -> dict[str, Option]:
    """The `train:`/`val:`/`test:` counts of generated samples (val and test may be 0)."""
    return {"train": Option("int>=1", train, f"training {unit}"),
            "val": Option("int>=0", val, f"validation {unit}"),
            "test": Option("int>=0", test, f"test {unit}")}


class Generated(DatasetKind):
    """A dataset drawn sample by sample: a subclass sets `task`, `num_classes` and
    implements `values_per_sample` and `generate`."""

    task = "regression"
    num_classes: int | None = None

    def values_per_sample(self, opts: dict) -> int:
        """About how many float64 values generating one sample holds at once."""
        raise NotImplementedError

    def generate(self, rng: np.random.Generator, n: int, opts: dict) -> Split:
        raise NotImplementedError

    def load(self, opts: dict, src: Source) -> Dataset:
        from nncli.budget import check_budget

        counts = [opts[key] for key in SPLITS]
        n = sum(counts)
        check_budget(8 * n * self.values_per_sample(opts), src.label(),
                     f"generating {n:,} samples",
                     "ask for fewer samples (data.train, data.val, data.test)")
        rngs = split_rngs(src.seed, self.name)
        splits = [self.generate(rng, k, opts) for rng, k in zip(rngs, counts, strict=True)]
        return Dataset(self.name, self.task, self.num_classes, *splits)
